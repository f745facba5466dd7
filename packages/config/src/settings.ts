import { z } from 'zod';

/**
 * Every setting of eufy-relay, keyed by its environment name (docs/design.md, "Contracts": the names are fixed).
 * Each entry carries what a person needs when a value is wrong: what is expected, in words.
 * The same table feeds the schema, the README's configuration table and config/default.yaml checks.
 */
export interface Setting<T extends z.ZodType = z.ZodType> {
  schema: T;
  /** Printed after the offending value: `config: KEY="value": <expected>`. */
  expected: string;
  /** The default as it would be written in YAML or the environment; undefined = unset. */
  default: string | undefined;
  description: string;
  /** Never printed: errors and logs show `<redacted>` instead. */
  secret?: boolean;
}

type Raw = string | number | boolean | string[] | number[];

/** Accepts a YAML number or an environment string; '' and non-numeric text are rejected, never coerced to 0. */
function numberFrom(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string' && raw.trim() !== '') return Number(raw.trim());
  return Number.NaN;
}

const numeric = (check: (n: number) => boolean) =>
  z
    .custom<Raw>((v) => {
      const n = numberFrom(v);
      return Number.isFinite(n) && check(n);
    })
    .transform(numberFrom);

/** A duration in seconds: a positive number; fractions allowed so tests can run timings in milliseconds. */
const seconds = () => numeric((n) => n > 0);
const nonNegativeSeconds = () => numeric((n) => n >= 0);
const positiveInt = (max = Number.MAX_SAFE_INTEGER) =>
  numeric((n) => Number.isInteger(n) && n >= 1 && n <= max);
const nonNegativeInt = (max = Number.MAX_SAFE_INTEGER) =>
  numeric((n) => Number.isInteger(n) && n >= 0 && n <= max);

function urlWith(protocols: string[]) {
  return z.string().refine((v) => {
    try {
      const u = new URL(v);
      return protocols.includes(u.protocol) && u.hostname !== '';
    } catch {
      return false;
    }
  });
}

/** Comma-separated in the environment, a list in YAML. */
function listFrom(raw: unknown): string[] {
  if (Array.isArray(raw)) return raw.map((v) => String(v).trim()).filter((v) => v !== '');
  if (typeof raw === 'string')
    return raw
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
  return [];
}

const listOf = <T extends string>(allowed: readonly T[]) =>
  z
    .custom<Raw>((v) => {
      const items = listFrom(v);
      return items.length > 0 && items.every((i) => (allowed as readonly string[]).includes(i));
    })
    .transform((v) => [...new Set(listFrom(v))] as T[]);

const optionalSecret = (minLength: number) => z.string().min(minLength).optional();

