// How many simulated 1080p15 livestreams one simulator process serves, and at what CPU cost.
// Starts the simulator (dist) as its own process in loop mode with N standalone cameras, subscribes
// to every stream through one EufyClient (so the client's decode cost is measured too) and reports
// frames received and CPU per side after the run.
// Run after `pnpm build`: node apps/eufy-sim/bench/streams.bench.js [streams=100] [seconds=10]
const { spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { EufyClient } = require('../../../packages/eufy-client/dist');
const { createLogger } = require('../../../packages/logger/dist');

const streams = Number(process.argv[2] ?? 100);
const seconds = Number(process.argv[3] ?? 10);

/** CPU seconds (user + system) a process used so far, from /proc. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'eufy-sim-bench-'));
  const devices = Array.from({ length: streams }, (_, i) => ({
    serialNumber: `T8400P1022${String(i).padStart(6, '0')}`,
    name: `Cam ${i}`,
    video: { width: 1920, height: 1080, fps: 15, bitrateKbps: 2000 },
  }));
  const scenario = join(dir, 'bench.json'); // YAML is a superset of JSON
  writeFileSync(scenario, JSON.stringify({ media: { mode: 'loop', loopSeconds: 4 }, devices }));
  const sim = spawn(
    process.execPath,
    [join(__dirname, '..', 'dist', 'main.js'), scenario, '--port', '0', '--control-port', '0'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'info' },
    },
  );
  let out = '';
  sim.stdout.on('data', (d) => (out += d));
  let url;
  while (!(url = /"url":"(ws:[^"]+)"/.exec(out)?.[1])) await new Promise((r) => setTimeout(r, 20));

  const client = new EufyClient({
    url,
    logger: createLogger({ level: 'warn' }),
    livestreamStartTimeoutMs: 60_000,
  });
  await client.start();
  const counts = { frames: 0, bytes: 0 };
  const live = [];
  for (const d of devices) live.push(await client.startLivestream(d.serialNumber));
  // The first start waits for the loop encode; measure from when every stream delivers.
  await Promise.all(live.map((s) => s.read()));
  const pumps = live.map(async (s) => {
    for (let c = await s.read(); c; c = await s.read()) {
      counts.frames++;
      counts.bytes += c.buffer.length;
    }
  });
  const simCpu0 = cpuSeconds(sim.pid);
  const selfCpu0 = process.cpuUsage();
  counts.frames = 0;
  counts.bytes = 0;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const simCpu = cpuSeconds(sim.pid) - simCpu0;
  const selfCpu = process.cpuUsage(selfCpu0);
  const result = {
    streams,
    seconds,
    framesPerSecond: Math.round(counts.frames / seconds),
    expectedFramesPerSecond: streams * 15,
    videoMbitPerSecond: +((counts.bytes * 8) / seconds / 1e6).toFixed(1),
    simulatorCpuCores: +(simCpu / seconds).toFixed(2),
    clientCpuCores: +((selfCpu.user + selfCpu.system) / 1e6 / seconds).toFixed(2),
  };
  await Promise.all(live.map((s) => s.stop()));
  await Promise.all(pumps);
  await client.close();
  sim.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(result, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
