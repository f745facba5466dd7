import { open } from 'node:fs/promises';

/**
 * Cuts a fragmented MP4 back to its last complete fragment. A writer stopped mid-write (the disk
 * filled up, the machine died) leaves a `moof` or `mdat` box whose size runs past the end of the
 * file; players and ffprobe report that tail as a broken file. Truncating needs no free space.
 * Top-level boxes are walked by their headers only. Returns the bytes cut (0 for a whole file).
 */
export async function trimToCompleteFragments(file: string): Promise<number> {
  const handle = await open(file, 'r+');
  try {
    const size = (await handle.stat()).size;
    const header = Buffer.alloc(16);
    let offset = 0;
    // The end of the last box after which the file is whole: not inside a fragment (a `moof`
    // needs the `mdat` after it).
    let whole = 0;
    while (offset + 8 <= size) {
      const { bytesRead } = await handle.read(header, 0, 16, offset);
      let boxSize = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      if (boxSize === 1) {
        if (bytesRead < 16) break;
        boxSize = Number(header.readBigUInt64BE(8));
      } else if (boxSize === 0) {
        boxSize = size - offset;
      }
      if (boxSize < 8 || offset + boxSize > size) break;
      offset += boxSize;
      if (type !== 'moof') whole = offset;
    }
    if (whole >= size) return 0;
    await handle.truncate(whole);
    return size - whole;
  } finally {
    await handle.close();
  }
}
