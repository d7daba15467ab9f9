// Sessions over HTTP, shared by every JavaScript host (the Node host, the Cloudflare Worker,
// the Deno server), answered with Web `Response`s: the routes /put?message=TEXT, /get, /renew
// and /destroy, each a load-act-save of the request's session, and the routes of a logged-in
// user, /login?user=NAME, /devices and /logout-everywhere, which use the store's owners.
//
// The session contract is the Rust crate `session-core` (session-core/src/lib.rs: the
// normative definition, with record.rs and cookie.rs), which host-example and the wasi:http
// edge app use; this module follows it, so every host shares sessions on one database:
//
// - The stored record is the UTF-8 JSON `{"deadline":<ms since the epoch>,"values":{...}}`,
//   deadline first, no whitespace; `deadline` is the session's absolute end, an integer of
//   at most MAX_TIMESTAMP (2^53 - 1, where deadlines saturate: a huge lifetime never wraps
//   into the past); readers ignore fields they do not know. Data that is not such a record
//   (or not UTF-8) is not a session: the request starts a fresh one, it never fails.
// - The cookie is `session=<token>; Path=/; Max-Age=<s>; HttpOnly; SameSite=Lax`, plus
//   `Secure` when the request came over https. Max-Age is the time left before the deadline
//   in whole seconds rounded up (0 once expired), at most 400 days: the store, not the
//   cookie, decides when a session ends.
// - A forged, malformed, unknown or expired token never becomes a session: the request gets
//   a fresh one, whose token the store draws when it is first saved.
// - Saves are final: an existing session is saved with `update`, which never brings back a
//   session that a concurrent /destroy or /renew ended; such a request stores nothing,
//   clears the cookie and answers 409. Renewal moves the session to a new token with the
//   store's `rotate(old, deadline)` (one transaction, the owner kept: a renewed login stays
//   its user's), then saves the data there with `update`; rotate answering none (the old
//   token ended meanwhile) or update answering false (a concurrent logout ended the new
//   one) is answered as such a 409.
// - Methods (ROUTE_METHODS, session-core's `Route`): the reads /get and /devices answer GET
//   and HEAD; /renew, /destroy, /login?user=NAME and /logout-everywhere answer POST only
//   (query parameters as they are, no body needed): the cookie is SameSite=Lax, which a
//   browser sends with a cross-site GET, so a link on another site must not be able to end,
//   rotate or log in a session. /put?message=TEXT answers GET and POST: GET stays because it
//   is the demo's and the benchmark's write, and it only replaces the demo message in the
//   requester's own session (it cannot end, rotate or log in any session); applications
//   that copy these routes should make their own writes POST. Any other method on a route
//   is answered 405 with `Allow` (e.g. `POST`, `GET, HEAD`) and the fixed body
//   `method not allowed; use POST\n` (`use GET or HEAD`, `use GET or POST`), before the
//   session is loaded or the body read: no store call, no Set-Cookie. An unknown path is
//   404 whatever the method.
// - A logged-in session holds the value `"user": NAME`, and the store's owner of the
//   session is NAME. POST /login?user=NAME gives the session a new token T: the
//   store's `rotate` of the request's active session (expiry: the session's deadline), or,
//   without one (or when rotate answers none: it ended meanwhile), a fresh session from
//   `create`. Then `set-owner(T, NAME)`, then `update` of T with `user` = NAME: the
//   pre-login token never gets the owner or the user value (session fixation), and it is
//   dead afterwards. Answer 200 `logged in\n`, the cookie set to T. A name the store
//   refuses (`invalid-input`: empty, over 256 bytes, control characters) is answered 400
//   with a fixed text that does not echo it, the cookie still set to T (rotated, not logged
//   in, nothing lost); a missing `user` parameter is answered 400 before any store call.
//   Any failure after T exists keeps the cookie set to T.
// - /devices: 401 `not logged in\n` unless the session has a `user`; else 200
//   `application/json` `{"sessions":[{"id":"...","expiry":MS},...]}`, the store's
//   `sessions-of(user)` in its order (soonest expiry first); ids, never tokens.
// - /logout-everywhere: 401 as /devices; else `revoke-owner(user, this token)` ends every
//   other session of the user, this one stays: 200 `application/json` `{"revoked":N}`.
//
// Status codes: 200 done; 400 a token or user name the store refuses, or /login without a
// user; 401 /devices or /logout-everywhere without a logged-in session; 404 unknown path;
// 405 a method the route does not answer (with Allow); 409 the session
// ended while the request ran; 413 session data over SESSIONS_MAX_DATA_BYTES, or a request
// body (the routes take none) over MAX_REQUEST_BODY_BYTES; 503 with Retry-After: 1 when the
// store is unavailable (server down or slow, auth token refused, a database file locked by
// another instance); 500 any other store failure. Error bodies are session-core's fixed
// texts: the details, which may name hosts, go to the log (with the auth token and URL
// passwords redacted).

