// The frame codec on its own (no daemon): the byte layout of docs/protocol.md, streams split
// anywhere, and every header rule.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { CcjailError, FrameDecoder, FrameType, encodeFrame } from '../src/index.js';
import { exitCodeOf } from '../src/exit.js';

describe('frames', () => {
  test("the protocol page's OUT example, byte for byte", () => {
    const frame = encodeFrame(FrameType.OUT, 0x01020304, Buffer.from('abcde'));
    assert.equal(frame.toString('hex'), '000000050400000001020304' + Buffer.from('abcde').toString('hex'));
  });

  test("the protocol page's hello request, byte for byte", () => {
    const frame = encodeFrame(FrameType.REQ, 0, { id: 1, op: 'hello', version: 1, client: 'demo' });
    assert.equal(frame.subarray(0, 12).toString('hex'), '000000310100000000000000');
    assert.equal(frame.subarray(12).toString(), '{"id":1,"op":"hello","version":1,"client":"demo"}');
  });

  test('frames split at every byte, and several in one chunk, decode the same', () => {
    const stream = Buffer.concat([
      encodeFrame(FrameType.RES, 0, { id: 7, ok: true }),
      encodeFrame(FrameType.OUT, 3, Buffer.from('hello')),
      encodeFrame(FrameType.EOF, 3),
      encodeFrame(FrameType.CREDIT, 3, Buffer.from([0, 0, 1, 0])),
    ]);
    const whole = new FrameDecoder().push(stream);
    const decoder = new FrameDecoder();
    const split = [];
    for (let i = 0; i < stream.length; i++) split.push(...decoder.push(stream.subarray(i, i + 1)));
    assert.deepEqual(split, whole);
    assert.deepEqual(whole.map((f) => [f.type, f.channel, f.payload.length]), [[2, 0, 18], [4, 3, 5], [7, 3, 0], [8, 3, 4]]);
    assert.equal(whole[1].payload.toString(), 'hello');
  });

  for (const [name, header] of [
    ['type 0', '000000000000000000000000'],
    ['type 9', '000000000900000000000000'],
    ['non-zero flags', '000000000401000000000001'],
    ['non-zero reserved', '000000000400000100000001'],
    ['CREDIT of 3 bytes', '000000030800000000000001'],
    ['EOF with a payload', '000000010700000000000001'],
    ['a payload over the maximum', 'ffffffff0400000000000001'],
  ]) {
    test(`a header with ${name} is refused at once, and so is everything after it`, () => {
      const decoder = new FrameDecoder();
      assert.throws(() => decoder.push(Buffer.from(header, 'hex')), (e) => e instanceof CcjailError && e.code === 'protocol_violation');
      assert.throws(() => decoder.push(encodeFrame(FrameType.EOF, 1)), CcjailError);
    });
  }

  test('exit codes follow ccjailctl', () => {
    assert.equal(exitCodeOf({ status: 'exited', exit_code: 3 }), 3);
    assert.equal(exitCodeOf({ status: 'signaled', signal: 15 }), 143);
    assert.equal(exitCodeOf({ status: 'oom' }), 137);
    assert.equal(exitCodeOf({ status: 'setup_failed' }), 125);
  });
});
