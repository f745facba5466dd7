import path from 'node:path';
import type { Response } from 'express';

/**
 * The internal nginx location that aliases RECORDINGS_DIR (deploy/nginx/templates/default.conf.template):
 * nginx answers only X-Accel-Redirect responses of the api there, never a client's own request.
 */
export const ACCEL_LOCATION = '/internal/recordings/';

/**
 * ACCEL_REDIRECT=nginx: the api has checked the request (signature, index state, the file is there)
 * and set the headers that are its own (Cache-Control, X-Recording-Status); nginx in front sends the
 * file itself with sendfile, with Range, ETag, Last-Modified and 304/416 handled there. The file name
 * is a recording id's, so it needs no escaping and cannot leave the location.
 */
export function sendThroughNginx(res: Response, filePath: string): void {
  res.setHeader('X-Accel-Redirect', `${ACCEL_LOCATION}${path.basename(filePath)}`);
  res.end();
}
