/**
 * A value built at its first use instead of at start (what only some requests need stays out of the
 * api's idle memory). Concurrent first uses share one build; a failed build is tried again next time.
 */
export function onFirstUse<T>(build: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () =>
    (value ??= build().catch((err: unknown) => {
      value = undefined;
      throw err;
    }));
}
