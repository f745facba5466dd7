import { backoffDelay, classifyMessage, DEFAULT_BACKOFF, isKeyframe } from '../src';

describe('classifyMessage', () => {
  it("accepts the server's camelCase driver connectionError under the documented name", () => {
    const wire = {
      type: 'event',
      event: { source: 'driver', event: 'connectionError', error: { name: 'Err' } },
    };
    expect(classifyMessage(wire)).toEqual({
      kind: 'event',
      event: { source: 'driver', event: 'connection error', error: { name: 'Err' } },
    });
    expect(
      classifyMessage({ type: 'event', event: { source: 'driver', event: 'connection error' } }),
    ).toMatchObject({ kind: 'event', event: { event: 'connection error' } });
  });

  it('keeps known events with extra fields, tells unknown events from malformed messages', () => {
    const extra = {
      type: 'event',
      event: { source: 'device', event: 'pet detected', serialNumber: 'S1', state: true, newField: 1 },
    };
    expect(classifyMessage(extra)).toMatchObject({
      kind: 'event',
      event: { event: 'pet detected', state: true },
    });
    expect(classifyMessage({ type: 'event', event: { source: 'station', event: 'teleported' } })).toEqual({
      kind: 'unknown event',
      source: 'station',
      event: 'teleported',
    });
    expect(classifyMessage({ type: 'event', event: { source: 'device', event: 'rings' } })).toMatchObject({
      kind: 'malformed',
      problem: expect.stringContaining('serialNumber'),
    });
    expect(classifyMessage({ type: 'hello' })).toEqual({
      kind: 'malformed',
      problem: 'unknown message type "hello"',
    });
    expect(classifyMessage([1, 2])).toMatchObject({ kind: 'malformed' });
    expect(classifyMessage({ type: 'result', messageId: 7, success: true, result: {} })).toEqual({
      kind: 'result',
      message: { type: 'result', messageId: '7', success: true, result: {} },
    });
  });
});

describe('backoffDelay', () => {
  it('grows exponentially, spreads by the jitter and never passes the cap', () => {
    const low = () => 0;
    const high = () => 0.999999;
    expect([1, 2, 3, 4].map((a) => backoffDelay(a, { ...DEFAULT_BACKOFF, jitter: 0 }))).toEqual([
      500, 1000, 2000, 4000,
    ]);
    expect(backoffDelay(1, DEFAULT_BACKOFF, low)).toBe(400);
    expect(backoffDelay(1, DEFAULT_BACKOFF, high)).toBe(600);
    expect(backoffDelay(30, DEFAULT_BACKOFF, high)).toBe(DEFAULT_BACKOFF.maxDelayMs);
    expect(backoffDelay(30, DEFAULT_BACKOFF, low)).toBe(DEFAULT_BACKOFF.maxDelayMs * 0.8);
  });
});

describe('isKeyframe', () => {
  it('knows H.264 IDR/SPS and H.265 IRAP/VPS from ordinary slices', () => {
    expect(isKeyframe(Buffer.from([0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x65, 2]), 'H264')).toBe(true);
    expect(isKeyframe(Buffer.from([0, 0, 0, 1, 0x09, 0x10, 0, 0, 1, 0x65, 2]), 'H264')).toBe(true); // AUD first
    expect(isKeyframe(Buffer.from([0, 0, 0, 1, 0x41, 1, 2]), 'H264')).toBe(false);
    expect(isKeyframe(Buffer.from([0, 0, 0, 1, 0x40, 1, 0, 0, 1, 0x26, 1]), 'H265')).toBe(true); // VPS
    expect(isKeyframe(Buffer.from([0, 0, 1, 0x02, 1, 2]), 'H265')).toBe(false); // TRAIL_R
    expect(isKeyframe(Buffer.from([0, 0, 0, 1, 0x67]), 'UNKNOWN')).toBe(false);
  });
});
