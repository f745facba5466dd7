import type { z } from 'zod';

/**
 * One line per zod issue, `path: message` (`root` names an issue of the whole value): how every
 * boundary of the product (job payloads, request bodies, index entries, scenario files, bridge
 * messages) says what was wrong with an input.
 */
export function zodIssueLines(error: z.ZodError, options: { root?: string; limit?: number } = {}): string[] {
  const issues = options.limit === undefined ? error.issues : error.issues.slice(0, options.limit);
  return issues.map((i) => `${i.path.length ? i.path.join('.') : (options.root ?? '(root)')}: ${i.message}`);
}
