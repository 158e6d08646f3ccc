// The daemon is SIGKILLed and restarted mid-session: the client reconnects, re-attaches from
// the last offset it delivered, never re-spawns, and the output arrives intact.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { connect } from '../src/index.js';
import { NO_DAEMON, PrivateDaemon, collect, exitOf, user, withTimeout } from './helpers.js';

describe('reconnect', { skip: NO_DAEMON }, () => {
  let daemon;
  before(async () => {
    daemon = new PrivateDaemon('reconnect');
    await daemon.start();
  });
  after(async () => {
    await daemon?.stop();
    daemon?.remove();
  });

  test('SIGKILL and restart mid-session: the session goes on, output intact, nothing re-spawned', async () => {
    const supervisor = await connect({
      socketPath: daemon.socket,
      requestTimeoutMs: 20000,
      reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
    });
    const events = [];
    supervisor.on('disconnect', (e) => events.push(['disconnect', e.code]));
    supervisor.on('reconnect', (r) => events.push(['reconnect', r.sessions]));
    const lines = 600;
    const session = await supervisor.spawn({
      profile: 'minimal', user: user('reco'), mode: 'pipe',
      argv: ['bash', '-c', `for i in $(seq 1 ${lines}); do echo line-$i; sleep 0.005; done; read -r tail; echo "tail=$tail"`],
    });
    const pid = session.pid;
    const drops = [];
    session.on('dropped', (d) => drops.push(d));
    const reattached = new Promise((resolve) => session.once('reconnect', resolve));
    const output = collect(session.stdout);
    session.stderr.resume();

    await sleep(800);
    const before = session.offsets.out;
    assert.ok(before > 0, 'output flowed before the crash');
    await daemon.kill('SIGKILL');
    await sleep(300);
    // Asked while the daemon is down: waits for the reconnect instead of failing.
    const inspected = session.inspect();
    session.write('written-while-down\n');
    await daemon.start();
    await withTimeout(reattached, 20000, 're-attach');
    const info = await inspected;
    assert.equal(info.session, session.id);

    const text = (await withTimeout(output, 30000, 'output')).toString();
    const exit = await exitOf(session);
    const expected = Array.from({ length: lines }, (_, i) => `line-${i + 1}\n`).join('') + 'tail=written-while-down\n';
    assert.equal(text, expected);
    assert.equal(exit.report.status, 'exited');
    assert.equal(session.pid, pid);
    assert.deepEqual(drops, []);
    assert.deepEqual(events, [['disconnect', 'connection_lost'], ['reconnect', 1]]);
    const spawns = daemon.log().split('\n').filter((l) => l.includes('"event":"spawn_requested"'));
    assert.equal(spawns.length, 1, 'spawned once, never again');
    assert.match(daemon.log(), /"event":"attach".*"from_offset":[1-9]/);
    await supervisor.close();
  });
});
