// libsqlstore: HTTP sessions in libSQL from a WebAssembly component. This entry point is
// runtime-neutral: the session contract (sessions.js), the store's calls and errors
// (store.js), the instance pool (pool.js) and sweeping (cron.js). The component itself comes
// from a runtime's entry point: `libsqlstore/workerd`, `libsqlstore/deno`, `libsqlstore/node`;
// the Hono middleware from `libsqlstore/hono`.
export * from './sessions.js';
export { SessionStore, StoreError, sweepUntilDone } from './store.js';
export { DEFAULT_POOL_SIZE, DEFAULT_POOL_WAIT_MS, PoolBusyError, STUCK_LEASE_WAITS, StorePool } from './pool.js';
export { scheduledSweep, sweepAll, sweeper } from './cron.js';
