import type { AccessUnit } from './annexb';

/** An access unit and its arrival on the wall clock (ms). */
export interface TimedUnit {
  unit: AccessUnit;
  at: number;
}

/** Bytes held by every FrameRing that shares it, against one cap (the recorder's pre-buffers). */
export class FrameBudget {
  bytes = 0;
  constructor(readonly maxBytes: number) {}
}

export interface FrameRingOptions {
  /** Keep at least this much video before the newest frame (ms). */
  keepMs: number;
  /** Never hold more than this many bytes. */
  maxBytes: number;
  /** A cap shared with other rings: while it is exceeded, a ring that grows gives up its oldest GOP. */
  budget?: FrameBudget;
}

/**
 * The last seconds of a stream in memory (a pre-motion buffer): whole GOPs only, so it always
 * starts on a keyframe. The oldest GOP goes once the next one alone still covers `keepMs`, or when
 * the ring (or the budget it shares) is over its bytes; a GOP larger than the cap empties the ring,
 * which fills again from the next keyframe. Units must come keyframe-gated (KeyframeGate): a
 * keyframe carries its parameter sets.
 */
export class FrameRing {
  private units: TimedUnit[] = [];
  private heldBytes = 0;

  constructor(private readonly options: FrameRingOptions) {}

  get bytes(): number {
    return this.heldBytes;
  }

  /** Milliseconds between the oldest and the newest frame held. */
  get spanMs(): number {
    return this.units.length === 0 ? 0 : this.units.at(-1)!.at - this.units[0]!.at;
  }

  get length(): number {
    return this.units.length;
  }

  push(unit: AccessUnit, at: number): void {
    if (this.units.length === 0 && !unit.keyframe) return;
    this.units.push({ unit, at });
    this.add(unit.data.length);
    const { keepMs, maxBytes, budget } = this.options;
    for (;;) {
      const next = this.nextKeyframe();
      const old = next !== undefined && this.units[next]!.at <= at - keepMs;
      const over = this.heldBytes > maxBytes || (budget !== undefined && budget.bytes > budget.maxBytes);
      if (!old && !over) break;
      if (next === undefined) {
        this.clear();
        break;
      }
      this.drop(next);
    }
  }

  /** What a recording from `at` starts with: from the last keyframe at or before it (or the oldest held). */
  from(at: number): TimedUnit[] {
    let start = 0;
    for (let i = 0; i < this.units.length && this.units[i]!.at <= at; i++)
      if (this.units[i]!.unit.keyframe) start = i;
    return this.units.slice(start);
  }

  clear(): void {
    this.drop(this.units.length);
  }

  /** Index of the first keyframe after the oldest frame. */
  private nextKeyframe(): number | undefined {
    const i = this.units.findIndex((u, n) => n > 0 && u.unit.keyframe);
    return i < 0 ? undefined : i;
  }

  private drop(count: number): void {
    let bytes = 0;
    for (const { unit } of this.units.splice(0, count)) bytes += unit.data.length;
    this.add(-bytes);
  }

  private add(bytes: number): void {
    this.heldBytes += bytes;
    if (this.options.budget) this.options.budget.bytes += bytes;
  }
}
