import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from '@eufy-relay/logger';
import { encodeMp4 } from './media';
import type { VideoProfile } from './scenario';

/** Debian's python: the gi bindings of GStreamer load there, not under a python3 earlier on PATH. */
const PYTHON = process.env.EUFY_SIM_PYTHON ?? '/usr/bin/python3';
/** The launcher beside src/ and dist/. */
const LAUNCHER = path.resolve(__dirname, '../rtsp/serve.py');
const READY_TIMEOUT_MS = 15_000;
const COMMAND_TIMEOUT_MS = 10_000;

/** normal: serves; refuse: 404 to DESCRIBE (RTSP switched off); stall: connected, no more video. */
export type RtspMode = 'normal' | 'refuse' | 'stall';

export interface RtspServerOptions {
  host: string;
  port: number;
  auth: 'digest' | 'basic';
  /** Length of the video each client gets. */
  seconds: number;
  logger: Logger;
}

interface Reply {
  id?: number;
  ok?: boolean;
  error?: string;
  ready?: boolean;
  port?: number;
  dropped?: number;
}

/**
 * A real RTSP server for the simulator's cameras: GStreamer's gst-rtsp-server run by rtsp/serve.py,
 * one mount `/{serial}` per camera, each serving an MP4 of the camera's test pattern. Commands go to
 * the launcher as JSON lines; it ends when its stdin closes.
 */
export class RtspServer {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  private nextId = 1;
  private boundPort = 0;
  private workDir = '';
  private readonly files = new Map<string, Promise<string>>();

  constructor(private readonly options: RtspServerOptions) {}

  get port(): number {
    return this.boundPort;
  }

  /** The URL of a camera's stream, without credentials (as the bridge reports it). */
  url(serialNumber: string): string {
    return `rtsp://${this.options.host}:${this.boundPort}/${serialNumber}`;
  }

  async start(): Promise<void> {
    this.workDir = await mkdtemp(path.join(tmpdir(), 'eufy-sim-rtsp-'));
    const child = spawn(
      PYTHON,
      [
        LAUNCHER,
        '--host',
        this.options.host,
        '--port',
        String(this.options.port),
        '--auth',
        this.options.auth,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child = child;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    const ready = new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the RTSP server did not start within ${READY_TIMEOUT_MS} ms: ${stderr}`)),
        READY_TIMEOUT_MS,
      );
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${PYTHON} for the RTSP server (${err.message})`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new Error(
            `the RTSP server exited (${code}): ${stderr.trim().split('\n').at(-1) ?? ''} — it needs ` +
              'gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad',
          ),
        );
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        let reply: Reply;
        try {
          reply = JSON.parse(line) as Reply;
        } catch {
          this.options.logger.warn({ line }, 'RTSP server: unreadable line');
          return;
        }
        if (reply.ready) {
          clearTimeout(timer);
          resolve(reply);
        } else if (reply.id !== undefined) {
          this.waiting.get(reply.id)?.(reply);
          this.waiting.delete(reply.id);
        }
      });
    });
    this.boundPort = (await ready).port ?? 0;
    child.on('exit', (code, signal) => {
      if (this.child === child) this.options.logger.error({ code, signal, stderr }, 'RTSP server exited');
    });
    this.options.logger.info({ port: this.boundPort }, 'RTSP server listening');
  }

  /** Serves the camera at `/{serial}` (its video encoded once per profile). */
  async mount(
    serialNumber: string,
    profile: VideoProfile,
    credentials: { user?: string; password: string },
  ): Promise<void> {
    const file = await this.videoFile(profile);
    await this.command({
      op: 'mount',
      path: `/${serialNumber}`,
      file,
      ...(credentials.user ? { user: credentials.user, password: credentials.password } : {}),
    });
  }

  async setMode(serialNumber: string, mode: RtspMode): Promise<void> {
    await this.command({ op: 'mode', path: `/${serialNumber}`, mode });
  }

  /** Closes the connections of the camera's RTSP clients; resolves with how many there were. */
  async drop(serialNumber: string): Promise<number> {
    return (await this.command({ op: 'drop', path: `/${serialNumber}` })).dropped ?? 0;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
    if (this.workDir) await rm(this.workDir, { recursive: true, force: true });
  }

  private videoFile(profile: VideoProfile): Promise<string> {
    const key = `${profile.width}x${profile.height}@${profile.fps}-${profile.bitrateKbps}`;
    let file = this.files.get(key);
    if (!file) {
      const target = path.join(this.workDir, `${key}.mp4`);
      file = encodeMp4(profile, 'rtsp', this.options.seconds, target).then(() => target);
      this.files.set(key, file);
    }
    return file;
  }

  private command(body: Record<string, unknown>): Promise<Reply> {
    const child = this.child;
    if (!child) return Promise.reject(new Error('the RTSP server is not running'));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(
          new Error(`the RTSP server did not answer ${String(body.op)} within ${COMMAND_TIMEOUT_MS} ms`),
        );
      }, COMMAND_TIMEOUT_MS);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.ok) resolve(reply);
        else reject(new Error(`RTSP server: ${reply.error ?? 'failed'}`));
      });
      child.stdin.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }
}
