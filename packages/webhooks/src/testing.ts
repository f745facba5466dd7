import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { verifyWebhookSignature, type WebhookSignatureCheck } from './signing';

/**
 * A webhook receiver for tests: a real HTTP server on 127.0.0.1 standing in for Workato. It records
 * every request, checks its Standard Webhooks signature the way a receiver must (raw body), answers
 * as told, and can go down (connection refused) and come back on the same port.
 */
export interface ReceivedWebhook {
  /** Arrival, in performance.now() milliseconds (monotonic). */
  at: number;
  headers: IncomingHttpHeaders;
  /** The raw body as received. */
  body: string;
  webhookId: string | undefined;
  /** 'unsigned' when the receiver has no secret to check with. */
  signature: WebhookSignatureCheck | 'unsigned';
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (a slow or hanging receiver). */
  delayMs?: number;
}

/** Decides the reply to a request; `earlier` is how many requests with its webhook-id came before. */
export type ReplyPolicy = (request: ReceivedWebhook, earlier: number) => Reply;

export const ACCEPT_ALL: ReplyPolicy = () => ({ status: 200, body: '{"ok":true}' });

/**
 * The most arrivals inside any one-second span [t, t + 1000 ms) that starts at an arrival: what a
 * receiver with a per-second limit counts. Times in milliseconds, in any order.
 */
export function busiestSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]! < sorted[start]! + 1000) end++;
    most = Math.max(most, end - start);
  }
  return most;
}

export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  reply: ReplyPolicy = ACCEPT_ALL;
  /** TCP connections accepted so far (keep-alive means few). */
  connectionsOpened = 0;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    private readonly port: number,
    private readonly secret: string | undefined,
  ) {}

  static async start(options: { secret?: string } = {}): Promise<WebhookReceiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver = new WebhookReceiver(server, (server.address() as AddressInfo).port, options.secret);
    server.on('connection', (socket) => {
      receiver.connectionsOpened++;
      receiver.sockets.add(socket);
      socket.on('close', () => receiver.sockets.delete(socket));
    });
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const webhookId = req.headers['webhook-id'] as string | undefined;
        const request: ReceivedWebhook = {
          at: performance.now(),
          headers: req.headers,
          body: body.toString('utf8'),
          webhookId,
          signature: receiver.secret
            ? verifyWebhookSignature(receiver.secret, req.headers, body)
            : 'unsigned',
        };
        const earlier = receiver.received.filter((r) => r.webhookId === webhookId).length;
        receiver.received.push(request);
        const reply = receiver.reply(request, earlier);
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
          res.end(reply.body ?? '');
        };
        if (!reply.delayMs) return send();
        const timer = setTimeout(() => {
          receiver.timers.delete(timer);
          send();
        }, reply.delayMs);
        receiver.timers.add(timer);
      });
    });
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/webhooks/workato`;
  }

  /** Requests whose body parses to a payload with this event name. */
  payloads<T = Record<string, unknown>>(event?: string): T[] {
    return this.received
      .map((r) => JSON.parse(r.body) as T & { event?: string })
      .filter((p) => event === undefined || p.event === event);
  }

  /** Polls until `check` holds; throws after `timeoutMs` (a hang guard, not a speed target). */
  async waitFor(check: (received: ReceivedWebhook[]) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this.received)) {
      if (Date.now() > deadline) {
        throw new Error(
          `receiver: condition not met within ${timeoutMs} ms (${this.received.length} received)`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stops listening and drops open connections: senders now get "connection refused". */
  async down(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    if (this.server.listening) await this.down();
  }
}
