import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';

/**
 * A real S3-compatible server for tests and the benchmark: fauxqs (npm, in-memory, multipart with the
 * 5 MiB part minimum) in a child process of its own, so a test can stop it (SIGSTOP: it holds its
 * objects and stops answering, as a hung S3 does) and let it go on (SIGCONT).
 *
 * fauxqs accepts any credentials. With `accessKeyId` set, a loopback gate in front of it answers what
 * AWS answers to a request signed with another key (403 InvalidAccessKeyId), and `readOnly` answers
 * 403 AccessDenied to every write, so the start-up check meets both; every other request is passed on.
 */
export interface S3TestServer {
  /** What S3_ENDPOINT should be (path style: S3_FORCE_PATH_STYLE=true). */
  endpoint: string;
  /** Stops answering without losing objects until resume(). */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export interface S3TestServerOptions {
  buckets: string[];
  accessKeyId?: string;
  readOnly?: boolean;
}

/**
 * The settings that put recordings into `bucket` on a test server (`STORAGE_BACKEND=s3`, path style):
 * the environment a test or a benchmark gives the relay. fauxqs takes any credentials; give the ones
 * a gate (`accessKeyId`) expects. Default `test` / `test`.
 */
export function s3TestSettings(options: {
  endpoint: string;
  bucket: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}): Record<string, string> {
  return {
    STORAGE_BACKEND: 's3',
    S3_ENDPOINT: options.endpoint,
    S3_BUCKET: options.bucket,
    S3_ACCESS_KEY_ID: options.accessKeyId ?? 'test',
    S3_SECRET_ACCESS_KEY: options.secretAccessKey ?? 'test',
    S3_FORCE_PATH_STYLE: 'true',
  };
}

const REPO_ROOT = path.resolve(__dirname, '../../..');

const START = `
import { startFauxqs } from 'fauxqs';
const server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false, init: { buckets: JSON.parse(process.env.BUCKETS) } });
process.stdout.write(JSON.stringify({ port: server.port }) + '\\n');
`;

export async function startS3TestServer(options: S3TestServerOptions): Promise<S3TestServer> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', START], {
    cwd: REPO_ROOT,
    env: { ...process.env, BUCKETS: JSON.stringify(options.buckets) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`fauxqs exited with ${code} before it listened`)));
  });
  const gate = options.accessKeyId || options.readOnly ? await startGate(port, options) : undefined;
  const endpointPort = gate ? (gate.address() as AddressInfo).port : port;
  return {
    endpoint: `http://127.0.0.1:${endpointPort}`,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: async () => {
      if (gate) {
        gate.closeAllConnections();
        await new Promise<void>((resolve) => gate.close(() => resolve()));
      }
      await stopChild(child);
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT');
  child.kill('SIGKILL');
  await exited;
}

function s3Error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

async function startGate(upstream: number, options: S3TestServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const auth = String(req.headers.authorization ?? req.url ?? '');
    const key =
      /Credential=([^/%]+)/.exec(auth)?.[1] ?? /X-Amz-Credential=([^%/&]+)/.exec(req.url ?? '')?.[1];
    const refuse = (status: number, code: string, message: string) => {
      req.resume();
      res.writeHead(status, { 'content-type': 'application/xml' }).end(s3Error(code, message));
    };
    if (options.accessKeyId && key !== options.accessKeyId)
      return refuse(
        403,
        'InvalidAccessKeyId',
        'The AWS Access Key Id you provided does not exist in our records.',
      );
    if (options.readOnly && req.method !== 'GET' && req.method !== 'HEAD')
      return refuse(403, 'AccessDenied', 'Access Denied');
    const forward = request(
      { host: '127.0.0.1', port: upstream, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
