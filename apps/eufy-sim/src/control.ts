import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { zodIssueLines } from '@eufy-relay/config';
import { DETECTIONS } from './detections';
import type { Simulator } from './simulator';

/**
 * The HTTP control API (JSON in, JSON out). Routes are listed in apps/eufy-sim/README.md; a bad body
 * gets 400 with the problem, an unknown serial 404, an unknown route 404.
 */

const MAX_BODY_BYTES = 64 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const detectionKind = z.enum(
  Object.keys(DETECTIONS) as [keyof typeof DETECTIONS, ...(keyof typeof DETECTIONS)[]],
);
const bodies = {
  detection: z.object({ kind: detectionKind.default('motion'), person: z.string().optional() }),
  detectionEnd: z.object({ kind: detectionKind.default('motion') }),
  state: z.object({ state: z.number().int().min(0).max(5) }),
  online: z.object({}),
  battery: z.object({ battery: z.number().int().min(0).max(100) }),
  station: z.object({ connected: z.boolean(), devices: z.boolean().default(true) }),
  malformed: z.object({
    kind: z.enum(['json', 'unknown_event', 'bad_fields', 'oversize']),
    bytes: z
      .number()
      .int()
      .min(1)
      .max(256 * 1024 * 1024)
      .optional(),
  }),
  push: z.object({ connected: z.boolean() }),
  load: z.object({
    rate: z.number().positive().max(100_000),
    seconds: z.number().positive().max(3600),
    kind: detectionKind.default('motion'),
    devices: z.array(z.string().min(1)).min(1).optional(),
  }),
  cut: z.object({ mode: z.enum(['stop', 'stall']).default('stop') }),
  rtsp: z.object({ mode: z.enum(['normal', 'refuse', 'stall']) }),
  failNext: z.object({ mode: z.enum(['ack', 'timeout']) }),
  command: z.discriminatedUnion('mode', [
    z.object({ mode: z.literal('hang') }),
    z.object({ mode: z.literal('fail'), errorCode: z.string().min(1) }),
    z.object({ mode: z.literal('normal') }),
  ]),
};

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, zodIssueLines(parsed.error, { root: 'body' }).join('; '));
  return parsed.data;
}

type Handler = (sim: Simulator, params: string[], body: unknown) => unknown;

