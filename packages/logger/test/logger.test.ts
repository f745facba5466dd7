import { createLogger, jobLogger, logCapture as capture } from '../src';

describe('createLogger', () => {
  it('writes JSON lines carrying the role and an ISO time', () => {
    const { lines, destination } = capture();
    createLogger({ role: 'ingest', destination }).info({ device: 'T1' }, 'ready');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ role: 'ingest', msg: 'ready', device: 'T1', level: 30 });
    expect(String(lines[0]!.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('redacts secret settings, authorization headers and URL credentials', () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    log.info(
      {
        config: { WEBHOOK_SECRET: 'whsec_abc', API_TOKEN: 'tok-123', URL_SIGNING_SECRET: 'sig-456' },
        req: { headers: { authorization: 'Bearer tok-123' } },
        REDIS_URL: 'redis://default:hunter2@redis:6379',
        nested: { deeper: { url: 'https://u:p4ss@example.com/hook' } },
      },
      'connecting to redis://:hunter2@localhost:6379',
    );
    const text = JSON.stringify(lines);
    expect(text).not.toMatch(/whsec_abc|tok-123|sig-456|hunter2|p4ss/);
    expect(lines[0]).toMatchObject({
      config: { WEBHOOK_SECRET: '<redacted>', API_TOKEN: '<redacted>', URL_SIGNING_SECRET: '<redacted>' },
      REDIS_URL: 'redis://default:***@redis:6379',
      msg: 'connecting to redis://:***@localhost:6379',
    });
  });

  it('masks URL credentials and the configured secrets inside errors: message, stack and cause', () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination, secrets: ['tok-0123456789abcdef'] });
    const cause = new Error('AUTH failed for redis://default:hunter2@redis:6379');
    const err = Object.assign(new Error('bad header Bearer tok-0123456789abcdef', { cause }), {
      code: 'E_HEADER',
    });
    log.error(err);
    log.error({ err }, 'request failed');
    log.warn({ detail: { error: err } }, 'nested');
    log.child({ err }).info('bound');
    const text = JSON.stringify(lines);
    expect(text).not.toMatch(/hunter2|tok-0123456789abcdef/);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({
      msg: 'bad header Bearer <redacted>',
      err: {
        type: 'Error',
        code: 'E_HEADER',
        message: 'bad header Bearer <redacted>: AUTH failed for redis://default:***@redis:6379',
        stack: expect.stringContaining('Error: bad header Bearer <redacted>'),
      },
    });
    expect(lines[1]).toMatchObject({ msg: 'request failed', err: { type: 'Error', code: 'E_HEADER' } });
    expect(lines[2]).toMatchObject({ detail: { error: { type: 'Error', code: 'E_HEADER' } } });
    expect(lines[3]).toMatchObject({ msg: 'bound', err: { type: 'Error', code: 'E_HEADER' } });
  });

  it('respects the level', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'warn', destination });
    log.info('hidden');
    log.warn('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });

  it('gives each job a child logger with queue, name and id', () => {
    const { lines, destination } = capture();
    jobLogger(createLogger({ role: 'notifier', destination }), {
      queueName: 'webhooks',
      name: 'deliver-webhook',
      id: '42',
    }).info('sent');
    expect(lines[0]).toMatchObject({
      role: 'notifier',
      queue: 'webhooks',
      job: 'deliver-webhook',
      jobId: '42',
    });
  });
});
