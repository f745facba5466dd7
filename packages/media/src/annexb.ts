/**
 * Annex-B (ITU-T H.264 / H.265 byte stream) parsing: arbitrary chunks in, whole access units out.
 *
 * Eufy's livestream events normally carry one whole frame each, but frames can arrive split across
 * events, several per event, garbled, or a stream can be joined mid-GOP. The recorder must only hand
 * ffmpeg whole access units and must know which of them are keyframes, so it can start (and resume)
 * a file on one.
 */

export type VideoCodec = 'h264' | 'h265';

const START_CODE = Buffer.from([0, 0, 1]);
/** Every NAL unit an access unit emits is prefixed by a 4-byte start code (allowed anywhere). */
const EMITTED_START_CODE = Buffer.from([0, 0, 0, 1]);

/** The codec named by eufy-security-ws `metadata.videoCodec` ("H264", "H265"; "UNKNOWN" is refused). */
export function codecFromMetadata(videoCodec: unknown): VideoCodec {
  if (videoCodec === 'H264') return 'h264';
  if (videoCodec === 'H265') return 'h265';
  throw new Error(`unsupported video codec ${JSON.stringify(videoCodec)}: expected "H264" or "H265"`);
}

/** What one NAL unit is, read from its header (the bytes right after the start code). */
export interface NalInfo {
  type: number;
  /** A coded slice (VCL NAL unit). */
  vcl: boolean;
  /** A slice that begins a new picture (H.264 first_mb_in_slice == 0, H.265 first_slice_segment_in_pic_flag). */
  firstSliceOfPicture: boolean;
  /** A random access point a decoder can start from (H.264 IDR, H.265 IRAP). */
  keyframe: boolean;
  /** A NAL unit that, after a coded picture, begins the next access unit (SPS, PPS, AUD, SEI, …). */
  startsAccessUnit: boolean;
  parameterSet: ParameterSetKind | undefined;
}

export type ParameterSetKind = 'vps' | 'sps' | 'pps';

/** The parameter sets a decoder needs before the first keyframe, per codec. */
export const REQUIRED_PARAMETER_SETS: Record<VideoCodec, readonly ParameterSetKind[]> = {
  h264: ['sps', 'pps'],
  h265: ['vps', 'sps', 'pps'],
};

/** Header of an H.264 NAL unit (7.3.1), or undefined when it cannot be one (garbage). */
function h264Nal(nal: Buffer): NalInfo | undefined {
  const header = nal[0];
  if (header === undefined || header & 0x80) return undefined; // forbidden_zero_bit
  const type = header & 0x1f;
  // 0 and 24..31 are unspecified (RTP aggregation/fragmentation units): never in a camera's byte stream.
  if (type === 0 || type >= 24) return undefined;
  const vcl = type >= 1 && type <= 5;
  return {
    type,
    vcl,
    // first_mb_in_slice is ue(v); its value is 0 exactly when the first bit is 1.
    firstSliceOfPicture: vcl && nal.length > 1 && (nal[1]! & 0x80) !== 0,
    keyframe: type === 5,
    startsAccessUnit: (type >= 6 && type <= 9) || (type >= 14 && type <= 18),
    parameterSet: type === 7 ? 'sps' : type === 8 ? 'pps' : undefined,
  };
}

/** Header of an H.265 NAL unit (7.3.1.2), or undefined when it cannot be one (garbage). */
function h265Nal(nal: Buffer): NalInfo | undefined {
  const [first, second] = nal;
  if (first === undefined || second === undefined || first & 0x80) return undefined;
  if ((second & 0x07) === 0) return undefined; // nuh_temporal_id_plus1 must not be 0
  const type = (first >> 1) & 0x3f;
  if (type >= 48) return undefined; // unspecified (RTP aggregation/fragmentation units)
  const vcl = type <= 31;
  return {
    type,
    vcl,
    firstSliceOfPicture: vcl && nal.length > 2 && (nal[2]! & 0x80) !== 0,
    keyframe: type >= 16 && type <= 21,
    // VPS, SPS, PPS, AUD, prefix SEI and the reserved 41..44 begin an access unit (7.4.2.4.4).
    startsAccessUnit: (type >= 32 && type <= 35) || type === 39 || (type >= 41 && type <= 44),
    parameterSet: type === 32 ? 'vps' : type === 33 ? 'sps' : type === 34 ? 'pps' : undefined,
  };
}

export function nalInfo(codec: VideoCodec, nal: Buffer): NalInfo | undefined {
  return codec === 'h264' ? h264Nal(nal) : h265Nal(nal);
}

