import { probeArgs, recordingArgs, thumbnailArgs } from '../src';

/** The options given to one input, i.e. everything between the previous `-i <url>` and this one. */
function inputOptions(args: string[], url: string): string[] {
  const at = args.indexOf(url);
  expect(args[at - 1]).toBe('-i');
  let start = at - 1;
  while (start > 0 && args[start - 2] !== '-i') start -= 1;
  return args.slice(start, at - 1);
}

function valueOf(args: string[], option: string): string | undefined {
  const at = args.indexOf(option);
  return at >= 0 ? args[at + 1] : undefined;
}

describe('recordingArgs', () => {
  it('records Annex-B H.264 from stdin to fragmented MP4 by stream copy, stamped by the wall clock', () => {
    const args = recordingArgs({ output: '/rec/T1_20250101_000000.mp4', codec: 'h264' });
    const video = inputOptions(args, 'pipe:0');
    expect(valueOf(video, '-f')).toBe('h264');
    expect(valueOf(video, '-use_wallclock_as_timestamps')).toBe('1');
    // A sole input is read in ffmpeg's main thread (no input thread polling every 10 ms).
    expect(video).not.toContain('-thread_queue_size');
    // Packets of up to 64 KiB, not ffmpeg's 1 KiB: one per read frame instead of ~17.
    expect(valueOf(video, '-raw_packet_size')).toBe('65536');
    expect(args).not.toContain('pipe:3');
    expect(valueOf(args, '-c')).toBe('copy');
    // Stream copy only: no encoder is named anywhere.
    expect(args.filter((a) => /^-(c|codec)(:[av])?$/.test(a))).toEqual(['-c']);
    expect(valueOf(args, '-movflags')).toBe('+frag_keyframe+empty_moov+default_base_moof');
    expect(valueOf(args, '-frag_duration')).toBe('1000000');
    expect(args.slice(-4)).toEqual(['-f', 'mp4', '-n', 'file:/rec/T1_20250101_000000.mp4']);
    expect(args).not.toContain('-tag:v');
  });

  it('tags HEVC as hvc1 and reads it as hevc', () => {
    const args = recordingArgs({ output: 'x.mp4', codec: 'h265' });
    expect(valueOf(inputOptions(args, 'pipe:0'), '-f')).toBe('hevc');
    expect(valueOf(args, '-tag:v')).toBe('hvc1');
  });

  it('muxes ADTS AAC from fd 3, converted to MP4 framing', () => {
    const args = recordingArgs({ output: 'x.mp4', codec: 'h264', audio: true });
    const audio = inputOptions(args, 'pipe:3');
    expect(valueOf(audio, '-f')).toBe('aac');
    expect(valueOf(audio, '-use_wallclock_as_timestamps')).toBe('1');
    // Two inputs: each keeps being read (and stamped) while the muxer waits for the other.
    expect(valueOf(audio, '-thread_queue_size')).toBe('1024');
    expect(audio).not.toContain('-raw_packet_size'); // not an option of the aac demuxer
    expect(valueOf(inputOptions(args, 'pipe:0'), '-thread_queue_size')).toBe('1024');
    expect(args.filter((_, i) => args[i - 1] === '-map')).toEqual(['0:v:0', '1:a:0']);
    expect(valueOf(args, '-bsf:a')).toBe('aac_adtstoasc');
  });

  it('takes the fragment length and overwrite choice, and refuses a fragment length that is not positive', () => {
    const args = recordingArgs({ output: 'x.mp4', codec: 'h264', fragmentSeconds: 0.5, overwrite: true });
    expect(valueOf(args, '-frag_duration')).toBe('500000');
    expect(args).toContain('-y');
    expect(args).not.toContain('-n');
    expect(() => recordingArgs({ output: 'x.mp4', codec: 'h264', fragmentSeconds: 0 })).toThrow(
      'fragmentSeconds must be positive',
    );
  });
});

describe('thumbnailArgs', () => {
  it('seeks, takes one frame as JPEG and overwrites the target', () => {
    const args = thumbnailArgs({ input: '/rec/a.mp4', output: '/rec/a.jpg', atSeconds: 2.5, width: 320 });
    expect(args.indexOf('-ss')).toBeLessThan(args.indexOf('-i'));
    expect(valueOf(args, '-ss')).toBe('2.5');
    expect(valueOf(args, '-i')).toBe('file:/rec/a.mp4');
    expect(valueOf(args, '-frames:v')).toBe('1');
    expect(valueOf(args, '-vf')).toBe('scale=320:-2');
    expect(valueOf(args, '-c:v')).toBe('mjpeg');
    expect(args.slice(-2)).toEqual(['-y', 'file:/rec/a.jpg']);
  });

  it('defaults to one second in at the video size, and refuses bad values', () => {
    const args = thumbnailArgs({ input: 'a.mp4', output: 'a.jpg' });
    expect(valueOf(args, '-ss')).toBe('1');
    expect(args).not.toContain('-vf');
    expect(() => thumbnailArgs({ input: 'a', output: 'b', atSeconds: -1 })).toThrow(
      'atSeconds must be 0 or more',
    );
    expect(() => thumbnailArgs({ input: 'a', output: 'b', width: 1.5 })).toThrow('width must be an integer');
  });
});

describe('probeArgs', () => {
  it('asks ffprobe for format and streams as JSON, the path as a file URL', () => {
    const args = probeArgs('-odd:name.mp4');
    expect(valueOf(args, '-print_format')).toBe('json');
    expect(args).toEqual(expect.arrayContaining(['-show_format', '-show_streams']));
    expect(args.at(-1)).toBe('file:-odd:name.mp4');
  });
});
