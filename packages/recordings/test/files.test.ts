import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { recordingId } from '@eufy-relay/contracts';
import { RecordingFiles, classifyFileName, diskUsage } from '../src';

const ID = 'T8113P0223000002_20250130_143022';
let dir: string;
let files: RecordingFiles;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'eufy-relay-files-'));
  files = new RecordingFiles(dir);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('file names', () => {
  it.each([
    [`${ID}.mp4`, { kind: 'video', id: ID }],
    [`${ID}.jpg`, { kind: 'thumbnail', id: ID }],
    [`.${ID}.jpg.1234-abcd.part`, { kind: 'temp', id: ID, target: 'thumbnail' }],
    [`.${ID}.mp4.1-a.part`, { kind: 'temp', id: ID, target: 'video' }],
    // Not a real date, not our extension, not our shape, traversal: none of them is a recording.
    ['T8113P0223000002_20251341_143022.mp4', { kind: 'other' }],
    [`${ID}.mkv`, { kind: 'other' }],
    [`${ID}.mp4.part`, { kind: 'other' }],
    [`../${ID}.mp4`, { kind: 'other' }],
    [`..%2f${ID}.mp4`, { kind: 'other' }],
    [`${ID}.mp4\0`, { kind: 'other' }],
    ['lost+found', { kind: 'other' }],
  ])('%j is %j', (name, expected) => {
    expect(classifyFileName(name)).toEqual(expected);
  });

  it('maps a URL file name to a path directly inside the directory, and nothing else', () => {
    expect(files.resolve(`${ID}.mp4`)).toEqual({ id: ID, kind: 'video', path: path.join(dir, `${ID}.mp4`) });
    expect(files.resolve(`${ID}.jpg`)?.path).toBe(path.join(dir, `${ID}.jpg`));
    for (const name of [`../${ID}.mp4`, `/etc/${ID}.mp4`, `${ID}`, '', '.', '..', `.${ID}.mp4.1-a.part`]) {
      expect(files.resolve(name)).toBeNull();
    }
    expect(() => files.videoPath('../../etc/passwd')).toThrow(/is not a recording id/);
    expect(() => files.thumbnailPath('x_20250130_143022/..')).toThrow(/is not a recording id/);
  });

  it('gives each writer its own temp name, which classifies as temp and renames onto the final name', async () => {
    const a = files.tempPath(ID, 'thumbnail');
    const b = files.tempPath(ID, 'thumbnail');
    expect(a).not.toBe(b);
    expect(path.dirname(a)).toBe(dir);
    expect(classifyFileName(path.basename(a))).toEqual({ kind: 'temp', id: ID, target: 'thumbnail' });
    await writeFile(a, 'jpeg bytes');
    await rename(a, files.thumbnailPath(ID));
    expect(await readdir(dir)).toEqual([`${ID}.jpg`]);
  });
});

describe('directory', () => {
  it('lists entries with their kind and size, and removes a recording returning the bytes freed', async () => {
    await writeFile(files.videoPath(ID), Buffer.alloc(1000));
    await writeFile(files.thumbnailPath(ID), Buffer.alloc(50));
    await writeFile(path.join(dir, 'notes.txt'), 'not ours');
    const entries = [];
    for await (const e of files.entries()) entries.push(e);
    entries.sort((x, y) => x.name.localeCompare(y.name));
    expect(entries.map((e) => [e.name, e.file.kind, e.bytes])).toEqual([
      ['notes.txt', 'other', 8],
      [`${ID}.jpg`, 'thumbnail', 50],
      [`${ID}.mp4`, 'video', 1000],
    ]);
    expect(await files.size(ID, 'video')).toBe(1000);
    expect(await files.removeRecording(ID)).toBe(1050);
    expect(await files.size(ID, 'video')).toBeNull();
    expect(await files.removeRecording(ID)).toBe(0);
    expect(await readdir(dir)).toEqual(['notes.txt']);
    await expect(files.remove('/etc/hostname')).rejects.toThrow(/is not in/);
  });

  it('lists and removes many recordings at once, counting every byte freed', async () => {
    // More than the file operations kept in flight, so the walk and the removal go in several rounds.
    const unique = Array.from({ length: 150 }, (_, i) =>
      recordingId('T8113P0223000002', Date.UTC(2025, 0, 30) + i * 1000),
    );
    let bytes = 0;
    for (const [i, id] of unique.entries()) {
      await writeFile(files.videoPath(id), Buffer.alloc(100 + i));
      bytes += 100 + i;
      if (i % 3 === 0) {
        await writeFile(files.thumbnailPath(id), Buffer.alloc(7));
        bytes += 7;
      }
    }
    const listed = new Map<string, number>();
    for await (const e of files.entries()) listed.set(e.name, e.bytes);
    expect(listed.size).toBe(150 + 50);
    expect([...listed.values()].reduce((a, b) => a + b, 0)).toBe(bytes);
    expect(await files.removeRecordings(unique)).toBe(bytes);
    expect(await readdir(dir)).toEqual([]);
    expect(await files.removeRecordings(unique)).toBe(0);
  });

  it('lists names without sizes, stats a listed name on demand, and skips thumbnails the caller saw none of', async () => {
    await writeFile(files.videoPath(ID), Buffer.alloc(300));
    await writeFile(files.thumbnailPath(ID), Buffer.alloc(20));
    const names = [];
    for await (const n of files.names()) names.push(n);
    names.sort((x, y) => x.name.localeCompare(y.name));
    expect(names).toEqual([
      { name: `${ID}.jpg`, file: { kind: 'thumbnail', id: ID } },
      { name: `${ID}.mp4`, file: { kind: 'video', id: ID } },
    ]);
    expect(await files.stat(names[1]!)).toMatchObject({ name: `${ID}.mp4`, bytes: 300 });
    // Told there is no thumbnail, only the video goes (a janitor run removes the orphan later).
    expect(await files.removeRecordings([ID], () => ({ thumbnail: false }))).toBe(300);
    expect(await readdir(dir)).toEqual([`${ID}.jpg`]);
    // Given the size the index has, the video goes without a stat; one already gone frees nothing.
    await writeFile(files.videoPath(ID), Buffer.alloc(300));
    expect(await files.removeRecording(ID, { thumbnail: false, videoBytes: 300 })).toBe(300);
    expect(await files.removeRecording(ID, { thumbnail: false, videoBytes: 300 })).toBe(0);
    // A name listed before it vanished: null, not an error.
    expect(await files.stat(names[1]!)).toBeNull();
  });

  it('reports the disk usage df reports for the same file system', async () => {
    const usage = await diskUsage(dir);
    const [size, used, avail] = execFileSync('df', ['-B1', '--output=size,used,avail', dir], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')[1]!
      .trim()
      .split(/\s+/)
      .map(Number);
    expect(usage.total).toBe(size);
    // Other processes write to the same disk between the two readings: allow a little drift.
    expect(Math.abs(usage.used - used!)).toBeLessThan(64 * 1024 * 1024);
    expect(Math.abs(usage.free - avail!)).toBeLessThan(64 * 1024 * 1024);
    expect(await files.diskUsage()).toMatchObject({ total: usage.total });
  });
});
