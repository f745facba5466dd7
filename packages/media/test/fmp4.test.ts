import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Fmp4Indexer, probe, toolPath } from '../src';
import { tempDir } from './helpers';

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => ({ dir, remove } = await tempDir('fmp4')));
afterAll(() => remove());

/** A recording as the recorder writes it: fragmented MP4, ≤ 1 s fragments, H.264 (+ AAC). */
function record(file: string, seconds: number, audio: boolean): void {
  execFileSync(toolPath('ffmpeg'), [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15'],
    ...(audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000'] : []),
    ...['-t', String(seconds), '-c:v', 'libx264', '-g', '30', '-bf', '0'],
    ...(audio ? ['-c:a', 'aac'] : []),
    ...['-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '1000000'],
    ...['-f', 'mp4', file],
  ]);
}

const typeAt = (data: Buffer, offset: number) => data.toString('latin1', offset + 4, offset + 8);

describe('Fmp4Indexer', () => {
  it.each([
    ['video only', false],
    ['video and audio', true],
  ])('finds the init section and every fragment of a finished file (%s)', async (_name, audio) => {
    const file = join(dir, `whole-${audio}.mp4`);
    record(file, 6, audio);
    const data = readFileSync(file);
    const layout = await new Fmp4Indexer(file).refresh();

    expect(typeAt(data, 0)).toBe('ftyp');
    expect(layout.initLength).not.toBeNull();
    expect(typeAt(data, layout.initLength!)).toBe('moof');
    expect(layout.tracks.map((t) => t.handler)).toEqual(audio ? ['vide', 'soun'] : ['vide']);
    expect(layout.finished).toBe(true);
    // The fragments tile the file from the end of the init section to the mfra trailer.
    let at = layout.initLength!;
    for (const fragment of layout.fragments) {
      expect(fragment.offset).toBe(at);
      expect(typeAt(data, fragment.offset)).toBe('moof');
      expect(fragment.durationSeconds).toBeGreaterThan(0);
      // A fragment is cut once it holds a second: at most one frame (1/15 s) more.
      expect(fragment.durationSeconds).toBeLessThanOrEqual(1 + 1 / 15 + 0.001);
      at += fragment.length;
    }
    expect(typeAt(data, at)).toBe('mfra');
    const total = layout.fragments.reduce((sum, f) => sum + f.durationSeconds, 0);
    const info = await probe(file);
    expect(Math.abs(total - info.durationSeconds)).toBeLessThan(0.1);
    expect(layout.fragments.length).toBeGreaterThanOrEqual(6);
  });

  it('follows a growing file: only complete fragments, the same ones as the whole file has', async () => {
    const source = join(dir, 'source.mp4');
    record(source, 5, false);
    const data = readFileSync(source);
    const whole = await new Fmp4Indexer(source).refresh();

    const growing = join(dir, 'growing.mp4');
    writeFileSync(growing, '');
    const indexer = new Fmp4Indexer(growing);
    expect((await indexer.refresh()).initLength).toBeNull();
    // Append in uneven pieces (as ffmpeg's buffered writes land), checking after each.
    let written = 0;
    for (const step of [10, 700, 900, 5000, 17, 40_000, 3, 25_000, 60_000, 100_000, 1_000_000]) {
      const piece = data.subarray(written, Math.min(data.length, written + step));
      appendFileSync(growing, piece);
      written += piece.length;
      const layout = await indexer.refresh();
      const complete = whole.fragments.filter((f) => f.offset + f.length <= written);
      expect(layout.fragments).toEqual(complete);
      expect(layout.initLength).toBe(written >= whole.initLength! ? whole.initLength : null);
      expect(layout.finished).toBe(written === data.length);
    }
    expect(written).toBe(data.length);
  });

  it('has nothing for a file that does not exist yet', async () => {
    const layout = await new Fmp4Indexer(join(dir, 'nothing.mp4')).refresh();
    expect(layout).toEqual({ initLength: null, tracks: [], fragments: [], finished: false });
  });
});
