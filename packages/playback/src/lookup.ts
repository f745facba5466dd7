import type { RecordingFiles, RecordingStore } from '@eufy-relay/recordings';
import type { MediaLookup } from './files';

/** The file routes' view of the index: its status for the id, and where the file lives on this host. */
export function indexLookup(store: RecordingStore, files: RecordingFiles): MediaLookup {
  return async (id, kind) => {
    const recording = await store.get(id);
    return {
      state: recording?.status ?? null,
      path: files.pathOf(id, kind),
      stored: recording?.stored_at != null,
    };
  };
}
