import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

export type MediaTool = 'ffmpeg' | 'ffprobe';

const PATH_ENV: Record<MediaTool, string> = { ffmpeg: 'FFMPEG_PATH', ffprobe: 'FFPROBE_PATH' };

/** The executable to run: FFMPEG_PATH / FFPROBE_PATH when set, else the name looked up on PATH. */
export function toolPath(tool: MediaTool, env: NodeJS.ProcessEnv = process.env): string {
  return env[PATH_ENV[tool]] || tool;
}

export class MediaToolNotFoundError extends Error {
  constructor(
    readonly tool: MediaTool,
    readonly path: string,
  ) {
    super(
      `${tool} not found: install it, e.g. apt-get install ffmpeg` +
        ` (tried ${JSON.stringify(path)}; ${PATH_ENV[tool]} names another executable)`,
    );
    this.name = 'MediaToolNotFoundError';
  }
}

/**
 * A media file or tool run that failed; `stderr` holds the tool's last lines, if it ran.
 * `fileRejected`: the tool ran to its end and refused the input (an exit code of its own), or the
 * file could not be read; false when the tool itself did not finish (killed, timed out, aborted),
 * which says nothing about the file.
 */
export class MediaToolError extends Error {
  constructor(
    message: string,
    readonly stderr: readonly string[] = [],
    readonly fileRejected = false,
  ) {
    super(message);
    this.name = 'MediaToolError';
  }

  /** A failed run: the message ends with what the tool said last. */
  static ran(message: string, stderr: readonly string[], fileRejected = false): MediaToolError {
    return new MediaToolError(
      stderr.length > 0 ? `${message}: ${stderr.join(' | ')}` : message,
      stderr,
      fileRejected,
    );
  }

  /** The same failure, said from the caller's point of view ("cannot read x.mp4: …"). */
  static during(context: string, err: unknown): unknown {
    return err instanceof MediaToolError
      ? new MediaToolError(`${context}: ${err.message}`, err.stderr, err.fileRejected)
      : err;
  }
}

/** Spawns the tool and resolves once it runs; a missing executable rejects with MediaToolNotFoundError. */
export function spawnTool(
  tool: MediaTool,
  path: string,
  args: readonly string[],
  stdio: StdioOptions,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio });
    const onError = (err: NodeJS.ErrnoException) => {
      child.off('spawn', onSpawn);
      if (err.code === 'ENOENT') reject(new MediaToolNotFoundError(tool, path));
      else reject(new MediaToolError(`could not start ${tool} (${path}): ${err.message}`));
    };
    const onSpawn = () => {
      child.off('error', onError);
      resolve(child);
    };
    child.once('error', onError);
    child.once('spawn', onSpawn);
  });
}

/** The last lines a process wrote, for error messages, without keeping all of a long run's output. */
export class LineTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly keep: number) {}

  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split(/\r?\n|\r/);
    this.partial = (parts.pop() ?? '').slice(-4096);
    for (const line of parts) this.add(line);
  }

  /** The kept lines, including an unterminated last one. */
  get(): string[] {
    return this.partial.trim() ? [...this.lines, this.partial.trim()].slice(-this.keep) : [...this.lines];
  }

  private add(line: string): void {
    const trimmed = line.trim();
    if (!trimmed) return;
    this.lines.push(trimmed);
    if (this.lines.length > this.keep) this.lines.shift();
  }
}
