// Flow control end to end: stdout backpressure through CREDIT into a slow consumer, and stdin
// backpressure from the daemon's IN credit.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { DAEMON_PID, NO_DAEMON, collect, connectTest, exitOf, sha256, user, vmRssBytes } from './helpers.js';

const MiB = 1024 * 1024;

/** Hashes what it gets, and pauses 5 ms after every 256 KiB: slower than the jail writes. */
function slowHashingSink() {
  const hash = createHash('sha256');
  let sinceRest = 0;
  const sink = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk, _encoding, callback) {
      hash.update(chunk);
      sink.bytes += chunk.length;
      sinceRest += chunk.length;
      if (sinceRest < 256 * 1024) {
        callback();
        return;
      }
      sinceRest = 0;
      setTimeout(callback, 5);
    },
  });
  sink.bytes = 0;
  sink.digest = () => hash.digest('hex');
  return sink;
}

describe('flow control', { skip: NO_DAEMON }, () => {
  let supervisor;
  before(async () => {
    supervisor = await connectTest();
  });
  after(async () => {
    await supervisor?.close();
  });

  test('100 MB through stdout into a slow consumer: intact, and the daemon stays small', async (t) => {
    const total = 100 * MiB;
    const window = 256 * 1024;
    const highWaterMark = 64 * 1024;
    const rssBefore = vmRssBytes(DAEMON_PID);
    const session = await supervisor.spawn({
      profile: 'nodetest-fast', user: user('flood'), mode: 'pipe', creditWindow: window, highWaterMark,
      // The program hashes exactly what it writes; the hash comes back on stderr. A pipeline,
      // not `tee >(sha256sum)`: bash does not wait for a process substitution, and the jail
      // ends with its main program, so the hash could be killed unprinted (a CI flake).
      argv: ['bash', '-c', `{ head -c ${total} /dev/urandom | tee /dev/fd/3 | sha256sum >&2; } 3>&1`],
    });
    let rssPeak = rssBefore;
    let bufferedPeak = 0;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, vmRssBytes(DAEMON_PID));
      bufferedPeak = Math.max(bufferedPeak, session.stdout.readableLength);
    }, 50);
    const stderr = collect(session.stderr);
    const sink = slowHashingSink();
    const started = Date.now();
    try {
      await pipeline(session.stdout, sink);
    } finally {
      clearInterval(sampler);
    }
    const exit = await exitOf(session);
    const written = (await stderr).toString().split(' ')[0];
    assert.equal(exit.report.status, 'exited');
    assert.equal(sink.bytes, total);
    assert.match(written, /^[0-9a-f]{64}$/);
    assert.equal(sink.digest(), written, 'the bytes received are the bytes written');
    const growth = rssPeak - rssBefore;
    t.diagnostic(`daemon RSS growth ${(growth / MiB).toFixed(1)} MiB; client buffered at most ${bufferedPeak} bytes; ${Date.now() - started} ms`);
    assert.ok(growth < 64 * MiB, `the daemon grew by ${(growth / MiB).toFixed(1)} MiB`);
    assert.ok(bufferedPeak <= highWaterMark + window, `the client buffered ${bufferedPeak} bytes`);
    // Informational: the run is slow because the sink is, which is the point.
    assert.ok(Date.now() - started > 1000);
  });

  test('stdin backpressure: write() returns false, drain follows the daemon\'s credit, all bytes arrive', async () => {
    const total = 4 * MiB;
    const chunk = 16 * 1024;
    const data = Buffer.alloc(total);
    for (let i = 0; i < total; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    const session = await supervisor.spawn({
      profile: 'minimal', user: user('stdin'), mode: 'pipe', stdinHighWaterMark: 64 * 1024,
      // Reads nothing for 3 s: the pipe fills and the daemon stops granting IN credit.
      argv: ['bash', '-c', 'sleep 3; sha256sum'],
    });
    const out = collect(session.stdout);
    session.stderr.resume();
    let refusals = 0;
    let drains = 0;
    let firstDrainWait = 0;
    const started = Date.now();
    // bytes_in sampled twice while the program sleeps: the input must stand still.
    const accepted = [];
    const probe = (async () => {
      await sleep(2000);
      accepted.push((await session.inspect()).bytes_in);
      await sleep(500);
      accepted.push((await session.inspect()).bytes_in);
    })();
    for (let at = 0; at < total; at += chunk) {
      if (!session.stdin.write(data.subarray(at, at + chunk))) {
        refusals += 1;
        const waitStart = Date.now();
        await new Promise((resolve) => session.stdin.once('drain', resolve));
        drains += 1;
        firstDrainWait = Math.max(firstDrainWait, Date.now() - waitStart);
      }
    }
    session.stdin.end();
    const result = (await out).toString();
    await probe;
    const exit = await exitOf(session);
    assert.equal(exit.exitCode, 0);
    assert.equal(result, `${sha256(data)}  -\n`);
    assert.ok(refusals > 0, 'write() returned false');
    assert.equal(drains, refusals);
    assert.ok(firstDrainWait >= 500, `a drain waited for the program to read (${firstDrainWait} ms)`);
    assert.ok(accepted[0] < total, `the daemon took ${accepted[0]} bytes before the program read`);
    assert.ok(accepted[1] - accepted[0] < 64 * 1024, `input went on while the program slept: ${accepted}`);
    assert.ok(Date.now() - started >= 3000);
  });
});
