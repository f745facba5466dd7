import { createServer } from 'node:net';
import type { WebhookPayload } from '@eufy-relay/contracts';
import { USER_AGENT, WebhookSender, attemptVerdict, type AttemptResult } from '../src/sender';
import { WebhookReceiver } from '../src/testing';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const payload: WebhookPayload = {
  event: 'camera_offline',
  device_sn: 'T8600P2323209876',
  timestamp: '2025-01-30T08:00:00Z',
  reason: 'disconnected',
};

let receiver: WebhookReceiver;
let sender: WebhookSender;
beforeAll(async () => {
  receiver = await WebhookReceiver.start({ secret });
  sender = new WebhookSender({ url: receiver.url, secret, timeoutMs: 400, connections: 4 });
});
afterAll(async () => {
  await sender.close();
  await receiver.close();
});
beforeEach(() => {
  receiver.received.length = 0;
  receiver.reply = () => ({ status: 200 });
});

describe('WebhookSender', () => {
  it('POSTs the JSON payload with the Standard Webhooks headers, the dedup header and the user agent', async () => {
    const result = await sender.send('camera_offline.T8600P2323209876.1', payload);
    expect(result).toMatchObject({ outcome: 'response', statusCode: 200 });
    const [request] = receiver.received;
    expect(JSON.parse(request!.body)).toEqual(payload);
    expect(request!.signature).toBe('valid');
    expect(request!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': 'camera_offline.T8600P2323209876.1',
      'x-workato-dedup': 'camera_offline.T8600P2323209876.1',
    });
    expect(USER_AGENT).toMatch(/^eufy-relay\/\d+\.\d+\.\d+/);
    expect(Math.abs(Number(request!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
  });

  it('sends no signature without a secret', async () => {
    const unsigned = new WebhookSender({ url: receiver.url, timeoutMs: 400, connections: 1 });
    await unsigned.send('camera_offline.unsigned', payload);
    await unsigned.close();
    expect(receiver.received[0]!.headers['webhook-signature']).toBeUndefined();
    expect(receiver.received[0]!.signature).toBe('missing');
  });

  it('reuses one keep-alive connection for consecutive webhooks', async () => {
    const fresh = await WebhookReceiver.start();
    const keepAlive = new WebhookSender({ url: fresh.url, timeoutMs: 400, connections: 1 });
    for (let i = 0; i < 5; i++)
      expect(await keepAlive.send(`camera_offline.ka${i}`, payload)).toMatchObject({ statusCode: 200 });
    await keepAlive.close();
    await fresh.close();
    expect(fresh.received).toHaveLength(5);
    expect(fresh.connectionsOpened).toBe(1);
  });

  it('reports an error status with Retry-After and the start of the body', async () => {
    receiver.reply = () => ({ status: 429, headers: { 'retry-after': '2' }, body: '{"error":"slow down"}' });
    expect(await sender.send('camera_offline.429', payload)).toMatchObject({
      outcome: 'response',
      statusCode: 429,
      retryAfterMs: 2000,
      error: 'HTTP 429: {"error":"slow down"}',
    });
  });

  it('bounds an attempt by its timeout', async () => {
    receiver.reply = () => ({ status: 200, delayMs: 5000 });
    const t0 = Date.now();
    const result = await sender.send('camera_offline.slow', payload);
    expect(result).toMatchObject({
      outcome: 'no_response',
      aborted: false,
      error: 'no response within WEBHOOK_TIMEOUT_MS=400',
    });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('reports a refused connection', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const nowhere = new WebhookSender({
      url: `http://127.0.0.1:${closedPort}/`,
      timeoutMs: 400,
      connections: 1,
    });
    const result = await nowhere.send('camera_offline.refused', payload);
    await nowhere.close();
    expect(result).toMatchObject({ outcome: 'no_response', aborted: false });
    expect((result as { error: string }).error).toMatch(/ECONNREFUSED/);
  });

  it('stops at once when the job signal aborts (shutdown)', async () => {
    receiver.reply = () => ({ status: 200, delayMs: 5000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const t0 = Date.now();
    const result = await sender.send('camera_offline.abort', payload, controller.signal);
    expect(result).toMatchObject({ outcome: 'no_response', aborted: true });
    expect(Date.now() - t0).toBeLessThan(380);
  });
});

describe('attemptVerdict', () => {
  const response = (statusCode: number): AttemptResult => ({ outcome: 'response', statusCode, latencyMs: 1 });
  it.each([
    [200, 'delivered'],
    [204, 'delivered'],
    [301, 'rejected'],
    [400, 'rejected'],
    [401, 'rejected'],
    [404, 'rejected'],
    [408, 'retry'],
    [410, 'gone'],
    [429, 'rate_limited'],
    [500, 'retry'],
    [503, 'retry'],
  ])('HTTP %d → %s', (status, verdict) => {
    expect(attemptVerdict(response(status))).toBe(verdict);
  });

  it('retries when no response came back', () => {
    expect(attemptVerdict({ outcome: 'no_response', latencyMs: 400, error: 'timeout', aborted: false })).toBe(
      'retry',
    );
  });
});
