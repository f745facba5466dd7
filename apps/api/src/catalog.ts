import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { parseRecordingId } from '@eufy-relay/contracts';
import { DeviceRegistry } from '@eufy-relay/devices';
import type { MediaKind, MediaLookup } from './media';
import type { PageRecording } from './page';

const EXTENSIONS: Record<MediaKind, string> = { video: 'mp4', thumbnail: 'jpg' };

/**
 * Where the api learns about recordings. PROVISIONAL until @eufy-relay/recordings lands: files sit at
 * RECORDINGS_DIR/{id}.mp4|jpg and "recording" comes from the device registry's recording_id.
 */
export function createRecordingCatalog(config: Config, redis: Redis) {
  const dir = path.resolve(config.RECORDINGS_DIR);
  const devices = new DeviceRegistry(redis, config);
  const media: MediaLookup = async (id, kind) => {
    const parsed = parseRecordingId(id);
    const device = parsed ? await devices.getDevice(parsed.deviceSn) : null;
    return {
      state: device?.recording_id === id ? 'recording' : null,
      path: path.join(dir, `${id}.${EXTENSIONS[kind]}`),
    };
  };
  const latestRecordings = async (_limit: number, _now: number): Promise<PageRecording[]> => [];
  return { media, latestRecordings };
}
