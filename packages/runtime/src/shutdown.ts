import type { Logger } from '@eufy-relay/logger';

export type CloseFn = () => Promise<unknown> | unknown;

function within<T>(promise: Promise<T>, ms: number): Promise<{ done: true; value: T } | { done: false }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ done: false }>((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  return Promise.race([promise.then((value) => ({ done: true as const, value })), timeout]).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * What a role opened, closed in reverse order of opening: workers before the queues and Redis
 * connections they use, child processes and sockets before the process exits. Each step is bounded by
 * what is left of the overall deadline; a step that fails or hangs is logged and the rest still run.
 */
export class ShutdownStack {
  private readonly steps: { name: string; close: CloseFn }[] = [];
  private closing: Promise<boolean> | undefined;

  constructor(private readonly logger: Logger) {}

  add(name: string, close: CloseFn): void {
    this.steps.push({ name, close });
  }

  /** Resolves true when every step finished within `timeoutMs`. Calling it again returns the same run. */
  closeAll(timeoutMs: number): Promise<boolean> {
    this.closing ??= this.run(timeoutMs);
    return this.closing;
  }

  private async run(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let clean = true;
    for (const step of [...this.steps].reverse()) {
      const left = Math.max(deadline - Date.now(), 1);
      try {
        const result = await within(Promise.resolve().then(step.close), left);
        if (!result.done) {
          clean = false;
          this.logger.error({ step: step.name, timeoutMs }, 'shutdown step did not finish in time');
        }
      } catch (err) {
        clean = false;
        this.logger.error({ step: step.name, err }, 'shutdown step failed');
      }
    }
    return clean;
  }
}
