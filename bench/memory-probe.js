// Preloaded (`node --expose-gc -r bench/memory-probe.js`) into a role by the soak benchmark, never by
// the product: on SIGUSR2 it runs a full garbage collection and prints the process's memory, so two
// snapshots compare what stayed reachable rather than how much garbage the last minute left behind.
const { getHeapSpaceStatistics } = require('node:v8');

const MARK = '[memory-probe]';

process.on('SIGUSR2', () => {
  global.gc();
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
  process.stderr.write(
    `${MARK} ${JSON.stringify({ rss, heapTotal, heapUsed, external, arrayBuffers, spaces })}\n`,
  );
});

module.exports = { MARK };
