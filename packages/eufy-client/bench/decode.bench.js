// CPU cost of decoding one `livestream video data` frame: JSON.parse + Buffer.from (what a naive
// client does) against decodeMessage's fast path, both followed by schema validation.
// Run after `pnpm build`: node packages/eufy-client/bench/decode.bench.js [frameBytes] [iterations]
const { randomBytes } = require('node:crypto');
const { bufferFromJson, classifyMessage, decodeMessage } = require('../dist');

// 1080p15 at 2 Mb/s: 2e6 / 8 / 15 ≈ 16.7 kB per frame on average.
const frameBytes = Number(process.argv[2] ?? 16_667);
const iterations = Number(process.argv[3] ?? 3000);

const message = Buffer.from(
  JSON.stringify({
    type: 'event',
    event: {
      source: 'device',
      event: 'livestream video data',
      serialNumber: 'T8113P0223000002',
      buffer: randomBytes(frameBytes),
      metadata: { videoCodec: 'H264', videoFPS: 15, videoHeight: 1080, videoWidth: 1920 },
    },
  }),
);

function jsonParse(raw) {
  const value = JSON.parse(raw.toString('utf8'));
  value.event.buffer = bufferFromJson(value.event.buffer);
  return value;
}

function cpuMsPerFrame(decode) {
  for (let i = 0; i < 200; i++) classifyMessage(decode(message)); // warm up
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) classifyMessage(decode(message));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / iterations;
}

const slow = cpuMsPerFrame(jsonParse);
const fast = cpuMsPerFrame(decodeMessage);
const fps = 15;
console.log(
  JSON.stringify(
    {
      frameBytes,
      messageBytes: message.length,
      jsonBytesPerVideoByte: +(message.length / frameBytes).toFixed(2),
      iterations,
      jsonParseMsPerFrame: +slow.toFixed(4),
      fastPathMsPerFrame: +fast.toFixed(4),
      speedup: +(slow / fast).toFixed(2),
      streamsPerCoreJsonParse: Math.floor(1000 / (slow * fps)),
      streamsPerCoreFastPath: Math.floor(1000 / (fast * fps)),
    },
    null,
    2,
  ),
);
