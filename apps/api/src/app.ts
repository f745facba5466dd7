import express, { type Express, type RequestHandler } from 'express';
import { bullBoardRouter } from './bullBoard';
import type { ApiContext } from './context';
import { dashboardAssets } from './dashboard';
import { deviceRoutes } from './devices';
import { docsRoutes } from './docs';
import { HttpError, errorHandler, notFound } from '@eufy-relay/playback';
import { healthRoutes } from './health';
import { mediaRoutes } from './media';
import { metricsRoutes } from './metrics';
import { operationsRoutes } from './operations';
import { pageRoutes } from './page';
import { recordingRoutes } from './recordings';
import { ApiRoutes } from './routes';
import { statsRoutes } from './stats';

/** No route takes more than a small JSON document; anything larger is refused before it is read. */
export const MAX_BODY_BYTES = 64 * 1024;

const refuseLargeBodies: RequestHandler = (req, _res, next) => {
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > MAX_BODY_BYTES) {
    next(new HttpError(413, 'payload_too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`));
    return;
  }
  next();
};

/**
 * Method, path (never the query: it may carry a URL signature), status and time, at debug level.
 * Installed only when debug is on: otherwise every request (a video view is many Range requests)
 * would time itself and add a listener for a line nobody writes.
 */
function requestLog(ctx: ApiContext): RequestHandler {
  return (req, res, next) => {
    const t0 = performance.now();
    res.on('finish', () =>
      ctx.logger.debug(
        {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Math.round(performance.now() - t0),
        },
        'request',
      ),
    );
    next();
  };
}

export function createApp(ctx: ApiContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  if (ctx.logger.isLevelEnabled('debug')) app.use(requestLog(ctx));
  app.use((_req, res, next) => {
    // Browsers must take every response as the type it says (a JSON error is not a script).
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // No page of ours (the page, Bull Board, the docs) may be framed by another site (clickjacking).
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  });
  app.use(refuseLargeBodies);
  app.use(express.json({ limit: MAX_BODY_BYTES }));

  const routes = new ApiRoutes(ctx.config.API_TOKEN);
  healthRoutes(routes, ctx);
  // The file routes (/recordings/{id}.mp4) come before /recordings/{id}, which would match them too.
  mediaRoutes(routes, {
    local: ctx.local,
    signing: ctx.signing,
    objects: ctx.objects,
    spools: ctx.spools,
  });
  recordingRoutes(routes, ctx);
  deviceRoutes(routes, ctx);
  operationsRoutes(routes, ctx);
  metricsRoutes(routes, ctx);
  pageRoutes(routes, ctx);
  statsRoutes(routes, ctx);
  const docsUi = docsRoutes(routes);

  app.use(routes.router);
  app.use(docsUi);
  app.use(dashboardAssets());
  app.use(bullBoardRouter(ctx));
  app.use(notFound);
  app.use(errorHandler(ctx.logger));
  return app;
}
