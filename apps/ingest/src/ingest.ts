import type { DeviceRegistry } from '@eufy-relay/devices';
import type {
  ClientState,
  Detection,
  DeviceState,
  EufyClient,
  EufyEvent,
  PropertyChange,
  StationState,
} from '@eufy-relay/eufy-client';
import type { Logger } from '@eufy-relay/logger';
import type { BatteryAlerts } from './battery';
import type { BridgeMonitor } from './bridge';
import { batteryLevel, deviceFields, isCamera, offlineReason, stationFields, stationOf } from './devices';
import { detectionFlags, type DetectionEdge, type MotionSignals } from './motion';
import type { Outages } from './outages';
import type { Outbox, OutboxWrite } from './outbox';

export interface IngestParts {
  client: EufyClient;
  outbox: Outbox;
  registry: DeviceRegistry;
  motion: MotionSignals;
  outages: Outages;
  battery: BatteryAlerts;
  bridge: BridgeMonitor;
  logger: Logger;
}

/** Properties whose change can move a device between online and offline, or change its battery. */
const HEALTH_PROPERTIES = new Set([
  'state',
  'stationSerialNumber',
  'battery',
  'batteryLow',
  'batteryIsCharging',
  'chargingStatus',
  'name',
  'model',
  'type',
]);

/**
 * Turns what the eufy client reports into writes to Redis, in the order it reports them: motion
 * signals for the recorder, the device registry, outages (camera_offline / camera_online) and battery
 * alerts. Every write is computed from the state at the moment of the event and is idempotent, so the
 * full sync after each (re)connect can simply write everything again: whatever changed while ingest
 * was away or disconnected is caught up, and whatever did not change produces nothing new.
 */
export class Ingest {
  /** The offline reason last written per camera (null: online), to write only changes between syncs. */
  private readonly written = new Map<string, string | null>();
  /** Devices whose last_seen_at write is waiting in the outbox, with the newest time to write. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly parts: IngestParts) {}

  attach(): void {
    const { client, bridge } = this.parts;
    client.on('connection', (status) => bridge.onConnection(status));
    client.on('fatal', (err) => bridge.onFatal(err));
    client.on('ready', (state) => {
      bridge.onReady(state);
      this.sync(state);
    });
    client.on('detection', (detection) => this.onDetection(detection, Date.now()));
    client.on('property', (change) => this.onProperty(change, Date.now()));
    client.on('event', (event) => this.onEvent(event, Date.now()));
  }

  /** Writes everything again from the client's state (after each (re)connect): one buffer entry. */
  sync(state: ClientState | undefined = this.parts.client.state): void {
    if (!state) return;
    const at = Date.now();
    const writes = [...state.stations.values()].map((station) => this.stationWrite(station, at));
    for (const device of state.devices.values()) {
      writes.push(...this.deviceWrites(device, state, at, { sync: true }));
      for (const [kind, flag] of detectionFlags(device))
        writes.push(
          this.edgeWrite({
            serial: device.serialNumber,
            kind,
            state: flag,
            at,
            sourceEvent: `${kind} flag read after (re)connecting`,
          }),
        );
    }
    this.parts.outbox.push(writes);
  }

  /** Writes were dropped from a full buffer: write the whole state again, the dropped included. */
  resyncAfterDrop(): void {
    // A last_seen_at write may have been among them; the next event of that device starts a new one.
    this.seen.clear();
    this.sync();
  }

  private onDetection(detection: Detection, at: number): void {
    this.parts.outbox.push(
      this.edgeWrite({
        serial: detection.serialNumber,
        kind: detection.kind,
        state: detection.state,
        at,
        sourceEvent: detection.kind === 'ring' ? 'rings' : `${detection.kind} detected`,
      }),
      detection.serialNumber,
    );
  }

  private onProperty(change: PropertyChange, at: number): void {
    const state = this.parts.client.state;
    if (!state || change.source !== 'device' || !HEALTH_PROPERTIES.has(change.name)) return;
    const device = state.devices.get(change.serialNumber);
    const battery = change.name === 'battery' || change.name === 'batteryLow';
    if (device)
      this.parts.outbox.push(this.deviceWrites(device, state, at, { battery }), device.serialNumber);
  }

