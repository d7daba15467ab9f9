// Instances of the session-store component, for every JavaScript host: transpiled by jco
// with JSPI on edge runtimes (Cloudflare Workers / workerd, Deno: every store and sweeper
// export returns a promise, and the component's WASI calls, such as the outgoing HTTP
// requests of the libSQL-server backend, suspend it instead of blocking), or synchronous in
// Node.
//
// Each instance runs in a preview2-shim sandbox holding only the SESSIONS_* variables it is
// given: no preopened directory on edge runtimes (they have no durable filesystem, so
// sessions live in a libSQL server, or in memory for local trials) and the network only for
// a server URL.
//
// A component instance runs one call at a time; one suspended on I/O cannot be entered
// again. So a pool holds a fixed number of instances, made ahead of need (`warm()`, or on
// first use), and lends each to one request at a time; a request that finds none idle waits
// for one to come back, for a bounded time, and then fails with `PoolBusyError` (a
// StoreError `unavailable`: 503 with Retry-After). No request ever makes an instance: making
// one costs several ms of CPU, and an instance's first call also carries the schema
// statements, so making them on demand under load served fewer requests the more clients
// came (docs in README.md, "Instances"). A returning instance goes to the request that has
// waited longest, which finds it on a timer of its own (handoff.js).

import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { Handoff } from './handoff.js';
import { SessionStore, StoreError } from './store.js';

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
 * Instances a pool holds. Each is about 3 MiB (its linear memory and the transpiled glue's
 * closures); Workers isolates get 128 MiB. With JSPI, N instances serve N requests at once,
 * each waiting on its round trip to the libSQL server: on one core, 8 keep the CPU busy
 * when a round trip takes up to a few times a request's CPU time (a local or same-region
 * server). A far server (tens of ms) wants more.
 */
export const DEFAULT_POOL_SIZE = 8;

/**
 * How long, in ms, a request waits for an instance before it fails with PoolBusyError: above
 * the waits a full queue of 64 clients sees on a loaded 2-core machine (about 1.5 s).
 */
export const DEFAULT_POOL_WAIT_MS = 3000;

/**
 * How many times the pool's wait a lease may last before its instance is taken as stuck and
 * replaced (30 s with the default wait). Every store call is bounded by the store's own
 * SESSIONS_REMOTE_TIMEOUT, so only an instance whose call will never return is held so long.
 */
export const STUCK_LEASE_WAITS = 10;

/**
 * How often a waiting request looks whether it was handed an instance, in ms: one of the
 * `size` oldest waiters, and one further behind (instances go to waiters in order, so it
 * gets none before a round of leases ends).
 */
const HANDOFF_POLL_MS = 1;
const BEHIND_POLL_MS = 5;

/** No instance came back within the pool's wait: a StoreError `unavailable` (retry). */
export class PoolBusyError extends StoreError {
  constructor(size, waitMs) {
    super('unavailable', `all ${size} store instances stayed busy for ${waitMs} ms`);
    this.name = 'PoolBusyError';
  }
}

/** A positive whole number of instances, or the RangeError naming `what`. */
function checkSize(size, what) {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`${what} must be a whole number ≥ 1, not ${size}`);
  return size;
}

/** A bounded pool of instances of the component, each lent to one request (or sweep) at a time. */
export class StorePool {
  #open;
  #size;
  #waitMs;
  #idle = [];
  /** Requests waiting for an instance; one that stopped looking gives its instance back. */
  #waiting = new Handoff((store) => this.#idle.push(store));
  /** Instances alive or being made. */
  #count = 0;
  #filling;
  /** Instances made over the pool's life (replacements of broken ones included). */
  #made = 0;
  /** The leases going on: `{ store, since }` (ms since the epoch). */
  #leases = new Set();
  #stuck = 0;
  #log;
  #memory;

