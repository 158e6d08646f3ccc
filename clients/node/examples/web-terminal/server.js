// The web-terminal example: Express serves the page, Socket.IO carries one jailed ccjail
// session per browser tab. Run it as a non-root user in the `ccjail` group; it talks only to
// ccjaild's socket and never holds an API key (profiles give secrets to jails, not to us).
//
//   node server.js [--config FILE]                 serve (see README.md for the settings)
//   node server.js --issue-token USER [--ttl SEC]  print a token for USER (dev and tests)
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import express from 'express';
import { Server } from 'socket.io';
import { connect } from '../../src/index.js';
import { AuthError, issueToken, verifyToken } from './lib/auth.js';
import { ConfigError, loadConfig } from './lib/config.js';
import { TerminalSession } from './lib/terminal-session.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, 'node_modules');

// One JSON object a line on stdout. Tokens are never logged, only what they proved.
function log(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), event, ...fields })}\n`);
}

// Defence in depth: the reverse proxy sets these too (README.md), but the page must not
// depend on it. xterm.js writes its theme into a <style> element, hence 'unsafe-inline' for
// styles only; no inline or foreign script can run.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(req, res, next) {
  res.set({
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  });
  next();
}

function makeApp(cfg) {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders);
  const opts = { index: 'index.html', fallthrough: true, dotfiles: 'deny' };
  app.use('/vendor/xterm', express.static(path.join(modules, '@xterm/xterm/lib'), opts));
  app.use('/vendor/xterm', express.static(path.join(modules, '@xterm/xterm/css'), opts));
  app.use('/vendor/addon-fit', express.static(path.join(modules, '@xterm/addon-fit/lib'), opts));
  app.use(express.static(path.join(here, 'public'), opts));
  return app;
}

// ccjaild multiplexes every session over one connection; it is opened on first use and again
// after it drops, so the server can start before the daemon does.
function supervisorGetter(cfg) {
  let pending = null;
  return () => {
    if (!pending) {
      pending = connect({ socketPath: cfg.ccjail_socket }).then(
        (sup) => {
          log('ccjaild_connected', { socket: cfg.ccjail_socket });
          sup.on('error', (e) => log('ccjaild_error', { message: e.message }));
          sup.on('close', () => {
            log('ccjaild_closed');
            pending = null;
          });
          return sup;
        },
        (e) => {
          pending = null;
          throw e;
        },
      );
    }
    return pending;
  };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

// For the log only. X-Forwarded-For is believed only from a proxy on this host, and only its
// last entry, the one nginx appended: the entries before it are whatever the browser sent.
function peerAddress(handshake, cfg) {
  const forwarded = handshake.headers['x-forwarded-for'];
  if (cfg.trust_proxy && typeof forwarded === 'string' && LOOPBACK.has(handshake.address)) {
    return forwarded.split(',').pop().trim();
  }
  return handshake.address;
}

function makeIo(server, cfg, getSupervisor) {
  const allowed = new Set(cfg.allowed_origins);
  const io = new Server(server, {
    // WebSocket only: browsers do not apply CORS to WebSocket, so the Origin check below is
    // what keeps other sites' pages out; the HTTP long-polling transport is not offered at all.
    transports: ['websocket'],
    cors: { origin: [...allowed], credentials: false },
    allowRequest: (req, cb) => cb(null, allowed.has(req.headers.origin)),
    maxHttpBufferSize: cfg.max_http_buffer_bytes,
    connectTimeout: 10000,
    pingInterval: 20000,
    pingTimeout: 20000,
  });
  io.use((socket, next) => {
    try {
      socket.data.user = verifyToken(cfg.auth, socket.handshake.auth?.token);
      next();
    } catch (e) {
      const why = e instanceof AuthError ? e.message : `internal: ${e.message}`;
      log('auth_refused', { why, address: peerAddress(socket.handshake, cfg) });
      next(new Error('unauthorized'));
    }
  });
  io.on('connection', (socket) => {
    log('socket_connected', { user: socket.data.user, address: peerAddress(socket.handshake, cfg) });
    new TerminalSession({ socket, cfg, log, getSupervisor }); // eslint-disable-line no-new
  });
  return io;
}

function serve(cfg) {
  if (process.getuid?.() === 0) {
    throw new ConfigError('refusing to run as root: run as a user in the ccjail group');
  }
  const server = http.createServer(makeApp(cfg));
  const io = makeIo(server, cfg, supervisorGetter(cfg));
  server.listen(cfg.listen_port, cfg.listen_host, () => {
    const { address, port } = server.address();
    log('listening', { address, port, profile: cfg.profile, origins: cfg.allowed_origins });
  });
  const stop = (signal) => {
    log('stopping', { signal });
    // Disconnecting every socket kills every session (TerminalSession#close).
    io.close();
    setTimeout(() => process.exit(0), 1500).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      'issue-token': { type: 'string' },
      ttl: { type: 'string' },
    },
  });
  if (values['issue-token'] !== undefined) {
    const cfg = loadConfig({ file: values.config, needOrigins: false });
    const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
    process.stdout.write(`${issueToken(cfg.auth, values['issue-token'], ttl)}\n`);
    return;
  }
  serve(loadConfig({ file: values.config }));
}

try {
  main(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof ConfigError || e instanceof AuthError)) throw e;
  process.stderr.write(`web-terminal: ${e.message}\n`);
  process.exit(2);
}
