// asSdkSpawner drives a pipe-mode session the way the Claude Agent SDK does: stream-json lines
// in on stdin, lines out on stdout. The nodetest-sdk profile's bash script stands in for the CLI.

import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';

import { CcjailError, asSdkSpawner } from '../src/index.js';
import { NO_DAEMON, connectTest, user } from './helpers.js';

function lineReader(readable) {
  const lines = createInterface({ input: readable })[Symbol.asyncIterator]();
  return async () => {
    const { value, done } = await lines.next();
    assert.equal(done, false, 'a line');
    return JSON.parse(value);
  };
}

function exitOfChild(child) {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('Agent SDK spawner', { skip: NO_DAEMON }, () => {
  let supervisor;
  before(async () => {
    supervisor = await connectTest();
  });
  after(async () => {
    await supervisor?.close();
  });

  test('stream-json in and out; args arrive as data; exit and close like a ChildProcess', async () => {
    const spawn = asSdkSpawner(supervisor, { profile: 'nodetest-sdk', user: user('sdk'), passEnv: ['FAKE_CLAUDE_MODE'] });
    const flags = ['--output-format', 'stream-json', '--verbose', '--input-format', 'stream-json',
      '--append-system-prompt', 'two words; $(touch /tmp/pwned) `id` \'quoted\'\nsecond line'];
    const controller = new AbortController();
    const child = spawn({
      command: '/usr/bin/node',
      args: ['/host/path/to/cli.js', ...flags],
      cwd: '/host/project',
      env: { ...process.env, FAKE_CLAUDE_MODE: 'sdk-test', ANTHROPIC_API_KEY: 'sk-never-passed' },
      signal: controller.signal,
    });
    assert.equal(child.exitCode, null);
    assert.equal(child.killed, false);
    const spawned = new Promise((resolve) => child.once('spawn', resolve));
    const exited = exitOfChild(child);
    const closed = new Promise((resolve) => child.once('close', (...a) => resolve(a)));
    const next = lineReader(child.stdout);
    const stderr = [];
    child.stderr.on('data', (c) => stderr.push(c));

    // The SDK writes at once, before the process is known to run.
    const messages = [
      { type: 'user', message: { role: 'user', content: 'hello' }, session_id: '' },
      { type: 'user', message: { role: 'user', content: [{ type: 'text', text: 'ünïcödé ✓' }] } },
    ];
    child.stdin.write(`${JSON.stringify(messages[0])}\n`);

    const init = await next();
    await spawned;
    assert.ok(child.pid > 1);
    assert.equal(init.type, 'system');
    assert.equal(init.mode, 'sdk-test');
    const argv = Buffer.from(init.args_b64, 'base64').toString('utf8').split('\0').slice(0, -1);
    assert.deepEqual(argv, flags, 'the flags, as data, without the host script path');
    assert.deepEqual(await next(), { type: 'echo', n: 1, input: messages[0] });
    child.stdin.write(`${JSON.stringify(messages[1])}\n`);
    assert.deepEqual(await next(), { type: 'echo', n: 2, input: messages[1] });
    child.stdin.end();
    assert.deepEqual(await next(), { type: 'result', subtype: 'success', lines: 2 });

    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.equal(child.exitCode, 0);
    assert.equal(child.signalCode, null);
    assert.deepEqual(await closed, [0, null]);
    assert.equal(Buffer.concat(stderr).toString(), 'fake-claude-done\n');
  });

  test('the AbortSignal kills the session; kill() reports like ChildProcess', async () => {
    const spawn = asSdkSpawner(supervisor, { profile: 'nodetest-sdk', user: user('abort'), killGraceMs: 200 });
    const controller = new AbortController();
    const child = spawn({ command: 'claude', args: ['--print'], env: {}, signal: controller.signal });
    child.stderr.resume();
    const next = lineReader(child.stdout);
    assert.equal((await next()).type, 'system');
    const exited = exitOfChild(child);
    controller.abort();
    const { code, signal } = await exited;
    assert.equal(code, null);
    assert.match(signal, /^SIG[A-Z]+$/);
    assert.equal(child.killed, true);
    assert.equal(child.signalCode, signal);
    assert.equal(child.kill('SIGTERM'), false, 'nothing left to kill');
  });

  test('args are validated as data before anything is sent', () => {
    const spawn = asSdkSpawner(supervisor, { profile: 'nodetest-sdk', user: user('bad') });
    for (const args of [['--x', 'a\0b'], ['--x', 42], ['--x', 'y'.repeat(128 * 1024 + 1)]]) {
      assert.throws(() => spawn({ command: 'claude', args, env: {}, signal: new AbortController().signal }),
        (e) => e instanceof CcjailError && e.code === 'invalid_argument');
    }
  });

  test('a spawn the daemon refuses surfaces as the child\'s error event', async () => {
    const spawn = asSdkSpawner(supervisor, { profile: 'nodetest-no-such-profile', user: user('np') });
    const child = spawn({ command: 'claude', args: [], env: {}, signal: new AbortController().signal });
    const error = await new Promise((resolve) => child.once('error', resolve));
    assert.ok(error instanceof CcjailError);
    assert.equal(error.code, 'unknown_profile');
  });
});
