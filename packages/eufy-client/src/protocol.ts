import { z } from 'zod';
import { zodIssueLines } from '@eufy-relay/config';
import { bufferFromJson } from './buffer-json';

/**
 * The messages eufy-security-ws sends at API schema 13..21 (bropat/eufy-security-ws
 * docs/api_events.md and docs/api_commands.md). Objects are not strict: newer servers add fields, and
 * an extra field must never turn a known event into a dropped one.
 */

export const versionMessage = z.object({
  type: z.literal('version'),
  driverVersion: z.string(),
  serverVersion: z.string(),
  minSchemaVersion: z.number().int(),
  maxSchemaVersion: z.number().int(),
});
export type VersionMessage = z.infer<typeof versionMessage>;

const messageId = z.union([z.string(), z.number()]).transform(String);

export const resultMessage = z.discriminatedUnion('success', [
  z.object({ type: z.literal('result'), messageId, success: z.literal(true), result: z.unknown() }),
  z.object({ type: z.literal('result'), messageId, success: z.literal(false), errorCode: z.string() }),
]);
export type ResultMessage = z.infer<typeof resultMessage>;

/** A media buffer: already a Buffer from the fast path, or the Buffer-JSON object from JSON.parse. */
const mediaBuffer = z.unknown().transform((value, ctx) => {
  const bytes = Buffer.isBuffer(value) ? value : bufferFromJson(value);
  if (bytes) return bytes;
  ctx.addIssue({ code: 'custom', message: 'expected {"type":"Buffer","data":[bytes 0..255]}' });
  return z.NEVER;
});

const serialNumber = z.string().min(1);

const deviceEvent = <E extends string, S extends z.ZodRawShape>(event: E, shape: S) =>
  z.object({ source: z.literal('device'), event: z.literal(event), serialNumber, ...shape });
const stationEvent = <E extends string, S extends z.ZodRawShape>(event: E, shape: S) =>
  z.object({ source: z.literal('station'), event: z.literal(event), serialNumber, ...shape });
const driverEvent = <E extends string, S extends z.ZodRawShape>(event: E, shape: S) =>
  z.object({ source: z.literal('driver'), event: z.literal(event), ...shape });

/** Device detections: the boolean property went true (detection began) or false (it cleared). */
export const DETECTION_EVENTS = {
  'motion detected': 'motion',
  'person detected': 'person',
  'pet detected': 'pet',
  'vehicle detected': 'vehicle',
  'stranger person detected': 'stranger',
  rings: 'ring',
  'sound detected': 'sound',
  'crying detected': 'crying',
  'dog detected': 'dog',
} as const;
export type DetectionEventName = keyof typeof DETECTION_EVENTS;
export type DetectionKind = (typeof DETECTION_EVENTS)[DetectionEventName];

const detectionEvents = (Object.keys(DETECTION_EVENTS) as DetectionEventName[]).map((name) =>
  deviceEvent(name, { state: z.boolean(), person: z.string().optional() }),
);

const commandResult = {
  command: z.string(),
  returnCode: z.number(),
  returnCodeName: z.string(),
  customData: z.unknown().optional(),
};
const propertyChanged = { name: z.string(), value: z.unknown() };

export const videoMetadata = z.object({
  videoCodec: z.string(),
  videoFPS: z.number(),
  videoHeight: z.number(),
  videoWidth: z.number(),
});
export const audioMetadata = z.object({ audioCodec: z.string() });

const eventSchemas = [
  ...detectionEvents,
  deviceEvent('property changed', propertyChanged),
  deviceEvent('command result', commandResult),
  deviceEvent('got rtsp url', { rtspUrl: z.string() }),
  deviceEvent('livestream started', {}),
  deviceEvent('livestream stopped', {}),
  deviceEvent('livestream video data', { buffer: mediaBuffer, metadata: videoMetadata }),
  deviceEvent('livestream audio data', { buffer: mediaBuffer, metadata: audioMetadata }),
  z.object({ source: z.literal('device'), event: z.literal('device added'), device: serialNumber }),
  z.object({ source: z.literal('device'), event: z.literal('device removed'), device: serialNumber }),
  stationEvent('connected', {}),
  stationEvent('disconnected', {}),
  stationEvent('connection error', {}),
  stationEvent('property changed', propertyChanged),
  stationEvent('command result', commandResult),
  stationEvent('guard mode changed', { guardMode: z.number() }),
  stationEvent('current mode changed', { currentMode: z.number() }),
  z.object({ source: z.literal('station'), event: z.literal('station added'), station: serialNumber }),
  z.object({ source: z.literal('station'), event: z.literal('station removed'), station: serialNumber }),
  driverEvent('connected', {}),
  driverEvent('disconnected', {}),
  driverEvent('push connected', {}),
  driverEvent('push disconnected', {}),
  driverEvent('mqtt connected', {}),
  driverEvent('mqtt disconnected', {}),
  driverEvent('verify code', {}),
  driverEvent('captcha request', { captchaId: z.string(), captcha: z.string() }),
  // Documented as "connection error"; server 1.9.1 sends "connectionError". Both arrive as the former.
  driverEvent('connection error', { error: z.unknown().optional() }),
  z.object({ source: z.literal('server'), event: z.literal('shutdown') }),
] as const;

