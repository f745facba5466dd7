import { Worker, type Job } from 'bullmq';
import {
  InvalidJobPayloadError,
  QUEUES,
  SEED_WEBHOOK_EXAMPLES,
  addJob,
  checkRecordingSignature,
  deliverWebhookJob,
  motionSignalJob,
  offlineCheckJob,
  openQueue,
  parseJobData,
  parseRecordingId,
  recordingId,
  recordingUrl,
  utcTimestamp,
  validatedProcessor,
  webhookPayload,
  type JobQueue,
} from '../src';

const seed = SEED_WEBHOOK_EXAMPLES;

describe('webhook payloads', () => {
  it.each(Object.entries(seed))('accepts the seed example of %s unchanged', (_name, example) => {
    expect(webhookPayload.parse(example)).toEqual(example);
  });

  it.each([
    [
      'a timestamp with milliseconds',
      { ...seed.low_battery, timestamp: '2025-01-30T10:15:00.000Z' },
      'timestamp',
    ],
    [
      'a timestamp with an offset',
      { ...seed.low_battery, timestamp: '2025-01-30T10:15:00+01:00' },
      'timestamp',
    ],
    ['a battery level over 100', { ...seed.low_battery, battery_level: 101 }, 'battery_level'],
    ['a fractional battery level', { ...seed.low_battery, battery_level: 15.5 }, 'battery_level'],
    ['an unknown extra field', { ...seed.camera_offline, severity: 'high' }, ''],
    ['a missing reason', { ...seed.camera_offline, reason: undefined }, 'reason'],
    ['a wrong video_status', { ...seed.motion_detected, video_status: 'completed' }, 'video_status'],
    [
      'a video URL of another shape',
      { ...seed.motion_detected, video_url: 'https://x/videos/abc.mp4' },
      'video_url',
    ],
    ['a device serial with a slash', { ...seed.low_battery, device_sn: '../etc' }, 'device_sn'],
    ['a negative duration', { ...seed.motion_stopped, duration_seconds: -1 }, 'duration_seconds'],
    ['an unknown event', { ...seed.low_battery, event: 'battery_low' }, 'event'],
  ])('rejects %s', (_what, payload, field) => {
    const result = webhookPayload.safeParse(payload);
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.'))).toContain(field);
  });
});

describe('recording ids and URLs', () => {
  const start = Date.UTC(2025, 0, 30, 14, 30, 22, 500);

  it('builds the seed id and URL from the UTC start', () => {
    const id = recordingId('T8600P2323209876', start);
    expect(id).toBe('T8600P2323209876_20250130_143022');
    expect(recordingUrl('https://your-app.onrender.com/', id)).toBe(seed.motion_detected.video_url);
    expect(parseRecordingId(id)).toEqual({
      deviceSn: 'T8600P2323209876',
      startedAt: new Date(Date.UTC(2025, 0, 30, 14, 30, 22)),
    });
    expect(utcTimestamp(start)).toBe('2025-01-30T14:30:22Z');
    expect(parseRecordingId('T1_20240229_235959')?.startedAt).toEqual(
      new Date(Date.UTC(2024, 1, 29, 23, 59, 59)),
    );
  });

  it('rejects ids that are not recordings', () => {
    for (const bad of [
      'T1_20250130_143022.mp4',
      '../T1_20250130_143022',
      'T1_20251330_143022',
      'T_1_20250130_143022',
      'T1_20250130_246099',
      'T1_20250230_143022',
      'T1_20250100_143022',
      'T1_20250130_240000',
      'T1_09990130_143022',
    ]) {
      expect(parseRecordingId(bad)).toBeNull();
    }
    expect(() => recordingId('T1/..', start)).toThrow('invalid device serial');
  });

  it('signs URLs that verify, and detects tampering and expiry', () => {
    const id = recordingId('T1', start);
    const signing = { secret: 'a-long-signing-secret', ttlSeconds: 60 };
    const url = new URL(recordingUrl('http://h', id, { signing, now: start }));
    const query = Object.fromEntries(url.searchParams);
    expect(url.pathname).toBe(`/recordings/${id}.mp4`);
    expect(checkRecordingSignature(id, query, signing.secret, start + 1000)).toBe('valid');
    expect(checkRecordingSignature(id, query, signing.secret, start + 61_000)).toBe('expired');
    expect(
      checkRecordingSignature(
        id,
        { ...query, expires: String(Number(query.expires) + 1) },
        signing.secret,
        start,
      ),
    ).toBe('invalid');
    expect(checkRecordingSignature(recordingId('T2', start), query, signing.secret, start)).toBe('invalid');
    expect(checkRecordingSignature(id, query, 'another-secret-entirely', start)).toBe('invalid');
    expect(checkRecordingSignature(id, {}, signing.secret, start)).toBe('missing');
    expect(webhookPayload.safeParse({ ...seed.motion_detected, video_url: url.toString() }).success).toBe(
      true,
    );
  });
});

