// The session-store component for Deno (and other runtimes with JSPI that read files): the
// JSPI transpilation, its core modules read from dist/jspi/ beside this file (or from
// `coreModulesUrl` when this module is bundled elsewhere) and compiled once per process.
// Needs --allow-read for that directory, --allow-net for the libSQL server.
import { instantiate } from './dist/jspi/libsqlstore.js';
import { StorePool } from './pool.js';
import { readPoolSettings, readSettings } from './sessions.js';

export { instantiate };

const compiled = new Map();

/** The compiled core module `name`, read from `base` (a directory URL). */
export function coreModuleLoader(base = new URL('./dist/jspi/', import.meta.url)) {
  return (name) => {
    const url = new URL(name, base).href;
    if (!compiled.has(url)) compiled.set(url, Deno.readFile(new URL(url)).then((bytes) => WebAssembly.compile(bytes)));
    return compiled.get(url);
  };
}

/**
 * A pool of component instances configured by `env` (SESSIONS_* variables for the component,
 * EDGE_POOL_SIZE and EDGE_POOL_WAIT for the pool unless `size` / `waitMs` are given; default:
 * Deno's environment). Throws a SettingsError for a missing or file database, or a malformed
 * pool setting. Call `warm()` before serving to make the instances ahead of need.
 */
export function createStorePool(env = Deno.env.toObject(), { size, waitMs, coreModulesUrl } = {}) {
  const { storeEnv } = readSettings(env);
  const pool = readPoolSettings(env);
  return new StorePool({
    instantiate,
    getCoreModule: coreModuleLoader(coreModulesUrl),
    env: storeEnv,
    size: size ?? pool.size,
    waitMs: waitMs ?? pool.waitMs,
  });
}
