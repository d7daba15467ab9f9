// What is particular to the Worker under workerd: several workerd processes and
// host-example sharing sessions through one sqld, and scheduled() sweeps.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request, startEdge, startHostExample } from '../../../packages/libsqlstore-js/test/hosts.js';
import { idOf, startSqld } from '../../../packages/libsqlstore-js/test/sqld.js';

test('two workerd processes share sessions through one sqld', async (t) => {
  const sqld = await startSqld(t);
  const a = await startEdge(t, 'workers', { database: sqld.url });
  const b = await startEdge(t, 'workers', { database: sqld.url });

  const put = await request(a.url, '/put?message=from-a');
  assert.equal((await request(b.url, '/get', { token: put.token })).body, 'from-a');
  assert.equal((await request(b.url, '/put?message=from-b', { token: put.token })).status, 200);
  assert.equal((await request(a.url, '/get', { token: put.token })).body, 'from-b');

  const renewed = await request(b.url, '/renew', { token: put.token, method: 'POST' });
  assert.equal((await request(a.url, '/get', { token: renewed.token })).body, 'from-b');
  assert.equal((await request(a.url, '/get', { token: put.token })).body, '', 'renewal ended the old token everywhere');

  assert.equal((await request(a.url, '/destroy', { token: renewed.token, method: 'POST' })).status, 200);
  assert.equal((await request(b.url, '/get', { token: renewed.token })).body, '');
  assert.deepEqual(await sqld.ids(), []);
});

test('a session made on workerd reads back, renews and ends through host-example on the same sqld', async (t) => {
  const sqld = await startSqld(t);
  const worker = await startEdge(t, 'workers', { database: sqld.url });
  const host = await startHostExample(t, sqld.url);

  const put = await request(worker.url, '/put?message=made-on-workerd');
  assert.deepEqual(await request(host.url, '/get', { token: put.token }).then((r) => [r.status, r.body]), [200, 'made-on-workerd']);
  const renewed = await request(host.url, '/renew', { token: put.token, method: 'POST' });
  assert.equal(renewed.status, 200);
  assert.equal((await request(worker.url, '/get', { token: renewed.token })).body, 'made-on-workerd');
  assert.equal((await request(worker.url, '/put?message=back', { token: renewed.token })).status, 200);
  assert.equal((await request(host.url, '/get', { token: renewed.token })).body, 'back');
});

test('scheduled() removes exactly the expired sessions, batch after batch', async (t) => {
  const sqld = await startSqld(t);
  const worker = await startEdge(t, 'workers', { database: sqld.url, env: { SESSIONS_SWEEP_BATCH: '2' } });
  const tokens = [];
  for (let i = 0; i < 7; i += 1) tokens.push((await request(worker.url, `/put?message=s${i}`)).token);
  const expired = tokens.slice(0, 5);
  const active = tokens.slice(5).map(idOf).sort();
  // Time moves by writing expiries in the past, straight into the server.
  await sqld.expire(expired);

  const run = await fetch(`${worker.scheduledUrl}/?cron=*/5+*+*+*+*`, { method: 'POST' });
  assert.deepEqual([run.status, await run.json()], [200, { outcome: 'ok' }]);
  assert.deepEqual(await sqld.ids(), active);
  assert.match(worker.output(), /sweep \(\*\/5 \* \* \* \*\): removed 5 expired sessions in 3 batches/);
  for (const token of active) assert.equal((await request(worker.url, '/get', { token })).status, 200);

  const again = await fetch(worker.scheduledUrl, { method: 'POST' });
  assert.equal(again.status, 200);
  assert.deepEqual(await sqld.ids(), active, 'a sweep with nothing expired removes nothing');
});

test('scheduled() with sqld down fails, and the next run sweeps', async (t) => {
  const sqld = await startSqld(t);
  const worker = await startEdge(t, 'workers', { database: sqld.url, env: { SESSIONS_REMOTE_TIMEOUT: '1s' } });
  const { token } = await request(worker.url, '/put?message=old');
  await sqld.expire([token]);
  await sqld.stop('SIGKILL');
  const failed = await fetch(worker.scheduledUrl, { method: 'POST' });
  assert.deepEqual([failed.status, await failed.json()], [500, { outcome: 'exception' }]);
  assert.match(worker.output(), /sweep failed/);

  await sqld.start();
  const run = await fetch(worker.scheduledUrl, { method: 'POST' });
  assert.equal(run.status, 200);
  assert.deepEqual(await sqld.ids(), []);
});

test(':memory: serves a local trial without a server', async (t) => {
  const worker = await startEdge(t, 'workers', { database: ':memory:' });
  const put = await request(worker.url, '/put?message=in-memory');
  assert.equal(put.status, 200);
  assert.equal((await request(worker.url, '/get', { token: put.token })).body, 'in-memory');
});
