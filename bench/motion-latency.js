// Motion event → webhook received latency (p50/p99 at a steady event rate across many cameras) and
// the highest sustained event rate of one ingest process. Both need the ingest, recorder and
// notifier roles; while a role is still the placeholder on this commit, this reports "not measured"
// and names which.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { ROOT, figure } = require('./lib');

const NEEDED = ['ingest', 'recorder', 'notifier'];

/** Roles whose built entry point is still the runtime's placeholder. */
function placeholderRoles() {
  return NEEDED.filter((role) =>
    readFileSync(join(ROOT, 'apps', role, 'dist', 'index.js'), 'utf8').includes('startPlaceholderRole'),
  );
}

async function run() {
  const missing = placeholderRoles();
  if (missing.length === 0) {
    throw new Error('ingest, recorder and notifier have landed: this benchmark must now be written');
  }
  const why = `not measured: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} still the placeholder role on this commit`;
  return [
    figure({ name: 'motion event → webhook received latency p50', value: null, unit: 'ms', note: why }),
    figure({
      name: 'motion event → webhook received latency p99',
      value: null,
      unit: 'ms',
      target: '< 100',
      note: why,
    }),
    figure({
      name: 'highest sustained event rate of one ingest',
      value: null,
      unit: 'events/s',
      note: missing.includes('ingest')
        ? why
        : 'not measured: ingest landed on main as this benchmark was finished; the rate benchmark is not written yet',
    }),
  ];
}

module.exports = { run };
