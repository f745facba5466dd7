import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeErrors, freePort, nginxConfig, nginxFront, testConfig, waitFor } from '../src';

describe('waitFor', () => {
  it('returns the first truthy value the check gives', async () => {
    let calls = 0;
    await expect(
      waitFor('the third call', () => (++calls >= 3 ? calls : 0), { intervalMs: 1 }),
    ).resolves.toBe(3);
  });

  it('names what it waited for when it times out', async () => {
    await expect(
      waitFor('a miracle', () => false, { timeoutMs: 50, context: () => 'state: none' }),
    ).rejects.toThrow(/timed out after 50 ms waiting for a miracle\nstate: none/);
  });

  it('fails at once on a check that throws, unless told to retry', async () => {
    let calls = 0;
    const failing = () => {
      calls += 1;
      throw new Error('not yet');
    };
    await expect(waitFor('x', failing, { timeoutMs: 1000 })).rejects.toThrow('not yet');
    expect(calls).toBe(1);
    await expect(waitFor('x', failing, { timeoutMs: 50, retryErrors: true })).rejects.toThrow(
      /waiting for x \(last error: not yet\)/,
    );
    expect(calls).toBeGreaterThan(2);
  });
});

describe('testConfig', () => {
  it('gives the test its own prefix on the test Redis, then the settings it passes', () => {
    const config = testConfig(`eufy-relay-test-probe-${process.pid}`, { MOTION_TIMEOUT_SECONDS: '2' });
    expect(config.REDIS_PREFIX).toBe(`eufy-relay-test-probe-${process.pid}`);
    expect(config.REDIS_URL).toBe(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
    expect(config.MOTION_TIMEOUT_SECONDS).toBe(2);
  });
});

describe('nginx', () => {
  it('fills the deploy template and wraps servers in a main config whose temp directories exist', () => {
    const front = nginxFront({
      NGINX_PORT: '127.0.0.1:8088',
      API_UPSTREAM: '127.0.0.1:3000',
      RECORDINGS_DIR: '/rec',
    });
    expect(front).toContain('listen 127.0.0.1:8088;');
    expect(front).toContain('server 127.0.0.1:3000;');
    expect(front).toContain('alias /rec/;');
    expect(front).not.toMatch(/\$\{[A-Z_]+\}/);
    const dir = mkdtempSync(path.join(tmpdir(), 'eufy-relay-testing-nginx-'));
    try {
      const conf = nginxConfig(dir, [front]);
      expect(conf).toContain(`proxy_temp_path ${dir}/proxy;`);
      expect(conf).toContain(front);
      expect(existsSync(path.join(dir, 'client_body'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('freePort and decodeErrors', () => {
  it('gives a port, and says why a file that is not a video does not play', async () => {
    expect(await freePort()).toBeGreaterThan(0);
    expect(decodeErrors(__filename)).not.toBe('');
  });
});
