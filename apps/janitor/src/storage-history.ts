import type { ChainableCommander } from 'ioredis';
import type { History } from '@eufy-relay/history';

/** The history series of storage samples, one per cleanup run (@eufy-relay/history). */
export const STORAGE_HISTORY = 'storage';

export interface StorageSample {
  at: number;
  /** Bytes of the recordings in the index. */
  recordings_bytes: number;
  disk_used_bytes: number;
  disk_free_bytes: number;
  disk_total_bytes: number;
}

const FIELDS = ['recordings_bytes', 'disk_used_bytes', 'disk_free_bytes', 'disk_total_bytes'] as const;

export function addStorageSample(history: History, chain: ChainableCommander, sample: StorageSample) {
  return history.appendSample(chain, STORAGE_HISTORY, sample.at, FIELDS.map((f) => sample[f]).join(','));
}

/** Storage samples since `from`, oldest first (with the last one before it, when kept). */
export async function readStorageSamples(history: History, from: number): Promise<StorageSample[]> {
  const samples = await history.readSamples(STORAGE_HISTORY, from);
  return samples.map(({ at, value }) => {
    const numbers = value.split(',').map(Number);
    return { at, ...Object.fromEntries(FIELDS.map((f, i) => [f, numbers[i] ?? 0])) } as StorageSample;
  });
}
