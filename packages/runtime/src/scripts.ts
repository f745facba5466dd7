import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';

/**
 * A Lua script run in Redis, defined once: its source is read from a `.lua` file beside the module
 * that owns it (the build copies `src/*.lua` into `dist/`), named `{name}-{key count}.lua` as BullMQ
 * names its scripts. Each call sends only the SHA1 (EVALSHA); after a Redis restart or SCRIPT FLUSH
 * the first call gets NOSCRIPT and sends the whole script once (EVAL), which caches it again.
 */
export class RedisScript {
  readonly name: string;
  readonly numberOfKeys: number;
  readonly sha: string;

  private constructor(
    readonly file: string,
    readonly source: string,
  ) {
    const match = /^(.+)-(\d+)\.lua$/.exec(path.basename(file));
    if (!match) throw new Error(`Redis script ${file}: name it {name}-{number of keys}.lua`);
    this.name = match[1]!;
    this.numberOfKeys = Number(match[2]);
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Reads `{dir}/{file}` (pass the owning module's `__dirname`). */
  static load(dir: string, file: string): RedisScript {
    const full = path.join(dir, file);
    return new RedisScript(full, readFileSync(full, 'utf8'));
  }

  /** Runs the script; `keys` must be as many as its name says. */
  async run(
    redis: Redis,
    keys: readonly string[],
    args: readonly (string | number)[] = [],
  ): Promise<unknown> {
    if (keys.length !== this.numberOfKeys) {
      throw new Error(`Redis script ${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    }
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
