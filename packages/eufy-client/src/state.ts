import { isDeepStrictEqual } from 'node:util';
import {
  DETECTION_EVENTS,
  type DetectionKind,
  type DriverState,
  type EufyEvent,
  type VersionMessage,
} from './protocol';

// The client's picture of the driver, stations and devices, and the pure rules that keep it: how an
// event changes it (applyEvent), what an event means as a detection (detectionOf), and what changed
// between two pictures taken either side of a connection loss (reconcile). No sockets, no timers: the
// client does the I/O these ask for.

export interface DeviceState {
  serialNumber: string;
  /** As `device.get_properties` returned them, kept current by `property changed` events. */
  properties: Record<string, unknown>;
  /** From `device.get_commands`; a device is a camera iff this includes `start_livestream`. */
  commands: string[];
}

export interface StationState {
  serialNumber: string;
  properties: Record<string, unknown>;
  /** The server's P2P link to the station (`station.is_connected`, `connected`/`disconnected` events). */
  connected: boolean;
}

export interface ClientState {
  server: VersionMessage;
  schemaVersion: number;
  driver: DriverState;
  stations: Map<string, StationState>;
  devices: Map<string, DeviceState>;
}

/** A property that changed: live (`property` event) or while the client was away (`reconciled`). */
export interface PropertyChange {
  source: 'device' | 'station';
  serialNumber: string;
  /** A property name; for stations also `connected` (the P2P link). */
  name: string;
  value: unknown;
  /** What the client knew before; undefined if it did not know the property. */
  previous: unknown;
}

/** What changed between the last state before a connection loss and the state after reconnecting. */
export interface ReconcileReport {
  /** How long the client was without a listening connection. */
  awayMs: number;
  changes: PropertyChange[];
  addedDevices: string[];
  removedDevices: string[];
  addedStations: string[];
  removedStations: string[];
}

export interface Detection {
  kind: DetectionKind;
  serialNumber: string;
  /** true: the detection began; false: the server cleared it (~10 s later, EVENT_DURATION_SECONDS). */
  state: boolean;
  /** Person detections: the recognised name, "Unknown" or "". */
  person?: string;
}

/** What applying an event asks of the client beyond the change it made to the state. */
export interface AppliedEvent {
  /** A `property changed` event: the change, with the value known before (emit as `property`). */
  change?: PropertyChange;
  /** A device or station was announced: fetch its properties and put it into the state. */
  fetch?: { kind: 'device' | 'station'; serialNumber: string };
}

/** A fresh state for a connection that has negotiated `schemaVersion` and not yet listened. */
export function initialState(server: VersionMessage, schemaVersion: number): ClientState {
  return {
    server,
    schemaVersion,
    driver: { version: server.driverVersion, connected: false, pushConnected: false },
    stations: new Map(),
    devices: new Map(),
  };
}

/** Applies one server event to the state (in place) and says what else it asks for. */
export function applyEvent(state: ClientState, event: EufyEvent): AppliedEvent {
  if (event.event === 'property changed') {
    const holder =
      event.source === 'device'
        ? state.devices.get(event.serialNumber)
        : state.stations.get(event.serialNumber);
    const previous = holder?.properties[event.name];
    if (holder) holder.properties[event.name] = event.value;
    return {
      change: {
        source: event.source,
        serialNumber: event.serialNumber,
        name: event.name,
        value: event.value,
        previous,
      },
    };
  }
  switch (event.source) {
    case 'station': {
      const station = 'serialNumber' in event ? state.stations.get(event.serialNumber) : undefined;
      if (station && event.event === 'connected') station.connected = true;
      if (station && (event.event === 'disconnected' || event.event === 'connection error'))
        station.connected = false;
      if (event.event === 'station added') return { fetch: { kind: 'station', serialNumber: event.station } };
      if (event.event === 'station removed') state.stations.delete(event.station);
      return {};
    }
    case 'device':
      if (event.event === 'device added') return { fetch: { kind: 'device', serialNumber: event.device } };
      if (event.event === 'device removed') state.devices.delete(event.device);
      return {};
    case 'driver':
      if (event.event === 'connected' || event.event === 'disconnected')
        state.driver.connected = event.event === 'connected';
      if (event.event === 'push connected' || event.event === 'push disconnected')
        state.driver.pushConnected = event.event === 'push connected';
      if (event.event === 'mqtt connected' || event.event === 'mqtt disconnected')
        state.driver.mqttConnected = event.event === 'mqtt connected';
      return {};
    default:
      return {};
  }
}

/** The detection a device event reports (motion, person, ring, …), or undefined for other events. */
export function detectionOf(event: EufyEvent): Detection | undefined {
  if (event.source !== 'device' || !(event.event in DETECTION_EVENTS)) return undefined;
  const { serialNumber, state, person } = event as Extract<EufyEvent, { state: boolean; person?: string }>;
  const kind = DETECTION_EVENTS[event.event as keyof typeof DETECTION_EVENTS];
  return { kind, serialNumber, state, ...(person === undefined ? {} : { person }) };
}

function diffProperties(
  source: 'device' | 'station',
  serialNumber: string,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): PropertyChange[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names]
    .filter((name) => !isDeepStrictEqual(before[name], after[name]))
    .map((name) => ({ source, serialNumber, name, value: after[name], previous: before[name] }));
}

/** Compares the state before a loss with the state after reconnecting. */
export function reconcile(before: ClientState, after: ClientState, lostAt?: number): ReconcileReport {
  const changes: PropertyChange[] = [];
  for (const [sn, device] of after.devices) {
    const old = before.devices.get(sn);
    if (old) changes.push(...diffProperties('device', sn, old.properties, device.properties));
  }
  for (const [sn, station] of after.stations) {
    const old = before.stations.get(sn);
    if (!old) continue;
    changes.push(...diffProperties('station', sn, old.properties, station.properties));
    if (old.connected !== station.connected)
      changes.push({
        source: 'station',
        serialNumber: sn,
        name: 'connected',
        value: station.connected,
        previous: old.connected,
      });
  }
  const added = (a: Map<string, unknown>, b: Map<string, unknown>) => [...b.keys()].filter((k) => !a.has(k));
  return {
    awayMs: lostAt === undefined ? 0 : Date.now() - lostAt,
    changes,
    addedDevices: added(before.devices, after.devices),
    removedDevices: added(after.devices, before.devices),
    addedStations: added(before.stations, after.stations),
    removedStations: added(after.stations, before.stations),
  };
}
