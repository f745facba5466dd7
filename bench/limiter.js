// Limiter accuracy: the notifier role as its own process (`node apps/notifier/dist/main.js`) drains a
// backlog of queued webhooks into a local WebhookReceiver; the delivered rate (arrivals over the
// span they took) and the busiest one-second window are compared with WEBHOOK_RATE_LIMIT_PER_SECOND.
// Private redis-server; one run per limit, each bounded to about RUN_SECONDS.
const { spawn } = require('node:child_process');
const { join } = require('node:path');
const { loadConfig } = require('../packages/config/dist');
const { createRedis, redisReady } = require('../packages/runtime/dist');
const { enqueueWebhook, openWebhookQueue } = require('../packages/webhooks/dist');
const { WebhookReceiver, busiestSecond } = require('../packages/webhooks/dist/testing');
const { deliveryStarts } = require('../apps/notifier/dist');
const { ROOT, figure, managed, startRedis, waitFor } = require('./lib');

const LIMITS = [10, 20, 50, 100];
const RUN_SECONDS = 8;
const SECRET = `whsec_${Buffer.from('eufy-relay bench limiter').toString('base64')}`;

async function measure(limit, redisUrl) {
  const receiver = await WebhookReceiver.start({ secret: SECRET });
  const env = {
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `eufy-relay-bench-limiter-${limit}-${process.pid}`,
    WORKATO_WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_RATE_LIMIT_PER_SECOND: String(limit),
    LOG_LEVEL: 'warn',
  };
  const config = loadConfig({ env });
  const redis = createRedis(config, 'producer', 'bench-limiter');
  const queue = openWebhookQueue(config, redis);
  const notifier = managed(
    spawn(process.execPath, [join(ROOT, 'apps/notifier/dist/main.js')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    }),
    'notifier',
  );
  try {
    await redisReady(redis);
    await waitFor('the notifier to log ready', () => /"msg":"ready"/.test(notifier.output()), 15_000);
    const count = limit * RUN_SECONDS + 1;
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        enqueueWebhook(
          queue,
          {
            event: 'low_battery',
            device_sn: 'T8600P2323209876',
            timestamp: '2026-01-30T10:15:00Z',
            battery_level: i % 101,
          },
          { webhookId: `low_battery.bench${i}` },
        ),
      ),
    );
    await receiver.waitFor((r) => r.length >= count, RUN_SECONDS * 3000 + 10_000);
    const times = receiver.received.map((r) => r.at).sort((a, b) => a - b);
    const rate = ((times.length - 1) / (times[times.length - 1] - times[0])) * 1000;
    return {
      limit,
      delivered: times.length,
      unique: new Set(receiver.received.map((r) => r.webhookId)).size,
      validSignatures: receiver.received.filter((r) => r.signature === 'valid').length,
      rate: +rate.toFixed(2),
      errorPercent: +(((rate - limit) / limit) * 100).toFixed(2),
      busiestSecond: busiestSecond(times),
      meanGapMs: +((times[times.length - 1] - times[0]) / (times.length - 1)).toFixed(2),
      starts: deliveryStarts(limit),
    };
  } finally {
    await notifier.stop();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await redis.quit().catch(() => redis.disconnect());
    await receiver.close();
  }
}

async function run() {
  const redis = await startRedis();
  const figures = [];
  try {
    for (const limit of LIMITS) {
      const m = await measure(limit, redis.url);
      const above = m.busiestSecond > limit;
      figures.push(
        figure({
          name: `limiter at ${limit}/s: delivered rate error`,
          value: m.errorPercent,
          unit: '%',
          target: '± 5',
          why:
            'a delivery holds its place at the receiver for 1 s plus its own response time (that is what keeps ' +
            'any second at the receiver at the limit or under), so the rate is the limit × 1 s / (1 s + the ' +
            'response time); a slow receiver or a loaded machine lowers it.',
          note:
            `${m.delivered} webhooks (${m.unique} distinct, ${m.validSignatures} validly signed) at ${m.rate}/s; ` +
            `busiest one-second window ${m.busiestSecond} (${above ? 'ABOVE' : 'not above'} the limit); ` +
            `mean gap ${m.meanGapMs} ms; starts paced ${m.starts.max} per ${m.starts.duration} ms; each request holds its place at the receiver for 1 s plus its own response time`,
          details: m,
        }),
      );
      if (above) {
        // "Never above" is a target of its own: the rate may be within ±5 % and still burst over.
        const over = m.busiestSecond - limit;
        Object.assign(figures[figures.length - 1], {
          met: false,
          missBy: `${over} over the limit in one second (+${((over / limit) * 100).toFixed(1)} %)`,
        });
      }
    }
  } finally {
    await redis.stop();
  }
  return figures;
}

module.exports = { run };
