import { once } from 'node:events';
import type { ChildProcess, IOType } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { LineTail, spawnTool, toolPath } from './spawn';

export type DropReason = 'overflow' | 'resync' | 'closed';

export interface DroppedWrite {
  /** Index of the input pipe: 0 is stdin, 1 is fd 3, … */
  input: number;
  reason: DropReason;
  bytes: number;
}

export interface InputStats {
  writes: number;
  bytes: number;
  dropped: number;
  droppedBytes: number;
}

export interface WriteOptions {
  /**
   * Whether this unit can be decoded on its own. After a drop, units marked `keyframe: false` are
   * dropped too until the next keyframe (they would reference what was lost). Omitted: every unit
   * stands alone (audio frames).
   */
  keyframe?: boolean;
}

/**
 * One input pipe of ffmpeg. Writes never block and never queue without bound: up to `maxQueuedBytes`
 * wait in memory for ffmpeg to read them (one unit larger than that is taken when nothing waits);
 * beyond that a unit is dropped and counted. A producer that can wait awaits `whenWritable()`, which
 * follows the pipe's 'drain'.
 */
export class PipeInput {
  readonly stats: InputStats = { writes: 0, bytes: 0, dropped: 0, droppedBytes: 0 };
  private resyncing = false;
  private pipeError: Error | undefined;

  constructor(
    readonly index: number,
    private readonly stream: Writable,
    private readonly maxQueuedBytes: number,
    private readonly onDrop: ((drop: DroppedWrite) => void) | undefined,
  ) {
    // EPIPE when ffmpeg exits while data is queued is expected (crash, kill): the exit result tells.
    stream.on('error', (err) => {
      this.pipeError ??= err;
    });
  }

  /** Bytes waiting in memory for ffmpeg to read them. */
  get queuedBytes(): number {
    return this.stream.writableLength;
  }

  /** The first error of the pipe (EPIPE after ffmpeg exited), if any. */
  get error(): Error | undefined {
    return this.pipeError;
  }

  /** Queues one unit; false when it was dropped (overflow, resync after a drop, pipe closed). */
  write(data: Uint8Array, options: WriteOptions = {}): boolean {
    if (!this.stream.writable || this.pipeError) return this.drop('closed', data.length);
    if (this.resyncing && options.keyframe === false) return this.drop('resync', data.length);
    const queued = this.stream.writableLength;
    if (queued > 0 && queued + data.length > this.maxQueuedBytes) {
      this.resyncing = true;
      return this.drop('overflow', data.length);
    }
    this.resyncing = false;
    this.stats.writes += 1;
    this.stats.bytes += data.length;
    this.stream.write(data);
    return true;
  }

  /** Resolves when the queue is below the pipe's high-water mark again, or the pipe closed. */
  async whenWritable(): Promise<void> {
    if (!this.stream.writableNeedDrain || !this.stream.writable) return;
    const ac = new AbortController();
    await Promise.race([
      once(this.stream, 'drain', { signal: ac.signal }),
      once(this.stream, 'close', { signal: ac.signal }),
    ]).finally(() => ac.abort());
  }

  /** No more data: ffmpeg sees end of file once the queue is written. */
  end(): void {
    if (!this.stream.writableEnded) this.stream.end();
  }

  /** Throws away what is queued (ffmpeg is being killed; nothing will read it). */
  destroy(): void {
    this.stream.destroy();
  }

  private drop(reason: DropReason, bytes: number): false {
    this.stats.dropped += 1;
    this.stats.droppedBytes += bytes;
    this.onDrop?.({ input: this.index, reason, bytes });
    return false;
  }
}

/**
 * How ffmpeg ended:
 * - `exited`: on its own, without a stop request (finished, crashed, or killed by someone else);
 * - `eof`: after stop() closed its inputs (the clean way);
 * - `sigint` / `sigkill`: stop() had to interrupt or kill it after the bound.
 */
export type FfmpegEndReason = 'exited' | 'eof' | 'sigint' | 'sigkill';

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  reason: FfmpegEndReason;
  /** ffmpeg finished its output: exit code 0, or 255 after our SIGINT (ffmpeg's "exiting normally"). */
  ok: boolean;
  /** We had to SIGKILL it. */
  killed: boolean;
  /** The last lines ffmpeg wrote on stderr. */
  stderr: string[];
  inputs: InputStats[];
}

export interface FfmpegProcessOptions {
  args: readonly string[];
  /** Input pipes: 1 is stdin only, 2 adds fd 3, … Default 1. */
  inputPipes?: number;
  /** Default FFMPEG_PATH, else `ffmpeg` on PATH. */
  ffmpegPath?: string;
  /** Aborting stops ffmpeg the same way stop() does. */
  signal?: AbortSignal;
  /** After the inputs are closed, how long ffmpeg gets to finish the file before SIGINT. Default 10 000. */
  endGraceMs?: number;
  /** After SIGINT, how long before SIGKILL. Default 5 000. */
  interruptGraceMs?: number;
  /** Per input: bytes that may wait in memory for ffmpeg before units are dropped. Default 8 MiB. */
  maxQueuedBytes?: number;
  /** ffmpeg writes its output to stdout (`pipe:1`): read it from `stdout`. Default false. */
  stdout?: boolean;
  /** stderr lines kept for error messages. Default 20. */
  stderrLines?: number;
  onDrop?: (drop: DroppedWrite) => void;
}

