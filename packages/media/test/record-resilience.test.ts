import { join } from 'node:path';
import { probe, type AccessUnit } from '../src';
import {
  FPS,
  accessUnitsOf,
  decodeFully,
  encodeAdtsFrames,
  encodeStream,
  feedLive,
  liveRecordings,
  sleep,
  tempDir,
  videoPackets,
  wallClockSeconds,
  withoutParameterSets,
} from './helpers';

const startLive = liveRecordings();
let dir: string;
let cleanup: () => Promise<void>;
let units: AccessUnit[];

beforeAll(async () => {
  ({ dir, remove: cleanup } = await tempDir('resilience'));
  units = accessUnitsOf('h264', await encodeStream(dir, { codec: 'h264', frames: 90, fps: FPS, gop: 15 }));
});
afterAll(() => cleanup());

it('leaves a readable file with the frames so far when ffmpeg is killed mid-recording', async () => {
  const file = join(dir, 'killed.mp4');
  const { ffmpeg, video, gate } = await startLive({ output: file, codec: 'h264' });
  const feeding = feedLive(video, gate, units.slice(0, 60), { fps: FPS }).catch(() => undefined);
  await sleep(3000);
  process.kill(ffmpeg.pid!, 'SIGKILL');
  const exit = await ffmpeg.exited;
  await feeding;

  expect(exit).toMatchObject({ reason: 'exited', signal: 'SIGKILL', ok: false });
  const written = exit.inputs[0]!.writes;
  const info = await probe(file);
  const packets = await videoPackets(file);
  console.log(
    `killed after ${written} frames written: ${packets.length} frames, ${info.durationSeconds} s readable`,
  );
  expect(info.videoCodec).toBe('h264');
  expect(packets[0]!.keyframe).toBe(true);
  // What ffmpeg still held in its last, unwritten fragment (at most about a second) is lost.
  expect(packets.length).toBeGreaterThanOrEqual(written - 2 * FPS);
  expect(info.durationSeconds).toBeGreaterThan(1);
  await decodeFully(file);
}, 20_000);

it('starts the file on a keyframe when the stream joins mid-GOP', async () => {
  const file = join(dir, 'mid-gop.mp4');
  const { ffmpeg, video, gate } = await startLive({ output: file, codec: 'h264' });
  await feedLive(video, gate, units.slice(5, 45), { fps: FPS });
  const exit = await ffmpeg.stop();

  expect(exit.ok).toBe(true);
  expect(gate.stats.droppedWaitingForKeyframe).toBe(10);
  const packets = await videoPackets(file);
  expect(packets).toHaveLength(30);
  expect(packets[0]!.keyframe).toBe(true);
  await decodeFully(file);
}, 20_000);

it('continues one playable file across a stream restart, the gap kept in wall-clock time', async () => {
  const file = join(dir, 'restarted.mp4');
  const { ffmpeg, video, gate } = await startLive({ output: file, codec: 'h264' });
  const first = await feedLive(video, gate, units.slice(0, 25), { fps: FPS, seed: 1 });
  await sleep(1000); // the livestream is being restarted
  gate.newSession();
  // The new session joins mid-GOP, its keyframes without parameter sets (a second subscriber's view).
  const second = await feedLive(video, gate, withoutParameterSets(units.slice(40, 75)), {
    fps: FPS,
    seed: 2,
  });
  const exit = await ffmpeg.stop();

  expect(exit.ok).toBe(true);
  expect(gate.stats).toMatchObject({ sessions: 2, droppedWaitingForKeyframe: 5, parameterSetsPrepended: 1 });
  const packets = await videoPackets(file);
  expect(packets).toHaveLength(25 + 30);
  expect(packets[25]!.keyframe).toBe(true);
  await decodeFully(file);
  const info = await probe(file);
  const wall = wallClockSeconds({ ...first, lastWriteAt: second.lastWriteAt }, FPS);
  console.log(`restarted: file ${info.durationSeconds.toFixed(3)} s, wall clock ${wall.toFixed(3)} s`);
  expect(Math.abs(info.durationSeconds - wall)).toBeLessThan(1);
}, 20_000);

it('muxes ADTS AAC written to fd 3 beside the video', async () => {
  const file = join(dir, 'with-audio.mp4');
  const adts = await encodeAdtsFrames(dir, 4);
  const { ffmpeg, video, audio, gate } = await startLive({ output: file, codec: 'h264', audio: true });
  const frameMs = (1024 / 16000) * 1000; // AAC frames hold 1024 samples at 16 kHz
  const started = Date.now();
  const audioFed = (async () => {
    for (const [i, frame] of adts.entries()) {
      await sleep(Math.max(0, started + i * frameMs - Date.now()));
      expect(audio!.write(frame)).toBe(true);
    }
  })();
  await feedLive(video, gate, units.slice(0, 45), { fps: FPS });
  await audioFed;
  const exit = await ffmpeg.stop();

  expect(exit.ok).toBe(true);
  expect(exit.inputs[1]).toMatchObject({ writes: adts.length, dropped: 0 });
  const info = await probe(file);
  expect(info).toMatchObject({ videoCodec: 'h264', hasAudio: true, audioCodec: 'aac' });
  expect(info.durationSeconds).toBeGreaterThan(2.5);
  await decodeFully(file);
}, 20_000);
