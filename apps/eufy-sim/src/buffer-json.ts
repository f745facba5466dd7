/** The decimal text of every byte value with its trailing comma, e.g. "255,". */
const BYTE_TEXT = Array.from({ length: 256 }, (_, v) => Buffer.from(`${v},`));
const OPEN = Buffer.from('{"type":"Buffer","data":[');
const CLOSE = Buffer.from(']}');

/**
 * Exactly what `JSON.stringify(buffer)` gives (Node's Buffer.toJSON form, as eufy-security-ws sends
 * media), as bytes and without building a JS array of numbers first.
 */
export function encodeBufferJson(buffer: Buffer): Buffer {
  let size = OPEN.length + CLOSE.length;
  for (let i = 0; i < buffer.length; i++) size += BYTE_TEXT[buffer[i]!]!.length;
  const out = Buffer.allocUnsafe(size);
  let at = OPEN.copy(out, 0);
  for (let i = 0; i < buffer.length; i++) {
    const text = BYTE_TEXT[buffer[i]!]!;
    for (let j = 0; j < text.length; j++) out[at++] = text[j]!;
  }
  if (buffer.length > 0) at--; // no comma after the last value
  CLOSE.copy(out, at);
  return out.subarray(0, at + CLOSE.length);
}
