import type { Request } from 'express';
import { z } from 'zod';
import { JOB_ID } from '@eufy-relay/contracts';
import { readRecentErrors } from '@eufy-relay/errors';
import {
  CleanupFailedError,
  CleanupTimeoutError,
  cleanupHistoryKey,
  cleanupResultSchema,
  requestCleanup,
} from '@eufy-relay/janitor';
import { replayWebhook } from '@eufy-relay/webhooks';
import type { ApiContext } from './context';
import { HttpError } from '@eufy-relay/playback';
import { ApiRoutes, named, problem } from './routes';

/** The routes over what the other roles record: recent errors, cleanup runs, webhook deliveries. */

export const recentErrorView = named(
  'RecentError',
  z.object({
    id: z.string(),
    operation: z.string(),
    error_type: z.string(),
    error_message: z.string(),
    retry_count: z.number().int(),
    timestamp: z.string(),
    context: z.record(z.string(), z.unknown()),
    traceback: z.string().nullable(),
    occurrences: z.number().int().describe('1 + the same operation and error type folded into it'),
  }),
);
export const errorsBody = named('RecentErrors', z.object({ errors: z.array(recentErrorView) }));

export const cleanupResult = named('CleanupResult', cleanupResultSchema);
export const cleanupRunningBody = named(
  'CleanupRunning',
  z.object({ job_id: z.string(), status: z.literal('running'), message: z.string() }),
);
export const cleanupRunsBody = named('CleanupRuns', z.object({ runs: z.array(cleanupResultSchema) }));

const deliveryAttempt = z.object({
  attempt: z.number().int(),
  at: z.string(),
  event: z.string(),
  outcome: z.enum(['delivered', 'failed', 'rate_limited', 'skipped']),
  status_code: z.number().int().nullable(),
  latency_ms: z.number().nullable(),
  error: z.string().nullable(),
});
export const webhookDeliveryView = named(
  'WebhookDelivery',
  z.object({
    webhook_id: z.string(),
    /** The BullMQ job's state: waiting, delayed (between retries), active, completed, failed (dead); unknown once removed. */
    state: z.string(),
    attempts: z.array(deliveryAttempt),
  }),
);
export const webhookDeliveriesBody = named(
  'WebhookDeliveries',
  z.object({ webhooks: z.array(webhookDeliveryView) }),
);
export const replayBody = named(
  'WebhookReplay',
  z.object({ webhook_id: z.string(), outcome: z.literal('requeued') }),
);

const limitQuery = (max: number, byDefault: number) =>
  z.strictObject({ limit: z.coerce.number().int().min(1).max(max).default(byDefault) });

const webhookIdParam = {
  id: { description: 'the webhook id (webhook-id header, BullMQ job id)', schema: z.string().regex(JOB_ID) },
};

function webhookIdOf(req: Request): string {
  const id = String(req.params.id);
  if (!JOB_ID.test(id)) throw new HttpError(400, 'invalid_webhook_id', `not a webhook id (${JOB_ID})`);
  return id;
}

