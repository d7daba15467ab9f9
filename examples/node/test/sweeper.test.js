// Sweeping on a setInterval timer that honours cleanup-interval(). Node's mock timers
// stand in for waiting; the host clock stands in for sessions getting old.

import test, { mock } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sweepUntilDone } from 'libsqlstore';
import { HostClock } from '../src/clock.js';
import { startSweeper } from '../src/sweeper.js';
import { fileEnv, open, startMockedSweeper, tempDir } from './helpers.js';

const MINUTE = 60_000;

/** A store with `n` sessions that expire in one minute of its clock. */
async function storeWithSessions(t, n, env) {
  const clock = new HostClock();
  const store = await open(tempDir(t), fileEnv(env), clock);
  for (let i = 0; i < n; i++) await store.create(new TextEncoder().encode(`s${i}`), { absolute: clock.nowMs() + MINUTE });
  return { store, clock };
}

test('the sweeper ticks at cleanup-interval() and removes expired sessions', async (t) => {
  const { store, clock } = await storeWithSessions(t, 3, { SESSIONS_CLEANUP_INTERVAL: '5m' });
  const { sweeper, swept } = await startMockedSweeper(t, store);
  assert.equal(sweeper.intervalMs, 5 * MINUTE);
  clock.shift(2 * MINUTE);
  assert.deepEqual(await store.stats(), { active: 0, expired: 3 });
  mock.timers.tick(5 * MINUTE - 1);
  assert.deepEqual(await store.stats(), { active: 0, expired: 3 }, 'no sweep before the interval');
  mock.timers.tick(1);
  assert.deepEqual(await swept, { removed: 3, batches: 1 });
  assert.deepEqual(await store.stats(), { active: 0, expired: 0 });
});

test('cleanup-interval 0 starts no timer', async (t) => {
  const { store } = await storeWithSessions(t, 0, { SESSIONS_CLEANUP_INTERVAL: '0' });
  assert.equal(await store.cleanupInterval(), undefined);
  assert.equal(await startSweeper(store), undefined);
});

test('a backlog larger than one batch is drained batch after batch', async (t) => {
  const { store, clock } = await storeWithSessions(t, 7, { SESSIONS_SWEEP_BATCH: '3' });
  await store.create(new TextEncoder().encode('live'), { absolute: clock.nowMs() + 10 * MINUTE });
  clock.shift(2 * MINUTE);
  assert.deepEqual(await sweepUntilDone(store), { removed: 7, batches: 3 });
  assert.deepEqual(await store.stats(), { active: 1, expired: 0 });
});

test('a sweep refused because another instance holds the lock is reported, and the next tick sweeps', async (t) => {
  const dataDir = tempDir(t);
  const clock = new HostClock();
  const env = fileEnv({ SESSIONS_CLEANUP_INTERVAL: '1m', SESSIONS_BUSY_TIMEOUT: '50ms' });
  const store = await open(dataDir, env, clock);
  for (let i = 0; i < 2; i++) await store.create(new TextEncoder().encode(`s${i}`), { absolute: clock.nowMs() + MINUTE });
  const { swept, errors } = await startMockedSweeper(t, store);
  clock.shift(2 * MINUTE);
  const lock = join(dataDir, 'sessions.db-lock');
  writeFileSync(lock, `owner=another-instance acquired_ms=${Date.now()}`);
  mock.timers.tick(MINUTE);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(errors, ['unavailable']);
  rmSync(lock);
  mock.timers.tick(MINUTE);
  assert.deepEqual(await swept, { removed: 2, batches: 1 });
});
