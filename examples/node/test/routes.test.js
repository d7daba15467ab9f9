// The routes over real HTTP (in-process server, loopback), with bad input and faults.

import test from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MESSAGE } from 'libsqlstore';
import { fileEnv, get, startServer } from './helpers.js';

const HOUR = 3_600_000;

test('put then get returns the message under an HttpOnly SameSite=Lax session cookie', async (t) => {
  const { url } = await startServer(t);
  const put = await get(url, '/put?message=hello%20edge');
  assert.equal(put.status, 200);
  assert.match(put.setCookie, /^session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
  const got = await get(url, '/get', { token: put.token });
  assert.equal(got.status, 200);
  assert.equal(got.body, 'hello edge');
  assert.equal(got.setCookie, undefined, 'an unmodified session sends no cookie');
});

test('put without a message stores the default one', async (t) => {
  const { url } = await startServer(t);
  const { token } = await get(url, '/put');
  assert.equal((await get(url, '/get', { token })).body, DEFAULT_MESSAGE);
});

test('get without a cookie is empty and creates no session', async (t) => {
  const { url, store } = await startServer(t);
  const got = await get(url, '/get');
  assert.equal(got.body, '');
  assert.equal(got.setCookie, undefined);
  assert.deepEqual(await store.stats(), { active: 0, expired: 0 });
});

test('destroy deletes the session and clears the cookie', async (t) => {
  const { url, store } = await startServer(t);
  const { token } = await get(url, '/put?message=x');
  const destroyed = await get(url, '/destroy', { token, method: 'POST' });
  assert.match(destroyed.setCookie, /^session=; .*Max-Age=0/);
  assert.equal((await get(url, '/get', { token })).body, '');
  assert.deepEqual(await store.stats(), { active: 0, expired: 0 });
});

test('renew moves the data to a new token and the old one stops working', async (t) => {
  const { url } = await startServer(t);
  const { token: old } = await get(url, '/put?message=kept');
  const renewed = await get(url, '/renew', { token: old, method: 'POST' });
  assert.notEqual(renewed.token, old);
  assert.equal((await get(url, '/get', { token: renewed.token })).body, 'kept');
  assert.equal((await get(url, '/get', { token: old })).body, '');
});

test('a session ends at its lifetime (host clock moved, no sleep)', async (t) => {
  const { url, clock } = await startServer(t, { lifetimeMs: HOUR });
  const { token } = await get(url, '/put?message=short');
  clock.shift(HOUR - 1000);
  assert.equal((await get(url, '/get', { token })).body, 'short');
  clock.shift(2000);
  assert.equal((await get(url, '/get', { token })).body, '');
});

test('a forged token is never adopted: put under it draws a fresh token', async (t) => {
  const { url, store } = await startServer(t);
  const forged = 'A'.repeat(43);
  const got = await get(url, '/get', { token: forged });
  assert.equal(got.status, 200);
  assert.equal(got.body, '');
  const put = await get(url, '/put?message=mine', { token: forged });
  assert.equal(put.status, 200);
  assert.notEqual(put.token, forged);
  assert.equal(await store.find(forged), undefined);
  assert.equal((await get(url, '/get', { token: put.token })).body, 'mine');
});

test('a malformed or oversized session cookie starts a fresh session', async (t) => {
  const { url } = await startServer(t);
  for (const token of ['x'.repeat(300), 'has space', '%00%01']) {
    const got = await get(url, '/put?message=fresh', { cookie: `session=${token}` });
    assert.equal(got.status, 200, `token ${token.slice(0, 20)}`);
    assert.match(got.token, /^[A-Za-z0-9_-]{43}$/);
  }
});

test('a cookie header over the server limit is refused with 431 and the server keeps serving', async (t) => {
  const { url } = await startServer(t);
  const huge = await get(url, '/get', { cookie: `session=${'x'.repeat(64 * 1024)}` });
  assert.equal(huge.status, 431);
  assert.equal((await get(url, '/put?message=after')).status, 200);
});

test('session data over SESSIONS_MAX_DATA_BYTES is refused with 413', async (t) => {
  const { url } = await startServer(t, { env: fileEnv({ SESSIONS_MAX_DATA_BYTES: '256' }) });
  const res = await get(url, `/put?message=${'m'.repeat(1000)}`);
  assert.equal(res.status, 413);
  assert.match(res.body, /256 bytes/);
  assert.equal((await get(url, '/put?message=small')).status, 200);
});

test('while another instance holds the database lock: 503 with Retry-After and a generic body, then the next request succeeds', async (t) => {
  const { url, dataDir, logs } = await startServer(t, { env: fileEnv({ SESSIONS_BUSY_TIMEOUT: '200ms' }) });
  const { token } = await get(url, '/put?message=before');
  const lock = join(dataDir, 'sessions.db-lock');
  writeFileSync(lock, `owner=another-instance host=elsewhere acquired_ms=${Date.now()}`);
  const blocked = await get(url, '/get', { token });
  assert.equal(blocked.status, 503);
  assert.equal(blocked.headers.get('retry-after'), '1');
  assert.equal(blocked.body, 'session store unavailable; try again shortly\n');
  for (const internal of [dataDir, 'sessions.db', 'another-instance', 'host=', 'pid', 'lock']) {
    assert.ok(!blocked.body.includes(internal), `the body holds ${internal}`);
  }
  assert.match(logs.join('\n'), /locked by another instance/, 'the detail goes to the log');
  rmSync(lock);
  const after = await get(url, '/get', { token });
  assert.equal(after.status, 200);
  assert.equal(after.body, 'before');
});

test('an unknown path is 404', async (t) => {
  const { url } = await startServer(t);
  assert.equal((await get(url, '/nope')).status, 404);
});
