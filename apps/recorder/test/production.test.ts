import { loadConfig } from '@eufy-relay/config';
import { start } from '../src';

// The recorder writes the video URLs of every webhook: in production they must be signed.
it('refuses to start under NODE_ENV=production without URL_SIGNING_SECRET, saying why', async () => {
  const env = {
    REDIS_URL: process.env.REDIS_URL ?? '',
    REDIS_PREFIX: `eufy-relay-test-recorder-prod-${process.pid}`,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'production',
  };
  await expect(start(loadConfig({ env }))).rejects.toThrow(
    'URL_SIGNING_SECRET is not set: under NODE_ENV=production the recorder does not start without it ' +
      '(the video URLs it sends in webhooks must be signed, else the api refuses them)',
  );
});