/** One coded picture with everything that belongs to it, ready to be written to ffmpeg. */
export interface AccessUnit {
  codec: VideoCodec;
  keyframe: boolean;
  /** Annex-B bytes: each NAL unit behind a 4-byte start code. */
  data: Buffer;
  /** The NAL units without start codes (views into `data`), in stream order. */
  nalUnits: Buffer[];
  nalTypes: number[];
  /** Which parameter sets this access unit carries itself. */
  parameterSets: ParameterSetKind[];
}

export type ParameterSets = Partial<Record<ParameterSetKind, Buffer>>;

export interface ParserStats {
  /**
   * Bytes that ended up in no access unit: before the first start code, invalid NAL units, units
   * longer than the bound, parameter sets with no picture after them, and what `reset()` discarded.
   */
  droppedBytes: number;
  /** NAL units dropped because their header cannot be a valid one for the codec. */
  invalidNalUnits: number;
  accessUnits: number;
  keyframes: number;
}

export interface AnnexBParserOptions {
  /**
   * A NAL unit or access unit that grows beyond this many bytes without ending is dropped (and counted
   * as garbage) so a stream without start codes cannot make the parser buffer without bound.
   */
  maxAccessUnitBytes?: number;
}

export function buildAccessUnit(codec: VideoCodec, nalUnits: readonly Uint8Array[]): AccessUnit {
  let bytes = 0;
  for (const nal of nalUnits) bytes += EMITTED_START_CODE.length + nal.length;
  const data = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const nal of nalUnits) {
    data.set(EMITTED_START_CODE, at);
    data.set(nal, at + EMITTED_START_CODE.length);
    at += EMITTED_START_CODE.length + nal.length;
  }
  const views: Buffer[] = [];
  const nalTypes: number[] = [];
  const parameterSets: ParameterSetKind[] = [];
  let keyframe = false;
  let offset = 0;
  for (const nal of nalUnits) {
    offset += EMITTED_START_CODE.length;
    const view = data.subarray(offset, offset + nal.length);
    offset += nal.length;
    views.push(view);
    const info = nalInfo(codec, view);
    nalTypes.push(info?.type ?? -1);
    if (info?.keyframe) keyframe = true;
    if (info?.parameterSet && !parameterSets.includes(info.parameterSet))
      parameterSets.push(info.parameterSet);
  }
  return { codec, keyframe, data, nalUnits: views, nalTypes, parameterSets };
}

/**
 * Splits an Annex-B byte stream into NAL units and groups them into access units (7.4.1.2.3 for
 * H.264, 7.4.2.4.4 for H.265). An access unit is known to be complete only when the next one begins,
 * so `push` returns units one picture late; `flush` returns the last one at the end of a stream.
 * The NAL units of the access unit being gathered stay where they are in the input buffer (as
 * offsets) until it is complete: their bytes are copied once, into the access unit.
 *
 * Start codes may be 3 or 4 bytes and may be split across chunks. Trailing zero bytes of a NAL unit
 * (the leading zero of a 4-byte start code, zero padding) are dropped. Bytes before the first start
 * code and NAL units whose header is invalid for the codec are dropped and counted.
 *
 * The latest parameter set of each kind is remembered across `reset()`, for the keyframe gate. Streams
 * that switch between several PPS/SPS ids are not tracked per id (cameras send one of each).
 */
export class AnnexBParser {
  readonly stats: ParserStats = { droppedBytes: 0, invalidNalUnits: 0, accessUnits: 0, keyframes: 0 };
  private readonly latestParameterSets: ParameterSets = {};
  private readonly maxAccessUnitBytes: number;

  /**
   * Unconsumed input lives in buffer[begin, end), the pending NAL units (if any) before it from
   * `pendingStart`; it is grown by doubling and compacted as needed.
   */
  private buffer = Buffer.alloc(64 * 1024);
  private begin = 0;
  private end = 0;
  /** Where the search for the next start code resumes (earlier bytes hold none). */
  private searchFrom = 0;
  /** Whether buffer[begin] is the first byte of a NAL unit (a start code has been seen). */
  private inNalUnit = false;

  /** The pending NAL units: start and end offsets in `buffer`, in pairs. */
  private pendingNalUnits: number[] = [];
  private pendingStart = 0;
  private pendingBytes = 0;
  private pendingHasVcl = false;

  constructor(
    readonly codec: VideoCodec,
    options: AnnexBParserOptions = {},
  ) {
    this.maxAccessUnitBytes = options.maxAccessUnitBytes ?? 32 * 1024 * 1024;
  }

  /** The latest SPS/PPS (and VPS for H.265) seen, without start codes. */
  get parameterSets(): Readonly<ParameterSets> {
    return this.latestParameterSets;
  }

