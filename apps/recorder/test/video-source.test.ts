import { loadConfig, type CameraOverrides } from '@eufy-relay/config';
import type { EufyClient } from '@eufy-relay/eufy-client';
import type { FfmpegExit } from '@eufy-relay/media';
import { chooseSource, redactUrl, rtspFailure } from '../src/video-source';

const SN = 'T8113P0223000801';
const config = (cameras: Record<string, CameraOverrides> = {}, env: Record<string, string> = {}) => ({
  ...loadConfig({ env }),
  cameras,
});
/** The bridge's view of one camera, as the eufy client keeps it. */
const bridge = (properties: Record<string, unknown>) =>
  ({ state: { devices: new Map([[SN, { properties }]]) } }) as unknown as EufyClient;
const exit = (stderr: string[]): FfmpegExit => ({
  code: 1,
  signal: null,
  reason: 'exited',
  ok: false,
  killed: false,
  stderr,
  inputs: [],
});

describe('choosing a camera’s video source', () => {
  const reported = { rtspStream: true, rtspStreamUrl: 'rtsp://192.0.2.20/live0' };

  it('auto: RTSP when the bridge reports it, with P2P as fallback; a configured URL wins', () => {
    expect(chooseSource({ config: config(), client: bridge(reported) }, SN)).toEqual({
      source: 'rtsp',
      url: 'rtsp://192.0.2.20/live0',
      fallback: true,
      why: 'the camera reports RTSP (rtspStream, rtspStreamUrl)',
    });
    const own = config({ [SN]: { rtsp_url: 'rtsp://u:p@192.0.2.30/live0' } });
    expect(chooseSource({ config: own, client: bridge(reported) }, SN)).toMatchObject({
      source: 'rtsp',
      url: 'rtsp://u:p@192.0.2.30/live0',
      why: 'rtsp_url in the config',
    });
  });

  it('P2P when there is no URL, or the config says p2p; rtsp never falls back', () => {
    expect(chooseSource({ config: config(), client: bridge({ rtspStream: false }) }, SN)).toEqual({
      source: 'p2p',
      why: 'the camera has no RTSP stream (rtspStream off, no rtsp_url configured)',
    });
    expect(
      chooseSource({ config: config({}, { CAMERA_SOURCE: 'p2p' }), client: bridge(reported) }, SN),
    ).toEqual({
      source: 'p2p',
      why: 'source: p2p in the config',
    });
    expect(
      chooseSource({ config: config({ [SN]: { source: 'rtsp' } }), client: bridge(reported) }, SN),
    ).toMatchObject({
      source: 'rtsp',
      fallback: false,
    });
    expect(
      chooseSource(
        { config: config({ [SN]: { source: 'rtsp' } }), client: bridge({ rtspStream: true }) },
        SN,
      ),
    ).toEqual({
      source: 'p2p',
      why: 'source: rtsp, but the camera has RTSP on but reports no URL (set rtsp_url)',
    });
  });
});

describe('why an RTSP pull failed', () => {
  it('names refusal, authentication, silence and a drop', () => {
    expect(rtspFailure(exit(['Server returned 401 Unauthorized (authorization failed)']), 0, 5)).toMatch(
      /^RTSP authentication failed/,
    );
    expect(
      rtspFailure(exit(['Connection to tcp://192.0.2.20:554 failed: Connection refused']), 0, 5),
    ).toMatch(/^RTSP refused/);
    expect(rtspFailure(exit([]), 0, 5)).toBe('RTSP delivered no video within 5 s');
    expect(rtspFailure(exit([]), 1, 5)).toBe('RTSP stream ended (no data for 5 s, or the camera closed it)');
  });

  it('never shows a password', () => {
    expect(redactUrl('rtsp://admin:s3cret@192.0.2.20/live0')).toBe('rtsp://admin:***@192.0.2.20/live0');
  });
});
