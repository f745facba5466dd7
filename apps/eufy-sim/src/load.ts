import type { DetectionKind } from './detections';

/** How often a load wakes up; the events that fell due since the last wake-up go out together. */
const TICK_MS = 5;

export interface DetectionLoadOptions {
  /** Detection events per second, across all its devices. */
  rate: number;
  /** How long it runs: rate × seconds events in all. */
  seconds: number;
  kind: DetectionKind;
  /** Served round-robin, one event each in turn. */
  devices: string[];
}

/** What GET /load/detections/:id and `detectionLoad(id)` show. */
export interface DetectionLoadReport {
  id: string;
  kind: DetectionKind;
  rate: number;
  seconds: number;
  devices: number;
  /** Events the schedule holds in all. */
  total: number;
  sent: number;
  /** Sent events that began a detection (the flag was off) and that cleared one. */
  begins: number;
  ends: number;
  /** Epoch ms of the first event and of the last (null while running). */
  startedAt: number;
  finishedAt: number | null;
  /** The longest an event waited past its due time: the simulator falling behind its own schedule. */
  maxLagMs: number;
  /** Epoch ms at which each device's first begin went out. */
  firstBeginAt: Record<string, number>;
}

/**
 * A steady stream of detection events: at `rate` per second, on an absolute schedule (no drift), the
 * next device in turn has its detection flag toggled: begun if off, cleared if on. Every event is
 * therefore a real edge on the wire (`motion detected` with `state` true or false), unlike a trigger
 * while the flag is on, which only extends it and sends nothing.
 */
export class DetectionLoad {
  private sent = 0;
  private begins = 0;
  private maxLagMs = 0;
  private readonly firstBeginAt: Record<string, number> = {};
  private readonly total: number;
  private startedAt = 0;
  private finishedAt: number | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    private readonly options: DetectionLoadOptions,
    /** Toggles the device's flag; true when that began a detection. */
    private readonly toggle: (serialNumber: string) => boolean,
  ) {
    this.total = Math.round(options.rate * options.seconds);
  }

  start(): void {
    const origin = performance.now();
    this.startedAt = Date.now();
    const periodMs = 1000 / this.options.rate;
    const tick = () => {
      const elapsed = performance.now() - origin;
      const due = Math.min(this.total, Math.floor(elapsed / periodMs) + 1);
      if (this.sent < due) this.maxLagMs = Math.max(this.maxLagMs, elapsed - this.sent * periodMs);
      const { devices } = this.options;
      for (; this.sent < due; this.sent++) {
        const serialNumber = devices[this.sent % devices.length]!;
        const at = Date.now();
        if (this.toggle(serialNumber)) {
          this.begins++;
          this.firstBeginAt[serialNumber] ??= at;
        }
      }
      if (this.sent < this.total) this.timer = setTimeout(tick, TICK_MS);
      else this.finishedAt = Date.now();
    };
    tick();
  }

  /** Stops sending (the simulator stopping). */
  stop(): void {
    clearTimeout(this.timer);
    this.finishedAt ??= Date.now();
  }

  report(): DetectionLoadReport {
    const { kind, rate, seconds, devices } = this.options;
    return {
      id: this.id,
      kind,
      rate,
      seconds,
      devices: devices.length,
      total: this.total,
      sent: this.sent,
      begins: this.begins,
      ends: this.sent - this.begins,
      startedAt: this.startedAt,
      finishedAt: this.finishedAt,
      maxLagMs: +this.maxLagMs.toFixed(1),
      firstBeginAt: { ...this.firstBeginAt },
    };
  }
}
