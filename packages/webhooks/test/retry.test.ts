import { RETRY_JITTER, parseRetryAfter, webhookRetryDelayMs, withJitter } from '../src';

describe('webhook retry schedule', () => {
  const schedule = [1, 2, 4, 60];

  it('waits the scheduled seconds before each retry, within the jitter', () => {
    expect(webhookRetryDelayMs(schedule, 1, () => 0.5)).toBe(1000);
    expect(webhookRetryDelayMs(schedule, 4, () => 0.5)).toBe(60_000);
    expect(webhookRetryDelayMs(schedule, 2, () => 0)).toBe(2000 * (1 - RETRY_JITTER));
    expect(webhookRetryDelayMs(schedule, 3, () => 1)).toBe(4000 * (1 + RETRY_JITTER));
  });

  it('grows at every step of a doubling schedule whatever the jitter', () => {
    for (let retry = 1; retry < 3; retry++) {
      expect(webhookRetryDelayMs(schedule, retry, () => 1)).toBeLessThan(
        webhookRetryDelayMs(schedule, retry + 1, () => 0),
      );
    }
  });

  it('says "do not retry" (-1) once the schedule is used up', () => {
    expect(webhookRetryDelayMs(schedule, 5)).toBe(-1);
    expect(webhookRetryDelayMs(schedule, 0)).toBe(-1);
  });

  it('jitters around the given delay', () => {
    const samples = Array.from({ length: 200 }, () => withJitter(1000));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(900);
    expect(Math.max(...samples)).toBeLessThanOrEqual(1100);
    expect(new Set(samples).size).toBeGreaterThan(10);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2025-01-30T14:30:00Z');
  it.each([
    ['2', 2000],
    [' 120 ', 120_000],
    ['0', 0],
    ['Thu, 30 Jan 2025 14:30:05 GMT', 5000],
    ['Thu, 30 Jan 2025 14:29:00 GMT', 0],
    [['3', '9'], 3000],
  ] as const)('reads %j as %d ms', (value, ms) => {
    expect(parseRetryAfter(value as string | string[], now)).toBe(ms);
  });

  it.each([undefined, '', 'later', '-5', '1.5'])('ignores %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});
