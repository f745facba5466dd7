import { z } from 'zod';
import { recordingUrl } from '@eufy-relay/contracts';
import type { DeviceRecord, StationRecord } from '@eufy-relay/devices';
import type { ApiContext } from './context';
import { ApiRoutes, named } from './routes';

const isoOrNull = z.iso.datetime().nullable();
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const deviceView = named(
  'Device',
  z.object({
    serial: z.string(),
    name: z.string().nullable(),
    model: z.string().nullable(),
    type: z.number().int().nullable(),
    station_serial: z.string().nullable(),
    is_camera: z.boolean(),
    online: z.boolean().nullable(),
    state: z.number().int().nullable(),
    battery: z.number().nullable(),
    charging: z.boolean().nullable(),
    last_motion_at: isoOrNull,
    last_seen_at: isoOrNull,
    recording: z.boolean(),
    recording_id: z.string().nullable(),
    /** Where the recording in progress can be watched (signed when URL signing is on). */
    recording_url: z.string().nullable(),
    snoozed: z.boolean(),
    snoozed_until: isoOrNull,
    /** Where the camera's video comes from (the recorder's last choice) and why. */
    video_source: z.enum(['rtsp', 'p2p']).nullable(),
    video_source_reason: z.string().nullable(),
    /** The camera's pre-motion buffer (prebuffer_seconds), as its recorder last published it. */
    prebuffer: z
      .object({
        state: z.string(),
        source: z.enum(['rtsp', 'p2p']).nullable(),
        bytes: z.number().int().nonnegative(),
        seconds: z.number().nonnegative(),
        reason: z.string(),
        at: z.string(),
      })
      .nullable(),
    updated_at: isoOrNull,
  }),
);
export type DeviceView = z.infer<typeof deviceView>;

export const stationView = named(
  'Station',
  z.object({
    serial: z.string(),
    name: z.string().nullable(),
    model: z.string().nullable(),
    connected: z.boolean().nullable(),
    updated_at: isoOrNull,
  }),
);

export const devicesBody = named(
  'Devices',
  z.object({ devices: z.array(deviceView), stations: z.array(stationView) }),
);

export function toDeviceView(
  ctx: ApiContext,
  d: DeviceRecord,
  now: number,
  baseUrl = ctx.config.PUBLIC_BASE_URL,
): DeviceView {
  return {
    serial: d.serial,
    name: d.name,
    model: d.model,
    type: d.type,
    station_serial: d.station_serial,
    is_camera: d.is_camera,
    online: d.online,
    state: d.state,
    battery: d.battery,
    charging: d.charging,
    last_motion_at: iso(d.last_motion_at),
    last_seen_at: iso(d.last_seen_at),
    recording: d.recording_id !== null,
    recording_id: d.recording_id,
    recording_url: d.recording_id
      ? recordingUrl(baseUrl, d.recording_id, { signing: ctx.signing, now })
      : null,
    snoozed: d.snoozed_until !== null && d.snoozed_until > now,
    snoozed_until: iso(d.snoozed_until),
    video_source: d.video_source,
    video_source_reason: d.video_source_reason,
    prebuffer: d.prebuffer && { ...d.prebuffer, at: new Date(d.prebuffer.at).toISOString() },
    updated_at: iso(d.updated_at),
  };
}

const toStationView = (s: StationRecord) => ({ ...s, updated_at: iso(s.updated_at) });

export function deviceRoutes(routes: ApiRoutes, ctx: ApiContext): void {
  routes.json(
    {
      method: 'get',
      path: '/devices',
      tag: 'devices',
      access: 'token',
      summary: 'Cameras and stations as ingest and the recorder last saw them',
      responses: { 200: { description: 'every known device and station', schema: devicesBody } },
    },
    async () => {
      const [devices, stations] = await Promise.all([ctx.devices.listDevices(), ctx.devices.listStations()]);
      const now = Date.now();
      return {
        devices: devices.map((d) => toDeviceView(ctx, d, now)),
        stations: stations.map(toStationView),
      };
    },
  );
}
