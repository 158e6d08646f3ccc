// Type declarations of @ccjail/client (hand-written; the package ships plain ES modules).

/// <reference types="node" />

import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';

/** The daemon's error codes: a closed set (docs/protocol.md, "Error codes"). */
export declare const ErrorCode: Readonly<{
  BAD_FRAME: 'bad_frame';
  BAD_REQUEST: 'bad_request';
  UNSUPPORTED_VERSION: 'unsupported_version';
  UNKNOWN_OP: 'unknown_op';
  UNKNOWN_PROFILE: 'unknown_profile';
  FORBIDDEN: 'forbidden';
  NOT_FOUND: 'not_found';
  TOO_MANY_SESSIONS: 'too_many_sessions';
  RATE_LIMITED: 'rate_limited';
  SPAWN_FAILED: 'spawn_failed';
  INTERNAL: 'internal';
}>;
export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes raised by this library itself; they never collide with a daemon code. */
export declare const ClientErrorCode: Readonly<{
  TIMEOUT: 'timeout';
  CONNECTION_LOST: 'connection_lost';
  CLOSED: 'closed';
  INVALID_ARGUMENT: 'invalid_argument';
  PROTOCOL: 'protocol_violation';
}>;
export type ClientErrorCodeName = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export declare class CcjailError extends Error {
  constructor(code: ErrorCodeName | ClientErrorCodeName, message: string, extra?: { field?: string; report?: ExitReport; cause?: unknown });
  readonly name: 'CcjailError';
  readonly code: ErrorCodeName | ClientErrorCodeName;
  /** The JSON pointer of the offending field, when the daemon (or the client check) names one. */
  readonly field: string | undefined;
  /** For `spawn_failed`: the exit report (status `setup_failed`, `step`, `errno`, `message`). */
  readonly report: ExitReport | undefined;
  /** True for the daemon's codes, false for ClientErrorCode. */
  readonly fromDaemon: boolean;
}

export declare const ExitStatus: Readonly<{
  EXITED: 'exited';
  SIGNALED: 'signaled';
  OOM: 'oom';
  WALL_TIMEOUT: 'wall_timeout';
  CPU_TIMEOUT: 'cpu_timeout';
  OUTPUT_LIMIT: 'output_limit';
  KILLED: 'killed';
  SETUP_FAILED: 'setup_failed';
}>;
export type ExitStatusName = (typeof ExitStatus)[keyof typeof ExitStatus];

/** The exit report (docs/protocol.md, "The exit report"). */
export interface ExitReport {
  id?: string;
  status: ExitStatusName;
  exit_code?: number;
  signal?: number;
  oom_kills?: number;
  memory_peak_bytes?: number;
  cpu_user_usec?: number;
  cpu_system_usec?: number;
  nr_throttled?: number;
  throttled_usec?: number;
  pids_peak?: number;
  wall_ms?: number;
  output_bytes?: number;
  step?: string;
  errno?: number;
  message?: string;
  [field: string]: unknown;
}

/** The exit code `ccjailctl run` uses for a report. */
export declare function exitCodeOf(report: ExitReport | null | undefined): number;

export declare const FrameType: Readonly<{ REQ: 1; RES: 2; EVT: 3; OUT: 4; ERR: 5; IN: 6; EOF: 7; CREDIT: 8 }>;
export declare const PROTOCOL_VERSION: 1;
export declare function encodeFrame(type: number, channel: number, payload?: Buffer | object): Buffer;
export interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
}
export declare class FrameDecoder {
  constructor(maxPayload?: number);
  /** Adds bytes, returns the frames they complete; throws CcjailError on a bad header. */
  push(chunk: Buffer): Frame[];
}

export declare const DEFAULT_SOCKET: '/run/ccjail/ccjaild.sock';
export declare const DEFAULT_CREDIT_WINDOW: number;

export interface ReconnectOptions {
  /** Default true. */
  enabled?: boolean;
  /** Default 100. */
  initialDelayMs?: number;
  /** Default 5000. */
  maxDelayMs?: number;
  /** Default 2. */
  factor?: number;
  /** Random spread of each delay, 0..1; default 0.2. */
  jitter?: number;
  /** Default Infinity. */
  maxAttempts?: number;
}

