import { z } from 'zod';
import { settings, type CameraSource, type MotionKind, type SettingName } from './settings';

/**
 * Settings of one camera (design.md "Video sources"): the YAML `cameras:` map, keyed by serial
 * number, overrides the global settings for that camera only. There is no environment form.
 */
export interface CameraOverrides {
  triggers?: MotionKind[];
  motion_timeout_seconds?: number;
  max_recording_seconds?: number;
  snooze_seconds?: number;
  retention_days?: number;
  source?: CameraSource;
  rtsp_url?: string;
  prebuffer_seconds?: number;
  enabled?: boolean;
}

export type CameraOverridesBySerial = Readonly<Record<string, CameraOverrides>>;

/** What applies to one camera once its overrides are laid over the global settings. */
export interface CameraSettings {
  triggers: MotionKind[];
  motion_timeout_seconds: number;
  max_recording_seconds: number;
  snooze_seconds: number;
  retention_days: number;
  source: CameraSource;
  /** A configured RTSP URL (wins over the one the bridge reports); null: none configured. */
  rtsp_url: string | null;
  prebuffer_seconds: number;
  /** False: the camera's motion records nothing (its offline and battery alerts still go out). */
  enabled: boolean;
}

interface CameraKey {
  schema: z.ZodType;
  expected: string;
}

/** Keys that mirror a global setting take its schema and its words for what is expected. */
const fromSetting = (name: SettingName): CameraKey => ({
  schema: settings[name].schema,
  expected: settings[name].expected,
});

const CAMERA_KEYS = {
  triggers: fromSetting('MOTION_TRIGGERS'),
  motion_timeout_seconds: fromSetting('MOTION_TIMEOUT_SECONDS'),
  max_recording_seconds: fromSetting('MAX_RECORDING_SECONDS'),
  snooze_seconds: fromSetting('SNOOZE_SECONDS'),
  retention_days: fromSetting('RETENTION_DAYS'),
  source: fromSetting('CAMERA_SOURCE'),
  prebuffer_seconds: fromSetting('PREBUFFER_SECONDS'),
  rtsp_url: {
    schema: z.string().refine((v) => {
      try {
        const url = new URL(v);
        return (url.protocol === 'rtsp:' || url.protocol === 'rtsps:') && url.hostname !== '';
      } catch {
        return false;
      }
    }),
    expected: 'expected an rtsp:// or rtsps:// URL (user and password in it if the camera asks)',
  },
  enabled: {
    schema: z.union([z.boolean(), z.stringbool()]),
    expected: 'expected true or false',
  },
} satisfies Record<keyof CameraOverrides, CameraKey>;

const CAMERA_KEY_NAMES = Object.keys(CAMERA_KEYS) as (keyof CameraOverrides)[];

/** Eufy serial numbers are letters and digits (the recording id's first part). */
export const CAMERA_SERIAL = /^[A-Za-z0-9]{1,40}$/;

/**
 * Validates one YAML layer's `cameras:` value. Every problem is one line naming the camera and the
 * key, as the global settings' lines do: `config: cameras.SN.key="value": expected …`.
 */
export function parseCameras(
  raw: unknown,
  where: string,
  errors: string[],
  show: (value: unknown) => string,
): Record<string, CameraOverrides> {
  const out: Record<string, CameraOverrides> = {};
  if (raw === null || raw === undefined) return out;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    errors.push(`config: cameras (in ${where}): expected a mapping of camera serial number: settings`);
    return out;
  }
  for (const [serial, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (!CAMERA_SERIAL.test(serial)) {
      errors.push(
        `config: cameras.${serial} (in ${where}): expected a camera serial number (letters and digits)`,
      );
      continue;
    }
    if (entry === null || entry === undefined) {
      out[serial] = {};
      continue;
    }
    if (typeof entry !== 'object' || Array.isArray(entry)) {
      errors.push(`config: cameras.${serial} (in ${where}): expected a mapping of setting: value`);
      continue;
    }
    const overrides: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
      const spec = (CAMERA_KEYS as Record<string, CameraKey>)[key];
      if (!spec) {
        errors.push(
          `config: cameras.${serial}.${key} (in ${where}): unknown camera setting; expected one of ${CAMERA_KEY_NAMES.join(', ')}`,
        );
        continue;
      }
      if (value === null || value === undefined) continue;
      const parsed = spec.schema.safeParse(value);
      if (parsed.success) overrides[key] = parsed.data;
      else errors.push(`config: cameras.${serial}.${key}=${show(value)}: ${spec.expected}`);
    }
    out[serial] = overrides as CameraOverrides;
  }
  return out;
}

/** The settings of camera `sn`: its overrides over the global settings. */
export function cameraSettings(
  config: {
    cameras: CameraOverridesBySerial;
    MOTION_TRIGGERS: MotionKind[];
    MOTION_TIMEOUT_SECONDS: number;
    MAX_RECORDING_SECONDS: number;
    SNOOZE_SECONDS: number;
    RETENTION_DAYS: number;
    CAMERA_SOURCE: CameraSource;
    PREBUFFER_SECONDS: number;
  },
  sn: string,
): CameraSettings {
  const own = config.cameras[sn] ?? {};
  return {
    triggers: own.triggers ?? config.MOTION_TRIGGERS,
    motion_timeout_seconds: own.motion_timeout_seconds ?? config.MOTION_TIMEOUT_SECONDS,
    max_recording_seconds: own.max_recording_seconds ?? config.MAX_RECORDING_SECONDS,
    snooze_seconds: own.snooze_seconds ?? config.SNOOZE_SECONDS,
    retention_days: own.retention_days ?? config.RETENTION_DAYS,
    source: own.source ?? config.CAMERA_SOURCE,
    rtsp_url: own.rtsp_url ?? null,
    prebuffer_seconds: own.prebuffer_seconds ?? config.PREBUFFER_SECONDS,
    enabled: own.enabled ?? true,
  };
}

/** The config keys cameraSettings reads (for `Pick<Config, …>` in the roles). */
export type CameraConfigKeys =
  | 'cameras'
  | 'MOTION_TRIGGERS'
  | 'MOTION_TIMEOUT_SECONDS'
  | 'MAX_RECORDING_SECONDS'
  | 'SNOOZE_SECONDS'
  | 'RETENTION_DAYS'
  | 'CAMERA_SOURCE'
  | 'PREBUFFER_SECONDS';

/** Serials configured under `cameras:` that the bridge does not know: a warning, not an error. */
export function unknownCameras(
  config: { cameras: CameraOverridesBySerial },
  known: Iterable<string>,
): string[] {
  const seen = new Set(known);
  return Object.keys(config.cameras).filter((sn) => !seen.has(sn));
}
