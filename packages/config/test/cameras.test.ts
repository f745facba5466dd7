import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, cameraSettings, describeConfig, loadConfig, unknownCameras } from '../src';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'eufy-relay-cameras-'));
const yamlFile = (name: string, text: string) => {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
};

function errorLines(file: string): string[] {
  try {
    loadConfig({ env: { CONFIG_FILE: file } });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).lines;
  }
  throw new Error('expected loadConfig to throw');
}

describe('per-camera settings (cameras: in YAML)', () => {
  it('overrides only the camera it names; the others keep the global settings', () => {
    const file = yamlFile(
      'cameras.yaml',
      [
        'MOTION_TIMEOUT_SECONDS: 40',
        'cameras:',
        '  T8113P0223000002:',
        '    source: rtsp',
        '    rtsp_url: rtsp://admin:s3cret@192.168.1.20/live0',
        '    prebuffer_seconds: 5',
        '    triggers: [motion, person]',
        '    motion_timeout_seconds: 30',
        '    max_recording_seconds: 600',
        '    snooze_seconds: 1800',
        '    retention_days: 30',
        '  T8113P0223000003:',
        '    enabled: false',
      ].join('\n'),
    );
    const config = loadConfig({ env: { CONFIG_FILE: file, PREBUFFER_SECONDS: '2' } });
    expect(cameraSettings(config, 'T8113P0223000002')).toEqual({
      triggers: ['motion', 'person'],
      motion_timeout_seconds: 30,
      max_recording_seconds: 600,
      snooze_seconds: 1800,
      retention_days: 30,
      source: 'rtsp',
      rtsp_url: 'rtsp://admin:s3cret@192.168.1.20/live0',
      prebuffer_seconds: 5,
      enabled: true,
    });
    expect(cameraSettings(config, 'T8113P0223000003')).toEqual({
      triggers: ['motion', 'person', 'pet', 'vehicle', 'stranger', 'ring'],
      motion_timeout_seconds: 40,
      max_recording_seconds: 900,
      snooze_seconds: 3600,
      retention_days: 90,
      source: 'auto',
      rtsp_url: null,
      prebuffer_seconds: 2,
      enabled: false,
    });
    expect(cameraSettings(config, 'T0000000000000009').enabled).toBe(true);
    // The password of a configured RTSP URL never reaches a log.
    expect(JSON.stringify(describeConfig(config))).not.toContain('s3cret');
    expect(unknownCameras(config, ['T8113P0223000002'])).toEqual(['T8113P0223000003']);
  });

  it('stops at start with one line per bad key, naming the camera and the key', () => {
    const file = yamlFile(
      'bad-cameras.yaml',
      [
        'cameras:',
        '  T8113P0223000002:',
        '    prebuffer_seconds: x',
        '    source: webrtc',
        '    rtsp_url: http://user:hunter2@cam/live0',
        '  T8113P0223000003:',
        '    motion_timeout_seconds: -1',
        '    triggers: [motion, teleport]',
        '    enabled: sometimes',
        '    colour: blue',
        '  not-a-serial!: {}',
      ].join('\n'),
    );
    const lines = errorLines(file);
    expect(lines).toEqual([
      'config: cameras.T8113P0223000002.prebuffer_seconds="x": expected a number of seconds, 0 or more',
      'config: cameras.T8113P0223000002.source="webrtc": expected one of auto, rtsp, p2p',
      'config: cameras.T8113P0223000002.rtsp_url="http://user:***@cam/live0": expected an rtsp:// or rtsps:// URL (user and password in it if the camera asks)',
      'config: cameras.T8113P0223000003.motion_timeout_seconds="-1": expected a positive number (seconds)',
      expect.stringMatching(
        /^config: cameras\.T8113P0223000003\.triggers="motion,teleport": expected a comma-separated list of motion, person/,
      ),
      'config: cameras.T8113P0223000003.enabled="sometimes": expected true or false',
      expect.stringMatching(
        /^config: cameras\.T8113P0223000003\.colour \(in .*\): unknown camera setting; expected one of triggers, /,
      ),
      expect.stringMatching(/^config: cameras\.not-a-serial! \(in .*\): expected a camera serial number/),
    ]);
  });

  it('rejects a cameras value that is not a mapping', () => {
    expect(errorLines(yamlFile('list.yaml', 'cameras: [T8113P0223000002]\n'))).toEqual([
      expect.stringMatching(
        /^config: cameras \(in .*\): expected a mapping of camera serial number: settings$/,
      ),
    ]);
  });

  it('has no cameras by default, and validates the global CAMERA_SOURCE and PREBUFFER_SECONDS', () => {
    const config = loadConfig({ env: {} });
    expect(config.cameras).toEqual({});
    expect(config.CAMERA_SOURCE).toBe('auto');
    expect(config.PREBUFFER_SECONDS).toBe(0);
    expect(() => loadConfig({ env: { CAMERA_SOURCE: 'hls' } })).toThrow(
      'config: CAMERA_SOURCE="hls": expected one of auto, rtsp, p2p',
    );
  });
});
