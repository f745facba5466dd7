import type { Redis } from 'ioredis';
import { z } from 'zod';
import { zodIssueLines } from '@eufy-relay/config';
import { DEVICE_SN, RECORDING_ID, parseRecordingId, recordingId } from '@eufy-relay/contracts';
import { History, type HistoryConfig } from '@eufy-relay/history';
import { RedisScript, redisKey } from '@eufy-relay/runtime';
import {
  RECORDING_STATUSES,
  decodeRecording,
  encodeFields,
  newRecordingSchema,
  recordingPatchSchema,
  type NewRecording,
  type Recording,
  type RecordingPatch,
  type RecordingStatus,
} from './record';

export class RecordingExistsError extends Error {
  constructor(readonly id: string) {
    super(`recording ${id} already exists`);
    this.name = 'RecordingExistsError';
  }
}

export class RecordingNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`recording ${id} does not exist`);
    this.name = 'RecordingNotFoundError';
  }
}

/** A conditional write found the recording in another status than it requires. */
export class RecordingStatusConflictError extends Error {
  constructor(
    readonly id: string,
    readonly actual: string,
    readonly expected: readonly RecordingStatus[],
  ) {
    super(`recording ${id} is ${actual}, expected ${expected.join(' or ')}`);
    this.name = 'RecordingStatusConflictError';
  }
}

/** Input that does not describe a valid recording, change or query; nothing was written. */
export class InvalidRecordingInputError extends Error {
  constructor(
    readonly what: string,
    readonly problems: string[],
  ) {
    super(`invalid ${what}: ${problems.join('; ')}`);
    this.name = 'InvalidRecordingInputError';
  }
}

function parseInput<S extends z.ZodType>(what: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new InvalidRecordingInputError(what, zodIssueLines(result.error));
}

/** One atomic write of a recording and every index that mentions it: see write-recording-12.lua. */
const WRITE = RedisScript.load(__dirname, 'write-recording-12.lua');
/** Many recordings deleted from every index at once: see delete-recordings-6.lua. */
const DELETE_MANY = RedisScript.load(__dirname, 'delete-recordings-6.lua');
/** Ids per DELETE_MANY call: one page of the janitor, and well under Lua's limit on unpack(). */
const DELETE_BATCH = 1000;
// The scripts list the statuses in RECORDING_STATUSES order (their by-status keys follow that order).
const LUA_STATUSES = `local STATUSES = {${RECORDING_STATUSES.map((s) => `'${s}'`).join(', ')}}`;
for (const script of [WRITE, DELETE_MANY]) {
  if (!script.source.includes(LUA_STATUSES)) {
    throw new Error(`${script.file} must say ${LUA_STATUSES} (RECORDING_STATUSES changed)`);
  }
}

/**
 * Where a listing continues: the (started_at, member) of the last item returned. Opaque to callers.
 * The member is whatever the sorted set holds (a bad entry is still a place to continue from); it
 * is only compared, never used as a key.
 */
const CURSOR = /^(\d{1,15}):(.{1,256})$/;

export interface RecordingQuery {
  device_sn?: string;
  /** One status or several (merged in start order). */
  status?: RecordingStatus | readonly RecordingStatus[];
  /** started_at >= from (ms). */
  from?: number;
  /** started_at < to (ms). */
  to?: number;
  /** By started_at, ties by id. Default `desc` (newest first). */
  order?: 'asc' | 'desc';
  /** Default 50, at most 1000. */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string | null;
}

const querySchema = z.strictObject({
  device_sn: z.string().regex(DEVICE_SN).optional(),
  status: z.union([z.enum(RECORDING_STATUSES), z.array(z.enum(RECORDING_STATUSES)).min(1)]).optional(),
  from: z.number().int().nonnegative().optional(),
  to: z.number().int().nonnegative().optional(),
  order: z.enum(['asc', 'desc']).default('desc'),
  limit: z.number().int().min(1).max(1000).default(50),
  cursor: z.string().regex(CURSOR, 'not a cursor this listing returned').nullish(),
});

export interface RecordingRef {
  id: string;
  started_at: number;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null when this page is the last. */
  next_cursor: string | null;
}

export interface CameraStats {
  device_sn: string;
  count: number;
  bytes: number;
  oldest: RecordingRef | null;
  newest: RecordingRef | null;
}

export interface RecordingStats {
  count: number;
  /** Sum of `bytes` over the index (in-progress recordings as last reported, missing ones as 0). */
  bytes: number;
  by_status: Record<RecordingStatus, number>;
  oldest: RecordingRef | null;
  newest: RecordingRef | null;
  cameras: CameraStats[];
}

