#!/usr/bin/env node
// A fake Anthropic Messages API for the e2e tier: just enough of /v1/messages for the real
// Claude Code CLI to run one agentic turn with no internet. The first turn of a conversation is
// answered with a tool_use of the Bash tool (its command writes a marker file in the cwd and
// prints the uid), the turn that carries the tool_result with plain text. Every request is
// appended to the log as one JSON line (method, path, headers, body), so a test can check what
// reached the "upstream" (the key header the gateway added, the absence of one from the jail).
//
// Usage: node fake_anthropic_api.mjs --log FILE [--port N] [--port-file FILE]
//                                    [--cert PEM --key PEM]   (HTTPS; plain HTTP without)
// Node 20, no npm dependencies. Stops on SIGTERM/SIGINT.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';

export const TOOL_COMMAND = 'echo e2e-made-by-tool > made-by-tool.txt && echo "tool-uid=$(id -u)"';
export const FINAL_TEXT = 'E2E-FAKE-ANSWER: the marker file is written.';

function parseArgs(argv) {
  const options = { port: 0, host: '127.0.0.1' };
  for (let i = 2; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    options[name] = argv[i + 1];
  }
  if (!options.log) {
    throw new Error('--log FILE is required');
  }
  options.port = Number(options.port);
  return options;
}

// Claude Code 2.x sends content as a string or as blocks; a tool_result block in the last user
// message means the tool ran and the model's next turn is due.
function lastUserHasToolResult(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1];
  if (!last || last.role !== 'user' || !Array.isArray(last.content)) {
    return false;
  }
  return last.content.some((block) => block && block.type === 'tool_result');
}

function offersBash(body) {
  return Array.isArray(body.tools) && body.tools.some((tool) => tool && tool.name === 'Bash');
}

// What the model "says" for this request: a list of content blocks and the stop reason.
// Requests without the Bash tool (titles, summaries, the CLI's own small-model side calls) get
// short text, so they never start a second tool round.
function answerFor(body) {
  if (offersBash(body) && !lastUserHasToolResult(body)) {
    return {
      stopReason: 'tool_use',
      blocks: [
        { type: 'text', text: 'I will write the marker file.' },
        {
          type: 'tool_use',
          id: `toolu_e2e${crypto.randomBytes(8).toString('hex')}`,
          name: 'Bash',
          input: { command: TOOL_COMMAND, description: 'Write the e2e marker file' },
        },
      ],
    };
  }
  const text = offersBash(body) ? FINAL_TEXT : 'E2E side answer';
  return { stopReason: 'end_turn', blocks: [{ type: 'text', text }] };
}

function usage(outputTokens) {
  return {
    input_tokens: 12,
    output_tokens: outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
}

function messageObject(body, answer) {
  return {
    id: `msg_e2e${crypto.randomBytes(8).toString('hex')}`,
    type: 'message',
    role: 'assistant',
    model: body.model || 'claude-e2e-fake',
    content: answer.blocks,
    stop_reason: answer.stopReason,
    stop_sequence: null,
    usage: usage(8),
  };
}

function sse(res, event, data) {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

// Splits a string in a few pieces, as the real API streams text and tool input in deltas.
function pieces(text, count = 3) {
  const size = Math.max(1, Math.ceil(text.length / count));
  const out = [];
  for (let at = 0; at < text.length; at += size) {
    out.push(text.slice(at, at + size));
  }
  return out.length ? out : [''];
}

function streamMessage(res, body, answer) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'request-id': `req_e2e${crypto.randomBytes(6).toString('hex')}`,
  });
  const message = messageObject(body, answer);
  sse(res, 'message_start', {
    type: 'message_start',
    message: { ...message, content: [], stop_reason: null, usage: usage(1) },
  });
  sse(res, 'ping', { type: 'ping' });
  answer.blocks.forEach((block, index) => {
    if (block.type === 'text') {
      sse(res, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      for (const piece of pieces(block.text)) {
        sse(res, 'content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text: piece },
        });
      }
    } else {
      sse(res, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      for (const piece of pieces(JSON.stringify(block.input))) {
        sse(res, 'content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: piece },
        });
      }
    }
    sse(res, 'content_block_stop', { type: 'content_block_stop', index });
  });
  sse(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: answer.stopReason, stop_sequence: null },
    usage: { output_tokens: 8 },
  });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

function sendJson(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const MODELS = {
  data: [
    {
      type: 'model',
      id: 'claude-sonnet-4-5',
      display_name: 'Claude Sonnet (e2e fake)',
      created_at: '2025-01-01T00:00:00Z',
    },
  ],
  has_more: false,
  first_id: 'claude-sonnet-4-5',
  last_id: 'claude-sonnet-4-5',
};

function handle(req, res, rawBody) {
  const url = new URL(req.url, 'http://fake');
  let body = null;
  try {
    body = rawBody.length ? JSON.parse(rawBody) : null;
  } catch {
    body = { unparsed: rawBody.toString('utf8').slice(0, 4096) };
  }
  if (req.method === 'POST' && url.pathname === '/v1/messages') {
    const answer = answerFor(body || {});
    if (body && body.stream) {
      streamMessage(res, body, answer);
    } else {
      sendJson(res, 200, messageObject(body || {}, answer));
    }
    return;
  }
  if (req.method === 'POST' && url.pathname === '/v1/messages/count_tokens') {
    sendJson(res, 200, { input_tokens: 42 });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/v1/models') {
    sendJson(res, 200, MODELS);
    return;
  }
  if (req.method === 'GET' && url.pathname.startsWith('/v1/models/')) {
    sendJson(res, 200, MODELS.data[0]);
    return;
  }
  if (req.method === 'HEAD' || (req.method === 'GET' && url.pathname === '/')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(req.method === 'HEAD' ? undefined : 'fake anthropic api\n');
    return;
  }
  sendJson(res, 404, {
    type: 'error',
    error: { type: 'not_found_error', message: `fake api: no route ${req.method} ${url.pathname}` },
  });
}

function main() {
  const options = parseArgs(process.argv);
  const log = fs.openSync(options.log, 'a');
  const onRequest = (req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      let body;
      try {
        body = rawBody.length ? JSON.parse(rawBody) : null;
      } catch {
        body = rawBody.toString('utf8').slice(0, 4096);
      }
      const entry = { ts: Date.now(), method: req.method, path: req.url, headers: req.headers, body };
      fs.writeSync(log, `${JSON.stringify(entry)}\n`);
      try {
        handle(req, res, rawBody);
      } catch (error) {
        sendJson(res, 500, { type: 'error', error: { type: 'api_error', message: String(error) } });
      }
    });
  };
  const server = options.cert
    ? https.createServer({ cert: fs.readFileSync(options.cert), key: fs.readFileSync(options.key) }, onRequest)
    : http.createServer(onRequest);
  server.listen(options.port, options.host, () => {
    const { port } = server.address();
    if (options.portFile) {
      fs.writeFileSync(`${options.portFile}.tmp`, `${port}\n`);
      fs.renameSync(`${options.portFile}.tmp`, options.portFile);
    }
    process.stdout.write(`fake anthropic api on ${options.cert ? 'https' : 'http'}://${options.host}:${port}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
