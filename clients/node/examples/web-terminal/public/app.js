// The page: one xterm.js terminal bound to one jailed session over Socket.IO.
//
// The token arrives in the URL fragment (#token=...): browsers never send a fragment to a
// server, so it stays out of request lines, access logs and Referer headers. The page moves it
// into memory and removes it from the address bar and history at once. It is sent only in
// the Socket.IO handshake's `auth` payload.
import { Terminal } from '/vendor/xterm/xterm.mjs';
import { FitAddon } from '/vendor/addon-fit/addon-fit.mjs';
import { io } from '/socket.io/socket.io.esm.min.js';

// The server drops input messages above 16 KiB; 4096 UTF-16 units are at most 12 KiB.
const INPUT_CHUNK = 4096;
// Acknowledgements are cumulative, so one every ACK_DELAY_MS covers any number of chunks and
// stays far below the server's message rate limit.
const ACK_DELAY_MS = 20;

function takeTokenFromFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get('token');
  if (window.location.hash) {
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return token;
}

const statusEl = document.getElementById('status');
function setState(state, text) {
  document.body.dataset.state = state;
  statusEl.textContent = text;
}

const term = new Terminal({
  cursorBlink: true,
  fontFamily: 'monospace',
  fontSize: 15,
  scrollback: 5000,
  theme: { background: '#101418' },
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open(document.getElementById('terminal'));
fit.fit();

const socket = io({
  transports: ['websocket'],
  auth: { token: takeTokenFromFragment() },
  // A new connection would be a new jail: the tab shows that the session ended instead.
  reconnection: false,
});

let ackSeq = 0;
let ackTimer = null;
function acknowledge(seq) {
  ackSeq = Math.max(ackSeq, seq);
  if (ackTimer !== null) return;
  ackTimer = setTimeout(() => {
    ackTimer = null;
    socket.emit('ack', ackSeq);
  }, ACK_DELAY_MS);
}

setState('connecting', 'connecting');
socket.on('connect', () => {
  setState('starting', 'starting a jailed session');
  socket.emit('start', { cols: term.cols, rows: term.rows });
});
socket.on('connect_error', (err) => {
  const unauthorized = err.message === 'unauthorized';
  setState(unauthorized ? 'unauthorized' : 'error', unauthorized ? 'not signed in (token missing, expired or invalid)' : `cannot connect: ${err.message}`);
});
socket.on('ready', ({ session }) => {
  setState('ready', `session ${session}`);
  term.focus();
});
// The callback runs once xterm.js has parsed the chunk: only then does the server count it as
// delivered, so a tab that cannot keep up pauses the jail instead of queueing without bound.
socket.on('output', ({ seq, data }) => term.write(data, () => acknowledge(seq)));
socket.on('notice', ({ level, text }) => {
  term.write(`\r\n\x1b[33m[${level}] ${text}\x1b[0m\r\n`);
});
socket.on('exit', ({ exitCode, status }) => {
  setState('exited', `session ended (${status ?? 'exited'}, code ${exitCode})`);
});
socket.on('disconnect', (reason) => {
  if (document.body.dataset.state !== 'exited') setState('closed', `disconnected (${reason})`);
});

// Splits a paste into messages the server accepts, never between the halves of a surrogate pair.
function* inputChunks(data) {
  let i = 0;
  while (i < data.length) {
    let end = Math.min(i + INPUT_CHUNK, data.length);
    const last = data.charCodeAt(end - 1);
    if (end < data.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    yield data.slice(i, end);
    i = end;
  }
}

term.onData((data) => {
  if (!socket.connected) return;
  for (const chunk of inputChunks(data)) socket.emit('input', chunk);
});
term.onResize(({ cols, rows }) => {
  if (socket.connected) socket.emit('resize', { cols, rows });
});

let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => fit.fit(), 100);
});

// For scripts of this origin (the browser test reads the rendered buffer through it).
window.webTerminal = { term, socket };
