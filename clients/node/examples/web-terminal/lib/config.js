// The server's settings: built-in defaults, then an optional JSON file (WEB_TERMINAL_CONFIG or
// --config), then environment variables. Everything that decides what runs in the jail (the
// profile, argv, env) lives here and never comes from the browser.
import fs from 'node:fs';

const DEFAULTS = {
  listen_host: '127.0.0.1',
  listen_port: 8080,
  ccjail_socket: '/run/ccjail/ccjaild.sock',
  profile: 'shell',
  argv: [],
  jail_env: { TERM: 'xterm-256color', COLORTERM: 'truecolor' },
  allowed_origins: [],
  jwt_secret_file: null,
  jwt_issuer: 'ccjail-web-terminal',
  jwt_audience: 'ccjail-web-terminal',
  token_ttl_seconds: 300,
  max_token_ttl_seconds: 900,
  clock_tolerance_seconds: 5,
  messages_per_second: 100,
  message_burst: 200,
  max_input_bytes: 16384,
  input_bytes_per_second: 65536,
  input_burst_bytes: 262144,
  output_window_chars: 262144,
  max_http_buffer_bytes: 65536,
  trust_proxy: false,
};

const ENV = {
  WEB_TERMINAL_HOST: ['listen_host', String],
  WEB_TERMINAL_PORT: ['listen_port', Number],
  CCJAIL_SOCKET: ['ccjail_socket', String],
  WEB_TERMINAL_PROFILE: ['profile', String],
  WEB_TERMINAL_ORIGINS: ['allowed_origins', (v) => v.split(',').map((s) => s.trim()).filter(Boolean)],
  WEB_TERMINAL_JWT_SECRET_FILE: ['jwt_secret_file', String],
  WEB_TERMINAL_TOKEN_TTL: ['token_ttl_seconds', Number],
  WEB_TERMINAL_TRUST_PROXY: ['trust_proxy', (v) => v === '1' || v === 'true'],
};

export class ConfigError extends Error {}

function readFileConfig(file) {
  if (!file) return {};
  const obj = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const key of Object.keys(obj)) {
    if (!(key in DEFAULTS)) throw new ConfigError(`${file}: ${key}: unknown key`);
  }
  return obj;
}

function readEnvConfig(env) {
  const out = {};
  for (const [name, [key, parse]] of Object.entries(ENV)) {
    if (env[name] !== undefined && env[name] !== '') out[key] = parse(env[name]);
  }
  return out;
}

// An origin is scheme://host[:port] exactly as a browser sends it in the Origin header.
function checkOrigins(origins) {
  if (!Array.isArray(origins) || origins.length === 0) {
    throw new ConfigError('allowed_origins: give at least one origin (WEB_TERMINAL_ORIGINS)');
  }
  for (const o of origins) {
    if (o === '*' || o === 'null') throw new ConfigError(`allowed_origins: ${o} is not allowed`);
    let u;
    try {
      u = new URL(o);
    } catch {
      throw new ConfigError(`allowed_origins: ${o} is not an origin`);
    }
    if (u.origin !== o) throw new ConfigError(`allowed_origins: ${o} is not an origin (want ${u.origin})`);
  }
}

// The secret comes from a file (mode 0600, the server user's) or WEB_TERMINAL_JWT_SECRET;
// a short secret makes HS256 guessable offline from any captured token.
function loadSecret(cfg, env) {
  let secret = env.WEB_TERMINAL_JWT_SECRET;
  if (cfg.jwt_secret_file) secret = fs.readFileSync(cfg.jwt_secret_file, 'utf8').trim();
  if (!secret || Buffer.byteLength(secret) < 32) {
    throw new ConfigError('jwt secret: set WEB_TERMINAL_JWT_SECRET_FILE (or WEB_TERMINAL_JWT_SECRET), at least 32 bytes');
  }
  return secret;
}

export function loadConfig({ file, env = process.env, needOrigins = true } = {}) {
  const cfg = { ...DEFAULTS, ...readFileConfig(file ?? env.WEB_TERMINAL_CONFIG), ...readEnvConfig(env) };
  if (needOrigins) checkOrigins(cfg.allowed_origins);
  if (!Number.isInteger(cfg.listen_port) || cfg.listen_port < 0 || cfg.listen_port > 65535) {
    throw new ConfigError(`listen_port: ${cfg.listen_port} is not a port`);
  }
  cfg.auth = {
    secret: loadSecret(cfg, env),
    issuer: cfg.jwt_issuer,
    audience: cfg.jwt_audience,
    tokenTtlSeconds: cfg.token_ttl_seconds,
    maxTokenTtlSeconds: cfg.max_token_ttl_seconds,
    clockToleranceSeconds: cfg.clock_tolerance_seconds,
  };
  return cfg;
}
