// The Claude Agent SDK's `spawnClaudeCodeProcess` hook, backed by a jailed pipe-mode session.
//
// The SDK passes {command, args, cwd, env, signal} and expects a ChildProcess-like object
// (its SpawnedProcess type). In the jail the profile decides the executable; the SDK's command
// and host paths mean nothing there, and its args are only data for the profile's argv policy.

import { EventEmitter } from 'node:events';

import { CcjailError, ClientErrorCode } from './errors.js';
import { checkArgv, invalid } from './validate.js';

// Without a mapArgs option, everything before the first flag is dropped: the SDK puts the
// CLI script there when it runs Claude Code through node, and the jail has its own copy.
function defaultArgs(args) {
  const first = args.findIndex((arg) => typeof arg === 'string' && arg.startsWith('-'));
  return first < 0 ? [] : args.slice(first);
}

function pickEnv(env, names) {
  const picked = {};
  for (const name of names) {
    const value = env?.[name];
    if (typeof value === 'string') picked[name] = value;
  }
  return picked;
}

class JailedChildProcess extends EventEmitter {
  constructor(session, { killGraceMs }) {
    super();
    this._session = session;
    this._killGraceMs = killGraceMs;
    this.stdin = session.stdin;
    this.stdout = session.stdout;
    this.stderr = session.stderr;
    this.stdio = [this.stdin, this.stdout, this.stderr];
    this.killed = false;
    this.exitCode = null;
    this.signalCode = null;
    this.pid = undefined;
    this.sessionId = undefined;
    this.report = null;

    session.ready.then(
      () => {
        this.pid = session.pid;
        this.sessionId = session.id;
        this.emit('spawn');
      },
      (error) => this._fail(error),
    );
    session.once('exit', () => {
      if (!session.report) return;
      const { code, signal } = session._childExit();
      this.exitCode = code;
      this.signalCode = signal;
      this.report = session.report;
      this.emit('exit', code, signal);
    });
    session.once('close', (code, signal) => {
      if (session.report) this.emit('close', code, signal);
    });
    session.on('error', (error) => this._error(error));
  }

  /** Like ChildProcess#kill: returns whether the request went out, settles asynchronously. */
  kill(signal = 'SIGTERM') {
    if (this.exitCode !== null || this.signalCode !== null || this._failedWith) return false;
    this.killed = true;
    const run = () => this._session.kill(signal, { graceMs: this._killGraceMs });
    this._session.ready.then(run).catch((error) => {
      if (error?.code !== ClientErrorCode.CLOSED) this._error(error);
    });
    return true;
  }

  _fail(error) {
    this._failedWith = error;
    this._error(error);
    this.emit('close', null, null);
  }

  _error(error) {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/**
 * Returns a function for the Agent SDK's `spawnClaudeCodeProcess` option.
 * @param {import('./supervisor.js').Supervisor} supervisor
 * @param {object} options profile, user, workspace, cwd, passEnv, env, limits, mapArgs, killGraceMs
 */
export function asSdkSpawner(supervisor, options = {}) {
  if (typeof options.profile !== 'string') throw invalid('profile', 'required string');
  if (typeof options.user !== 'string') throw invalid('user', 'required string');
  const passEnv = options.passEnv ?? [];
  const mapArgs = options.mapArgs ?? defaultArgs;

  return function spawnClaudeCodeProcess(sdk) {
    const argv = checkArgv(mapArgs(sdk?.args ?? [], sdk), 'args');
    const env = { ...pickEnv(sdk?.env, passEnv), ...(options.env ?? {}) };
    const spawnOptions = {
      profile: options.profile,
      user: options.user,
      argv,
      mode: 'pipe',
      workspace: options.workspace,
      cwd: options.cwd,
      limits: options.limits,
      process: options.profile,
    };
    if (Object.keys(env).length > 0) spawnOptions.env = env;
    if (sdk?.signal?.aborted) {
      throw new CcjailError(ClientErrorCode.CLOSED, 'aborted before the spawn');
    }
    const session = supervisor.createSession(spawnOptions);
    const child = new JailedChildProcess(session, { killGraceMs: options.killGraceMs });
    const signal = sdk?.signal;
    if (signal) {
      const onAbort = () => child.kill(options.abortSignal ?? 'SIGTERM');
      signal.addEventListener('abort', onAbort, { once: true });
      session.once('exit', () => signal.removeEventListener('abort', onAbort));
      session.ready.catch(() => signal.removeEventListener('abort', onAbort));
    }
    return child;
  };
}
