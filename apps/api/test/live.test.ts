import { execFile, spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseRecordingId, recordingUrl } from '@eufy-relay/contracts';
import { Fmp4Indexer } from '@eufy-relay/media';
import { RecordingStore } from '@eufy-relay/recordings';
import { finishRecording } from '@eufy-relay/recordings/testing';
import { TOKEN, bearer, makeVideo, request, startApi, type TestApi } from './helpers';

const run = promisify(execFile);
const CAMERA = 'T8113P0223000002';
const signing = { secret: 'url-signing-secret-0123456789', ttlSeconds: 3600 };

let t: TestApi;
let store: RecordingStore;
let seq = 0;

beforeAll(async () => {
  t = await startApi('live', {
    API_TOKEN: TOKEN,
    URL_SIGNING_SECRET: signing.secret,
    LIVE_CHECK_INTERVAL_SECONDS: '0.2',
    LIVE_CLIENT_TIMEOUT_SECONDS: '1',
  });
  store = new RecordingStore(t.redis, t.config);
});
afterAll(() => t.close());

/** A new recording in progress in the index; the test writes its file. */
async function newRecording(): Promise<{ id: string; file: string }> {
  seq++;
  const id = `${CAMERA}_20260301_12${String(seq).padStart(2, '0')}00`;
  await store.create({ device_sn: CAMERA, started_at: parseRecordingId(id)!.startedAt.getTime() });
  return { id, file: path.join(t.config.RECORDINGS_DIR, `${id}.mp4`) };
}

const finish = (id: string) => finishRecording(store, id, { seconds: 5 });

/** The signed path of one of a recording's URLs. */
const signed = (id: string, ext: 'mp4' | 'm3u8' | 'jpg') => recordingUrl('', id, { ext, signing });

/** ffmpeg writing a recording as the recorder does (fragments of at most 1 s), in real time. */
function recordLive(file: string, seconds: number): Promise<void> {
  const ffmpeg = spawn('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-re'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=15:duration=${seconds}`],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '30'],
    ...['-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-frag_duration', '1000000'],
    ...['-flush_packets', '1', '-f', 'mp4', file],
  ]);
  return new Promise((resolve, reject) =>
    ffmpeg.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`)))),
  );
}

async function durationOf(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file],
  ]);
  return Number(stdout.trim());
}

/** A closed range: a plain GET of a recording in progress would follow it to its end. */
const probeRange = { headers: { Range: 'bytes=0-1' } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds; a hang guard, never a speed target. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Followed {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Bytes received so far (grows while the response goes on). */
  chunks: Buffer[];
  received: () => number;
  ended: Promise<Buffer>;
}

/** A GET whose body is watched as it arrives. */
function follow(pathAndQuery: string, headers: Record<string, string> = {}): Promise<Followed> {
  const base = new URL(t.api.url);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: base.hostname, port: base.port, path: pathAndQuery, headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const ended = new Promise<Buffer>((done, fail) => {
        res.on('end', () => done(Buffer.concat(chunks)));
        res.on('error', fail);
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        chunks,
        received: () => chunks.reduce((n, c) => n + c.length, 0),
        ended,
      });
    });
  });
}

