// The libsqlstore package's store pool (pool.js) in Node, with the real component (the
// synchronous transpilation) against a real sqld: instantiations are counted by wrapping the
// transpilation's `instantiate`. Requests overlap between their store calls (each call
// blocks the thread, but a request awaits between its calls), so a burst holds instances
// at once as it does in a server.

import assert from 'node:assert/strict';
import test from 'node:test';
import { PoolBusyError, StoreError, StorePool } from 'libsqlstore';
import { adaptFilesystem, getCoreModule, instantiate } from 'libsqlstore/node';
import { startSqld } from '../../../packages/libsqlstore-js/test/sqld.js';

const DAY_MS = 86_400_000;
const bytes = (text) => new TextEncoder().encode(text);
const text = (data) => new TextDecoder().decode(data);

/** A pool of `size` instances against `sqld`, counting the instantiations in `made()`. */
function countingPool(sqld, { size, waitMs }) {
  let made = 0;
  const pool = new StorePool({
    instantiate: (...args) => {
      made += 1;
      return instantiate(...args);
    },
    getCoreModule,
    env: { SESSIONS_DATABASE: sqld.url },
    size,
    waitMs,
    adaptImports: adaptFilesystem,
  });
  return { pool, made: () => made };
}

/** A promise and the function that resolves it. */
function gate() {
  let open;
  const promise = new Promise((resolve) => (open = resolve));
  return { promise, open };
}

test('pool: a burst of 12 requests never makes more instances than the pool holds', async (t) => {
  const sqld = await startSqld(t);
  const { pool, made } = countingPool(sqld, { size: 3, waitMs: 60_000 });
  let inUse = 0;
  let mostInUse = 0;
  const burst = Array.from({ length: 12 }, (_, i) =>
    pool.use(async (store) => {
      inUse += 1;
      mostInUse = Math.max(mostInUse, inUse);
      const token = await store.create(bytes(`burst-${i}`), { absolute: Date.now() + DAY_MS });
      await new Promise((resolve) => setImmediate(resolve));
      const found = await store.find(token);
      inUse -= 1;
      return text(found.data);
    }),
  );
  assert.deepEqual(await Promise.all(burst), Array.from({ length: 12 }, (_, i) => `burst-${i}`));
  assert.equal(mostInUse, 3, 'three requests held an instance at once');
  assert.equal(made(), 3);
  assert.equal(pool.instancesMade, 3);
  assert.equal(await sqld.count(), 12);
});

test('pool: warm() makes every instance before any request, and requests make none', async (t) => {
  const sqld = await startSqld(t);
  const { pool, made } = countingPool(sqld, { size: 4 });
  await pool.warm();
  assert.equal(made(), 4);
  await Promise.all(Array.from({ length: 10 }, () => pool.use((store) => store.stats())));
  assert.equal(made(), 4);
});

test('pool: a request waiting for the only instance is served as soon as it comes back', async (t) => {
  const sqld = await startSqld(t);
  const { pool, made } = countingPool(sqld, { size: 1, waitMs: 60_000 });
  const held = gate();
  const token = await pool.use((store) => store.create(bytes('first'), { absolute: Date.now() + DAY_MS }));
  const holder = pool.use(async (store) => {
    const { version } = await store.find(token);
    await store.update(token, bytes('second'), version);
    await held.promise;
  });
  let served = false;
  const waiter = pool.use((store) => store.find(token)).then((found) => {
    served = true;
    return text(found.data);
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(served, false, 'the waiting request has no instance while the other holds it');
  held.open();
  await holder;
  assert.equal(await waiter, 'second');
  assert.equal(made(), 1);
});

test('pool: a request that waits longer than the pool allows gets PoolBusyError, not a hang', async (t) => {
  const sqld = await startSqld(t);
  const { pool } = countingPool(sqld, { size: 1, waitMs: 100 });
  await pool.warm();
  const held = gate();
  const holder = pool.use(() => held.promise);
  await assert.rejects(pool.use((store) => store.stats()), (e) => {
    assert.ok(e instanceof PoolBusyError && e instanceof StoreError);
    assert.equal(e.kind, 'unavailable');
    assert.equal(e.message, 'unavailable: all 1 store instances stayed busy for 100 ms');
    return true;
  });
  held.open();
  await holder;
  assert.deepEqual(await pool.use((store) => store.stats()), { active: 0, expired: 0 }, 'the instance serves again');
});

test('pool: an instance that cannot be made fails the waiting requests at once', async (t) => {
  const sqld = await startSqld(t);
  const pool = new StorePool({
    instantiate,
    getCoreModule: async (name) => {
      throw new Error(`no core module ${name} here`);
    },
    env: { SESSIONS_DATABASE: sqld.url },
    size: 2,
    waitMs: 60_000,
  });
  const started = Date.now();
  await assert.rejects(pool.use((store) => store.stats()), /no core module libsqlstore\.core\d*\.wasm here/);
  await assert.rejects(pool.warm(), /no core module/);
  assert.ok(Date.now() - started < 10_000, 'the requests did not wait out the pool wait');
});
