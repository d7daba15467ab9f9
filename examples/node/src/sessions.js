// Sessions on top of the store, with the semantics of the Rust host example's session
// manager and the edge app: the `session` cookie carries the token, the store keeps
// `{"deadline","values"}` JSON (so all three share one database), the lifetime is absolute.
//
// A forged, malformed, unknown or expired token never becomes a session: the request gets
// a fresh one, and saving it draws a new token, so clients cannot choose their token.

import { StoreError } from './store.js';

export const COOKIE_NAME = 'session';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

  put(key, value) {
    this.values[key] = value;
    if (this.status === 'unmodified') this.status = 'modified';
  }

  /** A new token for the same data; the old token stops working (use it at login). */
  renew() {
    this.status = 'renewed';
  }

  /** Ends the session: its data is deleted and the cookie cleared. */
  destroy() {
    this.values = {};
    this.status = 'destroyed';
  }
}

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
    const fresh = new Session({ deadline: this.clock.nowMs() + this.lifetimeMs });
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

  /** Persists what the handler did; returns the `Set-Cookie` value to send, if any. */
  save(session) {
    const { status, token, deadline } = session;
    const data = () => encoder.encode(JSON.stringify({ deadline, values: session.values }));
    switch (status) {
      case 'unmodified':
        return undefined;
      case 'destroyed':
        if (token === undefined) return undefined;
        this.store.delete(token);
        return this.#cookie('', 0);
      case 'modified':
        if (token !== undefined) {
          this.store.commit(token, data(), deadline);
          return this.#cookie(token, deadline);
        }
        return this.#cookie(this.store.create(data(), deadline), deadline);
      case 'renewed': {
        const fresh = this.store.create(data(), deadline);
        if (token !== undefined) this.store.delete(token);
        return this.#cookie(fresh, deadline);
      }
      default:
        throw new Error(`unknown session status ${status}`);
    }
  }

  #cookie(token, deadline) {
    const maxAge = token ? Math.max(0, Math.floor((deadline - this.clock.nowMs()) / 1000)) : 0;
    const secure = this.secure ? '; Secure' : '';
    return `${COOKIE_NAME}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`;
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
    const ok = Number.isSafeInteger(record?.deadline) && record.values && typeof record.values === 'object';
    return ok ? record : undefined;
  } catch {
    return undefined;
  }
}
