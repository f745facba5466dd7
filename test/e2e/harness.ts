import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROLE_NAMES, type RoleName } from '@eufy-relay/config';
import { freePort, waitFor as poll, type Truthy } from '@eufy-relay/testing';
import { WebhookReceiver } from '@eufy-relay/webhooks/testing';

// The end-to-end harness: every part of the product as its own OS process, started from its built
// entry point the way a user runs it, on free ports, with timings shortened only through settings.

export const ROOT = path.resolve(__dirname, '../..');
/** Every role of the product (ROLE_NAMES): the stack runs each as its own process. */
export const ROLES = ROLE_NAMES;
export type Role = RoleName;

const entry = (app: string) => path.join(ROOT, 'apps', app, 'dist', 'main.js');

export { freePort };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Whether a process with this pid still runs. A zombie (exited, not yet reaped: its parent went
 * first and the machine's init reaps late, or never) has stopped, though signal 0 still reaches it.
 */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(') ') + 2, stat.lastIndexOf(') ') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * `waitFor` of `@eufy-relay/testing` as the end-to-end tests use it: a check that throws (a process
 * still starting, a connection refused) is tried again until the bound.
 */
export function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  context?: () => string,
): Promise<Truthy<T>> {
  return poll(what, check, { timeoutMs, retryErrors: true, ...(context ? { context } : {}) });
}

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** True once the process's output says it is ready. */
  ready: (lines: readonly string[]) => boolean;
}

/** One child process: start, wait for readiness, stop (SIGTERM), kill (SIGKILL), restart; keeps its output. */
export class ManagedProcess {
  readonly lines: string[] = [];
  private child: ChildProcess | undefined;
  private closed: Promise<number | null> = Promise.resolve(null);
  private partial = '';

  constructor(readonly spec: ProcessSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(timeoutMs = 20_000): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const from = this.lines.length;
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: ROOT,
      env: this.spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const collect = (chunk: Buffer) => {
      const parts = (this.partial + chunk.toString('utf8')).split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) if (line) this.lines.push(line);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.closed = new Promise((resolve) =>
      child.on('close', (code, signal) => {
        this.lines.push(`[harness] ${this.name} exited code=${code} signal=${signal}`);
        resolve(code);
      }),
    );
    let exited = false;
    const exitedEarly = this.closed.then(() => {
      exited = true;
      throw new Error(`${this.name} exited during start\n${this.tail()}`);
    });
    await Promise.race([
      exitedEarly,
      waitFor(
        `${this.name} to be ready`,
        () => exited || this.spec.ready(this.lines.slice(from)),
        timeoutMs,
        () => this.tail(),
      ),
    ]);
    exitedEarly.catch(() => undefined);
  }

  /** Graceful stop: SIGTERM, then SIGKILL after `boundMs`. */
  async stop(boundMs = 10_000): Promise<number | null> {
    if (!this.running) return this.closed;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), boundMs);
    const code = await this.closed;
    clearTimeout(timer);
    return code;
  }

  /** A crash: SIGKILL, and wait until the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.closed;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  tail(n = 40): string {
    return `--- last ${n} lines of ${this.name} ---\n${this.lines.slice(-n).join('\n')}`;
  }

  /** Parsed JSON log lines (pino); other lines are skipped. */
  logs(): Record<string, unknown>[] {
    return this.lines.flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }
}

/** A role's entry point logs `ready` (runMain) once start() resolved. */
const roleReady = (lines: readonly string[]) => lines.some((l) => l.includes('"msg":"ready"'));

export const CAMERA = 'T8113P0223000002';
export const SECOND_CAMERA = 'T8113P0223000003';
export const STATION = 'T8010P2321000001';
export const SECOND_STATION = 'T8010P2321000004';

// Each camera on its own station: a HomeBase streams one camera at a time, which is a recorder
// rule with its own tests; here the two cameras must be able to record at once.
const SCENARIO = `
timings: { motionResetSeconds: 0.5, livestreamIdleStopSeconds: 3, livestreamAckDelayMs: 20 }
media: { mode: loop, loopSeconds: 2 }
stations:
  - { serialNumber: ${STATION}, name: HomeBase }
  - { serialNumber: ${SECOND_STATION}, name: Garage }
devices:
  - serialNumber: ${CAMERA}
    name: Driveway
    station: ${STATION}
    battery: 76
    video: { width: 320, height: 240, fps: 15, bitrateKbps: 300 }
  - serialNumber: ${SECOND_CAMERA}
    name: Garden
    station: ${SECOND_STATION}
    battery: 80
    video: { width: 320, height: 240, fps: 15, bitrateKbps: 300 }
`;

