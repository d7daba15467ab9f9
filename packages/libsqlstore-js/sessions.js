// Sessions over HTTP, shared by every JavaScript host (the Node host, the Cloudflare Worker,
// the Deno server), answered with Web `Response`s: the routes /put?message=TEXT, /get[?key=K],
// /set?key=K&value=V, /renew and /destroy, each a load-act-save of the request's session, and
// the routes of a logged-in user, /login?user=NAME, /devices and /logout-everywhere, which
// use the store's owners.
//
// The session contract is the Rust crate `session-core` (session-core/src/lib.rs: the
// normative definition, with session.rs, account.rs, answer.rs, values.rs, label.rs,
// record.rs and cookie.rs), which host-example and the wasi:http edge app use; this module
// follows it, calling the component's `edge:sessions/store@0.3.0`, so every host shares
// sessions on one database:
//
// - The stored record is the UTF-8 JSON `{"deadline":<ms since the epoch>,"values":{...}}`,
//   deadline first, no whitespace; `deadline` is the session's absolute end, an integer of
//   at most MAX_TIMESTAMP (2^53 - 1, where deadlines saturate: a huge lifetime never wraps
//   into the past); readers ignore fields they do not know. Data that is not such a record
//   (or not UTF-8) is not a session: the request starts a fresh one, it never fails.
// - The store keeps each session's absolute deadline and idle timeout itself (`deadlines`:
//   the record's deadline, and the host's idle timeout if it has one), slides the expiry on
//   reads and writes (never past the deadline), and a version that changes with every write.
//   `find` records the read: a request that only reads stores nothing and sends no cookie.
// - The cookie is `session=<token>; Path=/; Max-Age=<s>; HttpOnly; SameSite=Lax`, plus
//   `Secure` when the request came over https. Max-Age is the time left before the absolute
//   deadline in whole seconds rounded up (0 once expired), at most 400 days: the store, not
//   the cookie, decides when a session ends (it ends idle sessions sooner).
// - A forged, malformed, unknown or expired token never becomes a session: the request gets
//   a fresh one, whose token the store draws when it is first saved (`create`, with the
//   device label of the request's User-Agent, `deviceLabel`).
// - No lost updates (session-core's `Save`): an existing session is written only by the
//   conditional `update(token, data, version)`. When another request saved first, the save
//   reads the session again and puts this request's own values over the newer ones, key by
//   key, at most SAVE_ATTEMPTS updates in all, then answers 409 (Conflict: nothing of this
//   request stored, the cookie kept; retrying works). Saves of one token in one process
//   wait for each other (they would only spend their attempts on each other); across
//   processes the reload settles it.
// - Logout and renewal are final: a save that finds its session gone (a concurrent /destroy
//   or /renew) stores nothing, clears the cookie and answers 409. Renewal moves the session
//   to a new token with the store's `rotate(old, deadlines)` (one transaction, owner, label
//   and creation time kept), then, if the request put values, saves them there as above.
// - Methods (ROUTE_METHODS, session-core's `Route`): the reads /get and /devices answer GET
//   and HEAD; /set, /renew, /destroy, /login?user=NAME and /logout-everywhere answer POST only
//   (query parameters as they are, no body needed): the cookie is SameSite=Lax, which a
//   browser sends with a cross-site GET, so a link on another site must not be able to set a
//   value in, end, rotate or log in a session. /put?message=TEXT answers GET and POST: GET
//   stays because it is the demo's and the benchmark's write, and it only replaces the demo
//   message in the requester's own session; applications that copy these routes should make
//   their own writes POST. Any other method on a route is answered 405 with `Allow` (e.g.
//   `POST`, `GET, HEAD`) and the fixed body `method not allowed; use POST\n` (`use GET or
//   HEAD`, `use GET or POST`), before the session is loaded or the body read: no store call,
//   no Set-Cookie. An unknown path is 404 whatever the method.
// - POST /set?key=K&value=V stores the string V under K, leaving every other value: 200
//   `stored\n`. No `key`: 400 (missing key); a key that is empty, over MAX_KEY_BYTES, holds
//   control characters or is `user` (set only by /login): 400 (invalid key), both before
//   any store call; no `value`: the empty string. /get?key=K answers the value of K (a
//   string as it is, other JSON as JSON), empty when there is none; /get alone the
//   `message` value.
// - A logged-in session holds the value `"user": NAME`, and the store's owner of the
//   session is NAME. POST /login?user=NAME (session-core's `Login`) gives the session a new
//   token T: the store's `rotate` of the request's active session, or, without one (or when
//   rotate answers none: it ended meanwhile), a fresh anonymous session from `create` (with
//   the request's device label). Then `set-owner(T, NAME)`, then the user value saved into
//   T as every save is (`find(T)`, conditional `update`): the pre-login token never gets the
//   owner or the user value (session fixation), and it is dead afterwards. Answer 200
//   `logged in\n`, the cookie set to T. A name the store refuses (`invalid-input`: empty,
//   over 256 bytes, control characters) is answered 400 with a fixed text that does not
//   echo it, the cookie still set to T (rotated, not logged in, nothing lost); a missing
//   `user` parameter is answered 400 before any store call; T ending meanwhile is 409 with
//   the cookie cleared; other writes keeping the user value out, 409 Conflict with the
//   cookie set to T. Any failure after T exists keeps the cookie set to T.
// - /devices: 401 `not logged in\n` unless the session has a `user`; else 200
//   `application/json`
//   `{"sessions":[{"id":"…","expiry":MS,"created":MS,"last_seen":MS,"label":"…"},…]}` (`null`
//   where the store recorded nothing), the store's `sessions-of(user)` in its order
//   (soonest expiry first); ids, never tokens.
// - /logout-everywhere: 401 as /devices; else `revoke-owner(user, this token)` ends every
//   other session of the user, this one stays: 200 `application/json` `{"revoked":N}`.
//
// Status codes: 200 done; 400 a token, user name or key the store or the contract refuses,
// or /login without a user, /set without a key; 401 /devices or /logout-everywhere without a
// logged-in session; 404 unknown path; 405 a method the route does not answer (with Allow);
// 409 the session ended while the request ran, or kept changing under concurrent requests;
// 413 session data over SESSIONS_MAX_DATA_BYTES, or a request body (the routes take none)
// over MAX_REQUEST_BODY_BYTES; 503 with Retry-After: 1 when the store is unavailable
// (server down or slow, auth token refused, a database file locked by another instance);
// 500 any other store failure. Error bodies are session-core's fixed texts: the details,
// which may name hosts, go to the log (with the auth token and URL passwords redacted).