/** The history series of finished recordings per day (@eufy-relay/history). */
export const RECORDINGS_HISTORY = 'recordings';

interface CameraDays {
  count: number[];
  seconds: number[];
  bytes: number[];
}

export interface RecordingsPerDay {
  /** UTC days, `YYYY-MM-DD`, oldest first. */
  days: string[];
  /** Per camera with a finished recording in the window; each array has one value per day. */
  cameras: ({ device_sn: string } & CameraDays)[];
}

/** The fields `finish` requires; anything else of a patch may come along (bytes, codec, …). */
const finishSchema = recordingPatchSchema.extend({
  status: z.enum(['completed', 'failed']),
  video_status: z.enum(['completed', 'failed', 'no_video']),
  ended_at: z.number().int().nonnegative(),
  duration_seconds: z.number().nonnegative(),
  stop_reason: z.string().min(1).max(200),
});
export type FinishRecording = z.input<typeof finishSchema>;

/**
 * The recordings index in Redis (README.md of this package has the key layout). Every write keeps
 * the hash, the sorted sets and the totals consistent in one atomic step; every listing reads a
 * sorted set by score with LIMIT, so its cost is the page, not the archive.
 */
export class RecordingStore {
  private readonly prefix: string;
  private readonly history: History;

  constructor(
    private readonly redis: Redis,
    config: HistoryConfig,
  ) {
    this.prefix = redisKey(config, 'recordings');
    this.history = new History(redis, config);
  }

  /** Every key of the index, for the README and for tests that inspect Redis. */
  readonly keys = {
    item: (id: string) => `${this.prefix}:item:${id}`,
    byStart: () => `${this.prefix}:by-start`,
    byCamera: (sn: string) => `${this.prefix}:by-camera:${sn}`,
    byStatus: (status: RecordingStatus) => `${this.prefix}:by-status:${status}`,
    byCameraStatus: (sn: string, status: RecordingStatus) =>
      `${this.prefix}:by-camera-status:${sn}:${status}`,
    totals: () => `${this.prefix}:totals`,
  };

  /** Creates the recording `{device_sn}_{YYYYMMDD_HHMMSS}` of started_at; throws RecordingExistsError if taken. */
  async create(input: NewRecording): Promise<Recording> {
    const fields = parseInput('new recording', newRecordingSchema, input);
    const id = recordingId(fields.device_sn, fields.started_at);
    const result = await this.write('create', id, fields, []);
    if (result.kind === 'exists') throw new RecordingExistsError(id);
    return this.expectWritten(id, result);
  }

  /** Changes fields; with `expectStatus` only when the recording is in one of those statuses. */
  async update(
    id: string,
    patch: RecordingPatch,
    options: { expectStatus?: readonly RecordingStatus[] } = {},
  ): Promise<Recording> {
    const fields = parseInput('recording change', recordingPatchSchema, patch);
    return this.expectWritten(id, await this.write('update', id, fields, options.expectStatus ?? []));
  }

  /** Ends a recording that is still `recording` (RecordingStatusConflictError if it already ended). */
  async finish(id: string, outcome: FinishRecording): Promise<Recording> {
    const fields = parseInput('recording outcome', finishSchema, outcome);
    const recording = this.expectWritten(id, await this.write('update', id, fields, ['recording']));
    // Counted here because a recording finishes once (the write above requires `recording`).
    await this.history
      .countDay(this.redis.multi(), RECORDINGS_HISTORY, recording.started_at, {
        [`count:${recording.device_sn}`]: 1,
        [`seconds:${recording.device_sn}`]: recording.duration_seconds ?? 0,
        [`bytes:${recording.device_sn}`]: recording.bytes,
      })
      .exec();
    return recording;
  }

  /**
   * Finished recordings per camera and UTC day of their start, over the last `days` days up to `now`
   * (oldest first): how many, seconds and bytes recorded. Kept by day, so retention and disk
   * pressure deleting recordings do not change the past.
   */
  async perDay(days: number, now = Date.now()): Promise<RecordingsPerDay> {
    const history = await this.history.readDays(RECORDINGS_HISTORY, days, now);
    const cameras = new Map<string, RecordingsPerDay['cameras'][number]>();
    const empty = () => history.map(() => 0);
    history.forEach(({ counts }, i) => {
      for (const [field, value] of Object.entries(counts)) {
        const [measure, sn] = field.split(':') as [keyof CameraDays, string];
        if (!sn || !['count', 'seconds', 'bytes'].includes(measure)) continue;
        if (!cameras.has(sn))
          cameras.set(sn, { device_sn: sn, count: empty(), seconds: empty(), bytes: empty() });
        cameras.get(sn)![measure][i] = value;
      }
    });
    return {
      days: history.map((d) => d.day),
      cameras: [...cameras.values()].sort((a, b) => a.device_sn.localeCompare(b.device_sn)),
    };
  }