  /**
   * @param {object} options
   * @param {Function} options.instantiate the transpiled component's `instantiate`
   * @param {(name: string) => WebAssembly.Module | Promise<WebAssembly.Module>} options.getCoreModule
   *   the compiled core module of each name the transpilation wrote (`libsqlstore.core.wasm`, ...)
   * @param {Record<string, string>} options.env the component's whole environment (SESSIONS_*)
   * @param {number} [options.size] instances held (1 with `:memory:`, whose data lives in one)
   * @param {number} [options.waitMs] how long a request waits for an instance, in ms
   * @param {Record<string, string>} [options.preopens] guest path → host directory (Node
   *   only; edge runtimes have no durable filesystem)
   * @param {(imports: object) => void} [options.adaptImports] changes the WASI imports
   *   before each instantiation (a host's workarounds)
   * @param {object} [options.shims] WASI implementations in place of the shim's defaults for
   *   this runtime (`WASIShim` options: `io`, `http`, `clocks`, ...)
   * @param {(message: string) => void} [options.log] told of each instance replaced as stuck
   */
  constructor({ instantiate, getCoreModule, env, size = DEFAULT_POOL_SIZE, waitMs = DEFAULT_POOL_WAIT_MS, preopens = {}, adaptImports, shims = {}, log = console.error }) {
    this.#log = log;
    const database = env.SESSIONS_DATABASE;
    this.#open = async () => {
      const shim = new WASIShim({
        ...shims,
        sandbox: {
          preopens: { ...preopens },
          env: { ...env },
          args: ['libsqlstore'],
          // Only a libSQL server URL needs the network.
          enableNetwork: database !== ':memory:',
        },
      });
      const imports = shim.getImportObject();
      const poll = imports['wasi:io/poll'];
      imports['wasi:io/poll'] = { ...poll, poll: promptPoll(poll.poll) };
      adaptImports?.(imports);
      return new SessionStore(await instantiate(getCoreModule, imports));
    };
    // A :memory: database lives in one instance: every request must use that one.
    this.#memory = database === ':memory:';
    this.#size = this.#memory ? 1 : checkSize(size, 'the pool size');
    if (!(waitMs >= 0 && waitMs <= 2 ** 31 - 1)) throw new RangeError(`the pool's wait must be 0 to ${2 ** 31 - 1} ms, not ${waitMs}`);
    this.#waitMs = waitMs;
  }

  /** Instances the pool holds once warm. */
  get size() {
    return this.#size;
  }

  /** Instances made so far, replacements of broken ones included (never more than `size` alive). */
  get instancesMade() {
    return this.#made;
  }

  /** Instances replaced because one lease held them past STUCK_LEASE_WAITS × the wait. */
  get instancesStuck() {
    return this.#stuck;
  }

  /**
   * Makes every instance the pool holds, one after another; resolves once all exist.
   * Rejects with the error that stopped one from being made (then the next `use` tries again).
   */
  warm() {
    return this.#fill();
  }

  /**
   * Runs `fn(store)` with an instance lent to it alone, and takes the instance back
   * afterwards (a trapped one is replaced, in the background). When none is idle, waits
   * for one up to the pool's wait, then throws PoolBusyError; an instance that could not
   * be made fails the waiting requests with that error.
   */
  async use(fn) {
    this.#replaceStuck();
    const store = this.#idle.pop() ?? (await this.#wait());
    const lease = { store, since: Date.now() };
    this.#leases.add(lease);
    try {
      return await fn(store);
    } finally {
      // A lease already taken as stuck gave its place to a new instance: drop this one.
      if (this.#leases.delete(lease)) this.#give(store);
    }
  }

  /**
   * Gives up the instances leased for over STUCK_LEASE_WAITS × the wait (an instance
   * whose call never returns, e.g. one a cancelled request left suspended), making others
   * in their place, so that no instance is lost for good; never the one of `:memory:`.
   */
  #replaceStuck() {
    // A :memory: database lives in its one instance: replacing it would lose every session.
    if (this.#memory) return;
    const limitMs = STUCK_LEASE_WAITS * Math.max(this.#waitMs, 100);
    const now = Date.now();
    for (const lease of this.#leases) {
      if (now - lease.since <= limitMs) continue;
      this.#leases.delete(lease);
      this.#count -= 1;
      this.#stuck += 1;
      this.#log(`a store instance was held for over ${limitMs} ms by one request; replaced`);
    }
    if (this.#count < this.#size) this.#fill().catch(() => {});
  }

  /** The instance handed to this request (oldest waiter first), or PoolBusyError after `waitMs`. */
  #wait() {
    this.#fill().catch(() => {});
    return this.#waiting.wait(
      (ahead) => (ahead >= this.#size ? BEHIND_POLL_MS : HANDOFF_POLL_MS),
      Date.now() + this.#waitMs,
      () => new PoolBusyError(this.#size, this.#waitMs),
    );
  }

  /** Hands `store` back: to the oldest waiting request, or kept idle; drops a broken one. */
  #give(store) {
    if (store.broken) {
      this.#count -= 1;
      this.#fill().catch(() => {});
      return;
    }
    if (!this.#waiting.hand(store)) this.#idle.push(store);
  }

  /** Makes instances until `size` are alive, one at a time; one run at once. */
  #fill() {
    if (!this.#filling && this.#count < this.#size) {
      this.#filling = this.#makeMissing().finally(() => {
        this.#filling = undefined;
      });
    }
    return this.#filling ?? Promise.resolve();
  }

  async #makeMissing() {
    while (this.#count < this.#size) {
      this.#count += 1;
      let store;
      try {
        store = await this.#open();
      } catch (e) {
        this.#count -= 1;
        this.#waiting.fail(e);
        throw e;
      }
      this.#made += 1;
      this.#give(store);
    }
  }
}
