/**
 * The length of the ADTS frame (header included) at `offset`, or undefined when no valid ADTS header
 * starts there. eufy-security-ws audio is believed to be ADTS-framed but that is unverified; the
 * recording's audio input only accepts ADTS, so check a stream's first payload before enabling it.
 */
export function adtsFrameLength(data: Uint8Array, offset = 0): number | undefined {
  if (offset + 7 > data.length) return undefined;
  // 12-bit sync word 0xFFF, then MPEG version (any) and layer, which is always 00.
  if (data[offset] !== 0xff || (data[offset + 1]! & 0xf6) !== 0xf0) return undefined;
  const protectionAbsent = data[offset + 1]! & 0x01;
  const length = ((data[offset + 3]! & 0x03) << 11) | (data[offset + 4]! << 3) | (data[offset + 5]! >> 5);
  return length >= (protectionAbsent ? 7 : 9) ? length : undefined;
}
