// What is particular to the Deno server: sharing sessions with the Worker under workerd
// through one sqld, and its own sweeps (Deno.cron, or a timer for intervals cron cannot
// express).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request, startEdge } from '../../../packages/libsqlstore-js/test/hosts.js';
import { devices, login } from '../../../packages/libsqlstore-js/test/owners.js';
import { idOf, sleep, startSqld } from '../../../packages/libsqlstore-js/test/sqld.js';

test('Deno and workerd share sessions through one sqld', async (t) => {
  const sqld = await startSqld(t);
  const deno = await startEdge(t, 'deno', { database: sqld.url });
  const worker = await startEdge(t, 'workers', { database: sqld.url });

  const put = await request(deno.url, '/put?message=from-deno');
  assert.equal((await request(worker.url, '/get', { token: put.token })).body, 'from-deno');
  const renewed = await request(worker.url, '/renew', { token: put.token, method: 'POST' });
  assert.equal((await request(deno.url, '/get', { token: renewed.token })).body, 'from-deno');
  assert.equal((await request(deno.url, '/get', { token: put.token })).body, '', 'renewal ended the old token');
  assert.equal((await request(deno.url, '/put?message=again', { token: renewed.token })).status, 200);
  assert.equal((await request(worker.url, '/get', { token: renewed.token })).body, 'again');
  assert.equal((await request(worker.url, '/destroy', { token: renewed.token, method: 'POST' })).status, 200);
  assert.equal((await request(deno.url, '/get', { token: renewed.token })).body, '');
  assert.deepEqual(await sqld.ids(), []);

  // Owners too: a login on each, listed and logged out from the other.
  const onDeno = await login(deno.url, 'ivan');
  const onWorker = await login(worker.url, 'ivan');
  assert.deepEqual((await devices(worker.url, onDeno)).map((s) => s.id), [idOf(onDeno), idOf(onWorker)]);
  const everywhere = await request(worker.url, '/logout-everywhere', { token: onWorker, method: 'POST' });
  assert.deepEqual([everywhere.status, everywhere.body], [200, '{"revoked":1}']);
  assert.equal((await request(deno.url, '/devices', { token: onDeno })).status, 401);
  assert.deepEqual((await devices(deno.url, onWorker)).map((s) => s.id), [idOf(onWorker)]);
});

test('the sweep timer removes exactly the expired sessions', async (t) => {
  const sqld = await startSqld(t);
  const deno = await startEdge(t, 'deno', {
    database: sqld.url,
    env: { SESSIONS_CLEANUP_INTERVAL: '1s', SESSIONS_SWEEP_BATCH: '2' },
  });
  assert.match(deno.output(), /sweeping every 1000 ms/);
  const tokens = [];
  for (let i = 0; i < 6; i += 1) tokens.push((await request(deno.url, `/put?message=s${i}`)).token);
  const active = tokens.slice(4).map(idOf).sort();
  // Time moves by writing expiries in the past, straight into the server.
  await sqld.expire(tokens.slice(0, 4));
  const deadline = Date.now() + 10_000;
  while ((await sqld.count()) > active.length && Date.now() < deadline) await sleep(100);
  assert.deepEqual(await sqld.ids(), active);
  assert.equal(await sqld.count(), active.length, 'the expired rows are gone, not just unfindable');
  assert.match(deno.output(), /swept 4 expired sessions in 2 batches/);
});

test('whole-minute cleanup intervals sweep with Deno.cron; 0 turns sweeping off', async (t) => {
  const sqld = await startSqld(t);
  const byDefault = await startEdge(t, 'deno', { database: sqld.url });
  assert.match(byDefault.output(), /sweeping with Deno.cron "\*\/5 \* \* \* \*"/);
  const hourly = await startEdge(t, 'deno', { database: sqld.url, env: { SESSIONS_CLEANUP_INTERVAL: '2h' } });
  assert.match(hourly.output(), /sweeping with Deno.cron "0 \*\/2 \* \* \*"/);
  const off = await startEdge(t, 'deno', { database: sqld.url, env: { SESSIONS_CLEANUP_INTERVAL: '0' } });
  assert.match(off.output(), /cleanup disabled/);
});
