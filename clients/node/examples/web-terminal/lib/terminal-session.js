// One browser tab, one jailed session. The socket is already authenticated when it gets here;
// everything it sends is checked for shape, size and rate before it reaches the session.
import { OutputWindow } from './output-window.js';
import { TokenBucket } from './token-bucket.js';

const MAX_DIM = 1000; // docs/protocol.md: cols and rows are 1..1000
// An authenticated socket that never asks for its session would hold a slot for nothing.
const START_TIMEOUT_MS = 10000;

function validSize(size) {
  const ok = (n) => Number.isInteger(n) && n >= 1 && n <= MAX_DIM;
  return size !== null && typeof size === 'object' && ok(size.cols) && ok(size.rows);
}

export class TerminalSession {
  #socket;
  #cfg;
  #log;
  #getSupervisor;
  #session = null;
  #window;
  #closed = false;
  #inputBytes;

  constructor({ socket, cfg, log, getSupervisor }) {
    this.#socket = socket;
    this.#cfg = cfg;
    this.#log = log;
    this.#getSupervisor = getSupervisor;
    this.#inputBytes = new TokenBucket({ rate: cfg.input_bytes_per_second, burst: cfg.input_burst_bytes });
    this.#window = new OutputWindow({
      highWater: cfg.output_window_chars,
      pause: () => this.#flow('flow_paused', () => this.#session?.pause()),
      resume: () => this.#flow('flow_resumed', () => this.#session?.resume()),
    });
    this.#limitMessageRate();
    const startTimer = setTimeout(() => this.#refuse('start: not sent in time'), START_TIMEOUT_MS);
    socket.once('start', (size) => {
      clearTimeout(startTimer);
      this.#start(size);
    });
    socket.once('disconnect', () => clearTimeout(startTimer));
    socket.on('input', (data) => this.#input(data));
    socket.on('resize', (size) => this.#resize(size));
    socket.on('ack', (seq) => this.#ack(seq));
    socket.on('disconnect', (reason) => this.#close(reason));
  }

  get user() {
    return this.#socket.data.user;
  }

  #limitMessageRate() {
    const bucket = new TokenBucket({ rate: this.#cfg.messages_per_second, burst: this.#cfg.message_burst });
    this.#socket.use((packet, next) => {
      if (bucket.take()) return next();
      this.#refuse('message rate limit exceeded');
      return undefined;
    });
  }

  async #start(size) {
    if (!validSize(size)) return this.#refuse('start: bad terminal size');
    let session;
    try {
      const sup = await this.#getSupervisor();
      session = await sup.spawn({
        profile: this.#cfg.profile,
        user: this.user,
        mode: 'pty',
        cols: size.cols,
        rows: size.rows,
        argv: this.#cfg.argv,
        env: this.#cfg.jail_env,
      });
    } catch (e) {
      this.#log('spawn_failed', { user: this.user, code: e.code, message: e.message });
      this.#socket.emit('notice', { level: 'error', text: `could not start a session (${e.code ?? 'error'})` });
      this.#socket.disconnect(true);
      return undefined;
    }
    // The tab may have gone while the jail was being built.
    if (this.#closed) return this.#kill(session);
    this.#session = session;
    this.#log('session_started', { user: this.user, session: session.id, pid: session.pid });
    session.onData((data) => this.#output(data));
    session.onExit((e) => this.#exited(e));
    this.#socket.emit('ready', { session: session.id });
    return undefined;
  }

  #flow(event, act) {
    this.#log(event, { user: this.user, session: this.#session?.id, unacked: this.#window.unacked });
    act();
  }

  #output(data) {
    if (this.#closed) return;
    const seq = this.#window.sent(data.length);
    this.#socket.emit('output', { seq, data });
  }

  #input(data) {
    if (!this.#session) return undefined;
    if (typeof data !== 'string') return this.#refuse('input: not a string');
    const bytes = Buffer.byteLength(data);
    if (bytes > this.#cfg.max_input_bytes) {
      this.#socket.emit('notice', { level: 'warn', text: `input of ${bytes} bytes dropped (limit ${this.#cfg.max_input_bytes})` });
      return undefined;
    }
    if (!this.#inputBytes.take(bytes)) {
      this.#socket.emit('notice', { level: 'warn', text: 'input dropped: too fast' });
      return undefined;
    }
    this.#session.write(data);
    return undefined;
  }

  #resize(size) {
    if (!validSize(size)) return this.#refuse('resize: bad terminal size');
    this.#session?.resize(size.cols, size.rows).catch((e) => this.#log('resize_failed', { user: this.user, code: e.code }));
    return undefined;
  }

  #ack(seq) {
    if (!this.#window.acked(seq)) this.#refuse('ack: unknown sequence number');
  }

  #exited({ exitCode, signal, report }) {
    this.#log('session_exited', { user: this.user, session: this.#session?.id, exitCode, signal, status: report?.status });
    this.#session = null;
    if (this.#closed) return;
    this.#socket.emit('exit', { exitCode, signal, status: report?.status ?? null });
    this.#socket.disconnect(true);
  }

  #refuse(why) {
    if (this.#closed) return;
    this.#log('socket_refused', { user: this.user, why });
    this.#socket.emit('notice', { level: 'error', text: why });
    this.#socket.disconnect(true);
  }

  // The session ends with the tab: there is no grace period to re-attach, so a closed or
  // reloaded tab never leaves a shell running that nobody can see.
  #close(reason) {
    if (this.#closed) return;
    this.#closed = true;
    this.#log('socket_closed', { user: this.user, reason, session: this.#session?.id ?? null });
    if (this.#session) this.#kill(this.#session);
  }

  // A session that ended on its own meanwhile answers not_found: nothing left to do.
  #kill(session) {
    session.kill().catch((e) => {
      if (e.code !== 'not_found') this.#log('kill_failed', { user: this.user, session: session.id, code: e.code });
    });
  }
}
