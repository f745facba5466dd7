// Preloaded (`node --expose-gc -r bench/memory-probe.js`) into a role by the soak benchmark, never by
// the product: on SIGUSR2 it runs a full garbage collection and, once V8 has handed the freed pages
// back (its unmapper does that in the background, within a few seconds), prints the process's memory.
// Two such snapshots of an idle role compare what stayed, not how much garbage or spare young
// generation the last burst of work left behind: V8 shrinks the young generation only at a GC that
// sees a low allocation rate, and an idle process does no GC on its own.
const { getHeapSpaceStatistics } = require('node:v8');

const MARK = '[memory-probe]';
const SETTLE_MS = 5000;

process.on('SIGUSR2', () => {
  global.gc();
  setTimeout(() => {
    const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
    process.stderr.write(
      `${MARK} ${JSON.stringify({ rss, heapTotal, heapUsed, external, arrayBuffers, spaces })}\n`,
    );
  }, SETTLE_MS);
});

module.exports = { MARK, SETTLE_MS };
