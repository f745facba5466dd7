import type { Worker } from 'bullmq';

/**
 * worker.close() waits for running jobs forever. Give them `graceMs` to finish; then abort them
 * through the processor's AbortSignal (ffmpeg, HTTP requests listen to it) and force the close.
 * BullMQ's stalled-job recovery hands an aborted job to another worker.
 */
export function closeWorker(worker: Worker, graceMs: number): () => Promise<void> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const graceful = worker.close();
    const timedOut = await Promise.race([
      graceful.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      worker.cancelAllJobs('shutdown');
      await worker.close(true);
    }
  };
}
