import path from 'node:path';
import express, { type Router } from 'express';
import type { ApiRoutes } from './routes';

export const API_INFO = {
  title: 'eufy-relay api',
  version: '0.1.0',
  description:
    'Recordings (video and thumbnails with Range support and signed URLs), cameras, storage, errors, ' +
    'health and admin actions of eufy-relay. With API_TOKEN set, every route but /health, the ' +
    'recording files and these docs needs it (Bearer, or Basic auth with the token as password).',
};

/**
 * GET /openapi.json (generated once, from the route table) and Swagger UI at /docs, served from
 * swagger-ui-dist's own files with our initializer pointing it at the document.
 */
export function docsRoutes(routes: ApiRoutes): Router {
  let document: Record<string, unknown> | undefined;
  routes.json(
    {
      method: 'get',
      path: '/openapi.json',
      tag: 'docs',
      access: 'open',
      summary: 'This OpenAPI document',
      responses: { 200: { description: 'OpenAPI 3.1', contentType: 'application/json' } },
    },
    async () => (document ??= routes.openapi(API_INFO)),
  );

  const ui = express.Router({ caseSensitive: true, strict: true });
  const dist = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  // The bundled index.html loads its files relatively: /docs must end with a slash.
  ui.get('/docs', (_req, res) => res.redirect(301, '/docs/'));
  ui.get('/docs/swagger-initializer.js', (_req, res) => {
    res.type('application/javascript').send(
      `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: '../openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: 'StandaloneLayout',
  });
};
`,
    );
  });
  ui.use('/docs', express.static(dist, { index: 'index.html', fallthrough: true }));
  return ui;
}
