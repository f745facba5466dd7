import { KeyframeGate, type AccessUnit } from '../src';
import {
  PARAMETER_SET_TYPES,
  accessUnitsOf,
  canEncode,
  encodeStream,
  itEncoding,
  random,
  randomChunks,
  tempDir,
  withoutParameterSets,
} from './helpers';

function feed(gate: KeyframeGate, units: readonly AccessUnit[], seed: number): AccessUnit[] {
  const out: AccessUnit[] = [];
  for (const chunk of randomChunks(Buffer.concat(units.map((u) => u.data)), random(seed)))
    out.push(...gate.push(chunk));
  return out;
}

describe.each(['h264', 'h265'] as const)('KeyframeGate on real %s', (codec) => {
  let units: AccessUnit[];
  let cleanup: () => Promise<void>;
  const itWith = itEncoding(codec);

  beforeAll(async () => {
    const tmp = await tempDir(`gate-${codec}`);
    cleanup = tmp.remove;
    if (canEncode(codec))
      units = accessUnitsOf(codec, await encodeStream(tmp.dir, { codec, frames: 60, gop: 15 }));
  });
  afterAll(() => cleanup());

  itWith('drops a mid-GOP start until the first keyframe', () => {
    const gate = new KeyframeGate(codec);
    const out = [...feed(gate, units.slice(5), 1), ...gate.end()];
    expect(out[0]!.keyframe).toBe(true);
    expect(out[0]!.data.equals(units[15]!.data)).toBe(true);
    expect(out).toHaveLength(45);
    expect(gate.stats).toMatchObject({
      droppedWaitingForKeyframe: 10,
      passed: 45,
      parameterSetsPrepended: 0,
    });
  });

  itWith('after a restart waits for a keyframe and puts the remembered parameter sets in front of it', () => {
    const gate = new KeyframeGate(codec);
    const first = feed(gate, units.slice(0, 20), 2);
    const lastOfFirst = gate.newSession();
    // The new session joins mid-GOP and its keyframes come without parameter sets.
    const second = [...feed(gate, withoutParameterSets(units.slice(22)), 3), ...gate.end()];

    expect([...first, ...lastOfFirst].map((u) => u.data)).toEqual(units.slice(0, 20).map((u) => u.data));
    expect(second).toHaveLength(30);
    const resumed = second[0]!;
    expect(resumed.keyframe).toBe(true);
    // Same parameter sets and picture as the original keyframe 30, in a valid order.
    expect(resumed.nalUnits.map((n) => n.toString('hex')).sort()).toEqual(
      units[30]!.nalUnits.map((n) => n.toString('hex')).sort(),
    );
    expect(resumed.nalTypes.slice(0, PARAMETER_SET_TYPES[codec].length)).toEqual(PARAMETER_SET_TYPES[codec]);
    // Only the first keyframe of a session needs them; later ones pass as they came.
    expect(second[15]!.keyframe).toBe(true);
    expect(second[15]!.parameterSets).toEqual([]);
    expect(gate.stats).toMatchObject({
      sessions: 2,
      droppedWaitingForKeyframe: 8,
      parameterSetsPrepended: 1,
    });
  });

  itWith('drops a keyframe whose parameter sets were never seen', () => {
    const gate = new KeyframeGate(codec);
    const stripped = withoutParameterSets(units.slice(0, 20));
    const out = [...feed(gate, [...stripped, ...units.slice(20, 40)], 4), ...gate.end()];
    expect(out[0]!.data.equals(units[30]!.data)).toBe(true);
    expect(gate.stats.droppedWaitingForKeyframe).toBe(30);
  });
});

describe('KeyframeGate with access unit delimiters', () => {
  it('keeps the delimiter first when it prepends parameter sets', async () => {
    const tmp = await tempDir('gate-aud');
    try {
      const units = accessUnitsOf(
        'h264',
        await encodeStream(tmp.dir, { codec: 'h264', frames: 30, gop: 15, accessUnitDelimiters: true }),
      );
      expect(units[15]!.nalTypes[0]).toBe(9);
      const gate = new KeyframeGate('h264');
      feed(gate, units.slice(0, 5), 5);
      gate.newSession();
      const out = [...feed(gate, withoutParameterSets(units.slice(10)), 6), ...gate.end()];
      expect(out[0]!.nalTypes.slice(0, 4)).toEqual([9, 7, 8, 5]);
    } finally {
      await tmp.remove();
    }
  });
});
