// Sessions over HTTP for edge runtimes, shared by the Cloudflare Worker and the Deno server:
// the routes /put?message=TEXT, /get, /renew and /destroy, each a load-act-save of the
// request's session, answered with Web `Response`s.
//
// The stored record and the cookie are the other hosts' (host-example, the wasi:http edge
// app, the Node host), so they share sessions on one libSQL server: the data is the JSON
// `{"deadline": <ms since the epoch>, "values": {...}}` (the absolute deadline travels with
// the values), and the cookie is `session=<token>; Path=/; Max-Age=<s>; HttpOnly;
// SameSite=Lax`, plus `Secure` when the request came over https. Max-Age is the whole seconds
// left before the deadline, rounded down, so the cookie never outlives the session.
//
// Saves are final: an existing session is saved with `update`, which never brings back a
// session that a concurrent /destroy or /renew ended; such a request stores nothing, clears
// the cookie and answers 409. A forged, malformed, unknown or expired cookie gets a fresh
// session (never an error page), whose token the store draws when it is first saved.
//
// Status codes: 200 done; 404 unknown path; 409 the session ended while the request ran;
// 413 session data over SESSIONS_MAX_DATA_BYTES, or a request body (the routes take none)
// over MAX_REQUEST_BODY_BYTES; 503 with Retry-After: 1 when the store is unavailable (server
// down or slow, auth token refused); 500 any other store failure. Error bodies are generic:
// the details, which may name hosts, go to the log (with the auth token and URL passwords
// redacted).

import { StoreError, refuseDatabase, sweepUntilDone } from './store.js';

export const COOKIE_NAME = 'session';

/** The value /put stores when no `message` is given. */
export const DEFAULT_MESSAGE = 'Hello from a session!';

/** The session lifetime when EDGE_SESSION_LIFETIME is unset: 24 hours. */
export const DEFAULT_LIFETIME_MS = 24 * 3_600_000;

/** Largest request body accepted; the routes read none. */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Each route acts on the request's session `{ token, deadline, values, status }` and returns
 * the answer's body; `status` says what saving must do: unset (nothing), 'modified',
 * 'renewed' (a new token for the same data) or 'destroyed'.
 */
const ROUTES = {
  '/put': (session, query) => {
    session.values.message = query.get('message') ?? DEFAULT_MESSAGE;
    session.status ??= 'modified';
    return 'stored\n';
  },
  '/get': (session) => (typeof session.values.message === 'string' ? session.values.message : ''),
  '/renew': (session) => {
    session.status = 'renewed';
    return 'renewed\n';
  },
  '/destroy': (session) => {
    session.values = {};
    session.status = 'destroyed';
    return 'destroyed\n';
  },
};

/** A malformed setting; `variable` names it. */
export class SettingsError extends Error {
  constructor(variable, message) {
    super(message);
    this.name = 'SettingsError';
    this.variable = variable;
  }
}

const UNITS = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds in a duration such as `30m`, `24h` or `1h 30m` (units ms, s, m, min, h, d).
 * @throws {SettingsError} naming `variable` when the text is not a positive duration
 */
export function parseDuration(text, variable) {
  const parts = String(text).trim().split(/\s+/);
  let ms = 0;
  for (const part of parts) {
    const m = /^(\d+)(ms|s|min|m|h|d)$/.exec(part);
    if (!m) {
      throw new SettingsError(variable, `${variable}=${JSON.stringify(text)}: not a duration such as 30m, 24h or 1h 30m`);
    }
    ms += Number(m[1]) * UNITS[m[2]];
  }
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new SettingsError(variable, `${variable}=${JSON.stringify(text)}: must be longer than zero and at most ${Number.MAX_SAFE_INTEGER} ms`);
  }
  return ms;
}

/**
 * The host's settings from its environment (Worker bindings, Deno's environment):
 * `storeEnv` holds every SESSIONS_* string for the component; `lifetimeMs` comes from
 * EDGE_SESSION_LIFETIME. A file database is refused here, before any instance exists.
 * @param {Record<string, unknown>} env
 * @throws {SettingsError} naming the variable at fault
 */
export function readSettings(env) {
  const storeEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('SESSIONS_') && typeof value === 'string') storeEnv[name] = value;
  }
  const refused = refuseDatabase(storeEnv.SESSIONS_DATABASE);
  if (refused) throw new SettingsError('SESSIONS_DATABASE', refused);
  const lifetime = env.EDGE_SESSION_LIFETIME;
  const lifetimeMs =
    typeof lifetime === 'string' ? parseDuration(lifetime, 'EDGE_SESSION_LIFETIME') : DEFAULT_LIFETIME_MS;
  return { storeEnv, lifetimeMs };
}

/**
 * `text` with the auth token and any password in a URL (`//user:secret@host`) replaced,
 * for logs: the component's messages name hosts and may quote the database URL.
 */
export function redact(text, authToken) {
  let out = String(text).replace(/\/\/[^/@\s]*@/g, '//[redacted]@');
  if (authToken) out = out.split(authToken).join('[redacted]');
  return out;
}

