import { createHmac, timingSafeEqual } from 'node:crypto';
import { WHSEC } from '@eufy-relay/config';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signed content is
 * `{webhook-id}.{webhook-timestamp}.{body}`, the signature `v1,` + base64 HMAC-SHA256 of it.
 * A secret `whsec_<base64>` is the base64-encoded key (what Standard Webhooks libraries generate);
 * any other string is used as the key bytes as they are (UTF-8).
 */
export function webhookSigningKey(secret: string): Buffer {
  if (!secret.startsWith('whsec_')) return Buffer.from(secret, 'utf8');
  if (!WHSEC.test(secret)) {
    throw new Error('a webhook secret starting with whsec_ must continue with base64 (the key bytes)');
  }
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

function mac(secret: string, webhookId: string, timestamp: number, body: string | Buffer): string {
  return createHmac('sha256', webhookSigningKey(secret))
    .update(`${webhookId}.${timestamp}.`)
    .update(body)
    .digest('base64');
}

/** The `webhook-signature` header value for one attempt. */
export function signWebhook(secret: string, webhookId: string, timestamp: number, body: string): string {
  return `v1,${mac(secret, webhookId, timestamp, body)}`;
}

export type WebhookSignatureCheck = 'valid' | 'missing' | 'invalid' | 'expired';

export interface VerifyOptions {
  /** How far `webhook-timestamp` may be from now, either way (replay protection). Default 300 s. */
  toleranceSeconds?: number;
  /** Unix milliseconds; defaults to Date.now(). */
  now?: number;
}

type Headers = Record<string, string | string[] | undefined>;

/** Node's IncomingHttpHeaders are lower-cased already; a plain record may not be. */
function header(headers: Headers, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * What a receiver does with a delivery: checks `webhook-signature` against the raw body (the exact
 * bytes received, not re-serialised JSON) and that `webhook-timestamp` is recent. The header may
 * list several space-separated signatures (key rotation); one valid `v1` signature is enough.
 */
export function verifyWebhookSignature(
  secret: string,
  headers: Headers,
  body: string | Buffer,
  options: VerifyOptions = {},
): WebhookSignatureCheck {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatures) return 'missing';
  if (!/^\d{1,12}$/.test(timestampText)) return 'invalid';
  const timestamp = Number(timestampText);
  const expected = Buffer.from(mac(secret, id, timestamp, body));
  const matches = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .some((s) => {
      const given = Buffer.from(s.slice('v1,'.length));
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  if (!matches) return 'invalid';
  const tolerance = options.toleranceSeconds ?? 300;
  const now = (options.now ?? Date.now()) / 1000;
  return Math.abs(now - timestamp) > tolerance ? 'expired' : 'valid';
}
