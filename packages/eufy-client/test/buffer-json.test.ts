import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { bufferFromJson, classifyMessage, decodeMessage } from '../src';

const FIXTURES = join(__dirname, '..', 'fixtures');

/**
 * decodeMessage returns JSON.parse's value, except that on the fast path event.buffer is already a
 * Buffer. Normalised (a Buffer-JSON event.buffer made a Buffer), both must be the same value.
 */
function normalise(value: unknown): unknown {
  const event = (value as { event?: { buffer?: unknown } } | null)?.event;
  const bytes = event && !Buffer.isBuffer(event.buffer) ? bufferFromJson(event.buffer) : undefined;
  if (bytes) event!.buffer = bytes;
  return value;
}

/** Both decoders agree: the same value and the same classification, or both reject the text. */
function expectSameAsJsonParse(text: string): void {
  let expected: unknown;
  try {
    expected = JSON.parse(text);
  } catch {
    expect(() => decodeMessage(Buffer.from(text))).toThrow(SyntaxError);
    return;
  }
  const decoded = decodeMessage(Buffer.from(text));
  expect(classifyMessage(decoded)).toEqual(classifyMessage(JSON.parse(text)));
  expect(normalise(decoded)).toEqual(normalise(expected));
}

const mediaEvent = (fields: { serialNumber: string; bytes: Uint8Array; metadata: object; event: string }) =>
  JSON.stringify({
    type: 'event',
    event: {
      source: 'device',
      event: fields.event,
      serialNumber: fields.serialNumber,
      buffer: Buffer.from(fields.bytes),
      metadata: fields.metadata,
    },
  });

describe('decodeMessage (Buffer-JSON fast path)', () => {
  it('equals JSON.parse on every fixture', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) expectSameAsJsonParse(readFileSync(join(FIXTURES, file), 'utf8'));
  });

  it('reads the fixture video frame into the same bytes and a valid event', () => {
    const text = readFileSync(join(FIXTURES, '18_event.device.livestream_video_data.json'), 'utf8');
    const padded = text.replace('"data":[', `"data":[${'7,'.repeat(200)}`); // big enough for the fast path
    const decoded = decodeMessage(Buffer.from(padded)) as { event: { buffer: Buffer } };
    expect(Buffer.isBuffer(decoded.event.buffer)).toBe(true);
    expect(decoded.event.buffer.subarray(200, 205)).toEqual(Buffer.from([0, 0, 0, 1, 103]));
    expect(classifyMessage(decoded)).toMatchObject({
      kind: 'event',
      event: { event: 'livestream video data', metadata: { videoCodec: 'H264', videoWidth: 1920 } },
    });
  });

  it('cuts frames from shared slabs, each keeping its own bytes while later frames are decoded', () => {
    const frames = Array.from({ length: 300 }, (_, i) =>
      Buffer.from(Array.from({ length: 1000 + 97 * i }, (_v, j) => (i * 31 + j * 7) % 256)),
    );
    const decoded = frames.map((bytes) => {
      const text = mediaEvent({ serialNumber: 'T1', bytes, metadata: {}, event: 'livestream video data' });
      return (decodeMessage(Buffer.from(text)) as { event: { buffer: Buffer } }).event.buffer;
    });
    // ~4.5 MB of frames: several slabs, each shared by many frames (no ArrayBuffer per frame).
    expect(new Set(decoded.map((b) => b.buffer)).size).toBeLessThan(frames.length / 10);
    decoded.forEach((bytes, i) => expect(bytes.equals(frames[i]!)).toBe(true));
    // A frame that fails the fast path takes no room: the next one is still right.
    expectSameAsJsonParse(
      mediaEvent({ serialNumber: 'T1', bytes: frames[1]!, metadata: {}, event: 'x' }).replace('7,', '7 ,'),
    );
    decoded.forEach((bytes, i) => expect(bytes.equals(frames[i]!)).toBe(true));
  });

  it('equals JSON.parse on randomized media frames', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 4096 }),
        fc.string({ maxLength: 40 }),
        fc.constantFrom('livestream video data', 'livestream audio data', 'download video data'),
        fc.record({ videoCodec: fc.string(), videoFPS: fc.integer(), videoWidth: fc.nat() }),
        (bytes, serialNumber, event, metadata) => {
          const text = mediaEvent({ serialNumber, bytes, metadata, event });
          expectSameAsJsonParse(text);
          // Canonical frames of some size take the fast path (the buffer comes back a Buffer).
          if (bytes.length >= 256) {
            const decoded = decodeMessage(Buffer.from(text)) as { event: { buffer: unknown } };
            expect(Buffer.isBuffer(decoded.event.buffer)).toBe(true);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('equals JSON.parse on corrupted frames (bad digits, whitespace, cut text, shadowed keys)', () => {
    const base = mediaEvent({
      serialNumber: 'T8113P0223000002',
      bytes: new Uint8Array(300).map((_, i) => (i * 37) % 256),
      metadata: { videoCodec: 'H264', videoFPS: 15, videoHeight: 1080, videoWidth: 1920 },
      event: 'livestream video data',
    });
    const corruption = fc.oneof(
      // Replace a span of the text with a fragment that can break or change the JSON.
      fc
        .tuple(
          fc.nat({ max: base.length - 1 }),
          fc.nat({ max: 6 }),
          fc.constantFrom(
            '256',
            '1000',
            ':',
            '/',
            '?',
            '-1',
            '1.5',
            ' ',
            '01',
            ',,',
            ']',
            '}',
            '"',
            '\\',
            'null',
            '1e2',
            '"buffer":{"type":"Buffer","data":[1]}',
          ),
        )
        .map(([at, cut, insert]) => base.slice(0, at) + insert + base.slice(at + cut)),
      // Truncate anywhere.
      fc.nat({ max: base.length }).map((at) => base.slice(0, at)),
      // A second buffer member after the first: JSON.parse keeps the last one.
      fc
        .uint8Array({ maxLength: 20 })
        .map((b) => base.replace(',"metadata"', `,"buffer":${JSON.stringify(Buffer.from(b))},"metadata"`)),
      // The member text inside a string value, before the real one.
      fc.constant(
        base.replace(
          '"serialNumber":"',
          '"serialNumber":"\\"buffer\\":{\\"type\\":\\"Buffer\\",\\"data\\":[1,2]}',
        ),
      ),
      // Nested one level down instead of at event.buffer.
      fc.constant(base.replace('"buffer":', '"wrapper":{"buffer":').replace(',"metadata"', '},"metadata"')),
    );
    fc.assert(fc.property(corruption, expectSameAsJsonParse), { numRuns: 1000 });
  });

  it('rejects what the schema must reject even when JSON.parse accepts it', () => {
    const text = mediaEvent({
      serialNumber: 'T8113P0223000002',
      bytes: new Uint8Array(300),
      metadata: { videoCodec: 'H264', videoFPS: 15, videoHeight: 1080, videoWidth: 1920 },
      event: 'livestream video data',
    }).replace('"data":[0,', '"data":[300,');
    expect(classifyMessage(decodeMessage(text))).toMatchObject({ kind: 'malformed' });
    expect(classifyMessage(decodeMessage(text.replace(',"metadata"', ',"metadatum"')))).toMatchObject({
      kind: 'malformed',
      problem: expect.stringContaining('metadata'),
    });
  });
});
