import type { Redis } from 'ioredis';
import { History, runChain, type HistoryConfig } from '@eufy-relay/history';
import { redisKey } from '@eufy-relay/runtime';

/**
 * What the product knows about one eufy device. Ingest writes identity and health from the
 * eufy-security-ws listen state, events and property changes; the recorder writes the recording
 * fields; the api reads all of it for GET /devices. Times are epoch milliseconds.
 */
export interface DeviceRecord {
  serial: string;
  name: string | null;
  model: string | null;
  /** eufy DeviceType number (1 camera, 8 eufyCam 2C, 30 indoor cam, …). */
  type: number | null;
  station_serial: string | null;
  /** The device can stream video (its commands include start_livestream). */
  is_camera: boolean;
  /** Our verdict from property `state` and its station's P2P link; null until known. */
  online: boolean | null;
  /** eufy property `state`: 0 offline, 1 online, 2 disabled, 3 offline low battery, 4/5 re-add. */
  state: number | null;
  battery: number | null;
  charging: boolean | null;
  last_motion_at: number | null;
  last_seen_at: number | null;
  /** Set by the recorder while the camera records. */
  recording_id: string | null;
  /** Set by the recorder after a capped recording: motion is ignored until then. */
  snoozed_until: number | null;
  /** Set by the recorder: where this camera's video comes from (`rtsp` or `p2p`) and why. */
  video_source: 'rtsp' | 'p2p' | null;
  video_source_reason: string | null;
  /** Set by the recorder that keeps the camera's pre-motion buffer (prebuffer_seconds); null: none. */
  prebuffer: PrebufferStatus | null;
  updated_at: number | null;
}

/** A camera's pre-motion buffer as its recorder last published it. */
export interface PrebufferStatus {
  /** starting, streaming, paused (its station's slot lent to a recording), retrying, refused (battery). */
  state: string;
  source: 'rtsp' | 'p2p' | null;
  /** Memory it holds now, and the seconds of video that is. */
  bytes: number;
  seconds: number;
  /** Why it is not streaming, in words; '' while it is. */
  reason: string;
  /** When this was published (ms): a recorder that died leaves an old one. */
  at: number;
}

export type DeviceFields = Omit<DeviceRecord, 'serial'>;

export interface StationRecord {
  serial: string;
  name: string | null;
  model: string | null;
  /** The bridge's P2P link to the station (station connected / disconnected events). */
  connected: boolean | null;
  updated_at: number | null;
}

const EMPTY_DEVICE: DeviceFields = {
  name: null,
  model: null,
  type: null,
  station_serial: null,
  is_camera: false,
  online: null,
  state: null,
  battery: null,
  charging: null,
  last_motion_at: null,
  last_seen_at: null,
  recording_id: null,
  snoozed_until: null,
  video_source: null,
  video_source_reason: null,
  prebuffer: null,
  updated_at: null,
};

export interface DeviceHistory {
  online: { at: number; online: boolean }[];
  battery: { at: number; level: number }[];
}

const onlineSeries = (serial: string) => `device:${serial}:online`;
const batterySeries = (serial: string) => `device:${serial}:battery`;

/** Hash fields hold JSON so numbers, booleans and nulls come back as they went in. */
function encode(patch: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) out[k] = JSON.stringify(v);
  return out;
}

function decode<T extends object>(base: T, raw: Record<string, string>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(raw)) {
    if (!(k in base)) continue;
    try {
      out[k] = JSON.parse(v);
    } catch {
      // A field written by something else is ignored rather than breaking every reader.
    }
  }
  return out as T;
}

/**
 * Redis layout (all under REDIS_PREFIX):
 *   {prefix}:devices              set of device serials
 *   {prefix}:device:{serial}      hash, one JSON-encoded field per DeviceRecord key
 *   {prefix}:stations             set of station serials
 *   {prefix}:station:{serial}     hash, one JSON-encoded field per StationRecord key
 * Writers update only the fields they own (HSET of the changed fields), so ingest and the recorder
 * never overwrite each other.
 */
