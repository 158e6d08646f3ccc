// @ccjail/client: a Node client for the ccjaild supervisor (docs/protocol.md).

export { connect, Supervisor, DEFAULT_SOCKET } from './supervisor.js';
export { Session, DEFAULT_CREDIT_WINDOW } from './session.js';
export { CcjailError, ErrorCode, ClientErrorCode } from './errors.js';
export { ExitStatus, exitCodeOf } from './exit.js';
export { FrameType, PROTOCOL_VERSION, encodeFrame, FrameDecoder } from './frame.js';
export { asSdkSpawner } from './sdk.js';
