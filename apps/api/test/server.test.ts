import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '@eufy-relay/config';
import { createLogger, logCapture } from '@eufy-relay/logger';
import { waitFor } from '@eufy-relay/testing';
import { start } from '../src';
import { createServer } from '../src/server';
import { TOKEN, bearer, holdDownload, readRest, request, startApi, testEnv, type TestApi } from './helpers';

// The api's HTTP server on the public internet (issue 17): where it listens, and what a client that
// is slow, stalled or one of too many can hold.

const DONE = 'T8113P0223000002_20250130_143022';

describe('listen address', () => {
  const listening = async (env: Record<string, string>) => {
    const { lines, destination } = logCapture();
    const config = loadConfig({ env: { ...testEnv('listen', tmpdir()), ...env } });
    const api = await start(config, { port: 0, logger: createLogger({ level: 'info', destination }) });
    await api.stop();
    return { url: new URL(api.url), line: lines.find((l) => l.msg === 'api listening') };
  };

  it('is loopback without API_TOKEN and HOST, and says so', async () => {
    const { url, line } = await listening({});
    expect(url.hostname).toBe('127.0.0.1');
    expect(line).toMatchObject({
      auth: 'open (API_TOKEN unset)',
      listen: 'loopback only: API_TOKEN and HOST are unset (set either to listen on other interfaces)',
    });
  });

  it('is every interface with API_TOKEN set, and HOST when it is given', async () => {
    const withToken = await listening({ API_TOKEN: TOKEN });
    expect(withToken.url.hostname).toBe('0.0.0.0');
    expect(withToken.line).toMatchObject({ listen: 'every interface: API_TOKEN is set and HOST is not' });
    const given = await listening({ HOST: '0.0.0.0' });
    expect(given.url.hostname).toBe('0.0.0.0');
    expect(given.line).toMatchObject({ listen: 'HOST' });
  });
});

/** A raw connection that sends `text` and collects what comes back until the server closes it. */
function rawExchange(url: string, text: string) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let received = '';
  let closed = false;
  socket.on('data', (d) => (received += d.toString('latin1')));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  socket.write(text);
  return {
    socket,
    received: () => received,
    closed: () => closed,
  };
}

describe('HTTP request deadlines', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startApi('deadlines', {
      HTTP_HEADERS_TIMEOUT_SECONDS: '1',
      HTTP_REQUEST_TIMEOUT_SECONDS: '1.5',
    });
  });
  afterAll(() => t.close());

  it('answers 408 and closes a connection whose headers do not arrive in time', async () => {
    const slow = rawExchange(t.api.url, 'GET /health HTTP/1.1\r\nHost: relay\r\n');
    await waitFor('the slow-headers connection closed', slow.closed);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('answers 408 and closes a connection whose body does not arrive in time', async () => {
    const slow = rawExchange(
      t.api.url,
      'POST /health HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    await waitFor('the slow-body connection closed', slow.closed);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
  });
});

describe('responses that do not move', () => {
  let t: TestApi;
  const SIZE = 32 * 1024 * 1024;
  beforeAll(async () => {
    t = await startApi('idle', {
      HTTP_HEADERS_TIMEOUT_SECONDS: '1',
      HTTP_REQUEST_TIMEOUT_SECONDS: '1',
      HTTP_IDLE_TIMEOUT_SECONDS: '1',
    });
    // Larger than every socket buffer between the two ends: a client that stops reading stalls it.
    writeFileSync(path.join(t.config.RECORDINGS_DIR, `${DONE}.mp4`), Buffer.alloc(SIZE, 7));
  });
  afterAll(() => t.close());

  it('drops a client that requests a video and never reads it', async () => {
    const held = await holdDownload(t.api.url, `/recordings/${DONE}.mp4`);
    // Five idle timeouts: the server has long dropped it, so the rest ends short.
    await new Promise((r) => setTimeout(r, 5000));
    const rest = await readRest(held);
    expect(rest.complete).toBe(false);
    expect(rest.received).toBeLessThan(SIZE);
  });

  it('never cuts a download that keeps moving, however long it takes past the request and idle timeouts', async () => {
    const { hostname, port } = new URL(t.api.url);
    const started = Date.now();
    const received = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: hostname, port, path: `/recordings/${DONE}.mp4`, agent: false }, (res) => {
          // About 8 MiB a second: the 32 MiB take about 4 s, four times each timeout.
          let bytes = 0;
          let quota = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            quota += chunk.length;
            if (quota < 800 * 1024) return;
            quota = 0;
            res.pause();
            setTimeout(() => res.resume(), 100);
          });
          res.on('end', () => resolve(res.complete ? bytes : -1));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(received).toBe(SIZE);
    expect(Date.now() - started).toBeGreaterThan(2000);
  });
});

describe('a request whose answer takes longer than the idle timeout', () => {
  it('is not cut while POST /cleanup waits for the janitor in silence', async () => {
    // No janitor runs: the api waits CLEANUP_WAIT_SECONDS, twice the idle timeout, then answers 503.
    const t = await startApi('idle-cleanup', {
      API_TOKEN: TOKEN,
      HTTP_IDLE_TIMEOUT_SECONDS: '1',
      CLEANUP_WAIT_SECONDS: '2',
    });
    try {
      const r = await request(t.api.url, '/cleanup', { method: 'POST', headers: bearer() });
      expect(r.status).toBe(503);
      expect(r.json().error.code).toBe('janitor_unavailable');
    } finally {
      await t.close();
    }
  });
});

describe('connection cap', () => {
  it('closes connections past HTTP_MAX_CONNECTIONS as they arrive, and serves again once one ends', async () => {
    const t = await startApi('cap', { HTTP_MAX_CONNECTIONS: '2' });
    try {
      const first = rawExchange(t.api.url, '');
      const second = rawExchange(t.api.url, '');
      await new Promise((r) => first.socket.once('connect', r));
      await new Promise((r) => second.socket.once('connect', r));
      const third = rawExchange(t.api.url, 'GET /health/live HTTP/1.1\r\nHost: relay\r\n\r\n');
      await waitFor('the third connection closed', third.closed);
      expect(third.received()).toBe('');
      first.socket.destroy();
      const again = await waitFor('a request served after one connection ended', async () => {
        const r = await request(t.api.url, '/health/live').catch(() => null);
        return r?.status === 200 && r;
      });
      expect(again!.json()).toMatchObject({ status: 'ok' });
      second.socket.destroy();
    } finally {
      await t.close();
    }
  });
});

describe('the server error listener', () => {
  it('logs every server error after start, and the server goes on serving', async () => {
    const { lines, destination } = logCapture();
    const config = loadConfig({ env: testEnv('server-errors', tmpdir()) });
    const server = createServer(
      (_req, res) => res.end('ok'),
      config,
      createLogger({ level: 'info', destination }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      // What accept() reports when the process runs out of descriptors; today's second one was uncaught.
      for (let i = 0; i < 2; i++) {
        expect(() =>
          server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' })),
        ).not.toThrow();
      }
      expect(lines.filter((l) => l.msg === 'http server error')).toHaveLength(2);
      const { port } = server.address() as net.AddressInfo;
      expect((await request(`http://127.0.0.1:${port}`, '/')).text).toBe('ok');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
