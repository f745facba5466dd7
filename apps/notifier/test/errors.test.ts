import { connect } from 'node:net';
import { systemErrorPayload } from '@eufy-relay/contracts';
import { ErrorReporter, readRecentErrors } from '@eufy-relay/errors';
import { createLogger } from '@eufy-relay/logger';
import { startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('errors', { RETRY_ATTEMPTS: '2', RETRY_BASE_DELAY_MS: '20' });
});
afterAll(() => h.close());

/** A real operation that fails: connecting to a port nothing listens on. */
function connectToNothing(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve();
    });
    socket.on('error', reject);
  });
}

describe('error reporting end to end', () => {
  it('a failing operation shows up in the errors list and as one system_error webhook with a traceback', async () => {
    // What any role does: its own reporter on the shared webhooks queue.
    const reporter = new ErrorReporter({
      config: h.config,
      redis: h.redis,
      webhooks: h.queue,
      logger: createLogger({ level: 'silent' }),
    });
    const run = () =>
      reporter.runWithRetries('connect_station', () => connectToNothing(1), {
        context: { device_sn: 'T8010N1234567890' },
      });
    await expect(run()).rejects.toThrow(/ECONNREFUSED/);
    await expect(run()).rejects.toThrow(/ECONNREFUSED/); // the same failure again: folded, not sent twice

    const [recorded] = await readRecentErrors(h.redis, h.config);
    expect(recorded).toMatchObject({
      operation: 'connect_station',
      error_type: 'ECONNREFUSED',
      retry_count: 2,
      context: { device_sn: 'T8010N1234567890' },
      occurrences: 2,
    });

    await h.receiver.waitFor((r) => r.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    const [request] = h.receiver.received;
    expect(h.receiver.received).toHaveLength(1);
    expect(request!.signature).toBe('valid');
    const payload = systemErrorPayload.parse(JSON.parse(request!.body));
    expect(payload).toEqual({
      event: 'system_error',
      operation: 'connect_station',
      error_type: 'ECONNREFUSED',
      error_message: recorded!.error_message,
      retry_count: 2,
      timestamp: recorded!.timestamp,
      context: { device_sn: 'T8010N1234567890' },
      traceback: recorded!.traceback,
    });
    expect(payload.error_message).toContain('ECONNREFUSED 127.0.0.1:1');
    expect(payload.traceback).toMatch(/^Error: connect ECONNREFUSED 127\.0\.0\.1:1\n\s+at /);
  });
});
