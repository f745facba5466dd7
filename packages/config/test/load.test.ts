import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  ConfigError,
  DEFAULTS_FILE,
  SETTING_NAMES,
  describeConfig,
  loadConfig,
  scrubUrlCredentials,
  settings,
  type Setting,
} from '../src';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'eufy-relay-config-'));
const yamlFile = (name: string, text: string) => {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
};

function errorLines(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).lines;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('gives the documented defaults with an empty environment', () => {
    const config = loadConfig({ env: {} });
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(config.REDIS_PREFIX).toBe('eufy-relay');
    expect(config.PORT).toBe(8080);
    expect(config.MOTION_TIMEOUT_SECONDS).toBe(60);
    expect(config.MAX_RECORDING_SECONDS).toBe(900);
    expect(config.SNOOZE_SECONDS).toBe(3600);
    expect(config.OFFLINE_DEBOUNCE_SECONDS).toBe(30);
    expect(config.BATTERY_ALERT_COOLDOWN_SECONDS).toBe(86400);
    expect(config.RETENTION_DAYS).toBe(90);
    expect(config.WEBHOOK_RETRY_SCHEDULE_SECONDS).toEqual([1, 2, 4, 60, 300, 1800, 7200, 21600]);
    expect(config.MOTION_TRIGGERS).toEqual(['motion', 'person', 'pet', 'vehicle', 'stranger', 'ring']);
    expect(config.ROLES).toEqual(['ingest', 'recorder', 'notifier', 'janitor', 'api']);
    expect(config.WORKATO_WEBHOOK_URL).toBeUndefined();
    expect(config.WEBHOOK_SECRET).toBeUndefined();
  });

  it('config/default.yaml states exactly the built-in defaults', () => {
    const fromFile = loadConfig({ env: {} });
    const builtIn = loadConfig({ env: {}, defaultsFile: path.join(tmp, 'missing.yaml') });
    expect(fromFile).toEqual(builtIn);
    const doc = parseYaml(readFileSync(DEFAULTS_FILE, 'utf8')) as Record<string, unknown>;
    const withDefault = SETTING_NAMES.filter((n) => (settings[n] as Setting).default !== undefined);
    expect(Object.keys(doc).sort()).toEqual([...withDefault].sort());
  });

  it('layers default.yaml < CONFIG_FILE < environment', () => {
    const file = yamlFile('layer.yaml', 'PORT: 9000\nMOTION_TIMEOUT_SECONDS: 5\nMOTION_TRIGGERS: [person]\n');
    const config = loadConfig({ env: { CONFIG_FILE: file, PORT: '9100' } });
    expect(config.PORT).toBe(9100);
    expect(config.MOTION_TIMEOUT_SECONDS).toBe(5);
    expect(config.MOTION_TRIGGERS).toEqual(['person']);
  });

  it('accepts fractional seconds so tests can shorten timings', () => {
    const config = loadConfig({ env: { MOTION_TIMEOUT_SECONDS: '0.5', OFFLINE_DEBOUNCE_SECONDS: '0' } });
    expect(config.MOTION_TIMEOUT_SECONDS).toBe(0.5);
    expect(config.OFFLINE_DEBOUNCE_SECONDS).toBe(0);
  });

  it('accepts host:port for EUFY_WS_URL (Render fromService hostport)', () => {
    expect(loadConfig({ env: { EUFY_WS_URL: 'eufy-security-ws:3000' } }).EUFY_WS_URL).toBe(
      'ws://eufy-security-ws:3000',
    );
    expect(loadConfig({ env: { EUFY_WS_URL: 'wss://bridge.example.com/ws' } }).EUFY_WS_URL).toBe(
      'wss://bridge.example.com/ws',
    );
  });

  it('takes PUBLIC_BASE_URL from RENDER_EXTERNAL_URL unless it is set explicitly', () => {
    const onRender = { RENDER_EXTERNAL_URL: 'https://eufy-relay.onrender.com' };
    expect(loadConfig({ env: onRender }).PUBLIC_BASE_URL).toBe('https://eufy-relay.onrender.com');
    expect(
      loadConfig({ env: { ...onRender, PUBLIC_BASE_URL: 'https://cams.example.com' } }).PUBLIC_BASE_URL,
    ).toBe('https://cams.example.com');
    const file = yamlFile('public.yaml', 'PUBLIC_BASE_URL: https://from-file.example.com\n');
    expect(loadConfig({ env: { ...onRender, CONFIG_FILE: file } }).PUBLIC_BASE_URL).toBe(
      'https://from-file.example.com',
    );
  });

  it('treats an empty environment variable as unset', () => {
    const config = loadConfig({ env: { PORT: '', WORKATO_WEBHOOK_URL: '' } });
    expect(config.PORT).toBe(8080);
    expect(config.WORKATO_WEBHOOK_URL).toBeUndefined();
  });

  it('strips a trailing slash from PUBLIC_BASE_URL and parses lists from the environment', () => {
    const config = loadConfig({
      env: {
        PUBLIC_BASE_URL: 'https://relay.example.com/',
        WEBHOOK_RETRY_SCHEDULE_SECONDS: '0.1, 0.2,0.4',
        ROLES: 'api,janitor',
      },
    });
    expect(config.PUBLIC_BASE_URL).toBe('https://relay.example.com');
    expect(config.WEBHOOK_RETRY_SCHEDULE_SECONDS).toEqual([0.1, 0.2, 0.4]);
    expect(config.ROLES).toEqual(['api', 'janitor']);
  });

  it.each([
    [
      'MOTION_TIMEOUT_SECONDS',
      'abc',
      'config: MOTION_TIMEOUT_SECONDS="abc": expected a positive number (seconds)',
    ],
    [
      'MOTION_TIMEOUT_SECONDS',
      '-3',
      'config: MOTION_TIMEOUT_SECONDS="-3": expected a positive number (seconds)',
    ],
    ['MAX_RECORDING_SECONDS', '0', 'config: MAX_RECORDING_SECONDS="0": expected a positive number (seconds)'],
    ['PORT', '70000', 'config: PORT="70000": expected a port number from 1 to 65535'],
    ['PORT', '80.5', 'config: PORT="80.5": expected a port number from 1 to 65535'],
    ['REDIS_URL', 'http://x', 'config: REDIS_URL="http://x": expected a redis:// or rediss:// URL'],
    [
      'EUFY_WS_URL',
      'not a url',
      'config: EUFY_WS_URL="not a url": expected a ws:// or wss:// URL, or host:port',
    ],
    ['PUBLIC_BASE_URL', 'ftp://x', 'config: PUBLIC_BASE_URL="ftp://x": expected an http:// or https:// URL'],
    [
      'BATTERY_LOW_PERCENT',
      '101',
      'config: BATTERY_LOW_PERCENT="101": expected a whole percentage from 0 to 100',
    ],
    [
      'LOG_LEVEL',
      'loud',
      'config: LOG_LEVEL="loud": expected one of fatal, error, warn, info, debug, trace, silent',
    ],
    [
      'REDIS_PREFIX',
      'a:b',
      'config: REDIS_PREFIX="a:b": expected 1-64 characters of letters, digits, "-", "_", ".", "{", "}" (no ":")',
    ],
    [
      'WEBHOOK_RETRY_SCHEDULE_SECONDS',
      '1,x',
      'config: WEBHOOK_RETRY_SCHEDULE_SECONDS="1,x": expected a comma-separated list of non-negative seconds, e.g. 1,2,4,60',
    ],
  ])('rejects %s=%s with one clear line', (name, value, line) => {
    expect(errorLines({ [name]: value })).toEqual([line]);
  });

  it('rejects unknown roles and triggers, naming what is allowed', () => {
    const lines = errorLines({ ROLES: 'api,web', MOTION_TRIGGERS: 'motion,cat' });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^config: MOTION_TRIGGERS="motion,cat": expected a comma-separated list of motion, person/,
    );
    expect(lines[1]).toMatch(
      /^config: ROLES="api,web": expected a comma-separated list of ingest, recorder, notifier, janitor, api$/,
    );
  });

  it('lists every bad key at once', () => {
    const lines = errorLines({
      PORT: '0',
      MOTION_TIMEOUT_SECONDS: 'abc',
      RETENTION_DAYS: '' as string,
      URL_TTL_SECONDS: 'x',
    });
    expect(lines.map((l) => l.split('=')[0])).toEqual([
      'config: PORT',
      'config: MOTION_TIMEOUT_SECONDS',
      'config: URL_TTL_SECONDS',
    ]);
  });

  it('refuses a request timeout shorter than the headers timeout (Node would refuse the server)', () => {
    expect(errorLines({ HTTP_HEADERS_TIMEOUT_SECONDS: '30', HTTP_REQUEST_TIMEOUT_SECONDS: '10' })).toEqual([
      'config: HTTP_REQUEST_TIMEOUT_SECONDS="10": expected at least HTTP_HEADERS_TIMEOUT_SECONDS (30)',
    ]);
    expect(loadConfig({ env: { HTTP_REQUEST_TIMEOUT_SECONDS: '20' } }).HTTP_REQUEST_TIMEOUT_SECONDS).toBe(20);
  });

  it('never prints a secret value, even when it is the bad one', () => {
    const lines = errorLines({ API_TOKEN: 'short-secret', URL_SIGNING_SECRET: 'tiny' });
    expect(lines).toEqual([
      'config: API_TOKEN=<redacted>: expected at least 16 characters (or unset: admin routes refuse)',
      'config: URL_SIGNING_SECRET=<redacted>: expected at least 16 characters (or unset for plain URLs)',
    ]);
    expect(lines.join('\n')).not.toMatch(/short-secret|tiny/);
  });

  it('accepts a Standard Webhooks whsec_ secret only when base64 follows', () => {
    for (const good of [
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'whsec_c2VjcmV0LXNlY3JldA==',
      'plain-secret-123',
    ]) {
      expect(loadConfig({ env: { WEBHOOK_SECRET: good } }).WEBHOOK_SECRET).toBe(good);
    }
    for (const bad of ['whsec_not base64!', 'whsec_abc', 'whsec_']) {
      expect(errorLines({ WEBHOOK_SECRET: bad })).toEqual([
        'config: WEBHOOK_SECRET=<redacted>: expected at least 8 characters, whsec_ followed by base64 or any other string (or unset for unsigned webhooks)',
      ]);
    }
  });

  it('scrubs credentials from a bad URL before printing it', () => {
    const lines = errorLines({ REDIS_URL: 'http://user:hunter2@redis:6379' });
    expect(lines).toEqual([
      'config: REDIS_URL="http://user:***@redis:6379": expected a redis:// or rediss:// URL',
    ]);
  });

  it('reports a missing CONFIG_FILE, invalid YAML, a non-mapping and unknown keys', () => {
    expect(errorLines({ CONFIG_FILE: path.join(tmp, 'nope.yaml') })).toEqual([
      `config: CONFIG_FILE=${JSON.stringify(path.join(tmp, 'nope.yaml'))}: cannot read the file (ENOENT)`,
    ]);
    const bad = yamlFile('bad.yaml', 'PORT: [1,\n');
    expect(errorLines({ CONFIG_FILE: bad })[0]).toMatch(
      /^config: CONFIG_FILE=".*bad\.yaml": not valid YAML \(/,
    );
    const list = yamlFile('list.yaml', '- PORT\n');
    expect(errorLines({ CONFIG_FILE: list })[0]).toMatch(/expected a mapping of SETTING_NAME: value$/);
    const unknown = yamlFile('unknown.yaml', 'PROT: 9000\nPORT: 99999\n');
    expect(errorLines({ CONFIG_FILE: unknown })).toEqual([
      `config: PROT (in ${unknown}): unknown setting; the names are listed in README.md`,
      'config: PORT="99999": expected a port number from 1 to 65535',
    ]);
  });
});

