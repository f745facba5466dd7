import { open, type FileHandle } from 'node:fs/promises';

/**
 * Fragmented MP4 as ffmpeg writes our recordings (`empty_moov` + `default_base_moof`): `ftyp` and
 * `moov` (the init section), then one `moof` + `mdat` pair per fragment, and an `mfra` trailer once
 * ffmpeg ends. Only what live playback needs is read: where each fragment starts and ends, and how
 * long its video lasts, so that an HLS playlist can address the fragments of the very file being
 * written (EXT-X-MAP + EXT-X-BYTERANGE) and a follower knows when the first playable fragment exists.
 */

export interface Fmp4Track {
  id: number;
  /** `vide`, `soun`, … (the hdlr box's handler type). */
  handler: string;
  timescale: number;
  /** trex's default sample duration, used when a fragment states none. */
  defaultSampleDuration: number;
}

export interface Fmp4Fragment {
  /** Offset of the moof box. */
  offset: number;
  /** Bytes from the moof box to the end of its mdat. */
  length: number;
  /** Length of the video in it (the first video track; else the first track), in seconds. */
  durationSeconds: number;
}

export interface Fmp4Layout {
  /** End of the init section (ftyp + moov); null until the moov box is complete. */
  initLength: number | null;
  tracks: Fmp4Track[];
  /** Complete fragments (moof and its mdat both fully written), in file order. */
  fragments: Fmp4Fragment[];
  /** The `mfra` box ffmpeg writes when it ends the file has been seen. */
  finished: boolean;
}

interface BoxHeader {
  type: string;
  /** Header size (8, or 16 with a 64-bit size). */
  headerSize: number;
  /** Whole box size; Infinity for a box that runs to the end of the file (size 0). */
  size: number;
}

/** The header of the box at `at` in `buf`, or null when the header is not all there. */
function boxHeader(buf: Buffer, at: number): BoxHeader | null {
  if (at + 8 > buf.length) return null;
  const size32 = buf.readUInt32BE(at);
  const type = buf.toString('latin1', at + 4, at + 8);
  if (size32 === 1) {
    if (at + 16 > buf.length) return null;
    return { type, headerSize: 16, size: Number(buf.readBigUInt64BE(at + 8)) };
  }
  return { type, headerSize: 8, size: size32 === 0 ? Infinity : size32 };
}

/** The child boxes of a container's payload `buf[start, end)`. */
function* children(
  buf: Buffer,
  start: number,
  end: number,
): Generator<{ type: string; start: number; end: number }> {
  let at = start;
  while (at + 8 <= end) {
    const header = boxHeader(buf, at);
    if (!header || header.size < header.headerSize) return;
    const boxEnd = Math.min(end, at + header.size);
    yield { type: header.type, start: at + header.headerSize, end: boxEnd };
    at = boxEnd;
  }
}

function child(buf: Buffer, start: number, end: number, type: string) {
  for (const box of children(buf, start, end)) if (box.type === type) return box;
  return undefined;
}

/** The tracks an init section (`moov` payload) declares. */
export function parseMoov(moov: Buffer): Fmp4Track[] {
  const defaults = new Map<number, number>();
  const mvex = child(moov, 0, moov.length, 'mvex');
  if (mvex) {
    for (const box of children(moov, mvex.start, mvex.end)) {
      if (box.type !== 'trex' || box.end - box.start < 24) continue;
      defaults.set(moov.readUInt32BE(box.start + 4), moov.readUInt32BE(box.start + 12));
    }
  }
  const tracks: Fmp4Track[] = [];
  for (const trak of children(moov, 0, moov.length)) {
    if (trak.type !== 'trak') continue;
    const tkhd = child(moov, trak.start, trak.end, 'tkhd');
    const mdia = child(moov, trak.start, trak.end, 'mdia');
    if (!tkhd || !mdia) continue;
    const mdhd = child(moov, mdia.start, mdia.end, 'mdhd');
    const hdlr = child(moov, mdia.start, mdia.end, 'hdlr');
    if (!mdhd || !hdlr) continue;
    const id = moov.readUInt32BE(tkhd.start + (moov[tkhd.start] === 1 ? 20 : 12));
    const timescale = moov.readUInt32BE(mdhd.start + (moov[mdhd.start] === 1 ? 20 : 12));
    const handler = moov.toString('latin1', hdlr.start + 8, hdlr.start + 12);
    tracks.push({ id, handler, timescale, defaultSampleDuration: defaults.get(id) ?? 0 });
  }
  return tracks;
}

