import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// nginx for the tests and the serving bench, configured as production configures it: the repo's own
// template (deploy/nginx, what docker-compose's nginx service loads) inside a main config of our own
// that runs in the foreground, one worker, everything under one directory.

/** The server block docker-compose's nginx service loads (envsubst fills in `${…}`). */
export const NGINX_TEMPLATE = path.resolve(
  __dirname,
  '../../../deploy/nginx/templates/default.conf.template',
);

/** Debian's nginx (not always on a user's PATH), else whatever PATH has. */
export const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx'].find((p) => existsSync(p)) ?? 'nginx';

/** The values docker-compose gives the template. */
export interface NginxFrontVars {
  /** Where the front listens, `127.0.0.1:<port>`. */
  NGINX_PORT: string;
  /** host:port of the api. */
  API_UPSTREAM: string;
  /** The recordings directory nginx sends files from (readable by its worker user). */
  RECORDINGS_DIR: string;
}

/** The template with `vars` filled in; a `${NAME}` it uses that `vars` lacks is an error. */
export function nginxFront(vars: NginxFrontVars): string {
  const values: Record<string, string> = { ...vars };
  return readFileSync(NGINX_TEMPLATE, 'utf8').replace(/\$\{([A-Z_]+)\}/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`the nginx template uses \${${name}}, which is not set`);
    return value;
  });
}

/**
 * A whole nginx.conf around `servers` (server blocks, e.g. `nginxFront(…)`): no daemon, one worker,
 * pid, error log and temp directories under `dir` (created here). Run it with
 * `nginx -c <file> -e <dir>/error.log`.
 */
export function nginxConfig(
  dir: string,
  servers: string[],
  options: { workerConnections?: number } = {},
): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => {
    mkdirSync(path.join(dir, kind), { recursive: true });
    return `${kind}_temp_path ${dir}/${kind};`;
  });
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections ${options.workerConnections ?? 1024}; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  ${temp.join('\n  ')}
  ${servers.join('\n  ')}
}
`;
}
