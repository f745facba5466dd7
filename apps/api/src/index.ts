import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { requireInProduction, type Config } from '@eufy-relay/config';
import {
  QUEUES,
  cleanupJob,
  motionSignalJob,
  offlineCheckJob,
  openQueue,
  recordingSessionJob,
  urlSigning,
  type QueueHandles,
} from '@eufy-relay/contracts';
import { DeviceRegistry, HeartbeatStore } from '@eufy-relay/devices';
import { RecordingFiles, RecordingStore } from '@eufy-relay/recordings';
import {
  FragmentIndexes,
  LiveRecordings,
  LocalMedia,
  READ_CHUNK_BYTES,
  indexLookup,
} from '@eufy-relay/playback';
import { FragmentLayouts, SpoolOwners, openStorage, openUploadQueue } from '@eufy-relay/storage';
import { DeliveryLog, openWebhookQueue } from '@eufy-relay/webhooks';
import { createRedis, startRole, type RoleDeps, type RunningRole } from '@eufy-relay/runtime';
import { createApp } from './app';
import { sendThroughNginx } from './accel';
import type { ApiContext } from './context';
import { createServer, isLoopback, listenHost } from './server';
import { SpoolProxy } from './spool-proxy';

export interface ApiDeps extends RoleDeps {
  /** Listen here instead of PORT; 0 picks a free port (tests). */
  port?: number;
}

export interface RunningApi extends RunningRole {
  /** Where the server listens, e.g. http://127.0.0.1:8080. */
  readonly url: string;
}

/** Resolves once Redis is ready, or as soon as the first connection attempt fails (reported by /health). */
function firstConnection(redis: Redis): Promise<Error | null> {
  if (redis.status === 'ready') return Promise.resolve(null);
  return new Promise((resolve) => {
    const ready = () => {
      redis.off('error', failed);
      resolve(null);
    };
    const failed = (err: Error) => {
      redis.off('ready', ready);
      resolve(err);
    };
    redis.once('ready', ready);
    redis.once('error', failed);
  });
}

