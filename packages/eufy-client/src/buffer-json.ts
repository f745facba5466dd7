/**
 * eufy-security-ws sends media as Node's `Buffer.toJSON()` form, `{"type":"Buffer","data":[0,0,0,1,…]}`:
 * about 3.6 bytes of JSON per video byte. `JSON.parse` builds a JS array of numbers for it and
 * `Buffer.from` copies that again, which at 1080p15 costs several times what reading the digits
 * straight from the received bytes into a Buffer does. `decodeMessage` does the latter for the first
 * media buffer of a message and parses only the (small) rest with `JSON.parse`; anything it does not
 * recognise exactly goes through plain `JSON.parse`, so both paths give the same value.
 */

import { SlabPool } from '@eufy-relay/media/slab';

/** The buffer member exactly as the server's JSON.stringify writes it (no whitespace). */
const BUFFER_MEMBER = Buffer.from('"buffer":{"type":"Buffer","data":[');
/** A media event names its buffer early; a match further in is not worth the search. */
const MEMBER_SEARCH_BYTES = 1024;
/** Below this size JSON.parse alone is as fast; the fast path pays only for big frames. */
const FAST_PATH_MIN_BYTES = 256;

const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const DIGIT_0 = 0x30;

/** The decoded media buffers (slabs: see SlabPool). */
const slabs = new SlabPool();

/** Each byte xor this: digits become 0..9, while `,` and `]` (and most else) get high bits. */
const ZEROS = 0x30303030;
const COMMA_X = COMMA ^ 0x30;
const CLOSE_BRACKET_X = CLOSE_BRACKET ^ 0x30;

/**
 * Reads `1,22,255]` starting at `start` into bytes. Returns the bytes and the index just past `]`,
 * or undefined for anything but canonical JSON digits 0..255 separated by commas (whitespace, signs,
 * fractions, leading zeros, values over 255): the caller then falls back to JSON.parse.
 * One number is read per turn (one to three digits, then `,` or `]`): the hot loop of the client.
 * The digits go straight into a slab (SlabPool.room); only a complete array takes its place there.
 *
 * While four bytes are left, a turn reads them as one 32-bit word and finds the number's length,
 * value and terminator with bit operations, with one branch that is (nearly) always taken the same
 * way: the lengths of random bytes' numbers mispredict a branch on each digit otherwise. The last
 * few bytes go one at a time.
 */
function scanByteArray(raw: Buffer, start: number): { bytes: Buffer; end: number } | undefined {
  const length = raw.length;
  if (raw[start] === CLOSE_BRACKET) return { bytes: Buffer.alloc(0), end: start + 1 };
  // n values need at least 2n-1 characters, so this bound never overflows.
  const out = slabs.room(((length - start + 1) >> 1) + 1);
  const view = new DataView(raw.buffer, raw.byteOffset, length);
  let count = 0;
  let i = start;
  for (const last = length - 4; i <= last;) {
    // Bytes i..i+3, the first lowest, each xor '0'.
    const x = view.getUint32(i, true) ^ ZEROS;
    // The first byte after the first that is no digit ends the number: its index is the length;
    // -1 when all of bytes 1..3 look like digits (four digits or more).
    const ends = x & 0xf0f0f000;
    const digitCount = (31 - Math.clz32(ends & -ends)) >> 3;
    // The digits moved to bytes 0..2 as hundreds, tens, units (zeros in front of a shorter number).
    const digits = (x << ((4 - digitCount) << 3)) >>> 8;
    const value = (digits & 0xff) * 100 + ((digits >>> 8) & 0xff) * 10 + (digits >>> 16);
    const terminator = (x >>> (digitCount << 3)) & 0xff;
    const bad =
      digitCount < 1 ||
      ((digits + 0x767676) & 0x808080) !== 0 || // a "digit" byte above 9 (':' to '?')
      ((x & 0xff) === 0 && digitCount > 1) || // leading zero
      value > 255 ||
      (terminator !== COMMA_X && terminator !== CLOSE_BRACKET_X);
    if (bad) return undefined;
    out[count++] = value;
    i += digitCount + 1;
    if (terminator === CLOSE_BRACKET_X) return take(count, i);
  }
  while (i < length) {
    let digit = raw[i++]! - DIGIT_0;
    if (digit < 0 || digit > 9) return undefined;
    let value = digit;
    let c = raw[i++];
    digit = c! - DIGIT_0;
    if (digit >= 0 && digit <= 9) {
      if (value === 0) return undefined; // leading zero: not JSON
      value = value * 10 + digit;
      c = raw[i++];
      digit = c! - DIGIT_0;
      if (digit >= 0 && digit <= 9) {
        value = value * 10 + digit;
        if (value > 255) return undefined;
        c = raw[i++];
      }
    }
    out[count++] = value;
    if (c === COMMA) continue;
    if (c !== CLOSE_BRACKET) return undefined;
    return take(count, i);
  }
  return undefined;
}

/** The `count` bytes scanned into the slab's room take their place there; `end` is just past `]`. */
function take(count: number, end: number): { bytes: Buffer; end: number } {
  return { bytes: slabs.take(count), end };
}

function isEventWithNullBuffer(value: unknown): value is { type: 'event'; event: { buffer: unknown } } {
  if (typeof value !== 'object' || value === null) return false;
  const event = (value as { event?: unknown }).event;
  return (
    (value as { type?: unknown }).type === 'event' &&
    typeof event === 'object' &&
    event !== null &&
    (event as { buffer?: unknown }).buffer === null
  );
}

/**
 * The fast path: only a message whose `event.buffer` is a canonical Buffer-JSON object. Returns the
 * message with `event.buffer` already a Buffer, or undefined to say "use JSON.parse".
 */
function decodeMediaMessage(raw: Buffer): unknown {
  const memberAt = raw.subarray(0, MEMBER_SEARCH_BYTES).indexOf(BUFFER_MEMBER);
  if (memberAt < 0) return undefined;
  const scanned = scanByteArray(raw, memberAt + BUFFER_MEMBER.length);
  if (!scanned || raw[scanned.end] !== CLOSE_BRACE) return undefined;
  // The rest of the message with the buffer object replaced by null, parsed and validated as usual.
  const rest =
    raw.toString('utf8', 0, memberAt) + '"buffer":null' + raw.toString('utf8', scanned.end + 1, raw.length);
  const parsed: unknown = JSON.parse(rest);
  // The member found must be the one JSON.parse keeps as event.buffer (not a nested or shadowed key).
  if (!isEventWithNullBuffer(parsed)) return undefined;
  parsed.event.buffer = scanned.bytes;
  return parsed;
}

/**
 * One server frame to a JSON value. For media events `event.buffer` comes back as a Buffer (fast
 * path); otherwise the value is exactly `JSON.parse`'s, and a Buffer-JSON object is left for the
 * schema to convert. Throws SyntaxError for text that is not JSON, like JSON.parse.
 */
export function decodeMessage(raw: Buffer | string): unknown {
  const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
  if (bytes.length >= FAST_PATH_MIN_BYTES) {
    const fast = decodeMediaMessage(bytes);
    if (fast !== undefined) return fast;
  }
  return JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
}

/** `{"type":"Buffer","data":[…]}` (as JSON.parse leaves it) to a Buffer; undefined if it is not one. */
export function bufferFromJson(value: unknown): Buffer | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { type, data } = value as { type?: unknown; data?: unknown };
  if (type !== 'Buffer' || !Array.isArray(data)) return undefined;
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) return undefined;
    out[i] = v;
  }
  return out;
}
