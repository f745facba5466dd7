import { signWebhook } from '@eufy-relay/webhooks';
import { startWebhookInbox, type WebhookInbox } from '../src';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
let inbox: WebhookInbox;

beforeAll(async () => {
  inbox = await startWebhookInbox({ port: 0, secret, capacity: 3, maxBodyBytes: 2048 });
});
afterAll(() => inbox.close());

async function post(body: string, headers: Record<string, string> = {}) {
  return fetch(`${inbox.url}/hooks`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function signed(id: string, body: string, tamper = false) {
  const ts = Math.floor(Date.now() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': signWebhook(secret, id, ts, tamper ? `${body} ` : body),
  };
}

describe('webhook inbox', () => {
  it('keeps what arrives, newest first, with its signature verdict', async () => {
    const body = JSON.stringify({
      event: 'low_battery',
      device_sn: 'T1',
      timestamp: '2025-01-30T10:15:00Z',
      battery_level: 15,
    });
    expect((await post(body, signed('w1', body))).status).toBe(200);
    expect((await post(body, signed('w2', body, true))).status).toBe(200);
    expect((await post('not json')).status).toBe(200);
    const messages = (await (await fetch(`${inbox.url}/messages`)).json()) as {
      webhook_id: string | null;
      signature: string;
      payload: unknown;
      raw: string | null;
    }[];
    expect(messages.map((m) => [m.webhook_id, m.signature])).toEqual([
      [null, 'missing'],
      ['w2', 'invalid'],
      ['w1', 'valid'],
    ]);
    expect(messages[2]!.payload).toMatchObject({ event: 'low_battery', battery_level: 15 });
    expect(messages[0]!.raw).toBe('not json');
  });

  it('keeps at most its capacity and refuses oversize bodies with 413', async () => {
    expect((await post('{"event":"x"}', { 'webhook-id': 'w4' })).status).toBe(200);
    expect(inbox.messages()).toHaveLength(3);
    expect(inbox.messages()[0]!.webhook_id).toBe('w4');
    const res = await post(JSON.stringify({ big: 'x'.repeat(4096) }));
    expect(res.status).toBe(413);
    expect(inbox.messages()).toHaveLength(3);
  });

  it('shows the messages on a page, escaped, with video links', async () => {
    const body = JSON.stringify({
      event: 'motion_detected',
      device_sn: '<script>',
      video_url: 'http://localhost:8080/recordings/T1_20250130_143022.mp4',
    });
    await post(body, signed('w5', body));
    const page = await (await fetch(`${inbox.url}/`)).text();
    expect(page).toContain('<b>motion_detected</b>');
    expect(page).toContain('&lt;script&gt;');
    expect(page).not.toContain('<script>');
    expect(page).toContain('<a href="http://localhost:8080/recordings/T1_20250130_143022.mp4">video</a>');
    expect((await fetch(`${inbox.url}/`, { method: 'PUT' })).status).toBe(405);
  });
});
