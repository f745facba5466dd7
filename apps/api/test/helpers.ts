import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '@eufy-relay/config';
import { createRedis, deletePrefixKeys } from '@eufy-relay/runtime';
import { start, type RunningApi } from '../src';

export const TOKEN = 'test-token-0123456789abcdef';

export interface TestApi {
  api: RunningApi;
  config: Config;
  redis: ReturnType<typeof createRedis>;
  dir: string;
  close(): Promise<void>;
}

/** The settings of a test api named `name`: its own REDIS_PREFIX, recordings under `dir`, silent. */
export function testEnv(name: string, dir: string): Record<string, string> {
  return {
    REDIS_URL: process.env.REDIS_URL ?? '',
    REDIS_PREFIX: `eufy-relay-test-api-${name}-${process.pid}`,
    RECORDINGS_DIR: path.join(dir, 'recordings'),
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    MIN_FREE_DISK_BYTES: '0',
    PUBLIC_BASE_URL: 'https://relay.example.com',
  };
}

/**
 * A real api on 127.0.0.1 (free port) over the real Redis, with its own REDIS_PREFIX and a fresh
 * RECORDINGS_DIR; close() stops it and removes its keys, queues and files.
 */
export async function startApi(name: string, env: Record<string, string> = {}): Promise<TestApi> {
  const dir = mkdtempSync(path.join(tmpdir(), `eufy-relay-api-${name}-`));
  const config = loadConfig({ env: { ...testEnv(name, dir), HOST: '127.0.0.1', ...env } });
  mkdirSync(config.RECORDINGS_DIR, { recursive: true });
  const api = await start(config, { port: 0 });
  const redis = createRedis(config, 'worker');
  return {
    api,
    config,
    redis,
    dir,
    close: async () => {
      await api.stop();
      await deletePrefixKeys(redis, config.REDIS_PREFIX);
      await redis.quit();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  // The parsed body, as JSON.parse types it: each test asserts the shape it expects.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: () => any;
}

/**
 * A raw HTTP request: the path goes on the wire exactly as given (fetch would normalise `..` and
 * other oddities a traversal test needs to send).
 */
export function request(
  baseUrl: string,
  rawPath: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Reply> {
  const base = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        path: rawPath,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text,
            json: () => JSON.parse(text),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Starts a download and holds it unread: once the socket buffers are full, the server's writes stall. */
export function holdDownload(baseUrl: string, rawPath: string): Promise<http.IncomingMessage> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    http
      .get({ host: hostname, port, path: rawPath, agent: false }, (res) => {
        res.pause();
        resolve(res);
      })
      .on('error', reject);
  });
}

/**
 * Reads what is left of a held download. A paused client learns that the server cut it only once it
 * reads again: the download then ends short (`complete` false) instead of running to its end.
 */
export async function readRest(res: http.IncomingMessage): Promise<{ received: number; complete: boolean }> {
  let received = 0;
  res.on('data', (c: Buffer) => (received += c.length));
  res.on('error', () => {});
  const closed = new Promise((resolve) => res.on('close', resolve));
  res.resume();
  await closed;
  return { received, complete: res.complete };
}

export const bearer = (token = TOKEN) => ({ Authorization: `Bearer ${token}` });
export const basic = (password = TOKEN, user = 'admin') => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

/** A real H.264 fragmented MP4 (what the recorder writes) and a JPEG thumbnail, made by ffmpeg. */
export function makeVideo(file: string, seconds = 2): void {
  execFileSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=15:duration=${seconds}`],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '15'],
    ...['-movflags', '+frag_keyframe+empty_moov+default_base_moof'],
    file,
  ]);
}

export function makeThumbnail(file: string): void {
  execFileSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=1', '-frames:v', '1'],
    file,
  ]);
}