  private onEvent(event: EufyEvent, at: number): void {
    this.parts.bridge.onEvent(event, at);
    const state = this.parts.client.state;
    if (!state) return;
    if (event.source === 'station' && 'serialNumber' in event) {
      const station = state.stations.get(event.serialNumber);
      if (!station || !['connected', 'disconnected', 'connection error'].includes(event.event)) return;
      const writes = [this.stationWrite(station, at)];
      for (const device of state.devices.values())
        if (stationOf(device) === station.serialNumber)
          writes.push(...this.deviceWrites(device, state, at, {}));
      this.parts.outbox.push(writes);
      return;
    }
    if (event.source !== 'device') return;
    // Fire-and-forget: fetchAdded logs its own failure; the event loop of the bridge must not wait for two RPCs.
    if (event.event === 'device added') void this.fetchAdded(event.device);
    else if (event.event === 'device removed') {
      const serial = event.device;
      this.written.delete(serial);
      this.parts.outbox.push(
        [
          write(`device ${serial} removed`, () => this.parts.registry.removeDevice(serial)),
          write(`camera ${serial} removed: outage closed`, () => this.parts.outages.close(serial, at)),
        ],
        serial,
      );
    } else if (state.devices.has(event.serialNumber)) this.markSeen(event.serialNumber, at);
  }

  /**
   * last_seen_at of a device: every event of it counts, but while a write of it is still waiting (Redis
   * slow or away) the waiting write takes the newer time instead of another write joining the buffer.
   */
  private markSeen(serial: string, at: number): void {
    const waiting = this.seen.has(serial);
    this.seen.set(serial, at);
    if (waiting) return;
    this.parts.outbox.push(
      write(`device ${serial} seen`, async () => {
        for (;;) {
          const latest = this.seen.get(serial);
          if (latest === undefined) return;
          await this.parts.registry.updateDevice(serial, { last_seen_at: latest }, latest);
          if (this.seen.get(serial) === latest) this.seen.delete(serial);
        }
      }),
      serial,
    );
  }

  /** The client fetches an added device for its own state without telling anyone; ingest asks itself. */
  private async fetchAdded(serial: string): Promise<void> {
    const { client, logger } = this.parts;
    try {
      const [properties, commands] = await Promise.all([
        client.getDeviceProperties(serial),
        client.getDeviceCommands(serial),
      ]);
      const state = client.state;
      if (state)
        this.parts.outbox.push(
          this.deviceWrites({ serialNumber: serial, properties, commands }, state, Date.now(), {
            sync: true,
          }),
          serial,
        );
    } catch (err) {
      logger.warn({ serial, err }, 'could not fetch an added device: it is written at the next sync');
    }
  }

  private stationWrite(station: StationState, at: number): OutboxWrite {
    const fields = stationFields(station);
    return write(`station ${station.serialNumber}`, () =>
      this.parts.registry.updateStation(station.serialNumber, fields, at),
    );
  }

  /**
   * Registry fields; then, for a camera, its outage if the verdict changed (or always, on a sync); then
   * the battery reading when it is new (or on a sync). Computed now, from the state at the event.
   */
  private deviceWrites(
    device: DeviceState,
    state: ClientState,
    at: number,
    options: { sync?: boolean; battery?: boolean },
  ): OutboxWrite[] {
    const { registry, outages, battery } = this.parts;
    const serial = device.serialNumber;
    const station = state.stations.get(stationOf(device));
    const fields = deviceFields(device, station);
    const writes = [write(`device ${serial}`, () => registry.updateDevice(serial, fields, at))];

    if (isCamera(device)) {
      const reason = offlineReason(device, station);
      if (options.sync || !this.written.has(serial) || this.written.get(serial) !== reason) {
        this.written.set(serial, reason);
        writes.push(
          reason === null
            ? write(`camera ${serial} online`, () => outages.close(serial, at))
            : write(`camera ${serial} offline (${reason})`, () => outages.open(serial, reason, at)),
        );
      }
    }

    const level = batteryLevel(device);
    const lowFlag = device.properties.batteryLow;
    if (level !== null && (options.sync || options.battery))
      writes.push(
        write(`battery ${serial} ${level}%`, () =>
          battery.evaluate({ serial, level, ...(typeof lowFlag === 'boolean' ? { lowFlag } : {}), at }),
        ),
      );
    return writes;
  }

  private edgeWrite(edge: DetectionEdge): OutboxWrite {
    return write(`motion ${edge.serial} ${edge.kind} ${edge.state ? 'on' : 'off'}`, () =>
      this.parts.motion.write(edge),
    );
  }
}

function write(label: string, run: () => Promise<unknown>): OutboxWrite {
  return { label, run: async () => void (await run()) };
}
