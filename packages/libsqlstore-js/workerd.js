// The session-store component for Cloudflare Workers (workerd): the JSPI transpilation, its
// core modules imported as `.wasm` modules, which the runtime compiles when it loads the
// Worker (Workers forbid compiling WebAssembly at run time). Wrangler bundles `.wasm`
// imports as such; with esbuild, keep them external and list them as `wasm` modules in
// workerd's config (dist/jspi/core-modules.js names them).
import { instantiate } from './dist/jspi/libsqlstore.js';
import coreModules from './dist/jspi/core-modules.js';
import { StorePool } from './pool.js';
import { readSettings } from './sessions.js';

export { coreModules, instantiate };

/**
 * A pool of component instances configured by `env` (the Worker's bindings: SESSIONS_DATABASE,
 * SESSIONS_AUTH_TOKEN and the other SESSIONS_* strings reach the component). Throws a
 * SettingsError for a missing or file database.
 */
export function createStorePool(env, { maxIdle } = {}) {
  const { storeEnv } = readSettings(env);
  return new StorePool({ instantiate, getCoreModule: (name) => coreModules[name], env: storeEnv, maxIdle });
}