describe('job contracts', () => {
  it('parses a valid motion signal and explains an invalid one', () => {
    const ok = {
      device_sn: 'T1',
      kind: 'person',
      state: true,
      at: '2025-01-30T14:30:22.123Z',
      source_event: 'person detected',
    };
    expect(parseJobData(motionSignalJob, ok)).toEqual(ok);
    expect(() => parseJobData(motionSignalJob, { ...ok, kind: 'cat', state: 'yes' })).toThrow(
      InvalidJobPayloadError,
    );
    expect(() => parseJobData(motionSignalJob, { ...ok, kind: 'cat' })).toThrow(
      /invalid motion\/motion-signal payload: kind: /,
    );
  });

  it('parses an offline check and refuses one without a parseable outage start', () => {
    const ok = { device_sn: 'T8113P0223000002', outage_started_at: '2025-01-30T08:00:00.000Z' };
    expect(offlineCheckJob.queue).toBe(QUEUES.alerts);
    expect(parseJobData(offlineCheckJob, ok)).toEqual(ok);
    expect(() => parseJobData(offlineCheckJob, { ...ok, outage_started_at: 'yesterday' })).toThrow(
      /invalid alerts\/offline-check payload: outage_started_at: /,
    );
  });
});

describe('jobs through a real Redis', () => {
  const prefix = `eufy-relay-test-contracts-${process.pid}`;
  const connection = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', maxRetriesPerRequest: null };
  let queue: JobQueue<typeof deliverWebhookJob>;

  beforeAll(() => {
    queue = openQueue(deliverWebhookJob, { connection, prefix });
  });
  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  });

  it('addJob refuses an invalid payload before it reaches Redis', async () => {
    await expect(
      addJob(queue, deliverWebhookJob, {
        webhook_id: 'a:b',
        payload: seed.low_battery,
        created_at: new Date().toISOString(),
      } as never),
    ).rejects.toThrow(/webhook_id/);
    // @ts-expect-error the motion job does not belong on the webhooks queue (the type check says so too)
    await expect(addJob(queue, motionSignalJob, {} as never)).rejects.toThrow(/belongs on queue motion/);
    expect(await queue.count()).toBe(0);
  });

  it('a worker fails a malformed job once, without retrying or crashing, and processes the next', async () => {
    const handled: string[] = [];
    const failed: { id?: string; reason: string; attempts: number }[] = [];
    const worker = new Worker(
      QUEUES.webhooks,
      validatedProcessor(deliverWebhookJob, async (data) => {
        handled.push(data.webhook_id);
      }),
      { connection, prefix },
    );
    worker.on('failed', (job: Job | undefined, err) =>
      failed.push({ id: job?.id, reason: err.message, attempts: job?.attemptsMade ?? -1 }),
    );
    // A producer that bypasses the contract (old version, hand-written job) puts junk on the queue.
    await queue.add(
      'deliver-webhook',
      // @ts-expect-error a hand-written payload that breaks the contract (the typed handle refuses it)
      { webhook_id: 'w1', payload: { event: 'nope' } },
      { jobId: 'bad', attempts: 5 },
    );
    await addJob(
      queue,
      deliverWebhookJob,
      { webhook_id: 'w2', payload: seed.low_battery, created_at: new Date().toISOString() },
      { jobId: 'good' },
    );
    const deadline = Date.now() + 10_000;
    while ((handled.length < 1 || failed.length < 1) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await worker.close();
    expect(handled).toEqual(['w2']);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ id: 'bad', attempts: 1 });
    expect(failed[0]!.reason).toMatch(/^invalid webhooks\/deliver-webhook payload: payload.event: /);
  });
});