/** A Standard Webhooks secret: `whsec_` and the base64 of the key bytes (WEBHOOK_SECRET). */
export const WHSEC = /^whsec_(?=.)(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const ROLE_NAMES = ['ingest', 'recorder', 'notifier', 'janitor', 'api'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

/** Eufy detections that can start or extend a recording (MOTION_TRIGGERS). */
export const MOTION_KINDS = [
  'motion',
  'person',
  'pet',
  'vehicle',
  'stranger',
  'ring',
  'dog',
  'sound',
  'crying',
  'radar',
  'loitering',
  'package',
] as const;
export type MotionKind = (typeof MOTION_KINDS)[number];

export const STORAGE_BACKENDS = ['local', 's3'] as const;
export type StorageBackend = (typeof STORAGE_BACKENDS)[number];
export const S3_PLAYBACK_MODES = ['proxy', 'redirect'] as const;

/** A YAML boolean or the environment's "true" / "false" (z.coerce.boolean would read "false" as true). */
const flag = () =>
  z
    .custom<Raw>((v) => typeof v === 'boolean' || v === 'true' || v === 'false')
    .transform((v) => v === true || v === 'true');
/** Where a camera's video comes from (CAMERA_SOURCE, `source` per camera); design.md "Video sources". */
export const CAMERA_SOURCES = ['auto', 'rtsp', 'p2p'] as const;
export type CameraSource = (typeof CAMERA_SOURCES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const s = <T extends z.ZodType>(setting: Setting<T>): Setting<T> => setting;

export const settings = {
  REDIS_URL: s({
    schema: urlWith(['redis:', 'rediss:']),
    expected: 'expected a redis:// or rediss:// URL',
    default: 'redis://127.0.0.1:6379',
    description: 'Redis for BullMQ queues and all state',
  }),
  REDIS_PREFIX: s({
    schema: z.string().regex(/^[A-Za-z0-9_.{}-]{1,64}$/),
    expected: 'expected 1-64 characters of letters, digits, "-", "_", ".", "{", "}" (no ":")',
    default: 'eufy-relay',
    description: 'key prefix for everything the product writes in Redis (isolates tests and tenants)',
  }),
  EUFY_WS_URL: s({
    // A bare host:port (what Render's `fromService … property: hostport` gives) means plain ws://.
    schema: z
      .string()
      .transform((v) => (/^[A-Za-z0-9.-]+:\d{1,5}$/.test(v) ? `ws://${v}` : v))
      .pipe(urlWith(['ws:', 'wss:'])),
    expected: 'expected a ws:// or wss:// URL, or host:port',
    default: 'ws://127.0.0.1:3000',
    description: 'eufy-security-ws WebSocket',
  }),
  PUBLIC_BASE_URL: s({
    schema: urlWith(['http:', 'https:']).transform((v) => v.replace(/\/+$/, '')),
    expected: 'expected an http:// or https:// URL',
    default: 'http://localhost:8080',
    description: 'base of every video URL sent in webhooks',
  }),
  PORT: s({
    schema: positiveInt(65535),
    expected: 'expected a port number from 1 to 65535',
    default: '8080',
    description: 'api listen port',
  }),
  HOST: s({
    schema: z.string().min(1).optional(),
    expected: 'expected a host name or IP address to listen on',
    default: undefined,
    description:
      'api listen address; unset: 0.0.0.0 with API_TOKEN set, else 127.0.0.1 (its token routes would be open)',
  }),
  HTTP_HEADERS_TIMEOUT_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '20',
    description:
      'a client has this long to send the headers of a request, else 408 and the connection closes',
  }),
  HTTP_REQUEST_TIMEOUT_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds), at least HTTP_HEADERS_TIMEOUT_SECONDS',
    default: '60',
    description:
      'a client has this long to send a whole request (headers and body); a response streaming out is not bound by it',
  }),
  HTTP_IDLE_TIMEOUT_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '60',
    description:
      'a connection on which nothing moves this long is closed (a client that stops reading a video, an idle socket)',
  }),
  HTTP_MAX_CONNECTIONS: s({
    schema: positiveInt(),
    expected: 'expected a whole number, 1 or more',
    default: '512',
    description:
      'connections the api holds at once (players following live recordings count); further ones are closed as they arrive',
  }),
  RECORDINGS_DIR: s({
    schema: z.string().min(1),
    expected: 'expected a directory path',
    default: './data/recordings',
    description: 'where recordings and thumbnails are written',
  }),
  STORAGE_BACKEND: s({
    schema: z.enum(STORAGE_BACKENDS),
    expected: `expected one of ${STORAGE_BACKENDS.join(', ')}`,
    default: 'local',
    description:
      "local: finished recordings stay in RECORDINGS_DIR (shared by recorder, api, janitor); s3: they go to S3_BUCKET and RECORDINGS_DIR is each recorder host's spool",
  }),
  S3_ENDPOINT: s({
    schema: urlWith(['http:', 'https:']).optional(),
    expected: 'expected an http:// or https:// URL (or unset for AWS S3)',
    default: undefined,
    description:
      'S3-compatible endpoint, e.g. http://minio:9000 or https://<account>.r2.cloudflarestorage.com; unset: AWS',
  }),
  S3_REGION: s({
    schema: z.string().regex(/^[a-z0-9-]{1,40}$/),
    expected: 'expected a region name such as us-east-1 (R2: auto)',
    default: 'us-east-1',
    description: 'region of the bucket (R2: auto)',
  }),
  S3_BUCKET: s({
    schema: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)
      .optional(),
    expected: 'expected a bucket name: 3-63 lower-case letters, digits, "." and "-"',
    default: undefined,
    description: 'bucket of the recordings; required with STORAGE_BACKEND=s3',
  }),
  S3_PREFIX: s({
    schema: z.string().regex(/^[A-Za-z0-9!_.*'()/-]{0,200}$/),
    expected: "expected up to 200 characters of letters, digits and !_.*'()/- (usually ending in /)",
    default: 'recordings/',
    description: 'key prefix of every object: {S3_PREFIX}{id}.mp4 and {S3_PREFIX}{id}.jpg',
  }),
  S3_ACCESS_KEY_ID: s({
    schema: z.string().min(1).optional(),
    expected: 'expected an access key id (or unset for the AWS SDK default credential chain)',
    default: undefined,
    description: "access key id; unset: the AWS SDK's default chain (AWS_* variables, instance role)",
  }),
  S3_SECRET_ACCESS_KEY: s({
    schema: z.string().min(1).optional(),
    expected: 'expected a secret access key (or unset for the AWS SDK default credential chain)',
    default: undefined,
    description: 'secret access key belonging to S3_ACCESS_KEY_ID',
    secret: true,
  }),
  S3_FORCE_PATH_STYLE: s({
    schema: flag(),
    expected: 'expected true or false',
    default: 'false',
    description: 'path-style addressing (endpoint/bucket/key): MinIO and most self-hosted servers',
  }),
  S3_PLAYBACK: s({
    schema: z.enum(S3_PLAYBACK_MODES),
    expected: `expected one of ${S3_PLAYBACK_MODES.join(', ')}`,
    default: 'proxy',
    description:
      'proxy: the api streams the object (Range forwarded); redirect: 302 to a presigned URL, after the access check',
  }),
  S3_TIMEOUT_MS: s({
    schema: positiveInt(),
    expected: 'expected a positive whole number of milliseconds',
    default: '30000',
    description:
      'bound on one S3 request (an upload part, a listing); an S3 that stops answering fails the request and the upload is retried',
  }),
  SPOOL_SECRET: s({
    schema: optionalSecret(16),
    expected:
      'expected at least 16 characters (or unset: the spool endpoint listens on loopback only, unsigned)',
    default: undefined,
    description:
      "STORAGE_BACKEND=s3: HMAC key the api and every recorder share; the api signs each request to a recorder's spool endpoint (a recording in progress or awaiting upload) with it. Required under NODE_ENV=production",
    secret: true,
  }),
  SPOOL_PORT: s({
    schema: nonNegativeInt(65535),
    expected: 'expected a port number from 0 to 65535 (0: any free port)',
    default: '8091',
    description:
      "STORAGE_BACKEND=s3: port of the recorder's internal spool endpoint, through which the api plays recordings not yet in the bucket",
  }),
  SPOOL_HOST: s({
    schema: z.string().min(1).optional(),
    expected: 'expected a host name or IP address to listen on',
    default: undefined,
    description:
      'listen address of the spool endpoint; unset: 0.0.0.0 with SPOOL_SECRET set, else 127.0.0.1 (it would be unauthenticated)',
  }),
  SPOOL_URL: s({
    schema: urlWith(['http:', 'https:'])
      .transform((v) => v.replace(/\/+$/, ''))
      .optional(),
    expected: 'expected an http:// or https:// URL',
    default: undefined,
    description:
      "the address at which the api reaches this recorder's spool endpoint, registered in Redis; unset: http://{this host's first non-loopback IPv4 address}:{SPOOL_PORT} (127.0.0.1 when it listens on loopback)",
  }),
  SPOOL_TIMEOUT_MS: s({
    schema: positiveInt(),
    expected: 'expected a positive whole number of milliseconds',
    default: '5000',
    description:
      "bound on the api's connecting to a recorder's spool endpoint and on its answer's headers; a recorder gone answers 503, not a hang",
  }),
  UPLOAD_RETRY_MAX_DELAY_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '300',
    description:
      'uploads to S3 are retried without end, each delay doubling from RETRY_BASE_DELAY_MS up to this; the spool keeps the file meanwhile',
  }),
  WORKATO_WEBHOOK_URL: s({
    schema: urlWith(['http:', 'https:']).optional(),
    expected: 'expected an http:// or https:// URL (or unset to only log webhooks)',
    default: undefined,
    description: 'webhook receiver; unset: webhooks are logged and kept, not sent',
  }),
  WEBHOOK_SECRET: s({
    schema: optionalSecret(8).refine((v) => v === undefined || !v.startsWith('whsec_') || WHSEC.test(v)),
    expected:
      'expected at least 8 characters, whsec_ followed by base64 or any other string (or unset for unsigned webhooks)',
    default: undefined,
    description:
      'Standard Webhooks HMAC key: whsec_ followed by base64, or any other string; unset: unsigned',
    secret: true,
  }),
  WEBHOOK_RATE_LIMIT_PER_SECOND: s({
    schema: positiveInt(100000),
    expected: 'expected a whole number of webhooks per second, at least 1',
    default: '20',
    description: 'global webhook delivery rate across all notifiers',
  }),
  WEBHOOK_TIMEOUT_MS: s({
    schema: positiveInt(),
    expected: 'expected a positive whole number of milliseconds',
    default: '10000',
    description: 'timeout of one webhook attempt',
  }),
  RETRY_ATTEMPTS: s({
    schema: nonNegativeInt(100),
    expected: 'expected a whole number of retries from 0 to 100',
    default: '3',
    description: 'retries of an operation (livestream start, ffmpeg, Redis) after the first try',
  }),
  RETRY_BASE_DELAY_MS: s({
    schema: positiveInt(),
    expected: 'expected a positive whole number of milliseconds',
    default: '1000',
    description: 'first retry delay; doubles each retry, with jitter',
  }),
  WEBHOOK_RETRY_SCHEDULE_SECONDS: s({
    schema: z
      .custom<Raw>((v) => {
        const items = listFrom(v);
        return items.length > 0 && items.every((i) => Number.isFinite(Number(i)) && Number(i) >= 0);
      })
      .transform((v) => listFrom(v).map(Number)),
    expected: 'expected a comma-separated list of non-negative seconds, e.g. 1,2,4,60',
    default: '1,2,4,60,300,1800,7200,21600',
    description: 'delay before each webhook retry; its length is the number of retries',
  }),
  WEBHOOK_LOG_MAX_WEBHOOKS: s({
    schema: positiveInt(),
    expected: 'expected a whole number of webhooks, at least 1',
    default: '10000',
    description:
      'webhooks whose delivery attempts are kept in the Redis delivery log, and dead webhooks kept for replay; the oldest are dropped (and any older than 30 days)',
  }),
  ERROR_FOLD_SECONDS: s({
    schema: nonNegativeSeconds(),
    expected: 'expected a number of seconds, 0 or more',
    default: '60',
    description:
      'the same operation and error type become a system_error at most once per this window; repeats are counted',
  }),
  RECENT_ERRORS_MAX: s({
    schema: positiveInt(),
    expected: 'expected a whole number of errors, at least 1',
    default: '200',
    description: 'length of the recent-errors list (GET /errors); the oldest are dropped',
  }),
  MOTION_TRIGGERS: s({
    schema: listOf(MOTION_KINDS),
    expected: `expected a comma-separated list of ${MOTION_KINDS.join(', ')}`,
    default: 'motion,person,pet,vehicle,stranger,ring',
    description: 'which eufy detections start or extend a recording',
  }),
  MOTION_TIMEOUT_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '60',
    description: 'stop recording after this long without motion',
  }),
  MAX_RECORDING_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '900',
    description: 'hard cap of one recording',
  }),
  SNOOZE_SECONDS: s({
    schema: nonNegativeSeconds(),
    expected: 'expected a number of seconds, 0 or more',
    default: '3600',
    description: "after a capped recording, ignore that camera's motion this long",
  }),
  CAMERA_SOURCE: s({
    schema: z.enum(CAMERA_SOURCES),
    expected: `expected one of ${CAMERA_SOURCES.join(', ')}`,
    default: 'auto',
    description:
      'camera video source: rtsp (ffmpeg pulls its RTSP URL), p2p (eufy livestream), auto (RTSP if it has one, P2P as fallback)',
  }),
  PREBUFFER_SECONDS: s({
    schema: nonNegativeSeconds(),
    expected: 'expected a number of seconds, 0 or more',
    default: '0',
    description:
      'seconds of video before the motion a recording starts with: the camera streams all the time into memory (never a battery camera); 0 = off',
  }),
  PREBUFFER_MAX_BYTES: s({
    schema: positiveInt(),
    expected: 'expected a whole number of bytes, 1 or more',
    default: '16777216',
    description: "most memory one camera's pre-motion buffer holds (it gives up its oldest seconds first)",
  }),
  PREBUFFER_TOTAL_MAX_BYTES: s({
    schema: positiveInt(),
    expected: 'expected a whole number of bytes, 1 or more',
    default: '134217728',
    description: "most memory all of a recorder's pre-motion buffers hold together",
  }),
  RTSP_TIMEOUT_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '5',
    description:
      'an RTSP stream that has not connected or sent video for this long has failed (the recording falls back to P2P)',
  }),
  RECORDER_CONCURRENCY: s({
    schema: positiveInt(1000),
    expected: 'expected a whole number of recordings from 1 to 1000',
    default: '8',
    description:
      'recordings one recorder process runs at once (one ffmpeg each); more wait for a free recorder',
  }),
  RECORDING_TAKEOVER_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '5',
    description:
      "a dead recorder's recordings are taken over (and its stations' stream slots freed) within about 1.5 times this",
  }),
  LIVESTREAM_START_TIMEOUT_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '15',
    description: 'wait this long for a camera livestream to start before retrying',
  }),
  OFFLINE_DEBOUNCE_SECONDS: s({
    schema: nonNegativeSeconds(),
    expected: 'expected a number of seconds, 0 or more',
    default: '30',
    description: 'a camera must stay offline this long before camera_offline is sent',
  }),
  BATTERY_LOW_PERCENT: s({
    schema: nonNegativeInt(100),
    expected: 'expected a whole percentage from 0 to 100',
    default: '20',
    description: 'battery at or under this is low',
  }),
  BATTERY_ALERT_COOLDOWN_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '86400',
    description: 'at most one low_battery per camera per this window',
  }),
  BATTERY_REARM_PERCENT: s({
    schema: positiveInt(100),
    expected: 'expected a whole number of percentage points from 1 to 100',
    default: '5',
    description:
      'after a low_battery, the level must rise to BATTERY_LOW_PERCENT plus this before another is sent within the cooldown',
  }),
  BRIDGE_ALERT_AFTER_SECONDS: s({
    schema: nonNegativeSeconds(),
    expected: 'expected a number of seconds, 0 or more',
    default: '60',
    description:
      'eufy-security-ws unreachable, or its Eufy cloud or push connection down, this long before a system_error (GET /health shows it at once)',
  }),
  INGEST_BUFFER_MAX_EVENTS: s({
    schema: positiveInt(),
    expected: 'expected a whole number of events, at least 1',
    default: '10000',
    description:
      'events ingest holds in memory while Redis is unreachable; beyond this the oldest are dropped and reported',
  }),
  HEARTBEAT_INTERVAL_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '10',
    description:
      'how often ingest rewrites its heartbeat in Redis; it expires after three intervals, so GET /health sees a dead ingest',
  }),
  EUFY_WS_TIMEOUT_MS: s({
    schema: positiveInt(),
    expected: 'expected a positive whole number of milliseconds',
    default: '10000',
    description: 'bound on opening the eufy-security-ws connection and on each command it answers',
  }),
  EUFY_WS_PING_INTERVAL_MS: s({
    schema: positiveInt(),
    expected: 'expected a positive whole number of milliseconds',
    default: '10000',
    description:
      'WebSocket ping cadence to eufy-security-ws; a connection silent for two pings is dropped and reopened',
  }),
  RETENTION_DAYS: s({
    // Below a day, one typo (0.01 for 1) deletes nearly every recording on the next run.
    schema: numeric((n) => n >= 1),
    expected: 'expected a number of days, at least 1',
    default: '90',
    description: 'recordings older than this are deleted',
  }),
  CLEANUP_INTERVAL_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '3600',
    description: 'janitor cadence',
  }),
  MIN_FREE_DISK_BYTES: s({
    schema: nonNegativeInt(),
    expected: 'expected a whole number of bytes, 0 or more',
    default: '1073741824',
    description: 'below this much free space the janitor deletes oldest recordings first',
  }),
  ORPHAN_GRACE_SECONDS: s({
    // 0 would remove a file between its writer's index entry and its first bytes, or mid-rename.
    schema: numeric((n) => n >= 60),
    expected: 'expected a number of seconds, at least 60',
    default: '3600',
    description: 'janitor removes unreadable unindexed files and temp files unchanged this long',
  }),
  FFPROBE_TIMEOUT_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '30',
    description: 'bound on one ffprobe run (the janitor probes files missing from the index)',
  }),
  CLEANUP_WAIT_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '60',
    description: 'POST /cleanup waits this long for the run; a run still going then answers 202',
  }),
  LIVE_CHECK_INTERVAL_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '1',
    description:
      'a followed live recording is checked this often for its end (and for growth the file watch missed)',
  }),
  LIVE_CLIENT_TIMEOUT_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '30',
    description: 'a client following a live recording that takes no bytes for this long is dropped',
  }),
  API_TOKEN: s({
    schema: optionalSecret(16),
    expected: 'expected at least 16 characters (or unset: admin routes refuse)',
    default: undefined,
    description: 'bearer token for admin routes and Bull Board; unset: admin routes refuse',
    secret: true,
  }),
  URL_SIGNING_SECRET: s({
    schema: optionalSecret(16),
    expected: 'expected at least 16 characters (or unset for plain URLs)',
    default: undefined,
    description:
      'HMAC key for signed, expiring video and thumbnail URLs; unset: plain URLs (not under NODE_ENV=production)',
    secret: true,
  }),
  URL_TTL_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '604800',
    description: 'lifetime of a signed video URL',
  }),
  ACCEL_REDIRECT: s({
    schema: z.enum(['off', 'nginx']),
    expected: 'expected off or nginx',
    default: 'off',
    description:
      'nginx: the api checks access to a finished recording file and nginx in front of it sends the file (X-Accel-Redirect to /internal/recordings/, deploy/nginx); off: the api sends every file',
  }),
  LOG_LEVEL: s({
    schema: z.enum(LOG_LEVELS),
    expected: `expected one of ${LOG_LEVELS.join(', ')}`,
    default: 'info',
    description: 'pino log level',
  }),
  ROLES: s({
    schema: listOf(ROLE_NAMES),
    expected: `expected a comma-separated list of ${ROLE_NAMES.join(', ')}`,
    default: ROLE_NAMES.join(','),
    description: 'roles the combined launcher (pnpm start) runs in one process',
  }),
  NODE_ENV: s({
    schema: z.enum(['development', 'production', 'test']),
    expected: 'expected development, production or test',
    default: 'development',
    description:
      'production: the api refuses to start without API_TOKEN and URL_SIGNING_SECRET, the recorder without URL_SIGNING_SECRET, and both without SPOOL_SECRET under STORAGE_BACKEND=s3',
  }),
  SHUTDOWN_TIMEOUT_SECONDS: s({
    schema: seconds(),
    expected: 'expected a positive number (seconds)',
    default: '25',
    description: 'bound on a graceful stop (workers, sockets, ffmpeg) before the process exits anyway',
  }),
} as const;

export type SettingName = keyof typeof settings;
export const SETTING_NAMES = Object.keys(settings) as SettingName[];
export const SECRET_SETTINGS = SETTING_NAMES.filter(
  (k) => (settings[k] as Setting).secret === true,
) as SettingName[];