/** The value of cookie `name` in a `Cookie:` header (`a=1; session=tok`), if present. */
export function cookieValue(header, name) {
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at >= 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

/** A stored record, or undefined when the data is not one (then the session starts afresh). */
function parseRecord(data) {
  try {
    const record = JSON.parse(decoder.decode(data));
    const ok =
      Number.isSafeInteger(record?.deadline) &&
      record.deadline >= 0 &&
      record.values !== null &&
      typeof record.values === 'object' &&
      !Array.isArray(record.values);
    return ok ? record : undefined;
  } catch {
    return undefined;
  }
}

function encodeRecord(session) {
  return encoder.encode(JSON.stringify({ deadline: session.deadline, values: session.values }));
}

/** An answer with a plain-text body. */
function text(status, body, headers = {}) {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } });
}

/** What a request that ran into a concurrent logout or renewal gets. */
const ENDED = Symbol('session ended');

/**
 * The HTTP application: `fetch(request)` answers one request; `sweep()` removes every
 * expired session, batch after batch.
 * @param {object} options
 * @param {import('./store.js').StorePool} options.pool
 * @param {{ storeEnv: Record<string,string>, lifetimeMs: number }} options.settings from readSettings
 * @param {(message: string) => void} [options.log] receives server-side failures (already redacted)
 * @param {() => number} [options.now] the wall clock, ms since the epoch
 */
export function createApp({ pool, settings, log = console.error, now = Date.now }) {
  const authToken = settings.storeEnv.SESSIONS_AUTH_TOKEN;
  const logFailure = (what, e) => log(redact(`${what}: ${e?.stack ?? e}`, authToken));

  function cookie(token, deadline, secure) {
    const maxAge = Math.max(0, Math.floor((deadline - now()) / 1000));
    return `${COOKIE_NAME}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  }

  function clearCookie(secure) {
    return `${COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
  }

  async function load(store, cookieHeader) {
    const fresh = {
      token: undefined,
      deadline: Math.min(now() + settings.lifetimeMs, Number.MAX_SAFE_INTEGER),
      values: {},
      status: undefined,
    };
    const token = cookieValue(cookieHeader ?? '', COOKIE_NAME);
    if (token === undefined || token === '') return fresh;
    let data;
    try {
      data = await store.find(token);
    } catch (e) {
      if (e instanceof StoreError && e.kind === 'invalid-token') return fresh;
      throw e;
    }
    const record = data && parseRecord(data);
    return record ? { token, deadline: record.deadline, values: record.values, status: undefined } : fresh;
  }

  /** Persists what the route did: the Set-Cookie value to send, undefined, or ENDED. */
  async function save(store, session, secure) {
    const { token, deadline } = session;
    switch (session.status) {
      case undefined:
        return undefined;
      case 'destroyed':
        if (token === undefined) return undefined;
        await store.delete(token);
        return clearCookie(secure);
      case 'modified':
        if (token === undefined) return cookie(await store.create(encodeRecord(session), deadline), deadline, secure);
        if (!(await store.update(token, encodeRecord(session), deadline))) return ENDED;
        return cookie(token, deadline, secure);
      case 'renewed':
        // End the old token first, and only if it was still active make the new one:
        // a renewal racing a logout must not hand out a live session.
        if (token !== undefined && !(await store.update(token, new Uint8Array(), 0))) return ENDED;
        return cookie(await store.create(encodeRecord(session), deadline), deadline, secure);
      default:
        throw new Error(`unknown session status ${session.status}`);
    }
  }

  function failure(path, e) {
    if (e instanceof StoreError) {
      switch (e.kind) {
        case 'too-large':
          return text(413, `session data is larger than the store's limit of ${e.detail} bytes; nothing was stored\n`);
        case 'invalid-token':
          return text(400, 'invalid session token\n');
        case 'unavailable':
          logFailure(`request ${path}: session store unavailable`, e.message);
          return text(503, 'the session store is temporarily unavailable; retry shortly\n', { 'retry-after': '1' });
        default:
          break;
      }
    }
    logFailure(`request ${path} failed`, e);
    return text(500, 'the session store failed; the server log has the details\n');
  }

  /** Refuses a request body over MAX_REQUEST_BODY_BYTES without reading more of it. */
  async function bodyTooLarge(request) {
    if (!request.body) return false;
    const declared = Number(request.headers.get('content-length'));
    if (declared > MAX_REQUEST_BODY_BYTES) return true;
    let seen = 0;
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      seen += value.byteLength;
      if (seen > MAX_REQUEST_BODY_BYTES) {
        await reader.cancel();
        return true;
      }
    }
  }

  async function fetch(request) {
    const url = new URL(request.url);
    const route = ROUTES[url.pathname];
    if (!route) return text(404, 'not found; the routes are /put?message=TEXT, /get, /renew and /destroy\n');
    if (await bodyTooLarge(request)) {
      return text(413, `request body over ${MAX_REQUEST_BODY_BYTES} bytes; these routes take no body\n`);
    }
    const secure = url.protocol === 'https:';
    try {
      return await pool.use(async (store) => {
        const session = await load(store, request.headers.get('cookie'));
        const body = route(session, url.searchParams);
        const setCookie = await save(store, session, secure);
        if (setCookie === ENDED) {
          return text(409, 'the session ended while this request ran; nothing was stored\n', {
            'set-cookie': clearCookie(secure),
          });
        }
        return text(200, body, setCookie ? { 'set-cookie': setCookie } : {});
      });
    } catch (e) {
      return failure(url.pathname, e);
    }
  }

  /** Sweeps until no expired session remains; `{ removed, batches }`. Throws StoreErrors. */
  function sweep() {
    return pool.use((store) => sweepUntilDone(store));
  }

  return { fetch, sweep, logFailure };
}
