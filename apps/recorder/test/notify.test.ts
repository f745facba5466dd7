import { checkRecordingSignature } from '@eufy-relay/contracts';
import { videoUrl } from '../src/notify';

const ID = 'T8113P0223000901_20261127_120000';
const base = { PUBLIC_BASE_URL: 'https://relay.example.com', URL_TTL_SECONDS: 3600 };

describe('video URLs in motion webhooks', () => {
  it('are plain without URL_SIGNING_SECRET', () => {
    expect(videoUrl({ ...base, URL_SIGNING_SECRET: undefined }, ID)).toBe(
      `https://relay.example.com/recordings/${ID}.mp4`,
    );
  });

  it('carry an expiry and a signature the api accepts with URL_SIGNING_SECRET', () => {
    const secret = 'a-url-signing-secret-for-tests';
    const url = new URL(videoUrl({ ...base, URL_SIGNING_SECRET: secret }, ID));
    expect(url.pathname).toBe(`/recordings/${ID}.mp4`);
    const query = Object.fromEntries(url.searchParams);
    expect(Number(query.expires)).toBeCloseTo(Date.now() / 1000 + 3600, -1);
    expect(checkRecordingSignature(ID, query, secret)).toBe('valid');
    expect(checkRecordingSignature(ID, query, 'another-secret-entirely')).toBe('invalid');
  });
});
