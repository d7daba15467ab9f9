import type { StorePool } from './index.js';
export { instantiate } from './dist/sync/libsqlstore.js';
export function getCoreModule(name: string): Promise<WebAssembly.Module>;
export function adaptFilesystem(imports: Record<string, any>): void;
/** A pool with SESSIONS_* of `env` (default process.env); `dataDir` preopened as /data. */
export function createStorePool(env?: Record<string, string | undefined>, options?: { size?: number; waitMs?: number; dataDir?: string }): StorePool;
