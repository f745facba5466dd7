import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ErrorReporter } from '@eufy-relay/errors';
import { start as startJanitor, cleanupResultSchema } from '@eufy-relay/janitor';
import { createLogger } from '@eufy-relay/logger';
import { start as startNotifier } from '@eufy-relay/notifier';
import { RecordingStore } from '@eufy-relay/recordings';
import { waitFor } from '@eufy-relay/testing';
import type { RunningRole } from '@eufy-relay/runtime';
import { enqueueWebhook, openWebhookQueue } from '@eufy-relay/webhooks';
import { WebhookReceiver } from '@eufy-relay/webhooks/testing';
import { errorsBody, webhookDeliveryView } from '../src/operations';
import { TOKEN, bearer, makeVideo, request, startApi, type TestApi } from './helpers';

const CAMERA = 'T8113P0223000002';
const silent = createLogger({ level: 'silent' });

describe('GET /errors', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startApi('errors', { ERROR_FOLD_SECONDS: '3600' });
  });
  afterAll(() => t.close());

  it('lists what the error reporter recorded, newest first, with folded repeats counted', async () => {
    const webhooks = openWebhookQueue(t.config, t.redis);
    const reporter = new ErrorReporter({ config: t.config, redis: t.redis, webhooks, logger: silent });
    const failure = new Error('livestream did not start');
    failure.name = 'LivestreamError';
    await reporter.report('start_livestream', failure, { retryCount: 3, context: { device_sn: CAMERA } });
    await reporter.report('start_livestream', failure, { retryCount: 3, context: { device_sn: CAMERA } });
    await reporter.report('probe_video', new Error('ffprobe timed out'), { retryCount: 0 });
    await webhooks.obliterate({ force: true });
    await webhooks.close();

    const r = await request(t.api.url, '/errors');
    expect(r.status).toBe(200);
    const { errors } = errorsBody.parse(r.json());
    expect(errors.map((e) => [e.operation, e.occurrences])).toEqual([
      ['probe_video', 1],
      ['start_livestream', 2],
    ]);
    expect(errors[1]).toMatchObject({
      error_type: 'LivestreamError',
      error_message: 'livestream did not start',
      retry_count: 3,
      context: { device_sn: CAMERA },
      traceback: expect.stringContaining('LivestreamError: livestream did not start'),
    });
    expect(errorsBody.parse((await request(t.api.url, '/errors?limit=1')).json()).errors).toHaveLength(1);
    expect((await request(t.api.url, '/errors?limit=0')).status).toBe(400);
  });
});