import { Handoff } from './handoff.js';
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

/** How many conditional updates one save tries before it answers 409 Conflict (session-core's `SAVE_ATTEMPTS`). */
export const SAVE_ATTEMPTS = 10;

/** The session value naming the logged-in user (session-core's `USER_KEY`). */
export const USER_KEY = 'user';

/** The longest key /set takes, in bytes (session-core's `MAX_KEY_BYTES`). */
export const MAX_KEY_BYTES = 64;

/** Seconds a client is told to wait (Retry-After) after a 503. */
const RETRY_AFTER_S = '1';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The methods each route answers, as HTTP spells them: session-core's `Route::methods`, the
 * one table every JavaScript host (Node, workerd, Deno) goes by. Reads answer GET and HEAD;
 * /set and the routes that end, rotate or log in a session answer POST only; /put keeps GET
 * for the demo and the benchmark (see the module docs).
 */
export const ROUTE_METHODS = Object.freeze({
  '/put': Object.freeze(['GET', 'POST']),
  '/get': Object.freeze(['GET', 'HEAD']),
  '/set': Object.freeze(['POST']),
  '/renew': Object.freeze(['POST']),
  '/destroy': Object.freeze(['POST']),
  '/login': Object.freeze(['POST']),
  '/devices': Object.freeze(['GET', 'HEAD']),
  '/logout-everywhere': Object.freeze(['POST']),
});