export function operationsRoutes(routes: ApiRoutes, ctx: ApiContext): void {
  routes.json(
    {
      method: 'get',
      path: '/errors',
      tag: 'operations',
      access: 'token',
      summary: 'Recent errors of every role, newest first',
      query: limitQuery(ctx.config.RECENT_ERRORS_MAX, Math.min(50, ctx.config.RECENT_ERRORS_MAX)),
      responses: { 200: { description: 'recent errors', schema: errorsBody } },
    },
    async ({ query }) => ({ errors: await readRecentErrors(ctx.redis, ctx.config, query.limit) }),
  );

  routes.json(
    {
      method: 'post',
      path: '/cleanup',
      tag: 'operations',
      access: 'admin',
      summary: 'Run the janitor now and return what it did',
      description:
        'Queues a cleanup run (retention, disk pressure, repair) and waits up to CLEANUP_WAIT_SECONDS ' +
        'for it. A run still going then answers 202; its result lands in GET /cleanup.',
      responses: {
        200: { description: 'what the run did', schema: cleanupResult },
        202: { description: 'the run is still going', schema: cleanupRunningBody },
        500: problem('the run failed'),
        503: problem('no janitor took the run in time (it was withdrawn)'),
      },
    },
    async (_input, _req, res) => {
      // The connection is silent while the run goes on: it may outlast HTTP_IDLE_TIMEOUT_SECONDS,
      // which would cut it before the answer. The wait has its own bound; the idle one resumes after.
      const waitMs = ctx.config.CLEANUP_WAIT_SECONDS * 1000;
      res.setTimeout(waitMs + ctx.config.HTTP_IDLE_TIMEOUT_SECONDS * 1000);
      try {
        return await requestCleanup(ctx.queues.janitor, await ctx.janitorEvents(), waitMs);
      } catch (err) {
        if (err instanceof CleanupTimeoutError && !err.cancelled) {
          res.status(202);
          return { job_id: err.jobId, status: 'running', message: err.message };
        }
        if (err instanceof CleanupTimeoutError) {
          throw new HttpError(503, 'janitor_unavailable', `${err.message}: is the janitor role running?`);
        }
        if (err instanceof CleanupFailedError) {
          // Its reason is the janitor's error text (paths, system messages): reported, not answered.
          throw new HttpError(
            500,
            'cleanup_failed',
            `cleanup run ${err.jobId} failed: GET /errors and the janitor's log say why`,
          );
        }
        throw err;
      }
    },
  );

  routes.json(
    {
      method: 'get',
      path: '/cleanup',
      tag: 'operations',
      access: 'token',
      summary: 'Recent cleanup runs (scheduled and manual), newest first',
      query: limitQuery(100, 20),
      responses: { 200: { description: 'run results', schema: cleanupRunsBody } },
    },
    async ({ query }) => {
      const entries = await ctx.redis.lrange(cleanupHistoryKey(ctx.config), 0, query.limit - 1);
      return { runs: entries.map((e) => cleanupResultSchema.parse(JSON.parse(e))) };
    },
  );

  routes.json(
    {
      method: 'get',
      path: '/webhooks',
      tag: 'webhooks',
      access: 'token',
      summary: 'The delivery log: webhooks attempted most recently, each with its attempts',
      query: limitQuery(1000, 50),
      responses: { 200: { description: 'deliveries, newest first', schema: webhookDeliveriesBody } },
    },
    async ({ query }) => {
      const logged = await ctx.deliveryLog.recent(query.limit);
      const states = await Promise.all(logged.map((w) => ctx.queues.webhooks.getJobState(w.webhook_id)));
      return { webhooks: logged.map((w, i) => ({ ...w, state: states[i]! })) };
    },
  );

  routes.json(
    {
      method: 'get',
      path: '/webhooks/:id',
      tag: 'webhooks',
      access: 'token',
      summary: 'One webhook: its state and every delivery attempt kept',
      params: webhookIdParam,
      responses: {
        200: { description: 'the webhook', schema: webhookDeliveryView },
        400: problem('not a webhook id'),
        404: problem('neither queued nor in the delivery log'),
      },
    },
    async (_input, req) => {
      const id = webhookIdOf(req);
      const [state, attempts] = await Promise.all([
        ctx.queues.webhooks.getJobState(id),
        ctx.deliveryLog.attempts(id),
      ]);
      if (state === 'unknown' && attempts.length === 0) {
        throw new HttpError(404, 'webhook_not_found', `no webhook ${id}`);
      }
      return { webhook_id: id, state, attempts };
    },
  );

  routes.json(
    {
      method: 'post',
      path: '/webhooks/:id/replay',
      tag: 'webhooks',
      access: 'admin',
      summary: 'Send a dead webhook again, with its original id and body and a fresh retry schedule',
      params: webhookIdParam,
      responses: {
        202: { description: 'queued for delivery again', schema: replayBody },
        400: problem('not a webhook id'),
        404: problem('no such webhook in the queue'),
        409: problem('already delivered, or still being delivered'),
      },
    },
    async (_input, req, res) => {
      const id = webhookIdOf(req);
      const result = await replayWebhook(ctx.queues.webhooks, id);
      switch (result.outcome) {
        case 'requeued':
          res.status(202);
          return { webhook_id: id, outcome: 'requeued' };
        case 'not_found':
          throw new HttpError(404, 'webhook_not_found', `no webhook ${id} in the queue`);
        case 'already_delivered':
          throw new HttpError(409, 'already_delivered', `webhook ${id} was delivered`);
        case 'pending':
          throw new HttpError(
            409,
            'not_dead',
            `webhook ${id} is ${result.state}, not dead: it needs no replay`,
          );
      }
    },
  );
}