export function start(config: Config, deps?: ApiDeps): Promise<RunningApi> {
  return startRole('api', config, deps, async (scope) => {
    const { logger, shutdown } = scope;
    requireInProduction(config, 'api', {
      API_TOKEN: 'it guards the JSON API, the page and Bull Board',
      // A recording id is a camera serial (in every webhook) and a UTC second: unsigned, a script
      // could walk a day of one camera in 86,400 requests.
      URL_SIGNING_SECRET: 'video and thumbnail URLs are always signed in production',
      ...(config.STORAGE_BACKEND === 's3'
        ? { SPOOL_SECRET: "it signs the api's requests to the recorders' spool endpoints" }
        : {}),
    });
    // Fail fast while Redis is away: a request answers 500/503 at once instead of queueing forever.
    const redis = scope.redis('producer');
    const redisProblem = await firstConnection(redis);
    if (redisProblem) logger.warn({ err: redisProblem }, 'Redis is not reachable yet: /health reports it');

    const queueOptions = { connection: redis, prefix: config.REDIS_PREFIX };
    const queues: QueueHandles = {
      [QUEUES.motion]: openQueue(motionSignalJob, queueOptions),
      // Opened as producers open it: a job added from Bull Board carries the retry schedule too.
      [QUEUES.webhooks]: openWebhookQueue(config, redis),
      [QUEUES.janitor]: openQueue(cleanupJob, queueOptions),
      [QUEUES.alerts]: openQueue(offlineCheckJob, queueOptions),
      [QUEUES.recordingSessions]: openQueue(recordingSessionJob, queueOptions),
      [QUEUES.uploads]: openUploadQueue(config, redis),
    };
    // Connection errors are the Redis client's, already reported by /health: kept off stderr.
    for (const q of Object.values(queues)) scope.queue(q);

    // Opened on the first POST /cleanup, not at start: QueueEvents blocks on a connection of its own,
    // and one held open while Redis is away would make every stop wait out the shutdown bound.
    let janitorEvents: Promise<QueueEvents> | undefined;
    let closeJanitorEvents = async () => {};
    const openJanitorEvents = () =>
      (janitorEvents ??= (async () => {
        const eventsRedis = createRedis(config, 'worker', `${config.REDIS_PREFIX}:api-events`);
        eventsRedis.on('error', (err) => logger.debug({ err }, 'redis connection error (queue events)'));
        const events = new QueueEvents(QUEUES.janitor, {
          connection: eventsRedis,
          prefix: config.REDIS_PREFIX,
          // Read from a second back, not from "now": a run finishing before the first read still counts.
          lastEventId: `${Date.now() - 1000}-0`,
        });
        events.on('error', (err) => logger.debug({ err }, 'queue events error'));
        closeJanitorEvents = async () => {
          await events.close();
          eventsRedis.disconnect();
        };
        await events.waitUntilReady();
        return events;
      })());
    shutdown.add('janitor queue events', () => closeJanitorEvents());

    // A bucket the api cannot read stops it here with one line, not at the first video request.
    const storage = await openStorage(config, ['read']);
    if (storage.backend === 's3') shutdown.add('S3 client', storage.close);

    const store = new RecordingStore(redis, config);
    const files = new RecordingFiles(config.RECORDINGS_DIR);
    const media = indexLookup(store, files);
    const live = new LiveRecordings({
      lookup: media,
      checkIntervalMs: config.LIVE_CHECK_INTERVAL_SECONDS * 1000,
      clientTimeoutMs: config.LIVE_CLIENT_TIMEOUT_SECONDS * 1000,
      chunkBytes: READ_CHUNK_BYTES,
      logger,
    });
    const fragments = new FragmentIndexes();
    const local = new LocalMedia({
      lookup: media,
      live,
      fragments,
      ...(config.ACCEL_REDIRECT === 'nginx' ? { sendFinished: sendThroughNginx } : {}),
    });
    let spools: SpoolProxy | undefined;
    if (storage.backend === 's3') {
      spools = new SpoolProxy({
        owners: new SpoolOwners(redis, config),
        secret: config.SPOOL_SECRET,
        timeoutMs: config.SPOOL_TIMEOUT_MS,
        idleTimeoutMs: config.HTTP_IDLE_TIMEOUT_SECONDS * 1000,
        logger,
      });
      shutdown.add('spool proxy', () => spools!.close());
    }
    const ctx: ApiContext = {
      config,
      logger,
      redis,
      queues,
      janitorEvents: openJanitorEvents,
      deliveryLog: new DeliveryLog(redis, config),
      devices: new DeviceRegistry(redis, config),
      heartbeat: new HeartbeatStore(redis, config),
      signing: urlSigning(config),
      startedAt: Date.now(),
      store,
      files,
      media,
      live,
      fragments,
      local,
      ...(spools ? { spools } : {}),
      ...(storage.backend === 's3'
        ? {
            objects: {
              objects: storage.objects,
              mode: config.S3_PLAYBACK,
              unsignedTtlSeconds: config.URL_TTL_SECONDS,
              layouts: new FragmentLayouts(redis, config),
            },
          }
        : {}),
    };
    const server = createServer(createApp(ctx), config, logger);
    shutdown.add('live followers', () => live.close());
    shutdown.add('http server', () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive and streaming video connections would hold close() open until they end.
      server.closeAllConnections();
      return closed;
    });
    const listen = listenHost(config);
    server.listen(deps?.port ?? config.PORT, listen.host);
    await once(server, 'listening');
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    const auth = config.API_TOKEN ? 'token' : 'open (API_TOKEN unset)';
    logger.info({ url, auth, listen: listen.why }, 'api listening');
    if (!config.API_TOKEN && !isLoopback(listen.host)) {
      logger.warn(
        { host: listen.host },
        'API_TOKEN is unset and HOST is not a loopback address: the token routes are open to anyone who reaches this port',
      );
    }
    return scope.running({ url });
  });
}