  push(chunk: Uint8Array): AccessUnit[] {
    const out: AccessUnit[] = [];
    this.append(chunk);
    for (;;) {
      const at = this.buffer.subarray(0, this.end).indexOf(START_CODE, this.searchFrom);
      if (at < 0) break;
      const afterStartCode = at + START_CODE.length;
      if (this.inNalUnit) this.takeNalUnit(this.begin, at, out);
      else this.stats.droppedBytes += trimTrailingZeros(this.buffer, this.begin, at) - this.begin;
      this.inNalUnit = true;
      this.begin = afterStartCode;
      this.searchFrom = afterStartCode;
    }
    // A start code may straddle this chunk and the next: search its last two bytes again.
    this.searchFrom = Math.max(this.begin, this.end - (START_CODE.length - 1));
    // An overlong unit is dropped whole; parsing resumes at the next start code.
    if (this.end - this.begin + this.pendingBytes > this.maxAccessUnitBytes) this.reset();
    return out;
  }

  /** Ends the stream: the bytes after the last start code form the last NAL unit; returns what is left. */
  flush(): AccessUnit[] {
    const out: AccessUnit[] = [];
    if (this.inNalUnit) this.takeNalUnit(this.begin, this.end, out);
    else this.stats.droppedBytes += this.end - this.begin;
    if (this.pendingHasVcl) this.finishAccessUnit(out);
    else this.discardPending();
    this.clearInput();
    return out;
  }

  /** Forgets buffered input (a new stream session begins); remembered parameter sets stay. */
  reset(): void {
    this.stats.droppedBytes += this.end - this.begin;
    this.discardPending();
    this.clearInput();
  }

  private discardPending(): void {
    this.stats.droppedBytes += this.pendingBytes;
    this.pendingNalUnits = [];
    this.pendingBytes = 0;
    this.pendingHasVcl = false;
  }

  private clearInput(): void {
    this.begin = this.end = this.searchFrom = this.pendingStart = 0;
    this.inNalUnit = false;
  }

  /** Adds a chunk after the input, moving what is kept (pending NAL units, then input) to the front first if needed. */
  private append(chunk: Uint8Array): void {
    const from = this.pendingNalUnits.length > 0 ? this.pendingStart : this.begin;
    const kept = this.end - from;
    if (this.end + chunk.length > this.buffer.length) {
      if (kept + chunk.length <= this.buffer.length / 2) {
        this.buffer.copy(this.buffer, 0, from, this.end);
      } else {
        let size = this.buffer.length;
        while (size < 2 * (kept + chunk.length)) size *= 2;
        const grown = Buffer.alloc(size);
        this.buffer.copy(grown, 0, from, this.end);
        this.buffer = grown;
      }
      for (let i = 0; i < this.pendingNalUnits.length; i++) this.pendingNalUnits[i]! -= from;
      this.pendingStart -= from;
      this.searchFrom -= from;
      this.begin -= from;
      this.end = kept;
    }
    this.buffer.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** The NAL unit in buffer[start, end) (trailing zeros not counted) joins the pending access unit. */
  private takeNalUnit(start: number, rawEnd: number, out: AccessUnit[]): void {
    const end = trimTrailingZeros(this.buffer, start, rawEnd);
    if (end === start) return; // an empty NAL unit: two start codes in a row
    const nal = this.buffer.subarray(start, end);
    const info = nalInfo(this.codec, nal);
    if (!info) {
      this.stats.invalidNalUnits += 1;
      this.stats.droppedBytes += nal.length;
      return;
    }
    // Kept past this access unit (the keyframe gate puts them in front of a keyframe that lacks them).
    if (info.parameterSet) this.latestParameterSets[info.parameterSet] = Buffer.from(nal);
    if (this.pendingHasVcl && (info.startsAccessUnit || (info.vcl && info.firstSliceOfPicture))) {
      this.finishAccessUnit(out);
    }
    if (this.pendingNalUnits.length === 0) this.pendingStart = start;
    this.pendingNalUnits.push(start, end);
    this.pendingBytes += nal.length;
    if (info.vcl) this.pendingHasVcl = true;
  }

  /** Emits the pending NAL units as one access unit; only called once they hold a picture. */
  private finishAccessUnit(out: AccessUnit[]): void {
    const nalUnits: Buffer[] = [];
    const pending = this.pendingNalUnits;
    for (let i = 0; i < pending.length; i += 2)
      nalUnits.push(this.buffer.subarray(pending[i], pending[i + 1]));
    const unit = buildAccessUnit(this.codec, nalUnits);
    this.stats.accessUnits += 1;
    if (unit.keyframe) this.stats.keyframes += 1;
    out.push(unit);
    this.pendingNalUnits = [];
    this.pendingBytes = 0;
    this.pendingHasVcl = false;
  }
}

/** Where bytes[start, end) ends without its trailing zero bytes. */
function trimTrailingZeros(bytes: Buffer, start: number, end: number): number {
  while (end > start && bytes[end - 1] === 0) end -= 1;
  return end;
}
