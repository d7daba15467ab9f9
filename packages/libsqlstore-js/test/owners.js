// The routes of a logged-in user (/login?user=NAME, /devices, /logout-everywhere) as every
// JavaScript host must answer them, over real HTTP: each scenario takes a running host's
// base URL. The Node host's tests run them in-process on a database file and on sqld; the
// edge runtimes' shared suite runs them under workerd and Deno on sqld.

import assert from 'node:assert/strict';
import { request } from './hosts.js';
import { idOf } from './sqld.js';

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const NOT_LOGGED_IN = [401, 'not logged in\n'];
const INVALID_NAME = [400, 'invalid user name: use 1 to 256 bytes without control characters\n'];

/** Logs the cookie jar `token` (undefined: none) in as `user`; resolves the new token. */
export async function login(url, user, token) {
  const res = await request(url, `/login?user=${encodeURIComponent(user)}`, { token, method: 'POST' });
  assert.deepEqual([res.status, res.body], [200, 'logged in\n'], `login of ${user}`);
  assert.match(res.token, TOKEN);
  assert.notEqual(res.token, token, 'login always hands out a new token');
  return res.token;
}

/** `[status, body]` of `method` (GET unless told) `path` for the jar `token`. */
async function answer(url, path, token, method = 'GET') {
  const res = await request(url, path, { token, method });
  return [res.status, res.body];
}

/** The `/devices` listing of the jar `token`: `[{ id, expiry, created, last_seen, label }]`. */
export async function devices(url, token) {
  const res = await request(url, '/devices', { token });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(res.setCookie, undefined);
  return JSON.parse(res.body).sessions;
}

/**
 * /login rotates the session: the cookie changes, the old token is dead, the values stay
 * and the user is logged in.
 */
export async function loginRotatesTheSession(url) {
  const put = await request(url, '/put?message=before%20login');
  const token = await login(url, 'alice', put.token);
  assert.equal((await request(url, '/get', { token })).body, 'before login', 'the values came along');
  const old = await request(url, '/get', { token: put.token });
  assert.deepEqual([old.status, old.body], [200, ''], 'the pre-login token is dead');
  assert.deepEqual(await answer(url, '/devices', put.token), NOT_LOGGED_IN);
  const listed = await devices(url, token);
  assert.deepEqual(listed.map((s) => s.id), [idOf(token)]);
  assert.deepEqual(Object.keys(listed[0]), ['id', 'expiry', 'created', 'last_seen', 'label']);
  assert.ok(Number.isSafeInteger(listed[0].expiry) && listed[0].expiry > Date.now());
  // A second login (say, as someone else) rotates again.
  const again = await login(url, 'alice2', token);
  assert.equal((await request(url, '/get', { token: again })).body, 'before login');
  assert.deepEqual(await answer(url, '/devices', token), NOT_LOGGED_IN, 'the first login token is dead');
  assert.deepEqual((await devices(url, again)).map((s) => s.id), [idOf(again)]);
  assert.deepEqual(await answer(url, '/devices', (await request(url, '/put')).token), NOT_LOGGED_IN, 'an anonymous session');
}

/**
 * Two logins of one user from two cookie jars are both listed, soonest expiry first: the
 * jar whose session began first (a rotation keeps the session's deadline) is listed first
 * though it logged in last.
 */
export async function devicesListsEverySessionOfTheUser(url) {
  const early = (await request(url, '/put?message=early')).token;
  const first = await login(url, 'carol');
  const second = await login(url, 'carol', early);
  const other = await login(url, 'dave');
  for (const token of [first, second]) {
    const listed = await devices(url, token);
    assert.deepEqual(listed.map((s) => s.id), [idOf(second), idOf(first)], 'soonest expiry first');
    assert.ok(listed[0].expiry < listed[1].expiry, JSON.stringify(listed));
    assert.ok(!JSON.stringify(listed).includes(first) && !JSON.stringify(listed).includes(second), 'ids, never tokens');
  }
  assert.deepEqual((await devices(url, other)).map((s) => s.id), [idOf(other)]);
  assert.deepEqual(await answer(url, '/devices'), NOT_LOGGED_IN, '/devices');
  assert.deepEqual(await answer(url, '/logout-everywhere', undefined, 'POST'), NOT_LOGGED_IN, '/logout-everywhere');
}

