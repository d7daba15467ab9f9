// The session-store component in Node: a pool of instances from the libsqlstore package's
// libsqlstore/node entry, each in a WASI sandbox that holds at most one preopened directory
// (the data directory, seen as /data) and only the SESSIONS_* variables it is given: the
// host process's other files and environment stay out of reach.
//
// How the instances run depends on the Node and the database (libsqlstore/node's
// `storeMode`): with JSPI (the Node this example installs) and a libSQL server, a call
// waiting on the server suspends its instance and others serve meanwhile (8 instances by
// default); without JSPI, or with a database file, calls are synchronous and block this
// thread (1 instance), so one that must wait for another process's lock on the file
// (SESSIONS_BUSY_TIMEOUT) blocks it for that long.

import { SessionStore } from 'libsqlstore';
import { createStorePool } from 'libsqlstore/node';
import { HostClock } from './clock.js';

/** Where the data directory appears inside the component. */
export const GUEST_DATA_DIR = '/data';

/**
 * A pool of instances (not yet made: `warm()` makes them).
 * @param {object} options
 * @param {string} [options.dataDir] host directory preopened as /data (omit for :memory: or a server URL)
 * @param {Record<string,string>} [options.env] SESSIONS_* (the component's whole environment),
 *   EDGE_POOL_SIZE and EDGE_POOL_WAIT (the pool's size and wait)
 * @param {HostClock} [options.clock] the wall clock the component sees
 */
export function openPool({ dataDir, env = {}, clock = new HostClock() } = {}) {
  return createStorePool(env, { dataDir, wallClock: clock.wallClock() });
}

const METHODS = Object.getOwnPropertyNames(SessionStore.prototype).filter((name) => name !== 'constructor');

/** A SessionStore whose every call borrows an instance of `pool` for that call alone. */
export function storeOf(pool) {
  return Object.fromEntries(METHODS.map((name) => [name, (...args) => pool.use((store) => store[name](...args))]));
}

/** `storeOf` a fresh pool (`openPool`'s options), its instances made. */
export async function openStore(options) {
  const pool = openPool(options);
  await pool.warm();
  return storeOf(pool);
}
