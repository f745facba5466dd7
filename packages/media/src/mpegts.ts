import type { AccessUnit, VideoCodec } from './annexb';
import { SlabPool } from './slab';

/**
 * A minimal MPEG-TS muxer (ISO/IEC 13818-1) for one H.264 or H.265 stream: what ffmpeg needs to
 * read access units together with their own timestamps. A pipe of raw Annex-B carries no time
 * (ffmpeg stamps each frame as it reads it), which is right for frames written as they arrive but
 * wrong for a pre-motion buffer written at once: its seconds of video would collapse into an
 * instant. Each access unit becomes one PES packet stamped with its arrival on the wall clock.
 */

const PACKET = 188;
const PAYLOAD = PACKET - 4;
const PMT_PID = 0x1000;
const VIDEO_PID = 0x100;
/** 90 kHz, the PES clock. */
const TICKS_PER_MS = 90;
/** The first unit's timestamp: room for ffmpeg's PCR to sit just before it. */
const FIRST_PTS = 90_000;

const STREAM_TYPE: Record<VideoCodec, number> = { h264: 0x1b, h265: 0x24 };

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n << 24;
  for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
  return c >>> 0;
});

/** CRC-32/MPEG-2 of a PSI section. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc;
}

/** Muxed units live only until ffmpeg has read them, so a slab is soon free. */
const slabs = new SlabPool();

/** The PES header before each access unit: video stream, unbounded length, PTS only. */
const PES_HEADER_BYTES = 14;
/** The adaptation field of a unit's first packet: flags and the clock (PCR). */
const PCR_FIELD_BYTES = 8;

export class MpegTsMuxer {
  private readonly counters = new Map<number, number>();
  private readonly pat: Buffer;
  private readonly pmt: Buffer;
  private base: number | undefined;

  constructor(readonly codec: VideoCodec) {
    this.pat = section(0x00, 1, [0, 1, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff]);
    const stream = [STREAM_TYPE[codec], 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0];
    this.pmt = section(0x02, 1, [0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0, ...stream]);
  }

  /**
   * One access unit as TS packets; `at` is its wall clock (ms). Timestamps count from the first
   * unit written, so a muxer belongs to one output. Program tables go before every keyframe. The
   * packets are written straight into one Buffer sized for them (a 1080p frame is ~100 packets),
   * meant to be written to ffmpeg and let go (it shares its memory with other units).
   */
  unit(unit: AccessUnit, at: number): Buffer {
    this.base ??= at;
    const pts = FIRST_PTS + Math.max(0, Math.round((at - this.base) * TICKS_PER_MS));
    const data = unit.data;
    const pesBytes = PES_HEADER_BYTES + data.length;
    // The first packet carries the PES header and the clock; the rest carry 184 bytes each.
    const firstTake = Math.min(PAYLOAD - PCR_FIELD_BYTES, pesBytes);
    const tables = unit.keyframe ? 2 : 0;
    const count = tables + 1 + Math.ceil((pesBytes - firstTake) / PAYLOAD);
    const out = slabs.cut(count * PACKET);
    let pos = 0;
    if (unit.keyframe) {
      pos = this.packet(out, pos, 0, true, 0, this.pat);
      pos = this.packet(out, pos, PMT_PID, true, 0, this.pmt);
    }
    // First packet: adaptation field with the PCR (and the random access flag on a keyframe).
    let payloadAt = this.header(out, pos, VIDEO_PID, true, PAYLOAD - firstTake);
    out[pos + 5] = 0x10 | (unit.keyframe ? 0x40 : 0);
    // 33-bit base, 6 reserved bits, 9-bit extension (0).
    const pcr = pts - FIRST_PTS / 2;
    out.writeUInt32BE(Math.floor(pcr / 2) >>> 0, pos + 6);
    out[pos + 10] = ((pcr & 1) << 7) | 0x7e;
    out[pos + 11] = 0;
    out.set(PES_START, payloadAt);
    writeTimestamp(out, payloadAt + 9, 0x20, pts);
    payloadAt += PES_HEADER_BYTES;
    let offset = firstTake - PES_HEADER_BYTES;
    data.copy(out, payloadAt, 0, offset);
    pos += PACKET;
    while (offset < data.length) {
      const take = Math.min(PAYLOAD, data.length - offset);
      data.copy(out, this.header(out, pos, VIDEO_PID, false, PAYLOAD - take), offset, offset + take);
      offset += take;
      pos += PACKET;
    }
    return out;
  }

  /**
   * Writes a packet's 4-byte header at `pos`, and an adaptation field filling `room` bytes (0: none)
   * whose bytes past its flags are 0xff stuffing; returns where the payload goes. A PES payload must
   * reach the end of its packet: what it leaves free is adaptation-field stuffing. Each PID counts
   * its packets (continuity).
   */
  private header(out: Buffer, pos: number, pid: number, start: boolean, room: number): number {
    const counter = this.counters.get(pid) ?? 0;
    this.counters.set(pid, (counter + 1) & 0x0f);
    out[pos] = 0x47;
    out[pos + 1] = (start ? 0x40 : 0) | (pid >> 8);
    out[pos + 2] = pid & 0xff;
    out[pos + 3] = (room > 0 ? 0x30 : 0x10) | counter;
    if (room > 0) {
      // One byte of room: an adaptation field of length 0; more: a flags byte and stuffing.
      out[pos + 4] = room - 1;
      if (room > 1) {
        out[pos + 5] = 0;
        out.fill(0xff, pos + 6, pos + 4 + room);
      }
    }
    return pos + 4 + room;
  }

  /** One packet of a PSI table at `pos`, 0xff after it (a table ends with 0xff stuffing); returns the next position. */
  private packet(
    out: Buffer,
    pos: number,
    pid: number,
    start: boolean,
    room: number,
    payload: Buffer,
  ): number {
    const at = this.header(out, pos, pid, start, room);
    payload.copy(out, at);
    out.fill(0xff, at + payload.length, pos + PACKET);
    return pos + PACKET;
  }
}

/** The fixed start of every PES header (its PTS follows at byte 9). */
const PES_START = Buffer.from([0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5]);

/** A PSI table's packet payload: pointer field 0, table id, the id field, version 0, current, section 0 of 0, body, CRC. */
function section(tableId: number, id: number, body: number[]): Buffer {
  const length = 5 + body.length + 4;
  const table = Buffer.from([
    tableId,
    0xb0 | (length >> 8),
    length & 0xff,
    id >> 8,
    id & 0xff,
    0xc1,
    0,
    0,
    ...body,
  ]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(table));
  return Buffer.concat([Buffer.from([0]), table, crc]);
}

/** A PES timestamp: 4-bit prefix, 33 bits in three parts, marker bits. */
function writeTimestamp(into: Buffer, at: number, prefix: number, ts: number): void {
  const high = Math.floor(ts / 2 ** 30) & 0x07;
  const mid = Math.floor(ts / 2 ** 15) & 0x7fff;
  const low = ts & 0x7fff;
  into[at] = prefix | (high << 1) | 1;
  into[at + 1] = mid >> 7;
  into[at + 2] = ((mid & 0x7f) << 1) | 1;
  into[at + 3] = low >> 7;
  into[at + 4] = ((low & 0x7f) << 1) | 1;
}
