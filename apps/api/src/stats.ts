import { z } from 'zod';
import { DASHBOARD_DAYS, History, utcDay } from '@eufy-relay/history';
import { readStorageSamples } from '@eufy-relay/janitor';
import { DELIVERY_OUTCOMES } from '@eufy-relay/webhooks';
import type { ApiContext } from './context';
import { ApiRoutes, named, problem } from './routes';
import { readDisk } from './status';

/**
 * The statistics dashboard's data: what the history in Redis (@eufy-relay/history) kept per day and
 * over time, as JSON for the page's charts and anyone else. Every series is one value per day
 * (`days`) or a list of timestamped samples.
 */

const DAY_MS = 86_400_000;
/** The growth rate behind "days until full" is the bytes recorded over this many days. */
export const GROWTH_WINDOW_DAYS = 7;

const statsQuery = z.strictObject({
  days: z.coerce
    .number()
    .int()
    .min(1)
    .max(366)
    .default(DASHBOARD_DAYS)
    .describe('how many UTC days up to today (history keeps RETENTION_DAYS, at least 30)'),
});

const days = z.array(z.string()).describe('UTC days, YYYY-MM-DD, oldest first');
const perDay = (what: string) => z.array(z.number()).describe(`${what}, one value per day`);
const iso = (ms: number) => new Date(ms).toISOString();

export const recordingStatsBody = named(
  'RecordingStats',
  z.object({
    days,
    cameras: z.array(
      z.object({
        device_sn: z.string(),
        name: z.string().nullable(),
        recordings: perDay('finished recordings started that day'),
        hours: perDay('hours recorded'),
        bytes: perDay('bytes recorded'),
        total_recordings: z.number().int(),
        total_hours: z.number(),
      }),
    ),
  }),
  'Finished recordings per camera and UTC day of their start',
);

const storagePoint = z.object({
  at: z.iso.datetime(),
  recordings_bytes: z.number(),
  disk_used_bytes: z.number(),
  disk_free_bytes: z.number(),
  disk_total_bytes: z.number(),
});

export const storageStatsBody = named(
  'StorageStats',
  z.object({
    samples: z
      .array(storagePoint)
      .describe('one per janitor run, oldest first, then the disk and index now (the last one)'),
    min_free_bytes: z.number(),
    retention_days: z.number(),
    growth_bytes_per_day: z
      .number()
      .describe(
        `bytes recorded per day over the last ${GROWTH_WINDOW_DAYS} days (since the oldest recording, if later)`,
      ),
    days_until_full: z
      .number()
      .nullable()
      .describe('days until free space reaches MIN_FREE_DISK_BYTES at that rate; null when it does not'),
    forecast: z.string().describe('the forecast in words, with why'),
  }),
  'Storage used over time and how long the disk lasts',
);

export const webhookStatsBody = named(
  'WebhookStats',
  z.object({
    days,
    outcomes: z.object(Object.fromEntries(DELIVERY_OUTCOMES.map((o) => [o, perDay(`${o} attempts`)]))),
    latency: z.object({
      count: perDay('attempts with a latency (an answer or a timeout)'),
      mean_ms: z.array(z.number().nullable()),
      p95_upper_ms: z
        .array(z.number().nullable())
        .describe('histogram bound under which 95 % fell; null without attempts or past 10 s'),
    }),
    totals: z.object(Object.fromEntries(DELIVERY_OUTCOMES.map((o) => [o, z.number()]))),
  }),
  'Webhook delivery attempts per UTC day by outcome, and their latency',
);

export const cameraStatsBody = named(
  'CameraStats',
  z.object({
    from: z.iso.datetime(),
    cameras: z.array(
      z.object({
        device_sn: z.string(),
        name: z.string().nullable(),
        online: z
          .array(z.object({ at: z.iso.datetime(), online: z.boolean() }))
          .describe('changes of the online verdict, the first one the state at `from` when known'),
        battery: z
          .array(z.object({ at: z.iso.datetime(), level: z.number() }))
          .describe('changes of the battery level, likewise'),
      }),
    ),
  }),
  'Camera online/offline history and battery level over time',
);

export interface StorageForecast {
  growth_bytes_per_day: number;
  days_until_full: number | null;
  forecast: string;
}

/**
 * How long the disk lasts at the recent rate. Retention caps the recordings at about rate ×
 * RETENTION_DAYS: when that fits in what is free above MIN_FREE_DISK_BYTES, the disk never fills.
 */
export function forecastStorage(input: {
  growthBytesPerDay: number;
  recordingsBytes: number;
  freeBytes: number;
  minFreeBytes: number;
  retentionDays: number;
}): StorageForecast {
  const { growthBytesPerDay: rate, recordingsBytes, freeBytes, minFreeBytes, retentionDays } = input;
  const room = freeBytes - minFreeBytes;
  const result = (days_until_full: number | null, forecast: string) => ({
    growth_bytes_per_day: Math.round(rate),
    days_until_full,
    forecast,
  });
  if (room <= 0)
    return result(
      0,
      'free space is already under MIN_FREE_DISK_BYTES: the janitor deletes the oldest recordings',
    );
  if (rate <= 0)
    return result(null, `nothing recorded in the last ${GROWTH_WINDOW_DAYS} days: the disk does not fill`);
  const steadyGrowth = rate * retentionDays - recordingsBytes;
  if (steadyGrowth <= room)
    return result(
      null,
      `at this rate retention (${retentionDays} days) deletes recordings before free space reaches MIN_FREE_DISK_BYTES`,
    );
  const daysLeft = room / rate;
  return result(
    Math.round(daysLeft * 10) / 10,
    `free space reaches MIN_FREE_DISK_BYTES in ${daysLeft.toFixed(1)} days, before retention (${retentionDays} days) frees any; then the janitor deletes the oldest recordings`,
  );
}