export type EufyEvent = z.infer<(typeof eventSchemas)[number]>;
export type EufyEventSource = EufyEvent['source'];
/** One event, picked by source and name: `EventOf<'device', 'property changed'>`. */
export type EventOf<S extends EufyEventSource, E extends string> = Extract<
  EufyEvent,
  { source: S; event: E }
>;
export type DetectionEvent = Extract<EufyEvent, { event: DetectionEventName }>;
export type LivestreamVideoDataEvent = EventOf<'device', 'livestream video data'>;
export type LivestreamAudioDataEvent = EventOf<'device', 'livestream audio data'>;

const EVENT_NAME_ALIASES: Record<string, string> = { 'driver:connectionError': 'connection error' };

const schemaByKey = new Map<string, z.ZodType<EufyEvent>>(
  eventSchemas.map((schema) => [
    `${schema.shape.source.value}:${schema.shape.event.value}`,
    schema as z.ZodType<EufyEvent>,
  ]),
);

const eventEnvelope = z.object({
  type: z.literal('event'),
  event: z.looseObject({ source: z.string(), event: z.string() }),
});

/** What one frame from the server turned out to be. */
export type ServerMessage =
  | { kind: 'version'; message: VersionMessage }
  | { kind: 'result'; message: ResultMessage }
  | { kind: 'event'; event: EufyEvent }
  /** A well-formed event this client does not know (newer server): counted and skipped. */
  | { kind: 'unknown event'; source: string; event: string }
  /** Not a message of the protocol, or a known event with wrong fields: counted, logged and skipped. */
  | { kind: 'malformed'; problem: string };

function describeIssues(error: z.ZodError): string {
  return zodIssueLines(error, { root: '(message)', limit: 3 }).join('; ');
}

/** Classifies one decoded frame (see decodeMessage); never throws. */
export function classifyMessage(value: unknown): ServerMessage {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  if (type === 'event') {
    const envelope = eventEnvelope.safeParse(value);
    if (!envelope.success) return { kind: 'malformed', problem: describeIssues(envelope.error) };
    const { source } = envelope.data.event;
    const key = `${source}:${envelope.data.event.event}`;
    const name = EVENT_NAME_ALIASES[key] ?? envelope.data.event.event;
    const schema = schemaByKey.get(`${source}:${name}`);
    if (!schema) return { kind: 'unknown event', source, event: envelope.data.event.event };
    const parsed = schema.safeParse({ ...envelope.data.event, event: name });
    return parsed.success
      ? { kind: 'event', event: parsed.data }
      : { kind: 'malformed', problem: `${key}: ${describeIssues(parsed.error)}` };
  }
  if (type === 'result') {
    const parsed = resultMessage.safeParse(value);
    return parsed.success
      ? { kind: 'result', message: parsed.data }
      : { kind: 'malformed', problem: `result: ${describeIssues(parsed.error)}` };
  }
  if (type === 'version') {
    const parsed = versionMessage.safeParse(value);
    return parsed.success
      ? { kind: 'version', message: parsed.data }
      : { kind: 'malformed', problem: `version: ${describeIssues(parsed.error)}` };
  }
  return { kind: 'malformed', problem: `unknown message type ${JSON.stringify(type)}` };
}

// Results of the commands the client wraps.
export const startListeningResult = z.object({
  state: z.object({
    driver: z.looseObject({
      version: z.string(),
      connected: z.boolean(),
      pushConnected: z.boolean(),
      mqttConnected: z.boolean().optional(),
    }),
    stations: z.array(serialNumber),
    devices: z.array(serialNumber),
  }),
});
export type DriverState = z.infer<typeof startListeningResult>['state']['driver'];

export const propertiesResult = z.object({
  serialNumber,
  properties: z.record(z.string(), z.unknown()),
});
export const commandsResult = z.object({ serialNumber, commands: z.array(z.string()) });
export const connectedResult = z.object({ serialNumber, connected: z.boolean() });
export const livestreamingResult = z.object({ serialNumber, livestreaming: z.boolean() });