export interface ConnectOptions {
  /** Default /run/ccjail/ccjaild.sock. */
  socketPath?: string;
  /** Timeout of every request; default 30000. */
  requestTimeoutMs?: number;
  /** Timeout of spawn requests; default 60000. */
  spawnTimeoutMs?: number;
  /** Timeout of connect + hello; default 10000. */
  connectTimeoutMs?: number;
  /** `false` turns reconnecting off. */
  reconnect?: ReconnectOptions | false;
  /** Sent in hello, for the daemon's logs (at most 64 bytes). */
  clientName?: string;
  /** Output credit kept outstanding per session; default 256 KiB. */
  creditWindow?: number;
  /** The protocol version to ask for; default 1. */
  protocolVersion?: number;
}

export interface Limits {
  memory?: string;
  output_rate?: string;
  output_total?: string;
  wall_time?: string;
  cpu_time?: string;
  cpus?: number;
  pids?: number;
}

export interface SpawnOptions {
  profile: string;
  /** User label `^[a-z0-9][a-z0-9._-]{0,63}$`. */
  user: string;
  argv?: string[];
  workspace?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Default 'pty'. */
  mode?: 'pty' | 'pipe';
  cols?: number;
  rows?: number;
  limits?: Limits;
  /** Reported as `session.process`; default argv[0] or the profile. */
  process?: string;
  creditWindow?: number;
  /** High-water mark of stdout/stderr; default 64 KiB. */
  highWaterMark?: number;
  /** High-water mark of stdin; default 64 KiB. */
  stdinHighWaterMark?: number;
  timeoutMs?: number;
}

export interface AttachOptions {
  /** Where the OUT replay starts; default the oldest byte still held. */
  fromOffset?: number;
  fromErrOffset?: number;
  readOnly?: boolean;
  creditWindow?: number;
  highWaterMark?: number;
  timeoutMs?: number;
}

export interface SessionSummary {
  session: string;
  profile: string;
  user: string;
  state: 'starting' | 'running' | 'exited' | 'ended';
  mode: 'pty' | 'pipe';
  pid: number;
  peer_uid: number;
  created: string;
  uptime_ms: number;
  attached: number;
}

export interface InspectResult extends SessionSummary {
  monitor_pid: number;
  pids?: number[];
  cgroup: string;
  limits: Record<string, unknown>;
  settings: Record<string, unknown>;
  usage: Record<string, number> | null;
  bytes_out: number;
  bytes_in: number;
  dropped_bytes: number;
  offset: number;
  throttled_ms: number;
  report?: ExitReport;
  [field: string]: unknown;
}

export interface HelloResult {
  version: number;
  daemon: string;
  role: 'client' | 'admin';
  uid: number;
  max_payload: number;
  versions: number[];
}

export interface IDisposable {
  dispose(): void;
}

export interface ExitEvent {
  /** Like `ccjailctl run`: exit_code, 128+signal, 137 for kills and limits, 125 for setup failures; -1 if the session was lost. */
  exitCode: number;
  /** The signal number, when the report names one. */
  signal: number | undefined;
  report: ExitReport | null;
}

export type SignalName =
  | 'SIGHUP' | 'SIGINT' | 'SIGQUIT' | 'SIGTERM' | 'SIGKILL' | 'SIGUSR1' | 'SIGUSR2'
  | 'SIGCONT' | 'SIGSTOP' | 'SIGTSTP' | 'SIGWINCH';

/** A jailed session, shaped like node-pty's IPty, with streams whose backpressure is the daemon's credit. */
export declare class Session extends EventEmitter {
  readonly id: string;
  readonly pid: number;
  readonly mode: 'pty' | 'pipe';
  readonly cols: number;
  readonly rows: number;
  readonly process: string;
  readonly profile: string | undefined;
  readonly readOnly: boolean;
  readonly state: 'starting' | 'running' | 'detached' | 'exited' | 'failed';
  readonly report: ExitReport | null;
  readonly exitCode: number | null;
  readonly signal: number | null | undefined;
  /** This connection's channel (null while detached or reconnecting). */
  readonly channel: number | null;
  /** Offsets just past the last OUT/ERR bytes received; what a re-attach resumes from. */
  readonly offsets: { out: number; err: number };
  /** Settles with the spawn's outcome (createSession). */
  readonly ready: Promise<Session>;

  /** Terminal output (pty) or stdout (pipe). Credit is granted only while it wants data. */
  readonly stdout: Readable;
  /** stderr in pipe mode; ends at once in pty mode. */
  readonly stderr: Readable;
  /** write() returns false above the high-water mark; 'drain' follows the daemon's IN credit. */
  readonly stdin: Writable;