  /** The video file of a finished recording is gone: status `missing`, bytes 0. */
  async markMissing(id: string, at: number = Date.now()): Promise<Recording> {
    return this.update(
      id,
      { status: 'missing', missing_since: at, bytes: 0 },
      { expectStatus: ['completed', 'failed'] },
    );
  }

  /** The video file of a `missing` recording is back (a remounted disk): its status before, its size now. */
  async markFound(id: string, bytes: number): Promise<Recording> {
    const current = await this.get(id);
    if (!current) throw new RecordingNotFoundError(id);
    const status = current.video_status === 'completed' ? 'completed' : 'failed';
    return this.update(id, { status, missing_since: null, bytes }, { expectStatus: ['missing'] });
  }

  /**
   * Removes the entry from every index and returns it as it was; null when there was none. With
   * `expectStatus` (the janitor: never a recording in progress) other statuses throw a conflict.
   */
  async delete(
    id: string,
    options: { expectStatus?: readonly RecordingStatus[] } = {},
  ): Promise<Recording | null> {
    const result = await this.write('delete', id, {}, options.expectStatus ?? []);
    if (result.kind === 'not_found') return null;
    return this.expectWritten(id, result);
  }

  /**
   * delete() of many recordings, a thousand per round trip and per run of one script (each entry is
   * still checked on its own, and all of one call go at once). One outcome per id, in order: the bytes
   * the deleted entry held (fulfilled), null when there was none, or the error delete() would have
   * thrown for that id (rejected). A failing entry does not stop the others.
   */
  async deleteMany(
    ids: readonly string[],
    options: { expectStatus?: readonly RecordingStatus[] } = {},
  ): Promise<PromiseSettledResult<number | null>[]> {
    const expectStatus = options.expectStatus ?? [];
    // A bad id is that id's outcome, as delete() would throw it; the others go ahead.
    const valid: { id: string; sn: string; at: number }[] = [];
    const outcomes = ids.map((id, at): PromiseSettledResult<number | null> => {
      const parsed = parseRecordingId(id);
      if (!parsed) return { status: 'rejected', reason: invalidId(id) };
      valid.push({ id, sn: parsed.deviceSn, at });
      return { status: 'fulfilled', value: null };
    });
    const keys = [
      this.keys.byStart(),
      this.keys.totals(),
      ...RECORDING_STATUSES.map((s) => this.keys.byStatus(s)),
    ];
    for (let start = 0; start < valid.length; start += DELETE_BATCH) {
      const batch = valid.slice(start, start + DELETE_BATCH);
      const args = [this.prefix, expectStatus.join(','), ...batch.flatMap((r) => [r.id, r.sn])];
      const replies = (await DELETE_MANY.run(this.redis, keys, args)) as [string, string | number][];
      for (const [i, { id, at }] of batch.entries()) {
        const [kind, value] = replies[i]!;
        outcomes[at] =
          kind === 'conflict'
            ? {
                status: 'rejected',
                reason: new RecordingStatusConflictError(id, String(value), expectStatus),
              }
            : { status: 'fulfilled', value: kind === 'ok' ? Number(value) : null };
      }
    }
    return outcomes;
  }

  async get(id: string): Promise<Recording | null> {
    if (!RECORDING_ID.test(id)) return null;
    const hash = await this.redis.hgetall(this.keys.item(id));
    return Object.keys(hash).length === 0 ? null : decodeRecording(id, hash);
  }

