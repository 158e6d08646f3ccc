// One jailed session as seen through one connection: node-pty's IPty shape on top of stream
// objects whose backpressure is the daemon's CREDIT flow control.

import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

import { CcjailError, ClientErrorCode, errorFromDaemon } from './errors.js';
import { childExitOf, exitCodeOf } from './exit.js';
import { FrameType, MAX_CREDIT } from './frame.js';
import { checkSize, toBuffer } from './validate.js';

export const DEFAULT_CREDIT_WINDOW = 256 * 1024;
// 16 KiB IN frames are accepted by every shipped profile; the daemon may allow more.
const SAFE_INPUT_FRAME = 16 * 1024;

class SessionReadable extends Readable {
  constructor(session, stream, highWaterMark) {
    super({ highWaterMark });
    this.session = session;
    this.stream = stream;
  }

  _read() {
    this.session._streamWantsData(this.stream);
  }
}

class SessionWritable extends Writable {
  constructor(session, highWaterMark) {
    super({ highWaterMark, decodeStrings: true });
    this.session = session;
  }

  _write(chunk, _encoding, callback) {
    this.session._queueInput(chunk, callback);
  }

  _final(callback) {
    this.session._endInput(callback);
  }
}

/**
 * A session. Created by Supervisor#spawn / #attach / #createSession; not constructed directly.
 *
 * Credit invariant per channel: bytes granted to the daemon and not yet received, plus bytes
 * received but still waiting in a Readable that refused more (`owed`), plus bytes ready to be
 * granted back, always sum to the window. So the client buffers at most the window plus the
 * Readables' high-water marks, whatever the program writes.
 */
export class Session extends EventEmitter {
  constructor(supervisor, options) {
    super();
    this._supervisor = supervisor;
    this.id = options.id ?? null;
    this.mode = options.mode ?? 'pty';
    this.cols = options.cols ?? 80;
    this.rows = options.rows ?? 24;
    this.process = options.process ?? '';
    this.profile = options.profile;
    this.readOnly = Boolean(options.readOnly);
    this.pid = undefined;
    this.state = 'starting';
    this.report = null;
    this.exitCode = null;
    this.signal = null;

    this._window = Math.min(options.creditWindow ?? DEFAULT_CREDIT_WINDOW, MAX_CREDIT);
    this._channel = null;
    this._outstanding = 0;
    this._owed = { out: 0, err: 0 };
    this._toGrant = 0;
    this._offsets = { out: options.fromOffset ?? 0, err: options.fromErrOffset ?? 0 };
    // An attach without a known ERR position asks for ERR from 0: the daemon's `dropped`
    // event for bytes below its ring then tells us where the ERR stream really starts.
    this._errPositioning = false;
    this._inCredit = 0;
    this._maxInputFrame = SAFE_INPUT_FRAME;
    this._inQueue = [];
    this._inputEnding = null;
    this._inputClosed = this.readOnly;
    this._eofReceived = false;
    this._waitingForChannel = [];
    // Events that arrive with the spawn/attach response (`spawned`, `dropped`) are held until
    // the caller's `await` has returned the session and it could add listeners.
    this._heldEvents = [];

    const readableHwm = options.highWaterMark ?? 64 * 1024;
    this.stdout = new SessionReadable(this, 'out', readableHwm);
    this.stderr = new SessionReadable(this, 'err', readableHwm);
    this.stdin = new SessionWritable(this, options.stdinHighWaterMark ?? 64 * 1024);
    this.stdin.on('error', () => {});

    this._decoder = new StringDecoder('utf8');
    this._dataListeners = new Set();
    this._onStdoutData = (chunk) => {
      const text = this._decoder.write(chunk);
      if (text.length > 0) for (const listener of [...this._dataListeners]) listener(text);
    };

    this.ready = new Promise((resolve, reject) => {
      this._resolveReady = resolve;
      this._rejectReady = reject;
    });
    this.ready.catch(() => {});
    this._trackClose();
    if (options.mode !== undefined) this._settleStderr();
  }

  // ---- node-pty's IPty ------------------------------------------------------------------------

