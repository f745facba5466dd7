import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import type { WebhookPayload } from '@eufy-relay/contracts';
import { parseRetryAfter } from './retry';
import { signWebhook } from './signing';

const VERSION = (
  JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
).version;
export const USER_AGENT = `eufy-relay/${VERSION} (webhook notifier)`;

/** How much of an error response's body the delivery log keeps. */
const ERROR_BODY_EXCERPT = 200;
/** Idle keep-alive connections to the receiver stay open this long (Workato closes earlier if it wants). */
const KEEP_ALIVE_MS = 30_000;

/** The headers of one attempt (docs/design.md, "Contracts"); `timestamp` in Unix seconds. */
export function webhookHeaders(
  webhookId: string,
  body: string,
  timestamp: number,
  secret: string | undefined,
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'webhook-id': webhookId,
    'webhook-timestamp': String(timestamp),
    ...(secret ? { 'webhook-signature': signWebhook(secret, webhookId, timestamp, body) } : {}),
    'x-workato-dedup': webhookId,
  };
}

export type AttemptResult =
  | { outcome: 'response'; statusCode: number; latencyMs: number; retryAfterMs?: number; error?: string }
  /** No HTTP response: connection refused or reset, DNS, TLS, the attempt's timeout, or shutdown. */
  | { outcome: 'no_response'; latencyMs: number; error: string; aborted: boolean };

export type AttemptVerdict =
  | 'delivered'
  /** 5xx, 408, timeouts, connection errors: try again on the retry schedule. */
  | 'retry'
  /** 429: wait as long as the receiver asks, and hold back the whole queue meanwhile. */
  | 'rate_limited'
  /** 410 Gone: the receiver says this endpoint no longer exists. */
  | 'gone'
  /** Any other 4xx, and redirects (a webhook URL must be the final one): retrying cannot help. */
  | 'rejected';

export function attemptVerdict(result: AttemptResult): AttemptVerdict {
  if (result.outcome === 'no_response') return 'retry';
  const status = result.statusCode;
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 429) return 'rate_limited';
  if (status === 410) return 'gone';
  if (status === 408 || status >= 500) return 'retry';
  return 'rejected';
}

export interface WebhookSenderOptions {
  url: string;
  secret?: string | undefined;
  /** Bound on one attempt: connecting, sending, the response headers and its body. */
  timeoutMs: number;
  /** Most simultaneous connections to the receiver. */
  connections: number;
}

/**
 * POSTs webhooks with undici over keep-alive connections. One call is one attempt: it never retries
 * (BullMQ owns retries, durably) and never throws for a delivery problem — it says what happened.
 */
export class WebhookSender {
  private readonly agent: Agent;

  constructor(private readonly options: WebhookSenderOptions) {
    this.agent = new Agent({
      connections: options.connections,
      keepAliveTimeout: KEEP_ALIVE_MS,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: options.timeoutMs },
    });
  }

  /** `signal` is the job's (shutdown): aborting it ends the attempt at once. */
  async send(webhookId: string, payload: WebhookPayload, signal?: AbortSignal): Promise<AttemptResult> {
    const body = JSON.stringify(payload);
    const headers = webhookHeaders(webhookId, body, Math.floor(Date.now() / 1000), this.options.secret);
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const started = performance.now();
    const latencyMs = () => Math.round(performance.now() - started);
    try {
      const response = await request(this.options.url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.agent,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const { statusCode } = response;
      if (statusCode >= 200 && statusCode < 300) {
        await response.body.dump();
        return { outcome: 'response', statusCode, latencyMs: latencyMs() };
      }
      const excerpt = await bodyExcerpt(response.body);
      const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
      const location = response.headers.location;
      return {
        outcome: 'response',
        statusCode,
        latencyMs: latencyMs(),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        error: `HTTP ${statusCode}${location ? ` redirect to ${String(location)} (not followed)` : ''}${excerpt ? `: ${excerpt}` : ''}`,
      };
    } catch (err) {
      const aborted = signal?.aborted === true;
      const error = timeout.aborted
        ? `no response within WEBHOOK_TIMEOUT_MS=${this.options.timeoutMs}`
        : aborted
          ? 'attempt aborted: the notifier is shutting down'
          : describeNetworkError(err);
      return { outcome: 'no_response', latencyMs: latencyMs(), error, aborted };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

async function bodyExcerpt(body: AsyncIterable<Buffer>): Promise<string> {
  let text = '';
  // Read to the end (so the connection can be reused) but keep only the start.
  for await (const chunk of body) {
    if (text.length < ERROR_BODY_EXCERPT) text += chunk.toString('utf8');
  }
  return text.slice(0, ERROR_BODY_EXCERPT).replace(/\s+/g, ' ').trim();
}

function describeNetworkError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  const code =
    typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const message = String(e.cause?.message ?? e.message ?? err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
