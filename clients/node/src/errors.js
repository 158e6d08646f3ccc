// Error codes and the error class shared by every part of the client.

/**
 * The daemon's error codes: a closed set (docs/protocol.md, "Error codes"). A name never
 * changes meaning; a new one only comes with a new protocol version.
 */
export const ErrorCode = Object.freeze({
  BAD_FRAME: 'bad_frame',
  BAD_REQUEST: 'bad_request',
  UNSUPPORTED_VERSION: 'unsupported_version',
  UNKNOWN_OP: 'unknown_op',
  UNKNOWN_PROFILE: 'unknown_profile',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not_found',
  TOO_MANY_SESSIONS: 'too_many_sessions',
  RATE_LIMITED: 'rate_limited',
  SPAWN_FAILED: 'spawn_failed',
  INTERNAL: 'internal',
});

/**
 * Codes this library raises itself, for conditions the daemon never reports. They never
 * collide with a daemon code, so `err.code` alone says which side failed.
 */
export const ClientErrorCode = Object.freeze({
  TIMEOUT: 'timeout',
  CONNECTION_LOST: 'connection_lost',
  CLOSED: 'closed',
  INVALID_ARGUMENT: 'invalid_argument',
  PROTOCOL: 'protocol_violation',
});

const DAEMON_CODES = new Set(Object.values(ErrorCode));

export class CcjailError extends Error {
  /**
   * @param {string} code one of ErrorCode or ClientErrorCode
   * @param {string} message
   * @param {{field?: string, report?: object, cause?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'CcjailError';
    this.code = code;
    this.field = extra.field;
    this.report = extra.report;
    this.fromDaemon = DAEMON_CODES.has(code);
  }
}

// The daemon starts a bad_request message with the offending field's JSON pointer
// ("/argv/3: contains NUL"); that pointer is the only machine-readable hint of the field.
const FIELD_POINTER = /^(\/[^\s:]*):\s/;

/** Builds a CcjailError from a daemon `error` object (a failed response or an error event). */
export function errorFromDaemon(error) {
  const code = typeof error?.code === 'string' ? error.code : ErrorCode.INTERNAL;
  const message = typeof error?.message === 'string' ? error.message : code;
  const match = FIELD_POINTER.exec(message);
  return new CcjailError(code, message, {
    field: match ? match[1] : undefined,
    report: error?.report,
  });
}
