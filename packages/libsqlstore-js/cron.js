// Sweeping expired sessions on a schedule, for every runtime: a Worker's `scheduled()`
// handler (Cron Triggers), `Deno.cron`, or a Node timer. Each run sweeps batch after batch
// until the store reports no more expired sessions (`more` false).

import { sweepUntilDone } from './store.js';

/**
 * Sweeps every expired session with an instance lent by `pool`; resolves `{ removed, batches }`.
 * Throws the StoreError that stopped it (e.g. `unavailable`: retry at the next run).
 */
export function sweepAll(pool) {
  return pool.use((store) => sweepUntilDone(store));
}

/**
 * A sweep that never overlaps itself and never throws: for timers and cron callbacks. Each
 * call sweeps until done, logs what it removed with `log` and a failure with `onError`;
 * while a sweep runs, another call resolves undefined at once.
 * @param {{ use: Function } | (() => { use: Function })} pool the pool, or a function that returns it
 */
export function sweeper(pool, { log = console.log, onError = (e) => console.error(`sweep failed (retried at the next run): ${e?.message ?? e}`) } = {}) {
  let running = false;
  return async function sweep() {
    if (running) return undefined;
    running = true;
    try {
      const report = await sweepAll(typeof pool === 'function' ? pool() : pool);
      if (report.removed > 0) log(`swept ${report.removed} expired sessions in ${report.batches} batches`);
      return report;
    } catch (e) {
      onError(e);
      return undefined;
    } finally {
      running = false;
    }
  };
}

/**
 * A Workers `scheduled(controller, env, ctx)` handler that sweeps until done. A failure
 * rethrows, so the Cron Trigger's run shows as failed (retried at the next trigger).
 * @param {{ use: Function } | ((env: object) => { use: Function })} pool the pool, or a function of the Worker's env that returns it
 */
export function scheduledSweep(pool, { log = console.log } = {}) {
  return async function scheduled(controller, env) {
    const { removed, batches } = await sweepAll(typeof pool === 'function' ? pool(env) : pool);
    log(`sweep (${controller?.cron || 'on demand'}): removed ${removed} expired sessions in ${batches} batches`);
    return { removed, batches };
  };
}
