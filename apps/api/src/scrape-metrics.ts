import type { Registry } from 'prom-client';
import type { DeviceRecord } from '@eufy-relay/devices';
import type { ApiContext } from './context';

/**
 * Metrics read from Redis at each scrape and written out as prom-client's registry writes its own
 * (it awaits `get()` of every registered metric): the latency histogram the notifiers keep in Redis
 * cannot be observed in this process, and camera states belong to ingest. Plain objects, so this
 * module needs prom-client's types only.
 */
interface ScrapedMetric {
  name: string;
  help: string;
  type: 'gauge' | 'histogram';
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    values: { metricName?: string; labels: Record<string, string | number>; value: number }[];
    aggregator: 'sum';
  }>;
}

function scraped(
  name: string,
  help: string,
  type: ScrapedMetric['type'],
  read: () => Promise<{ metricName?: string; labels: Record<string, string | number>; value: number }[]>,
): ScrapedMetric {
  return {
    name,
    help,
    type,
    get: async () => ({ name, help, type, values: await read(), aggregator: 'sum' }),
  };
}

/**
 * prom-client's default metrics include gauges named `*_total` (active handles, requests,
 * resources), which `promtool check metrics` rejects; the same counts stay without the suffix.
 */
const GAUGES_NAMED_LIKE_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** A gauge per camera (label device_sn) of a device field; cameras whose value is unknown are left out. */
function cameraGauge(
  ctx: ApiContext,
  name: string,
  help: string,
  value: (d: DeviceRecord) => number | null,
): ScrapedMetric {
  return scraped(name, help, 'gauge', async () =>
    (await ctx.devices.listDevices()).flatMap((d) => {
      const v = d.is_camera ? value(d) : null;
      return v === null ? [] : [{ labels: { device_sn: d.serial }, value: v }];
    }),
  );
}

export function registerScrapedMetrics(registry: Registry, ctx: ApiContext): void {
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);

  const metrics = [
    scraped(
      'eufy_relay_webhook_delivery_latency_seconds',
      'latency of webhook delivery attempts that got an answer or timed out, by every notifier',
      'histogram',
      async () => {
        const h = await ctx.deliveryLog.latency();
        const name = 'eufy_relay_webhook_delivery_latency_seconds';
        return [
          ...h.buckets.map((b) => ({
            metricName: `${name}_bucket`,
            labels: { le: b.le === Infinity ? '+Inf' : b.le },
            value: b.count,
          })),
          { metricName: `${name}_sum`, labels: {}, value: h.sum_seconds },
          { metricName: `${name}_count`, labels: {}, value: h.count },
        ];
      },
    ),
    cameraGauge(
      ctx,
      'eufy_relay_camera_online',
      '1 when ingest last saw the camera online, 0 offline',
      (d) => (d.online === null ? null : Number(d.online)),
    ),
    cameraGauge(
      ctx,
      'eufy_relay_camera_battery_percent',
      'battery level as ingest last saw it',
      (d) => d.battery,
    ),
    cameraGauge(
      ctx,
      'eufy_relay_prebuffer_bytes',
      "memory held by the camera's pre-motion buffer, as its recorder last published it",
      (d) => d.prebuffer?.bytes ?? null,
    ),
    cameraGauge(
      ctx,
      'eufy_relay_prebuffer_seconds',
      "seconds of video in the camera's pre-motion buffer",
      (d) => d.prebuffer?.seconds ?? null,
    ),
    scraped(
      'eufy_relay_prebuffers_bytes',
      'memory held by every pre-motion buffer together (each recorder caps its own: PREBUFFER_TOTAL_MAX_BYTES)',
      'gauge',
      async () => [
        {
          labels: {},
          value: (await ctx.devices.listDevices()).reduce((sum, d) => sum + (d.prebuffer?.bytes ?? 0), 0),
        },
      ],
    ),
  ];
  // The registry takes any object with a name and get(); its type names its own classes only.
  for (const metric of metrics)
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}
