/** Seed format for every webhook timestamp: UTC, second precision, `Z` suffix (2025-01-30T14:30:22Z). */
export const UTC_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export function utcTimestamp(at: Date | number = Date.now()): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
