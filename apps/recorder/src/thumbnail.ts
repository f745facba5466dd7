import { rename, rm } from 'node:fs/promises';
import type { Logger } from '@eufy-relay/logger';
import { extractThumbnail } from '@eufy-relay/media';
import type { RecordingFiles } from '@eufy-relay/recordings';

/** `{id}.jpg` from the first seconds, written atomically; a failure costs only the thumbnail. */
export async function makeThumbnail(files: RecordingFiles, id: string, log: Logger): Promise<void> {
  const temp = files.tempPath(id, 'thumbnail');
  try {
    await extractThumbnail(files.videoPath(id), temp);
    await rename(temp, files.thumbnailPath(id));
  } catch (err) {
    log.warn({ err }, 'could not make the thumbnail');
    await rm(temp, { force: true });
  }
}