  /** The recordings that still exist, in the order asked. */
  async getMany(ids: readonly string[]): Promise<Recording[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.item(id));
    const hashes = (await execAll(pipeline)) as Record<string, string>[];
    return hashes.flatMap((hash, i) =>
      Object.keys(hash).length > 0 ? [decodeRecording(ids[i]!, hash)] : [],
    );
  }

  /** One page of recordings matching the query. */
  async list(query: RecordingQuery = {}): Promise<Page<Recording>> {
    const page = await this.listRefs(query);
    return { items: await this.getMany(page.items.map((r) => r.id)), next_cursor: page.next_cursor };
  }

  /**
   * One page of ids and start times matching the query, without reading the entries. Each source
   * sorted set (per camera and/or status) is read with ZRANGE BYSCORE … LIMIT from the cursor on;
   * several statuses are merged in order.
   */
  async listRefs(query: RecordingQuery = {}): Promise<Page<RecordingRef>> {
    const q = parseInput('recording query', querySchema, query);
    const statuses =
      q.status === undefined ? [] : typeof q.status === 'string' ? [q.status] : [...new Set(q.status)];
    const sources =
      statuses.length === 0
        ? [q.device_sn ? this.keys.byCamera(q.device_sn) : this.keys.byStart()]
        : statuses.map((s) =>
            q.device_sn ? this.keys.byCameraStatus(q.device_sn, s) : this.keys.byStatus(s),
          );
    const cursor = q.cursor ? parseCursor(q.cursor) : undefined;
    const pages = await Promise.all(sources.map((key) => this.rangePage(key, q, cursor)));
    const asc = q.order === 'asc';
    const merged = pages.flat().sort((a, b) => (asc ? compareRefs(a, b) : compareRefs(b, a)));
    const items = merged.slice(0, q.limit);
    const last = items.at(-1);
    return {
      items,
      next_cursor: merged.length > q.limit && last ? `${last.started_at}:${last.id}` : null,
    };
  }

  /** Every page of a query, one after the other (the janitor walks the index with it). */
  async *refs(query: Omit<RecordingQuery, 'cursor'>): AsyncGenerator<RecordingRef> {
    let cursor: string | null = null;
    do {
      const page: Page<RecordingRef> = await this.listRefs({ ...query, cursor });
      yield* page.items;
      cursor = page.next_cursor;
    } while (cursor);
  }

  /** Recordings in progress, oldest first. */
  async listInProgress(limit = 1000): Promise<Recording[]> {
    return (await this.list({ status: 'recording', order: 'asc', limit })).items;
  }

  /** How many recordings there are: all, or those in these statuses, or those started before `to`. */
  async count(query: Pick<RecordingQuery, 'status' | 'to'> = {}): Promise<number> {
    const statuses = query.status === undefined ? [] : [...new Set([query.status].flat())];
    const sets = statuses.length === 0 ? [this.keys.byStart()] : statuses.map((s) => this.keys.byStatus(s));
    const below = query.to === undefined ? '+inf' : `(${query.to}`;
    const pipeline = this.redis.pipeline();
    for (const key of sets) pipeline.zcount(key, '-inf', below);
    return ((await execAll(pipeline)) as number[]).reduce((sum, n) => sum + n, 0);
  }

  /** Counts, byte totals and oldest/newest, overall and per camera (GET /storage). */
  async stats(): Promise<RecordingStats> {
    const pipeline = this.redis.pipeline();
    pipeline.hgetall(this.keys.totals());
    for (const s of RECORDING_STATUSES) pipeline.zcard(this.keys.byStatus(s));
    const replies = await execAll(pipeline);
    const totals = replies[0] as Record<string, string>;
    const by_status = Object.fromEntries(
      RECORDING_STATUSES.map((s, i) => [s, Number(replies[i + 1])]),
    ) as Record<RecordingStatus, number>;
    const cameraSns = Object.keys(totals)
      .filter((f) => f.startsWith('count:'))
      .map((f) => f.slice('count:'.length))
      .sort();
    const ends = await this.oldestAndNewest([
      this.keys.byStart(),
      ...cameraSns.map((sn) => this.keys.byCamera(sn)),
    ]);
    return {
      count: Number(totals.count ?? 0),
      bytes: Number(totals.bytes ?? 0),
      by_status,
      oldest: ends[0]!.oldest,
      newest: ends[0]!.newest,
      cameras: cameraSns.map((sn, i) => ({
        device_sn: sn,
        count: Number(totals[`count:${sn}`] ?? 0),
        bytes: Number(totals[`bytes:${sn}`] ?? 0),
        ...ends[i + 1]!,
      })),
    };
  }

  private async oldestAndNewest(
    keys: string[],
  ): Promise<{ oldest: RecordingRef | null; newest: RecordingRef | null }[]> {
    const pipeline = this.redis.pipeline();
    for (const key of keys) {
      pipeline.zrange(key, 0, 0, 'WITHSCORES');
      pipeline.zrange(key, -1, -1, 'WITHSCORES');
    }
    const replies = (await execAll(pipeline)) as string[][];
    return keys.map((_k, i) => ({
      oldest: refsFrom(replies[2 * i]!)[0] ?? null,
      newest: refsFrom(replies[2 * i + 1]!)[0] ?? null,
    }));
  }

  /**
   * Up to limit+1 refs of one sorted set after the cursor. Members with the cursor's score are
   * fetched again (ZCOUNT says how many) and those at or before the cursor's id dropped, so equal
   * start times neither repeat nor vanish between pages.
   */
  private async rangePage(
    key: string,
    q: { from?: number; to?: number; order: 'asc' | 'desc'; limit: number },
    cursor: RecordingRef | undefined,
  ): Promise<RecordingRef[]> {
    const asc = q.order === 'asc';
    const low = asc && cursor ? String(cursor.started_at) : q.from !== undefined ? String(q.from) : '-inf';
    const high = !asc && cursor ? String(cursor.started_at) : q.to !== undefined ? `(${q.to}` : '+inf';
    const ties = cursor ? await this.redis.zcount(key, cursor.started_at, cursor.started_at) : 0;
    const take = q.limit + 1 + ties;
    const reply = asc
      ? await this.redis.zrange(key, low, high, 'BYSCORE', 'LIMIT', 0, take, 'WITHSCORES')
      : await this.redis.zrange(key, high, low, 'BYSCORE', 'REV', 'LIMIT', 0, take, 'WITHSCORES');
    const refs = refsFrom(reply);
    const after = cursor
      ? refs.filter((r) => (asc ? compareRefs(r, cursor) > 0 : compareRefs(r, cursor) < 0))
      : refs;
    // The cursor replaced one bound of the range; a cursor from another query must not widen it.
    return after
      .filter(
        (r) =>
          (q.to === undefined || r.started_at < q.to) && (q.from === undefined || r.started_at >= q.from),
      )
      .slice(0, q.limit + 1);
  }

  private async write(
    mode: 'create' | 'update' | 'delete',
    id: string,
    fields: Record<string, unknown>,
    expectStatus: readonly RecordingStatus[],
  ): Promise<WriteResult> {
    const { keys, args } = this.writeCall(mode, id, fields, expectStatus);
    return writeResult(id, await WRITE.run(this.redis, keys, args), expectStatus);
  }

  /** The keys and arguments of one WRITE call. */
  private writeCall(
    mode: 'create' | 'update' | 'delete',
    id: string,
    fields: Record<string, unknown>,
    expectStatus: readonly RecordingStatus[],
  ): { keys: string[]; args: string[] } {
    const parsed = parseRecordingId(id);
    if (!parsed) throw invalidId(id);
    const sn = parsed.deviceSn;
    const { set, clear } = encodeFields(fields);
    const keys = [
      this.keys.item(id),
      this.keys.byStart(),
      this.keys.byCamera(sn),
      this.keys.totals(),
      ...RECORDING_STATUSES.map((s) => this.keys.byStatus(s)),
      ...RECORDING_STATUSES.map((s) => this.keys.byCameraStatus(sn, s)),
    ];
    const args = [
      mode,
      expectStatus.join(','),
      id,
      sn,
      String(Date.now()),
      String(set.length / 2),
      ...set,
      ...clear,
    ];
    return { keys, args };
  }

  private expectWritten(id: string, result: WriteResult): Recording {
    if (result.kind === 'not_found') throw new RecordingNotFoundError(id);
    if (result.kind !== 'ok') throw new Error(`unexpected write result ${result.kind} for ${id}`);
    return decodeRecording(id, result.hash);
  }
}

