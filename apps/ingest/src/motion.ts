import type { JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { cameraSettings, type CameraConfigKeys, type Config, type MotionKind } from '@eufy-relay/config';
import { addJob, motionSignalJob, type JobQueue } from '@eufy-relay/contracts';
import type { DeviceRegistry } from '@eufy-relay/devices';
import type { DetectionKind, DeviceState } from '@eufy-relay/eufy-client';
import { redisKey } from '@eufy-relay/runtime';

/** The device property behind each detection kind: the flag whose change the detection event reports. */
export const DETECTION_PROPERTIES: Record<DetectionKind, string> = {
  motion: 'motionDetected',
  person: 'personDetected',
  pet: 'petDetected',
  vehicle: 'vehicleDetected',
  stranger: 'strangerPersonDetected',
  ring: 'ringing',
  sound: 'soundDetected',
  crying: 'cryingDetected',
  dog: 'dogDetected',
};

/** Motion signals are history once the recorder took them; a day of them stays visible in Bull Board. */
const MOTION_JOB_OPTIONS: JobsOptions = {
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** One change of a detection flag: began (`state` true) or cleared, seen at `at` (epoch ms). */
export interface DetectionEdge {
  serial: string;
  kind: DetectionKind;
  state: boolean;
  at: number;
  /** The eufy-security-ws event it came from, or what revealed it (a state fetched after a reconnect). */
  sourceEvent: string;
}

/** The job id of one edge: the same edge written twice (a retry after a lost reply) is one job. */
export function motionJobId(edge: DetectionEdge): string {
  return `motion.${edge.serial}.${edge.kind}.${edge.state ? 'on' : 'off'}.${edge.at}`;
}

/** The detection flags a device reports in its properties (true or false for each kind it has). */
export function detectionFlags(device: DeviceState): [DetectionKind, boolean][] {
  return (Object.entries(DETECTION_PROPERTIES) as [DetectionKind, string][])
    .filter(([, property]) => typeof device.properties[property] === 'boolean')
    .map(([kind, property]) => [kind, device.properties[property] as boolean]);
}

/**
 * Turns detection edges into recorder jobs, once each. Redis keeps the last state written per camera
 * and kind (`{prefix}:detections:{serial}`, a hash kind → "1" / "0"): an edge that does not change it
 * is a replay (the same event again after a reconnect, or a restart that re-reads a flag still set)
 * and produces nothing. A flag that changed while ingest was away or disconnected (found when the
 * state is fetched again) produces the edge it missed.
 */
export class MotionSignals {
  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<Config, 'REDIS_PREFIX' | CameraConfigKeys>,
    private readonly queue: JobQueue<typeof motionSignalJob>,
    private readonly registry: DeviceRegistry,
  ) {}

  /** Idempotent: the state is recorded last, so a write cut short runs again to the same result. */
  async write(edge: DetectionEdge): Promise<void> {
    const key = redisKey(this.config, 'detections', edge.serial);
    if (((await this.redis.hget(key, edge.kind)) === '1') === edge.state) return;
    // Each camera's own triggers (`cameras:` in the config) decide what reaches the recorder.
    if (cameraSettings(this.config, edge.serial).triggers.includes(edge.kind as MotionKind)) {
      await addJob(
        this.queue,
        motionSignalJob,
        {
          device_sn: edge.serial,
          kind: edge.kind,
          state: edge.state,
          at: new Date(edge.at).toISOString(),
          source_event: edge.sourceEvent,
        },
        { ...MOTION_JOB_OPTIONS, jobId: motionJobId(edge) },
      );
      if (edge.state) await this.registry.updateDevice(edge.serial, { last_motion_at: edge.at }, edge.at);
    }
    await this.redis.hset(key, edge.kind, edge.state ? '1' : '0');
  }
}
