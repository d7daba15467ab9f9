// The session-store component, transpiled by jco with JSPI (`--async-mode jspi`: every
// store and sweeper export returns a promise, and the component's WASI calls, such as the
// outgoing HTTP requests of the libSQL-server backend, suspend it instead of blocking), as
// JavaScript objects for edge runtimes (Cloudflare Workers / workerd, Deno).
//
// Each instance runs in a preview2-shim sandbox holding only the SESSIONS_* variables it is
// given: no preopened directory (edge runtimes have no durable filesystem, so sessions live
// in a libSQL server, or in memory for local trials) and the network only for a server URL.
//
// A component instance runs one call at a time, and a request lends its instance to no one
// while it runs: Workers cancel a request that waits on work done for another request, as
// hung. So a pool lends each request an idle instance of its own (or a new one) and takes
// it back afterwards; nothing ever waits for an instance.

import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';

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

/** Answers in a row that `promptPoll` gives without letting the event loop run. */
const PROMPT_POLLS = 64;

/**
 * `wasi:io/poll`'s `poll` answering at once when a pollable is already ready. The shim's
 * own waits for a timer task (setTimeout 0) first, so that a guest spinning on a ready
 * pollable cannot starve fetch and timers; that wait is most of a store call's time (a call
 * polls several times). This one yields the same way only after PROMPT_POLLS answers in a
 * row, and whenever nothing is ready.
 */
function promptPoll(poll) {
  let prompt = 0;
  return (list) => {
    const ready = [];
    for (let i = 0; i < list.length; i += 1) if (list[i].ready()) ready.push(i);
    if (ready.length > 0 && prompt < PROMPT_POLLS) {
      prompt += 1;
      return new Uint32Array(ready);
    }
    prompt = 0;
    return poll(list);
  };
}

/**
 * Idle instances a pool keeps for later requests; more are made on demand and dropped
 * after use. Each holds about 3 MiB (its linear memory and the transpiled glue's closures),
 * and making one costs a few ms of CPU plus, on its first call, the schema statements: so
 * a pool smaller than the concurrent requests it sees spends much of its time making
 * instances. Workers isolates get 128 MiB.
 */
export const DEFAULT_MAX_IDLE = 16;

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

/** Instances of the component, lent to one request (or sweep) at a time. */
export class StorePool {
  #open;
  #idle = [];
  #maxIdle;
  #exclusive;
  #lent = 0;

  /**
   * @param {object} options
   * @param {Function} options.instantiate the transpiled component's `instantiate`
   * @param {(name: string) => WebAssembly.Module | Promise<WebAssembly.Module>} options.getCoreModule
   *   the compiled core module of each name the transpilation wrote (`libsqlstore.core.wasm`, ...)
   * @param {Record<string, string>} options.env the component's whole environment (SESSIONS_*)
   * @param {number} [options.maxIdle] idle instances kept for later requests
   */
  constructor({ instantiate, getCoreModule, env, maxIdle = DEFAULT_MAX_IDLE }) {
    const database = env.SESSIONS_DATABASE;
    this.#open = async () => {
      const shim = new WASIShim({
        sandbox: {
          preopens: {},
          env: { ...env },
          args: ['libsqlstore'],
          // Only a libSQL server URL needs the network.
          enableNetwork: database !== ':memory:',
        },
      });
      const imports = shim.getImportObject();
      const poll = imports['wasi:io/poll'];
      imports['wasi:io/poll'] = { ...poll, poll: promptPoll(poll.poll) };
      return new SessionStore(await instantiate(getCoreModule, imports));
    };
    // A :memory: database lives in one instance: every request must use that one.
    this.#exclusive = database === ':memory:';
    this.#maxIdle = this.#exclusive ? 1 : maxIdle;
  }

  /**
   * Runs `fn(store)` with an instance lent to it alone, and takes the instance back
   * afterwards (unless a call trapped). With `:memory:`, while the single instance is lent,
   * other callers get `unavailable` at once rather than wait.
   */
  async use(fn) {
    let store = this.#idle.pop();
    if (!store) {
      if (this.#exclusive && this.#lent > 0) {
        throw new StoreError('unavailable', 'the in-memory store (SESSIONS_DATABASE=:memory:) serves one request at a time');
      }
      this.#lent += 1;
      try {
        store = await this.#open();
      } finally {
        this.#lent -= 1;
      }
    }
    this.#lent += 1;
    try {
      return await fn(store);
    } finally {
      this.#lent -= 1;
      if (!store.broken && this.#idle.length < this.#maxIdle) this.#idle.push(store);
    }
  }
}

/**
 * Sweeps batch after batch until no expired session remains (`more` is false).
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
  }
}