export class DeviceRegistry {
  private readonly history: History;

  constructor(
    private readonly redis: Redis,
    private readonly config: HistoryConfig,
  ) {
    this.history = new History(redis, config);
  }

  private deviceKey(serial: string) {
    return redisKey(this.config, 'device', serial);
  }

  private stationKey(serial: string) {
    return redisKey(this.config, 'station', serial);
  }

  /**
   * Creates the device if needed and sets the given fields; `updated_at` is stamped. A known online
   * verdict or battery level that differs from the last one kept joins the device's history at `now`.
   */
  async updateDevice(serial: string, patch: Partial<DeviceFields>, now = Date.now()): Promise<void> {
    const chain = this.redis
      .multi()
      .sadd(redisKey(this.config, 'devices'), serial)
      .hset(this.deviceKey(serial), encode({ ...patch, updated_at: now }));
    if (typeof patch.online === 'boolean')
      this.history.appendSample(chain, onlineSeries(serial), now, patch.online ? '1' : '0', {
        whenChanged: true,
      });
    if (typeof patch.battery === 'number')
      this.history.appendSample(chain, batterySeries(serial), now, String(patch.battery), {
        whenChanged: true,
      });
    await runChain(chain);
  }

  /**
   * A device's online verdicts and battery levels since `from`, oldest first, each series starting
   * with the value it had at `from` when that is known (kept for history's days, changes only).
   */
  async deviceHistory(serial: string, from: number): Promise<DeviceHistory> {
    const [online, battery] = await Promise.all([
      this.history.readSamples(onlineSeries(serial), from),
      this.history.readSamples(batterySeries(serial), from),
    ]);
    return {
      online: online.map((s) => ({ at: s.at, online: s.value === '1' })),
      battery: battery.map((s) => ({ at: s.at, level: Number(s.value) })),
    };
  }

  async getDevice(serial: string): Promise<DeviceRecord | null> {
    const raw = await this.redis.hgetall(this.deviceKey(serial));
    if (Object.keys(raw).length === 0) return null;
    return { serial, ...decode(EMPTY_DEVICE, raw) };
  }

  /** Every known device, sorted by serial. */
  async listDevices(): Promise<DeviceRecord[]> {
    const serials = (await this.redis.smembers(redisKey(this.config, 'devices'))).sort();
    if (serials.length === 0) return [];
    const pipeline = this.redis.pipeline();
    serials.forEach((s) => pipeline.hgetall(this.deviceKey(s)));
    const results = (await pipeline.exec()) ?? [];
    return serials.map((serial, i) => ({
      serial,
      ...decode(EMPTY_DEVICE, (results[i]?.[1] ?? {}) as Record<string, string>),
    }));
  }

  async removeDevice(serial: string): Promise<void> {
    await this.redis
      .multi()
      .srem(redisKey(this.config, 'devices'), serial)
      .del(this.deviceKey(serial))
      .exec();
  }

  async updateStation(
    serial: string,
    patch: Partial<Omit<StationRecord, 'serial'>>,
    now = Date.now(),
  ): Promise<void> {
    await this.redis
      .multi()
      .sadd(redisKey(this.config, 'stations'), serial)
      .hset(this.stationKey(serial), encode({ ...patch, updated_at: now }))
      .exec();
  }

  async listStations(): Promise<StationRecord[]> {
    const serials = (await this.redis.smembers(redisKey(this.config, 'stations'))).sort();
    const empty = { name: null, model: null, connected: null, updated_at: null };
    const pipeline = this.redis.pipeline();
    serials.forEach((s) => pipeline.hgetall(this.stationKey(s)));
    const results = serials.length ? ((await pipeline.exec()) ?? []) : [];
    return serials.map((serial, i) => ({
      serial,
      ...decode(empty, (results[i]?.[1] ?? {}) as Record<string, string>),
    }));
  }
}
