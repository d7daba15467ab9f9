// The session-store component's exports (`edge:sessions/store@0.3.0`, `sweeper@0.2.2`) as JavaScript objects, for every JavaScript host:
// the calls of one instance (`SessionStore`), their errors as `StoreError`s, and sweeping
// until no expired session remains. An instance comes from jco's transpilation: with JSPI on
// edge runtimes (every export returns a promise; see pool.js), or synchronous in Node; the
// wrapper awaits either.

/**
 * A store call that failed; `kind` is the WIT error case (`invalid-token`, `invalid-input`,
 * `too-large`, `invalid-config`, `unavailable`, `storage`) and `detail` its payload.
 */
export class StoreError extends Error {
  constructor(kind, detail) {
    super(kind === 'too-large' ? `session data is larger than the limit of ${detail} bytes` : `${kind}: ${detail}`);
    this.name = 'StoreError';
    this.kind = kind;
    this.detail = detail;
  }
}

/** How many times a call the libSQL server refused as busy is repeated. */
const BUSY_RETRIES = 3;

/**
 * Whether the server refused the call as busy: the component reports it as `unavailable`,
 * its message quoting SQLite's code (`database is locked (SQLITE_BUSY)`).
 */
function isBusy(error) {
  return error.kind === 'unavailable' && /SQLITE_BUSY/.test(String(error.detail));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A store time (a bigint, or undefined) as a Number of ms: exact up to 2^53 − 1, where every
 * host of this project saturates its deadlines.
 */
const ms = (time) => (time === undefined ? undefined : Number(time));

/** `{ absolute, idleMs }` (ms) as the store's `deadlines` record. */
function wireDeadlines({ absolute, idleMs }) {
  return { absolute: BigInt(absolute), idle: idleMs === undefined ? undefined : BigInt(idleMs) };
}

/** One component instance's `store` (0.3.0) and `sweeper` exports; times are ms since the epoch. */
export class SessionStore {
  #exports;
  /** True once a call trapped: the instance is unusable and its pool drops it. */
  broken = false;

  constructor(exports) {
    this.#exports = exports;
  }

  /**
   * Runs one export, turning its `error` result into a StoreError. A libSQL server that
   * answers SQLITE_BUSY (writers queued on its lock longer than it waits) has run nothing,
   * so the call is repeated, up to BUSY_RETRIES times after short random pauses, before the
   * `unavailable` error stands.
   */
  async #call(fn) {
    for (let attempt = 0; ; attempt += 1) {
      let error;
      try {
        return await fn(this.#exports);
      } catch (e) {
        if (!e?.payload?.tag) {
          this.broken = true;
          throw e;
        }
        error = new StoreError(e.payload.tag, e.payload.val);
      }
      if (!isBusy(error) || attempt === BUSY_RETRIES) throw error;
      await sleep((attempt + 1) * (5 + Math.random() * 20));
    }
  }

  /**
   * Checks the configuration without touching the database: the component reads its
   * SESSIONS_* variables and opens its backend (no network traffic yet) on its first call,
   * and `page` with limit 0 returns before any query. Throws a StoreError (`invalid-config`
   * naming the variable) when a value is malformed.
   */
  async checkConfig() {
    await this.#call((x) => x.store.page(undefined, 0));
  }

  /**
   * The active session of `token`, or undefined: `{ data, version, expiry, absolute, idle,
   * created, lastSeen, label, owner }` (times in ms since the epoch, `idle` in ms; each
   * undefined where the store has none). `version` (a bigint) is what a conditional `update`
   * names. The store records the read itself (last seen; the idle timeout slid, never past
   * the absolute deadline), at most once per SESSIONS_LAST_SEEN_INTERVAL.
   */
  async find(token) {
    const found = await this.#call((x) => x.store.find(token));
    if (found === undefined) return undefined;
    const { data, version, expiry, absolute, idle, created, lastSeen, label, owner } = found;
    return { data, version, expiry: ms(expiry), absolute: ms(absolute), idle: ms(idle), created: ms(created), lastSeen: ms(lastSeen), label, owner };
  }

  /**
   * Conditional update: replaces the data of the active session `token` only if its version
   * is still `version` (as `find` read it). Resolves the new version, or undefined (nothing
   * stored) when another write came first or the session ended (`find` tells which).
   */
  update(token, data, version) {
    return this.#call((x) => x.store.update(token, data, version));
  }

  /** Removes a session; removing an unknown token succeeds. */
  delete(token) {
    return this.#call((x) => x.store.delete(token));
  }

  /**
   * Stores `data` under a fresh token and returns the token. `deadlines`: `{ absolute, idleMs }`,
   * the session's absolute end (ms since the epoch) and, if given, the idle timeout (ms) the
   * store slides its expiry by; `label` (≤ 128 bytes, no control characters, or undefined)
   * names it on a devices page.
   */
  create(data, deadlines, label) {
    return this.#call((x) => x.store.create(data, wireDeadlines(deadlines), label));
  }

  /**
   * Sets the owner of an active session (the user id at login), or clears it with
   * undefined. False, and nothing changed, when the token names no active session.
   * Throws a StoreError `invalid-input` (nothing changed) for an owner that is empty, over
   * 256 bytes (UTF-8) or holds control characters.
   */
  setOwner(token, owner) {
    return this.#call((x) => x.store.setOwner(token, owner));
  }

  /**
   * The active sessions of `owner` ("your devices"), soonest expiry first: `[{ id, owner,
   * expiry, created, lastSeen, label }]`, `id` the session's id (base64url of the SHA-256 of
   * its token, 43 characters; never usable as a token), times in ms since the epoch
   * (`created`, `lastSeen`, `label` undefined where the store recorded none). Throws
   * `invalid-input` for an owner the store refuses (as `setOwner`).
   */
  async sessionsOf(owner) {
    const sessions = await this.#call((x) => x.store.sessionsOf(owner));
    return sessions.map(({ id, owner: of, expiry, created, lastSeen, label }) => ({
      id,
      owner: of,
      expiry: ms(expiry),
      created: ms(created),
      lastSeen: ms(lastSeen),
      label,
    }));
  }

  /**
   * Deletes every session of `owner` ("log out everywhere") except the one whose token is
   * `keep` (this device; undefined keeps none), if that one is the owner's: sessions of
   * other owners are never touched. Returns how many active sessions were deleted.
   * Throws `invalid-input` for an owner the store refuses (as `setOwner`).
   */
  async revokeOwner(owner, keep) {
    return Number(await this.#call((x) => x.store.revokeOwner(owner, keep)));
  }

  /**
   * Deletes the session with this id (as `sessionsOf` lists it); true if it was active.
   * Throws `invalid-input` for an id that is empty, over 256 bytes or holds control characters.
   */
  revoke(id) {
    return this.#call((x) => x.store.revoke(id));
  }

  /**
   * In one transaction, a fresh token (drawn as by `create`) takes over the data, owner,
   * label and creation time of the active session `token`, which starts over with
   * `deadlines` (as `create` takes them), and `token` stops existing. Returns the new token;
   * undefined, and nothing created or deleted, when `token` names no active session. Used at
   * login and renewal, against session fixation.
   */
  rotate(token, deadlines) {
    return this.#call((x) => x.store.rotate(token, wireDeadlines(deadlines)));
  }

  /**
   * Active sessions in id order after the id `after` (undefined: from the first), at most
   * `limit`: `[[id, data], …]`, ids as `sessionsOf` names them.
   */
  page(after, limit) {
    return this.#call((x) => x.store.page(after, limit));
  }

  /** `{ active, expired }` session counts. */
  async stats() {
    const { active, expired } = await this.#call((x) => x.store.stats());
    return { active: Number(active), expired: Number(expired) };
  }

  /** One sweep batch: `{ removed, more }`. */
  async sweep() {
    const { removed, more } = await this.#call((x) => x.sweeper.sweep());
    return { removed: Number(removed), more };
  }

  /** How often to sweep, in ms; undefined when cleanup is disabled. */
  async cleanupInterval() {
    const ms = await this.#call((x) => x.sweeper.cleanupInterval());
    return ms === undefined ? undefined : Number(ms);
  }
}

/**
 * Sweeps batch after batch until no expired session remains (`more` is false). Between
 * batches the event loop runs, so requests are served while a large backlog is cleared.
 * @returns {Promise<{removed: number, batches: number}>}
 */
export async function sweepUntilDone(store) {
  let removed = 0;
  let batches = 0;
  for (;;) {
    const report = await store.sweep();
    removed += report.removed;
    batches += 1;
    if (!report.more) return { removed, batches };
    await sleep(0);
  }
}