import { StoreError, sweepUntilDone } from './store.js';

export const COOKIE_NAME = 'session';

/** The value /put stores when no `message` is given. */
export const DEFAULT_MESSAGE = 'Hello from a session!';

/** The session lifetime unless a host sets another: 24 hours. */
export const DEFAULT_LIFETIME_MS = 24 * 3_600_000;

/** Largest request body accepted; the routes read none. */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;

/** The largest timestamp a session carries (ms since the epoch), as in session-core. */
export const MAX_TIMESTAMP = 2 ** 53 - 1;

/** The largest Max-Age sent, in seconds: 400 days. */
export const MAX_AGE_CAP_S = 400 * 24 * 3600;

/** Seconds a client is told to wait (Retry-After) after a 503. */
const RETRY_AFTER_S = '1';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The methods each route answers, as HTTP spells them: session-core's `Route::methods`, the
 * one table every JavaScript host (Node, workerd, Deno) goes by. Reads answer GET and HEAD;
 * the routes that end, rotate or log in a session answer POST only; /put keeps GET for the
 * demo and the benchmark (see the module docs).
 */
export const ROUTE_METHODS = Object.freeze({
  '/put': Object.freeze(['GET', 'POST']),
  '/get': Object.freeze(['GET', 'HEAD']),
  '/renew': Object.freeze(['POST']),
  '/destroy': Object.freeze(['POST']),
  '/login': Object.freeze(['POST']),
  '/devices': Object.freeze(['GET', 'HEAD']),
  '/logout-everywhere': Object.freeze(['POST']),
});

/** Each route acts on the request's Session and returns the answer's body; the app then saves it. */
const SESSION_ROUTES = {
  '/put': (session, query) => {
    session.put('message', query.get('message') ?? DEFAULT_MESSAGE);
    return 'stored\n';
  },
  '/get': (session) => {
    const message = session.get('message');
    return typeof message === 'string' ? message : '';
  },
  '/renew': (session) => {
    session.renew();
    return 'renewed\n';
  },
  '/destroy': (session) => {
    session.destroy();
    return 'destroyed\n';
  },
};

