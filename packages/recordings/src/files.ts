import { randomBytes } from 'node:crypto';
import { unlink as unlinkCallback } from 'node:fs';
import { opendir, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseRecordingId } from '@eufy-relay/contracts';
import { thumbnailFileName, videoFileName } from './record';

export type RecordingFileKind = 'video' | 'thumbnail';
const EXTENSIONS: Record<RecordingFileKind, string> = { video: 'mp4', thumbnail: 'jpg' };

/**
 * What a name in RECORDINGS_DIR is:
 * - `{id}.mp4` / `{id}.jpg`: a recording's video / thumbnail (the only names the api serves);
 * - `.{id}.{mp4|jpg}.{writer}.part`: a file being written, renamed onto its final name when complete;
 *   left behind only by a writer that died, so the janitor removes it once it stops changing;
 * - either of the above with `.partial` appended: ffmpeg's thumbnail output before its own rename
 *   (media's extractThumbnail), a temp file like the others;
 * - anything else is not ours and is left alone.
 */
export type RecordingFileName =
  | { kind: RecordingFileKind; id: string }
  | { kind: 'temp'; id: string; target: RecordingFileKind }
  | { kind: 'other' };

// The id part is checked by parseRecordingId (pattern and a real UTC date), not by these.
const RECORDING_FILE = /^([A-Za-z0-9_]+)\.(mp4|jpg)$/;
const TEMP_FILE = /^\.([A-Za-z0-9_]+)\.(mp4|jpg)\.[A-Za-z0-9-]{1,64}\.part$/;
/**
 * File system calls the directory walk and bulk removals keep in flight: enough to keep libuv's
 * thread pool (4 threads by default) busy, few enough not to starve other work waiting on it.
 */
const FILE_OPERATIONS_AT_ONCE = 32;
/**
 * fs.unlink's callback form, promisified: about a fifth less CPU per call than fs/promises' unlink
 * (measured over 20 000 unlinks, 16 at a time), which counts when a janitor run unlinks tens of thousands.
 */
const unlink = promisify(unlinkCallback);
const PARTIAL = '.partial';
const kindOf = (ext: string): RecordingFileKind => (ext === 'mp4' ? 'video' : 'thumbnail');

export function classifyFileName(name: string): RecordingFileName {
  if (name.endsWith(PARTIAL)) {
    const written = classifyFileName(name.slice(0, -PARTIAL.length));
    if (written.kind === 'other') return written;
    return { kind: 'temp', id: written.id, target: written.kind === 'temp' ? written.target : written.kind };
  }
  const final = RECORDING_FILE.exec(name);
  if (final && parseRecordingId(final[1]!)) return { kind: kindOf(final[2]!), id: final[1]! };
  const temp = TEMP_FILE.exec(name);
  if (temp && parseRecordingId(temp[1]!)) return { kind: 'temp', id: temp[1]!, target: kindOf(temp[2]!) };
  return { kind: 'other' };
}

export interface DiskUsage {
  /** Bytes of the file system holding the directory. */
  total: number;
  used: number;
  /** Available to this (unprivileged) process: what a recorder can still write. */
  free: number;
}

/** fs.statfs of the file system that holds `dir`. */
export async function diskUsage(dir: string): Promise<DiskUsage> {
  const s = await statfs(dir);
  return {
    total: s.blocks * s.bsize,
    used: (s.blocks - s.bfree) * s.bsize,
    free: s.bavail * s.bsize,
  };
}

/** A name in RECORDINGS_DIR as listed, before any stat. */
export interface DirectoryName {
  name: string;
  file: RecordingFileName;
}

export interface RemoveRecordingOptions {
  /** false: the caller knows there is no thumbnail (its stat is skipped). */
  thumbnail?: boolean;
  /** The video's size as the index has it: unlinked without a stat. */
  videoBytes?: number;
}

export interface DirectoryEntry extends DirectoryName {
  bytes: number;
  mtimeMs: number;
}

/**
 * The on-disk layout of RECORDINGS_DIR: flat, `{id}.mp4` and `{id}.jpg`, so a URL maps to a file by
 * id alone. Every path this hands out is checked to lie directly inside the directory.
 */
export class RecordingFiles {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  videoPath(id: string): string {
    return this.inside(id, videoFileName(id));
  }

  thumbnailPath(id: string): string {
    return this.inside(id, thumbnailFileName(id));
  }

  pathOf(id: string, kind: RecordingFileKind): string {
    return kind === 'video' ? this.videoPath(id) : this.thumbnailPath(id);
  }

  /**
   * A URL's file name (`{id}.mp4`, `{id}.jpg`) → the recording and its path; null for any other
   * name, so traversal, encoded slashes and odd names never reach the file system.
   */
  resolve(name: string): { id: string; kind: RecordingFileKind; path: string } | null {
    const file = classifyFileName(name);
    if (file.kind !== 'video' && file.kind !== 'thumbnail') return null;
    return { id: file.id, kind: file.kind, path: this.pathOf(file.id, file.kind) };
  }

  /**
   * A fresh temporary name for writing `{id}.{ext}`; rename it onto pathOf(id, kind) when complete
   * (rename is atomic within the directory, so readers see the old file or the whole new one).
   */
  tempPath(id: string, kind: RecordingFileKind): string {
    const writer = `${process.pid}-${randomBytes(4).toString('hex')}`;
    return this.inside(id, `.${id}.${EXTENSIONS[kind]}.${writer}.part`);
  }