/**
 * The system's ffmpeg run with `child_process.spawn`, fed through bounded input pipes and stopped in
 * order: close the inputs and let it finish the file, then SIGINT, then SIGKILL, each step bounded.
 */
export class FfmpegProcess {
  readonly inputs: readonly PipeInput[];
  /** Resolves when ffmpeg has ended, however it ended. Never rejects. */
  readonly exited: Promise<FfmpegExit>;
  private readonly stderrTail: LineTail;
  private hasExited = false;
  private stopping: Promise<FfmpegExit> | undefined;
  private stopRequested = false;
  private escalation: 'sigint' | 'sigkill' | undefined;
  private readonly abortListener: () => void;

  private constructor(
    private readonly child: ChildProcess,
    private readonly options: FfmpegProcessOptions,
  ) {
    this.stderrTail = new LineTail(options.stderrLines ?? 20);
    child.stderr?.on('data', (chunk: Buffer) => this.stderrTail.push(chunk));
    const maxQueued = options.maxQueuedBytes ?? 8 * 1024 * 1024;
    const pipes = options.inputPipes ?? 1;
    this.inputs = Array.from({ length: pipes }, (_, i) => {
      const stream = (i === 0 ? child.stdin : child.stdio[i + 2]) as Writable;
      return new PipeInput(i, stream, maxQueued, options.onDrop);
    });
    // Fire-and-forget: stop() never rejects (exited carries the outcome); an abort listener cannot wait for it.
    this.abortListener = () => void this.stop();
    options.signal?.addEventListener('abort', this.abortListener, { once: true });
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.hasExited = true;
        options.signal?.removeEventListener('abort', this.abortListener);
        resolve(this.exitResult(code, signal));
      });
    });
  }

  /** Spawns ffmpeg; rejects with MediaToolNotFoundError when it is not installed. */
  static async start(options: FfmpegProcessOptions): Promise<FfmpegProcess> {
    options.signal?.throwIfAborted();
    const pipes = options.inputPipes ?? 1;
    if (!Number.isInteger(pipes) || pipes < 1) throw new Error(`inputPipes must be 1 or more, got ${pipes}`);
    const stdio: IOType[] = [
      'pipe',
      options.stdout ? 'pipe' : 'ignore',
      'pipe',
      ...Array.from({ length: pipes - 1 }, (): IOType => 'pipe'),
    ];
    const path = options.ffmpegPath ?? toolPath('ffmpeg');
    const child = await spawnTool('ffmpeg', path, options.args, stdio);
    const ffmpeg = new FfmpegProcess(child, options);
    // Aborted while spawning: the listener was not there yet.
    // Fire-and-forget: stop() never rejects; the caller sees the outcome through `exited`.
    if (options.signal?.aborted) void ffmpeg.stop();
    return ffmpeg;
  }

  /** What ffmpeg writes to stdout, with the `stdout` option. */
  get stdout(): Readable | null {
    return this.child.stdout;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.hasExited;
  }

  /** The last lines ffmpeg wrote on stderr so far. */
  stderr(): string[] {
    return this.stderrTail.get();
  }

  /**
   * Ends the recording: close every input (ffmpeg writes what is queued, then finishes the file),
   * wait up to endGraceMs, SIGINT, wait up to interruptGraceMs, SIGKILL. Calling it again returns the
   * same result.
   */
  stop(): Promise<FfmpegExit> {
    this.stopping ??= this.runStop();
    return this.stopping;
  }

  private async runStop(): Promise<FfmpegExit> {
    this.stopRequested = true;
    if (this.hasExited) return this.exited;
    for (const input of this.inputs) input.end();
    if (await this.exitsWithin(this.options.endGraceMs ?? 10_000)) return this.exited;
    this.escalation = 'sigint';
    this.child.kill('SIGINT');
    if (await this.exitsWithin(this.options.interruptGraceMs ?? 5_000)) return this.exited;
    this.escalation = 'sigkill';
    for (const input of this.inputs) input.destroy();
    this.child.kill('SIGKILL');
    return this.exited;
  }

  private async exitsWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const exited = await Promise.race([this.exited.then(() => true), timeout]);
    clearTimeout(timer);
    return exited;
  }

  private exitResult(code: number | null, signal: NodeJS.Signals | null): FfmpegExit {
    const reason: FfmpegEndReason = this.escalation ?? (this.stopRequested ? 'eof' : 'exited');
    return {
      code,
      signal,
      reason,
      ok: code === 0 || (reason === 'sigint' && code === 255),
      killed: reason === 'sigkill',
      stderr: this.stderrTail.get(),
      inputs: this.inputs.map((input) => ({ ...input.stats })),
    };
  }
}

/** One line for logs and errors: how ffmpeg ended and the last thing it said. */
export function describeExit(exit: FfmpegExit): string {
  const how = exit.signal ? `was ended by ${exit.signal}` : `exited with code ${exit.code}`;
  const tail = exit.stderr.length > 0 ? `: ${exit.stderr.slice(-3).join(' | ')}` : '';
  return `ffmpeg ${how} (${exit.reason})${tail}`;
}
