// Sessions on top of the store, following the contract of the Rust crate `session-core`
// (session-core/src/lib.rs), which the Rust host example and the edge app use:
//
// - The stored record is the UTF-8 JSON `{"deadline":<ms since the epoch>,"values":{...}}`,
//   deadline first, no whitespace; data that is not such a record is not a session. So all
//   three hosts share one database.
// - The `session` cookie carries the token: Path=/, HttpOnly, SameSite=Lax (+ Secure when
//   configured); Max-Age is the time left in whole seconds rounded up, capped at 400 days.
// - Deadlines saturate at 2^53 - 1 ms: a huge lifetime never wraps into the past.
// - A forged, malformed, unknown or expired token never becomes a session: the request gets
//   a fresh one, and saving it draws a new token, so clients cannot choose their token.
// - Saving an existing session uses the store's `update`, never `commit` (an upsert): a save
//   racing a logout or a renewal cannot bring the ended token back; it stores nothing and
//   the request is answered 409. Renewal ends the old token with `update(old, [], 0)` and
//   creates the new one only if the old one was still active.

import { StoreError } from './store.js';

export const COOKIE_NAME = 'session';

/** The largest timestamp a session carries (ms since the epoch), as in session-core. */
export const MAX_TIMESTAMP = 2 ** 53 - 1;

/** The largest Max-Age sent, in seconds: 400 days. */
export const MAX_AGE_CAP_S = 400 * 24 * 3600;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

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

/** One request's session. */
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

  /** Ends the session: its data is deleted and the cookie cleared. */
  destroy() {
    this.values = {};
    this.status = 'destroyed';
  }
}

/**
 * What a save did: `{ kind: 'unchanged' }`, `{ kind: 'live', token, expiry }`,
 * `{ kind: 'ended' }` (this request ended it) or `{ kind: 'ended-meanwhile' }` (it had ended
 * before this request could save: nothing stored, answer 409).
 */
export class SessionManager {
  /**
   * @param {import('./store.js').SessionStore} store
   * @param {{ nowMs(): number }} clock the same clock the store sees
   * @param {{ lifetimeMs?: number, secure?: boolean }} [options]
   */
  constructor(store, clock, { lifetimeMs = 24 * 3_600_000, secure = false } = {}) {
    this.store = store;
    this.clock = clock;
    this.lifetimeMs = lifetimeMs;
    this.secure = secure;
  }

  /** The session named by a `Cookie:` header, or a fresh one. Throws only StoreErrors the store raises. */
  load(cookieHeader) {
    const fresh = new Session({ deadline: offset(this.clock.nowMs(), this.lifetimeMs) });
    const token = cookieValue(cookieHeader ?? '', COOKIE_NAME);
    if (token === undefined) return fresh;
    let data;
    try {
      data = this.store.find(token);
    } catch (e) {
      if (e instanceof StoreError && e.kind === 'invalid-token') return fresh;
      throw e;
    }
    const record = data && parseRecord(data);
    return record ? new Session({ token, deadline: record.deadline, values: record.values }) : fresh;
  }

  /** Persists what the handler did; returns what happened (see the class docs). */
  save(session) {
    const { status, token, deadline } = session;
    const data = () => encodeRecord(deadline, session.values);
    const live = (t) => ({ kind: 'live', token: t, expiry: deadline });
    switch (status) {
      case 'unmodified':
        return { kind: 'unchanged' };
      case 'destroyed':
        if (token === undefined) return { kind: 'unchanged' };
        this.store.delete(token);
        return { kind: 'ended' };
      case 'modified':
        if (token === undefined) return live(this.store.create(data(), deadline));
        return this.store.update(token, data(), deadline) ? live(token) : { kind: 'ended-meanwhile' };
      case 'renewed':
        if (token === undefined) return live(this.store.create(data(), deadline));
        if (!this.store.update(token, new Uint8Array(0), 0)) return { kind: 'ended-meanwhile' };
        return live(this.store.create(data(), deadline));
      default:
        throw new Error(`unknown session status ${status}`);
    }
  }

  /** The `Set-Cookie` value that tells the client what `saved` did, if any. */
  setCookie(saved) {
    switch (saved.kind) {
      case 'live':
        return this.#cookie(saved.token, maxAgeSeconds(saved.expiry, this.clock.nowMs()));
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
    const secure = this.secure ? '; Secure' : '';
    return `${COOKIE_NAME}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`;
  }
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
