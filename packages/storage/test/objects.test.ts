import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '@eufy-relay/config';
import { PART_BYTES, type UploadJournal, type UploadProgress } from '../src';
import { RecordingObjects, checkBucket, createS3Client } from '../src/s3';
import { s3TestSettings, startS3TestServer, type S3TestServer } from '../src/testing';

const ID = 'T8113P0223000002_20261207_120000';
const BUCKET = 'recordings-test';

function settingsFor(endpoint: string, extra: Record<string, string> = {}) {
  return loadConfig({
    env: {
      ...s3TestSettings({
        endpoint,
        bucket: BUCKET,
        accessKeyId: 'relaykey',
        secretAccessKey: 'relaysecret',
      }),
      S3_TIMEOUT_MS: '2000',
      ...extra,
    },
  });
}

function memoryJournal(): UploadJournal & { saved: UploadProgress | null } {
  const j = {
    saved: null as UploadProgress | null,
    load: async () => (j.saved ? (JSON.parse(JSON.stringify(j.saved)) as UploadProgress) : null),
    save: async (p: UploadProgress) => {
      j.saved = JSON.parse(JSON.stringify(p)) as UploadProgress;
    },
    clear: async () => {
      j.saved = null;
    },
  };
  return j;
}

async function checkLines(endpoint: string, extra: Record<string, string> = {}): Promise<string[]> {
  const config = settingsFor(endpoint, extra);
  const client = createS3Client(config);
  try {
    await checkBucket(new RecordingObjects(client, config), config, ['read', 'write', 'delete']);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.lines;
    throw err;
  } finally {
    client.destroy();
  }
}

