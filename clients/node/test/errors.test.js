// Every daemon error code a client can provoke surfaces as a CcjailError with that code.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { CcjailError, ErrorCode, FrameType, connect } from '../src/index.js';
import { NO_DAEMON, SOCKET, connectTest, exitOf, user } from './helpers.js';

const INDEX = fileURLToPath(new URL('../src/index.js', import.meta.url));

async function rejectsWith(promise, code) {
  const error = await promise.then(
    () => assert.fail(`expected ${code}, the call succeeded`),
    (e) => e,
  );
  assert.ok(error instanceof CcjailError, `a CcjailError, got ${error?.stack ?? error}`);
  assert.equal(error.code, code, error.message);
  assert.equal(error.fromDaemon, true);
  return error;
}

function nextError(emitter) {
  return new Promise((resolve) => emitter.once('error', resolve));
}

describe('daemon error codes', { skip: NO_DAEMON }, () => {
  let supervisor;
  before(async () => {
    supervisor = await connectTest();
  });
  after(async () => {
    await supervisor?.close();
  });

  test('the exported list is the closed set of docs/protocol.md', () => {
    assert.ok(Object.isFrozen(ErrorCode));
    assert.deepEqual(Object.values(ErrorCode).sort(), [
      'bad_frame', 'bad_request', 'forbidden', 'internal', 'not_found', 'rate_limited',
      'spawn_failed', 'too_many_sessions', 'unknown_op', 'unknown_profile', 'unsupported_version',
    ]);
  });

  test('bad_request names the field', async () => {
    const error = await rejectsWith(supervisor.spawn({ profile: 'minimal', user: 'Not A Label' }), ErrorCode.BAD_REQUEST);
    assert.equal(error.field, '/user');
  });

  test('bad_request as a channel error event: EOF in pty mode', async () => {
    const session = await supervisor.spawn({ profile: 'minimal', user: user('eof'), argv: ['sleep', '30'] });
    const error = nextError(session);
    supervisor.sendRawFrame(FrameType.EOF, session.channel);
    assert.equal((await error).code, ErrorCode.BAD_REQUEST);
    await session.kill('SIGKILL');
    await exitOf(session);
  });

  test('unknown_op', async () => {
    await rejectsWith(supervisor.request('frobnicate', {}), ErrorCode.UNKNOWN_OP);
  });

  test('unknown_profile', async () => {
    await rejectsWith(supervisor.spawn({ profile: 'nodetest-no-such-profile', user: user('np') }), ErrorCode.UNKNOWN_PROFILE);
  });

  test('not_found, for an id that exists nowhere', async () => {
    await rejectsWith(supervisor.inspect('0123456789abcdef'), ErrorCode.NOT_FOUND);
    await rejectsWith(supervisor.attach('0123456789abcdef'), ErrorCode.NOT_FOUND);
  });

  test('spawn_failed carries the setup_failed report with its step', async () => {
    const error = await rejectsWith(supervisor.spawn({ profile: 'nodetest-broken', user: user('broken'), argv: ['true'] }), ErrorCode.SPAWN_FAILED);
    assert.equal(error.report?.status, 'setup_failed');
    assert.equal(typeof error.report.step, 'string');
    assert.ok(error.report.step.length > 0);
  });

  test('internal, for a profile file that exists but does not load', async () => {
    await rejectsWith(supervisor.spawn({ profile: 'nodetest-unloadable', user: user('unl'), argv: ['true'] }), ErrorCode.INTERNAL);
  });

  test('too_many_sessions, beyond max_sessions_per_user (4)', async () => {
    const label = user('many');
    const sessions = [];
    try {
      for (let i = 0; i < 4; i++) {
        sessions.push(await supervisor.spawn({ profile: 'minimal', user: label, mode: 'pipe', argv: ['sleep', '30'] }));
      }
      await rejectsWith(supervisor.spawn({ profile: 'minimal', user: label, mode: 'pipe', argv: ['sleep', '30'] }), ErrorCode.TOO_MANY_SESSIONS);
    } finally {
      await Promise.all(sessions.map(async (s) => {
        await s.kill('SIGKILL');
        await exitOf(s);
      }));
    }
  });

  test('rate_limited, for IN beyond the granted credit', async () => {
    const session = await supervisor.spawn({ profile: 'minimal', user: user('rate'), mode: 'pipe', argv: ['sleep', '30'] });
    const error = nextError(session);
    // The library never exceeds its credit; raw frames do: 2 MiB at once against 256 KiB of
    // credit that comes back no faster than the 1 MiB/s input rate.
    for (let i = 0; i < 32; i++) supervisor.sendRawFrame(FrameType.IN, session.channel, Buffer.alloc(64 * 1024, 0x61));
    assert.equal((await error).code, ErrorCode.RATE_LIMITED);
    await session.kill('SIGKILL');
    await exitOf(session);
  });

  test('forbidden, for a control op on a read-only channel', async () => {
    const owner = await supervisor.spawn({ profile: 'shell', user: user('ro') });
    const watcher = await supervisor.attach(owner.id, { readOnly: true });
    await rejectsWith(watcher.resize(100, 30), ErrorCode.FORBIDDEN);
    await rejectsWith(watcher.kill(), ErrorCode.FORBIDDEN);
    await owner.kill('SIGKILL');
    await exitOf(owner);
  });

  test('forbidden, for a uid in no role (connect as nobody)', async () => {
    const script = `
      import { connect } from ${JSON.stringify(INDEX)};
      try {
        await connect({ socketPath: ${JSON.stringify(SOCKET)}, reconnect: false });
        console.log(JSON.stringify({ ok: true }));
      } catch (e) {
        console.log(JSON.stringify({ name: e.name, code: e.code }));
      }`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      uid: 65534, gid: 65534, cwd: '/',
    });
    assert.deepEqual(JSON.parse(stdout), { name: 'CcjailError', code: ErrorCode.FORBIDDEN });
  });

  test('unsupported_version, for a hello with a version the daemon does not speak', async () => {
    await rejectsWith(connect({ socketPath: SOCKET, protocolVersion: 99, reconnect: false }), ErrorCode.UNSUPPORTED_VERSION);
  });

  test('bad_frame: an unknown frame type closes the connection with that code', async () => {
    const doomed = await connectTest({ reconnect: false });
    const error = nextError(doomed);
    const closed = new Promise((resolve) => doomed.once('close', resolve));
    doomed.sendRawFrame(9, 0, Buffer.alloc(0));
    assert.equal((await error).code, ErrorCode.BAD_FRAME);
    const reason = await closed;
    assert.equal(reason.code, ErrorCode.BAD_FRAME);
    await assert.rejects(doomed.list(), (e) => e instanceof CcjailError && e.code === 'closed');
  });
});
