// Spawn, echo, resize, list/inspect/metrics and kill against the real ccjaild.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ExitStatus } from '../src/index.js';
import { NO_DAEMON, collect, connectTest, exitOf, user, waitForOutput } from './helpers.js';

describe('sessions', { skip: NO_DAEMON }, () => {
  let supervisor;
  before(async () => {
    supervisor = await connectTest();
  });
  after(async () => {
    await supervisor?.close();
  });

  test('hello: the daemon speaks version 1 and sees root as admin', () => {
    assert.equal(supervisor.hello.version, 1);
    assert.equal(supervisor.hello.role, 'admin');
    assert.equal(supervisor.hello.uid, 0);
    assert.match(supervisor.hello.daemon, /^ccjaild /);
  });

  test('pty mode: what is typed is echoed and run by the jailed shell', async () => {
    const session = await supervisor.spawn({ profile: 'shell', user: user('pty'), cols: 100, rows: 30 });
    assert.match(session.id, /^[0-9a-f]{16}$/);
    assert.ok(session.pid > 1, 'a host pid');
    assert.equal(session.mode, 'pty');
    assert.equal(session.cols, 100);
    session.write('echo hello-$((6*7)); id -u\r');
    const text = await waitForOutput(session, /hello-42\r\n(\d+)\r\n/);
    const uid = Number(/hello-42\r\n(\d+)\r\n/.exec(text)[1]);
    assert.ok(uid >= 200000 && uid < 300000, `the shell profile's uid range, got ${uid}`);
    session.write('exit 3\r');
    const exit = await exitOf(session);
    assert.equal(exit.exitCode, 3);
    assert.equal(exit.report.status, ExitStatus.EXITED);
    assert.equal(session.state, 'exited');
  });

  test('pipe mode: stdin to stdout, stderr apart, exit code', async () => {
    const session = await supervisor.spawn({
      profile: 'minimal',
      user: user('pipe'),
      mode: 'pipe',
      argv: ['bash', '-c', 'tr a-z A-Z; echo to-stderr >&2; exit 7'],
    });
    assert.equal(session.mode, 'pipe');
    const out = collect(session.stdout);
    const err = collect(session.stderr);
    session.stdin.end('hello pipe\n');
    assert.equal((await out).toString(), 'HELLO PIPE\n');
    assert.equal((await err).toString(), 'to-stderr\n');
    const exit = await exitOf(session);
    assert.equal(exit.exitCode, 7);
    assert.equal(exit.report.status, 'exited');
    assert.equal(exit.report.exit_code, 7);
  });

  test("close fires after exit and both streams ended, with ChildProcess's arguments", async () => {
    const session = await supervisor.spawn({
      profile: 'minimal', user: user('close'), mode: 'pipe', argv: ['bash', '-c', 'echo out; exit 4'],
    });
    session.stdout.resume();
    session.stderr.resume();
    const [code, signal] = await new Promise((resolve) => session.once('close', (...args) => resolve(args)));
    assert.equal(code, 4);
    assert.equal(signal, null);
  });

  test('resize reaches the program (stty size)', async () => {
    const session = await supervisor.spawn({ profile: 'shell', user: user('resize'), cols: 90, rows: 20 });
    session.write('stty size\r');
    await waitForOutput(session, /[\r\n]20 90\r\n/);
    await session.resize(132, 43);
    assert.equal(session.cols, 132);
    assert.equal(session.rows, 43);
    session.write('stty size\r');
    await waitForOutput(session, /[\r\n]43 132\r\n/);
    await session.kill();
    await exitOf(session);
  });

  test('list, inspect and metrics see the session', async () => {
    const label = user('list');
    const session = await supervisor.spawn({ profile: 'minimal', user: label, mode: 'pipe', argv: ['sleep', '30'] });
    const listed = (await supervisor.list()).find((s) => s.session === session.id);
    assert.ok(listed, 'listed');
    assert.equal(listed.user, label);
    assert.equal(listed.profile, 'minimal');
    assert.equal(listed.state, 'running');
    assert.equal(listed.pid, session.pid);
    const info = await session.inspect();
    assert.equal(info.session, session.id);
    assert.equal(info.mode, 'pipe');
    assert.ok(info.attached >= 1);
    const same = await supervisor.inspect(session.id);
    assert.equal(same.monitor_pid, info.monitor_pid);
    const metrics = await supervisor.metrics();
    assert.match(metrics, /^ccjail_sessions_active\{profile="minimal"\} [1-9]/m);
    await supervisor.kill(session.id, { graceMs: 0 });
    const exit = await exitOf(session);
    assert.equal(exit.report.status, ExitStatus.KILLED);
    assert.equal(exit.exitCode, 137);
  });

  test('kill(): SIGTERM first, the cgroup after the grace; an ignored TERM still ends as killed', async () => {
    const session = await supervisor.spawn({
      profile: 'minimal', user: user('kill'), mode: 'pipe',
      argv: ['bash', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done'],
    });
    await waitForOutput(session, /ready/);
    const started = Date.now();
    await session.kill(undefined, { graceMs: 800 });
    const exit = await exitOf(session);
    assert.equal(exit.report.status, ExitStatus.KILLED);
    assert.ok(Date.now() - started >= 700, 'the grace period was waited for');
  });

  test('a signal by name reaches the program: signaled, 128 + number', async () => {
    const session = await supervisor.spawn({
      profile: 'minimal', user: user('sig'), mode: 'pipe', argv: ['bash', '-c', 'echo ready; exec sleep 30'],
    });
    await waitForOutput(session, /ready/);
    await session.kill('SIGINT');
    const exit = await exitOf(session);
    assert.equal(exit.report.status, ExitStatus.SIGNALED);
    assert.equal(exit.signal, 2);
    assert.equal(exit.exitCode, 130);
  });

  test('oom: a memory balloon over the profile limit ends as oom', async () => {
    const session = await supervisor.spawn({
      profile: 'nodetest-oom', user: user('oom'), mode: 'pipe',
      argv: ['bash', '-c', 'x=$(head -c 200000000 /dev/zero | tr "\\0" x); echo survived ${#x}'],
    });
    session.stdout.resume();
    session.stderr.resume();
    const exit = await exitOf(session);
    assert.equal(exit.report.status, ExitStatus.OOM, JSON.stringify(exit.report));
    assert.ok(exit.report.oom_kills >= 1);
    assert.equal(exit.exitCode, 137);
  });

  test('pause() stops the credit: the daemon sends at most the window, then all bytes arrive', async () => {
    const window = 128 * 1024;
    const highWaterMark = 16 * 1024;
    const session = await supervisor.spawn({
      profile: 'nodetest-fast', user: user('pause'), mode: 'pty', creditWindow: window, highWaterMark,
      argv: ['bash', '-c', 'stty -opost; head -c 2000000 /dev/zero | tr "\\0" a; sleep 0.2'],
    });
    session.pause();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // What a paused client holds: the window in flight plus what its Readable took in.
    assert.ok(session.offsets.out <= window + highWaterMark, `received ${session.offsets.out} while paused`);
    assert.ok(session.offsets.out >= window / 2, `received ${session.offsets.out}: the window was used`);
    assert.equal(session.state, 'running', 'the program waits for the client');
    let received = 0;
    session.onData((text) => {
      assert.match(text, /^a+$/);
      received += Buffer.byteLength(text);
    });
    session.resume();
    const exit = await exitOf(session);
    assert.equal(exit.exitCode, 0);
    assert.equal(received, 2000000);
  });

  test('attach below the ring: a dropped event with the lost byte count, then the rest', async () => {
    const label = user('drop');
    const first = await supervisor.spawn({
      profile: 'nodetest-drop', user: label, mode: 'pty',
      argv: ['bash', '-c', 'stty -opost; read -r go; head -c 2000000 /dev/zero | tr "\\0" a'],
    });
    first.write('go\r');
    await first.detach();
    assert.equal(first.state, 'detached');
    for (let i = 0; i < 100; i++) {
      const info = await supervisor.inspect(first.id);
      if (info.state !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const again = await supervisor.attach(first.id, { fromOffset: 0 });
    const drops = [];
    again.on('dropped', (d) => drops.push(d));
    const text = (await collect(again.stdout)).toString();
    const exit = await exitOf(again);
    assert.equal(exit.report.status, 'exited');
    const dropped = drops.reduce((sum, d) => sum + d.bytes, 0);
    assert.ok(dropped > 0 && drops.every((d) => d.stream === 'out'), JSON.stringify(drops));
    assert.match(text.slice(-1000), /a{1000}$/);
    assert.equal(again.offsets.out, exit.report.output_bytes);
    assert.equal(dropped + Buffer.byteLength(text), exit.report.output_bytes);
  });
});