/** The answers to failures: session-core's fixed texts (`Failure::answer`). */
const ANSWERS = {
  invalidToken: [400, 'invalid session token\n'],
  invalidInput: [400, 'invalid user name: use 1 to 256 bytes without control characters\n'],
  missingUser: [400, 'missing the user parameter: /login?user=NAME\n'],
  notLoggedIn: [401, 'not logged in\n'],
  tooLarge: (limit) => [413, `session data is larger than the store's limit of ${limit} bytes; nothing was stored\n`],
  sessionEnded: [409, 'the session ended while this request ran; nothing was stored\n'],
  unavailable: [503, 'session store unavailable; try again shortly\n'],
  internal: [500, 'internal error in the session store; the server log has the details\n'],
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
 * Why SESSIONS_DATABASE cannot be used on an edge runtime, or undefined when it can: a
 * libSQL server (`http://`, `https://`, `libsql://`), or `:memory:` for local trials. A file
 * path is refused: edge runtimes give the component no durable filesystem, so the file
 * would vanish with the instance.
 */
export function refuseDatabase(database) {
  if (database === undefined || database === '') {
    return 'SESSIONS_DATABASE is not set: set it to a libSQL server URL (http://, https:// or libsql://, e.g. Turso), or :memory: for a local trial';
  }
  if (database === ':memory:' || /^(https?|libsql):\/\//i.test(database)) return undefined;
  return 'SESSIONS_DATABASE names a file, and edge runtimes have no durable filesystem: use a libSQL server URL (http://, https:// or libsql://, e.g. Turso), or :memory: for a local trial';
}

/**
 * An edge host's settings from its environment (Worker bindings, Deno's environment):
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
 * A store pool's settings from an environment: `size` from EDGE_POOL_SIZE (instances, 1 to
 * 1024) and `waitMs` from EDGE_POOL_WAIT (how long a request waits for an instance: a
 * duration such as 500ms or 2s, at most 10m); each undefined when unset, so the pool's default applies.
 * @param {Record<string, unknown>} env
 * @throws {SettingsError} naming the variable at fault
 */
export function readPoolSettings(env) {
  const settings = {};
  const size = env.EDGE_POOL_SIZE;
  if (typeof size === 'string') {
    if (!/^\d+$/.test(size.trim()) || Number(size) < 1 || Number(size) > 1024) {
      throw new SettingsError('EDGE_POOL_SIZE', `EDGE_POOL_SIZE=${JSON.stringify(size)}: not a whole number from 1 to 1024`);
    }
    settings.size = Number(size);
  }
  const wait = env.EDGE_POOL_WAIT;
  if (typeof wait === 'string') {
    settings.waitMs = parseDuration(wait, 'EDGE_POOL_WAIT');
    if (settings.waitMs > 600_000) throw new SettingsError('EDGE_POOL_WAIT', `EDGE_POOL_WAIT=${JSON.stringify(wait)}: at most 10m`);
  }
  return settings;
}

/**
 * `text` with the auth token and the user information of every URL in it
 * (`scheme://user:pass@host`) replaced by `***`, as session-core's `redact_credentials`,
 * for logs: the component's messages name hosts and may quote the database URL.
 */
export function redact(text, authToken) {
  let out = String(text).replace(/(:\/\/)[^/?#"'`\s]*@/g, '$1***@');
  if (authToken) out = out.split(authToken).join('***');
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

/** `nowMs + ms`, saturating at MAX_TIMESTAMP (never earlier than `nowMs`). */
export function offset(nowMs, ms) {
  return Math.min(nowMs + ms, Math.max(MAX_TIMESTAMP, nowMs));
}

/** Max-Age for a session expiring at `expiryMs` seen at `nowMs`: seconds left, rounded up. */
export function maxAgeSeconds(expiryMs, nowMs) {
  return Math.min(Math.max(0, Math.ceil((expiryMs - nowMs) / 1000)), MAX_AGE_CAP_S);
}

/** The bytes a session is stored as. */
export function encodeRecord(deadline, values) {
  return encoder.encode(JSON.stringify({ deadline, values }));
}

/** The record in `data`, or undefined when the data is not one (then the session starts afresh). */
export function decodeRecord(data) {
  try {
    const record = JSON.parse(decoder.decode(data));
    const ok =
      Number.isSafeInteger(record?.deadline) &&
      record.deadline >= 0 &&
      record.values !== null &&
      typeof record.values === 'object' &&
      !Array.isArray(record.values);
    return ok ? { deadline: record.deadline, values: record.values } : undefined;
  } catch {
    return undefined;
  }
}

/** One request's session; `status` says what saving must do. */
export class Session {
  constructor({ token, deadline, values = {}, status = 'unmodified' }) {
    this.token = token;
    this.deadline = deadline;
    this.values = values;
    this.status = status;
  }

  get(key) {
    return this.values[key];
  }

  /** Sets a value (a destroyed session stays destroyed). */
  put(key, value) {
    if (this.status === 'destroyed') return;
    this.values[key] = value;
    if (this.status === 'unmodified') this.status = 'modified';
  }

  /** A new token for the same data; the old token stops working (use it at login). */
  renew() {
    if (this.status !== 'destroyed') this.status = 'renewed';
  }

  /** The user this session is logged in as (its `user` value), or undefined. */
  user() {
    const user = this.values.user;
    return typeof user === 'string' ? user : undefined;
  }

  /** Ends the session: its data is deleted and the cookie cleared. */
  destroy() {
    this.values = {};
    this.status = 'destroyed';
  }
}

/**
 * The session cookie's attributes. The defaults are session-core's cookie:
 * `session=<token>; Path=/; Max-Age=<s>; HttpOnly; SameSite=Lax` (plus `Secure` over https).
 * @typedef {object} CookieOptions
 * @property {string} [name] the cookie's name (default `session`)
 * @property {string} [path] its Path (default `/`)
 * @property {string} [domain] its Domain (default none: this host only)
 * @property {boolean} [secure] add `Secure` (default: when the request came over https)
 * @property {'Strict'|'Lax'|'None'|false} [sameSite] its SameSite (default `Lax`; false leaves it out)
 * @property {boolean} [httpOnly] add `HttpOnly` (default true)
 */

/** Checks cookie options, filling in the defaults. @throws {SettingsError} */
export function cookieOptions({ name = COOKIE_NAME, path = '/', domain, secure, sameSite = 'Lax', httpOnly = true } = {}) {
  const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  if (!token.test(name)) throw new SettingsError('cookie.name', `cookie name ${JSON.stringify(name)} is not an HTTP token`);
  for (const [what, value] of [['path', path], ['domain', domain]]) {
    if (value !== undefined && !/^[\x21-\x3a\x3c-\x7e]*$/.test(value)) {
      throw new SettingsError(`cookie.${what}`, `cookie ${what} ${JSON.stringify(value)} holds a character a cookie attribute cannot`);
    }
  }
  if (sameSite !== false && !['Strict', 'Lax', 'None'].includes(sameSite)) {
    throw new SettingsError('cookie.sameSite', `cookie sameSite ${JSON.stringify(sameSite)}: use Strict, Lax, None or false`);
  }
  if (sameSite === 'None' && secure === false) {
    throw new SettingsError('cookie.sameSite', 'cookie sameSite None needs secure (browsers refuse it otherwise)');
  }
  return { name, path, domain, secure, sameSite, httpOnly };
}

/**
 * Loads and saves the sessions of one store instance. A save says what it did:
 * `{ kind: 'unchanged' }`, `{ kind: 'live', token, expiry }`, `{ kind: 'ended' }` (this
 * request ended it) or `{ kind: 'ended-meanwhile' }` (it had ended before this request could
 * save: nothing stored, answer 409).
 */
export class SessionManager {
  /**
   * @param {import('./store.js').SessionStore} store
   * @param {object} [options]
   * @param {() => number} [options.now] the wall clock the store sees, ms since the epoch
   * @param {number} [options.lifetimeMs] how long a fresh session lasts
   * @param {boolean} [options.secure] add `Secure` to the cookie (unless `cookie.secure` says otherwise)
   * @param {CookieOptions} [options.cookie] the cookie's name and attributes
   */
  constructor(store, { now = Date.now, lifetimeMs = DEFAULT_LIFETIME_MS, secure = false, cookie } = {}) {
    this.store = store;
    this.now = now;
    this.lifetimeMs = lifetimeMs;
    this.cookie = cookieOptions(cookie);
    this.secure = this.cookie.secure ?? secure;
  }

  /** The session named by a `Cookie:` header, or a fresh one. Throws only StoreErrors the store raises. */
  async load(cookieHeader) {
    const fresh = new Session({ deadline: offset(this.now(), this.lifetimeMs) });
    const token = cookieValue(cookieHeader ?? '', this.cookie.name);
    if (token === undefined || token === '') return fresh;
    let data;
    try {
      data = await this.store.find(token);
    } catch (e) {
      if (e instanceof StoreError && e.kind === 'invalid-token') return fresh;
      throw e;
    }
    const record = data && decodeRecord(data);
    return record ? new Session({ token, ...record }) : fresh;
  }

  /** Persists what the route did; returns what happened (see the class docs). */
  async save(session) {
    const { status, token, deadline } = session;
    const data = () => encodeRecord(deadline, session.values);
    const live = (t) => ({ kind: 'live', token: t, expiry: deadline });
    switch (status) {
      case 'unmodified':
        return { kind: 'unchanged' };
      case 'destroyed':
        if (token === undefined) return { kind: 'unchanged' };
        await this.store.delete(token);
        return { kind: 'ended' };
      case 'modified':
        if (token === undefined) return live(await this.store.create(data(), deadline));
        return (await this.store.update(token, data(), deadline)) ? live(token) : { kind: 'ended-meanwhile' };
      case 'renewed': {
        if (token === undefined) return live(await this.store.create(data(), deadline));
        // One transaction moves the session, owner included; a renewal racing a logout
        // never hands out a live session.
        const renewed = await this.store.rotate(token, deadline);
        if (renewed === undefined || !(await this.store.update(renewed, data(), deadline))) {
          return { kind: 'ended-meanwhile' };
        }
        return live(renewed);
      }
      default:
        throw new Error(`unknown session status ${status}`);
    }
  }

  /**
   * Logs `session` in as `user`: the session gets a new token T (the store's `rotate` of
   * its token to its deadline; a fresh session from `create` when it has none or rotate
   * answers none), then `setOwner(T, user)`, then `update` of T with `user` set. Resolves
   * `{ saved, error }`: `saved` is what the cookie must say (`live` T, or `ended-meanwhile`
   * when T ended before the login finished: a concurrent logout); `error` is the StoreError
   * that stopped the login once T existed (`invalid-input` for a name the store refuses),
   * undefined when the session is logged in; `record` (`{ deadline, values }`) is what T
   * holds once logged in. Throws the StoreErrors raised before T existed (then nothing changed).
   */
  async login(session, user) {
    let { token, deadline, values } = session;
    token = token === undefined ? undefined : await this.store.rotate(token, deadline);
    if (token === undefined) {
      ({ deadline, values } = new Session({ deadline: offset(this.now(), this.lifetimeMs) }));
      token = await this.store.create(encodeRecord(deadline, values), deadline);
    }
    const saved = { kind: 'live', token, expiry: deadline };
    const record = { deadline, values: { ...values, user } };
    try {
      if (!(await this.store.setOwner(token, user))) return { saved: { kind: 'ended-meanwhile' } };
      const loggedIn = encodeRecord(deadline, { ...values, user });
      if (!(await this.store.update(token, loggedIn, deadline))) return { saved: { kind: 'ended-meanwhile' } };
    } catch (error) {
      return { saved, error };
    }
    return { saved, record };
  }

  /** The `Set-Cookie` value that tells the client what `saved` did, if any. */
  setCookie(saved) {
    switch (saved.kind) {
      case 'live':
        return this.#cookie(saved.token, maxAgeSeconds(saved.expiry, this.now()));
      case 'ended':
      case 'ended-meanwhile':
        return this.clearCookie();
      default:
        return undefined;
    }
  }

  /** The `Set-Cookie` value that makes the client forget its session. */
  clearCookie() {
    return this.#cookie('', 0);
  }

  #cookie(value, maxAge) {
    const { name, path, domain, sameSite, httpOnly } = this.cookie;
    let cookie = `${name}=${value}; Path=${path}`;
    if (domain) cookie += `; Domain=${domain}`;
    cookie += `; Max-Age=${maxAge}`;
    if (httpOnly) cookie += '; HttpOnly';
    if (sameSite) cookie += `; SameSite=${sameSite}`;
    if (this.secure) cookie += '; Secure';
    return cookie;
  }
}

/** An answer with a plain-text body. */
function text([status, body], headers = {}) {
  return new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers } });
}

/** A 200 answer with `value` as its JSON body. */
function json(value) {
  return new Response(JSON.stringify(value), { status: 200, headers: { 'content-type': 'application/json' } });
}

/** The answer to a request whose session ended while it ran (409, nothing stored). */
export function sessionEndedAnswer() {
  return text(ANSWERS.sessionEnded);
}

/** The answer to /devices or /logout-everywhere without a logged-in session (401). */
export function notLoggedInAnswer() {
  return text(ANSWERS.notLoggedIn);
}

/**
 * The answer to a failure `e` of the request for `path` (session-core's `Failure::answer`):
 * 413, 400 or 503 with Retry-After for the StoreErrors that say so, 500 for any other;
 * fixed texts, the details (redacted of `authToken`) logged with `log` for 503 and 500.
 */
export function failureAnswer(e, { path, log = console.error, authToken } = {}) {
  const logFailure = (what, detail) => log(redact(`${what}: ${detail?.stack ?? detail}`, authToken));
  if (e instanceof StoreError) {
    switch (e.kind) {
      case 'too-large':
        return text(ANSWERS.tooLarge(e.detail));
      case 'invalid-token':
        return text(ANSWERS.invalidToken);
      case 'invalid-input':
        return text(ANSWERS.invalidInput);
      case 'unavailable':
        logFailure(`request ${path} answered 503`, e.message);
        return text(ANSWERS.unavailable, { 'retry-after': RETRY_AFTER_S });
      default:
        break;
    }
  }
  logFailure(`request ${path} answered 500`, e);
  return text(ANSWERS.internal);
}

/**
 * `response` with the `Set-Cookie` that tells the client what `saved` did, if any (appended:
 * the application's own cookies stay). A response with immutable headers is copied.
 */
function withCookie(response, manager, saved) {
  const setCookie = saved && manager.setCookie(saved);
  if (!setCookie) return response;
  try {
    response.headers.append('set-cookie', setCookie);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    copy.headers.append('set-cookie', setCookie);
    return copy;
  }
}

/**
 * What a request's route gets besides its Session: the store calls of a logged-in user,
 * in session-core's order, and the record of what they already saved.
 */
export class RequestSession {
  /** What a login saved (its new token, or that the session ended meanwhile), if one ran. */
  saved = undefined;
  /** Set by a route whose answer must not save the session (an application error). */
  abandoned = false;

  /**
   * @param {SessionManager} manager
   * @param {Session} session
   */
  constructor(manager, session) {
    this.manager = manager;
    this.session = session;
  }

  /** The store instance lent to this request. */
  get store() {
    return this.manager.store;
  }

  /**
   * Logs the session in as `user` (SessionManager.login): it gets a new token at once; its
   * cookie goes out with the answer. Resolves true when logged in, false when the session
   * ended meanwhile (the answer becomes 409). Throws the StoreError that stopped it
   * (`invalid-input` for a name the store refuses: 400; the cookie still moves to the new
   * token when it exists).
   */
  async login(user) {
    const { saved, error, record } = await this.manager.login(this.session, user);
    this.saved = saved;
    if (record) Object.assign(this.session, { token: saved.token, ...record, status: 'unmodified' });
    if (error) throw error;
    return saved.kind === 'live';
  }

  /** The user's active sessions (`[{ id, expiry }]`, soonest expiry first); undefined when not logged in. */
  async devices() {
    const user = this.session.user();
    if (user === undefined) return undefined;
    const sessions = await this.store.sessionsOf(user);
    return sessions.map(({ id, expiry }) => ({ id, expiry }));
  }

  /** Ends every other session of the user; resolves how many, undefined when not logged in. */
  async logoutEverywhere() {
    const user = this.session.user();
    if (user === undefined) return undefined;
    return this.store.revokeOwner(user, this.session.token);
  }

  /**
   * Saves the session after the route answered `response`, and returns the answer to send:
   * `response` with the cookie, or a 409 with the cookie cleared when the session ended
   * while the request ran (nothing stored).
   */
  async finish(response) {
    if (this.abandoned) return this.saved ? withCookie(response, this.manager, this.saved) : response;
    const later = await this.manager.save(this.session);
    const saved = later.kind === 'unchanged' && this.saved ? this.saved : later;
    if (saved.kind === 'ended-meanwhile') return withCookie(sessionEndedAnswer(), this.manager, saved);
    return withCookie(response, this.manager, saved);
  }
}

/**
 * The session life of a request, for every way of serving one (createApp, the Hono
 * middleware): an instance from `pool` lent to the request alone; its session loaded from
 * the cookie; `route(requestSession)` run, resolving the Response; the session saved
 * (finality: a save that finds the session ended meanwhile answers 409, cookie cleared);
 * failures answered as `failureAnswer` does. Returns `handle(request, route)`.
 * @param {object} options
 * @param {{ use<T>(fn: (store: import('./store.js').SessionStore) => Promise<T>): Promise<T> }} options.pool
 * @param {number} [options.lifetimeMs] how long a fresh session lasts
 * @param {CookieOptions} [options.cookie] the cookie's name and attributes
 * @param {(message: string) => void} [options.log] receives server-side failures (redacted)
 * @param {string} [options.authToken] redacted from the log
 * @param {() => number} [options.now] the wall clock the store sees, ms since the epoch
 */
export function sessionHandler({ pool, lifetimeMs = DEFAULT_LIFETIME_MS, cookie, log = console.error, authToken, now = Date.now }) {
  const checked = cookieOptions(cookie);
  return async function handle(request, route) {
    const url = new URL(request.url);
    const path = url.pathname;
    try {
      return await pool.use(async (store) => {
        const manager = new SessionManager(store, { now, lifetimeMs, secure: url.protocol === 'https:', cookie: checked });
        const scope = new RequestSession(manager, await manager.load(request.headers.get('cookie')));
        let response;
        try {
          response = await route(scope);
        } catch (e) {
          // A failure once a login gave the session a new token keeps that token.
          if (scope.saved) return withCookie(failureAnswer(e, { path, log, authToken }), manager, scope.saved);
          throw e;
        }
        return await scope.finish(response);
      });
    } catch (e) {
      return failureAnswer(e, { path, log, authToken });
    }
  };
}

/**
 * The routes of a logged-in user: each takes the request's RequestSession and query and
 * resolves the Response; a StoreError thrown is answered as every route's failures are.
 */
const USER_ROUTES = {
  '/login': async (scope, query) => {
    await scope.login(query.get('user'));
    return text([200, 'logged in\n']);
  },
  '/devices': async (scope) => {
    const sessions = await scope.devices();
    return sessions === undefined ? notLoggedInAnswer() : json({ sessions });
  },
  '/logout-everywhere': async (scope) => {
    const revoked = await scope.logoutEverywhere();
    return revoked === undefined ? notLoggedInAnswer() : json({ revoked });
  },
};

/** Every path served, for the answer to any other. */
const NOT_FOUND = [
  404,
  'not found; the routes are /put?message=TEXT, /get, /renew, /destroy, /login?user=NAME, /devices and /logout-everywhere\n',
];

/**
 * The answer to `method` on `path` when it is not served: 404 for an unknown path (whatever
 * the method), 405 with Allow for a method the route does not answer (session-core's
 * `Failure::MethodNotAllowed`); undefined when the route answers it. Methods are
 * case-sensitive, as in HTTP.
 */
export function refuseRequest(path, method) {
  if (!Object.hasOwn(ROUTE_METHODS, path)) return text(NOT_FOUND);
  const methods = ROUTE_METHODS[path];
  if (methods.includes(method)) return undefined;
  return text([405, `method not allowed; use ${methods.join(' or ')}\n`], { allow: methods.join(', ') });
}

/** The answer to a request body over `limit` bytes (413; the routes take none). */
export function bodyTooLargeAnswer(limit = MAX_REQUEST_BODY_BYTES) {
  return text([413, `request body over ${limit} bytes; these routes take no body\n`]);
}

/** The answer to /login without a `user` parameter (400). */
export function missingUserAnswer() {
  return text(ANSWERS.missingUser);
}

/**
 * The demo routes' work, for any framework: the route at `path` (a key of ROUTE_METHODS)
 * acting on the request's RequestSession with the URL's `query`; resolves the Response the
 * session handler then saves. /login without a user is answered 400 before any store call
 * by the callers (see `missingUserAnswer`).
 */
export function runRoute(path, scope, query) {
  const changeSession = SESSION_ROUTES[path];
  if (changeSession) return text([200, changeSession(scope.session, query)]);
  return USER_ROUTES[path](scope, query);
}

/** Refuses a request body over MAX_REQUEST_BODY_BYTES without reading more of it. */
export async function bodyTooLarge(request, limit = MAX_REQUEST_BODY_BYTES) {
  if (!request.body) return false;
  const declared = Number(request.headers.get('content-length'));
  if (declared > limit) return true;
  let seen = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return false;
    seen += value.byteLength;
    if (seen > limit) {
      await reader.cancel();
      return true;
    }
  }
}

