// No lost updates and the one-value routes (POST /set?key=K&value=V, /get?key=K), served by
// the Node host over real HTTP on loopback with the real component: on a database file and
// on a real libSQL server (sqld), in one process (whose saves of a token wait for each
// other) and in two (whose saves meet in the store's conditional update). The scenarios
// are every JavaScript host's (../../../packages/libsqlstore-js/test/values.js). Also the
// idle timeout the store keeps.

import test from 'node:test';
import assert from 'node:assert/strict';
import {
  concurrentSetsKeepEveryValue,
  devicesShowCreatedLastSeenAndLabel,
  savesRacingAnEndingResurrectNothing,
  set,
  setChecksItsKey,
  valueOf,
} from '../../../packages/libsqlstore-js/test/values.js';
import { startSqld } from '../../../packages/libsqlstore-js/test/sqld.js';
import { spawnHost, startServer, stopHost, tempDir } from './helpers.js';

const MINUTE = 60_000;

/** What the scenarios read of a store: the active sessions' ids, and whether a token is stored. */
function checker(store) {
  return {
    ids: async () => (await store.page(undefined, 10_000)).map(([id]) => id).sort(),
    isStored: async (token) => (await store.find(token)) !== undefined,
  };
}

test('on a file, 50 concurrent sets of one session keep every value', async (t) => {
  const { url } = await startServer(t);
  const conflicts = await concurrentSetsKeepEveryValue([url]);
  t.diagnostic(`${conflicts} answers were 409`);
});

test('on a file, 50 concurrent sets of one session through two host processes keep every value', async (t) => {
  const dataDir = tempDir(t);
  const args = ['--listen', '127.0.0.1:0', '--data-dir', dataDir];
  const [a, b] = [await spawnHost(t, args), await spawnHost(t, args)];
  const conflicts = await concurrentSetsKeepEveryValue([a.url, b.url]);
  t.diagnostic(`${conflicts} answers were 409`);
  await stopHost(a);
  await stopHost(b);
});

test('on sqld, 50 concurrent sets of one session keep every value, through one app and through two', async (t) => {
  const sqld = await startSqld(t);
  const env = { SESSIONS_DATABASE: sqld.url };
  const [a, b] = [await startServer(t, { env }), await startServer(t, { env })];
  const one = await concurrentSetsKeepEveryValue([a.url]);
  const two = await concurrentSetsKeepEveryValue([a.url, b.url]);
  t.diagnostic(`409 answers: ${one} through one app, ${two} through two`);
});

test('set checks its key before any store call, and get answers a value by key', async (t) => {
  const { url, store } = await startServer(t);
  await setChecksItsKey(url);
  assert.equal((await store.stats()).active, 2, 'the refused sets created nothing');
});

test('on a file, sets racing a destroy or a renewal bring nothing back', async (t) => {
  const { url, store } = await startServer(t);
  await savesRacingAnEndingResurrectNothing([url], checker(store));
});

test('on sqld, sets racing a destroy or a renewal through two apps bring nothing back', async (t) => {
  const sqld = await startSqld(t);
  const env = { SESSIONS_DATABASE: sqld.url };
  const [a, b] = [await startServer(t, { env }), await startServer(t, { env })];
  const ended = await savesRacingAnEndingResurrectNothing([a.url, b.url], {
    ids: () => sqld.ids(),
    isStored: async (token) => (await sqld.record(token)) !== undefined,
  });
  t.diagnostic(`${ended} sets answered 409 (ended)`);
});

test('devices shows created, last seen and the label of the User-Agent, on a file and on sqld', async (t) => {
  const { url } = await startServer(t);
  await devicesShowCreatedLastSeenAndLabel(url);
  const sqld = await startSqld(t);
  const remote = await startServer(t, { env: { SESSIONS_DATABASE: sqld.url } });
  await devicesShowCreatedLastSeenAndLabel(remote.url);
});

test('with an idle timeout, reads keep a session alive and a session unused that long ends (host clock moved, no sleep)', async (t) => {
  const { url, clock, store } = await startServer(t, { idleTimeoutMs: 10 * MINUTE });
  const { token } = await set(url, 'k', 'kept');
  for (let i = 0; i < 3; i += 1) {
    clock.shift(8 * MINUTE);
    assert.equal(await valueOf(url, 'k', token), 'kept', `after ${(i + 1) * 8} minutes, read every 8`);
  }
  clock.shift(10 * MINUTE + 1000);
  assert.equal(await valueOf(url, 'k', token), '', 'unused for longer than the idle timeout');
  assert.equal(await store.find(token), undefined);
});
