// The session-store component for Cloudflare Workers (workerd): the JSPI transpilation, its
// core modules imported as `.wasm` modules, which the runtime compiles when it loads the
// Worker (Workers forbid compiling WebAssembly at run time). Wrangler bundles `.wasm`
// imports as such; with esbuild, keep them external and list them as `wasm` modules in
// workerd's config (dist/jspi/core-modules.js names them).
import { instantiate } from './dist/jspi/libsqlstore.js';
import coreModules from './dist/jspi/core-modules.js';
import { StorePool } from './pool.js';
import { readPoolSettings, readSettings } from './sessions.js';

export { coreModules, instantiate };

/**
 * A pool of component instances configured by `env` (the Worker's bindings: SESSIONS_DATABASE,
 * SESSIONS_AUTH_TOKEN and the other SESSIONS_* strings reach the component; EDGE_POOL_SIZE and
 * EDGE_POOL_WAIT size the pool unless `size` / `waitMs` are given). Throws a SettingsError for
 * a missing or file database, or a malformed pool setting. Instances are made by `warm()`
 * (allowed at the Worker's top level: instantiation does no I/O), or on first use.
 */
export function createStorePool(env, { size, waitMs } = {}) {
  const { storeEnv } = readSettings(env);
  const pool = readPoolSettings(env);
  return new StorePool({
    instantiate,
    getCoreModule: (name) => coreModules[name],
    env: storeEnv,
    size: size ?? pool.size,
    waitMs: waitMs ?? pool.waitMs,
  });
}
