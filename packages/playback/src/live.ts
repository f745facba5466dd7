import { watch, type FSWatcher } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Response } from 'express';
import type { Logger } from '@eufy-relay/logger';
import type { MediaLookup } from './files';

export interface LiveOptions {
  lookup: MediaLookup;
  /** How often a followed recording's state (and size) is checked, besides file-change events. */
  checkIntervalMs: number;
  /** A client that takes no bytes this long is dropped. */
  clientTimeoutMs: number;
  /** Bytes per read (and per socket write). */
  chunkBytes: number;
  logger: Logger;
}

/** How long file-change events are gathered into one wake-up: ffmpeg writes a fragment in several writes. */
const CHANGE_COALESCE_MS = 40;

/**
 * One recording in progress that clients follow: one file watch and one state check per interval,
 * whatever the number of followers. Followers wait on `changed`, which settles at the next growth,
 * tick or end, so none polls on its own.
 */
class FollowedRecording {
  followers = 0;
  /** The recording is no longer in progress (finished, failed, deleted): send what is left, then end. */
  ended = false;
  private wake!: () => void;
  private next!: Promise<void>;
  private watcher: FSWatcher | undefined;
  private readonly timer: NodeJS.Timeout;
  private coalescing: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly path: string,
    private readonly options: LiveOptions,
  ) {
    this.arm();
    try {
      this.watcher = watch(path, { persistent: false }, () => this.soon());
      // A watch that fails later (file gone, too many watches) leaves the interval to do its work.
      this.watcher.on('error', () => this.unwatch());
    } catch (err) {
      options.logger.debug({ err, id }, 'cannot watch a live recording: following it on the interval only');
    }
    this.timer = setInterval(() => void this.check(), options.checkIntervalMs);
    this.timer.unref();
  }

  /** Settles at the next change; take it before reading, so a change during the read is not missed. */
  get changed(): Promise<void> {
    return this.next;
  }

  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.coalescing);
    this.unwatch();
    this.ended = true;
    this.notify();
  }

  private arm(): void {
    this.next = new Promise((resolve) => (this.wake = resolve));
  }

  private notify(): void {
    const wake = this.wake;
    this.arm();
    wake();
  }

  private soon(): void {
    this.coalescing ??= setTimeout(() => {
      this.coalescing = undefined;
      this.notify();
    }, CHANGE_COALESCE_MS);
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async check(): Promise<void> {
    try {
      const { state } = await this.options.lookup(this.id, 'video');
      if (state !== 'recording') this.ended = true;
    } catch (err) {
      // Redis away for a moment: keep following; the next tick asks again.
      this.options.logger.debug({ err, id: this.id }, 'cannot check a live recording');
    }
    this.notify();
  }
}

/**
 * Streams recordings in progress to players: what is written so far, then every byte ffmpeg adds,
 * until the recording ends, as one chunked 200 (a progressive MP4 that plays a little behind live).
 * Each response reads at its own pace with backpressure; a client that takes nothing for
 * clientTimeoutMs is dropped, so a reader that stalls costs at most one chunk of memory and a
 * descriptor until then.
 */
export class LiveRecordings {
  private readonly followed = new Map<string, FollowedRecording>();

  constructor(private readonly options: LiveOptions) {}

  /** Followers being served right now. */
  get followers(): number {
    let n = 0;
    for (const f of this.followed.values()) n += f.followers;
    return n;
  }

  async stream(id: string, path: string, res: Response): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        res.status(404).end();
        return;
      }
      throw err;
    }
    const recording = this.acquire(id, path);
    try {
      res.status(200);
      res.setHeader('Content-Type', 'video/mp4');
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('X-Recording-Status', 'recording');
      res.flushHeaders();
      await this.pump(handle, recording, res);
      if (!res.destroyed) res.end();
    } finally {
      this.release(recording);
      await handle.close();
    }
  }

  /** Ends every follower (the api is stopping). */
  close(): void {
    for (const recording of this.followed.values()) recording.close();
    this.followed.clear();
  }

  private async pump(handle: FileHandle, recording: FollowedRecording, res: Response): Promise<void> {
    const closed = new Promise<void>((resolve) => res.once('close', resolve));
    let position = 0;
    for (;;) {
      const changed = recording.changed;
      const ended = recording.ended;
      const { size } = await handle.stat();
      while (position < size) {
        if (res.destroyed) return;
        // A buffer of its own per write: the socket may hold it until the client reads.
        const chunk = Buffer.allocUnsafe(Math.min(this.options.chunkBytes, size - position));
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        if (!res.write(chunk.subarray(0, bytesRead)) && !(await this.drained(res))) return;
      }
      // The end was seen before this read, so every byte the recording will ever have is sent.
      if (ended || res.destroyed) return;
      await Promise.race([changed, closed]);
    }
  }

  /** Waits for a full socket buffer to drain; false (and the client dropped) after clientTimeoutMs. */
  private drained(res: Response): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        res.off('drain', onDrain);
        res.off('close', onClose);
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => {
        this.options.logger.info('dropped a live follower that took no bytes for the client timeout');
        res.destroy();
        done(false);
      }, this.options.clientTimeoutMs);
      res.on('drain', onDrain);
      res.on('close', onClose);
    });
  }

  private acquire(id: string, path: string): FollowedRecording {
    let recording = this.followed.get(id);
    if (!recording || recording.path !== path) {
      recording = new FollowedRecording(id, path, this.options);
      this.followed.set(id, recording);
    }
    recording.followers++;
    return recording;
  }

  private release(recording: FollowedRecording): void {
    if (--recording.followers > 0) return;
    recording.close();
    if (this.followed.get(recording.id) === recording) this.followed.delete(recording.id);
  }
}
