// One connection to ccjaild, multiplexing every session of this process, with reconnect.

import { EventEmitter } from 'node:events';
import net from 'node:net';

import { CcjailError, ClientErrorCode, ErrorCode, errorFromDaemon } from './errors.js';
import {
  FrameDecoder,
  FrameType,
  PROTOCOL_VERSION,
  creditFrame,
  encodeFrame,
  parseControl,
} from './frame.js';
import { Session } from './session.js';
import { checkArgv, checkSessionId, checkSize, invalid } from './validate.js';

export const DEFAULT_SOCKET = '/run/ccjail/ccjaild.sock';

const DEFAULT_RECONNECT = Object.freeze({
  enabled: true,
  initialDelayMs: 100,
  maxDelayMs: 5000,
  factor: 2,
  jitter: 0.2,
  maxAttempts: Infinity,
});

// Errors after which trying again cannot help: the daemon refused this peer or this client.
const PERMANENT = new Set([ErrorCode.FORBIDDEN, ErrorCode.UNSUPPORTED_VERSION]);

const SPAWN_FIELDS = ['profile', 'user', 'argv', 'workspace', 'cwd', 'env', 'mode', 'cols', 'rows', 'limits'];

/** Connects and says hello; resolves to a Supervisor. */
export async function connect(options = {}) {
  const supervisor = new Supervisor(options);
  await supervisor._start();
  return supervisor;
}

export class Supervisor extends EventEmitter {
  constructor(options = {}) {
    super();
    this.socketPath = options.socketPath ?? DEFAULT_SOCKET;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30000;
    this.spawnTimeoutMs = options.spawnTimeoutMs ?? 60000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10000;
    this.clientName = options.clientName ?? '@ccjail/client';
    this.protocolVersion = options.protocolVersion ?? PROTOCOL_VERSION;
    this.creditWindow = options.creditWindow;
    this.reconnectOptions = { ...DEFAULT_RECONNECT, ...(options.reconnect === false ? { enabled: false } : options.reconnect) };
    this.state = 'connecting';
    this.hello = null;

    this._socket = null;
    this._congested = false;
    this._nextId = 1;
    this._pending = new Map();
    this._channels = new Map();
    this._sessions = new Set();
    this._lastDaemonError = null;
    this._reconnectTimer = null;
  }

  // ---- ops ------------------------------------------------------------------------------------

  /** Starts a session; resolves once the program runs. */
  async spawn(options) {
    const session = this.createSession(options);
    return session.ready;
  }

  /**
   * Like spawn, but returns the Session at once: its stdin accepts writes (held until the
   * daemon grants credit) and `session.ready` settles with the spawn's outcome.
   */
  createSession(options = {}) {
    const body = this._spawnBody(options);
    const session = new Session(this, {
      mode: body.mode ?? 'pty',
      cols: body.cols ?? 80,
      rows: body.rows ?? 24,
      profile: body.profile,
      process: options.process ?? body.argv?.[0] ?? body.profile,
      creditWindow: options.creditWindow ?? this.creditWindow,
      highWaterMark: options.highWaterMark,
      stdinHighWaterMark: options.stdinHighWaterMark,
    });
    this._sessions.add(session);
    const onResult = (result) => this._adopt(session, result);
    this.request('spawn', body, { timeoutMs: options.timeoutMs ?? this.spawnTimeoutMs, lateResult: 'kill', onResult })
      .then(() => session._started())
      .catch((error) => {
        this._sessions.delete(session);
        session._failed(error);
      });
    return session;
  }

  /** Attaches to a running (or recently ended) session. */
  async attach(id, { fromOffset, fromErrOffset, readOnly = false, creditWindow, highWaterMark, timeoutMs } = {}) {
    checkSessionId(id);
    const session = new Session(this, {
      id,
      readOnly,
      fromOffset,
      fromErrOffset,
      process: id,
      creditWindow: creditWindow ?? this.creditWindow,
      highWaterMark,
    });
    const body = { session: id, from_err_offset: fromErrOffset ?? 0, read_only: readOnly };
    if (fromOffset !== undefined) body.from_offset = fromOffset;
    session._errPositioning = fromErrOffset === undefined;
    const onResult = (result) => {
      if (fromOffset === undefined) session._offsets.out = result.begin_offset ?? 0;
      this._sessions.add(session);
      this._adopt(session, result);
    };
    try {
      await this.request('attach', body, { timeoutMs, lateResult: 'detach', onResult });
    } catch (error) {
      session._failed(error);
      throw error;
    }
    session._started();
    return session;
  }

  list() {
    return this.request('list', {}).then((result) => result.sessions);
  }

  inspect(id) {
    checkSessionId(id);
    return this.request('inspect', { session: id });
  }

