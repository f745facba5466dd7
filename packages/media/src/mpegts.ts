import type { AccessUnit, VideoCodec } from './annexb';

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

export class MpegTsMuxer {
  private readonly counters = new Map<number, number>();
  private base: number | undefined;

  constructor(readonly codec: VideoCodec) {}

  /**
   * One access unit as TS packets; `at` is its wall clock (ms). Timestamps count from the first
   * unit written, so a muxer belongs to one output. Program tables go before every keyframe.
   */
  unit(unit: AccessUnit, at: number): Buffer {
    this.base ??= at;
    const pts = FIRST_PTS + Math.max(0, Math.round((at - this.base) * TICKS_PER_MS));
    const header = Buffer.alloc(14);
    header.set([0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5]); // video stream, unbounded length, PTS only
    writeTimestamp(header, 9, 0x20, pts);
    const pes = Buffer.concat([header, unit.data]);
    const packets: Buffer[] = unit.keyframe ? [this.pat(), this.pmt()] : [];
    for (let offset = 0; offset < pes.length;) {
      const first = offset === 0;
      // The first packet carries the clock (PCR) and, on a keyframe, the random access flag.
      let adaptation = first ? adaptationField(unit.keyframe, pts - FIRST_PTS / 2) : Buffer.alloc(0);
      const take = Math.min(PAYLOAD - adaptation.length, pes.length - offset);
      // A PES payload must reach the end of its packet: the room left is adaptation-field stuffing.
      const room = PAYLOAD - adaptation.length - take;
      if (room > 0) adaptation = padAdaptation(adaptation, room);
      packets.push(this.packet(VIDEO_PID, first, adaptation, pes.subarray(offset, offset + take)));
      offset += take;
    }
    return Buffer.concat(packets);
  }

  private pat(): Buffer {
    return this.section(0, 0x00, 1, [0, 1, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff]);
  }

  private pmt(): Buffer {
    const stream = [STREAM_TYPE[this.codec], 0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0];
    return this.section(PMT_PID, 0x02, 1, [0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0xf0, 0, ...stream]);
  }

  /** A PSI table in one packet: table id, the id field, version 0, current, section 0 of 0, body, CRC. */
  private section(pid: number, tableId: number, id: number, body: number[]): Buffer {
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
    const payload = Buffer.concat([Buffer.from([0]), table, crc]); // pointer_field 0
    // A table ends with 0xff stuffing after its CRC (the packet is filled with 0xff).
    return this.packet(pid, true, Buffer.alloc(0), payload);
  }

  /** One 188-byte packet, 0xff after the payload; each PID counts its packets (continuity). */
  private packet(pid: number, start: boolean, field: Buffer, payload: Buffer): Buffer {
    const counter = this.counters.get(pid) ?? 0;
    this.counters.set(pid, (counter + 1) & 0x0f);
    const packet = Buffer.alloc(PACKET, 0xff);
    packet[0] = 0x47;
    packet[1] = (start ? 0x40 : 0) | (pid >> 8);
    packet[2] = pid & 0xff;
    packet[3] = (field.length > 0 ? 0x30 : 0x10) | counter;
    field.copy(packet, 4);
    payload.copy(packet, 4 + field.length);
    return packet;
  }
}

/** An adaptation field with a PCR, and the random access indicator on a keyframe. */
function adaptationField(keyframe: boolean, pcr: number): Buffer {
  const field = Buffer.alloc(8);
  field[0] = 7;
  field[1] = 0x10 | (keyframe ? 0x40 : 0);
  // 33-bit base, 6 reserved bits, 9-bit extension (0).
  field.writeUInt32BE(Math.floor(pcr / 2) >>> 0, 2);
  field[6] = ((pcr & 1) << 7) | 0x7e;
  field[7] = 0;
  return field;
}

/** `field` (possibly empty) grown by `extra` bytes of stuffing. */
function padAdaptation(field: Buffer, extra: number): Buffer {
  if (field.length === 0) {
    // One byte of room: an adaptation field of length 0; more: a flags byte and 0xff stuffing.
    if (extra === 1) return Buffer.from([0]);
    const padded = Buffer.alloc(extra, 0xff);
    padded[0] = extra - 1;
    padded[1] = 0;
    return padded;
  }
  const padded = Buffer.alloc(field.length + extra, 0xff);
  field.copy(padded);
  padded[0] = field.length - 1 + extra;
  return padded;
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
