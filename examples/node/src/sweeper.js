// Sweeping expired sessions from a timer: the component says how often
// (`cleanup-interval()`, set by SESSIONS_CLEANUP_INTERVAL), this host owns the timer.

import { sweepUntilDone } from 'libsqlstore';

/** Node's setInterval cannot wait longer than this (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Starts sweeping every `store.cleanupInterval()` ms. Resolves with undefined when cleanup
 * is disabled, else `{ intervalMs, stop() }`. A tick that finds the previous sweep still
 * running is skipped; a failed sweep (e.g. the database is busy) is reported to `onError`
 * and retried at the next tick.
 */
export async function startSweeper(store, { onSweep = () => {}, onError = () => {} } = {}) {
  const intervalMs = await store.cleanupInterval();
  if (intervalMs === undefined) return undefined;
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      onSweep(await sweepUntilDone(store));
    } catch (e) {
      onError(e);
    } finally {
      running = false;
    }
  }, Math.min(intervalMs, MAX_TIMER_MS));
  timer.unref();
  return { intervalMs, stop: () => clearInterval(timer) };
}
