import type { StorePool } from './index.js';
export { instantiate } from './dist/jspi/libsqlstore.js';
export const coreModules: Record<string, WebAssembly.Module>;
/** A pool configured by the Worker's bindings (SESSIONS_*). Throws a SettingsError. */
export function createStorePool(env: Record<string, unknown>, options?: { size?: number; waitMs?: number }): StorePool;
