import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseRecordingId, recordingUrl } from '@eufy-relay/contracts';
import { RecordingStore } from '@eufy-relay/recordings';
import { indexFinishedRecording } from '@eufy-relay/recordings/testing';
import { NGINX, freePort, nginxConfig, nginxFront } from '@eufy-relay/testing';
import { makeVideo, request, startApi, type TestApi } from './helpers';

// ACCEL_REDIRECT=nginx with the real nginx in front, configured by the repo's own template
// (deploy/nginx, what docker-compose's nginx service loads): the api checks, nginx sends the file.
const CAMERA = 'T8113P0223000002';
const DONE = `${CAMERA}_20250130_143022`;
const LIVE = `${CAMERA}_20250130_150000`;
const SIGNING = { secret: 'accel-test-url-secret-0123456789', ttlSeconds: 3600 };

let t: TestApi;
let nginx: ChildProcess;
let front: string;
let video: Buffer;

const startOf = (id: string) => parseRecordingId(id)!.startedAt.getTime();
const signedPath = (id: string) => {
  const url = new URL(recordingUrl('http://relay.test', id, { signing: SIGNING }));
  return `${url.pathname}${url.search}`;
};

beforeAll(async () => {
  t = await startApi('accel', {
    ACCEL_REDIRECT: 'nginx',
    URL_SIGNING_SECRET: SIGNING.secret,
    URL_TTL_SECONDS: String(SIGNING.ttlSeconds),
  });
  // nginx's workers may run as another user (nobody): they must be able to read the files.
  for (const dir of [t.dir, t.config.RECORDINGS_DIR]) chmodSync(dir, 0o755);
  const store = new RecordingStore(t.redis, t.config);
  await indexFinishedRecording(store, DONE);
  await store.create({ device_sn: CAMERA, started_at: startOf(LIVE) });
  for (const id of [DONE, LIVE]) {
    const file = path.join(t.config.RECORDINGS_DIR, `${id}.mp4`);
    makeVideo(file);
    chmodSync(file, 0o644);
  }
  video = readFileSync(path.join(t.config.RECORDINGS_DIR, `${DONE}.mp4`));

  const dir = path.join(t.dir, 'nginx');
  mkdirSync(dir);
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    nginxConfig(dir, [
      nginxFront({
        NGINX_PORT: `127.0.0.1:${port}`,
        API_UPSTREAM: new URL(t.api.url).host,
        RECORDINGS_DIR: t.config.RECORDINGS_DIR,
      }),
    ]),
  );
  nginx = spawn(NGINX, ['-c', conf, '-e', path.join(dir, 'error.log')], { stdio: 'inherit' });
  front = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 50) {
    if ((await request(front, '/health').catch(() => null)) !== null) break;
    if (waited > 10_000 || nginx.exitCode !== null) throw new Error(`nginx (${NGINX}) did not start`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    nginx.kill('SIGTERM');
    await once(nginx, 'exit');
  }
  await t?.close();
});

describe('ACCEL_REDIRECT=nginx', () => {
  it('the api alone answers a finished recording with X-Accel-Redirect to the internal location and no body', async () => {
    const r = await request(t.api.url, signedPath(DONE), { headers: { Range: 'bytes=0-99' } });
    expect(r.status).toBe(200);
    expect(r.headers['x-accel-redirect']).toBe(`/internal/recordings/${DONE}.mp4`);
    expect(r.headers['x-recording-status']).toBe('completed');
    expect(r.body.length).toBe(0);
  });

  it('through nginx: the bytes of the range, with the api’s type, caching and status headers', async () => {
    const r = await request(front, signedPath(DONE), { headers: { Range: 'bytes=100-1123' } });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 100-1123/${video.length}`);
    expect(r.body.equals(video.subarray(100, 1124))).toBe(true);
    expect(r.headers['content-type']).toBe('video/mp4');
    expect(r.headers['cache-control']).toMatch(/^private, max-age=\d+, immutable$/);
    expect(r.headers['x-recording-status']).toBe('completed');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-accel-redirect']).toBeUndefined();

    const whole = await request(front, signedPath(DONE));
    expect(whole.status).toBe(200);
    expect(whole.body.equals(video)).toBe(true);
    const again = await request(front, signedPath(DONE), {
      headers: { 'If-None-Match': String(whole.headers.etag) },
    });
    expect(again.status).toBe(304);
    const outside = await request(front, signedPath(DONE), { headers: { Range: `bytes=${video.length}-` } });
    expect(outside.status).toBe(416);
  });

  it('through nginx: the api still refuses a bad signature, and the internal location is not reachable', async () => {
    const forged = signedPath(DONE).replace(/sig=[^&]+/, 'sig=AAAA');
    const r = await request(front, forged);
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error: { code: 'signature_invalid' } });
    expect(r.body.length).toBeLessThan(1000);
    const direct = await request(front, `/internal/recordings/${DONE}.mp4`);
    expect(direct.status).toBe(404);
    expect(direct.body.includes(video.subarray(0, 64))).toBe(false);
  });

  it('a recording in progress is still sent by the api (it grows while it is read)', async () => {
    const r = await request(front, signedPath(LIVE), { headers: { Range: 'bytes=0-99' } });
    expect(r.status).toBe(206);
    expect(r.headers['x-recording-status']).toBe('recording');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.body.length).toBe(100);
    const direct = await request(t.api.url, signedPath(LIVE), { headers: { Range: 'bytes=0-99' } });
    expect(direct.headers['x-accel-redirect']).toBeUndefined();
    expect(direct.body.length).toBe(100);
  });
});
