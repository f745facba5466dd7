import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseCameras, type CameraOverrides, type CameraOverridesBySerial } from './cameras';
import { SECRET_SETTINGS, SETTING_NAMES, settings, type Setting, type SettingName } from './settings';

export type Config = { -readonly [K in SettingName]: z.output<(typeof settings)[K]['schema']> } & {
  /** Per-camera overrides from the YAML `cameras:` map (no environment form); see cameras.ts. */
  cameras: CameraOverridesBySerial;
};

/** A configuration that cannot be used; `lines` holds one line per offending key. */
export class ConfigError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Defaults to config/default.yaml at the repository root. */
  defaultsFile?: string;
}

export const DEFAULTS_FILE = path.resolve(__dirname, '../../../config/default.yaml');

const configSchema = z.object(
  Object.fromEntries(SETTING_NAMES.map((name) => [name, settings[name].schema])) as {
    [K in SettingName]: (typeof settings)[K]['schema'];
  },
);

type RawLayer = Record<string, unknown>;

/** `user:password@` inside any URL becomes `user:***@` so logs and errors never carry credentials. */
export function scrubUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s/@]*)@/gi, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***'}@`;
  });
}

function showRaw(value: unknown): string {
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return JSON.stringify(scrubUrlCredentials(text));
}

function showValue(name: string, value: unknown): string {
  if (SECRET_SETTINGS.includes(name as SettingName)) return `${name}=<redacted>`;
  return `${name}=${showRaw(value)}`;
}

/** The `cameras:` key of a YAML file: not a setting, the per-camera overrides. */
const CAMERAS_KEY = 'cameras';

function readYamlLayer(
  file: string,
  label: string,
  errors: string[],
  cameras: Record<string, CameraOverrides>,
): RawLayer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    errors.push(
      `config: ${label}=${JSON.stringify(file)}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
    return {};
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    errors.push(
      `config: ${label}=${JSON.stringify(file)}: not valid YAML (${(err as Error).message.split('\n')[0]})`,
    );
    return {};
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    errors.push(`config: ${label}=${JSON.stringify(file)}: expected a mapping of SETTING_NAME: value`);
    return {};
  }
  const layer: RawLayer = {};
  for (const [key, value] of Object.entries(doc as RawLayer)) {
    if (key === CAMERAS_KEY) {
      // A later file's entry for a camera is laid over an earlier one's, key by key.
      for (const [sn, overrides] of Object.entries(parseCameras(value, file, errors, showRaw)))
        cameras[sn] = { ...cameras[sn], ...overrides };
    } else if (!(key in settings)) {
      errors.push(`config: ${key} (in ${file}): unknown setting; the names are listed in README.md`);
    } else if (value !== null && value !== undefined) {
      layer[key] = value;
    }
  }
  return layer;
}

/** Settings valid one by one but not together. */
function relationErrors(config: Config): string[] {
  const errors: string[] = [];
  // Node refuses a server whose headers may take longer than the whole request.
  if (config.HTTP_REQUEST_TIMEOUT_SECONDS < config.HTTP_HEADERS_TIMEOUT_SECONDS) {
    errors.push(
      `config: ${showValue('HTTP_REQUEST_TIMEOUT_SECONDS', config.HTTP_REQUEST_TIMEOUT_SECONDS)}: ` +
        `expected at least HTTP_HEADERS_TIMEOUT_SECONDS (${config.HTTP_HEADERS_TIMEOUT_SECONDS})`,
    );
  }
  if (config.STORAGE_BACKEND === 's3' && !config.S3_BUCKET)
    errors.push('config: S3_BUCKET is unset: STORAGE_BACKEND=s3 needs the bucket to store recordings in');
  if ((config.S3_ACCESS_KEY_ID === undefined) !== (config.S3_SECRET_ACCESS_KEY === undefined))
    errors.push(
      `config: ${config.S3_ACCESS_KEY_ID === undefined ? 'S3_ACCESS_KEY_ID' : 'S3_SECRET_ACCESS_KEY'} is unset: ` +
        'set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither for the AWS SDK default chain',
    );
  return errors;
}

/**
 * Loads the configuration: built-in defaults, then config/default.yaml, then the YAML file named by
 * CONFIG_FILE, then environment variables (which win). An empty environment variable counts as unset.
 * Throws ConfigError listing every bad key at once, so one start tells a person everything to fix.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const errors: string[] = [];
  const merged: RawLayer = {};
  const cameras: Record<string, CameraOverrides> = {};
  for (const name of SETTING_NAMES) {
    const fallback = (settings[name] as Setting).default;
    if (fallback !== undefined) merged[name] = fallback;
  }
  const defaultsFile = options.defaultsFile ?? DEFAULTS_FILE;
  if (existsSync(defaultsFile))
    Object.assign(merged, readYamlLayer(defaultsFile, 'defaults', errors, cameras));
  const configFile = env.CONFIG_FILE;
  const fileLayers = new Set<string>();
  if (configFile) {
    const layer = readYamlLayer(configFile, 'CONFIG_FILE', errors, cameras);
    Object.keys(layer).forEach((k) => fileLayers.add(k));
    Object.assign(merged, layer);
  }
  for (const name of SETTING_NAMES) {
    const value = env[name];
    if (value !== undefined && value !== '') merged[name] = value;
  }
  // On Render a web service knows its own public URL; use it unless PUBLIC_BASE_URL was chosen.
  if (env.RENDER_EXTERNAL_URL && !env.PUBLIC_BASE_URL && !fileLayers.has('PUBLIC_BASE_URL')) {
    merged.PUBLIC_BASE_URL = env.RENDER_EXTERNAL_URL;
  }

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const seen = new Set<string>();
    for (const issue of result.error.issues) {
      const name = String(issue.path[0]);
      if (seen.has(name)) continue;
      seen.add(name);
      const setting = settings[name as SettingName] as Setting | undefined;
      errors.push(`config: ${showValue(name, merged[name])}: ${setting?.expected ?? issue.message}`);
    }
  }
  if (result.success) errors.push(...relationErrors(result.data as Config));
  if (errors.length > 0 || !result.success) throw new ConfigError(errors);
  return { ...(result.data as Omit<Config, 'cameras'>), cameras };
}

/** The configuration as it may be logged: secrets replaced, URL credentials scrubbed. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    const value = config[name];
    if (SECRET_SETTINGS.includes(name)) out[name] = value === undefined ? undefined : '<redacted>';
    else out[name] = typeof value === 'string' ? scrubUrlCredentials(value) : value;
  }
  out.cameras = Object.fromEntries(
    Object.entries(config.cameras).map(([sn, own]) => [
      sn,
      own.rtsp_url ? { ...own, rtsp_url: scrubUrlCredentials(own.rtsp_url) } : own,
    ]),
  );
  return out;
}

/** The secret values that are set: a logger masks them wherever they appear in a line. */
export function secretValues(config: Config): string[] {
  return SECRET_SETTINGS.map((name) => config[name]).filter((v): v is string => typeof v === 'string');
}

/**
 * Under NODE_ENV=production a role does not start without the settings it names (each with why it
 * needs it): one error naming every missing one. Other environments start without them.
 */
export function requireInProduction(
  config: Config,
  role: string,
  needs: Partial<Record<SettingName, string>>,
): void {
  if (config.NODE_ENV !== 'production') return;
  const missing = Object.entries(needs).filter(([name]) => config[name as SettingName] === undefined);
  if (missing.length === 0) return;
  throw new Error(
    missing
      .map(
        ([name, why]) =>
          `${name} is not set: under NODE_ENV=production the ${role} does not start without it (${why})`,
      )
      .join('; '),
  );
}
