import {
  AnnexBParser,
  REQUIRED_PARAMETER_SETS,
  buildAccessUnit,
  type AccessUnit,
  type AnnexBParserOptions,
  type VideoCodec,
} from './annexb';

export interface KeyframeGateStats {
  /** Stream sessions seen: 1 at the start, +1 per `newSession()`. */
  sessions: number;
  /** Access units let through (what was written to the file). */
  passed: number;
  /** Access units dropped while waiting for a keyframe (mid-GOP joins, restarts). */
  droppedWaitingForKeyframe: number;
  /** Keyframes that arrived without their parameter sets and got the remembered ones put in front. */
  parameterSetsPrepended: number;
}

/**
 * Lets a file start, and a resumed stream continue, only on a keyframe a decoder can start from.
 *
 * Drops every access unit until the first keyframe; after `newSession()` (the livestream was
 * restarted) drops again until the next one. A keyframe that comes without its parameter sets gets
 * the last ones seen (in this or an earlier session) put in front of it; a keyframe when none were
 * ever seen cannot be decoded and is dropped too. Within a session everything passes in order.
 */
export class KeyframeGate {
  readonly parser: AnnexBParser;
  readonly stats: KeyframeGateStats = {
    sessions: 1,
    passed: 0,
    droppedWaitingForKeyframe: 0,
    parameterSetsPrepended: 0,
  };
  private waitingForKeyframe = true;

  constructor(
    readonly codec: VideoCodec,
    options: AnnexBParserOptions = {},
  ) {
    this.parser = new AnnexBParser(codec, options);
  }

  /** Feeds a chunk of the stream; returns the access units to write, in order. */
  push(chunk: Uint8Array): AccessUnit[] {
    return this.admit(this.parser.push(chunk));
  }

  /**
   * A new stream session begins (the livestream was restarted). Returns the last access unit of the
   * previous session, whose end is only known now; from here on everything waits for a keyframe.
   */
  newSession(): AccessUnit[] {
    const last = this.end();
    this.stats.sessions += 1;
    this.waitingForKeyframe = true;
    return last;
  }

  /** The stream ended: returns the last access unit still buffered. */
  end(): AccessUnit[] {
    return this.admit(this.parser.flush());
  }

  private admit(units: AccessUnit[]): AccessUnit[] {
    const out: AccessUnit[] = [];
    for (const unit of units) {
      if (this.waitingForKeyframe) {
        const start = unit.keyframe ? this.withParameterSets(unit) : undefined;
        if (!start) {
          this.stats.droppedWaitingForKeyframe += 1;
          continue;
        }
        this.waitingForKeyframe = false;
        out.push(start);
      } else {
        out.push(unit);
      }
    }
    this.stats.passed += out.length;
    return out;
  }

  /** The keyframe with every parameter set its codec needs in front, or undefined if one was never seen. */
  private withParameterSets(keyframe: AccessUnit): AccessUnit | undefined {
    const missing = REQUIRED_PARAMETER_SETS[this.codec].filter(
      (kind) => !keyframe.parameterSets.includes(kind),
    );
    if (missing.length === 0) return keyframe;
    const known = this.parser.parameterSets;
    const prefix: Buffer[] = [];
    for (const kind of missing) {
      const nal = known[kind];
      if (!nal) return undefined;
      prefix.push(nal);
    }
    this.stats.parameterSetsPrepended += 1;
    // An access unit delimiter must stay the first NAL unit of its access unit.
    const delimiterType = this.codec === 'h264' ? 9 : 35;
    const keep = keyframe.nalTypes[0] === delimiterType ? 1 : 0;
    const nalUnits = [...keyframe.nalUnits.slice(0, keep), ...prefix, ...keyframe.nalUnits.slice(keep)];
    return buildAccessUnit(this.codec, nalUnits);
  }
}
