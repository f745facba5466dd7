import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type Router } from 'express';
import { requireAccess } from './auth';
import type { ApiContext } from './context';

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Bull Board over every queue. It has no authentication of its own and its actions (retry, clean,
 * obliterate) are plain HTTP calls, so the whole mount sits behind the admin check, which also
 * refuses cross-site state changes made with a browser's cached Basic credentials.
 */
export function bullBoardRouter(ctx: ApiContext): Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: Object.values(ctx.queues).map((q) => new BullMQAdapter(q)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'eufy-relay queues' } },
  });
  const router = express.Router();
  router.use(
    BULL_BOARD_PATH,
    requireAccess('admin', { apiToken: ctx.config.API_TOKEN, browserPage: true }),
    adapter.getRouter() as Router,
  );
  return router;
}
