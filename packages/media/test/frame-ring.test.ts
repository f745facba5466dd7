import { FrameBudget, FrameRing, buildAccessUnit, type AccessUnit } from '../src';

/** An H.264 access unit of `bytes` bytes: an IDR slice (keyframe) or a non-IDR one. */
function unit(keyframe: boolean, bytes = 100): AccessUnit {
  const nal = Buffer.alloc(bytes - 4, 0x11);
  nal[0] = keyframe ? 0x65 : 0x41;
  nal[1] = 0x80;
  return buildAccessUnit('h264', [nal]);
}

/** Feeds `seconds` of a 10 fps stream with a keyframe every `gop` frames, from t=0. */
function feed(ring: FrameRing, seconds: number, gop = 10, bytes = 100, from = 0): void {
  for (let i = 0; i < seconds * 10; i++) ring.push(unit(i % gop === 0, bytes), from + i * 100);
}

describe('FrameRing: the last seconds of a stream, whole GOPs', () => {
  it('keeps at least keepMs, starting on a keyframe, and no more than one GOP beyond', () => {
    const ring = new FrameRing({ keepMs: 2500, maxBytes: 1e9 });
    feed(ring, 10);
    // Newest frame at 9.9 s: 2.5 s back is 7.4 s, so the GOP starting at 7 s is the oldest kept.
    const held = ring.from(0);
    expect(held[0]).toMatchObject({ at: 7000, unit: { keyframe: true } });
    expect(held).toHaveLength(30);
    expect(ring.spanMs).toBe(2900);
    expect(ring.bytes).toBe(30 * 100);
  });

  it('from(at) starts at the last keyframe at or before `at`', () => {
    const ring = new FrameRing({ keepMs: 5000, maxBytes: 1e9 });
    feed(ring, 10);
    expect(ring.from(8500)[0]!.at).toBe(8000);
    expect(ring.from(8000)[0]!.at).toBe(8000);
    expect(ring.from(7999)[0]!.at).toBe(7000);
    // Before everything held: the oldest keyframe.
    expect(ring.from(0)[0]!.at).toBe(4000);
  });

  it('waits for a keyframe before holding anything', () => {
    const ring = new FrameRing({ keepMs: 5000, maxBytes: 1e9 });
    ring.push(unit(false), 0);
    expect(ring.length).toBe(0);
    ring.push(unit(true), 100);
    expect(ring.length).toBe(1);
  });

  it('stays under its byte cap by giving up the oldest GOPs; a GOP over the cap empties it', () => {
    const ring = new FrameRing({ keepMs: 60_000, maxBytes: 2500 });
    feed(ring, 10);
    expect(ring.bytes).toBeLessThanOrEqual(2500);
    expect(ring.from(0)[0]!.unit.keyframe).toBe(true);
    expect(ring.length).toBe(20); // 2 whole GOPs of 1000 bytes (3 would be 3000)

    const small = new FrameRing({ keepMs: 60_000, maxBytes: 500 });
    feed(small, 1); // one GOP of 1000 bytes never fits
    expect(small.bytes).toBeLessThanOrEqual(500);
  });

  it('rings sharing a budget stay under it together', () => {
    const budget = new FrameBudget(3000);
    const a = new FrameRing({ keepMs: 60_000, maxBytes: 1e9, budget });
    const b = new FrameRing({ keepMs: 60_000, maxBytes: 1e9, budget });
    for (let i = 0; i < 100; i++) {
      a.push(unit(i % 10 === 0), i * 100);
      b.push(unit(i % 10 === 0), i * 100);
      expect(budget.bytes).toBeLessThanOrEqual(3000);
    }
    expect(budget.bytes).toBe(a.bytes + b.bytes);
    a.clear();
    expect(budget.bytes).toBe(b.bytes);
  });
});
