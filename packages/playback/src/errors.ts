import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '@eufy-relay/logger';
import { z } from 'zod';

/**
 * Every error the api answers has this shape, whatever raised it (our handlers, the body parser, the
 * router's URL decoding): `{ "error": { "status", "code", "message", "details"? } }`. `code` is a
 * stable machine-readable name; `message` is for people and may change. Neither ever carries a
 * file-system path or a library's error text: those go to the log.
 */
export const errorBody = z
  .object({
    error: z.object({
      status: z.number().int(),
      code: z.string(),
      message: z.string(),
      details: z.array(z.string()).optional(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof errorBody>;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly options: { details?: string[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Body-parser and router errors carry a `status` and a `type`; this names the ones clients can cause. */
function fromLibraryError(err: {
  status?: unknown;
  statusCode?: unknown;
  type?: unknown;
  message?: unknown;
  headers?: unknown;
}) {
  const status = Number(err.status ?? err.statusCode);
  if (!Number.isInteger(status) || status < 400 || status > 499) return null;
  // send (res.sendFile) answers an unsatisfiable Range with 416 and the file size in Content-Range.
  if (status === 416) {
    return new HttpError(416, 'range_not_satisfiable', 'the requested range is outside the file', {
      headers: (err.headers ?? {}) as Record<string, string>,
    });
  }
  if (status === 412) return new HttpError(412, 'precondition_failed', 'a request precondition failed');
  const byType: Record<string, [string, string]> = {
    'entity.too.large': ['payload_too_large', 'request body is too large'],
    'entity.parse.failed': ['invalid_json', 'request body is not valid JSON'],
    'encoding.unsupported': ['unsupported_encoding', 'request body encoding is not supported'],
    'charset.unsupported': ['unsupported_charset', 'request body charset is not supported'],
    'request.aborted': ['request_aborted', 'request body was not received in full'],
  };
  const known = typeof err.type === 'string' ? byType[err.type] : undefined;
  if (known) return new HttpError(status, known[0], known[1]);
  // The router answers 400 for a path whose percent-encoding cannot be decoded.
  if (status === 400) return new HttpError(400, 'bad_request', 'malformed request (check the URL encoding)');
  // Never the library's own message: send's, for one, names the file it could not find.
  return new HttpError(status, 'client_error', (STATUS_CODES[status] ?? 'client error').toLowerCase());
}

export function sendError(res: Parameters<RequestHandler>[1], error: HttpError): void {
  for (const [name, value] of Object.entries(error.options.headers ?? {})) res.setHeader(name, value);
  const body: ErrorBody = {
    error: {
      status: error.status,
      code: error.code,
      message: error.message,
      ...(error.options.details ? { details: error.options.details } : {}),
    },
  };
  res.status(error.status).json(body);
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

/** The last middleware: known errors keep their status; anything else is a logged 500 without internals. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      // The response is already on its way (a file stream that broke): all we can do is cut it.
      logger.warn({ err, path: req.path }, 'error after the response started');
      next(err);
      return;
    }
    const known =
      err instanceof HttpError
        ? err
        : typeof err === 'object' && err !== null
          ? fromLibraryError(err as Record<string, unknown>)
          : null;
    if (known) {
      sendError(res, known);
      return;
    }
    logger.error({ err, method: req.method, path: req.path }, 'request failed');
    sendError(res, new HttpError(500, 'internal_error', 'internal error (logged on the server)'));
  };
}
