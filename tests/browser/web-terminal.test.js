// End-to-end test of the web-terminal example in Debian's headless Chromium against a real
// ccjaild. tests/browser/run.sh starts the daemon and the server and sets the WT_* variables.
//
// The token reaches the page in the URL fragment (#token=...), which the browser never sends
// to the server; the page moves it into the Socket.IO handshake's `auth` payload.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
  return v;
};
const URL_BASE = env('WT_URL');
const EXAMPLE_DIR = env('WT_EXAMPLE_DIR');
const SECRET_FILE = env('WT_SECRET_FILE');
const SERVER_LOG = env('WT_SERVER_LOG');
const SERVER_UID = Number(env('WT_SERVER_UID'));
const ARTIFACTS = env('WT_ARTIFACTS');
const CCJAILCTL = env('CCJAILCTL');
const SOCKET = env('CCJAIL_SOCKET');
const STATE_DIR = env('CCJAIL_STATE_DIR');

const SCREENSHOT = path.join(ARTIFACTS, 'web-terminal.png');
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ---- tokens ---------------------------------------------------------------------------------

// The valid token comes from the example's own generator, as a developer would get one.
function issueToken(user) {
  return execFileSync('node', ['server.js', '--issue-token', user], {
    cwd: EXAMPLE_DIR,
    env: { PATH: process.env.PATH, WEB_TERMINAL_JWT_SECRET_FILE: SECRET_FILE },
    encoding: 'utf8',
  }).trim();
}

// Bad tokens are signed here, independently of the server's code.
const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
function signHs256(claims, secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const body = `${b64url(header)}.${b64url(claims)}`;
  const sig = crypto.createHmac('sha256', secret).update(body).digest('base64url');
  return `${body}.${sig}`;
}
function claimsFor(user, { iat, exp }) {
  return { sub: user, iss: 'ccjail-web-terminal', aud: 'ccjail-web-terminal', iat, exp };
}
const now = () => Math.floor(Date.now() / 1000);
const secret = () => fs.readFileSync(SECRET_FILE, 'utf8').trim();

// ---- the daemon and the server's log -------------------------------------------------------

function listSessions() {
  const out = execFileSync(CCJAILCTL, ['--socket', SOCKET, 'list', '--json'], { encoding: 'utf8' });
  const parsed = JSON.parse(out);
  return Array.isArray(parsed) ? parsed : parsed.sessions;
}

function serverEvents(event) {
  return fs
    .readFileSync(SERVER_LOG, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .filter((e) => e.event === event);
}

// The uid the daemon gave the user label: shell's identity is one stable uid per label from a
// range, recorded in the daemon's state.
function jailUidOf(user) {
  const map = JSON.parse(fs.readFileSync(path.join(STATE_DIR, 'uids.json'), 'utf8'));
  const entry = map.users?.[user] ?? map[user];
  return typeof entry === 'object' ? entry.uid : entry;
}

async function until(what, fn, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

// ---- the page ------------------------------------------------------------------------------

let context;
let userDataDir;

before(async () => {
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccjail-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1000, height: 600 },
  });
});

after(async () => {
  await context?.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
});

async function openPage(token) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(token === undefined ? `${URL_BASE}/` : `${URL_BASE}/#token=${token}`);
  return { page, errors };
}

const state = (page) => page.evaluate(() => document.body.dataset.state);

function terminalText(page) {
  return page.evaluate(() => {
    const buf = window.webTerminal.term.buffer.active;
    const lines = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i).translateToString(true));
    return lines.join('\n');
  });
}

async function waitForPrompt(page) {
  await until('the ready state', async () => (await state(page)) === 'ready');
  return until('the shell prompt', async () => /\$ $/m.test(await terminalText(page)));
}

