import { parseRecordingId } from '@eufy-relay/contracts';
import type { FinishRecording, RecordingStore } from './store';

/** How a test recording ended: after `seconds` (default 2) of motion, `fields` added or overriding. */
export interface FinishedRecordingOptions {
  seconds?: number;
  fields?: Partial<FinishRecording>;
}

/**
 * For tests and benchmarks: puts recording `id` into the index as the recorder leaves one that ended
 * on its motion timeout: created at the start its id names, completed `seconds` (default 2) later;
 * `fields` adds to or overrides the outcome (bytes, codec, …).
 */
export async function indexFinishedRecording(
  store: RecordingStore,
  id: string,
  options: FinishedRecordingOptions = {},
): Promise<void> {
  const { deviceSn, startedAt } = parsedId(id);
  await store.create({ device_sn: deviceSn, started_at: startedAt.getTime() });
  await finishRecording(store, id, options);
}

/** Finishes an indexed recording as a motion timeout after `seconds` (default 2), `fields` added. */
export async function finishRecording(
  store: RecordingStore,
  id: string,
  options: FinishedRecordingOptions = {},
): Promise<void> {
  const startedAt = parsedId(id).startedAt.getTime();
  const seconds = options.seconds ?? 2;
  await store.finish(id, {
    status: 'completed',
    video_status: 'completed',
    ended_at: startedAt + seconds * 1000,
    duration_seconds: seconds,
    stop_reason: 'motion_timeout',
    ...options.fields,
  });
}

function parsedId(id: string): NonNullable<ReturnType<typeof parseRecordingId>> {
  const parsed = parseRecordingId(id);
  if (!parsed) throw new Error(`not a recording id: ${id}`);
  return parsed;
}
