import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import type { QueueHandles, UrlSigning } from '@eufy-relay/contracts';
import type { DeviceRegistry, HeartbeatStore } from '@eufy-relay/devices';
import type { Logger } from '@eufy-relay/logger';
import type { RecordingFiles, RecordingStore } from '@eufy-relay/recordings';
import type { DeliveryLog } from '@eufy-relay/webhooks';
import type { FragmentIndexes, LiveRecordings, LocalMedia, MediaLookup } from '@eufy-relay/playback';
import type { ObjectServing } from './object-media';
import type { SpoolProxy } from './spool-proxy';

/** What the api's routes read from: built once by start(), shared by every route module. */
export interface ApiContext {
  config: Config;
  logger: Logger;
  redis: Redis;
  /** Every queue of QUEUES (Bull Board, depths in /health and /metrics, replay, POST /cleanup). */
  queues: QueueHandles;
  /** Completion events of the janitor queue, opened on first use: POST /cleanup waits on them. */
  janitorEvents: () => Promise<QueueEvents>;
  deliveryLog: DeliveryLog;
  devices: DeviceRegistry;
  heartbeat: HeartbeatStore;
  store: RecordingStore;
  files: RecordingFiles;
  /** The index as the file routes ask it (status of an id, path of its file). */
  media: MediaLookup;
  /** Followers of recordings in progress. */
  live: LiveRecordings;
  /** Fragment layout of each recording file (202 before the first, HLS playlists). */
  fragments: FragmentIndexes;
  /** The recordings' files on this host's disk (live, fragments and the index together). */
  local: LocalMedia;
  signing: UrlSigning | undefined;
  startedAt: number;
  /** STORAGE_BACKEND=s3: the bucket stored recordings are served from (and counted in /storage). */
  objects?: ObjectServing;
  /** STORAGE_BACKEND=s3: recordings not yet in the bucket, played from their recorder's spool. */
  spools?: SpoolProxy;
}
