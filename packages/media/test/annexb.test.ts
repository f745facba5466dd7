import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AnnexBParser, codecFromMetadata, runTool, type AccessUnit, type VideoCodec } from '../src';
import { accessUnitsOf, canEncode, encodeStream, itEncoding, random, randomChunks, tempDir } from './helpers';

/** Messages recorded from eufy-security-ws (its protocol's livestream events). */
const FIXTURES = join(__dirname, 'fixtures');

function parseChunks(
  codec: VideoCodec,
  chunks: readonly Buffer[],
): { units: AccessUnit[]; parser: AnnexBParser } {
  const parser = new AnnexBParser(codec);
  const units: AccessUnit[] = [];
  for (const chunk of chunks) units.push(...parser.push(chunk));
  units.push(...parser.flush());
  return { units, parser };
}

/** The stream rewritten with 3-byte start codes only (the parser's own output uses 4-byte ones). */
function withShortStartCodes(units: readonly AccessUnit[]): Buffer {
  const short = Buffer.from([0, 0, 1]);
  return Buffer.concat(units.flatMap((u) => u.nalUnits.flatMap((nal) => [short, nal])));
}

/** What ffmpeg's own parser makes of the raw stream: one packet per access unit, its size and key flag. */
async function ffprobePackets(file: string, format: string): Promise<{ size: number; keyframe: boolean }[]> {
  const out = await runTool('ffprobe', [
    '-v',
    'error',
    '-f',
    format,
    '-show_entries',
    'packet=size,flags',
    '-of',
    'csv=p=0',
    file,
  ]);
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const [size, flags] = line.split(',');
      return { size: Number(size), keyframe: (flags ?? '').includes('K') };
    });
}

describe('the eufy-security-ws video frame (fixture 18)', () => {
  const event = JSON.parse(
    readFileSync(join(FIXTURES, '18_event.device.livestream_video_data.json'), 'utf8'),
  );
  const frame = Buffer.from(event.event.buffer.data as number[]);

  it('is one keyframe access unit carrying SPS and PPS', () => {
    const codec = codecFromMetadata(event.event.metadata.videoCodec);
    expect(codec).toBe('h264');
    const { units, parser } = parseChunks(codec, [frame]);
    expect(units).toHaveLength(1);
    expect(units[0]).toMatchObject({ codec: 'h264', keyframe: true, nalTypes: [7, 8, 5] });
    expect(units[0]!.parameterSets).toEqual(['sps', 'pps']);
    expect(parser.parameterSets.sps?.[0]).toBe(0x67);
    expect(parser.parameterSets.pps?.[0]).toBe(0x68);
  });

  it('refuses a codec eufy-security-ws could not identify', () => {
    expect(codecFromMetadata('H265')).toBe('h265');
    expect(() => codecFromMetadata('UNKNOWN')).toThrow(
      'unsupported video codec "UNKNOWN": expected "H264" or "H265"',
    );
  });
});

