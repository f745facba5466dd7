import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@eufy-relay/logger';
import type { SimulatorOptions } from '@eufy-relay/eufy-sim';

export const HOMEBASE = 'T8010P2321000001';
export const CAM_A = 'T8113P0223000002';
export const CAM_B = 'T8113P0223000004';
/** Standalone: its own station. */
export const CAM_C = 'T8400P1022000003';

const SMALL_VIDEO = { width: 320, height: 240, fps: 15, bitrateKbps: 300 };

/** Two cameras on one HomeBase and a standalone one; small video and short timings for tests. */
export function testScenario(overrides: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return {
    server: { host: '127.0.0.1', port: 0, controlPort: 0 },
    timings: { motionResetSeconds: 0.3, livestreamIdleStopSeconds: 0.6, livestreamAckDelayMs: 20 },
    stations: [{ serialNumber: HOMEBASE, name: 'HomeBase' }],
    devices: [
      { serialNumber: CAM_A, name: 'Driveway', station: HOMEBASE, battery: 76, video: SMALL_VIDEO },
      { serialNumber: CAM_B, name: 'Garden', station: HOMEBASE, battery: 54, video: SMALL_VIDEO },
      { serialNumber: CAM_C, name: 'Hallway', video: { ...SMALL_VIDEO, audio: true } },
    ],
    ...overrides,
  };
}

/** A logger whose JSON lines the test can read. */
export function capturedLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines: () => lines };
}