type WriteResult = { kind: 'ok'; hash: Record<string, string> } | { kind: 'exists' } | { kind: 'not_found' };

function writeResult(id: string, reply: unknown, expectStatus: readonly RecordingStatus[]): WriteResult {
  const [kind, payload] = reply as [WriteResult['kind'] | 'conflict', string[] | string | undefined];
  if (kind === 'conflict') throw new RecordingStatusConflictError(id, String(payload), expectStatus);
  return kind === 'ok' ? { kind, hash: pairsToObject(payload as string[]) } : { kind };
}

function invalidId(id: string): InvalidRecordingInputError {
  return new InvalidRecordingInputError('recording id', [
    `${JSON.stringify(id)} is not {device_sn}_{YYYYMMDD_HHMMSS}`,
  ]);
}

function parseCursor(cursor: string): RecordingRef {
  const m = CURSOR.exec(cursor)!;
  return { started_at: Number(m[1]), id: m[2]! };
}

function compareRefs(a: RecordingRef, b: RecordingRef): number {
  if (a.started_at !== b.started_at) return a.started_at - b.started_at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function refsFrom(reply: string[]): RecordingRef[] {
  const refs: RecordingRef[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2)
    refs.push({ id: reply[i]!, started_at: Number(reply[i + 1]) });
  return refs;
}

function pairsToObject(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) out[pairs[i]!] = pairs[i + 1]!;
  return out;
}

async function execAll(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
