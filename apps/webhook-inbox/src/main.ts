import { parseArgs } from 'node:util';
import { startWebhookInbox } from './inbox';

// node apps/webhook-inbox/dist/main.js [--host 0.0.0.0] [--port 8090]; WEBHOOK_SECRET checks signatures.
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { host: { type: 'string', default: '0.0.0.0' }, port: { type: 'string', default: '8090' } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`webhook-inbox: --port ${JSON.stringify(values.port)}: expected a port number\n`);
    process.exit(1);
  }
  const inbox = await startWebhookInbox({
    host: values.host,
    port,
    secret: process.env.WEBHOOK_SECRET || undefined,
  });
  process.stdout.write(`webhook inbox on ${inbox.url} (POST webhooks to ${inbox.url}/hooks)\n`);
  // Fire-and-forget: close() ends the server; the process exits when it is done, a signal handler cannot wait.
  const stop = () => void inbox.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`webhook-inbox: ${(err as Error).message}\n`);
  process.exit(1);
});