async function typeLine(page, text) {
  await page.click('#terminal');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

// ---- tests ---------------------------------------------------------------------------------

describe('the page', () => {
  test('is served with the security headers and without a CDN', async () => {
    const res = await fetch(`${URL_BASE}/`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-powered-by'), null);
    const html = await res.text();
    assert.doesNotMatch(html, /https?:\/\//, 'every asset comes from this origin');
    for (const asset of ['/vendor/xterm/xterm.mjs', '/vendor/xterm/xterm.css', '/vendor/addon-fit/addon-fit.mjs', '/app.js']) {
      assert.equal((await fetch(`${URL_BASE}${asset}`)).status, 200, asset);
    }
  });
});

describe('a tab with a valid token', () => {
  let page;
  let errors;
  let sessionId;

  before(async () => {
    ({ page, errors } = await openPage(issueToken('alice')));
  });

  after(async () => {
    await page?.close();
  });

  test('gets a jailed shell that runs what is typed, as the jail uid', async () => {
    await waitForPrompt(page);
    assert.equal(page.url(), `${URL_BASE}/`, 'the page removed the token from the address bar');
    await typeLine(page, 'echo hello-from-jail; id -u');
    const text = await until('the output', async () => {
      const t = await terminalText(page);
      return /^hello-from-jail$/m.test(t) && /^\d+$/m.test(t) ? t : null;
    });
    await page.screenshot({ path: SCREENSHOT });

    const uid = Number(text.match(/^(\d+)$/m)[1]);
    assert.notEqual(uid, 0, 'not root');
    assert.notEqual(uid, SERVER_UID, "not the server's uid");
    assert.equal(uid, jailUidOf('alice'), "the uid ccjaild assigned to the label 'alice'");
    assert.ok(uid >= 200000 && uid < 300000, `inside the shell profile's uid range: ${uid}`);

    const mine = listSessions().filter((s) => s.user === 'alice' && s.state === 'running');
    assert.equal(mine.length, 1, 'exactly one session for this tab');
    assert.equal(mine[0].profile, 'shell');
    sessionId = mine[0].session;
    assert.deepEqual(errors, [], 'no errors in the page (CSP included)');
  });

  test('pauses the session on unacknowledged output and delivers all of it', async () => {
    const pausesBefore = serverEvents('flow_paused').length;
    await typeLine(page, 'seq 1 60000; echo flood-done');
    await until('the end of the flood', async () => /^flood-done$/m.test(await terminalText(page)), 60000);
    const text = await terminalText(page);
    assert.match(text, /^60000$/m, 'the last line arrived');
    assert.match(text, /^59999$/m);
    assert.ok(serverEvents('flow_paused').length > pausesBefore, 'the server paused the session');
    assert.ok(serverEvents('flow_resumed').length > 0, 'and resumed it on acknowledgement');
  });

  test('follows the size of the page', async () => {
    await page.setViewportSize({ width: 700, height: 420 });
    const cols = await until('a smaller terminal', async () => {
      const c = await page.evaluate(() => window.webTerminal.term.cols);
      return c < 90 ? c : null;
    });
    await typeLine(page, 'clear; stty size');
    const rows = await page.evaluate(() => window.webTerminal.term.rows);
    await until('stty size', async () => new RegExp(`^${rows} ${cols}$`, 'm').test(await terminalText(page)));
  });

  test('drops an oversized input message and keeps the session', async () => {
    await page.evaluate(() => window.webTerminal.socket.emit('input', 'x'.repeat(20000)));
    await until('the notice', async () => /input of 20000 bytes dropped/.test(await terminalText(page)));
    await typeLine(page, 'echo still-here');
    await until('the echo', async () => /^still-here$/m.test(await terminalText(page)));
    assert.equal(await state(page), 'ready');
  });

  test('kills the session when the tab goes away', async () => {
    assert.ok(sessionId, 'the first test found the session');
    await page.close();
    page = null;
    await until('the session to end', async () => {
      const s = listSessions().find((x) => x.session === sessionId);
      return s && s.state !== 'running' && s.state !== 'starting';
    });
  });
});

describe('a tab that floods the server', () => {
  test('is disconnected by the message rate limit and its session killed', async () => {
    const { page } = await openPage(issueToken('bob'));
    try {
      await waitForPrompt(page);
      const session = listSessions().find((s) => s.user === 'bob' && s.state === 'running');
      assert.ok(session, 'bob has a session');
      await page.evaluate(() => {
        for (let i = 0; i < 1000; i++) window.webTerminal.socket.emit('resize', { cols: 80, rows: 24 });
      });
      await until('the disconnect', async () => (await state(page)) === 'closed');
      assert.ok(serverEvents('socket_refused').some((e) => e.user === 'bob' && /rate/.test(e.why)));
      await until('the session to end', async () => {
        const s = listSessions().find((x) => x.session === session.session);
        return s && s.state !== 'running';
      });
    } finally {
      await page.close();
    }
  });
});

describe('a tab without a valid token gets no session', () => {
  const cases = {
    'no token': () => undefined,
    'an expired token': () => signHs256(claimsFor('mallory', { iat: now() - 600, exp: now() - 300 }), secret()),
    'a token signed with another secret': () =>
      signHs256(claimsFor('mallory', { iat: now(), exp: now() + 300 }), 'not-the-secret-not-the-secret-not-the-secret'),
    'an unsigned (alg none) token': () =>
      `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claimsFor('mallory', { iat: now(), exp: now() + 300 }))}.`,
    'a token without exp': () => signHs256({ ...claimsFor('mallory', { iat: now() }), exp: undefined }, secret()),
    'a token whose sub is not a user label': () =>
      signHs256(claimsFor('../root', { iat: now(), exp: now() + 300 }), secret()),
  };

  for (const [name, make] of Object.entries(cases)) {
    test(name, async () => {
      const sessionsBefore = listSessions().length;
      const refusalsBefore = serverEvents('auth_refused').length;
      const { page } = await openPage(make());
      try {
        await until('the refusal', async () => (await state(page)) === 'unauthorized');
        assert.equal(await page.evaluate(() => window.webTerminal.socket.connected), false);
        assert.equal(serverEvents('auth_refused').length, refusalsBefore + 1, 'the server logged the refusal');
        // Give a spawn that should not happen the time to show up.
        await new Promise((r) => setTimeout(r, 500));
        const sessions = listSessions();
        assert.equal(sessions.length, sessionsBefore, 'no jail was spawned');
        assert.ok(!sessions.some((s) => s.user === 'mallory'));
      } finally {
        await page.close();
      }
    });
  }
});

describe('the WebSocket endpoint', () => {
  // Browsers do not apply CORS to WebSocket: the server's Origin allowlist is the only thing
  // that keeps a page of another site from opening a socket with a stolen token.
  function upgrade(origin) {
    return new Promise((resolve, reject) => {
      const req = http.request(`${URL_BASE}/socket.io/?EIO=4&transport=websocket`, {
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          Origin: origin,
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'),
        },
      });
      req.on('upgrade', (res, sock) => {
        sock.destroy();
        resolve(101);
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('refuses an origin that is not on the allowlist', async () => {
    assert.equal(await upgrade(URL_BASE), 101, 'the allowed origin upgrades');
    assert.notEqual(await upgrade('http://evil.example'), 101);
    assert.notEqual(await upgrade('null'), 101);
  });

  test('does not offer HTTP long-polling', async () => {
    const res = await fetch(`${URL_BASE}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: URL_BASE } });
    assert.notEqual(res.status, 200);
  });
});