/** The track whose time a fragment's length is measured in: video if there is one. */
function timingTrack(tracks: readonly Fmp4Track[]): Fmp4Track | undefined {
  return tracks.find((t) => t.handler === 'vide') ?? tracks[0];
}

/** Seconds of `track` in a fragment (`moof` payload): the sum of its samples' durations. */
export function moofDurationSeconds(moof: Buffer, track: Fmp4Track): number {
  let ticks = 0;
  for (const traf of children(moof, 0, moof.length)) {
    if (traf.type !== 'traf') continue;
    const tfhd = child(moof, traf.start, traf.end, 'tfhd');
    if (!tfhd || moof.readUInt32BE(tfhd.start + 4) !== track.id) continue;
    const tfhdFlags = moof.readUInt32BE(tfhd.start) & 0xffffff;
    let defaultDuration = track.defaultSampleDuration;
    if (tfhdFlags & 0x08) {
      // base_data_offset (0x01, 8 bytes) and sample_description_index (0x02, 4 bytes) come first.
      const at = tfhd.start + 8 + (tfhdFlags & 0x01 ? 8 : 0) + (tfhdFlags & 0x02 ? 4 : 0);
      defaultDuration = moof.readUInt32BE(at);
    }
    for (const trun of children(moof, traf.start, traf.end)) {
      if (trun.type !== 'trun') continue;
      const flags = moof.readUInt32BE(trun.start) & 0xffffff;
      const count = moof.readUInt32BE(trun.start + 4);
      if (!(flags & 0x100)) {
        ticks += count * defaultDuration;
        continue;
      }
      let at = trun.start + 8 + (flags & 0x01 ? 4 : 0) + (flags & 0x04 ? 4 : 0);
      const stride = 4 * [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length;
      for (let i = 0; i < count && at + 4 <= trun.end; i++, at += stride) ticks += moof.readUInt32BE(at);
    }
  }
  return track.timescale > 0 ? ticks / track.timescale : 0;
}

/** Bytes read at each box: its header, and the whole of a typical moof (a few hundred bytes). */
const READ_AHEAD = 4096;

/**
 * The layout of one fragmented MP4 file, kept up to date as the file grows: each `refresh` reads only
 * the box headers (and moof boxes) past what it has already seen, so following a recording costs a
 * few small reads per new fragment, never a scan of the whole file.
 */
export class Fmp4Indexer {
  private readonly layout: Fmp4Layout = { initLength: null, tracks: [], fragments: [], finished: false };
  /** Where the next unread box starts. */
  private next = 0;
  private pendingMoof: { offset: number; durationSeconds: number } | undefined;

  constructor(readonly file: string) {}

  get current(): Readonly<Fmp4Layout> {
    return this.layout;
  }

  /** Reads what was appended to the file since the last call; returns the layout. */
  async refresh(): Promise<Readonly<Fmp4Layout>> {
    let handle: FileHandle;
    try {
      handle = await open(this.file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.layout;
      throw err;
    }
    try {
      const { size } = await handle.stat();
      await this.scan(handle, size);
    } finally {
      await handle.close();
    }
    return this.layout;
  }

  private async scan(handle: FileHandle, size: number): Promise<void> {
    while (this.next + 8 <= size && !this.layout.finished) {
      const head = await read(handle, this.next, Math.min(READ_AHEAD, size - this.next));
      const header = boxHeader(head, 0);
      if (!header) return;
      if (header.size === Infinity || header.size < header.headerSize) {
        throw new Error(
          `${this.file}: unsupported box ${header.type} of size ${header.size} at ${this.next}`,
        );
      }
      const end = this.next + header.size;
      if (end > size) return; // the box is still being written
      const payload = async () =>
        header.size <= head.length
          ? head.subarray(header.headerSize, header.size)
          : read(handle, this.next + header.headerSize, header.size - header.headerSize);
      switch (header.type) {
        case 'moov':
          this.layout.tracks = parseMoov(await payload());
          this.layout.initLength = end;
          break;
        case 'moof': {
          const track = timingTrack(this.layout.tracks);
          const durationSeconds = track ? moofDurationSeconds(await payload(), track) : 0;
          this.pendingMoof = { offset: this.next, durationSeconds };
          break;
        }
        case 'mdat':
          if (this.pendingMoof) {
            const { offset, durationSeconds } = this.pendingMoof;
            this.layout.fragments.push({ offset, length: end - offset, durationSeconds });
            this.pendingMoof = undefined;
          }
          break;
        case 'mfra':
          this.layout.finished = true;
          break;
        default:
          break;
      }
      this.next = end;
    }
  }
}

async function read(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  const { bytesRead } = await handle.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}
