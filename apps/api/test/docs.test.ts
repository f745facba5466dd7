import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, startApi, TOKEN, type TestApi } from './helpers';

let t: TestApi;
beforeAll(async () => {
  t = await startApi('docs', { API_TOKEN: TOKEN });
});
afterAll(() => t.close());

/** Every `$ref` in the document, to check each one resolves. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe('GET /openapi.json', () => {
  it('has every documented route in the README’s API table, and the table no route the api lacks', async () => {
    const doc = (await request(t.api.url, '/openapi.json')).json();
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## API'), readme.indexOf('**Access.**'));
    const listed = [...table.matchAll(/`(GET|POST|PUT|PATCH|DELETE) ([^`]+)`/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    expect(listed.length).toBeGreaterThan(10);
    expect(documented.filter((route) => !listed.includes(route))).toEqual([]);
    // Swagger UI is the one route outside the document it shows: it must still answer.
    expect(listed.filter((route) => !documented.includes(route))).toEqual(['GET /docs']);
    expect((await request(t.api.url, '/docs/')).status).toBe(200);
  });

  it('documents every route from the handlers’ own zod schemas, with resolvable references', async () => {
    const r = await request(t.api.url, '/openapi.json');
    expect(r.status).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/',
        '/cleanup',
        '/devices',
        '/errors',
        '/health',
        '/health/live',
        '/metrics',
        '/openapi.json',
        '/recordings',
        '/recordings/{id}',
        '/recordings/{id}.jpg',
        '/recordings/{id}.m3u8',
        '/recordings/{id}.mp4',
        '/stats/cameras',
        '/stats/recordings',
        '/stats/storage',
        '/stats/webhooks',
        '/storage',
        '/webhooks',
        '/webhooks/{id}',
        '/webhooks/{id}/replay',
      ].sort(),
    );
    const schemas = doc.components.schemas;
    for (const ref of refs(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(schemas[ref.slice('#/components/schemas/'.length)]).toBeDefined();
    }
    for (const schema of Object.values(schemas) as Record<string, unknown>[]) {
      expect(schema.$schema).toBeUndefined();
      expect(schema.$id).toBeUndefined();
    }

    const video = doc.paths['/recordings/{id}.mp4'].get;
    expect(video.security).toEqual([]);
    expect(Object.keys(video.responses).sort()).toEqual(
      ['200', '202', '206', '304', '400', '403', '404', '416', '503'].sort(),
    );
    expect(video.parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'id', in: 'path', required: true }),
        expect.objectContaining({ name: 'sig', in: 'query', required: false }),
      ]),
    );
    const cleanup = doc.paths['/cleanup'];
    expect(Object.keys(cleanup.post.responses).sort()).toEqual(['200', '202', '401', '403', '500', '503']);
    expect(cleanup.post.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/CleanupResult',
    });
    expect(schemas.CleanupResult.required).toEqual(
      expect.arrayContaining(['deleted', 'bytes_freed', 'repairs']),
    );
    const list = doc.paths['/recordings'].get;
    expect(list.parameters.map((p: { name: string }) => p.name)).toEqual([
      'camera',
      'status',
      'from',
      'to',
      'order',
      'limit',
      'cursor',
    ]);
    expect(list.parameters.find((p: { name: string }) => p.name === 'limit').schema).toEqual({
      type: 'integer',
      minimum: 1,
      maximum: 200,
      default: 50,
    });
    expect(list.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/RecordingList',
    });
    expect(schemas.RecordingList.properties.items.items).toEqual({ $ref: '#/components/schemas/Recording' });
    const devices = doc.paths['/devices'].get;
    expect(devices.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Devices',
    });
    expect(devices.responses['401']).toBeDefined();
    expect(schemas.Device.properties.snoozed_until).toEqual({
      anyOf: [{ type: 'string', format: 'date-time', pattern: expect.any(String) }, { type: 'null' }],
    });
    expect(schemas.Error.properties.error.required).toEqual(['status', 'code', 'message']);
  });
});

describe('GET /docs', () => {
  it('serves Swagger UI pointed at the document, without the token', async () => {
    const redirect = await request(t.api.url, '/docs');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/docs/');
    const page = await request(t.api.url, '/docs/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('swagger-ui-bundle.js');
    const init = await request(t.api.url, '/docs/swagger-initializer.js');
    expect(init.text).toContain("url: '../openapi.json'");
    expect(init.text).not.toContain('petstore');
    const bundle = await request(t.api.url, '/docs/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
    expect(bundle.body.length).toBeGreaterThan(100_000);
    expect((await request(t.api.url, '/docs/nope.js')).status).toBe(404);
  });
});