describe('RecordingObjects against a real S3 server (fauxqs)', () => {
  let s3: S3TestServer;
  let dir: string;

  beforeAll(async () => {
    s3 = await startS3TestServer({ buckets: [BUCKET] });
    dir = await mkdtemp(path.join(tmpdir(), 'storage-objects-'));
  });
  afterAll(async () => {
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('passes the start-up check with a bucket it may use', async () => {
    expect(await checkLines(s3.endpoint)).toEqual([]);
  });

  it('names S3_BUCKET when the bucket does not exist', async () => {
    const lines = await checkLines(s3.endpoint, { S3_BUCKET: 'no-such-bucket' });
    expect(lines).toEqual([
      `storage: S3_BUCKET="no-such-bucket": the bucket does not exist at S3_ENDPOINT="${s3.endpoint}"`,
    ]);
  });

  it('names S3_ENDPOINT when nothing answers there', async () => {
    const lines = await checkLines('http://127.0.0.1:9', { S3_TIMEOUT_MS: '1000' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^storage: S3_ENDPOINT="http:\/\/127\.0\.0\.1:9": cannot reach the S3 endpoint \(connect ECONNREFUSED/,
    );
  });

  it('names S3_ACCESS_KEY_ID when the server does not know the key, and the permission it lacks', async () => {
    const guarded = await startS3TestServer({ buckets: [BUCKET], accessKeyId: 'the-right-key' });
    const readOnly = await startS3TestServer({ buckets: [BUCKET], readOnly: true });
    try {
      expect(await checkLines(guarded.endpoint)).toEqual([
        `storage: S3_ACCESS_KEY_ID="relaykey": the server does not know this access key (S3_ENDPOINT="${guarded.endpoint}")`,
      ]);
      expect(await checkLines(guarded.endpoint, { S3_ACCESS_KEY_ID: 'the-right-key' })).toEqual([]);
      expect(await checkLines(readOnly.endpoint)).toEqual([
        'storage: S3_ACCESS_KEY_ID="relaykey": no permission for s3:PutObject on S3_BUCKET="recordings-test" under S3_PREFIX="recordings/"',
      ]);
    } finally {
      await guarded.stop();
      await readOnly.stop();
    }
  });

  it('uploads a large file in 8 MiB parts and checks size and checksum', async () => {
    const config = settingsFor(s3.endpoint);
    const client = createS3Client(config);
    const objects = new RecordingObjects(client, config);
    try {
      const content = randomBytes(2 * PART_BYTES + 12345);
      const file = path.join(dir, `${ID}.mp4`);
      await writeFile(file, content);
      const journal = memoryJournal();
      const stored = await objects.uploadFile(file, objects.key(ID, 'video'), 'video', journal);
      expect(stored.key).toBe(`recordings/${ID}.mp4`);
      expect(stored.bytes).toBe(content.length);
      // S3's multipart ETag: the MD5 of the three part MD5s, "-3".
      const parts = [0, 1, 2].map((i) =>
        createHash('md5')
          .update(content.subarray(i * PART_BYTES, (i + 1) * PART_BYTES))
          .digest(),
      );
      expect(stored.etag).toBe(`${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-3`);
      expect(journal.saved).toBeNull();
      const read = await objects.read(stored.key, { range: 'bytes=100-199' });
      expect(read.status).toBe(206);
      expect(read.status === 206 && read.contentRange).toBe(`bytes 100-199/${content.length}`);
    } finally {
      client.destroy();
    }
  });

  it('resumes a multipart upload from its journal after the S3 server stopped answering mid-upload', async () => {
    const config = settingsFor(s3.endpoint, { S3_TIMEOUT_MS: '1500' });
    const client = createS3Client(config);
    const objects = new RecordingObjects(client, { ...config, S3_PREFIX: 'resume/' });
    try {
      const content = randomBytes(3 * PART_BYTES);
      const file = path.join(dir, `${ID}.resume.bin`);
      await writeFile(file, content);
      const journal = memoryJournal();
      // Stop the server once the first part is acknowledged.
      const save = journal.save;
      journal.save = async (p) => {
        await save(p);
        if (Object.keys(p.parts).length === 1) s3.pause();
      };
      await expect(objects.uploadFile(file, objects.key(ID, 'video'), 'video', journal)).rejects.toThrow();
      expect(Object.keys(journal.saved!.parts)).toEqual(['1']);
      const uploadId = journal.saved!.upload_id;
      s3.resume();
      journal.save = save;
      const stored = await objects.uploadFile(file, objects.key(ID, 'video'), 'video', journal);
      expect(stored.bytes).toBe(content.length);
      expect(stored.etag).toMatch(/-3$/);
      // The same upload carried on: S3 knows nothing of an aborted or a second one.
      await expect(
        objects.abort({ key: objects.key(ID, 'video'), upload_id: uploadId }),
      ).resolves.toBeUndefined();
      const got = await objects.read(objects.key(ID, 'video'), {});
      const chunks: Buffer[] = [];
      if (!got.refused) for await (const c of got.body) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(content)).toBe(true);
    } finally {
      s3.resume();
      client.destroy();
    }
  });

  it('lists page by page and deletes in batches', async () => {
    const config = settingsFor(s3.endpoint);
    const client = createS3Client(config);
    const objects = new RecordingObjects(client, { ...config, S3_PREFIX: 'listing/' });
    try {
      const ids = [1, 2, 3, 4, 5].map((n) => `T8113P0223000002_20261207_12000${n}`);
      for (const id of ids) {
        const file = path.join(dir, `${id}.jpg`);
        await writeFile(file, `jpeg ${id}`);
        await objects.uploadFile(file, objects.key(id, 'thumbnail'), 'thumbnail', memoryJournal());
      }
      const listed: string[] = [];
      for await (const o of objects.list(undefined, 2)) listed.push(o.key);
      expect(listed.sort()).toEqual(ids.map((id) => `listing/${id}.jpg`));
      expect(listed.map((k) => objects.parseKey(k)?.id)).toEqual(listed.map((k) => k.slice(8, -4)));
      expect(await objects.deleteMany(ids.slice(0, 3).map((id) => objects.key(id, 'thumbnail')))).toEqual([]);
      const left: string[] = [];
      for await (const o of objects.list()) left.push(o.key);
      expect(left.sort()).toEqual(ids.slice(3).map((id) => `listing/${id}.jpg`));
    } finally {
      client.destroy();
    }
  });
});
