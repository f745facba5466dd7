import type { DeviceFields, StationRecord } from '@eufy-relay/devices';
import type { DeviceState, StationState } from '@eufy-relay/eufy-client';

/**
 * How eufy-security-ws says a device is offline (protocol reference §7): property `state` 0 offline,
 * 3 offline for low battery, 4 / 5 removed or reset and waiting to be added again. 1 online and 2
 * manually disabled are not outages. The values are the `reason` of camera_offline.
 */
const OFFLINE_STATES: Record<number, string> = {
  0: 'disconnected',
  3: 'offline_low_battery',
  4: 'remove_and_readd',
  5: 'reset_and_readd',
};

/** eufy ChargingStatus: 1 charging, 2 unplugged, 3 plugged (full), 4 solar charging. */
const CHARGING_STATUS: Record<number, boolean> = { 1: true, 2: false, 3: false, 4: true };

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The HomeBase a device streams through; its own serial for a standalone device. */
export function stationOf(device: DeviceState): string {
  return text(device.properties.stationSerialNumber) ?? device.serialNumber;
}

/** A camera can stream video (the client's rule: its commands include start_livestream). */
export function isCamera(device: DeviceState): boolean {
  return device.commands.includes('start_livestream');
}

export function batteryLevel(device: DeviceState): number | null {
  const level = num(device.properties.battery);
  return level === null ? null : Math.round(Math.min(100, Math.max(0, level)));
}

/**
 * Why the device is offline, or null when it is not. The station's P2P link counts for a HomeBase
 * and for a mains-powered standalone camera (the bridge reconnects those on its own, so a link that
 * stays down is an outage), but not for a standalone battery camera: those "energy-saving" devices
 * close P2P about 30 s after every stream and are not reconnected, which is normal.
 */
export function offlineReason(device: DeviceState, station: StationState | undefined): string | null {
  const standaloneOnBattery = stationOf(device) === device.serialNumber && batteryLevel(device) !== null;
  if (station && !station.connected && !standaloneOnBattery) return 'station_disconnected';
  const state = num(device.properties.state);
  return state === null ? null : (OFFLINE_STATES[state] ?? null);
}

function charging(device: DeviceState): boolean | null {
  const { batteryIsCharging, chargingStatus } = device.properties;
  if (typeof batteryIsCharging === 'boolean') return batteryIsCharging;
  const status = num(chargingStatus);
  return status === null ? null : (CHARGING_STATUS[status] ?? null);
}

/** The registry fields ingest owns, as the bridge reports them now. */
export function deviceFields(
  device: DeviceState,
  station: StationState | undefined,
): Omit<
  DeviceFields,
  | 'last_motion_at'
  | 'last_seen_at'
  | 'recording_id'
  | 'snoozed_until'
  | 'video_source'
  | 'video_source_reason'
  | 'prebuffer'
  | 'updated_at'
> {
  return {
    name: text(device.properties.name),
    model: text(device.properties.model),
    type: num(device.properties.type),
    station_serial: stationOf(device),
    is_camera: isCamera(device),
    online: offlineReason(device, station) === null,
    state: num(device.properties.state),
    battery: batteryLevel(device),
    charging: charging(device),
  };
}

export function stationFields(station: StationState): Omit<StationRecord, 'serial' | 'updated_at'> {
  return {
    name: text(station.properties.name),
    model: text(station.properties.model),
    connected: station.connected,
  };
}
