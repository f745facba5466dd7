import { webhookPayload, type WebhookPayload } from '@eufy-relay/contracts';
import type { ReceivedWebhook, WebhookReceiver } from '@eufy-relay/webhooks/testing';
import { ffprobe, waitFor, type Stack } from './harness';

// What the receiver got, read the way Workato does: de-duplicated by webhook-id (a retry of a request
// whose answer was lost is the same webhook, and must be byte-for-byte the same); each request must
// carry a valid Standard Webhooks signature, and its payload must be one of the contract.

export interface Delivery {
  id: string;
  /** Arrival of its first request, performance.now() ms. */
  at: number;
  payload: WebhookPayload;
}

/** Every webhook the receiver got, once per webhook-id, checked (signature, headers, schema), in arrival order. */
export function deliveries(receiver: WebhookReceiver): Delivery[] {
  const byId = new Map<string, { body: string; delivery: Delivery }>();
  for (const request of receiver.received) {
    const problems = requestProblems(request);
    if (problems.length) throw new Error(`bad webhook request: ${problems.join('; ')}\n${request.body}`);
    const seen = byId.get(request.webhookId!);
    if (seen) {
      if (seen.body !== request.body) {
        throw new Error(
          `webhook ${request.webhookId} retried with another body:\n${seen.body}\n${request.body}`,
        );
      }
      continue;
    }
    const payload = webhookPayload.parse(JSON.parse(request.body));
    byId.set(request.webhookId!, {
      body: request.body,
      delivery: { id: request.webhookId!, at: request.at, payload },
    });
  }
  return [...byId.values()].map((v) => v.delivery);
}

function requestProblems(request: ReceivedWebhook): string[] {
  const problems: string[] = [];
  if (request.signature !== 'valid') problems.push(`signature ${request.signature}`);
  if (!request.webhookId) problems.push('no webhook-id');
  if (request.headers['x-workato-dedup'] !== request.webhookId) problems.push('X-Workato-Dedup ≠ webhook-id');
  if (!String(request.headers['content-type']).startsWith('application/json')) problems.push('not JSON');
  return problems;
}

export function ofEvent<E extends WebhookPayload['event']>(
  list: readonly Delivery[],
  event: E,
  deviceSn?: string,
): (Delivery & { payload: Extract<WebhookPayload, { event: E }> })[] {
  return list.filter(
    (d): d is Delivery & { payload: Extract<WebhookPayload, { event: E }> } =>
      d.payload.event === event &&
      (deviceSn === undefined || ('device_sn' in d.payload && d.payload.device_sn === deviceSn)),
  );
}

/** Waits for the n-th (1-based) delivery of an event (for one camera), and returns it. */
export async function waitForEvent<E extends WebhookPayload['event']>(
  receiver: WebhookReceiver,
  stack: Stack,
  event: E,
  deviceSn: string,
  options: { count?: number; timeoutMs?: number; match?: (d: Delivery) => boolean } = {},
): Promise<Delivery & { payload: Extract<WebhookPayload, { event: E }> }> {
  const count = options.count ?? 1;
  const match = options.match ?? (() => true);
  return waitFor(
    `${event} #${count} for ${deviceSn}`,
    () => ofEvent(deliveries(receiver), event, deviceSn).filter(match)[count - 1],
    options.timeoutMs ?? 20_000,
    () => `received: ${receiver.received.map((r) => r.body).join('\n')}\n${stack.tails()}`,
  );
}

/**
 * The invariants every fault must keep: no event sent twice under two webhook ids (one
 * motion_detected and one motion_stopped per recording), every recording that started also stopped
 * (none lost), completed, and its video URL plays through the api.
 */
export async function expectNothingLostOrDuplicated(receiver: WebhookReceiver): Promise<void> {
  const list = deliveries(receiver);
  const started = ofEvent(list, 'motion_detected').map((d) => d.payload.video_url);
  const stopped = ofEvent(list, 'motion_stopped').map((d) => d.payload.video_url);
  expect(started.filter((u, i) => started.indexOf(u) !== i)).toEqual([]);
  expect(stopped.filter((u, i) => stopped.indexOf(u) !== i)).toEqual([]);
  expect([...stopped].sort()).toEqual([...started].sort());

  for (const d of ofEvent(list, 'motion_stopped')) {
    expect({ url: d.payload.video_url, status: d.payload.video_status }).toEqual({
      url: d.payload.video_url,
      status: 'completed',
    });
    await expectPlayable(d.payload.video_url);
  }
}

/** ffprobe reads an H.264 video stream from it (a URL served by the api, or a file). */
export async function expectPlayable(target: string): Promise<void> {
  const probe = await ffprobe(target);
  expect(probe.streams.filter((s) => s.codec_type === 'video').map((s) => s.codec_name)).toEqual(['h264']);
}