describe('POST /cleanup', () => {
  let t: TestApi;
  let janitor: RunningRole | undefined;
  const slowProbe = () => path.join(t.dir, 'slow-ffprobe.sh');
  beforeAll(async () => {
    t = await startApi('cleanup', { API_TOKEN: TOKEN, RETENTION_DAYS: '30', CLEANUP_WAIT_SECONDS: '1.5' });
    // ffprobe that takes its time: makes a run long enough to outlast CLEANUP_WAIT_SECONDS.
    writeFileSync(slowProbe(), '#!/bin/sh\nsleep 3\nexec ffprobe "$@"\n');
    chmodSync(slowProbe(), 0o755);
  });
  afterAll(async () => {
    await janitor?.stop();
    await t.close();
  });
  const post = () => request(t.api.url, '/cleanup', { method: 'POST', headers: bearer() });
  const runs = async () =>
    (await request(t.api.url, '/cleanup', { headers: bearer() })).json().runs as unknown[];

  it('is an admin route', async () => {
    expect((await request(t.api.url, '/cleanup', { method: 'POST' })).status).toBe(401);
    const open = await startApi('cleanup-open');
    const refused = await request(open.api.url, '/cleanup', { method: 'POST' });
    await open.close();
    expect(refused.status).toBe(403);
    expect(refused.json().error.code).toBe('admin_disabled');
  });

  it('answers 503 and withdraws the run when no janitor takes it in time', async () => {
    const r = await post();
    expect(r.status).toBe(503);
    expect(r.json().error.code).toBe('janitor_unavailable');
    // Withdrawn: no janitor starting later runs a stale request.
    const health = (await request(t.api.url, '/health', { headers: bearer() })).json();
    expect(health.checks.queues.depths.janitor).toMatchObject({ waiting: 0, active: 0 });
  });

  it('runs the janitor now and returns what it did', async () => {
    janitor = await startJanitor(t.config, { logger: silent, ffprobePath: slowProbe() });
    // The janitor's first scheduled run happens at once; wait for it so the queue is idle.
    await waitFor('the first scheduled run', async () => (await runs()).length >= 1);
    const store = new RecordingStore(t.redis, t.config);
    const old = await store.create({ device_sn: CAMERA, started_at: Date.now() - 40 * 24 * 3600_000 });
    await store.finish(old.id, {
      status: 'completed',
      video_status: 'completed',
      ended_at: old.started_at + 1000,
      duration_seconds: 1,
      stop_reason: 'motion_timeout',
      bytes: 10,
    });
    const video = path.join(t.config.RECORDINGS_DIR, `${old.id}.mp4`);
    writeFileSync(video, Buffer.alloc(10));

    const r = await post();
    expect(r.status).toBe(200);
    const result = cleanupResultSchema.parse(r.json());
    expect(result).toMatchObject({
      trigger: 'manual',
      deleted: { retention: 1, disk_pressure: 0 },
      bytes_freed: 10,
    });
    expect(existsSync(video)).toBe(false);
    expect(await store.get(old.id)).toBeNull();
    const history = await runs();
    expect(history[0]).toMatchObject({ job_id: result.job_id, trigger: 'manual' });
  });

  it('answers 202 with the job id when the run outlasts CLEANUP_WAIT_SECONDS, and the result lands in GET /cleanup', async () => {
    // A video the index does not know: the janitor probes it, slowly.
    makeVideo(path.join(t.config.RECORDINGS_DIR, `${CAMERA}_20260301_120000.mp4`), 1);
    const r = await post();
    expect({ status: r.status, body: r.json() }).toMatchObject({ status: 202 });
    const { job_id, status } = r.json();
    expect(status).toBe('running');
    const history = await waitFor('the long run in the history', async () => {
      const h = await runs();
      return (h[0] as { job_id?: string } | undefined)?.job_id === job_id && h;
    });
    expect(cleanupResultSchema.parse(history[0]).repairs.indexed).toBe(1);
  });

  it('answers 500 naming the failure when the run fails', async () => {
    rmSync(t.config.RECORDINGS_DIR, { recursive: true });
    const r = await post();
    expect({ status: r.status, body: r.json() }).toMatchObject({ status: 500 });
    expect(r.json().error).toMatchObject({
      code: 'cleanup_failed',
      message: expect.stringMatching(/^cleanup run .* failed: GET \/errors and the janitor's log say why$/),
    });
    // The janitor's reason names the missing directory: it goes to the log, never into the answer.
    expect(r.text).not.toContain(t.config.RECORDINGS_DIR);
  });
});

describe('webhook deliveries and replay', () => {
  let t: TestApi;
  let notifier: RunningRole;
  let receiver: WebhookReceiver;
  const payload = (n: number) => ({
    event: 'low_battery' as const,
    device_sn: CAMERA,
    timestamp: '2026-03-01T12:00:00Z',
    battery_level: n,
  });
  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    t = await startApi('webhooks', { API_TOKEN: TOKEN, WORKATO_WEBHOOK_URL: receiver.url });
    notifier = await startNotifier(t.config, { logger: silent });
  });
  afterAll(async () => {
    await notifier.stop();
    await t.close();
    await receiver.close();
  });
  const get = (p: string) => request(t.api.url, p, { headers: bearer() });
  const replay = (id: string, headers: Record<string, string> = bearer()) =>
    request(t.api.url, `/webhooks/${id}/replay`, { method: 'POST', headers });

  it('shows a dead webhook with its attempts, replays it with its original id, and refuses a second replay', async () => {
    // The receiver refuses the first delivery with a 400, which is not retried: the webhook is dead.
    receiver.reply = (_req, earlier) => (earlier === 0 ? { status: 400, body: 'no' } : { status: 200 });
    const queue = openWebhookQueue(t.config, t.redis);
    await enqueueWebhook(queue, payload(15), { webhookId: `low_battery.${CAMERA}.1` });
    await queue.close();
    const id = `low_battery.${CAMERA}.1`;
    const dead = await waitFor('the dead webhook', async () => {
      const w = webhookDeliveryView.parse((await get(`/webhooks/${id}`)).json());
      return w.state === 'failed' && w;
    });
    expect(dead.attempts).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'failed', status_code: 400 }),
    ]);

    expect((await replay(id, {})).status).toBe(401);
    const r = await replay(id);
    expect(r.status).toBe(202);
    expect(r.json()).toEqual({ webhook_id: id, outcome: 'requeued' });
    const delivered = await waitFor('the replayed webhook delivered', async () => {
      const w = webhookDeliveryView.parse((await get(`/webhooks/${id}`)).json());
      return w.state === 'completed' && w;
    });
    expect(delivered.attempts.map((a) => [a.outcome, a.status_code])).toEqual([
      ['failed', 400],
      ['delivered', 200],
    ]);
    // (The dead delivery also raised a system_error webhook, as the notifier should.)
    expect(receiver.received.filter((w) => w.webhookId === id)).toHaveLength(2);

    const again = await replay(id);
    expect(again.status).toBe(409);
    expect(again.json().error.code).toBe('already_delivered');

    const log = (await get('/webhooks?limit=5')).json();
    expect(log.webhooks[0]).toMatchObject({ webhook_id: id, state: 'completed' });
  });

  it('refuses to replay what is not dead, unknown or malformed', async () => {
    await notifier.stop();
    const queue = openWebhookQueue(t.config, t.redis);
    await enqueueWebhook(queue, payload(14), { webhookId: `low_battery.${CAMERA}.2` });
    await queue.close();
    const waiting = await replay(`low_battery.${CAMERA}.2`);
    expect(waiting.status).toBe(409);
    expect(waiting.json().error).toMatchObject({
      code: 'not_dead',
      message: expect.stringContaining('waiting'),
    });
    expect((await get(`/webhooks/low_battery.${CAMERA}.2`)).json()).toEqual({
      webhook_id: `low_battery.${CAMERA}.2`,
      state: 'waiting',
      attempts: [],
    });
    expect((await replay('no.such.webhook')).status).toBe(404);
    expect((await get('/webhooks/no.such.webhook')).status).toBe(404);
    expect((await replay('bad%3Aid')).json().error.code).toBe('invalid_webhook_id');
    expect((await get('/webhooks/bad%3Aid')).status).toBe(400);
  });
});
