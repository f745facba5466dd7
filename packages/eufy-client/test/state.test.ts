import { applyEvent, detectionOf, initialState, reconcile, type ClientState, type EufyEvent } from '../src';

// The state rules on their own, without a socket: client.test.ts covers them end to end.

const CAM = 'T8113P0223000002';
const BASE = 'T8010P2321000001';

function state(): ClientState {
  const s = initialState(
    {
      type: 'version',
      driverVersion: '3.0.0',
      serverVersion: '1.9.1',
      minSchemaVersion: 13,
      maxSchemaVersion: 21,
    },
    21,
  );
  s.devices.set(CAM, { serialNumber: CAM, properties: { battery: 80 }, commands: ['start_livestream'] });
  s.stations.set(BASE, { serialNumber: BASE, properties: { guardMode: 1 }, connected: true });
  return s;
}

const event = (e: Record<string, unknown>) => e as unknown as EufyEvent;

test('a property change updates the state and reports the value known before', () => {
  const s = state();
  const applied = applyEvent(
    s,
    event({ source: 'device', event: 'property changed', serialNumber: CAM, name: 'battery', value: 79 }),
  );
  expect(applied).toEqual({
    change: { source: 'device', serialNumber: CAM, name: 'battery', value: 79, previous: 80 },
  });
  expect(s.devices.get(CAM)?.properties.battery).toBe(79);
});

test('station links, removals and announcements', () => {
  const s = state();
  expect(applyEvent(s, event({ source: 'station', event: 'disconnected', serialNumber: BASE }))).toEqual({});
  expect(s.stations.get(BASE)?.connected).toBe(false);
  expect(
    applyEvent(s, event({ source: 'station', event: 'station added', station: 'T8010P0000000009' })),
  ).toEqual({
    fetch: { kind: 'station', serialNumber: 'T8010P0000000009' },
  });
  applyEvent(s, event({ source: 'device', event: 'device removed', device: CAM }));
  expect(s.devices.has(CAM)).toBe(false);
});

test('a motion event is a detection; a property change is not', () => {
  expect(
    detectionOf(event({ source: 'device', event: 'motion detected', serialNumber: CAM, state: true })),
  ).toEqual({
    kind: 'motion',
    serialNumber: CAM,
    state: true,
  });
  expect(
    detectionOf(
      event({ source: 'device', event: 'property changed', serialNumber: CAM, name: 'x', value: 1 }),
    ),
  ).toBeUndefined();
});

test('reconcile lists changed properties, the station link and added or removed devices', () => {
  const before = state();
  const after = state();
  after.devices.get(CAM)!.properties.battery = 50;
  after.stations.get(BASE)!.connected = false;
  after.devices.set('T8400P1022000003', { serialNumber: 'T8400P1022000003', properties: {}, commands: [] });
  const report = reconcile(before, after);
  expect(report.awayMs).toBe(0);
  expect(report.changes).toEqual([
    { source: 'device', serialNumber: CAM, name: 'battery', value: 50, previous: 80 },
    { source: 'station', serialNumber: BASE, name: 'connected', value: false, previous: true },
  ]);
  expect(report.addedDevices).toEqual(['T8400P1022000003']);
  expect(report.removedDevices).toEqual([]);
});
