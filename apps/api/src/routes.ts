import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import { zodIssueLines } from '@eufy-relay/config';
import { requireAccess, type Access } from './auth';
import { HttpError, errorBody } from '@eufy-relay/playback';

/**
 * One table of routes feeds both express and the OpenAPI document: a route's query and body are
 * validated with the same zod schemas the document is generated from (z.toJSONSchema), so the docs
 * cannot drift from what the handlers accept.
 */

/** Named schemas land in the document's components and are referenced by name. */
export const apiSchemas = z.registry<{ id: string; description?: string }>();

export function named<S extends z.ZodType>(id: string, schema: S, description?: string): S {
  apiSchemas.add(schema, description ? { id, description } : { id });
  return schema;
}

export const ErrorSchema = named('Error', errorBody);

/** An error response of a route: every error has the same JSON body. */
export const problem = (description: string) => ({ description, schema: ErrorSchema });

export interface ResponseDoc {
  description: string;
  /** JSON body schema; binary and HTML responses give `contentType` instead. */
  schema?: z.ZodType;
  contentType?: string;
  headers?: Record<string, string>;
}

type QuerySchema = z.ZodObject;

export interface RouteDef<Q extends QuerySchema | undefined, B extends z.ZodType | undefined> {
  method: 'get' | 'post';
  /** express path (`/recordings/:id.mp4`); documented with `{id}` for each `:id`. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  /** Browser pages get a Basic challenge so a person can type the token. */
  browserPage?: boolean;
  /** Path parameters, for the document only: handlers check their own (their errors differ). */
  params?: Record<string, { description: string; schema: z.ZodType }>;
  query?: Q;
  body?: B;
  responses: Record<number, ResponseDoc>;
}

export interface RouteInput<Q, B> {
  query: Q;
  body: B;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

function parseOr400<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new HttpError(400, `invalid_${what}`, `invalid ${what}`, { details: zodIssueLines(result.error) });
}

/** Drops what JSON Schema documents carry on their own but an embedded OpenAPI schema must not. */
function embedded(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _schema, $id: _id, $defs: _defs, ...rest } = schema;
  return rest;
}

/**
 * A schema converted on its own puts the named schemas it contains under `$defs`; in the document
 * they are components already, so the references are pointed there.
 */
function refsToComponents(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(refsToComponents);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string'
        ? v.replace(/^#\/\$defs\//, '#/components/schemas/')
        : refsToComponents(v),
    ]),
  );
}

export class ApiRoutes {
  readonly router: Router = express.Router({ caseSensitive: true, strict: true });
  private readonly documented: RouteDef<QuerySchema | undefined, z.ZodType | undefined>[] = [];

  constructor(private readonly apiToken: string | undefined) {}

  /** A route answering JSON: the handler returns the body (and may set another status first). */
  json<Q extends QuerySchema | undefined, B extends z.ZodType | undefined>(
    def: RouteDef<Q, B>,
    handler: (input: RouteInput<Out<Q>, Out<B>>, req: Request, res: Response) => Promise<unknown>,
  ): void {
    this.add(def, async (input, req, res) => {
      const body = await handler(input, req, res);
      if (!res.headersSent) res.json(body);
    });
  }

  /** A route writing its own response (files, HTML). */
  raw<Q extends QuerySchema | undefined, B extends z.ZodType | undefined>(
    def: RouteDef<Q, B>,
    handler: (input: RouteInput<Out<Q>, Out<B>>, req: Request, res: Response) => Promise<void>,
  ): void {
    this.add(def, handler);
  }

  private add<Q extends QuerySchema | undefined, B extends z.ZodType | undefined>(
    def: RouteDef<Q, B>,
    handler: (input: RouteInput<Out<Q>, Out<B>>, req: Request, res: Response) => Promise<void>,
  ): void {
    this.documented.push(def);
    const guard = requireAccess(def.access, { apiToken: this.apiToken, browserPage: def.browserPage });
    const run: RequestHandler = async (req, res) => {
      const query = (def.query ? parseOr400(def.query, req.query, 'query') : undefined) as Out<Q>;
      const body = (def.body ? parseOr400(def.body, req.body ?? {}, 'body') : undefined) as Out<B>;
      await handler({ query, body }, req, res);
    };
    this.router[def.method](def.path, guard, run);
  }

  /** The OpenAPI 3.1 document of every registered route (JSON Schema 2020-12, as 3.1 uses). */
  openapi(info: { title: string; version: string; description: string }): Record<string, unknown> {
    const uri = (id: string) => `#/components/schemas/${id}`;
    const components = z.toJSONSchema(apiSchemas, { uri, unrepresentable: 'any' }).schemas;
    const refOrInline = (schema: z.ZodType, io: 'input' | 'output') => {
      const meta = apiSchemas.get(schema);
      if (meta) return { $ref: uri(meta.id) };
      const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any', metadata: apiSchemas });
      return refsToComponents(embedded(converted as Record<string, unknown>));
    };
    const paths: Record<string, Record<string, unknown>> = {};
    for (const def of this.documented) {
      const docPath = def.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
      const parameters: unknown[] = [];
      for (const [name, p] of Object.entries(def.params ?? {})) {
        parameters.push({
          name,
          in: 'path',
          required: true,
          description: p.description,
          schema: refOrInline(p.schema, 'input'),
        });
      }
      for (const [name, schema] of Object.entries(def.query?.shape ?? {})) {
        const field = schema as z.ZodType;
        parameters.push({
          name,
          in: 'query',
          required: !field.safeParse(undefined).success,
          ...(field.description ? { description: field.description } : {}),
          schema: refOrInline(field, 'input'),
        });
      }
      const responses: Record<string, unknown> = {};
      for (const [status, r] of Object.entries(def.responses)) {
        const content = r.schema
          ? { 'application/json': { schema: refOrInline(r.schema, 'output') } }
          : r.contentType
            ? { [r.contentType]: {} }
            : undefined;
        const headers = r.headers
          ? Object.fromEntries(
              Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }]),
            )
          : undefined;
        responses[status] = {
          description: r.description,
          ...(content ? { content } : {}),
          ...(headers ? { headers } : {}),
        };
      }
      if (def.access !== 'open') {
        responses['401'] ??= {
          description: 'API_TOKEN is set and the request does not carry it',
          content: { 'application/json': { schema: { $ref: uri('Error') } } },
        };
      }
      if (def.access === 'admin') {
        responses['403'] ??= {
          description: 'API_TOKEN is not set (admin routes are disabled), or a cross-site request',
          content: { 'application/json': { schema: { $ref: uri('Error') } } },
        };
      }
      paths[docPath] ??= {};
      paths[docPath][def.method] = {
        summary: def.summary,
        ...(def.description ? { description: def.description } : {}),
        tags: [def.tag],
        ...(parameters.length ? { parameters } : {}),
        ...(def.body
          ? {
              requestBody: {
                required: false,
                content: { 'application/json': { schema: refOrInline(def.body, 'input') } },
              },
            }
          : {}),
        ...(def.access === 'open' ? { security: [] } : {}),
        responses,
      };
    }
    return {
      openapi: '3.1.0',
      info,
      paths,
      components: {
        schemas: Object.fromEntries(
          Object.entries(components).map(([id, s]) => [id, embedded(s as Record<string, unknown>)]),
        ),
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API_TOKEN' },
          basic: { type: 'http', scheme: 'basic', description: 'any user name, API_TOKEN as password' },
        },
      },
      security: [{ bearer: [] }, { basic: [] }],
    };
  }
}
