import { DeviceRegistry } from '@eufy-relay/devices';
import { RecordingStore } from '@eufy-relay/recordings';
import { DeliveryLog } from '@eufy-relay/webhooks';
import { TOKEN, bearer, request, startApi, type TestApi } from './helpers';
import {
  dashboardPanels,
  dashboardQueries,
  promtoolCheck,
  selectorsOf,
  unansweredQueries,
} from './scrape-check';

const CAMERA = 'T8113P0223000002';
const PREBUFFERED = 'T8113P0223000004';
let t: TestApi;
let scrape: string;

beforeAll(async () => {
  t = await startApi('metrics', { API_TOKEN: TOKEN });
  const devices = new DeviceRegistry(t.redis, t.config);
  await devices.updateDevice(CAMERA, { is_camera: true, online: true, battery: 64 });
  const prebuffer = { state: 'streaming', source: 'rtsp' as const, reason: '', at: Date.now() };
  await devices.updateDevice(PREBUFFERED, {
    is_camera: true,
    prebuffer: { ...prebuffer, bytes: 1_250_000, seconds: 5.5 },
  });
  await devices.updateDevice(CAMERA, { prebuffer: { ...prebuffer, bytes: 250_000, seconds: 6 } });
  await devices.updateDevice('T8113P0223000003', { is_camera: true, online: false, battery: null });
  await new RecordingStore(t.redis, t.config).create({ device_sn: CAMERA, started_at: Date.now() });
  const log = new DeliveryLog(t.redis, t.config);
  const attempt = { attempt: 1, at: new Date().toISOString(), event: 'motion_detected', error: null };
  await log.record('a', { ...attempt, outcome: 'delivered', status_code: 200, latency_ms: 40 });
  await log.record('b', { ...attempt, outcome: 'delivered', status_code: 200, latency_ms: 300 });
  await log.record('c', { ...attempt, outcome: 'failed', status_code: null, latency_ms: 12_000 });
  await log.record('d', { ...attempt, outcome: 'skipped', status_code: null, latency_ms: null });
  const r = await request(t.api.url, '/metrics', { headers: bearer() });
  expect(r.status).toBe(200);
  scrape = r.text;
});
afterAll(() => t.close());

describe('GET /metrics', () => {
  it('passes promtool check metrics', () => {
    expect(promtoolCheck(scrape)).toEqual({ status: 0, output: '' });
  });

  it('a gauge named like a counter fails promtool (so the check above can fail)', () => {
    const bad = '# HELP x_total a gauge\n# TYPE x_total gauge\nx_total 1\n';
    expect(promtoolCheck(bad).status).not.toBe(0);
  });

  it('has the webhook latency histogram the notifiers keep in Redis, and camera states', () => {
    const name = 'eufy_relay_webhook_delivery_latency_seconds';
    expect(scrape).toContain(`# TYPE ${name} histogram`);
    expect(scrape).toMatch(new RegExp(`^${name}_bucket\\{le="0.05"\\} 1$`, 'm'));
    expect(scrape).toMatch(new RegExp(`^${name}_bucket\\{le="0.5"\\} 2$`, 'm'));
    expect(scrape).toMatch(new RegExp(`^${name}_bucket\\{le="10"\\} 2$`, 'm'));
    expect(scrape).toMatch(new RegExp(`^${name}_bucket\\{le="\\+Inf"\\} 3$`, 'm'));
    expect(scrape).toMatch(new RegExp(`^${name}_sum 12.34$`, 'm'));
    expect(scrape).toMatch(new RegExp(`^${name}_count 3$`, 'm'));
    expect(scrape).toMatch(/^eufy_relay_webhook_deliveries_total\{outcome="delivered"\} 2$/m);
    expect(scrape).toMatch(new RegExp(`^eufy_relay_camera_online\\{device_sn="${CAMERA}"\\} 1$`, 'm'));
    expect(scrape).toMatch(/^eufy_relay_camera_online\{device_sn="T8113P0223000003"\} 0$/m);
    expect(scrape).toMatch(
      new RegExp(`^eufy_relay_camera_battery_percent\\{device_sn="${CAMERA}"\\} 64$`, 'm'),
    );
    expect(scrape).not.toContain('eufy_relay_camera_battery_percent{device_sn="T8113P0223000003"}');
    expect(scrape).toMatch(/^eufy_relay_recordings\{status="recording"\} 1$/m);
  });

  it('has the memory of each pre-motion buffer and of all together', () => {
    expect(scrape).toMatch(
      new RegExp(`^eufy_relay_prebuffer_bytes\\{device_sn="${PREBUFFERED}"\\} 1250000$`, 'm'),
    );
    expect(scrape).toMatch(
      new RegExp(`^eufy_relay_prebuffer_seconds\\{device_sn="${PREBUFFERED}"\\} 5.5$`, 'm'),
    );
    expect(scrape).toMatch(/^eufy_relay_prebuffers_bytes 1500000$/m);
    expect(scrape).not.toContain('eufy_relay_prebuffer_bytes{device_sn="T8113P0223000003"}');
  });
});

describe('deploy/grafana dashboard', () => {
  it('queries recordings in progress, webhook outcomes and latency, queue depths, disk and camera states', () => {
    const metrics = new Set(dashboardQueries().flatMap((e) => selectorsOf(e).map((s) => s.metric)));
    for (const metric of [
      'eufy_relay_recordings',
      'eufy_relay_webhook_deliveries_total',
      'eufy_relay_webhook_delivery_latency_seconds_bucket',
      'eufy_relay_queue_jobs',
      'eufy_relay_disk_free_bytes',
      'eufy_relay_camera_online',
      'eufy_relay_camera_battery_percent',
    ])
      expect(metrics).toContain(metric);
    for (const panel of dashboardPanels()) {
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) {
        expect(selectorsOf(target.expr!).length).toBeGreaterThan(0);
        expect(target.datasource?.uid).toBe('${DS_PROMETHEUS}');
      }
    }
  });

  it('queries only series a real scrape has', () => {
    expect(unansweredQueries(scrape)).toEqual([]);
    // A metric the api does not export is reported (so the check above can fail).
    expect(unansweredQueries(scrape.replace(/^eufy_relay_camera_online.*$/gm, ''))).not.toEqual([]);
  });
});