/** A value as /get?key=K answers it: a string as it is, other JSON as JSON, '' for none. */
function valueText(value) {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Each route acts on the request's Session and returns the answer's body; the app then saves it. */
const SESSION_ROUTES = {
  '/put': (session, query) => {
    session.put('message', query.get('message') ?? DEFAULT_MESSAGE);
    return 'stored\n';
  },
  '/get': (session, query) => {
    if (query.has('key')) return valueText(session.get(query.get('key')));
    const message = session.get('message');
    return typeof message === 'string' ? message : '';
  },
  '/set': (session, query) => {
    session.put(query.get('key'), query.get('value') ?? '');
    return 'stored\n';
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
  missingKey: [400, 'missing the key parameter: /set?key=K&value=V\n'],
  invalidKey: [400, 'invalid key: use 1 to 64 bytes without control characters; "user" is set by /login\n'],
  notLoggedIn: [401, 'not logged in\n'],
  tooLarge: (limit) => [413, `session data is larger than the store's limit of ${limit} bytes; nothing was stored\n`],
  sessionEnded: [409, 'the session ended while this request ran; nothing was stored\n'],
  conflict: [409, 'the session kept changing under concurrent requests; nothing was stored; try again\n'],
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
 * EDGE_SESSION_LIFETIME, `idleTimeoutMs` (a session unused that long ends; undefined: off)
 * from EDGE_SESSION_IDLE_TIMEOUT. A file database is refused here, before any instance exists.
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
  const idle = env.EDGE_SESSION_IDLE_TIMEOUT;
  const idleTimeoutMs = typeof idle === 'string' ? parseDuration(idle, 'EDGE_SESSION_IDLE_TIMEOUT') : undefined;
  return { storeEnv, lifetimeMs, idleTimeoutMs };
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

/** `values[key] = value` as an own property, whatever the key (`__proto__` included). */
function setOwn(values, key, value) {
  Object.defineProperty(values, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * One request's session: its token and the version it was read at (undefined for a fresh
 * session), its deadline and values, its `status` (what saving must do), and `changes`, the
 * values this request put (put again over a newer stored record on a conflict).
 */
export class Session {
  constructor({ token, version, deadline, values = {}, status = 'unmodified' }) {
    this.token = token;
    this.version = version;
    this.deadline = deadline;
    this.values = values;
    this.status = status;
    this.changes = {};
  }

  /** A new, empty session ending `lifetimeMs` after `nowMs` (saturating at MAX_TIMESTAMP). */
  static fresh(nowMs, lifetimeMs) {
    return new Session({ deadline: offset(nowMs, lifetimeMs) });
  }

  /** A copy, values and changes included. */
  clone() {
    const copy = new Session({ ...this, values: { ...this.values } });
    copy.changes = { ...this.changes };
    return copy;
  }

  get(key) {
    return Object.hasOwn(this.values, key) ? this.values[key] : undefined;
  }

  /** Sets a value (a destroyed session stays destroyed). */
  put(key, value) {
    if (this.status === 'destroyed') return;
    setOwn(this.values, key, value);
    setOwn(this.changes, key, value);
    if (this.status === 'unmodified') this.status = 'modified';
  }

  /** A new token for the same data; the old token stops working (use it at login). */
  renew() {
    if (this.status !== 'destroyed') this.status = 'renewed';
  }

  /** The user this session is logged in as (its `user` value), or undefined. */
  user() {
    const user = this.get(USER_KEY);
    return typeof user === 'string' ? user : undefined;
  }

  /** Ends the session: its data is deleted and the cookie cleared. */
  destroy() {
    this.values = {};
    this.changes = {};
    this.status = 'destroyed';
  }

  /** The deadlines the store keeps when it creates or rotates this session: `{ absolute, idleMs }`. */
  deadlines(idleTimeoutMs) {
    return { absolute: this.deadline, idleMs: idleTimeoutMs };
  }

  /** The record stored now (`data`) with this request's own values put over it; undefined if `data` is no record. */
  rebased(data) {
    const record = decodeRecord(data);
    if (record) for (const [key, value] of Object.entries(this.changes)) setOwn(record.values, key, value);
    return record;
  }
}

const done = (saved) => ({ call: 'done', saved });
const UNCHANGED = Object.freeze({ kind: 'unchanged' });
const ENDED_MEANWHILE = Object.freeze({ kind: 'ended-meanwhile' });

/**
 * Saving one request's session, session-core's `Save` state machine: `first()` gives the
 * first store call; the host makes each call and hands its answer to the matching method,
 * which gives the next step, until `{ call: 'done', saved }`:
 *
 * | step | store call | answer → next step |
 * |---|---|---|
 * | `create` | `create(data, deadlines, label)` → T | `created(T)`: done, live T |
 * | `rotate` | `rotate(old, deadlines)` → T? | `rotated(T)`: none → ended-meanwhile; T → live T, or `find` T when this request put values |
 * | `find` | `find(T)` → session? | `found(session)`: none → ended-meanwhile; else `update` of the stored values with this request's put over them |
 * | `update` | `update(T, data, version)` → version? | `updated(version)`: some → live T; none → `find` T, at most SAVE_ATTEMPTS updates, then conflict |
 * | `delete` | `delete(T)` | `deleted()`: ended |
 */
export class Save {
  #session;
  #token;
  #deadlines;
  #label;
  #attempts = 0;
  /** The record of the pending update. */
  #pending;

  /**
   * @param {Session} session
   * @param {object} [options]
   * @param {number} [options.idleTimeoutMs] a session unused that long ends (undefined: only its deadline)
   * @param {string} [options.label] what a new session is listed as on /devices
   * @param {string} [options.token] the stored session the save writes (default: the session's)
   * @param {{ absolute: number, idleMs?: number }} [options.deadlines] its deadlines (default: the session's)
   */
  constructor(session, { idleTimeoutMs, label, token = session.token, deadlines = session.deadlines(idleTimeoutMs) } = {}) {
    this.#session = session;
    this.#token = token;
    this.#deadlines = deadlines;
    this.#label = label;
  }

  /** What the last applied update stored: `{ token, version, record }`; undefined before one. */
  written = undefined;

  /** The first store call (or done, unchanged: a session only read stores nothing). */
  first() {
    const s = this.#session;
    const data = () => encodeRecord(s.deadline, s.values);
    switch (s.status) {
      case 'unmodified':
        return done(UNCHANGED);
      case 'destroyed':
        return s.token === undefined ? done(UNCHANGED) : { call: 'delete', token: s.token };
      case 'modified':
      case 'renewed':
        if (s.token === undefined) return { call: 'create', data: data(), deadlines: this.#deadlines, label: this.#label };
        if (s.status === 'renewed') return { call: 'rotate', token: s.token, deadlines: this.#deadlines };
        return this.#update(s.token, { deadline: s.deadline, values: s.values }, s.version);
      default:
        throw new Error(`unknown session status ${s.status}`);
    }
  }

  /** `create` stored the session under `token`. */
  created(token) {
    return this.#live(token);
  }

  /** `rotate` moved the session to `token` (undefined: it had ended). */
  rotated(token) {
    if (token === undefined) return done(ENDED_MEANWHILE);
    if (Object.keys(this.#session.changes).length === 0) return this.#live(token);
    this.#token = token;
    return { call: 'find', token };
  }

  /** `find` answered `found` (its `data` and `version`; undefined: the session ended). */
  found(found) {
    const record = found && this.#session.rebased(found.data);
    if (!record || this.#token === undefined) return done(ENDED_MEANWHILE);
    return this.#update(this.#token, record, found.version);
  }

  /** `update` answered `version`: the new version (applied), or undefined (a newer version or no session). */
  updated(version) {
    this.#attempts += 1;
    if (version !== undefined) {
      this.written = { token: this.#token, version, record: this.#pending };
      return this.#live(this.#token);
    }
    if (this.#attempts < SAVE_ATTEMPTS) return { call: 'find', token: this.#token };
    return done({ kind: 'conflict' });
  }

  /** `delete` ended the session. */
  deleted() {
    return done({ kind: 'ended' });
  }

  #update(token, record, version) {
    this.#pending = record;
    return { call: 'update', token, data: encodeRecord(record.deadline, record.values), version };
  }

  #live(token) {
    return done({ kind: 'live', token, expiry: this.#deadlines.absolute });
  }
}

/** Browsers by the token that names them, most specific first (session-core's label.rs). */
const BROWSERS = [
  ['Edg/', 'Edge'],
  ['OPR/', 'Opera'],
  ['Firefox/', 'Firefox'],
  ['CriOS/', 'Chrome'],
  ['Chrome/', 'Chrome'],
  ['Safari/', 'Safari'],
];

/** Systems by the token that names them, most specific first. */
const SYSTEMS = [
  ['Android', 'Android'],
  ['iPhone', 'iOS'],
  ['iPad', 'iOS'],
  ['CrOS', 'ChromeOS'],
  ['Windows', 'Windows'],
  ['Macintosh', 'macOS'],
  ['Linux', 'Linux'],
];

/** The longest product name taken from an unknown agent, in characters. */
const MAX_PRODUCT_CHARS = 32;

/** Unicode White_Space at either end, as Rust's `str::trim` removes it (JavaScript's trim differs). */
const RUST_TRIM = /^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/**
 * The label a new session is listed under on /devices, from the request's User-Agent
 * (session-core's `device_label`): "BROWSER on SYSTEM", "BROWSER", or undefined when the
 * agent names nothing: a known browser, else the agent's first product name (letters,
 * digits, `.`, `_`, `-` only, at most 32). Always a valid store label.
 */
export function deviceLabel(userAgent) {
  const agent = String(userAgent ?? '');
  const browser = BROWSERS.find(([token]) => agent.includes(token))?.[1] ?? product(agent);
  if (browser === undefined) return undefined;
  const system = SYSTEMS.find(([token]) => agent.includes(token))?.[1];
  return system === undefined ? browser : `${browser} on ${system}`;
}

/** The first product name of an agent (`curl` of `curl/8.11.0`), reduced to safe characters. */
function product(agent) {
  const first = agent.replace(RUST_TRIM, '').split(/[/ ]/)[0];
  const name = first.replace(/[^A-Za-z0-9._-]/g, '').slice(0, MAX_PRODUCT_CHARS);
  return name === '' ? undefined : name;
}

/**
 * Whether /set may store `key` (session-core's `check_key`): not empty, at most
 * MAX_KEY_BYTES of UTF-8, no control characters, and not USER_KEY (only /login sets the user).
 */
export function checkKey(key) {
  return key !== '' && encoder.encode(key).length <= MAX_KEY_BYTES && !/[\u0000-\u001f\u007f-\u009f]/.test(key) && key !== USER_KEY;
}

/**
 * The /devices body (session-core's `devices_json`), in the order given:
 * `{"sessions":[{"id":"…","expiry":MS,"created":MS,"last_seen":MS,"label":"…"},…]}`, `null`
 * for what the store did not record.
 */
export function devicesJson(sessions) {
  const rows = sessions.map(({ id, expiry, created, lastSeen, label }) => ({
    id,
    expiry,
    created: created ?? null,
    last_seen: lastSeen ?? null,
    label: label ?? null,
  }));
  return JSON.stringify({ sessions: rows });
}

/** How often a save waiting for its turn looks whether it has it, in ms. */
const TURN_POLL_MS = 1;

/**
 * Runs the saves of one token one after another (in this process): each waits for the ones
 * started before it. A run that ends hands the turn to the oldest waiting one, which finds
 * it on a timer of its own (handoff.js); a turn handed to a run that stopped looking (its
 * request was cancelled) passes on.
 */
export class TokenQueue {
  /** Per token with a run going: the runs waiting for their turn. */
  #turns = new Map();

  /** `fn()` once the earlier runs for `token` have ended (at once for undefined); its result. */
  async run(token, fn) {
    if (token === undefined) return fn();
    let turns = this.#turns.get(token);
    if (turns === undefined) {
      turns = new Handoff(() => this.#end(token, turns));
      this.#turns.set(token, turns);
    } else {
      await turns.wait(() => TURN_POLL_MS);
    }
    try {
      return await fn();
    } finally {
      if (!turns.hand(true)) this.#end(token, turns);
    }
  }

  /** Ends the queue `turns` of `token`: no run waits in it. */
  #end(token, turns) {
    if (this.#turns.get(token) === turns) this.#turns.delete(token);
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
 * `{ kind: 'unchanged' }`, `{ kind: 'live', token, expiry }` (expiry: the absolute
 * deadline), `{ kind: 'ended' }` (this request ended it), `{ kind: 'ended-meanwhile' }` (it
 * had ended before this request could save: nothing stored, answer 409, cookie cleared) or
 * `{ kind: 'conflict' }` (other requests kept saving it: nothing of this request stored,
 * answer 409, cookie kept).
 */
export class SessionManager {
  #saves;

  /**
   * @param {import('./store.js').SessionStore} store
   * @param {object} [options]
   * @param {() => number} [options.now] the wall clock the store sees, ms since the epoch
   * @param {number} [options.lifetimeMs] how long a fresh session lasts (its absolute deadline)
   * @param {number} [options.idleTimeoutMs] a session unused that long ends (default: never)
   * @param {boolean} [options.secure] add `Secure` to the cookie (unless `cookie.secure` says otherwise)
   * @param {CookieOptions} [options.cookie] the cookie's name and attributes
   * @param {TokenQueue} [options.saves] runs the saves of one token one at a time; share one
   *   between the managers of a process (sessionHandler does)
   */
  constructor(store, { now = Date.now, lifetimeMs = DEFAULT_LIFETIME_MS, idleTimeoutMs, secure = false, cookie, saves = new TokenQueue() } = {}) {
    this.store = store;
    this.now = now;
    this.lifetimeMs = lifetimeMs;
    this.idleTimeoutMs = idleTimeoutMs;
    this.cookie = cookieOptions(cookie);
    this.secure = this.cookie.secure ?? secure;
    this.#saves = saves;
  }

  /**
   * The session named by a `Cookie:` header, or a fresh one. The store's `find` records the
   * read (nothing more is stored for a session only read). Throws only StoreErrors the store raises.
   */
  async load(cookieHeader) {
    const fresh = Session.fresh(this.now(), this.lifetimeMs);
    const token = cookieValue(cookieHeader ?? '', this.cookie.name);
    if (token === undefined || token === '') return fresh;
    let found;
    try {
      found = await this.store.find(token);
    } catch (e) {
      if (e instanceof StoreError && e.kind === 'invalid-token') return fresh;
      throw e;
    }
    const record = found && decodeRecord(found.data);
    return record ? new Session({ token, version: found.version, ...record }) : fresh;
  }

  /**
   * Persists what the route did (session-core's `Save`, after the saves of the same token
   * started earlier in this process); returns what happened (see the class docs). `label`:
   * what a session created now is listed as on /devices (`deviceLabel` of the User-Agent).
   */
  save(session, { label } = {}) {
    const save = new Save(session, { idleTimeoutMs: this.idleTimeoutMs, label });
    const first = save.first();
    if (first.call === 'done') return Promise.resolve(first.saved);
    return this.#saves.run(session.token, () => this.#drive(save, first));
  }

  /** Makes the store call of each step of `save`, from `step`, until it is done; what it did. */
  async #drive(save, step) {
    for (;;) {
      switch (step.call) {
        case 'done':
          return step.saved;
        case 'create':
          step = save.created(await this.store.create(step.data, step.deadlines, step.label));
          break;
        case 'rotate':
          step = save.rotated(await this.store.rotate(step.token, step.deadlines));
          break;
        case 'find':
          step = save.found(await this.store.find(step.token));
          break;
        case 'update':
          step = save.updated(await this.store.update(step.token, step.data, step.version));
          break;
        case 'delete':
          await this.store.delete(step.token);
          step = save.deleted();
          break;
        default:
          throw new Error(`unknown save step ${step.call}`);
      }
    }
  }

  /**
   * Logs `session` in as `user` (session-core's `Login`): the session gets a new token T
   * (the store's `rotate` of its token; a fresh anonymous session from `create`, listed as
   * `label`, when it has none or rotate answers none), then `setOwner(T, user)`, then the
   * user value (with this request's own values) saved into T as every save is (`find`, the
   * conditional `update`). Resolves `{ saved, error, conflict, session }`: `saved` is what the
   * cookie must say (`live` T, or `ended-meanwhile` when T ended before the login finished:
   * a concurrent logout); `error` the StoreError that stopped the login once T existed
   * (`invalid-input` for a name the store refuses); `conflict` true when other writes to T
   * kept the user value out (409, the cookie set to T); `session` the logged-in Session of T
   * when it worked. Throws the StoreErrors raised before T existed (then nothing changed).
   */
  login(session, user, { label } = {}) {
    return this.#saves.run(session.token, () => this.#login(session, user, label));
  }

  async #login(session, user, label) {
    let loggedIn = session;
    let token = session.token === undefined ? undefined : await this.store.rotate(session.token, session.deadlines(this.idleTimeoutMs));
    if (token === undefined) {
      loggedIn = Session.fresh(this.now(), this.lifetimeMs);
      token = await this.store.create(encodeRecord(loggedIn.deadline, loggedIn.values), loggedIn.deadlines(this.idleTimeoutMs), label);
    }
    loggedIn = loggedIn.clone();
    loggedIn.put(USER_KEY, user);
    const deadlines = loggedIn.deadlines(this.idleTimeoutMs);
    const live = { kind: 'live', token, expiry: deadlines.absolute };
    try {
      if (!(await this.store.setOwner(token, user))) return { saved: ENDED_MEANWHILE };
      const save = new Save(loggedIn, { token, deadlines });
      const saved = await this.#drive(save, { call: 'find', token });
      if (saved.kind === 'conflict') return { saved: live, conflict: true };
      if (saved.kind !== 'live') return { saved: ENDED_MEANWHILE };
      const { version, record } = save.written;
      return { saved, session: new Session({ token, version, ...record }) };
    } catch (error) {
      return { saved: live, error };
    }
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

/** A 200 answer with the JSON `body`. */
function json(body) {
  return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
}

/** The answer to a request whose session ended while it ran (409, nothing stored). */
export function sessionEndedAnswer() {
  return text(ANSWERS.sessionEnded);
}

/** The answer to a save that other requests' saves kept out (409, nothing stored, the cookie kept). */
export function conflictAnswer() {
  return text(ANSWERS.conflict);
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
  /** True when a login's user value was kept out by other writes (the answer becomes 409 Conflict). */
  conflict = false;
  /** Set by a route whose answer must not save the session (an application error). */
  abandoned = false;

  /**
   * @param {SessionManager} manager
   * @param {Session} session
   * @param {object} [options]
   * @param {string} [options.label] what a session created by this request is listed as on
   *   /devices (`deviceLabel` of its User-Agent)
   */
  constructor(manager, session, { label } = {}) {
    this.manager = manager;
    this.session = session;
    this.label = label;
  }

  /** The store instance lent to this request. */
  get store() {
    return this.manager.store;
  }

  /**
   * Logs the session in as `user` (SessionManager.login): it gets a new token at once; its
   * cookie goes out with the answer. Resolves true when logged in (the request's Session is
   * then the logged-in one), false when the session ended meanwhile (the answer becomes 409,
   * cookie cleared) or other writes kept the user value out (409 Conflict, the cookie set
   * to the new token). Throws the StoreError that stopped it (`invalid-input` for a name
   * the store refuses: 400; the cookie still moves to the new token when it exists).
   */
  async login(user) {
    const { saved, error, conflict, session } = await this.manager.login(this.session, user, { label: this.label });
    this.saved = saved;
    this.conflict = conflict === true;
    if (session) Object.assign(this.session, session);
    if (error) throw error;
    return session !== undefined;
  }

  /**
   * The user's active sessions (`[{ id, expiry, created, lastSeen, label }]`, soonest expiry
   * first, times in ms since the epoch, undefined where the store recorded nothing);
   * undefined when not logged in.
   */
  async devices() {
    const user = this.session.user();
    if (user === undefined) return undefined;
    const sessions = await this.store.sessionsOf(user);
    return sessions.map(({ id, expiry, created, lastSeen, label }) => ({ id, expiry, created, lastSeen, label }));
  }

  /** Ends every other session of the user; resolves how many, undefined when not logged in. */
  async logoutEverywhere() {
    const user = this.session.user();
    if (user === undefined) return undefined;
    return this.store.revokeOwner(user, this.session.token);
  }

  /**
   * Saves the session after the route answered `response`, and returns the answer to send:
   * `response` with the cookie; a 409 with the cookie cleared when the session ended while
   * the request ran; a 409 Conflict (the cookie as a login left it) when other requests'
   * saves kept this one's out. Nothing is stored after a login that did not log in.
   */
  async finish(response) {
    const manager = this.manager;
    if (this.abandoned) return this.saved ? withCookie(response, manager, this.saved) : response;
    if (this.saved?.kind === 'ended-meanwhile') return withCookie(sessionEndedAnswer(), manager, this.saved);
    if (this.conflict) return withCookie(conflictAnswer(), manager, this.saved);
    const later = await manager.save(this.session, { label: this.label });
    const saved = later.kind === 'unchanged' && this.saved ? this.saved : later;
    if (saved.kind === 'ended-meanwhile') return withCookie(sessionEndedAnswer(), manager, saved);
    if (saved.kind === 'conflict') return withCookie(conflictAnswer(), manager, this.saved);
    return withCookie(response, manager, saved);
  }
}

/**
 * The session life of a request, for every way of serving one (createApp, the Hono
 * middleware): an instance from `pool` lent to the request alone; its session loaded from
 * the cookie; `route(requestSession)` run, resolving the Response; the session saved
 * (session-core's `Save`: conditional updates, after the saves of the same token this
 * handler started earlier; a save that finds the session ended meanwhile answers 409,
 * cookie cleared; one kept out by other saves 409 Conflict); failures answered as
 * `failureAnswer` does. Returns `handle(request, route)`.
 * @param {object} options
 * @param {{ use<T>(fn: (store: import('./store.js').SessionStore) => Promise<T>): Promise<T> }} options.pool
 * @param {number} [options.lifetimeMs] how long a fresh session lasts (its absolute deadline)
 * @param {number} [options.idleTimeoutMs] a session unused that long ends (default: never)
 * @param {CookieOptions} [options.cookie] the cookie's name and attributes
 * @param {(message: string) => void} [options.log] receives server-side failures (redacted)
 * @param {string} [options.authToken] redacted from the log
 * @param {() => number} [options.now] the wall clock the store sees, ms since the epoch
 */
export function sessionHandler({ pool, lifetimeMs = DEFAULT_LIFETIME_MS, idleTimeoutMs, cookie, log = console.error, authToken, now = Date.now }) {
  const checked = cookieOptions(cookie);
  const saves = new TokenQueue();
  return async function handle(request, route) {
    const url = new URL(request.url);
    const path = url.pathname;
    try {
      return await pool.use(async (store) => {
        const options = { now, lifetimeMs, idleTimeoutMs, secure: url.protocol === 'https:', cookie: checked, saves };
        const manager = new SessionManager(store, options);
        const label = deviceLabel(request.headers.get('user-agent') ?? '');
        const scope = new RequestSession(manager, await manager.load(request.headers.get('cookie')), { label });
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
    return sessions === undefined ? notLoggedInAnswer() : json(devicesJson(sessions));
  },
  '/logout-everywhere': async (scope) => {
    const revoked = await scope.logoutEverywhere();
    return revoked === undefined ? notLoggedInAnswer() : json(JSON.stringify({ revoked }));
  },
};

/** Every path served, for the answer to any other. */
const NOT_FOUND = [
  404,
  'not found; the routes are /put?message=TEXT, /get[?key=K], /set?key=K&value=V, /renew, /destroy, /login?user=NAME, /devices and /logout-everywhere\n',
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
 * The answer to a route's query that the contract refuses before any store call, or
 * undefined: /login without `user` (400), /set without `key` (400) or with a key `checkKey`
 * refuses (400).
 */
export function refuseQuery(path, query) {
  if (path === '/login' && !query.has('user')) return missingUserAnswer();
  if (path === '/set') {
    if (!query.has('key')) return text(ANSWERS.missingKey);
    if (!checkKey(query.get('key'))) return text(ANSWERS.invalidKey);
  }
  return undefined;
}

/**
 * The demo routes' work, for any framework: the route at `path` (a key of ROUTE_METHODS)
 * acting on the request's RequestSession with the URL's `query`; resolves the Response the
 * session handler then saves. Queries `refuseQuery` refuses are answered by the callers
 * before any store call.
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
 * @param {{ storeEnv: Record<string,string>, lifetimeMs: number, idleTimeoutMs?: number }} options.settings
 *   the component's environment (for redacting its auth token), the session lifetime and
 *   idle timeout (as readSettings gives them)
 * @param {(message: string) => void} [options.log] receives server-side failures (already redacted)
 * @param {() => number} [options.now] the wall clock the store sees, ms since the epoch
 * @param {CookieOptions} [options.cookie] the cookie's name and attributes
 */
export function createApp({ pool, settings, log = console.error, now = Date.now, cookie }) {
  const authToken = settings.storeEnv.SESSIONS_AUTH_TOKEN;
  const logFailure = (what, e) => log(redact(`${what}: ${e?.stack ?? e}`, authToken));
  const { lifetimeMs, idleTimeoutMs } = settings;
  const handle = sessionHandler({ pool, lifetimeMs, idleTimeoutMs, cookie, log, authToken, now });

  async function fetch(request) {
    const url = new URL(request.url);
    const path = url.pathname;
    const refused = refuseRequest(path, request.method);
    if (refused) return refused;
    if (await bodyTooLarge(request)) return bodyTooLargeAnswer();
    const query = url.searchParams;
    const unusable = refuseQuery(path, query);
    if (unusable) return unusable;
    return handle(request, (scope) => runRoute(path, scope, query));
  }

  /** Sweeps until no expired session remains; `{ removed, batches }`. Throws StoreErrors. */
  function sweep() {
    return pool.use((store) => sweepUntilDone(store));
  }

  return { fetch, sweep, logFailure };
}
