import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testConfig } from '@eufy-relay/testing';
import { RedisScript, createRedis, deletePrefixKeys, redisReady } from '../src';

const config = testConfig(`eufy-relay-test-scripts-${process.pid}`);
const redis = createRedis(config, 'producer');
const dir = mkdtempSync(path.join(tmpdir(), 'eufy-relay-scripts-'));
beforeAll(() => redisReady(redis));
afterAll(async () => {
  await deletePrefixKeys(redis, config.REDIS_PREFIX);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

function script(file: string, source: string): RedisScript {
  writeFileSync(path.join(dir, file), source);
  return RedisScript.load(dir, file);
}

describe('RedisScript', () => {
  it('takes its key count from its name and runs with keys and arguments', async () => {
    const incr = script('incr-by-1.lua', "return redis.call('INCRBY', KEYS[1], ARGV[1])\n");
    expect({ name: incr.name, keys: incr.numberOfKeys }).toEqual({ name: 'incr-by', keys: 1 });
    const key = `${config.REDIS_PREFIX}:counter`;
    expect(await incr.run(redis, [key], [2])).toBe(2);
    expect(await incr.run(redis, [key], [3])).toBe(5);
  });

  it('sends the whole script once when Redis does not know it, then only its SHA1', async () => {
    // A script no one has sent before: its SHA1 is unknown to Redis (as after a restart).
    const fresh = script('fresh-0.lua', `return '${randomUUID()}'\n`);
    expect(await redis.script('EXISTS', fresh.sha)).toEqual([0]);
    expect(await fresh.run(redis, [])).toMatch(/^[0-9a-f-]{36}$/);
    expect(await redis.script('EXISTS', fresh.sha)).toEqual([1]);
    expect(await fresh.run(redis, [])).toBe(await fresh.run(redis, []));
  });

  it('refuses the wrong number of keys and a name without its key count', async () => {
    const two = script('pair-2.lua', 'return 1\n');
    await expect(two.run(redis, ['a'])).rejects.toThrow('Redis script pair takes 2 keys, got 1');
    expect(() => script('nameless.lua', 'return 1\n')).toThrow(/name it \{name\}-\{number of keys\}\.lua/);
  });

  it('passes on errors other than NOSCRIPT', async () => {
    const failing = script('failing-0.lua', "return redis.error_reply('BOOM from the script')\n");
    await expect(failing.run(redis, [])).rejects.toThrow('BOOM from the script');
  });
});
