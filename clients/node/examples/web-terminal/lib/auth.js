// Browser tabs prove who they are with a short-lived HS256 JWT that travels in the Socket.IO
// handshake's `auth` payload: never in a URL, where proxies, logs and the Referer header would
// keep it. The token's `sub` becomes the jail's user label, so it is held to the daemon's
// label charset here rather than trusted to be harmless.
import jwt from 'jsonwebtoken';

export const USER_LABEL = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export class AuthError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AuthError';
  }
}

export function issueToken(auth, user, ttlSeconds = auth.tokenTtlSeconds) {
  if (!USER_LABEL.test(user)) throw new AuthError(`not a valid user label: ${JSON.stringify(user)}`);
  if (ttlSeconds > auth.maxTokenTtlSeconds) {
    throw new AuthError(`ttl ${ttlSeconds}s is above the server's limit of ${auth.maxTokenTtlSeconds}s`);
  }
  return jwt.sign({}, auth.secret, {
    algorithm: 'HS256',
    subject: user,
    issuer: auth.issuer,
    audience: auth.audience,
    expiresIn: ttlSeconds,
  });
}

// Returns the user label, or throws AuthError with a reason for the server's log (the browser
// only ever learns "unauthorized").
export function verifyToken(auth, token) {
  if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
    throw new AuthError('no token');
  }
  let claims;
  try {
    claims = jwt.verify(token, auth.secret, {
      // Pinning the algorithm is what stops `alg: none` and key-confusion tokens.
      algorithms: ['HS256'],
      issuer: auth.issuer,
      audience: auth.audience,
      clockTolerance: auth.clockToleranceSeconds,
      maxAge: `${auth.maxTokenTtlSeconds + auth.clockToleranceSeconds}s`,
    });
  } catch (e) {
    throw new AuthError(`${e.name}: ${e.message}`);
  }
  // jsonwebtoken accepts a token without `exp`; a token that never expires is refused here.
  if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number') {
    throw new AuthError('token has no exp or iat');
  }
  if (claims.exp - claims.iat > auth.maxTokenTtlSeconds) {
    throw new AuthError('token lifetime is above the server limit');
  }
  if (typeof claims.sub !== 'string' || !USER_LABEL.test(claims.sub)) {
    throw new AuthError('sub is not a valid user label');
  }
  return claims.sub;
}