/**
 * The HTTP application: `fetch(request)` answers one request; `sweep()` removes every
 * expired session, batch after batch.
 * @param {object} options
 * @param {{ use<T>(fn: (store: import('./store.js').SessionStore) => Promise<T>): Promise<T> }} options.pool
 *   lends a store instance to one request at a time (a StorePool, or a host's single instance)
 * @param {{ storeEnv: Record<string,string>, lifetimeMs: number }} options.settings the
 *   component's environment (for redacting its auth token) and the session lifetime
 * @param {(message: string) => void} [options.log] receives server-side failures (already redacted)
 * @param {() => number} [options.now] the wall clock the store sees, ms since the epoch
 * @param {CookieOptions} [options.cookie] the cookie's name and attributes
 */
export function createApp({ pool, settings, log = console.error, now = Date.now, cookie }) {
  const authToken = settings.storeEnv.SESSIONS_AUTH_TOKEN;
  const logFailure = (what, e) => log(redact(`${what}: ${e?.stack ?? e}`, authToken));
  const handle = sessionHandler({ pool, lifetimeMs: settings.lifetimeMs, cookie, log, authToken, now });

  async function fetch(request) {
    const url = new URL(request.url);
    const path = url.pathname;
    const refused = refuseRequest(path, request.method);
    if (refused) return refused;
    if (await bodyTooLarge(request)) return bodyTooLargeAnswer();
    const query = url.searchParams;
    if (path === '/login' && !query.has('user')) return missingUserAnswer();
    return handle(request, (scope) => runRoute(path, scope, query));
  }

  /** Sweeps until no expired session remains; `{ removed, batches }`. Throws StoreErrors. */
  function sweep() {
    return pool.use((store) => sweepUntilDone(store));
  }

  return { fetch, sweep, logFailure };
}
