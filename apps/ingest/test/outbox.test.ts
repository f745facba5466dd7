import { createLogger } from '@eufy-relay/logger';
import { createRedis, redisReady } from '@eufy-relay/runtime';
import { testConfig } from '@eufy-relay/testing';
import { Outbox, type OutboxWrite } from '../src/outbox';

// The outbox's scheduling: one device's events in order, different devices' side by side, an event
// without a device between everything before and after it. The writes here record when they start
// and end; the connection whose state the outbox follows is a real one.

const config = testConfig(`eufy-relay-test-outbox-${process.pid}`);
const redis = createRedis(config, 'producer');
beforeAll(() => redisReady(redis));
afterAll(() => redis.quit());

function outbox(): Outbox {
  return new Outbox({
    redis,
    maxPending: 1000,
    retries: 0,
    baseDelayMs: 10,
    retryIf: () => false,
    onFailed: async () => undefined,
    onDropped: () => undefined,
    logger: createLogger({ level: 'silent' }),
  });
}

/** Writes that log "start X" and "end X", each finishing only when the test lets it. */
function recorder() {
  const log: string[] = [];
  const gates = new Map<string, () => void>();
  const write = (label: string): OutboxWrite => ({
    label,
    run: async () => {
      log.push(`start ${label}`);
      await new Promise<void>((resolve) => gates.set(label, resolve));
      log.push(`end ${label}`);
    },
  });
  const finish = async (label: string) => {
    for (let i = 0; !gates.has(label); i++) {
      if (i > 200) throw new Error(`${label} never started; log: ${log.join(', ')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    gates.get(label)!();
    gates.delete(label);
    await new Promise((r) => setImmediate(r));
  };
  return { log, write, finish };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

it('writes different devices side by side and each device’s events in the order they came', async () => {
  const box = outbox();
  const { log, write, finish } = recorder();
  box.push(write('A1'), 'A');
  box.push(write('A2'), 'A');
  box.push(write('B1'), 'B');
  await settle();
  // B1 did not wait for A1; A2 did.
  expect(log).toEqual(['start A1', 'start B1']);
  await finish('B1');
  await finish('A1');
  await finish('A2');
  expect(log).toEqual(['start A1', 'start B1', 'end B1', 'end A1', 'start A2', 'end A2']);
  await box.close(1000);
});

it('an event without a device waits for everything before it and holds back everything after it', async () => {
  const box = outbox();
  const { log, write, finish } = recorder();
  box.push(write('A1'), 'A');
  box.push(write('sync'));
  box.push(write('B1'), 'B');
  await settle();
  expect(log).toEqual(['start A1']);
  await finish('A1');
  await settle();
  expect(log).toEqual(['start A1', 'end A1', 'start sync']);
  await finish('sync');
  await finish('B1');
  expect(log).toEqual(['start A1', 'end A1', 'start sync', 'end sync', 'start B1', 'end B1']);
  await box.close(1000);
});

it('close waits for the writes in flight and then refuses new events', async () => {
  const box = outbox();
  const { log, write, finish } = recorder();
  box.push(write('A1'), 'A');
  box.push(write('B1'), 'B');
  const closed = box.close(5000);
  await finish('A1');
  await finish('B1');
  await closed;
  box.push(write('C1'), 'C');
  await settle();
  expect(log).toEqual(['start A1', 'start B1', 'end A1', 'end B1']);
});