/** Renews the jar `token` (/renew); resolves the new token. */
async function renew(url, token) {
  const res = await request(url, '/renew', { token, method: 'POST' });
  assert.deepEqual([res.status, res.body], [200, 'renewed\n']);
  assert.match(res.token, TOKEN);
  assert.notEqual(res.token, token);
  return res.token;
}

/**
 * /logout-everywhere ends the user's other sessions, one renewed since its login included
 * (a renewal keeps the owner); this one and other users' stay.
 */
export async function logoutEverywhereKeepsThisSession(url) {
  const here = await login(url, 'erin');
  const phone = await renew(url, await login(url, 'erin', (await request(url, '/put?message=phone')).token));
  assert.equal((await request(url, '/get', { token: phone })).body, 'phone', 'the renewal kept the values');
  const laptop = await login(url, 'erin');
  const someoneElse = await login(url, 'frank');
  const res = await request(url, '/logout-everywhere', { token: here, method: 'POST' });
  assert.deepEqual([res.status, res.headers.get('content-type'), res.body], [200, 'application/json', '{"revoked":2}']);
  assert.equal(res.setCookie, undefined);
  for (const token of [phone, laptop]) {
    assert.deepEqual(await answer(url, '/devices', token), NOT_LOGGED_IN, 'the other jar is logged out');
    assert.equal((await request(url, '/get', { token })).body, '');
  }
  assert.deepEqual((await devices(url, here)).map((s) => s.id), [idOf(here)], 'this jar is still logged in');
  assert.deepEqual((await devices(url, someoneElse)).map((s) => s.id), [idOf(someoneElse)]);
  const again = await request(url, '/logout-everywhere', { token: here, method: 'POST' });
  assert.deepEqual([again.status, again.body], [200, '{"revoked":0}']);
}

/**
 * A user name the store refuses (empty, 257 bytes, a control character) gets 400 with a
 * fixed text; the session was rotated (the cookie names the new token), stays anonymous and
 * keeps its values; another user's sessions are untouched. A missing name gets 400 too.
 */
export async function badUserNamesAreRefused(url) {
  const victim = [await login(url, 'grace'), await login(url, 'grace')];
  const listed = await devices(url, victim[0]);
  let token = (await request(url, '/put?message=mine')).token;
  for (const name of ['', 'x'.repeat(257), 'grace\n', 'grace\0', 'é'.repeat(129)]) {
    const res = await request(url, `/login?user=${encodeURIComponent(name)}`, { token, method: 'POST' });
    assert.deepEqual([res.status, res.body], INVALID_NAME, JSON.stringify(name.slice(0, 20)));
    assert.match(res.token, TOKEN, 'the cookie names the rotated session');
    assert.notEqual(res.token, token);
    assert.equal((await request(url, '/get', { token })).body, '', 'the old token is dead');
    assert.equal((await request(url, '/get', { token: res.token })).body, 'mine', 'nothing was lost');
    assert.deepEqual(await answer(url, '/devices', res.token), NOT_LOGGED_IN, 'not logged in');
    token = res.token;
  }
  const missing = await request(url, '/login', { token, method: 'POST' });
  assert.deepEqual([missing.status, missing.body, missing.setCookie], [400, 'missing the user parameter: /login?user=NAME\n', undefined]);
  assert.equal((await request(url, '/get', { token })).body, 'mine');
  for (const t of victim) assert.deepEqual(await devices(url, t), listed, "the other user's sessions are as they were");
  assert.equal((await request(url, '/get', { token: await login(url, 'x'.repeat(256), token) })).body, 'mine', '256 bytes is a name');
}

/** Every scenario above, in turn, against one host. */
export async function ownerScenarios(url) {
  await loginRotatesTheSession(url);
  await devicesListsEverySessionOfTheUser(url);
  await logoutEverywhereKeepsThisSession(url);
  await badUserNamesAreRefused(url);
}