  /** Calls `listener(text)` for terminal (pty) or stdout (pipe) output; returns a disposable. */
  onData(listener) {
    if (this._dataListeners.size === 0) {
      this.stdout.on('data', this._onStdoutData);
      // An explicitly paused stream stays paused when a 'data' listener is added: only the
      // user's pause() should keep it so, not the pause of an earlier dispose().
      if (!this._userPaused) this.stdout.resume();
    }
    this._dataListeners.add(listener);
    return {
      dispose: () => {
        if (!this._dataListeners.delete(listener) || this._dataListeners.size > 0) return;
        this.stdout.off('data', this._onStdoutData);
        // A flowing stream without a 'data' listener would drop data; pausing it instead
        // stops the credit grants until someone reads again.
        this.stdout.pause();
      },
    };
  }

  /** Calls `listener({exitCode, signal, report})` once the session has ended. */
  onExit(listener) {
    const wrapped = (event) => listener(event);
    this.on('exit', wrapped);
    return { dispose: () => this.off('exit', wrapped) };
  }

  /** Writes to the terminal or stdin. Returns false when the caller should wait for 'drain'. */
  write(data) {
    return this.stdin.write(toBuffer(data));
  }

  /** Resizes the terminal (pty mode); the program gets SIGWINCH. */
  async resize(cols, rows) {
    checkSize(cols, '/cols');
    checkSize(rows, '/rows');
    await this.request('resize', { cols, rows });
    this.cols = cols;
    this.rows = rows;
  }

  /**
   * Without a signal, or with SIGTERM: the daemon's kill (SIGTERM, then the whole cgroup after
   * the grace period). SIGKILL kills the cgroup at once. Any other signal goes to the program.
   */
  async kill(signal, { graceMs } = {}) {
    if (signal === undefined || signal === 'SIGTERM' || signal === 15) {
      await this.request('kill', graceMs === undefined ? {} : { grace_ms: graceMs });
    } else if (signal === 'SIGKILL' || signal === 9) {
      await this.request('kill', { grace_ms: 0 });
    } else {
      await this.request('signal', { signal });
    }
  }

  /** Stops reading output: credit stops flowing back, so the jail blocks (or its ring drops). */
  pause() {
    this._userPaused = true;
    this.stdout.pause();
  }

  resume() {
    this._userPaused = false;
    this.stdout.resume();
  }

  // ---- more -----------------------------------------------------------------------------------

  /** Ends the input: EOF in pipe mode (after what was written); pty mode takes Ctrl-D as data. */
  closeStdin() {
    this.stdin.end();
  }

  inspect() {
    return this.request('inspect', {});
  }

  /** Leaves the session running and frees this connection's channel. */
  async detach() {
    if (this._channel === null) return;
    const channel = this._channel;
    await this.request('detach', {});
    this._unbind();
    if (this._channel === null) this._supervisor._forgetChannel(channel, this);
    this.state = this.state === 'running' ? 'detached' : this.state;
    this._endStreams();
  }

  /** This connection's channel for the session (null while detached or reconnecting). */
  get channel() {
    return this._channel;
  }

  /** Byte offsets just past the last OUT and ERR bytes this client received. */
  get offsets() {
    return { out: this._offsets.out, err: this._offsets.err };
  }

  /** A session-scoped request on this session's channel (waits while reconnecting). */
  async request(op, fields = {}, { timeoutMs } = {}) {
    const channel = await this._channelReady(timeoutMs);
    return this._supervisor.request(op, fields, { channel, timeoutMs });
  }

  // ---- wiring used by Supervisor --------------------------------------------------------------

  _bind(result, channel) {
    this._channel = channel;
    this.id = result.session ?? this.id;
    this.mode = result.mode ?? this.mode;
    if (Number.isInteger(result.pid)) this.pid = result.pid;
    this._inCredit = Number.isInteger(result.in_credit) ? result.in_credit : 0;
    if (Number.isInteger(result.max_input_frame_bytes) && result.max_input_frame_bytes > 0) {
      this._maxInputFrame = result.max_input_frame_bytes;
    }
    if (this.state === 'starting' || this.state === 'detached') this.state = 'running';
    this._settleStderr();
    this._outstanding = 0;
    this._toGrant = Math.max(0, this._window - this._owed.out - this._owed.err);
    this._flushGrant(true);
    for (const wake of this._waitingForChannel.splice(0)) wake.resolve(channel);
    this._pumpInput();
  }

