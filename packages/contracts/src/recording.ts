import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '@eufy-relay/config';

/** Eufy serials are letters and digits (T8113P0223000002); no "_" so a recording id splits unambiguously. */
const DEVICE_SN_SOURCE = '[A-Za-z0-9]{1,40}';
export const DEVICE_SN = new RegExp(`^${DEVICE_SN_SOURCE}$`);
/** A recording id without anchors or groups, to embed in larger patterns (its URL, a listing cursor). */
export const RECORDING_ID_SOURCE = `${DEVICE_SN_SOURCE}_\\d{8}_\\d{6}`;
/** `{device_sn}_{YYYYMMDD_HHMMSS}`, the UTC start of the recording. */
export const RECORDING_ID = new RegExp(`^(${DEVICE_SN_SOURCE})_(\\d{8})_(\\d{6})$`);

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function recordingId(deviceSn: string, startedAt: Date | number): string {
  if (!DEVICE_SN.test(deviceSn)) throw new Error(`invalid device serial ${JSON.stringify(deviceSn)}`);
  const d = new Date(startedAt);
  const date = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
  return `${deviceSn}_${date}_${time}`;
}

/** The device serial and UTC start encoded in a recording id, or null when it is not one. */
export function parseRecordingId(id: string): { deviceSn: string; startedAt: Date } | null {
  const m = RECORDING_ID.exec(id);
  if (!m) return null;
  const [, deviceSn, date, time] = m as unknown as [string, string, string, string];
  const part = (s: string, at: number, width = 2) => Number(s.slice(at, at + width));
  const [year, month, day] = [part(date, 0, 4), part(date, 4) - 1, part(date, 6)];
  const [hours, minutes, seconds] = [part(time, 0), part(time, 2), part(time, 4)];
  const startedAt = new Date(Date.UTC(year, month, day, hours, minutes, seconds));
  // Only a real date and time (Date.UTC rolls 30 February over into March and 24:00 into the next
  // day) of a year recordingId writes with four digits. Compared by number: the janitor parses
  // every file name and id of the archive, so no string is built back for it.
  const real =
    year >= 1000 &&
    startedAt.getUTCMonth() === month &&
    startedAt.getUTCDate() === day &&
    startedAt.getUTCHours() === hours &&
    startedAt.getUTCMinutes() === minutes &&
    startedAt.getUTCSeconds() === seconds;
  return real ? { deviceSn, startedAt } : null;
}

export interface UrlSigning {
  secret: string;
  ttlSeconds: number;
}

/** How recording URLs are signed under these settings; undefined (plain URLs) without URL_SIGNING_SECRET. */
export function urlSigning(
  config: Pick<Config, 'URL_SIGNING_SECRET' | 'URL_TTL_SECONDS'>,
): UrlSigning | undefined {
  return config.URL_SIGNING_SECRET
    ? { secret: config.URL_SIGNING_SECRET, ttlSeconds: config.URL_TTL_SECONDS }
    : undefined;
}

function signature(id: string, expires: number, secret: string): string {
  return createHmac('sha256', secret).update(`${id}.${expires}`).digest('base64url');
}

/**
 * The public URL of a recording's video: PUBLIC_BASE_URL/recordings/{id}.mp4, with `expires` (unix
 * seconds) and `sig` when URL signing is on. One signature covers the recording (video and thumbnail).
 */
export function recordingUrl(
  baseUrl: string,
  id: string,
  options: { ext?: 'mp4' | 'm3u8' | 'jpg'; signing?: UrlSigning | undefined; now?: number } = {},
): string {
  const url = `${baseUrl.replace(/\/+$/, '')}/recordings/${id}.${options.ext ?? 'mp4'}`;
  if (!options.signing) return url;
  const expires = Math.floor((options.now ?? Date.now()) / 1000 + options.signing.ttlSeconds);
  return `${url}?expires=${expires}&sig=${signature(id, expires, options.signing.secret)}`;
}

export type SignatureCheck = 'valid' | 'missing' | 'invalid' | 'expired';

export function checkRecordingSignature(
  id: string,
  query: { expires?: unknown; sig?: unknown },
  secret: string,
  now: number = Date.now(),
): SignatureCheck {
  if (typeof query.expires !== 'string' || typeof query.sig !== 'string') return 'missing';
  if (!/^\d{1,12}$/.test(query.expires)) return 'invalid';
  const expires = Number(query.expires);
  const expected = Buffer.from(signature(id, expires, secret));
  const given = Buffer.from(query.sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
  return expires * 1000 < now ? 'expired' : 'valid';
}

/**
 * What a recording's spool credential signs: never a recording id, so a public URL's signature made
 * with the same secret can never pass for one (and the other way round).
 */
const spoolSubject = (id: string) => `spool/${id}`;

/** Header in which the api hands a recorder's spool endpoint its credential for one request. */
export const SPOOL_CREDENTIAL_HEADER = 'x-spool-credential';

/**
 * The api's credential for reading one recording from a recorder's spool (docs/design.md, "Live
 * playback without a shared disk"): `{expires}.{sig}`, an HMAC of the recording id and the expiry
 * with SPOOL_SECRET. Made fresh for every request, so its lifetime only covers clock skew.
 */
export function spoolCredential(id: string, secret: string, now = Date.now(), ttlSeconds = 60): string {
  const expires = Math.floor(now / 1000 + ttlSeconds);
  return `${expires}.${signature(spoolSubject(id), expires, secret)}`;
}

export function checkSpoolCredential(
  id: string,
  credential: string | undefined,
  secret: string,
  now = Date.now(),
): SignatureCheck {
  if (!credential) return 'missing';
  const dot = credential.indexOf('.');
  if (dot < 0) return 'invalid';
  const query = { expires: credential.slice(0, dot), sig: credential.slice(dot + 1) };
  return checkRecordingSignature(spoolSubject(id), query, secret, now);
}
