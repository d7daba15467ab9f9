// The session-store component's exports as JavaScript objects, for every JavaScript host:
// the calls of one instance (`SessionStore`), their errors as `StoreError`s, and sweeping
// until no expired session remains. An instance comes from jco's transpilation: with JSPI on
// edge runtimes (every export returns a promise; see pool.js), or synchronous in Node; the
// wrapper awaits either.

/** A store call that failed; `kind` is the WIT error case (`unavailable`, `too-large`, ...). */
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

/** One component instance's `store` and `sweeper` exports; times are ms since the epoch. */
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

  /** The data of an active session, or undefined. */
  find(token) {
    return this.#call((x) => x.store.find(token));
  }

  /** Replaces an active session's data and expiry; false (nothing stored) when it is gone. */
  update(token, data, expiryMs) {
    return this.#call((x) => x.store.update(token, data, BigInt(expiryMs)));
  }

  /** Removes a session; removing an unknown token succeeds. */
  delete(token) {
    return this.#call((x) => x.store.delete(token));
  }

  /** Stores `data` under a fresh token and returns the token. */
  create(data, expiryMs) {
    return this.#call((x) => x.store.create(data, BigInt(expiryMs)));
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
