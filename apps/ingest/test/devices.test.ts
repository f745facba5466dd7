import type { DeviceState, StationState } from '@eufy-relay/eufy-client';
import { deviceFields, offlineReason } from '../src/devices';

// The verdicts of the protocol reference §7, on device and station states shaped as the client keeps them.

const HOMEBASE = 'T8010P2321000001';

function camera(properties: Record<string, unknown>, serialNumber = 'T8113P0223000002'): DeviceState {
  return {
    serialNumber,
    properties: { stationSerialNumber: HOMEBASE, state: 1, ...properties },
    commands: ['start_livestream', 'stop_livestream'],
  };
}

function station(connected: boolean, serialNumber = HOMEBASE): StationState {
  return { serialNumber, connected, properties: {} };
}

describe('offlineReason', () => {
  it.each([
    [0, 'disconnected'],
    [1, null],
    [2, null],
    [3, 'offline_low_battery'],
    [4, 'remove_and_readd'],
    [5, 'reset_and_readd'],
  ])('state %s → %s', (state, reason) => {
    expect(offlineReason(camera({ state }), station(true))).toBe(reason);
  });

  it('a HomeBase without its P2P link takes its cameras offline, whatever their last state said', () => {
    expect(offlineReason(camera({ state: 1, battery: 80 }), station(false))).toBe('station_disconnected');
  });

  it('a standalone battery camera closing P2P is normal; a standalone mains camera doing so is not', () => {
    const solo = 'T8400P1022000004';
    const own = { stationSerialNumber: solo };
    expect(offlineReason(camera({ ...own, battery: 88 }, solo), station(false, solo))).toBeNull();
    expect(offlineReason(camera({ ...own, battery: 88, state: 0 }, solo), station(false, solo))).toBe(
      'disconnected',
    );
    expect(offlineReason(camera(own, solo), station(false, solo))).toBe('station_disconnected');
  });

  it('an unknown state or station is no verdict of offline', () => {
    expect(offlineReason(camera({ state: 'weird' }), undefined)).toBeNull();
  });
});

describe('deviceFields', () => {
  it('maps identity and health, leaving what the bridge does not say as null', () => {
    expect(
      deviceFields(
        camera({ name: 'Garden', model: 'T8114', type: 9, state: 3, battery: 12.6, batteryIsCharging: true }),
        station(true),
      ),
    ).toEqual({
      name: 'Garden',
      model: 'T8114',
      type: 9,
      station_serial: HOMEBASE,
      is_camera: true,
      online: false,
      state: 3,
      battery: 13,
      charging: true,
    });
    const sensor: DeviceState = { serialNumber: 'T8900P0000000001', properties: { name: '' }, commands: [] };
    expect(deviceFields(sensor, undefined)).toMatchObject({
      name: null,
      station_serial: 'T8900P0000000001',
      is_camera: false,
      online: true,
      state: null,
      battery: null,
      charging: null,
    });
  });

  it.each([
    [1, true],
    [2, false],
    [3, false],
    [4, true],
    [9, null],
  ])('chargingStatus %s → charging %s', (chargingStatus, charging) => {
    expect(deviceFields(camera({ chargingStatus }), station(true)).charging).toBe(charging);
  });
});