/** Shortened timings, by the design's setting names only. */
export const TIMINGS = {
  MOTION_TIMEOUT_SECONDS: '2',
  MAX_RECORDING_SECONDS: '6',
  SNOOZE_SECONDS: '4',
  OFFLINE_DEBOUNCE_SECONDS: '1',
  BATTERY_ALERT_COOLDOWN_SECONDS: '3',
  BATTERY_LOW_PERCENT: '20',
  WEBHOOK_RETRY_SCHEDULE_SECONDS: '0.2,0.4,0.8,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1',
  WEBHOOK_TIMEOUT_MS: '2000',
  RETRY_BASE_DELAY_MS: '100',
  CLEANUP_INTERVAL_SECONDS: '1',
  SHUTDOWN_TIMEOUT_SECONDS: '5',
} as const;

export const WEBHOOK_SECRET = 'whsec_ZTJlLXRlc3Qtc2VjcmV0LWtleS0wMTIzNDU2Nzg5';
export const API_TOKEN = 'e2e-admin-token-0123456789';

export interface StackOptions {
  webhookUrl: string;
  /** Roles to start; default all five. */
  roles?: readonly Role[];
  env?: Record<string, string>;
  /** Settings of one role only, over `env` (e.g. a RECORDINGS_DIR of its own, as on another host). */
  roleEnv?: Partial<Record<Role, Record<string, string>>>;
}

/**
 * Redis, the simulator and the roles as separate processes, in a temp directory that holds the
 * scenario, the recordings and Redis's working directory. `close()` stops everything and removes it.
 */
