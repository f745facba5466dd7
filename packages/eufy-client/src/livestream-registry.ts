import type { Logger } from '@eufy-relay/logger';
import { CommandFailedError, EufyClientError, NotConnectedError } from './errors';
import { Livestream, type LivestreamEnd } from './livestream';
import type { EufyEvent } from './protocol';

// The open livestreams of one client, one per device: starting one (the command, then the events that
// feed it), stopping it on the server, and ending them all when the connection goes. The client hands
// it the livestream events and its command channel; it holds no socket of its own.

export type LivestreamEvent = Extract<EufyEvent, { source: 'device'; event: `livestream ${string}` }>;

export function isLivestreamEvent(event: EufyEvent): event is LivestreamEvent {
  return event.source === 'device' && event.event.startsWith('livestream ');
}

export interface LivestreamRegistryOptions {
  /** Wait this long for `livestream started` (overridable per start). */
  startTimeoutMs: number;
  /** After stop, wait this long for the server's `livestream stopped`. */
  stopTimeoutMs: number;
  /** A reader this many chunks behind ends the stream with `overflow`. */
  maxQueuedChunks: number;
}

/** What the registry needs of the client. */
export interface LivestreamChannel {
  command(command: string, args: Record<string, unknown>): Promise<unknown>;
  /** Whether a ready connection is there to send a stop on. */
  isReady(): boolean;
  logger: Logger;
}

interface StreamEntry {
  stream: Livestream;
  /** Set while stop is waiting for the server's `livestream stopped`. */
  stopped?: () => void;
  /** Resolves when the serial's slot is free again. */
  released: Promise<void>;
  release: () => void;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class LivestreamRegistry {
  private readonly streams = new Map<string, StreamEntry>();

  constructor(
    private readonly channel: LivestreamChannel,
    private readonly options: LivestreamRegistryOptions,
  ) {}

  /** See EufyClient.startLivestream. */
  async start(serialNumber: string, options: { startTimeoutMs?: number } = {}): Promise<Livestream> {
    const busy = this.streams.get(serialNumber);
    if (busy && !busy.stream.endReason)
      throw new EufyClientError(`a livestream of ${serialNumber} is already open on this client`);
    if (busy) await busy.released;
    if (this.streams.has(serialNumber))
      throw new EufyClientError(`a livestream of ${serialNumber} was started concurrently on this client`);

    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stream = new Livestream(
      serialNumber,
      {
        startTimeoutMs: options.startTimeoutMs ?? this.options.startTimeoutMs,
        maxQueuedChunks: this.options.maxQueuedChunks,
      },
      () => this.stopOnServer(entry),
    );
    const entry: StreamEntry = { stream, released, release };
    // Registered before the command goes out: events may arrive before its result.
    this.streams.set(serialNumber, entry);
    try {
      await this.channel.command('device.start_livestream', { serialNumber });
    } catch (err) {
      if (err instanceof CommandFailedError && err.errorCode === 'device_livestream_already_running') {
        stream.markStarted();
        return stream;
      }
      stream.finish({ reason: 'start_failed', message: errorText(err) });
      this.release(entry);
      throw err;
    }
    return stream;
  }

  /** Feeds a livestream event to its stream. */
  onEvent(event: LivestreamEvent): void {
    const entry = this.streams.get(event.serialNumber);
    if (event.event === 'livestream video data') entry?.stream.pushVideo(event.buffer, event.metadata);
    else if (event.event === 'livestream audio data') entry?.stream.pushAudio(event.buffer, event.metadata);
    else if (event.event === 'livestream started') entry?.stream.markStarted();
    else if (event.event === 'livestream stopped' && entry) {
      entry.stream.finish({
        reason: 'server_stopped',
        message: `eufy-security-ws stopped the livestream of ${event.serialNumber}`,
      });
      if (entry.stopped) entry.stopped();
      else this.release(entry);
    }
  }

  /** A device's `command result`: a failed P2P start (non-zero return code) ends its stream. */
  onCommandResult(event: Extract<EufyEvent, { source: 'device'; event: 'command result' }>): void {
    if (event.command !== 'start_livestream') return;
    const entry = this.streams.get(event.serialNumber);
    if (!entry || entry.stream.started || event.returnCode === 0) return;
    entry.stream.finish({
      reason: 'start_failed',
      message: `P2P start of ${event.serialNumber} failed: ${event.returnCodeName} (${event.returnCode})`,
      returnCode: event.returnCode,
      returnCodeName: event.returnCodeName,
    });
    // Fire-and-forget: stopOnServer catches and logs its own errors; the event handler must not block on an RPC.
    void this.stopOnServer(entry);
  }

  /** Ends every open stream with `end` and frees its slot (the connection or the client is gone). */
  endAll(end: LivestreamEnd): void {
    for (const entry of [...this.streams.values()]) {
      entry.stream.finish(end);
      this.release(entry);
    }
  }

  private async stopOnServer(entry: StreamEntry): Promise<void> {
    const { serialNumber } = entry.stream;
    if (this.streams.get(serialNumber) !== entry) return;
    if (!this.channel.isReady()) {
      this.release(entry);
      return;
    }
    const confirmed = new Promise<void>((resolve) => {
      entry.stopped = resolve;
    });
    try {
      await this.channel.command('device.stop_livestream', { serialNumber });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        confirmed,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.options.stopTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    } catch (err) {
      // Already ended on the server (no data, another camera took the station), or the connection
      // went (the server ends a closed socket's streams itself): nothing left to stop.
      const alreadyEnded =
        (err instanceof CommandFailedError && err.errorCode === 'device_livestream_not_running') ||
        err instanceof NotConnectedError;
      if (!alreadyEnded)
        this.channel.logger.warn({ serialNumber, err: errorText(err) }, 'stop_livestream failed');
    } finally {
      this.release(entry);
    }
  }

  private release(entry: StreamEntry): void {
    if (this.streams.get(entry.stream.serialNumber) === entry) this.streams.delete(entry.stream.serialNumber);
    entry.release();
  }
}
