// `pnpm bench` (after `pnpm build`): runs each benchmark in turn and writes bench/results/latest.json
// and bench/results/latest.md. `node bench/run.js janitor roles` runs only the ones named (and still
// writes the results files). A benchmark that cannot run here reports "not measured" and why.
const { execSync } = require('node:child_process');
const { existsSync, mkdirSync, writeFileSync } = require('node:fs');
const { cpus, loadavg, totalmem } = require('node:os');
const { join } = require('node:path');
const { ROOT } = require('./lib');

const BENCHMARKS = {
  livestreams: () => require('./livestreams').run(),
  janitor: () => require('./janitor').run(),
  limiter: () => require('./limiter').run(),
  roles: () => require('./roles').run(),
  'motion-latency': () => require('./motion-latency').run(),
  serving: () => require('./serving').run(),
};

function git(args) {
  try {
    return execSync(`git ${args}`, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function formatValue(f) {
  if (f.value === null || f.value === undefined) return 'not measured';
  return `${f.value} ${f.unit}`;
}

function markdown(results) {
  const m = results.machine;
  const lines = [
    '# Benchmark results',
    '',
    `Made by \`${results.command}\` on ${results.date} (commit ${results.commit ?? 'unknown'}).`,
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, load average ${m.loadAverage1m} at the start.`,
    'Targets are reported, never enforced. "Miss by" is the gap relative to the target.',
    '',
    '| Benchmark | Figure | Value | Target | Met | Miss by | Cores | Command | Note |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const cell = (text) => String(text ?? '').replace(/\|/g, '\\|');
  for (const b of results.benchmarks) {
    for (const f of b.figures) {
      const met = f.met === null ? '' : f.met ? 'yes' : 'no';
      lines.push(
        `| ${cell(b.name)} | ${cell(f.name)} | ${cell(formatValue(f))} | ${cell(f.target)} | ${met} | ${cell(f.missBy)} | ${m.cores} | \`${cell(b.command)}\` | ${cell(f.note)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

async function main() {
  if (!existsSync(join(ROOT, 'apps', 'api', 'dist', 'main.js')))
    throw new Error('run `pnpm build` first: the benchmarks use the built packages and roles');
  const names = process.argv.slice(2);
  for (const name of names) {
    if (!BENCHMARKS[name])
      throw new Error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  }
  const selected = names.length > 0 ? names : Object.keys(BENCHMARKS);
  const command = names.length > 0 ? `node bench/run.js ${names.join(' ')}` : 'pnpm bench';
  const results = {
    command,
    date: new Date().toISOString(),
    commit: git('rev-parse --short HEAD'),
    machine: {
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
      node: process.version,
      // The machine may be shared: the load before the run tells how noisy the figures are.
      loadAverage1m: +loadavg()[0].toFixed(2),
    },
    benchmarks: [],
  };
  for (const name of selected) {
    const started = Date.now();
    console.error(`[bench] ${name} …`);
    let figures;
    try {
      figures = await BENCHMARKS[name]();
    } catch (err) {
      console.error(`[bench] ${name} failed:`, err);
      figures = [
        {
          name,
          value: null,
          unit: '',
          target: null,
          met: null,
          missBy: null,
          note: `failed: ${err.message}`,
        },
      ];
    }
    const seconds = +((Date.now() - started) / 1000).toFixed(1);
    results.benchmarks.push({
      name,
      command: `node bench/run.js ${name}`,
      cores: results.machine.cores,
      date: new Date(started).toISOString(),
      loadAverage1mAtEnd: +loadavg()[0].toFixed(2),
      seconds,
      figures,
    });
    console.error(`[bench] ${name} done in ${seconds} s`);
  }
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), markdown(results));
  console.log(markdown(results));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
