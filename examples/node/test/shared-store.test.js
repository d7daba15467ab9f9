// The Node host against a real libSQL server (sqld): the component's remote backend speaks
// Hrana over wasi:http, which this Node (with JSPI) serves over node:http while the calling
// instance is suspended (libsqlstore/node's 'jspi' mode); a Node without JSPI runs each
// request on preview2-shim's I/O worker thread while the calling thread waits. Each test
// starts its own sqld on a free loopback port and stops it by PID when it ends.

import test, { mock } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { HostClock } from '../src/clock.js';
import { openStore } from '../src/store.js';
import { MAIN, get, spawnHost, startMockedSweeper, startServer, stopHost } from './helpers.js';
import { mintAuth, startSqld } from '../../../packages/libsqlstore-js/test/sqld.js';

const run = promisify(execFile);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const encode = (text) => new TextEncoder().encode(text);

/** The store's environment for the server at `url`. */
const remoteEnv = (url, extra = {}) => ({ SESSIONS_DATABASE: url, ...extra });

test('against sqld, put, get, renew and destroy work and the sessions live in the server', async (t) => {
  const sqld = await startSqld(t);
  const { url, dataDir } = await startServer(t, { env: remoteEnv(sqld.url) });
  assert.equal(dataDir, undefined, 'nothing is preopened for a server URL');
  const put = await get(url, '/put?message=hello%20sqld');
  assert.equal(put.status, 200);
  assert.match(put.setCookie, /^session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
  assert.equal((await get(url, '/get', { token: put.token })).body, 'hello sqld');
  const renewed = await get(url, '/renew', { token: put.token, method: 'POST' });
  assert.notEqual(renewed.token, put.token);
  assert.equal((await get(url, '/get', { token: renewed.token })).body, 'hello sqld');
  assert.equal((await get(url, '/get', { token: put.token })).body, '');
  assert.equal((await sqld.ids()).length, 1);
  const destroyed = await get(url, '/destroy', { token: renewed.token, method: 'POST' });
  assert.match(destroyed.setCookie, /^session=; .*Max-Age=0/);
  assert.equal((await sqld.ids()).length, 0);
});

test('sessions in sqld are shared by separate instances and survive a restart of the host process', async (t) => {
  const sqld = await startSqld(t);
  const args = ['--listen', '127.0.0.1:0', '--database', sqld.url];
  const first = await spawnHost(t, args);
  const { token } = await get(first.url, '/put?message=survives');
  assert.equal(await stopHost(first), 0);
  const second = await spawnHost(t, args);
  assert.equal((await get(second.url, '/get', { token })).body, 'survives');
  const other = await openStore({ env: remoteEnv(sqld.url) });
  assert.equal(JSON.parse(new TextDecoder().decode((await other.find(token)).data)).values.message, 'survives');
  await stopHost(second);
});

test('the setInterval sweeper removes expired sessions from sqld at cleanup-interval()', async (t) => {
  const sqld = await startSqld(t);
  const clock = new HostClock();
  const store = await openStore({ env: remoteEnv(sqld.url, { SESSIONS_CLEANUP_INTERVAL: '5m' }), clock });
  for (let i = 0; i < 3; i++) await store.create(encode(`s${i}`), { absolute: clock.nowMs() + MINUTE });
  await store.create(encode('live'), { absolute: clock.nowMs() + HOUR });
  const { sweeper, swept } = await startMockedSweeper(t, store);
  assert.equal(sweeper.intervalMs, 5 * MINUTE);
  clock.shift(2 * MINUTE);
  assert.deepEqual(await store.stats(), { active: 1, expired: 3 });
  mock.timers.tick(5 * MINUTE);
  assert.deepEqual(await swept, { removed: 3, batches: 1 });
  assert.deepEqual(await store.stats(), { active: 1, expired: 0 });
  assert.equal(await sqld.count(), 1);
});

test('a cron sweep (node src/main.js sweep --database URL) runs against sqld while the host serves', async (t) => {
  const sqld = await startSqld(t);
  // 40 sessions that expired an hour ago, written through an instance whose clock runs
  // two hours behind, so they were live when written.
  const past = new HostClock();
  past.shift(-2 * HOUR);
  const seeder = await openStore({ env: remoteEnv(sqld.url), clock: past });
  for (let i = 0; i < 40; i++) await seeder.create(encode(`old${i}`), { absolute: past.nowMs() + HOUR });
  const host = await spawnHost(t, ['--listen', '127.0.0.1:0', '--database', sqld.url], { SESSIONS_CLEANUP_INTERVAL: '0' });

  const live = [];
  const client = async (c) => {
    for (let i = 0; i < 10; i++) {
      const put = await get(host.url, `/put?message=c${c}-${i}`);
      assert.equal(put.status, 200, put.body);
      live.push([put.token, `c${c}-${i}`]);
    }
  };
  const sweep = run(process.execPath, [MAIN, 'sweep', '--database', sqld.url], {
    env: { ...process.env, SESSIONS_SWEEP_BATCH: '15' },
  });
  const [{ stdout }] = await Promise.all([sweep, client(0), client(1)]);
  assert.equal(stdout.trim(), 'removed 40 expired sessions in 3 batches');
  for (const [token, message] of live) assert.equal((await get(host.url, '/get', { token })).body, message);
  await stopHost(host);
  assert.deepEqual(await (await openStore({ env: remoteEnv(sqld.url) })).stats(), { active: 20, expired: 0 });
});

test('sqld killed mid-run: requests get 503 with Retry-After, then succeed once it is back, and nothing committed is lost', async (t) => {
  const sqld = await startSqld(t);
  const { url, logs } = await startServer(t, { env: remoteEnv(sqld.url, { SESSIONS_REMOTE_TIMEOUT: '1s' }) });
  const before = [];
  for (let i = 0; i < 10; i++) before.push([(await get(url, `/put?message=before${i}`)).token, `before${i}`]);

  await sqld.stop('SIGKILL');
  for (const path of ['/put?message=during', `/get`]) {
    const res = await get(url, path, { token: before[0][0] });
    assert.equal(res.status, 503, res.body);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(res.body, 'session store unavailable; try again shortly\n');
  }
  assert.match(logs.join('\n'), new RegExp(`unavailable: cannot reach the libSQL server at ${sqld.url}`));

  await sqld.start();
  const after = await get(url, '/put?message=after');
  assert.equal(after.status, 200, after.body);
  for (const [token, message] of [...before, [after.token, 'after']]) {
    assert.equal((await get(url, '/get', { token })).body, message);
  }
  assert.equal(await sqld.count(), 11);
});

test('a sweep that cannot reach sqld is reported as unavailable, and the next tick sweeps', async (t) => {
  const sqld = await startSqld(t);
  const clock = new HostClock();
  const store = await openStore({ env: remoteEnv(sqld.url, { SESSIONS_CLEANUP_INTERVAL: '1m' }), clock });
  for (let i = 0; i < 2; i++) await store.create(encode(`s${i}`), { absolute: clock.nowMs() + MINUTE });
  clock.shift(2 * MINUTE);
  const { swept, failed, errors } = await startMockedSweeper(t, store);
  await sqld.stop('SIGKILL');
  mock.timers.tick(MINUTE);
  assert.equal(await failed, 'unavailable');
  assert.deepEqual(errors, ['unavailable']);
  await sqld.start();
  mock.timers.tick(MINUTE);
  assert.deepEqual(await swept, { removed: 2, batches: 1 });
});

test('a server that accepts connections but never answers gives unavailable after SESSIONS_REMOTE_TIMEOUT', async (t) => {
  const sockets = [];
  const silent = createServer((socket) => sockets.push(socket));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => silent.close(resolve));
  });
  const store = await openStore({
    env: remoteEnv(`http://127.0.0.1:${silent.address().port}`, { SESSIONS_REMOTE_TIMEOUT: '300ms' }),
  });
  const started = Date.now();
  await assert.rejects(store.stats(), (e) => e.kind === 'unavailable' && /within 300ms/.test(e.message));
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 5000, `gave up after ${elapsed} ms`);
});

test('with SESSIONS_AUTH_TOKEN the store works against a server that requires auth; another token is refused as unavailable', async (t) => {
  const auth = mintAuth();
  const sqld = await startSqld(t, { auth });
  const { url } = await startServer(t, { env: remoteEnv(sqld.url, { SESSIONS_AUTH_TOKEN: auth.token }) });
  const { token } = await get(url, '/put?message=authorized');
  assert.equal((await get(url, '/get', { token })).body, 'authorized');
  for (const env of [{ SESSIONS_AUTH_TOKEN: auth.foreignToken }, {}]) {
    const store = await openStore({ env: remoteEnv(sqld.url, env) });
    await assert.rejects(
      store.find(token),
      (e) => e.kind === 'unavailable' && /refused the auth token \(HTTP 401 Unauthorized\)/.test(e.message),
    );
  }
  assert.equal(await sqld.count(), 1);
});
