// The session-store component, transpiled by jco (scripts/build.js), as a JavaScript
// object: one long-lived instance per `openStore`, in a WASI sandbox that holds exactly one
// preopened directory (the data directory, seen as /data) and only the SESSIONS_* variables
// it is given: the host process's other files and environment stay out of reach.
//
// Calls are synchronous, as the component's are. A call that must wait for another
// instance's lock on the database (SESSIONS_BUSY_TIMEOUT) blocks this thread for that long.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { clocks } from '@bytecodealliance/preview2-shim';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { instantiate } from '../dist/libsqlstore/libsqlstore.js';
import { HostClock } from './clock.js';

/** Where the data directory appears inside the component. */
export const GUEST_DATA_DIR = '/data';

/** A store call that failed; `kind` is the WIT error case (`unavailable`, `too-large`, ...). */
export class StoreError extends Error {
  constructor(kind, detail) {
    super(kind === 'too-large' ? `session data is larger than the limit of ${detail} bytes` : `${kind}: ${detail}`);
    this.name = 'StoreError';
    this.kind = kind;
    this.detail = detail;
  }
}

const coreModules = new Map();

/** Compiles each core module of the transpiled component once per process. */
function coreModule(name) {
  if (!coreModules.has(name)) {
    const url = new URL(`../dist/libsqlstore/${name}`, import.meta.url);
    coreModules.set(name, readFile(url).then((bytes) => WebAssembly.compile(bytes)));
  }
  return coreModules.get(name);
}

const adapted = Symbol('libsqlstore.openAtAdapted');

/**
 * wasi-libc sets `mutate-directory` on every writable open, as the WASI filesystem spec
 * suggests for POSIX compatibility; wasmtime ignores it on files, but preview2-shim 0.26
 * refuses such opens as `unsupported`, so SQLite could not open its database. The flag only
 * asks for the directory's write permission, which a read-write preopen already grants, so
 * it is dropped before the shim sees it.
 */
function adaptOpenAt(Descriptor) {
  if (Descriptor.prototype[adapted]) return;
  const openAt = Descriptor.prototype.openAt;
  Descriptor.prototype.openAt = function (pathFlags, path, openFlags, descriptorFlags) {
    return openAt.call(this, pathFlags, path, openFlags, { ...descriptorFlags, mutateDirectory: false });
  };
  Descriptor.prototype[adapted] = true;
}

/**
 * Opens a store.
 * @param {object} options
 * @param {string} [options.dataDir] host directory preopened as /data (omit for :memory: or a server URL)
 * @param {Record<string,string>} [options.env] the component's whole environment (SESSIONS_*)
 * @param {HostClock} [options.clock] the wall clock the component sees
 */
export async function openStore({ dataDir, env = {}, clock = new HostClock() } = {}) {
  const database = env.SESSIONS_DATABASE ?? '';
  const shim = new WASIShim({
    clocks: { monotonicClock: clocks.monotonicClock, wallClock: clock.wallClock() },
    sandbox: {
      preopens: dataDir ? { [GUEST_DATA_DIR]: resolve(dataDir) } : {},
      env: { ...env },
      args: ['libsqlstore'],
      // Only a libSQL server URL needs the network.
      enableNetwork: database.includes('://'),
    },
  });
  const imports = shim.getImportObject();
  adaptOpenAt(imports['wasi:filesystem/types'].Descriptor);
  const instance = await instantiate(coreModule, imports);
  return new SessionStore(instance);
}

/** Runs a component call, turning its `error` result into a StoreError. */
function call(fn) {
  try {
    return fn();
  } catch (e) {
    if (e?.payload?.tag) throw new StoreError(e.payload.tag, e.payload.val);
    throw e;
  }
}

/** The component's `store` and `sweeper` exports; times are ms since the epoch (numbers). */
export class SessionStore {
  #store;
  #sweeper;

  constructor(instance) {
    this.#store = instance.store;
    this.#sweeper = instance.sweeper;
  }

  /** The data of an active session, or undefined. */
  find(token) {
    return call(() => this.#store.find(token));
  }

  /** Inserts or replaces a session (an upsert; session managers save with `update`). */
  commit(token, data, expiryMs) {
    call(() => this.#store.commit(token, data, BigInt(expiryMs)));
  }

  /**
   * Replaces the data and expiry of an active session; false (nothing stored) when none is
   * active. Never creates one, so a save racing a logout cannot undo it. An expiry not in
   * the future ends the session (and still answers whether it was active).
   */
  update(token, data, expiryMs) {
    return call(() => this.#store.update(token, data, BigInt(expiryMs)));
  }

  delete(token) {
    call(() => this.#store.delete(token));
  }

  /** Stores `data` under a fresh token and returns the token. */
  create(data, expiryMs) {
    return call(() => this.#store.create(data, BigInt(expiryMs)));
  }

  /** True if the session was active and its expiry moved. */
  touch(token, expiryMs) {
    return call(() => this.#store.touch(token, BigInt(expiryMs)));
  }

  /** `{ active, expired }` session counts. */
  stats() {
    const { active, expired } = call(() => this.#store.stats());
    return { active: Number(active), expired: Number(expired) };
  }

  /** One sweep batch: `{ removed, more }`. */
  sweep() {
    const { removed, more } = call(() => this.#sweeper.sweep());
    return { removed: Number(removed), more };
  }

  /** How often to sweep, in ms; undefined when cleanup is disabled. */
  cleanupInterval() {
    const ms = this.#sweeper.cleanupInterval();
    return ms === undefined ? undefined : Number(ms);
  }
}
