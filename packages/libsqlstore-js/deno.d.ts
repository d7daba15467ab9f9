import type { StorePool } from './index.js';
export { instantiate } from './dist/jspi/libsqlstore.js';
export function coreModuleLoader(base?: URL): (name: string) => Promise<WebAssembly.Module>;
/** A pool configured by SESSIONS_* of `env` (default: Deno's environment). Throws a SettingsError. */
export function createStorePool(env?: Record<string, string>, options?: { size?: number; waitMs?: number; coreModulesUrl?: URL }): StorePool;