export class Stack {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'eufy-relay-e2e-'));
  readonly recordingsDir = path.join(this.dir, 'recordings');
  readonly processes = new Map<string, ManagedProcess>();
  redisPort = 0;
  simPort = 0;
  controlPort = 0;
  apiPort = 0;

  private constructor(private readonly options: StackOptions) {}

  static async start(options: StackOptions): Promise<Stack> {
    const stack = new Stack(options);
    try {
      await stack.boot();
    } catch (err) {
      const tails = [...stack.processes.values()].map((p) => p.tail(15)).join('\n');
      await stack.close();
      throw new Error(`${(err as Error).message}\n${tails}`, { cause: err });
    }
    return stack;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get redisUrl(): string {
    return `redis://127.0.0.1:${this.redisPort}`;
  }

  process(name: string): ManagedProcess {
    const p = this.processes.get(name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }

  role(role: Role): ManagedProcess {
    return this.process(role);
  }

  private async boot(): Promise<void> {
    for (const app of [...ROLES, 'eufy-sim']) {
      if (!existsSync(entry(app))) throw new Error(`${entry(app)} is missing: run \`pnpm build\` first`);
    }
    [this.redisPort, this.simPort, this.controlPort, this.apiPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const scenarioFile = path.join(this.dir, 'scenario.yaml');
    writeFileSync(scenarioFile, SCENARIO);

    const redis = this.add({
      name: 'redis',
      command: 'redis-server',
      args: [
        '--port',
        String(this.redisPort),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
        '--dir',
        this.dir,
      ],
      env: { PATH: process.env.PATH ?? '' },
      ready: (lines) => lines.some((l) => l.includes('Ready to accept connections')),
    });
    const sim = this.add({
      name: 'eufy-sim',
      command: process.execPath,
      args: [
        entry('eufy-sim'),
        scenarioFile,
        '--port',
        String(this.simPort),
        '--control-port',
        String(this.controlPort),
      ],
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info' },
      ready: (lines) => lines.some((l) => l.includes('simulator listening')),
    });
    await Promise.all([redis.start(), sim.start()]);

    const roleEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      REDIS_URL: this.redisUrl,
      REDIS_PREFIX: 'eufy-relay-e2e',
      EUFY_WS_URL: `ws://127.0.0.1:${this.simPort}`,
      PUBLIC_BASE_URL: this.apiUrl,
      PORT: String(this.apiPort),
      HOST: '127.0.0.1',
      RECORDINGS_DIR: this.recordingsDir,
      WORKATO_WEBHOOK_URL: this.options.webhookUrl,
      WEBHOOK_SECRET,
      API_TOKEN,
      ...TIMINGS,
      ...this.options.env,
    };
    const roles = this.options.roles ?? ROLES;
    for (const role of roles) {
      this.add({
        name: role,
        command: process.execPath,
        args: [entry(role)],
        env: { ...roleEnv, ...this.options.roleEnv?.[role] },
        ready: roleReady,
      });
    }
    // Started together: no role may depend on another being up first.
    await Promise.all(roles.map((r) => this.role(r).start()));
  }

  private add(spec: ProcessSpec): ManagedProcess {
    const p = new ManagedProcess(spec);
    this.processes.set(spec.name, p);
    return p;
  }

  /** POST to the simulator's control API. */
  async control(route: string, body: unknown = {}): Promise<unknown> {
    const res = await fetch(`http://127.0.0.1:${this.controlPort}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`simulator ${route}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  async api(route: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.apiUrl}${route}`, init);
  }

  /** Every process's last lines, for a failure message. */
  tails(n = 25): string {
    return [...this.processes.values()].map((p) => p.tail(n)).join('\n');
  }

  /** Stops roles first (they flush to Redis), then the simulator and Redis; removes the temp dir. */
  async close(): Promise<void> {
    const roles = [...this.processes.values()].filter((p) => (ROLES as readonly string[]).includes(p.name));
    await Promise.all(roles.map((p) => p.stop()));
    await Promise.all([...this.processes.values()].map((p) => p.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Probe {
  format: { duration?: string; format_name?: string };
  streams: { codec_type: string; codec_name: string; width?: number; height?: number }[];
}

/** ffprobe of a URL or file; rejects with ffprobe's message when it cannot read it. */
export function ffprobe(target: string): Promise<Probe> {
  return new Promise((resolve, reject) =>
    execFile(
      'ffprobe',
      ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', target],
      { timeout: 30_000 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`ffprobe ${target}: ${stderr || err.message}`))
          : resolve(JSON.parse(stdout) as Probe),
    ),
  );
}

/**
 * Sends a motion detection for a camera every `everyMs` until `until()` holds (checked before each);
 * returns when the last one was sent (performance.now()).
 */
export async function keepMoving(
  stack: Stack,
  sn: string,
  everyMs: number,
  until: () => boolean | Promise<boolean>,
  guardMs = 30_000,
): Promise<number> {
  const deadline = Date.now() + guardMs;
  let last = 0;
  while (!(await until())) {
    if (Date.now() > deadline)
      throw new Error(`motion on ${sn}: condition not met in ${guardMs} ms\n${stack.tails()}`);
    await stack.control(`/devices/${sn}/detection`, { kind: 'motion' });
    last = performance.now();
    await sleep(everyMs);
  }
  return last;
}

/**
 * True once the URL of a recording in progress plays: its first fragment is written, so the plain
 * GET a player sends streams the video (ftyp first) instead of answering 202. The stream follows
 * the recording to its end, so it is read only as far as its first bytes, then dropped.
 */
export const playable = (url: string) => async () => {
  const abort = new AbortController();
  try {
    const res = await fetch(url, { signal: abort.signal });
    if (res.status !== 200 || !res.body) return false;
    const { value } = await res.body.getReader().read();
    return value !== undefined && Buffer.from(value).toString('latin1', 4, 8) === 'ftyp';
  } catch {
    return false;
  } finally {
    abort.abort();
  }
};

/** A test file's webhook receiver and stack: started before its tests, closed after them. */
export function useStack(options: Omit<StackOptions, 'webhookUrl'> = {}): {
  readonly receiver: WebhookReceiver;
  readonly stack: Stack;
} {
  const parts = {} as { receiver: WebhookReceiver; stack: Stack };
  beforeAll(async () => {
    parts.receiver = await WebhookReceiver.start({ secret: WEBHOOK_SECRET });
    parts.stack = await Stack.start({ ...options, webhookUrl: parts.receiver.url });
  }, 60_000);
  afterAll(async () => {
    await parts.stack?.close();
    await parts.receiver?.close();
  }, 60_000);
  return parts;
}
