import type { ErrorReporter } from '@eufy-relay/errors';

/** A problem the operator must hear about: recorded in /errors and sent as a `system_error` webhook. */
export interface SystemProblem {
  /** Names this occurrence (a run id) in the error's context, so repeated runs can be told apart. */
  id: string;
  operation: string;
  error_type: string;
  error_message: string;
  context: Record<string, unknown>;
  traceback?: string | null;
}

/** How the janitor reports: one method, so its cleanup logic does not depend on the reporter. */
export interface SystemErrorReporter {
  report(problem: SystemProblem): Promise<void>;
}

/** Reports through the shared ErrorReporter (recent-errors list, folding of storms, system_error). */
export function sharedSystemErrorReporter(reporter: ErrorReporter): SystemErrorReporter {
  return {
    async report(problem) {
      const error = new Error(problem.error_message);
      error.name = problem.error_type;
      if (problem.traceback) error.stack = problem.traceback;
      await reporter.report(problem.operation, error, {
        context: { ...problem.context, occurrence: problem.id },
      });
    },
  };
}