  // A terminal has no separate stderr: end it at once so 'close' does not wait for it.
  _settleStderr() {
    if (this.mode !== 'pty' || this.stderr.readableEnded || this._stderrSettled) return;
    this._stderrSettled = true;
    this.stderr.push(null);
    this.stderr.resume();
  }

  _unbind() {
    this._channel = null;
    this._outstanding = 0;
    this._toGrant = 0;
    this._inCredit = 0;
  }

  _started() {
    this._resolveReady(this);
    setImmediate(() => {
      const held = this._heldEvents;
      this._heldEvents = null;
      for (const event of held) this._onEvent(event);
    });
  }

  _failed(error) {
    this.state = 'failed';
    this._rejectReady(error);
    this._failStreams(error);
    for (const wake of this._waitingForChannel.splice(0)) wake.reject(error);
  }

  /** The session is gone for this client (connection closed for good, attach impossible). */
  _lost(error) {
    if (this.state === 'exited' || this.state === 'failed') return;
    this._unbind();
    this.state = 'failed';
    this._failStreams(error);
    for (const wake of this._waitingForChannel.splice(0)) wake.reject(error);
    this._emitError(error);
    this.emit('exit', { exitCode: -1, signal: undefined, report: null });
    this._maybeClose();
  }

  _channelReady(timeoutMs) {
    if (this._channel !== null) return Promise.resolve(this._channel);
    if (this.state === 'exited' || this.state === 'failed') {
      return Promise.reject(new CcjailError(ClientErrorCode.CLOSED, 'the session has ended'));
    }
    const limit = timeoutMs ?? this._supervisor.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject };
      const timer = setTimeout(() => {
        this._waitingForChannel = this._waitingForChannel.filter((e) => e !== entry);
        reject(new CcjailError(ClientErrorCode.TIMEOUT, 'the session is not attached (reconnecting?)'));
      }, limit);
      entry.resolve = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
      entry.reject = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this._waitingForChannel.push(entry);
    });
  }

  _onData(stream, payload) {
    this._outstanding -= payload.length;
    this._offsets[stream] += payload.length;
    const readable = stream === 'out' ? this.stdout : this.stderr;
    if (readable.destroyed || readable.readableEnded) {
      this._toGrant += payload.length;
    } else if (readable.push(payload)) {
      this._toGrant += payload.length;
    } else {
      this._owed[stream] += payload.length;
    }
    this._flushGrant(false);
  }

  _streamWantsData(stream) {
    const owed = this._owed[stream];
    if (owed === 0) return;
    this._owed[stream] = 0;
    this._toGrant += owed;
    this._flushGrant(false);
  }

  // Grants in batches of a quarter window: one CREDIT frame per 64 KiB instead of per frame.
  _flushGrant(force) {
    if (this._channel === null || this._toGrant === 0) return;
    if (!force && this._toGrant < this._window / 4) return;
    const grant = this._toGrant;
    this._toGrant = 0;
    this._outstanding += grant;
    this._supervisor._sendCredit(this._channel, grant);
  }

  _onCredit(bytes) {
    this._inCredit += bytes;
    this._pumpInput();
  }

  _onEof() {
    this._eofReceived = true;
    this.stdout.push(null);
    this.stderr.push(null);
  }

  _onEvent(event) {
    if (this._heldEvents) {
      this._heldEvents.push(event);
      return;
    }
    switch (event.event) {
      case 'spawned':
        if (Number.isInteger(event.pid)) this.pid = event.pid;
        this.emit('spawned', event);
        break;
      case 'exit':
        this._onExit(event.report ?? null);
        break;
      case 'dropped':
        this._onDropped(event);
        break;
      case 'throttled':
        this.emit('throttled', { throttledMs: event.throttled_ms, rateBytes: event.rate_bytes });
        break;
      case 'error':
        this._emitError(errorFromDaemon(event));
        break;
      default:
        break; // a daemon may add events within a version; unknown ones are ignored
    }
  }

  _onDropped(event) {
    const stream = event.stream === 'err' ? 'err' : 'out';
    const bytes = Number(event.bytes) || 0;
    this._offsets[stream] += bytes;
    if (stream === 'err' && this._errPositioning) {
      this._errPositioning = false;
      return;
    }
    this.emit('dropped', { bytes, stream });
  }

  _onExit(report) {
    if (this.state === 'exited') return;
    this.state = 'exited';
    this.report = report;
    this.exitCode = exitCodeOf(report);
    this.signal = report?.signal ? report.signal : undefined;
    if (!this._eofReceived) this._onEof();
    this._failInput(new CcjailError(ClientErrorCode.CLOSED, 'the session has ended'));
    const channel = this._channel;
    this.emit('exit', { exitCode: this.exitCode, signal: this.signal, report });
    // The channel counts against the connection's 256 until detached.
    if (channel !== null) {
      this._supervisor.request('detach', {}, { channel }).catch(() => {});
      this._supervisor._forgetChannel(channel, this);
      this._unbind();
    }
    this._maybeClose();
  }

  /** Exit details the way ChildProcess reports them: (code, signal name). */
  _childExit() {
    return childExitOf(this.report);
  }

  _emitError(error) {
    // A daemon-reported problem on a channel must not crash a server that did not listen.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  // ---- input ----------------------------------------------------------------------------------

  _queueInput(chunk, callback) {
    if (this._inputClosed) {
      callback(new CcjailError(ClientErrorCode.CLOSED, this.readOnly ? 'read-only session' : 'input is closed'));
      return;
    }
    this._inQueue.push({ data: chunk, sent: 0, callback });
    this._pumpInput();
  }

  _endInput(callback) {
    if (this.mode !== 'pipe' || this._inputClosed) {
      callback();
      return;
    }
    this._inputEnding = callback;
    this._pumpInput();
  }

  _pumpInput() {
    const done = [];
    while (this._channel !== null && this._inQueue.length > 0 && this._inCredit > 0) {
      if (this._supervisor._congested) break;
      const item = this._inQueue[0];
      const n = Math.min(this._inCredit, this._maxInputFrame, item.data.length - item.sent);
      this._supervisor._sendFrame(FrameType.IN, this._channel, item.data.subarray(item.sent, item.sent + n));
      this._inCredit -= n;
      item.sent += n;
      if (item.sent === item.data.length) done.push(this._inQueue.shift().callback);
    }
    if (this._inQueue.length === 0 && this._inputEnding && this._channel !== null) {
      const callback = this._inputEnding;
      this._inputEnding = null;
      this._inputClosed = true;
      this._supervisor._sendFrame(FrameType.EOF, this._channel);
      done.push(callback);
    }
    for (const callback of done) callback();
  }

  _failInput(error) {
    this._inputClosed = true;
    for (const item of this._inQueue.splice(0)) item.callback(error);
    if (this._inputEnding) {
      const callback = this._inputEnding;
      this._inputEnding = null;
      callback();
    }
  }

  // ---- teardown -------------------------------------------------------------------------------

  _endStreams() {
    if (!this.stdout.readableEnded) this.stdout.push(null);
    if (!this.stderr.readableEnded) this.stderr.push(null);
    this._failInput(new CcjailError(ClientErrorCode.CLOSED, 'detached'));
  }

  _failStreams(error) {
    this._failInput(error);
    this.stdout.push(null);
    this.stderr.push(null);
  }

  // 'close' like ChildProcess: after the exit and after both output streams have ended.
  _trackClose() {
    let pending = 2;
    const ended = () => {
      pending -= 1;
      this._maybeClose();
    };
    this._streamsOpen = () => pending > 0;
    for (const stream of [this.stdout, this.stderr]) {
      stream.once('end', ended);
      stream.once('close', () => {
        if (!stream.readableEnded) ended();
      });
    }
  }

  _maybeClose() {
    if (this._closeEmitted || this._streamsOpen()) return;
    if (this.state !== 'exited' && this.state !== 'failed') return;
    this._closeEmitted = true;
    const { code, signal } = this._childExit();
    this.emit('close', code, signal);
  }
}
