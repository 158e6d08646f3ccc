// The example server's building blocks on their own: token checks, the output window, the
// token bucket and the configuration rules. No browser or daemon needed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { AuthError, issueToken, verifyToken } from '../../clients/node/examples/web-terminal/lib/auth.js';
import { ConfigError, loadConfig } from '../../clients/node/examples/web-terminal/lib/config.js';
import { OutputWindow } from '../../clients/node/examples/web-terminal/lib/output-window.js';
import { TokenBucket } from '../../clients/node/examples/web-terminal/lib/token-bucket.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const auth = {
  secret: SECRET,
  issuer: 'ccjail-web-terminal',
  audience: 'ccjail-web-terminal',
  tokenTtlSeconds: 300,
  maxTokenTtlSeconds: 900,
  clockToleranceSeconds: 5,
};

const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
function sign(claims, { secret = SECRET, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const body = `${b64url(header)}.${b64url(claims)}`;
  return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`;
}
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra = {}) => ({ sub: 'alice', iss: auth.issuer, aud: auth.audience, iat: now(), exp: now() + 60, ...extra });

describe('tokens', () => {
  test('an issued token verifies to its user label', () => {
    assert.equal(verifyToken(auth, issueToken(auth, 'alice')), 'alice');
  });

  test('the generator refuses bad labels and long lifetimes', () => {
    assert.throws(() => issueToken(auth, 'Alice'), AuthError);
    assert.throws(() => issueToken(auth, 'a/b'), AuthError);
    assert.throws(() => issueToken(auth, 'alice', 3600), AuthError);
  });

  const refused = {
    'missing': undefined,
    'not a string': 42,
    'expired beyond the tolerance': sign(claims({ iat: now() - 120, exp: now() - 60 })),
    'without exp': sign(claims({ exp: undefined })),
    'living longer than the server allows': sign(claims({ exp: now() + 3600 })),
    'issued long ago': sign(claims({ iat: now() - 2000, exp: now() + 60 })),
    'signed with another secret': sign(claims(), { secret: 'another-secret-another-secret-another' }),
    'alg none': `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`,
    'HS512': (() => {
      const body = `${b64url({ alg: 'HS512', typ: 'JWT' })}.${b64url(claims())}`;
      return `${body}.${crypto.createHmac('sha512', SECRET).update(body).digest('base64url')}`;
    })(),
    'for another audience': sign(claims({ aud: 'something-else' })),
    'from another issuer': sign(claims({ iss: 'someone' })),
    'with a sub that is no label': sign(claims({ sub: '../../etc' })),
    'with an upper-case sub': sign(claims({ sub: 'Alice' })),
    'without sub': sign(claims({ sub: undefined })),
    'huge': 'x'.repeat(5000),
  };
  for (const [name, token] of Object.entries(refused)) {
    test(`refused: ${name}`, () => assert.throws(() => verifyToken(auth, token), AuthError));
  }

  test('expired within the clock tolerance is still accepted', () => {
    assert.equal(verifyToken(auth, sign(claims({ iat: now() - 62, exp: now() - 2 }))), 'alice');
  });
});

describe('the output window', () => {
  function windowWithLog(highWater) {
    const calls = [];
    const w = new OutputWindow({ highWater, pause: () => calls.push('pause'), resume: () => calls.push('resume') });
    return { w, calls };
  }

  test('pauses above the high water mark and resumes at half of it', () => {
    const { w, calls } = windowWithLog(100);
    const s1 = w.sent(60);
    w.sent(30);
    assert.deepEqual(calls, []);
    const s3 = w.sent(20);
    assert.deepEqual(calls, ['pause']);
    assert.equal(w.unacked, 110);
    w.acked(s1);
    assert.equal(w.unacked, 50);
    assert.deepEqual(calls, ['pause', 'resume']);
    w.acked(s3);
    assert.equal(w.unacked, 0);
    assert.equal(w.paused, false);
  });

  test('acknowledgements are cumulative and pause only once', () => {
    const { w, calls } = windowWithLog(10);
    let last;
    for (let i = 0; i < 5; i++) last = w.sent(10);
    assert.deepEqual(calls, ['pause']);
    assert.equal(w.acked(last), true);
    assert.equal(w.unacked, 0);
    assert.deepEqual(calls, ['pause', 'resume']);
  });

  test('refuses sequence numbers it never sent', () => {
    const { w } = windowWithLog(10);
    w.sent(5);
    for (const bad of [0, 2, -1, 1.5, '1', null, Number.MAX_SAFE_INTEGER + 2]) {
      assert.equal(w.acked(bad), false, String(bad));
    }
    assert.equal(w.unacked, 5);
  });
});

describe('the token bucket', () => {
  test('allows the burst, then the rate', () => {
    let t = 0;
    const b = new TokenBucket({ rate: 10, burst: 3 }, () => t);
    assert.equal(b.take(), true);
    assert.equal(b.take(), true);
    assert.equal(b.take(), true);
    assert.equal(b.take(), false);
    t += 100; // 0.1 s at 10/s: one token
    assert.equal(b.take(), true);
    assert.equal(b.take(), false);
    t += 10000; // never more than the burst
    assert.equal(b.take(3), true);
    assert.equal(b.take(), false);
  });
});

describe('the configuration', () => {
  const env = { WEB_TERMINAL_JWT_SECRET: SECRET };

  test('needs an origin allowlist without wildcards', () => {
    assert.throws(() => loadConfig({ env }), ConfigError);
    for (const bad of ['*', 'null', 'http://a.example/path', 'not a url']) {
      assert.throws(() => loadConfig({ env: { ...env, WEB_TERMINAL_ORIGINS: bad } }), ConfigError, bad);
    }
    const cfg = loadConfig({ env: { ...env, WEB_TERMINAL_ORIGINS: 'https://term.example, http://127.0.0.1:8080' } });
    assert.deepEqual(cfg.allowed_origins, ['https://term.example', 'http://127.0.0.1:8080']);
    assert.equal(cfg.profile, 'shell');
  });

  test('needs a secret of at least 32 bytes', () => {
    const origins = { WEB_TERMINAL_ORIGINS: 'https://term.example' };
    assert.throws(() => loadConfig({ env: origins }), ConfigError);
    assert.throws(() => loadConfig({ env: { ...origins, WEB_TERMINAL_JWT_SECRET: 'short' } }), ConfigError);
  });
});