describe('describeConfig', () => {
  it('redacts secrets and URL credentials', () => {
    const config = loadConfig({
      env: {
        WEBHOOK_SECRET: 'whsec_c2VjcmV0LXNlY3JldA==',
        API_TOKEN: 'a-very-long-api-token',
        REDIS_URL: 'redis://default:p4ss@redis.internal:6379',
        WORKATO_WEBHOOK_URL: 'https://hooks.example.com/x?token=1',
      },
    });
    const shown = describeConfig(config);
    expect(shown.WEBHOOK_SECRET).toBe('<redacted>');
    expect(shown.API_TOKEN).toBe('<redacted>');
    expect(shown.URL_SIGNING_SECRET).toBeUndefined();
    expect(shown.REDIS_URL).toBe('redis://default:***@redis.internal:6379');
    expect(JSON.stringify(shown)).not.toMatch(/p4ss|a-very-long-api-token|c2VjcmV0/);
  });

  it('scrubUrlCredentials handles password-only userinfo and leaves plain URLs alone', () => {
    expect(scrubUrlCredentials('redis://:pw@h:1 and ws://user@h')).toBe('redis://:***@h:1 and ws://***@h');
    expect(scrubUrlCredentials('https://example.com/a@b')).toBe('https://example.com/a@b');
  });
});