export function statsRoutes(routes: ApiRoutes, ctx: ApiContext): void {
  const history = new History(ctx.redis, ctx.config);
  const names = async () => new Map((await ctx.devices.listDevices()).map((d) => [d.serial, d] as const));
  const common = { method: 'get' as const, tag: 'statistics', access: 'token' as const, query: statsQuery };
  const badQuery = problem('a query parameter is not valid');

  routes.json(
    {
      ...common,
      path: '/stats/recordings',
      summary: 'Recordings per camera and day, and hours recorded',
      responses: {
        200: { description: 'per camera, one value per day', schema: recordingStatsBody },
        400: badQuery,
      },
    },
    async ({ query }) => {
      const [perDay, devices] = await Promise.all([ctx.store.perDay(query.days), names()]);
      return {
        days: perDay.days,
        cameras: perDay.cameras.map((c) => {
          const hours = c.seconds.map((s) => Math.round((s / 3600) * 1000) / 1000);
          return {
            device_sn: c.device_sn,
            name: devices.get(c.device_sn)?.name ?? null,
            recordings: c.count,
            hours,
            bytes: c.bytes,
            total_recordings: c.count.reduce((a, b) => a + b, 0),
            total_hours: Math.round((c.seconds.reduce((a, b) => a + b, 0) / 3600) * 1000) / 1000,
          };
        }),
      };
    },
  );

  routes.json(
    {
      ...common,
      path: '/stats/storage',
      summary: 'Storage used over time, and days until the disk is full at the recent rate',
      responses: {
        200: { description: 'samples and the forecast', schema: storageStatsBody },
        400: badQuery,
      },
    },
    async ({ query }) => {
      const now = Date.now();
      const [samples, disk, stats, recent] = await Promise.all([
        readStorageSamples(history, now - query.days * DAY_MS),
        readDisk(ctx.config.RECORDINGS_DIR),
        ctx.store.stats(),
        ctx.store.perDay(GROWTH_WINDOW_DAYS, now),
      ]);
      // The rate's window starts at the first of those days, or at the oldest recording if later.
      const windowStart = Math.max(Date.parse(recent.days[0]!), stats.oldest?.started_at ?? now);
      const coveredDays = Math.max(now - windowStart, 3_600_000) / DAY_MS;
      const recorded = recent.cameras.reduce((sum, c) => sum + c.bytes.reduce((a, b) => a + b, 0), 0);
      const current = disk.ok
        ? {
            at: now,
            recordings_bytes: stats.bytes,
            disk_used_bytes: disk.value.used_bytes,
            disk_free_bytes: disk.value.free_bytes,
            disk_total_bytes: disk.value.total_bytes,
          }
        : null;
      const last = current ?? samples.at(-1);
      return {
        samples: [...samples, ...(current ? [current] : [])].map((s) => ({ ...s, at: iso(s.at) })),
        min_free_bytes: ctx.config.MIN_FREE_DISK_BYTES,
        retention_days: ctx.config.RETENTION_DAYS,
        ...(last
          ? forecastStorage({
              growthBytesPerDay: recorded / coveredDays,
              recordingsBytes: stats.bytes,
              freeBytes: last.disk_free_bytes,
              minFreeBytes: ctx.config.MIN_FREE_DISK_BYTES,
              retentionDays: ctx.config.RETENTION_DAYS,
            })
          : { growth_bytes_per_day: 0, days_until_full: null, forecast: 'the disk could not be read' }),
      };
    },
  );

  routes.json(
    {
      ...common,
      path: '/stats/webhooks',
      summary: 'Webhook delivery attempts per day by outcome, and their latency',
      responses: { 200: { description: 'one value per day', schema: webhookStatsBody }, 400: badQuery },
    },
    async ({ query }) => {
      const perDay = await ctx.deliveryLog.perDay(query.days);
      const totals = Object.fromEntries(
        DELIVERY_OUTCOMES.map((o) => [o, perDay.outcomes[o].reduce((a, b) => a + b, 0)]),
      );
      return { ...perDay, totals };
    },
  );

  routes.json(
    {
      ...common,
      path: '/stats/cameras',
      summary: 'Camera online/offline history and battery level over time',
      responses: {
        200: { description: 'per camera, changes since `from`', schema: cameraStatsBody },
        400: badQuery,
      },
    },
    async ({ query }) => {
      // From the start of the first day shown, as the per-day charts.
      const from = Date.parse(utcDay(Date.now() - (query.days - 1) * DAY_MS));
      const cameras = (await ctx.devices.listDevices()).filter((d) => d.is_camera);
      return {
        from: iso(from),
        cameras: await Promise.all(
          cameras.map(async (d) => {
            const h = await ctx.devices.deviceHistory(d.serial, from);
            return {
              device_sn: d.serial,
              name: d.name,
              online: h.online.map((s) => ({ at: iso(s.at), online: s.online })),
              battery: h.battery.map((s) => ({ at: iso(s.at), level: s.level })),
            };
          }),
        ),
      };
    },
  );
}
