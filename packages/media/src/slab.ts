/**
 * Buffers cut from shared slabs rather than allocated one by one: each would be its own ArrayBuffer
 * otherwise (a 1080p frame is ~20 KB), and allocating and collecting thousands of them a second
 * keeps the garbage collector busy. A slab is freed once no buffer cut from it is referenced any more.
 */
export class SlabPool {
  private slab = Buffer.allocUnsafeSlow(0);
  private used = 0;

  constructor(private readonly slabBytes = 1024 * 1024) {}

  /**
   * Room for up to `bytes` at the free end of the current slab (a new slab when it has too little),
   * for a writer that learns its length as it goes; `take` then claims what it wrote.
   */
  room(bytes: number): Buffer {
    if (this.slab.length - this.used < bytes) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(this.slabBytes, bytes));
      this.used = 0;
    }
    return this.slab.subarray(this.used);
  }

  /** The first `count` bytes of the last `room` become a buffer of their own; the next starts 8-aligned. */
  take(count: number): Buffer {
    const out = this.slab.subarray(this.used, this.used + count);
    this.used += (count + 7) & ~7;
    return out;
  }

  /** `bytes` from the slab at once. */
  cut(bytes: number): Buffer {
    this.room(bytes);
    return this.take(bytes);
  }
}
