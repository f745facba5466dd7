/** The server's names for the stream's codec (`metadata.videoCodec`); newer servers may add others. */
export type VideoCodec = 'H264' | 'H265' | 'UNKNOWN' | (string & {});

const H264_IDR = 5;
const H264_SPS = 7;
const H265_IRAP_FIRST = 16;
const H265_IRAP_LAST = 21;
const H265_VPS = 32;
const H265_SPS = 33;

/**
 * The NAL unit types at the start codes of an Annex-B buffer, up to and including the first picture
 * slice (what follows belongs to the same frame and cannot change the answer).
 */
function* leadingNalHeaders(buffer: Buffer): Generator<number> {
  let i = 0;
  while (i + 3 < buffer.length) {
    if (buffer[i] === 0 && buffer[i + 1] === 0) {
      if (buffer[i + 2] === 1) {
        yield buffer[i + 3]!;
        i += 4;
        continue;
      }
      if (buffer[i + 2] === 0 && buffer[i + 3] === 1 && i + 4 < buffer.length) {
        yield buffer[i + 4]!;
        i += 5;
        continue;
      }
    }
    i++;
  }
}

/**
 * Whether a decoder can start at this buffer: an H.264 IDR slice or SPS, an H.265 IRAP picture or
 * VPS/SPS. Unknown codecs count as not a keyframe.
 */
export function isKeyframe(buffer: Buffer, codec: VideoCodec): boolean {
  for (const header of leadingNalHeaders(buffer)) {
    if (codec === 'H264') {
      const type = header & 0x1f;
      if (type === H264_IDR || type === H264_SPS) return true;
      if (type >= 1 && type <= 4) return false; // a non-IDR slice: this frame is not a keyframe
    } else if (codec === 'H265') {
      const type = (header >> 1) & 0x3f;
      if ((type >= H265_IRAP_FIRST && type <= H265_IRAP_LAST) || type === H265_VPS || type === H265_SPS)
        return true;
      if (type < H265_IRAP_FIRST) return false;
    } else {
      return false;
    }
  }
  return false;
}
