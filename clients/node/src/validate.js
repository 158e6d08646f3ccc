// Client-side checks of values that end up in a request: they mirror the daemon's own limits
// (docs/protocol.md, "Spawn validation") so a mistake fails early with the field named, and
// never travels as a half-understood request.

import { CcjailError, ClientErrorCode } from './errors.js';

export const ARGV_LIMITS = Object.freeze({
  maxArgs: 4096,
  maxArgBytes: 128 * 1024,
  maxTotalBytes: 1024 * 1024,
});

export function invalid(field, message) {
  return new CcjailError(ClientErrorCode.INVALID_ARGUMENT, `${field}: ${message}`, { field });
}

/** Checks an argv array as data: strings only, no NUL, the daemon's size caps. */
export function checkArgv(argv, field = '/argv', limits = ARGV_LIMITS) {
  if (!Array.isArray(argv)) throw invalid(field, 'must be an array of strings');
  if (argv.length > limits.maxArgs) throw invalid(field, `more than ${limits.maxArgs} arguments`);
  let total = 0;
  argv.forEach((arg, i) => {
    if (typeof arg !== 'string') throw invalid(`${field}/${i}`, 'must be a string');
    if (arg.includes('\0')) throw invalid(`${field}/${i}`, 'contains NUL');
    const bytes = Buffer.byteLength(arg, 'utf8');
    if (bytes > limits.maxArgBytes) throw invalid(`${field}/${i}`, `longer than ${limits.maxArgBytes} bytes`);
    total += bytes;
  });
  if (total > limits.maxTotalBytes) throw invalid(field, `more than ${limits.maxTotalBytes} bytes in all`);
  return argv;
}

export function checkSize(value, field) {
  if (!Number.isInteger(value) || value < 1 || value > 1000) throw invalid(field, 'must be an integer 1..1000');
  return value;
}

const SESSION_ID = /^[0-9a-f]{16}$/;

export function checkSessionId(id) {
  if (typeof id !== 'string' || !SESSION_ID.test(id)) throw invalid('/session', 'must be 16 lowercase hex digits');
  return id;
}

export function toBuffer(data, field = 'data') {
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw invalid(field, 'must be a string, Buffer or Uint8Array');
}
