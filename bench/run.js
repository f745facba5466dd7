// `pnpm bench` (after `pnpm build`): runs each benchmark in turn and writes bench/results/latest.json
// and bench/results/latest.md. `node bench/run.js janitor roles` runs only the ones named and replaces
// just their entries in the results files; each entry says when, on which commit and under what load
// it ran. A benchmark that cannot run here reports "not measured" and why.
const { execSync } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
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
  live: () => require('./live').run(),
  // Runs SOAK_SECONDS (30 minutes unless set): the longest of them.
  soak: () => require('./soak').run(),
  uploads: () => require('./uploads').run(),
  sources: () => require('./sources').run(),
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
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}.`,
    'Targets are reported, never enforced. "Miss by" is the gap relative to the target.',
    '',
    'Runs (the 1-minute load average before and after tells how noisy the shared machine was):',
    '',
    ...results.benchmarks.map(
      (b) =>
        `- ${b.name}: \`${b.command}\` on ${b.date}, commit ${b.commit ?? 'unknown'}, ` +
        `${b.seconds} s, load ${b.loadAverage1mAtStart} → ${b.loadAverage1mAtEnd}`,
    ),
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

/** The entries of an earlier results file for the benchmarks not run now (same machine only). */
function previousEntries(file, rerun) {
  const previous = JSON.parse(readFileSync(file, 'utf8'));
  if (previous.machine?.cores !== cpus().length) return [];
  return (previous.benchmarks ?? []).filter((b) => !rerun.includes(b.name) && b.commit);
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
  // Uncommitted changes outside the results make the commit a lie: say so.
  const changed = git('status --porcelain --untracked-files=no -- . :!bench/results');
  const commit = `${git('rev-parse --short HEAD')}${changed ? ' + uncommitted changes' : ''}`;
  const resultsFile = join(ROOT, 'bench', 'results', 'latest.json');
  const results = {
    command,
    date: new Date().toISOString(),
    commit,
    machine: {
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
      node: process.version,
    },
    // A partial run keeps the other benchmarks' entries of the last run on this machine.
    benchmarks: names.length > 0 && existsSync(resultsFile) ? previousEntries(resultsFile, selected) : [],
  };
  for (const name of selected) {
    const started = Date.now();
    const loadAverage1mAtStart = +loadavg()[0].toFixed(2);
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
      commit,
      cores: results.machine.cores,
      date: new Date(started).toISOString(),
      loadAverage1mAtStart,
      loadAverage1mAtEnd: +loadavg()[0].toFixed(2),
      seconds,
      figures,
    });
    console.error(`[bench] ${name} done in ${seconds} s`);
  }
  const order = Object.keys(BENCHMARKS);
  results.benchmarks.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), markdown(results));
  console.log(markdown(results));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