  /**
   * A video file name read back from Redis (a session's segment or merge) → its path, but only when
   * it is one of this recording's own video names, `{id}.mp4` or `.{id}.mp4.{writer}.part`, directly
   * in the directory; null for anything else, so a corrupted or forged entry never reaches a
   * rename or delete.
   */
  ownVideoPath(id: string, name: string): string | null {
    const file = classifyFileName(name);
    const ours =
      file.kind !== 'other' &&
      file.id === id &&
      !name.endsWith(PARTIAL) &&
      (file.kind === 'video' || (file.kind === 'temp' && file.target === 'video'));
    return ours ? this.inside(id, name) : null;
  }

  /**
   * Every file name of the directory with what it is, read as a stream (the directory can hold many
   * thousands) and without a stat: a caller that needs sizes or ages of only some files stats those.
   */
  async *names(): AsyncGenerator<DirectoryName> {
    // Entries read per call into the thread pool (32 by default: thousands of calls for a big archive).
    for await (const dirent of await opendir(this.dir, { bufferSize: 1024 })) {
      if (dirent.isFile()) yield { name: dirent.name, file: classifyFileName(dirent.name) };
    }
  }

  /** names() with each file's size and age, stat-ed FILE_OPERATIONS_AT_ONCE at a time so the thread pool works in parallel. */
  async *entries(): AsyncGenerator<DirectoryEntry> {
    let batch: DirectoryName[] = [];
    const statAll = async () => {
      const found = await Promise.all(batch.map((named) => this.stat(named)));
      batch = [];
      return found.filter((entry): entry is DirectoryEntry => entry !== null);
    };
    for await (const named of this.names()) {
      batch.push(named);
      if (batch.length === FILE_OPERATIONS_AT_ONCE) yield* await statAll();
    }
    yield* await statAll();
  }

  /** A listed name with its size and age now; null when it is gone since it was listed. */
  async stat(named: DirectoryName): Promise<DirectoryEntry | null> {
    const info = await stat(path.join(this.dir, named.name)).catch(ignoreMissing);
    return info ? { ...named, bytes: info.size, mtimeMs: info.mtimeMs } : null;
  }

  /** Size of a recording's file, or null when it does not exist. */
  async size(id: string, kind: RecordingFileKind): Promise<number | null> {
    const info = await stat(this.pathOf(id, kind)).catch(ignoreMissing);
    return info ? info.size : null;
  }

  /**
   * Removes a file if it is there; returns the bytes it held (0 when it was already gone). With
   * `knownBytes` (its size as the index has it) the file is unlinked without a stat first.
   */
  async remove(filePath: string, knownBytes?: number): Promise<number> {
    if (path.dirname(path.resolve(filePath)) !== this.dir)
      throw new Error(`${filePath} is not in ${this.dir}`);
    const bytes = knownBytes ?? (await stat(filePath).catch(ignoreMissing))?.size;
    if (bytes === undefined) return 0;
    const unlinked = await unlink(filePath).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        ignoreMissing(err);
        return false;
      },
    );
    // Gone since the stat: it held those bytes until then. Without a stat: it held none.
    return unlinked || knownBytes === undefined ? bytes : 0;
  }

  /**
   * Removes a recording's video and thumbnail; returns the bytes freed. `thumbnail: false` skips
   * the thumbnail's stat for a caller that listed the directory and saw none (a janitor run: one it
   * missed is an orphan thumbnail, removed by a later run). `videoBytes`: the video's size as the
   * index has it, so the video is unlinked without a stat.
   */
  async removeRecording(id: string, options: RemoveRecordingOptions = {}): Promise<number> {
    const [video, thumbnail] = await Promise.all([
      this.remove(this.videoPath(id), options.videoBytes),
      options.thumbnail === false ? 0 : this.remove(this.thumbnailPath(id)),
    ]);
    return video + thumbnail;
  }

  /**
   * removeRecording of many recordings, FILE_OPERATIONS_AT_ONCE files at a time (one after the
   * other, a file system call waits for the one before; all at once, thousands queue in the pool).
   * `options` gives removeRecording's options per recording.
   */
  async removeRecordings(
    ids: readonly string[],
    options: (id: string) => RemoveRecordingOptions = () => ({}),
  ): Promise<number> {
    let next = 0;
    let freed = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const bytes = await this.removeRecording(id, options(id));
        freed += bytes; // after the await: `freed += await …` would add to a stale total
      }
    };
    await Promise.all(Array.from({ length: Math.min(FILE_OPERATIONS_AT_ONCE / 2, ids.length) }, worker));
    return freed;
  }

  diskUsage(): Promise<DiskUsage> {
    return diskUsage(this.dir);
  }

  private inside(id: string, name: string): string {
    if (!parseRecordingId(id)) throw new Error(`${JSON.stringify(id)} is not a recording id`);
    const full = path.join(this.dir, name);
    if (path.dirname(full) !== this.dir)
      throw new Error(`${JSON.stringify(name)} is not a file name in ${this.dir}`);
    return full;
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}
