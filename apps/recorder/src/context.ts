import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { DEVICE_SN, type JobQueue, type cleanupJob, type recordingSessionJob } from '@eufy-relay/contracts';
import type { DeviceRegistry } from '@eufy-relay/devices';
import type { ErrorReporter } from '@eufy-relay/errors';
import type { EufyClient } from '@eufy-relay/eufy-client';
import type { Logger } from '@eufy-relay/logger';
import type { RecordingFiles, RecordingStore } from '@eufy-relay/recordings';
import type { WebhookQueue } from '@eufy-relay/webhooks';
import type { CameraStates } from './camera-state';
import type { Prebuffers } from './prebuffer';
import type { SessionRecords } from './session-records';
import type { StationSlots } from './station-slots';
import type { RecorderUploads } from './uploads';

/** What the recorder's motion handler and recording sessions share within one process. */
export interface RecorderContext {
  config: Config;
  logger: Logger;
  redis: Redis;
  store: RecordingStore;
  files: RecordingFiles;
  registry: DeviceRegistry;
  cameras: CameraStates;
  sessions: SessionRecords;
  slots: StationSlots;
  client: EufyClient;
  webhooks: WebhookQueue;
  recordingSessions: JobQueue<typeof recordingSessionJob>;
  /** The janitor queue: a full disk asks for a cleanup run at once. */
  janitor: JobQueue<typeof cleanupJob>;
  reporter: ErrorReporter;
  /** Pre-motion buffers of this recorder's cameras (prebuffer_seconds > 0). */
  prebuffers?: Prebuffers;
  /** With STORAGE_BACKEND=s3: where a finished recording goes next; unset, it stays in RECORDINGS_DIR. */
  uploads?: RecorderUploads;
}

/** The camera's station (HomeBase): from the bridge, else from ingest's registry, else itself. */
export async function stationOf(ctx: RecorderContext, sn: string, signal: AbortSignal): Promise<string> {
  const bound = ctx.config.LIVESTREAM_START_TIMEOUT_SECONDS * 1000;
  await Promise.race([
    ctx.client.start().catch(() => undefined),
    sleep(bound, undefined, { signal }).catch(() => undefined),
  ]);
  const fromBridge = ctx.client.state?.devices.get(sn)?.properties.stationSerialNumber;
  if (typeof fromBridge === 'string' && DEVICE_SN.test(fromBridge)) return fromBridge;
  const fromRegistry = (await ctx.registry.getDevice(sn))?.station_serial;
  return fromRegistry && DEVICE_SN.test(fromRegistry) ? fromRegistry : sn;
}

/** The devices registry shows what the recorder's camera state says (GET /devices). */
export async function mirrorDevice(ctx: RecorderContext, sn: string): Promise<void> {
  const current = await ctx.cameras.current(sn);
  await ctx.registry.updateDevice(sn, {
    recording_id: current.recordingId,
    snoozed_until: current.snoozedUntil,
  });
}
