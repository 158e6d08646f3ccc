// The wire format of docs/protocol.md: 12-byte headers, JSON control payloads, raw data.

import { CcjailError, ClientErrorCode } from './errors.js';

export const FrameType = Object.freeze({
  REQ: 1,
  RES: 2,
  EVT: 3,
  OUT: 4,
  ERR: 5,
  IN: 6,
  EOF: 7,
  CREDIT: 8,
});

export const HEADER_BYTES = 12;
export const PROTOCOL_VERSION = 1;
// The daemon announces its own maximum in `hello`; until then (and as a ceiling that keeps a
// broken peer from making us buffer gigabytes) we accept what the C++ client accepts.
export const MAX_ACCEPTED_PAYLOAD = 16 * 1024 * 1024;
export const MAX_CREDIT = 0xffffffff;

/** Encodes one frame. `payload` is a Buffer (data), an object (JSON) or undefined (empty). */
export function encodeFrame(type, channel, payload) {
  let body = payload;
  if (body === undefined) {
    body = Buffer.alloc(0);
  } else if (!Buffer.isBuffer(body)) {
    body = Buffer.from(JSON.stringify(body), 'utf8');
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(body.length, 0);
  header[4] = type;
  header.writeUInt32BE(channel >>> 0, 8);
  return body.length === 0 ? header : Buffer.concat([header, body], HEADER_BYTES + body.length);
}

export function creditFrame(channel, bytes) {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(bytes >>> 0, 0);
  return encodeFrame(FrameType.CREDIT, channel, payload);
}

function headerProblem(type, flags, reserved, length, maxPayload) {
  if (type < FrameType.REQ || type > FrameType.CREDIT) return `unknown frame type ${type}`;
  if (flags !== 0) return `non-zero flags ${flags}`;
  if (reserved !== 0) return `non-zero reserved field ${reserved}`;
  if (length > maxPayload) return `payload of ${length} bytes over the maximum ${maxPayload}`;
  if (type === FrameType.CREDIT && length !== 4) return `CREDIT payload of ${length} bytes`;
  if (type === FrameType.EOF && length !== 0) return `EOF payload of ${length} bytes`;
  return null;
}

/**
 * Splits a byte stream into frames. It keeps the chunks it was given and copies only when a
 * frame straddles them, so a 100 MB stream costs no quadratic re-concatenation. After a bad
 * header it refuses everything: nothing later on the stream can be trusted.
 */
export class FrameDecoder {
  constructor(maxPayload = MAX_ACCEPTED_PAYLOAD) {
    this.maxPayload = maxPayload;
    this.chunks = [];
    this.buffered = 0;
    this.failed = null;
    this.header = null;
  }

  /** Adds bytes; returns the frames they complete. Throws CcjailError on a bad header. */
  push(chunk) {
    if (this.failed) throw this.failed;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames = [];
    for (;;) {
      if (this.header === null) {
        if (this.buffered < HEADER_BYTES) break;
        this.header = this.parseHeader(this.take(HEADER_BYTES));
      }
      if (this.buffered < this.header.length) break;
      const { type, channel, length } = this.header;
      frames.push({ type, channel, payload: this.take(length) });
      this.header = null;
    }
    return frames;
  }

  parseHeader(bytes) {
    const length = bytes.readUInt32BE(0);
    const type = bytes[4];
    const problem = headerProblem(type, bytes[5], bytes.readUInt16BE(6), length, this.maxPayload);
    if (problem) {
      this.failed = new CcjailError(ClientErrorCode.PROTOCOL, `bad frame from the daemon: ${problem}`);
      throw this.failed;
    }
    return { type, length, channel: bytes.readUInt32BE(8) };
  }

  take(count) {
    if (count === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    if (first.length >= count) {
      const out = first.subarray(0, count);
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      this.buffered -= count;
      return out;
    }
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const head = this.chunks[0];
      const n = Math.min(head.length, count - filled);
      head.copy(out, filled, 0, n);
      filled += n;
      if (n === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(n);
    }
    this.buffered -= count;
    return out;
  }
}

/** Parses a control payload; throws CcjailError when the daemon sent something unreadable. */
export function parseControl(payload) {
  let value;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new CcjailError(ClientErrorCode.PROTOCOL, 'the daemon sent invalid JSON', { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CcjailError(ClientErrorCode.PROTOCOL, 'the daemon sent a JSON value that is not an object');
  }
  return value;
}