  kill(id, { graceMs } = {}) {
    checkSessionId(id);
    return this.request('kill', graceMs === undefined ? { session: id } : { session: id, grace_ms: graceMs }).then(() => undefined);
  }

  signal(id, signal) {
    checkSessionId(id);
    return this.request('signal', { session: id, signal }).then(() => undefined);
  }

  metrics() {
    return this.request('metrics', {}).then((result) => result.text);
  }

  profiles() {
    return this.request('profiles', {}).then((result) => result.profiles);
  }

  /** Closes the connection; sessions keep running in the daemon (attach again later). */
  async close() {
    if (this.state === 'closed') return;
    this._shutdown(new CcjailError(ClientErrorCode.CLOSED, 'the supervisor connection was closed'), false);
  }

  /**
   * Sends one request and resolves with the daemon's result (the response minus `id` and `ok`).
   * Rejects with CcjailError: the daemon's code, or `timeout` / `connection_lost` / `closed`.
   */
  request(op, fields = {}, { channel = 0, timeoutMs, lateResult, early = false, onResult } = {}) {
    if (this.state === 'closed') {
      return Promise.reject(new CcjailError(ClientErrorCode.CLOSED, 'the supervisor connection is closed'));
    }
    // While (re)connecting only the connection's own hello and re-attaches go out; everything
    // else waits for them, so it lands on a connection whose sessions are attached again.
    if (this.state !== 'connected' && !early) {
      return this._whenConnected(timeoutMs).then(() => this.request(op, fields, { channel, timeoutMs, lateResult, onResult }));
    }
    const id = this._allocateId();
    const limit = timeoutMs ?? this.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // The id stays reserved: a late answer is recognized and cleaned up (see _onResponse).
        const entry = this._pending.get(id);
        if (entry) entry.timedOut = true;
        reject(new CcjailError(ClientErrorCode.TIMEOUT, `${op}: no answer within ${limit} ms`));
      }, limit);
      this._pending.set(id, { op, channel, resolve, reject, timer, timedOut: false, lateResult, onResult });
      this._sendFrame(FrameType.REQ, channel, { ...fields, id, op });
    });
  }

  /**
   * Sends one raw frame. For diagnostics and protocol tests only: a wrong frame can make the
   * daemon close the connection.
   */
  sendRawFrame(type, channel, payload) {
    return this._sendFrame(type, channel, payload);
  }

  get sessions() {
    return [...this._sessions];
  }

  // ---- connection -----------------------------------------------------------------------------

  async _start() {
    try {
      await this._openOrProbe();
      this.state = 'connected';
    } catch (error) {
      this.state = 'closed';
      throw error;
    }
  }

  // A refused peer (forbidden, too many connections) is told so right after the daemon's
  // accept, and the connection is closed. If our hello was written after that close, the write
  // fails with EPIPE and Node drops the socket before reading the daemon's reason. So after such
  // a failure, connect once more and listen briefly before saying hello.
  async _openOrProbe() {
    try {
      return await this._open(0);
    } catch (error) {
      const cause = error.cause?.code;
      if (error.code !== ClientErrorCode.CONNECTION_LOST || (cause !== 'EPIPE' && cause !== 'ECONNRESET')) throw error;
      return this._open(500);
    }
  }

  _open(listenFirstMs) {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path: this.socketPath });
      const decoder = new FrameDecoder();
      let settled = false;
      const fail = (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this._socket === socket) {
          this._socket = null;
          this._rejectPending(error);
        }
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new CcjailError(ClientErrorCode.TIMEOUT, `no hello answer within ${this.connectTimeoutMs} ms`)),
        this.connectTimeoutMs,
      );
      this._lastDaemonError = null;
      socket.on('error', (error) => {
        if (settled) return;
        fail(this._lastDaemonError ?? new CcjailError(ClientErrorCode.CONNECTION_LOST, `${this.socketPath}: ${error.message}`, { cause: error }));
      });
      socket.on('close', () => {
        if (!settled) {
          fail(this._lastDaemonError ?? new CcjailError(ClientErrorCode.CONNECTION_LOST, 'the daemon closed the connection'));
          return;
        }
        if (this._socket === socket) this._onSocketClosed();
      });
      socket.on('drain', () => {
        this._congested = false;
        for (const session of this._sessions) session._pumpInput();
      });
      socket.on('data', (chunk) => {
        if (this._socket !== socket) return;
        let frames;
        try {
          frames = decoder.push(chunk);
        } catch (error) {
          this._emitError(error);
          socket.destroy();
          return;
        }
        for (const frame of frames) this._route(frame);
      });
      socket.once('connect', async () => {
        this._socket = socket;
        this._congested = false;
        if (listenFirstMs > 0) {
          await new Promise((wake) => {
            const quiet = setTimeout(wake, listenFirstMs);
            socket.once('data', () => { clearTimeout(quiet); wake(); });
            socket.once('close', () => { clearTimeout(quiet); wake(); });
          });
          // A refusal arrived: the daemon closes now; 'close' reports it.
          if (settled || this._socket !== socket || this._lastDaemonError) return;
        }
        const hello = { version: this.protocolVersion, client: this.clientName };
        this.request('hello', hello, { timeoutMs: this.connectTimeoutMs, early: true })
          .then((result) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            this.hello = result;
            resolve(result);
          })
          .catch(fail);
      });
    });
  }

  _onSocketClosed() {
    this._socket = null;
    const error = this._lastDaemonError ?? new CcjailError(ClientErrorCode.CONNECTION_LOST, 'the connection to ccjaild was lost');
    this._rejectPending(error);
    if (this.state === 'closed') return;
    if (!this.reconnectOptions.enabled || PERMANENT.has(error.code)) {
      this._shutdown(error, true);
      return;
    }
    for (const channel of [...this._channels.keys()]) this._channels.delete(channel);
    for (const session of this._sessions) session._unbind();
    this.state = 'reconnecting';
    this.emit('disconnect', error);
    this._scheduleReconnect(1);
  }

  _scheduleReconnect(attempt) {
    const options = this.reconnectOptions;
    if (attempt > options.maxAttempts) {
      this._shutdown(new CcjailError(ClientErrorCode.CONNECTION_LOST, `gave up reconnecting after ${attempt - 1} attempts`), true);
      return;
    }
    const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** (attempt - 1));
    const delay = Math.max(0, Math.round(base * (1 + options.jitter * (Math.random() * 2 - 1))));
    this._reconnectTimer = setTimeout(() => this._reconnect(attempt), delay);
  }

  async _reconnect(attempt) {
    this._reconnectTimer = null;
    if (this.state !== 'reconnecting') return;
    try {
      await this._openOrProbe();
    } catch (error) {
      if (this.state !== 'reconnecting') return;
      if (PERMANENT.has(error.code)) {
        this._shutdown(error, true);
        return;
      }
      this.emit('reconnectFailed', { attempt, error });
      this._scheduleReconnect(attempt + 1);
      return;
    }
    if (this.state !== 'reconnecting') return;
    const sessions = [...this._sessions].filter((s) => s.state !== 'exited' && s.state !== 'failed' && s.id);
    const results = await Promise.allSettled(sessions.map((session) => this._reattach(session)));
    if (this.state !== 'reconnecting') return;
    this.state = 'connected';
    const reattached = results.filter((r) => r.status === 'fulfilled').length;
    this.emit('reconnect', { attempt, sessions: reattached });
    for (const waiter of (this._connectWaiters ?? []).splice(0)) waiter.resolve();
  }

  // Never re-spawns: the session lives on in the daemon; we only continue reading where the
  // user's streams stopped.
  async _reattach(session) {
    const body = { session: session.id, from_offset: session._offsets.out, read_only: session.readOnly };
    if (session.mode === 'pipe') body.from_err_offset = session._offsets.err;
    try {
      await this.request('attach', body, { early: true, onResult: (result) => this._adopt(session, result) });
      session.emit('reconnect', { offset: session._offsets.out });
    } catch (error) {
      this._sessions.delete(session);
      session._lost(error);
      throw error;
    }
  }

  _whenConnected(timeoutMs) {
    if (this.state === 'connected') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new CcjailError(ClientErrorCode.CLOSED, 'the supervisor connection is closed'));
    const limit = timeoutMs ?? this.requestTimeoutMs;
    this._connectWaiters ??= [];
    return new Promise((resolve, reject) => {
      const waiter = {};
      const timer = setTimeout(() => {
        this._connectWaiters = this._connectWaiters.filter((w) => w !== waiter);
        reject(new CcjailError(ClientErrorCode.TIMEOUT, `not connected within ${limit} ms`));
      }, limit);
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
      waiter.reject = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this._connectWaiters.push(waiter);
    });
  }

  _shutdown(error, emitDisconnect) {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    clearTimeout(this._reconnectTimer);
    this._rejectPending(error);
    for (const waiter of (this._connectWaiters ?? []).splice(0)) waiter.reject(error);
    for (const session of [...this._sessions]) {
      if (error.code === ClientErrorCode.CLOSED) session._endStreams();
      else session._lost(error);
    }
    this._sessions.clear();
    this._channels.clear();
    const socket = this._socket;
    this._socket = null;
    if (socket) socket.end();
    if (emitDisconnect && wasConnected) this.emit('disconnect', error);
    this.emit('close', error.code === ClientErrorCode.CLOSED ? undefined : error);
  }

  _rejectPending(error) {
    for (const [id, entry] of this._pending) {
      clearTimeout(entry.timer);
      this._pending.delete(id);
      if (!entry.timedOut) entry.reject(error);
    }
  }

  // ---- frames ---------------------------------------------------------------------------------

  _sendFrame(type, channel, payload) {
    if (!this._socket) return false;
    const ok = this._socket.write(encodeFrame(type, channel, payload));
    if (!ok) this._congested = true;
    return ok;
  }

  _sendCredit(channel, bytes) {
    if (!this._socket) return;
    if (!this._socket.write(creditFrame(channel, bytes))) this._congested = true;
  }

  _allocateId() {
    for (;;) {
      const id = this._nextId;
      this._nextId = this._nextId >= 0xffffffff ? 1 : this._nextId + 1;
      if (!this._pending.has(id)) return id;
    }
  }

  _route(frame) {
    switch (frame.type) {
      case FrameType.RES:
        this._onControl(frame, (message) => this._onResponse(message));
        break;
      case FrameType.EVT:
        this._onControl(frame, (message) => this._onEvent(frame.channel, message));
        break;
      case FrameType.OUT:
        this._channels.get(frame.channel)?._onData('out', frame.payload);
        break;
      case FrameType.ERR:
        this._channels.get(frame.channel)?._onData('err', frame.payload);
        break;
      case FrameType.EOF:
        this._channels.get(frame.channel)?._onEof();
        break;
      case FrameType.CREDIT:
        this._channels.get(frame.channel)?._onCredit(frame.payload.readUInt32BE(0));
        break;
      default:
        this._emitError(new CcjailError(ClientErrorCode.PROTOCOL, `the daemon sent a frame of type ${frame.type}`));
    }
  }

  _onControl(frame, handle) {
    let message;
    try {
      message = parseControl(frame.payload);
    } catch (error) {
      this._emitError(error);
      return;
    }
    handle(message);
  }

  _onResponse(message) {
    const entry = this._pending.get(message.id);
    if (!entry) return;
    clearTimeout(entry.timer);
    this._pending.delete(message.id);
    if (entry.timedOut) {
      this._cleanUpLate(entry, message);
      return;
    }
    if (message.ok === true) {
      const { id: _id, ok: _ok, ...result } = message;
      // Frames after this response may be in the same chunk, routed before any promise
      // continuation runs: a new channel must be known now, or its first events are lost.
      try {
        entry.onResult?.(result);
      } catch (error) {
        entry.reject(error);
        return;
      }
      entry.resolve(result);
    } else {
      entry.reject(errorFromDaemon(message.error));
    }
  }

  // A spawn or attach that answered after its caller gave up still holds a channel (and a
  // spawned session would run unseen): release what the caller will never use.
  _cleanUpLate(entry, message) {
    if (message.ok !== true || !Number.isInteger(message.channel)) return;
    const channel = message.channel;
    if (entry.lateResult === 'kill') this.request('kill', {}, { channel }).catch(() => {});
    if (entry.lateResult) this.request('detach', {}, { channel }).catch(() => {});
  }

  _onEvent(channel, message) {
    if (channel !== 0) {
      this._channels.get(channel)?._onEvent(message);
      return;
    }
    if (message.event === 'error') {
      const error = errorFromDaemon(message);
      // These codes close the connection right after the event: the close handler reports it.
      this._lastDaemonError = error;
      this._emitError(error);
    }
  }

  _emitError(error) {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  _adopt(session, result) {
    if (!Number.isInteger(result.channel)) {
      throw new CcjailError(ClientErrorCode.PROTOCOL, 'the daemon answered without a channel');
    }
    this._channels.set(result.channel, session);
    session._bind(result, result.channel);
  }

  _forgetChannel(channel, session) {
    if (this._channels.get(channel) === session) this._channels.delete(channel);
  }

  _spawnBody(options) {
    if (!options || typeof options !== 'object') throw invalid('/', 'spawn options must be an object');
    if (typeof options.profile !== 'string') throw invalid('/profile', 'required string');
    if (typeof options.user !== 'string') throw invalid('/user', 'required string');
    const body = {};
    for (const key of SPAWN_FIELDS) if (options[key] !== undefined) body[key] = options[key];
    if (body.argv !== undefined) checkArgv(body.argv);
    if (body.mode !== undefined && body.mode !== 'pty' && body.mode !== 'pipe') throw invalid('/mode', 'must be "pty" or "pipe"');
    if (body.cols !== undefined) checkSize(body.cols, '/cols');
    if (body.rows !== undefined) checkSize(body.rows, '/rows');
    return body;
  }
}
