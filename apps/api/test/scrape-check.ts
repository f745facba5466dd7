import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The Grafana dashboard of the repo (deploy/grafana) and what a scrape must hold for it. */
export const GRAFANA_DASHBOARD = path.resolve(__dirname, '../../../deploy/grafana/eufy-relay.json');

interface Panel {
  title: string;
  datasource?: { uid?: string };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
}

export function dashboardPanels(): Panel[] {
  return (JSON.parse(readFileSync(GRAFANA_DASHBOARD, 'utf8')) as { panels: Panel[] }).panels;
}

export function dashboardQueries(): string[] {
  return dashboardPanels().flatMap((p) => (p.targets ?? []).map((t) => t.expr!));
}

interface Selector {
  metric: string;
  /** Equality (`=`) and regex (`=~`) matchers; a regex matches the whole value, as in PromQL. */
  matchers: { label: string; op: '=' | '=~'; value: string }[];
}

/** The series selectors of our metrics in a PromQL expression (every metric is eufy_relay_*). */
export function selectorsOf(expr: string): Selector[] {
  return [...expr.matchAll(/\b(eufy_relay_[a-z_]+)(\{([^}]*)\})?/g)].map((m) => ({
    metric: m[1]!,
    matchers: [...(m[3] ?? '').matchAll(/(\w+)\s*(=~|=)\s*"([^"]*)"/g)].map((x) => ({
      label: x[1]!,
      op: x[2] as '=' | '=~',
      value: x[3]!,
    })),
  }));
}

/** Sample lines of a Prometheus text scrape: name and labels. */
function samples(scrape: string): { name: string; labels: Record<string, string> }[] {
  return scrape
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? /.exec(line)!;
      const labels = Object.fromEntries(
        [...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
      );
      return { name: m[1]!, labels };
    });
}

/** Each selector of the dashboard that no sample of the scrape satisfies, as `expr: selector`. */
export function unansweredQueries(scrape: string): string[] {
  const lines = samples(scrape);
  const missing: string[] = [];
  for (const expr of dashboardQueries()) {
    for (const s of selectorsOf(expr)) {
      const found = lines.some(
        (l) =>
          l.name === s.metric &&
          s.matchers.every((m) =>
            m.op === '='
              ? l.labels[m.label] === m.value
              : new RegExp(`^(?:${m.value})$`).test(l.labels[m.label] ?? ''),
          ),
      );
      if (!found) missing.push(`${expr}: ${s.metric}${JSON.stringify(s.matchers)}`);
    }
  }
  return missing;
}

/** `promtool check metrics` over a scrape: its exit code and what it said (problems, one a line). */
export function promtoolCheck(scrape: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: scrape, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool is missing (apt-get install prometheus): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}
