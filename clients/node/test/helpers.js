// Shared helpers of the Node client tests: the daemon run.sh started, a private daemon for
// the restart test, and small stream utilities.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { connect } from '../src/index.js';

export const SOCKET = process.env.CCJAIL_SOCKET;
export const DAEMON_PID = Number(process.env.CCJAILD_PID) || 0;
export const NO_DAEMON = SOCKET ? false : 'no ccjaild: run through test/run.sh BUILD-DIR (as root)';

/** A fresh user label per test: per-label session and spawn-rate limits never interfere. */
export function user(prefix) {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export function connectTest(options = {}) {
  return connect({ socketPath: SOCKET, requestTimeoutMs: 20000, ...options });
}

export function sha256(buffer) {
  return createHash('sha256').update(buffer).digest('hex');
}

export async function collect(readable) {
  const chunks = [];
  for await (const chunk of readable) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export function exitOf(session) {
  if (session.state === 'exited') return Promise.resolve({ exitCode: session.exitCode, signal: session.signal, report: session.report });
  return new Promise((resolve) => session.onExit(resolve));
}

/** Resolves with everything the terminal printed once `pattern` matches it. */
export function waitForOutput(session, pattern, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no ${pattern} within ${timeoutMs} ms; got ${JSON.stringify(text.slice(-500))}`));
    }, timeoutMs);
    const sub = session.onData((data) => {
      text += data;
      if (pattern.test(text)) {
        clearTimeout(timer);
        sub.dispose();
        resolve(text);
      }
    });
  });
}

export function vmRssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function socketAccepts(socketPath) {
  return new Promise((resolve) => {
    const socket = net.createConnection({ path: socketPath });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A ccjaild of its own (same binaries, profiles and config as run.sh's), for tests that kill
 * and restart the daemon. Restarts keep the state dir, so the daemon re-adopts its sessions.
 */
export class PrivateDaemon {
  constructor(name) {
    this.root = path.join(process.env.CCJAIL_TEST_ROOT, `private-${name}-${randomBytes(3).toString('hex')}`);
    mkdirSync(path.join(this.root, 'state'), { recursive: true, mode: 0o755 });
    this.socket = path.join(this.root, 'state', 'run', 'ccjaild.sock');
    this.logPath = path.join(this.root, 'ccjaild.log');
    this.child = null;
  }

  async start() {
    const args = [
      '--config', process.env.CCJAIL_TEST_CONFIG,
      '--state-dir', path.join(this.root, 'state'),
      '--profiles-dir', process.env.CCJAIL_TEST_PROFILES,
      '--exec-path', process.env.CCJAIL_EXEC_BIN,
      '--socket', this.socket,
    ];
    const log = openSync(this.logPath, 'a');
    this.child = spawn(process.env.CCJAILD_BIN, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.exited = exited;
    for (let i = 0; i < 150; i++) {
      if (this.child.exitCode !== null) break;
      if (existsSync(this.socket) && (await socketAccepts(this.socket))) return;
      await sleep(100);
    }
    throw new Error(`private ccjaild did not start; log:\n${this.log()}`);
  }

  get pid() {
    return this.child?.pid;
  }

  async kill(signal) {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    await this.exited;
  }

  async stop() {
    await withTimeout(this.kill('SIGTERM'), 30000, 'private ccjaild stop').catch(() => this.kill('SIGKILL'));
  }

  log() {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
  }

  remove() {
    rmSync(this.root, { recursive: true, force: true });
  }
}