  onData(listener: (data: string) => void): IDisposable;
  onExit(listener: (event: ExitEvent) => void): IDisposable;
  write(data: string | Buffer | Uint8Array): boolean;
  resize(cols: number, rows: number): Promise<void>;
  /** No signal or SIGTERM: the daemon's kill (grace, then the cgroup); SIGKILL: at once; others: delivered to the program. */
  kill(signal?: SignalName | number, options?: { graceMs?: number }): Promise<void>;
  pause(): void;
  resume(): void;
  closeStdin(): void;
  inspect(): Promise<InspectResult>;
  detach(): Promise<void>;
  request(op: string, fields?: Record<string, unknown>, options?: { timeoutMs?: number }): Promise<Record<string, unknown>>;

  on(event: 'exit', listener: (event: ExitEvent) => void): this;
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'dropped', listener: (event: { bytes: number; stream: 'out' | 'err' }) => void): this;
  on(event: 'throttled', listener: (event: { throttledMs: number; rateBytes: number }) => void): this;
  on(event: 'reconnect', listener: (event: { offset: number }) => void): this;
  on(event: 'spawned', listener: (event: { session: string; pid: number; mode: string }) => void): this;
  /** Daemon errors on the channel (rate_limited, bad_request, forbidden, ...); emitted only when listened to. */
  on(event: 'error', listener: (error: CcjailError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export declare class Supervisor extends EventEmitter {
  constructor(options?: ConnectOptions);
  readonly socketPath: string;
  readonly requestTimeoutMs: number;
  readonly state: 'connecting' | 'connected' | 'reconnecting' | 'closed';
  readonly hello: HelloResult | null;
  readonly sessions: Session[];

  spawn(options: SpawnOptions): Promise<Session>;
  /** Returns the session at once; `session.ready` settles with the spawn. */
  createSession(options: SpawnOptions): Session;
  attach(id: string, options?: AttachOptions): Promise<Session>;
  list(): Promise<SessionSummary[]>;
  inspect(id: string): Promise<InspectResult>;
  kill(id: string, options?: { graceMs?: number }): Promise<void>;
  signal(id: string, signal: SignalName | number): Promise<void>;
  metrics(): Promise<string>;
  profiles(): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
  request(op: string, fields?: Record<string, unknown>, options?: { channel?: number; timeoutMs?: number }): Promise<Record<string, unknown>>;
  /** Diagnostics and protocol tests only: a wrong frame makes the daemon close the connection. */
  sendRawFrame(type: number, channel: number, payload?: Buffer | object): boolean;

  on(event: 'disconnect', listener: (error: CcjailError) => void): this;
  on(event: 'reconnect', listener: (event: { attempt: number; sessions: number }) => void): this;
  on(event: 'reconnectFailed', listener: (event: { attempt: number; error: CcjailError }) => void): this;
  on(event: 'close', listener: (error?: CcjailError) => void): this;
  /** Connection-level daemon errors and protocol violations; emitted only when listened to. */
  on(event: 'error', listener: (error: CcjailError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export declare function connect(options?: ConnectOptions): Promise<Supervisor>;

/** What the Agent SDK passes to `spawnClaudeCodeProcess`. */
export interface SdkSpawnOptions {
  command: string;
  args: string[];
  cwd?: string;
  env: { [name: string]: string | undefined };
  signal: AbortSignal;
}

/** A ChildProcess-like object (the SDK's SpawnedProcess). */
export interface JailedChildProcess extends EventEmitter {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly killed: boolean;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  readonly pid: number | undefined;
  readonly sessionId: string | undefined;
  readonly report: ExitReport | null;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'spawn', listener: () => void): this;
  once(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
  off(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  off(event: 'error', listener: (error: Error) => void): this;
}

export interface SdkSpawnerOptions {
  profile: string;
  user: string;
  workspace?: string;
  cwd?: string;
  limits?: Limits;
  /** Names copied from the SDK's env (the profile's environment.pass must allow them). */
  passEnv?: string[];
  /** Fixed values added to the jail's request env. */
  env?: Record<string, string>;
  /** Default: drop every argument before the first flag (the SDK's CLI script path). */
  mapArgs?: (args: string[], options: SdkSpawnOptions) => string[];
  /** Grace for kill('SIGTERM') and abort; default the daemon's kill_grace_ms. */
  killGraceMs?: number;
  /** What an abort sends; default 'SIGTERM'. */
  abortSignal?: NodeJS.Signals;
}

export declare function asSdkSpawner(
  supervisor: Supervisor,
  options: SdkSpawnerOptions,
): (options: SdkSpawnOptions) => JailedChildProcess;
