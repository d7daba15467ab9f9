// Instances of the session-store component for edge runtimes (Cloudflare Workers /
// workerd, Deno), transpiled by jco with JSPI (`--async-mode jspi`: every store and sweeper
// export returns a promise, and the component's WASI calls, such as the outgoing HTTP
// requests of the libSQL-server backend, suspend it instead of blocking).
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
 * Idle instances a pool keeps for later requests; more are made on demand and dropped
 * after use. Each holds about 3 MiB (its linear memory and the transpiled glue's closures),
 * and making one costs a few ms of CPU plus, on its first call, the schema statements: so
 * a pool smaller than the concurrent requests it sees spends much of its time making
 * instances. Workers isolates get 128 MiB.
 */
export const DEFAULT_MAX_IDLE = 16;

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
   * @param {Record<string, string>} [options.preopens] guest path → host directory (Node
   *   only; edge runtimes have no durable filesystem)
   * @param {(imports: object) => void} [options.adaptImports] changes the WASI imports
   *   before each instantiation (a host's workarounds)
   */
  constructor({ instantiate, getCoreModule, env, maxIdle = DEFAULT_MAX_IDLE, preopens = {}, adaptImports }) {
    const database = env.SESSIONS_DATABASE;
    this.#open = async () => {
      const shim = new WASIShim({
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
