import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { zodIssueLines } from '@eufy-relay/config';

const seconds = z.number().positive();

export const videoProfile = z.object({
  width: z.number().int().min(16).max(4096).default(1920),
  height: z.number().int().min(16).max(4096).default(1080),
  fps: z.number().int().min(1).max(60).default(15),
  bitrateKbps: z.number().int().min(50).max(20_000).default(2000),
  /** Real cameras with "high encoding" send H.265; the simulator encodes H.264 only. */
  audio: z.boolean().default(false),
});
export type VideoProfile = z.infer<typeof videoProfile>;

const station = z.object({
  serialNumber: z.string().min(1),
  name: z.string().default('HomeBase'),
  model: z.string().default('T8010'),
  /** Extra or overriding `station.get_properties` values. */
  properties: z.record(z.string(), z.unknown()).default({}),
});

const device = z.object({
  serialNumber: z.string().min(1),
  name: z.string().default('Camera'),
  model: z.string().default('T8113'),
  /** The HomeBase it streams through; omitted: a standalone camera (its own station). */
  station: z.string().optional(),
  /** Battery percentage for a battery camera; omitted: mains powered (no `battery` property). */
  battery: z.number().int().min(0).max(100).optional(),
  /** Device `state`: 0 offline, 1 online, 2 disabled, 3 offline low battery. */
  state: z.number().int().min(0).max(5).default(1),
  video: videoProfile.default(videoProfile.parse({})),
  /**
   * The camera serves RTSP (property `rtspStream` true, `rtspStreamUrl` its URL on the simulator's
   * RTSP server). With `user`, clients must authenticate (digest or basic, `rtsp.auth`); the URL
   * the bridge reports carries no credentials, as a real camera's does.
   */
  rtsp: z.object({ user: z.string().min(1).optional(), password: z.string().default('') }).optional(),
  properties: z.record(z.string(), z.unknown()).default({}),
});

export const scenarioSchema = z.object({
  server: z
    .object({
      host: z.string().default('127.0.0.1'),
      /** WebSocket port (0: any free port). eufy-security-ws uses 3000. */
      port: z.number().int().min(0).max(65535).default(3000),
      /** HTTP control API port (0: any free port). */
      controlPort: z.number().int().min(0).max(65535).default(3001),
    })
    .default({ host: '127.0.0.1', port: 3000, controlPort: 3001 }),
  version: z
    .object({
      driverVersion: z.string().default('3.1.1'),
      serverVersion: z.string().default('1.9.1'),
      minSchemaVersion: z.number().int().min(0).default(0),
      maxSchemaVersion: z.number().int().min(0).default(21),
    })
    .default({ driverVersion: '3.1.1', serverVersion: '1.9.1', minSchemaVersion: 0, maxSchemaVersion: 21 }),
  timings: z
    .object({
      /** A detection flag clears this long after the last trigger (eufy-security-ws EVENT_DURATION_SECONDS). */
      motionResetSeconds: seconds.default(10),
      /** The bridge stops a livestream after this long without data. */
      livestreamIdleStopSeconds: seconds.default(5),
      /** Delay of the P2P acknowledgement (`command result`) after start/stop_livestream. */
      livestreamAckDelayMs: z.number().min(0).default(100),
      /** Demo mode: mean time between spontaneous detections. */
      demoMotionEverySeconds: seconds.default(45),
    })
    .default({
      motionResetSeconds: 10,
      livestreamIdleStopSeconds: 5,
      livestreamAckDelayMs: 100,
      demoMotionEverySeconds: 45,
    }),
  media: z
    .object({
      /**
       * `live`: one ffmpeg per running livestream, encoding a test pattern with the wall clock.
       * `loop`: each video profile is encoded once (loopSeconds long) and its access units replayed
       * to every stream: cheap enough for 100+ concurrent streams; the clock then repeats.
       */
      mode: z.enum(['live', 'loop']).default('live'),
      loopSeconds: z.number().int().min(1).max(120).default(4),
    })
    .default({ mode: 'live', loopSeconds: 4 }),
  rtsp: z
    .object({
      /** The RTSP server's port (0: any free port). */
      port: z.number().int().min(0).max(65535).default(0),
      /** How cameras with a `user` ask for credentials (Eufy firmware may force digest). */
      auth: z.enum(['digest', 'basic']).default('digest'),
      /** Length of the video each RTSP client gets (from its start; the stream then ends). */
      seconds: z.number().int().min(2).max(3600).default(600),
    })
    .default({ port: 0, auth: 'digest', seconds: 600 }),
  auth: z
    .object({
      /** The 2FA code `driver.set_verify_code` accepts. */
      verifyCode: z.string().default('123456'),
      /** The captcha text `driver.set_captcha` accepts. */
      captcha: z.string().default('ABCD'),
    })
    .default({ verifyCode: '123456', captcha: 'ABCD' }),
  /** Make detections on random cameras every so often. */
  demo: z.boolean().default(false),
  stations: z.array(station).default([]),
  devices: z.array(device).default([]),
});

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioDevice = Scenario['devices'][number];
export type ScenarioStation = Scenario['stations'][number];

export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

/** Validates a scenario; every problem is one line naming its path. */
export function parseScenario(input: unknown, origin = 'scenario'): Scenario {
  const parsed = scenarioSchema.safeParse(input ?? {});
  if (!parsed.success)
    throw new ScenarioError(
      zodIssueLines(parsed.error)
        .map((line) => `${origin}: ${line}`)
        .join('\n'),
    );
  const scenario = parsed.data;
  const stationSerials = new Set(scenario.stations.map((s) => s.serialNumber));
  const problems = scenario.devices
    .filter((d) => d.station !== undefined && d.station !== d.serialNumber && !stationSerials.has(d.station))
    .map((d) => `${origin}: devices.${d.serialNumber}.station: no station ${d.station} in stations`);
  const serials = [...scenario.devices.map((d) => d.serialNumber), ...stationSerials];
  const repeated = serials.filter((sn, i) => serials.indexOf(sn) !== i);
  problems.push(...[...new Set(repeated)].map((sn) => `${origin}: serial number ${sn} appears twice`));
  if (problems.length) throw new ScenarioError(problems.join('\n'));
  return scenario;
}

export function loadScenarioFile(path: string): Scenario {
  return parseScenario(parseYaml(readFileSync(path, 'utf8')), path);
}
