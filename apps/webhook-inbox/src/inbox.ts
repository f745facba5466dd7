import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature, type WebhookSignatureCheck } from '@eufy-relay/webhooks';

/** One webhook as the inbox received it. */
export interface InboxMessage {
  received_at: string;
  path: string;
  webhook_id: string | null;
  /** 'unsigned' when the inbox has no secret to check with. */
  signature: WebhookSignatureCheck | 'unsigned';
  /** The parsed JSON body, or null when the body was not JSON (then `raw` holds it). */
  payload: Record<string, unknown> | null;
  raw: string | null;
}

export interface WebhookInboxOptions {
  host?: string;
  port?: number;
  /** WEBHOOK_SECRET of the product, to check signatures the way a receiver must. */
  secret?: string | undefined;
  /** Newest messages kept; older ones are dropped. */
  capacity?: number;
  /** Larger bodies get 413 (Workato's own limit is far above any eufy-relay payload). */
  maxBodyBytes?: number;
}

export interface WebhookInbox {
  url: string;
  /** Newest first. */
  messages(): InboxMessage[];
  close(): Promise<void>;
}

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function renderPage(messages: InboxMessage[], secretSet: boolean): string {
  const rows = messages
    .map((m) => {
      const p = m.payload ?? {};
      const video = typeof p.video_url === 'string' ? `<a href="${escape(p.video_url)}">video</a>` : '';
      return `<tr><td>${escape(m.received_at)}</td><td><b>${escape(String(p.event ?? '?'))}</b></td>
<td>${escape(String(p.device_sn ?? p.operation ?? ''))}</td><td class="${m.signature}">${m.signature}</td><td>${video}</td>
<td><details><summary>${escape(m.webhook_id ?? '(no id)')}</summary><pre>${escape(m.payload ? JSON.stringify(m.payload, null, 2) : (m.raw ?? ''))}</pre></details></td></tr>`;
    })
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>eufy-relay webhook inbox</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
.valid{color:#080}.invalid,.expired,.missing{color:#b00}pre{margin:0;font-size:12px}</style></head>
<body><h1>Webhook inbox</h1><p>What Workato would receive (newest first, refreshes every 3 s).
Signatures are ${secretSet ? 'checked with WEBHOOK_SECRET' : 'not checked (no WEBHOOK_SECRET)'}.
JSON: <a href="/messages">/messages</a>.</p>
<table><tr><th>received</th><th>event</th><th>device / operation</th><th>signature</th><th>video</th><th>webhook-id / payload</th></tr>
${rows || '<tr><td colspan="6">nothing yet: trigger motion in the simulator</td></tr>'}</table></body></html>`;
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const v = headers[name];
  return typeof v === 'string' ? v : null;
}

/**
 * A stand-in for the Workato webhook endpoint, for the demo: accepts POSTs on any path, checks the
 * Standard Webhooks signature on the raw body, keeps the newest messages in memory, and shows them
 * on a page (GET /) and as JSON (GET /messages).
 */
export async function startWebhookInbox(options: WebhookInboxOptions = {}): Promise<WebhookInbox> {
  const capacity = options.capacity ?? 500;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const messages: InboxMessage[] = [];

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/messages') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(messages));
      return;
    }
    if (req.method === 'GET' && path === '/') {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(renderPage(messages, !!options.secret));
      return;
    }
    if (req.method !== 'POST') {
      res
        .writeHead(405, { 'content-type': 'application/json', allow: 'GET, POST' })
        .end('{"error":"method not allowed"}');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        res
          .writeHead(413, { 'content-type': 'application/json', connection: 'close' })
          .end('{"error":"body too large"}');
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      const raw = Buffer.concat(chunks).toString('utf8');
      let payload: Record<string, unknown> | null = null;
      try {
        const parsed: unknown = JSON.parse(raw);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
          payload = parsed as Record<string, unknown>;
      } catch {
        // kept as raw text below: the inbox shows what arrived, even when it is not JSON
      }
      messages.unshift({
        received_at: new Date().toISOString(),
        path,
        webhook_id: header(req.headers, 'webhook-id'),
        signature: options.secret ? verifyWebhookSignature(options.secret, req.headers, raw) : 'unsigned',
        payload,
        raw: payload ? null : raw,
      });
      messages.length = Math.min(messages.length, capacity);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8090, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = !options.host || options.host === '0.0.0.0' ? 'localhost' : options.host;
  return {
    url: `http://${shownHost}:${port}`,
    messages: () => [...messages],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
