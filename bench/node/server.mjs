// node-oidc-provider configured for the same scenarios as Tessera's bench (bench/run starts it).
//
//   PORT=4010 ALG=RS256|ES256 CLIENT_ID=bench CLIENT_SECRET=... [WORKERS=2] node server.mjs
//
// One process by default (one event loop, how node-oidc-provider usually runs). WORKERS=N runs N processes
// with node:cluster sharing the port and the keys; storage stays per process, so only the stateless
// client_credentials/JWT scenario is valid in that mode.
//
// - client_credentials with resource indicators: the default resource `urn:bench:api` gets JWT access tokens
//   signed with ALG (RFC 9068 `at+jwt`); `resource=urn:bench:opaque` gets an opaque (stored) token.
// - introspection: oidc-provider does not store JWT access tokens, so it cannot introspect them (it answers
//   active:false); its introspection scenario uses its own opaque token, looked up in the store — the
//   counterpart of Tessera's signature check + database row lookup.
// - refresh with rotation (`rotateRefreshToken: true`): `GET /bench/seed-refresh?n=N` creates N grants, each
//   with one refresh token (scope `offline_access api`, resource urn:bench:api), as a finished code flow would.
//   Each refresh issues a new refresh token and a JWT access token (no ID token: no `openid` scope), as the
//   Tessera refresh scenario does.
// - storage: an unbounded in-memory Map (the bundled memory adapter is a 1,000-entry LRU, too small for a
//   load test). That is faster than any real database, which favours node-oidc-provider in the comparison.
// - the client's metadata has no `scope` (every scope the resource server allows is allowed).
import cluster from 'node:cluster';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT || 4010);
const ALG = process.env.ALG || 'RS256';
const ISSUER = `http://127.0.0.1:${PORT}`;
const CLIENT_ID = process.env.CLIENT_ID || 'bench';
const CLIENT_SECRET = process.env.CLIENT_SECRET || 'bench-secret-bench-secret-bench-secret';
const API = 'urn:bench:api';
const OPAQUE = 'urn:bench:opaque';
const WORKERS = Number(process.env.WORKERS || 1);

// ---- storage: a plain Map with expiry, unbounded --------------------------------------------------------------
const store = new Map();
const grants = new Map(); // grantId -> Set of keys
const now = () => Math.floor(Date.now() / 1000);

class MapAdapter {
  constructor(name) { this.name = name; }
  key(id) { return `${this.name}:${id}`; }
  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, { payload, exp: expiresIn ? now() + expiresIn : undefined });
    if (payload.grantId) {
      let set = grants.get(payload.grantId);
      if (!set) grants.set(payload.grantId, (set = new Set()));
      set.add(key);
    }
  }
  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.exp !== undefined && entry.exp < now()) { store.delete(this.key(id)); return undefined; }
    return entry.payload;
  }
  async findByUserCode() { return undefined; }
  async findByUid(uid) {
    for (const [k, v] of store) if (k.startsWith(`${this.name}:`) && v.payload.uid === uid) return v.payload;
    return undefined;
  }
  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = now();
  }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    const set = grants.get(grantId);
    if (set) { for (const k of set) store.delete(k); grants.delete(grantId); }
  }
}

// ---- keys ------------------------------------------------------------------------------------------------------
function jwk(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg}-${randomBytes(4).toString('hex')}` };
}
const keys = process.env.BENCH_KEYS
  ? JSON.parse(process.env.BENCH_KEYS)
  : [jwk('rsa', { modulusLength: 2048 }, 'RS256'), jwk('ec', { namedCurve: 'P-256' }, 'ES256')];

if (WORKERS > 1 && cluster.isPrimary) {
  const env = { BENCH_KEYS: JSON.stringify(keys), COOKIE_KEY: randomBytes(32).toString('hex') };
  for (let i = 0; i < WORKERS; i += 1) cluster.fork(env);
  const stopAll = () => { for (const w of Object.values(cluster.workers)) w.kill('SIGTERM'); setTimeout(() => process.exit(0), 500); };
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);
  console.log(`node-oidc-provider ${ALG}: ${WORKERS} workers on ${ISSUER}`);
} else {
  serve();
}

// ---- one provider process ---------------------------------------------------------------------------------------
function serve() {
  // ---- provider --------------------------------------------------------------------------------------------------
  const provider = new Provider(ISSUER, {
    adapter: MapAdapter,
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials', 'refresh_token', 'authorization_code'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:9/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys },
    cookies: { keys: [process.env.COOKIE_KEY || randomBytes(32).toString('hex')] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    scopes: ['openid', 'offline_access', 'api'],
    rotateRefreshToken: true,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf || API,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource === OPAQUE) return { scope: 'api', accessTokenFormat: 'opaque' };
          if (resource === API) return { scope: 'api', audience: API, accessTokenFormat: 'jwt', jwt: { sign: { alg: ALG } } };
          throw new Provider.errors.InvalidTarget();
        },
      },
    },
    ttl: { AccessToken: 3600, ClientCredentials: 3600, RefreshToken: 14 * 24 * 3600, Grant: 14 * 24 * 3600 },
  });
  provider.proxy = false;

  // ---- bench-only seeding route ----------------------------------------------------------------------------------
  provider.use(async (ctx, next) => {
    if (ctx.path !== '/bench/seed-refresh') return next();
    const n = Math.min(Number(ctx.query.n || 64), 10000);
    const client = await provider.Client.find(CLIENT_ID);
    const out = [];
    for (let i = 0; i < n; i += 1) {
      const accountId = `bench-user-${i}`;
      const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
      grant.addOIDCScope('offline_access');
      grant.addResourceScope(API, 'api');
      const grantId = await grant.save();
      const rt = new provider.RefreshToken({
        accountId, client, grantId, gty: 'authorization_code', iiat: now(), authTime: now(),
        scope: 'offline_access api', resource: API, expiresWithSession: false,
      });
      out.push(await rt.save());
    }
    ctx.type = 'text/plain';
    ctx.body = `${out.join('\n')}\n`;
  });

  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  const server = provider.listen(PORT, '127.0.0.1', () => console.log(`node-oidc-provider ${ALG} listening on ${ISSUER}`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