/** [method, path pattern with :params, handler]. */
const routes: [string, string, Handler][] = [
  ['GET', '/state', (sim) => sim.snapshot()],
  [
    'POST',
    '/devices/:sn/detection',
    (sim, [sn], body) => {
      const { kind, person } = parse(bodies.detection, body);
      sim.triggerDetection(device(sim, sn!), kind, person);
      return { triggered: kind };
    },
  ],
  [
    'POST',
    '/devices/:sn/detection/end',
    (sim, [sn], body) => {
      const { kind } = parse(bodies.detectionEnd, body);
      sim.endDetection(device(sim, sn!), kind);
      return { ended: kind };
    },
  ],
  [
    'POST',
    '/devices/:sn/state',
    (sim, [sn], body) => {
      sim.setDeviceState(device(sim, sn!), parse(bodies.state, body).state);
      return { ok: true };
    },
  ],
  ['POST', '/devices/:sn/offline', (sim, [sn]) => (sim.setDeviceState(device(sim, sn!), 0), { state: 0 })],
  ['POST', '/devices/:sn/online', (sim, [sn]) => (sim.setDeviceState(device(sim, sn!), 1), { state: 1 })],
  [
    'POST',
    '/devices/:sn/battery',
    (sim, [sn], body) => {
      sim.setBattery(device(sim, sn!), parse(bodies.battery, body).battery);
      return { ok: true };
    },
  ],
  [
    'POST',
    '/devices/:sn/rtsp',
    async (sim, [sn], body) => {
      const { mode } = parse(bodies.rtsp, body);
      await sim.setRtspMode(device(sim, sn!), mode);
      return { mode };
    },
  ],
  [
    'POST',
    '/devices/:sn/rtsp/drop',
    async (sim, [sn]) => ({ dropped: await sim.dropRtsp(device(sim, sn!)) }),
  ],
  [
    'POST',
    '/devices/:sn/livestream/cut',
    (sim, [sn], body) => ({ cut: sim.cutLivestream(device(sim, sn!), parse(bodies.cut, body).mode) }),
  ],
  [
    'POST',
    '/devices/:sn/livestream/fail-next',
    (sim, [sn], body) => {
      const { mode } = parse(bodies.failNext, body);
      sim.failNextLivestream(device(sim, sn!), mode);
      return { failNext: mode };
    },
  ],
  [
    'POST',
    '/stations/:sn/connection',
    (sim, [sn], body) => {
      if (!sim.hasStation(sn!)) throw new HttpError(404, `no station ${sn}`);
      const { connected, devices } = parse(bodies.station, body);
      sim.setStationConnected(sn!, connected, { devices });
      return { connected };
    },
  ],
  [
    'POST',
    '/load/detections',
    (sim, _p, body) => {
      const options = parse(bodies.load, body);
      for (const sn of options.devices ?? []) device(sim, sn);
      return sim.startDetectionLoad(options);
    },
  ],
  [
    'GET',
    '/load/detections/:id',
    (sim, [id]) => {
      const report = sim.detectionLoad(id!);
      if (!report) throw new HttpError(404, `no load ${id}`);
      return report;
    },
  ],
  ['POST', '/connections/drop', (sim) => ({ dropped: sim.dropConnections() })],
  [
    'POST',
    '/malformed',
    (sim, _p, body) => {
      const { kind, bytes } = parse(bodies.malformed, body);
      return { sentTo: sim.sendMalformed(kind, bytes) };
    },
  ],
  [
    'POST',
    '/commands/:command',
    (sim, [command], body) => {
      const behaviour = parse(bodies.command, body);
      sim.setCommandBehaviour(command!, behaviour.mode === 'normal' ? undefined : behaviour);
      return { command, mode: behaviour.mode };
    },
  ],
  [
    'POST',
    '/driver/push',
    (sim, _p, body) => {
      const { connected } = parse(bodies.push, body);
      sim.setPushConnected(connected);
      return { pushConnected: connected };
    },
  ],
  ['POST', '/driver/verify-code', (sim) => (sim.requestVerifyCode(), { requested: 'verify code' })],
  ['POST', '/driver/captcha', (sim) => (sim.requestCaptcha(), { requested: 'captcha request' })],
];

function device(sim: Simulator, serialNumber: string): string {
  if (!sim.hasDevice(serialNumber)) throw new HttpError(404, `no device ${serialNumber}`);
  return serialNumber;
}

function match(pattern: string, path: string): string[] | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < want.length; i++) {
    if (want[i]!.startsWith(':')) params.push(decodeURIComponent(got[i]!));
    else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

async function handle(sim: Simulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://control').pathname.replace(/\/+$/, '') || '/';
  let status = 200;
  let payload: unknown;
  try {
    const found = routes
      .map(([method, pattern, handler]) => ({ method, handler, params: match(pattern, path) }))
      .filter((r) => r.params);
    const route = found.find((r) => r.method === req.method);
    if (!route) throw new HttpError(found.length ? 405 : 404, `no route ${req.method} ${path}`);
    payload = await route.handler(sim, route.params!, await readJson(req));
  } catch (err) {
    status = err instanceof HttpError ? err.status : 500;
    payload = { error: err instanceof Error ? err.message : String(err) };
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(payload)}\n`);
}

export function startControlServer(sim: Simulator, host: string, port: number): Promise<Server> {
  // Fire-and-forget: handle() answers every error itself (500 with the message); node's server ignores the result.
  const server = createServer((req, res) => void handle(sim, req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
