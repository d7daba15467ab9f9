// The routes of a logged-in user (/login?user=NAME, /devices, /logout-everywhere) served by
// the Node host over real HTTP on loopback, with the real component: on a database file
// and on a real libSQL server (sqld). The scenarios are every JavaScript host's
// (../../../packages/libsqlstore-js/test/owners.js).

import test from 'node:test';
import assert from 'node:assert/strict';
import { request } from '../../../packages/libsqlstore-js/test/hosts.js';
import {
  badUserNamesAreRefused,
  devices,
  devicesListsEverySessionOfTheUser,
  login,
  loginRotatesTheSession,
  logoutEverywhereKeepsThisSession,
  ownerScenarios,
} from '../../../packages/libsqlstore-js/test/owners.js';
import { idOf, startSqld } from '../../../packages/libsqlstore-js/test/sqld.js';
import { startServer } from './helpers.js';

const HOUR = 3_600_000;

test('login rotates the session: a new cookie, the old token dead, the values kept', async (t) => {
  const { url } = await startServer(t);
  await loginRotatesTheSession(url);
});

test('devices lists both logins of a user from two cookie jars, soonest expiry first', async (t) => {
  const { url } = await startServer(t);
  await devicesListsEverySessionOfTheUser(url);
});

test('logout-everywhere logs the other jars out and keeps this one logged in', async (t) => {
  const { url } = await startServer(t);
  await logoutEverywhereKeepsThisSession(url);
});

test('bad user names get 400, leave the session anonymous and change nothing of another user', async (t) => {
  const { url } = await startServer(t);
  await badUserNamesAreRefused(url);
});

test('devices lists only the sessions that have not expired (host clock moved, no sleep)', async (t) => {
  const { url, clock } = await startServer(t, { lifetimeMs: HOUR });
  const older = await login(url, 'heidi');
  clock.shift(HOUR / 2);
  const newer = await login(url, 'heidi');
  assert.deepEqual((await devices(url, newer)).map((s) => s.id), [idOf(older), idOf(newer)]);
  clock.shift(HOUR / 2 + 1000);
  assert.deepEqual((await devices(url, newer)).map((s) => s.id), [idOf(newer)]);
  const expired = await request(url, '/devices', { token: older });
  assert.equal(expired.status, 401);
});

test('against sqld, login, devices, logout-everywhere and bad names behave the same', async (t) => {
  const sqld = await startSqld(t);
  const { url } = await startServer(t, { env: { SESSIONS_DATABASE: sqld.url } });
  await ownerScenarios(url);
});