describe.each([
  ['h264', 'h264'],
  ['h265', 'hevc'],
] as const)('parsing real %s made by ffmpeg', (codec, format) => {
  let stream: Buffer;
  let whole: AccessUnit[];
  let cleanup: () => Promise<void>;
  let dir: string;
  const itWith = itEncoding(codec);

  beforeAll(async () => {
    ({ dir, remove: cleanup } = await tempDir(`annexb-${codec}`));
    if (!canEncode(codec)) return;
    stream = await encodeStream(dir, { codec, frames: 60, gop: 15 });
    whole = accessUnitsOf(codec, stream);
  });
  afterAll(() => cleanup());

  itWith('finds the same access units and keyframes as ffmpeg does', async () => {
    const file = join(dir, 'whole');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, stream));
    const packets = await ffprobePackets(file, format);
    expect(whole).toHaveLength(60);
    expect(whole.map((u) => u.keyframe)).toEqual(packets.map((p) => p.keyframe));
    expect(whole.filter((u) => u.keyframe)).toHaveLength(4);
    // Same bytes per access unit as ffmpeg's packets, up to start code lengths (3 or 4 bytes each).
    whole.forEach((unit, i) => {
      const payload = unit.nalUnits.reduce((sum, nal) => sum + nal.length, 0);
      const startCodes = packets[i]!.size - payload;
      expect(startCodes).toBeGreaterThanOrEqual(3 * unit.nalUnits.length - 1);
      expect(startCodes).toBeLessThanOrEqual(4 * unit.nalUnits.length + 1);
    });
    const required = codec === 'h264' ? ['sps', 'pps'] : ['vps', 'sps', 'pps'];
    for (const unit of whole) {
      expect([...unit.parameterSets].sort()).toEqual(unit.keyframe ? [...required].sort() : []);
    }
  });

  itWith('gives identical access units however the stream is chunked', () => {
    for (let seed = 1; seed <= 40; seed += 1) {
      const { units, parser } = parseChunks(
        codec,
        randomChunks(stream, random(seed), seed % 2 ? 64 : 20_000),
      );
      expect(units.length).toBe(whole.length);
      units.forEach((unit, i) => expect(unit.data.equals(whole[i]!.data)).toBe(true));
      expect(parser.stats.droppedBytes).toBe(0);
    }
  });

  itWith('reads 3-byte start codes like 4-byte ones', () => {
    const { units } = parseChunks(codec, randomChunks(withShortStartCodes(whole), random(7)));
    expect(units.map((u) => u.data.toString('hex'))).toEqual(whole.map((u) => u.data.toString('hex')));
  });

  itWith('drops garbage before the first start code, between units and as invalid NAL units', () => {
    const next = random(99);
    // Bytes that can be no NAL unit: forbidden bit set, behind a start code, and zero padding.
    const invalidNal = Buffer.from([0, 0, 1, 0xff, 0x12, 0x34, 0x56]);
    const pieces: Buffer[] = [Buffer.from([0x12, 0x34, 0x56, 0x78, 0x9a])];
    whole.forEach((unit, i) => {
      pieces.push(unit.data);
      if (i % 5 === 0) pieces.push(invalidNal);
      if (i % 7 === 0) pieces.push(Buffer.alloc(1 + Math.floor(next() * 8)));
    });
    const { units, parser } = parseChunks(codec, randomChunks(Buffer.concat(pieces), next));
    expect(units.map((u) => u.data.toString('hex'))).toEqual(whole.map((u) => u.data.toString('hex')));
    expect(parser.stats.invalidNalUnits).toBe(Math.ceil(whole.length / 5));
    expect(parser.stats.droppedBytes).toBe(5 + parser.stats.invalidNalUnits * 4);
  });

  itWith('keeps every slice of a multi-slice picture in one access unit', async () => {
    const sliced = await encodeStream(dir, { codec, frames: 20, gop: 10, slices: 4 });
    const units = accessUnitsOf(codec, sliced);
    expect(units).toHaveLength(20);
    const vclPerUnit = units.map(
      (u) => u.nalTypes.filter((t) => (codec === 'h264' ? t >= 1 && t <= 5 : t < 32)).length,
    );
    expect(vclPerUnit.every((n) => n === 4)).toBe(true);
  });
});

describe('parser bounds and state', () => {
  it('drops a unit that grows past the bound without a start code, then resumes', () => {
    const parser = new AnnexBParser('h264', { maxAccessUnitBytes: 1000 });
    const frame = Buffer.from(
      JSON.parse(readFileSync(join(FIXTURES, '18_event.device.livestream_video_data.json'), 'utf8')).event
        .buffer.data,
    );
    const noStartCode = Buffer.alloc(5000, 0x55);
    expect(parser.push(Buffer.concat([frame, noStartCode]))).toEqual([]);
    expect(parser.stats.droppedBytes).toBeGreaterThanOrEqual(5000);
    // The next frame parses normally; the overlong one is gone.
    parser.push(frame);
    const units = parser.flush();
    expect(units).toHaveLength(1);
    expect(units[0]!.data.length).toBeLessThan(100);
  });

  it('reset() drops buffered input but remembers the parameter sets', () => {
    const frame = Buffer.from(
      JSON.parse(readFileSync(join(FIXTURES, '18_event.device.livestream_video_data.json'), 'utf8')).event
        .buffer.data,
    );
    const parser = new AnnexBParser('h264');
    parser.push(frame);
    parser.reset();
    expect(parser.flush()).toEqual([]);
    expect(parser.parameterSets.sps).toBeDefined();
    expect(parser.parameterSets.pps).toBeDefined();
  });
});
