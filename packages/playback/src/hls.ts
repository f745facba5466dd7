import { stat } from 'node:fs/promises';
import { Fmp4Indexer, type Fmp4Layout } from '@eufy-relay/media/fmp4';

/** Recordings whose fragment layout is remembered; past this the least recently used is forgotten. */
const INDEXES_MAX = 1000;

interface Indexed {
  indexer: Fmp4Indexer;
  dev: number;
  ino: number;
}

/**
 * The fragment layout of each recording file, read incrementally: a recording in progress costs only
 * the boxes written since the last request, a finished one is read once. An index is tied to the
 * file's inode, so a file replaced in place (segments stitched at the finish) is read afresh.
 */
export class FragmentIndexes {
  private readonly entries = new Map<string, Indexed>();

  /** The file's layout now; null when it does not exist. */
  async layout(path: string): Promise<Readonly<Fmp4Layout> | null> {
    let stats;
    try {
      stats = await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let entry = this.entries.get(path);
    if (entry && (entry.dev !== stats.dev || entry.ino !== stats.ino)) entry = undefined;
    this.entries.delete(path);
    if (!entry) {
      entry = { indexer: new Fmp4Indexer(path), dev: stats.dev, ino: stats.ino };
      if (this.entries.size >= INDEXES_MAX) this.entries.delete(this.entries.keys().next().value!);
    }
    // Map order is recency: re-inserting makes this the most recently used.
    this.entries.set(path, entry);
    return entry.indexer.refresh();
  }
}

export interface PlaylistOptions {
  /** The URI of the video file as the playlist names it (relative, with the signature's query). */
  uri: string;
  /** False while recording: an EVENT playlist the player reloads; true: it ends with EXT-X-ENDLIST. */
  finished: boolean;
}

/**
 * An HLS playlist (version 7) over the fragmented MP4 itself: the init section by EXT-X-MAP and each
 * fragment by EXT-X-BYTERANGE, so Safari and iOS play the very file the .mp4 URL serves, with no
 * second copy and no remuxing.
 */
export function hlsPlaylist(layout: Readonly<Fmp4Layout>, options: PlaylistOptions): string {
  const longest = Math.max(1, ...layout.fragments.map((f) => f.durationSeconds));
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${Math.ceil(longest)}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    `#EXT-X-PLAYLIST-TYPE:${options.finished ? 'VOD' : 'EVENT'}`,
    `#EXT-X-MAP:URI="${options.uri}",BYTERANGE="${layout.initLength ?? 0}@0"`,
  ];
  for (const fragment of layout.fragments) {
    lines.push(
      `#EXTINF:${fragment.durationSeconds.toFixed(3)},`,
      `#EXT-X-BYTERANGE:${fragment.length}@${fragment.offset}`,
      options.uri,
    );
  }
  if (options.finished) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
