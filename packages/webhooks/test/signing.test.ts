import { signWebhook, verifyWebhookSignature, webhookSigningKey } from '../src';

// The reference vector of the Standard Webhooks specification.
const vector = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const headersOf = (signature: string, id = vector.id, timestamp = String(vector.timestamp)) => ({
  'webhook-id': id,
  'webhook-timestamp': timestamp,
  'webhook-signature': signature,
});
const at = vector.timestamp * 1000;

describe('Standard Webhooks signing', () => {
  it('reproduces the specification reference vector (whsec_ secret is base64 key bytes)', () => {
    expect(signWebhook(vector.secret, vector.id, vector.timestamp, vector.body)).toBe(vector.signature);
    expect(verifyWebhookSignature(vector.secret, headersOf(vector.signature), vector.body, { now: at })).toBe(
      'valid',
    );
  });

  it('uses any other secret as its UTF-8 bytes', () => {
    expect(webhookSigningKey('plain-secret-123')).toEqual(Buffer.from('plain-secret-123'));
    const signature = signWebhook('plain-secret-123', 'id-1', vector.timestamp, '{}');
    expect(signature).not.toBe(signWebhook('whsec_cGxhaW4tc2VjcmV0LTEyMw==', 'id-2', vector.timestamp, '{}'));
    // whsec_ + base64("plain-secret-123") is the same key, so the same signature.
    expect(signWebhook('whsec_cGxhaW4tc2VjcmV0LTEyMw==', 'id-1', vector.timestamp, '{}')).toBe(signature);
  });

  it('rejects a whsec_ secret that is not base64', () => {
    expect(() => webhookSigningKey('whsec_not base64!')).toThrow(/must continue with base64/);
  });

  it.each([
    ['a tampered body', headersOf(vector.signature), '{"test": 2432232315}', 'invalid'],
    ['a different id', headersOf(vector.signature, 'msg_other'), vector.body, 'invalid'],
    ['a different timestamp', headersOf(vector.signature, vector.id, '1614265331'), vector.body, 'invalid'],
    ['a v2 signature only', headersOf(vector.signature.replace('v1,', 'v2,')), vector.body, 'invalid'],
    ['a non-numeric timestamp', headersOf(vector.signature, vector.id, 'soon'), vector.body, 'invalid'],
    [
      'no signature header',
      { 'webhook-id': vector.id, 'webhook-timestamp': '1614265330' },
      vector.body,
      'missing',
    ],
  ])('reports %s', (_what, headers, body, expected) => {
    expect(verifyWebhookSignature(vector.secret, headers, body, { now: at })).toBe(expected);
  });

  it('accepts one valid signature among several (key rotation) and mixed-case header names', () => {
    const headers = {
      'Webhook-Id': vector.id,
      'Webhook-Timestamp': String(vector.timestamp),
      'Webhook-Signature': `v1,AAAA ${vector.signature}`,
    };
    expect(verifyWebhookSignature(vector.secret, headers, Buffer.from(vector.body), { now: at })).toBe(
      'valid',
    );
  });

  it('reports an old or future timestamp as expired', () => {
    const headers = headersOf(vector.signature);
    expect(verifyWebhookSignature(vector.secret, headers, vector.body, { now: at + 301_000 })).toBe(
      'expired',
    );
    expect(verifyWebhookSignature(vector.secret, headers, vector.body, { now: at - 301_000 })).toBe(
      'expired',
    );
    expect(
      verifyWebhookSignature(vector.secret, headers, vector.body, {
        now: at + 3_600_000,
        toleranceSeconds: 7200,
      }),
    ).toBe('valid');
  });
});
