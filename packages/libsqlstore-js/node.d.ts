import type { StorePool } from './index.js';
export { instantiate } from './dist/sync/libsqlstore.js';
export { instantiate as instantiateJspi } from './dist/jspi/libsqlstore.js';
/** Whether this Node runs WebAssembly with JSPI (Node ≥ 25, or 24 with --experimental-wasm-jspi). */
export const hasJspi: boolean;
/** How a pool for this SESSIONS_DATABASE runs here: 'jspi' (a libSQL server or :memory: where Node has JSPI) or 'sync'. */
export function storeMode(database: string | undefined): 'jspi' | 'sync';
export function getCoreModule(name: string): Promise<WebAssembly.Module>;
export function adaptFilesystem(imports: Record<string, any>): void;
/**
 * A pool with SESSIONS_* of `env` (default process.env), 8 instances in 'jspi' mode, 1 in
 * 'sync' mode; `dataDir` preopened as /data; `wallClock` replaces wasi:clocks/wall-clock.
 */
export function createStorePool(
  env?: Record<string, string | undefined>,
  options?: {
    size?: number;
    waitMs?: number;
    dataDir?: string;
    wallClock?: { now(): { seconds: bigint; nanoseconds: number }; resolution(): { seconds: bigint; nanoseconds: number } };
  },
): StorePool;
