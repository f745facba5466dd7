import express, { type Router } from 'express';
import { requireAccess } from './auth';
import type { ApiContext } from './context';
import { onFirstUse } from './onFirstUse';

export const BULL_BOARD_PATH = '/admin/queues';

/** Bull Board's router over every queue; its packages (and their templates) load here. */
async function createBoard(ctx: ApiContext): Promise<Router> {
  const [{ createBullBoard }, { BullMQAdapter }, { ExpressAdapter }] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/express'),
  ]);
  const adapter = new ExpressAdapter();
  adapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: Object.values(ctx.queues).map((q) => new BullMQAdapter(q)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'eufy-relay queues' } },
  });
  return adapter.getRouter() as Router;
}

/**
 * Bull Board over every queue. It has no authentication of its own and its actions (retry, clean,
 * obliterate) are plain HTTP calls, so the whole mount sits behind the admin check, which also
 * refuses cross-site state changes made with a browser's cached Basic credentials.
 * The board is built on the first admin request, not at start: few api processes ever show it, and
 * its packages are a good part of the api's idle memory.
 */
export function bullBoardRouter(ctx: ApiContext): Router {
  const board = onFirstUse(() => createBoard(ctx));
  const router = express.Router();
  router.use(
    BULL_BOARD_PATH,
    requireAccess('admin', { apiToken: ctx.config.API_TOKEN, browserPage: true }),
    (req, res, next) => {
      board().then((handle) => handle(req, res, next), next);
    },
  );
  return router;
}
