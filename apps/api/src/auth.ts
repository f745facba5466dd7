import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { HttpError } from '@eufy-relay/playback';

/**
 * Who may call a route:
 * - `open`: anyone (health, video and thumbnail files, the API docs).
 * - `token`: with API_TOKEN set, only callers presenting it; without one, anyone (a laptop setup).
 * - `admin`: only callers presenting API_TOKEN; without one these routes refuse (docs/design.md).
 */
export type Access = 'open' | 'token' | 'admin';

const REALM = 'eufy-relay';

function sameSecret(given: string, expected: string): boolean {
  // Hash first so the comparison takes the same time whatever the lengths.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

type Presented = { scheme: 'bearer' | 'basic'; secret: string } | null;

/** Bearer <token>, or Basic auth with the token as password (any user name) for browser pages. */
function presentedCredentials(req: Request): Presented {
  const header = req.headers.authorization;
  if (!header) return null;
  const [scheme = '', value = ''] = header.trim().split(/\s+/, 2);
  if (scheme.toLowerCase() === 'bearer') return { scheme: 'bearer', secret: value };
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return { scheme: 'basic', secret: colon >= 0 ? decoded.slice(colon + 1) : '' };
  }
  return null;
}

/** Whether a request may see what `token` routes show: API_TOKEN is unset, or the request carries it. */
export function hasTokenAccess(req: Request, apiToken: string | undefined): boolean {
  if (!apiToken) return true;
  const presented = presentedCredentials(req);
  return presented !== null && sameSecret(presented.secret, apiToken);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Browsers resend cached Basic credentials on any request to this origin, including a form POST
 * from another site: a state-changing request authenticated that way must come from our own pages.
 * Browsers label cross-site requests (Sec-Fetch-Site, Origin); clients that send neither are not
 * browsers and cannot be driven by another site.
 */
function crossSite(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

export interface AuthOptions {
  apiToken: string | undefined;
  /** Browser pages answer a Basic challenge so the browser asks for the token; APIs answer Bearer. */
  browserPage?: boolean;
}

export function requireAccess(access: Access, options: AuthOptions): RequestHandler {
  const challenge = options.browserPage
    ? `Basic realm="${REALM}", charset="UTF-8"`
    : `Bearer realm="${REALM}"`;
  return (req, _res, next) => {
    if (access === 'open') return next();
    const token = options.apiToken;
    if (!token) {
      if (access === 'token') return next();
      return next(
        new HttpError(403, 'admin_disabled', 'admin routes are disabled: set API_TOKEN to use them'),
      );
    }
    const presented = presentedCredentials(req);
    if (!presented) {
      return next(
        new HttpError(401, 'unauthorized', 'this route needs the API token (Bearer, or Basic password)', {
          headers: { 'WWW-Authenticate': challenge },
        }),
      );
    }
    if (!sameSecret(presented.secret, token)) {
      return next(
        new HttpError(401, 'invalid_token', 'the API token is wrong', {
          headers: { 'WWW-Authenticate': challenge },
        }),
      );
    }
    if (presented.scheme === 'basic' && !SAFE_METHODS.has(req.method) && crossSite(req)) {
      return next(
        new HttpError(403, 'cross_site_request', 'state-changing requests must come from this site'),
      );
    }
    next();
  };
}