describe('a recording in progress', () => {
  it('answers 202 with Retry-After until its first media fragment exists, never an empty 200', async () => {
    const { id, file } = await newRecording();
    const whole = path.join(t.dir, 'whole.mp4');
    makeVideo(whole, 2);
    const data = readFileSync(whole);
    const layout = await new Fmp4Indexer(whole).refresh();
    const first = layout.fragments[0]!;

    // Only the header (ftyp + moov), then the header and half of the first fragment.
    for (const end of [layout.initLength!, first.offset + Math.floor(first.length / 2)]) {
      writeFileSync(file, data.subarray(0, end));
      for (const ext of ['mp4', 'm3u8'] as const) {
        const r = await request(t.api.url, signed(id, ext));
        expect({ ext, end, status: r.status }).toEqual({ ext, end, status: 202 });
        expect(r.headers['retry-after']).toBe('2');
        expect(r.json()).toMatchObject({ id, status: 'recording' });
      }
    }
    // A browser opening the link that early gets a page that loads it again by itself.
    const page = await request(t.api.url, signed(id, 'mp4'), {
      headers: { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    expect(page.status).toBe(202);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<meta http-equiv="refresh" content="1">');
    // The first fragment complete: the video plays (a closed range gets what exists).
    writeFileSync(file, data.subarray(0, first.offset + first.length));
    const r = await request(t.api.url, signed(id, 'mp4'), { headers: { Range: 'bytes=0-1' } });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 0-1/${first.offset + first.length}`);
    await finish(id);
  });

  it.each([
    ['no Range', {}],
    ['Range: bytes=0-', { Range: 'bytes=0-' }],
  ])(
    'streams live to the end for a GET with %s: chunked, every byte of the finished file',
    async (_n, headers) => {
      const { id, file } = await newRecording();
      const recording = recordLive(file, 4);
      await until(
        'the first fragment',
        async () => (await request(t.api.url, signed(id, 'mp4'), probeRange)).status === 206,
      );

      const followed = await follow(signed(id, 'mp4'), headers);
      expect(followed.status).toBe(200);
      expect(followed.headers['transfer-encoding']).toBe('chunked');
      expect(followed.headers['content-length']).toBeUndefined();
      expect(followed.headers['cache-control']).toBe('no-store');
      expect(followed.headers['content-type']).toBe('video/mp4');
      // It keeps receiving as ffmpeg writes: more bytes arrive later than at first.
      await until('bytes', () => followed.received() > 0);
      const early = followed.received();
      await until('more bytes while recording', () => followed.received() > early);

      await recording;
      let ended = false;
      void followed.ended.then(() => (ended = true));
      // ffmpeg has exited, but the index still says recording: the response stays open.
      await sleep(600);
      expect(ended).toBe(false);
      await finish(id);
      const body = await followed.ended;
      expect(body.equals(readFileSync(file))).toBe(true);
      const copy = path.join(t.dir, `followed-${id}.mp4`);
      writeFileSync(copy, body);
      expect(Math.abs((await durationOf(copy)) - 4)).toBeLessThan(0.5);

      // Finished: a plain GET is an ordinary cacheable file now.
      const after = await request(t.api.url, signed(id, 'mp4'));
      expect(after.status).toBe(200);
      expect(after.headers['content-length']).toBe(String(body.length));
    },
    30_000,
  );

  it('serves a closed Range of what exists (206), and ends a follower when the recording fails', async () => {
    const { id, file } = await newRecording();
    const recording = recordLive(file, 3);
    await until(
      'the first fragment',
      async () => (await request(t.api.url, signed(id, 'mp4'), probeRange)).status === 206,
    );
    const probe = await request(t.api.url, signed(id, 'mp4'), { headers: { Range: 'bytes=0-1' } });
    expect(probe.status).toBe(206);
    expect(probe.body.length).toBe(2);
    expect(probe.headers['content-range']).toMatch(/^bytes 0-1\/\d+$/);

    const followed = await follow(signed(id, 'mp4'));
    await recording;
    await store.finish(id, {
      status: 'failed',
      video_status: 'failed',
      ended_at: Date.now(),
      duration_seconds: 3,
      stop_reason: 'error',
      failure_reason: 'test',
    });
    expect((await followed.ended).equals(readFileSync(file))).toBe(true);
  }, 30_000);

  it('drops a client that stops reading, and keeps serving the others', async () => {
    const { id, file } = await newRecording();
    // A real first fragment, then 64 MiB more: far more than the socket buffers can hold.
    const whole = path.join(t.dir, 'stall.mp4');
    makeVideo(whole, 2);
    const layout = await new Fmp4Indexer(whole).refresh();
    const first = layout.fragments[0]!;
    writeFileSync(file, readFileSync(whole).subarray(0, first.offset + first.length));
    appendFileSync(file, Buffer.alloc(64 * 1024 * 1024, 7));

    const base = new URL(t.api.url);
    const socket = connect(Number(base.port), base.hostname);
    socket.pause(); // never reads
    socket.write(`GET ${signed(id, 'mp4')} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await until('one live follower', async () => (await followers()) === 1);
    // LIVE_CLIENT_TIMEOUT_SECONDS=1: the server drops it without waiting for the recording's end.
    await until('the stalled follower dropped', async () => (await followers()) === 0, 10_000);
    let got = 0;
    socket.on('data', (c: Buffer) => (got += c.length));
    socket.resume();
    await new Promise((resolve) => socket.on('close', resolve));
    expect(got).toBeLessThan(64 * 1024 * 1024);
    // The recording still streams to a reader.
    const reader = await follow(signed(id, 'mp4'));
    await until(
      'the reader gets every byte',
      () => reader.received() >= first.offset + first.length + 64 * 1024 * 1024,
    );
    await finish(id);
    await reader.ended;
  }, 60_000);
});

async function followers(): Promise<number> {
  const r = await request(t.api.url, '/metrics', { headers: bearer() });
  const m = /^eufy_relay_live_followers (\d+)$/m.exec(r.text);
  if (!m) throw new Error(`no eufy_relay_live_followers in /metrics (${r.status})`);
  return Number(m[1]);
}

/** The fragments a playlist lists: [length, offset] of each EXT-X-BYTERANGE, and its EXTINF sum. */
function playlistOf(text: string) {
  const ranges = [...text.matchAll(/^#EXT-X-BYTERANGE:(\d+)@(\d+)$/gm)].map((m) => [
    Number(m[1]),
    Number(m[2]),
  ]);
  const seconds = [...text.matchAll(/^#EXTINF:([\d.]+),$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  const map = /^#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@0"$/m.exec(text);
  return { ranges, seconds, map };
}

describe('GET /recordings/{id}.m3u8', () => {
  it('is an EVENT playlist that grows while recording, then VOD with EXT-X-ENDLIST; ffmpeg reads both', async () => {
    const { id, file } = await newRecording();
    const recording = recordLive(file, 5);
    await until(
      'the first fragment',
      async () => (await request(t.api.url, signed(id, 'm3u8'))).status === 200,
    );

    const first = await request(t.api.url, signed(id, 'm3u8'));
    expect(first.headers['content-type']).toMatch(/^application\/vnd\.apple\.mpegurl/);
    expect(first.headers['cache-control']).toBe('no-cache');
    expect(first.text).toMatch(/^#EXTM3U\n#EXT-X-VERSION:7\n/);
    expect(first.text).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
    expect(first.text).not.toContain('#EXT-X-ENDLIST');
    // The fragments are fetched from the video URL with the playlist's own signature.
    const query = signed(id, 'm3u8').split('?')[1]!;
    expect(playlistOf(first.text).map?.[1]).toBe(`${id}.mp4?${query}`);
    const live = path.join(t.dir, `live-${id}.mp4`);
    const liveCopy = run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-y', '-i', `${t.api.url}${signed(id, 'm3u8')}`],
      ...['-c', 'copy', live],
    ]);
    await until('the playlist to grow', async () => {
      const again = await request(t.api.url, signed(id, 'm3u8'));
      return playlistOf(again.text).ranges.length > playlistOf(first.text).ranges.length;
    });
    await recording;
    await finish(id);
    // ffmpeg follows the EVENT playlist until it ends.
    await liveCopy;

    const done = await request(t.api.url, signed(id, 'm3u8'));
    expect(done.text).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(done.text.trimEnd().endsWith('#EXT-X-ENDLIST')).toBe(true);
    const data = readFileSync(file);
    const { ranges, seconds, map } = playlistOf(done.text);
    expect(Number(map![2])).toBeGreaterThan(0);
    expect(data.toString('latin1', Number(map![2]) + 4, Number(map![2]) + 8)).toBe('moof');
    for (const [length, offset] of ranges) {
      expect(offset! + length!).toBeLessThanOrEqual(data.length);
      expect(data.toString('latin1', offset! + 4, offset! + 8)).toBe('moof');
    }
    const fileSeconds = await durationOf(file);
    expect(Math.abs(seconds - fileSeconds)).toBeLessThan(0.5);

    const finished = path.join(t.dir, `vod-${id}.mp4`);
    await run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-y', '-i', `${t.api.url}${signed(id, 'm3u8')}`],
      ...['-c', 'copy', finished],
    ]);
    expect(Math.abs((await durationOf(finished)) - fileSeconds)).toBeLessThan(1);
    expect(Math.abs((await durationOf(live)) - fileSeconds)).toBeLessThan(1);
  }, 60_000);

  it('has the same access rules as the video: a wrong signature is refused', async () => {
    const { id, file } = await newRecording();
    makeVideo(file, 1);
    await finish(id);
    const good = await request(t.api.url, signed(id, 'm3u8'));
    expect(good.status).toBe(200);
    const bad = await request(t.api.url, signed(id, 'm3u8').replace(/sig=./, 'sig=A'));
    expect(bad.status).toBe(403);
    const none = await request(t.api.url, `/recordings/${id}.m3u8`);
    expect(none.status).toBe(403);
  });
});
