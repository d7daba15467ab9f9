// Logout and renewal are final: two real host processes on one database file (Node runs a
// request's load and save in one tick, so the race is between processes), 80 saves of one
// session racing its /destroy or /renew. And no HTTP answer shows what the store said.

import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { HostClock } from '../src/clock.js';
import { MAX_TIMESTAMP, SessionManager } from 'libsqlstore';
import { fileEnv, get, integrityCheck, open, spawnHost, startServer, stopHost, tempDir } from './helpers.js';

const RACERS = 80;
const ROUNDS = 2;
const ENDED = 'the session ended while this request ran; nothing was stored\n';
const CONFLICT = 'the session kept changing under concurrent requests; nothing was stored; try again\n';
const decoder = new TextDecoder();

/** The message stored for `token` (read through a fresh instance), or undefined. */
async function storedMessage(store, token) {
  const found = await store.find(token);
  return found === undefined ? undefined : JSON.parse(decoder.decode(found.data)).values.message;
}

/**
 * POSTs `path` with `token`'s cookie to `url`, again while the answer is 503 (the contract's
 * answer when the lock stayed taken past the busy timeout, with nothing changed), at most
 * 5 times: on a busy machine the ending itself may have to wait its turn.
 */
async function endSession(url, path, token) {
  for (let attempt = 1; ; attempt++) {
    const reply = await get(url, path, { token, method: 'POST' });
    if (reply.status !== 503 || attempt === 5) return reply;
  }
}

/**
 * Creates a session on `a`, then sends RACERS /put with its cookie, alternating between
 * `a` and `b`, with `enderPath` sent to `b` in the middle, all at once.
 */
async function race(a, b, round, enderPath) {
  const first = await get(a.url, `/put?message=r${round}-initial`);
  assert.equal(first.status, 200, first.body);
  const old = first.token;
  const saves = [];
  let ender;
  for (let i = 0; i < RACERS; i++) {
    if (i === RACERS / 2) ender = endSession(b.url, enderPath, old);
    const message = `r${round}-${i}`;
    const host = i % 2 === 0 ? a : b;
    saves.push(get(host.url, `/put?message=${message}`, { token: old }).then((reply) => ({ message, reply })));
  }
  return { old, ender: await ender, saves: await Promise.all(saves) };
}

/**
 * Checks each save's answer; returns the sessions saves created afresh and the counts. A 503
 * (busy: the lock stayed taken past the busy timeout) stored nothing and is allowed.
 */
function checkSaves({ old, saves }) {
  const fresh = [];
  let before = 0;
  let refused = 0;
  for (const { message, reply } of saves) {
    if (reply.status === 503) continue;
    if (reply.status === 409 && reply.body === CONFLICT) {
      // The other host kept saving the session: nothing of this save was stored, and the
      // cookie is kept (the session lives on, or ended through the race's own request).
      assert.equal(reply.setCookie, undefined, 'a conflict keeps the cookie');
      continue;
    }
    if (reply.status === 409) {
      assert.equal(reply.body, ENDED);
      assert.match(reply.setCookie, /^session=; .*Max-Age=0/, 'a 409 clears the cookie');
      refused++;
    } else {
      assert.equal(reply.status, 200, reply.body);
      if (reply.token === old) before++;
      else {
        assert.match(reply.token, /^[A-Za-z0-9_-]{43}$/);
        fresh.push([reply.token, message]);
      }
    }
  }
  return { fresh, before, refused };
}

async function twoHosts(t) {
  const dataDir = tempDir(t);
  const args = ['--listen', '127.0.0.1:0', '--data-dir', dataDir];
  const [a, b] = [await spawnHost(t, args), await spawnHost(t, args)];
  return { dataDir, a, b };
}

/**
 * Stops both hosts, then checks the file: intact, none of the `dead` tokens active, every
 * [token, message] of `live` stored (read through a fresh instance).
 */
async function stopAndCheckStored({ dataDir, a, b }, dead, live) {
  await stopHost(a);
  await stopHost(b);
  assert.equal(integrityCheck(join(dataDir, 'sessions.db')), 'ok');
  const checker = await open(dataDir);
  for (const old of dead) assert.equal(await checker.find(old), undefined, `the ended session ${old} is stored as active`);
  for (const [token, message] of live) assert.equal(await storedMessage(checker, token), message);
}

test('a logout racing 80 saves of the same session on two hosts is final', async (t) => {
  const { dataDir, a, b } = await twoHosts(t);
  const dead = [];
  const acknowledged = [];
  let before = 0;
  let refused = 0;
  const started = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    const result = await race(a, b, round, '/destroy');
    assert.equal(result.ender.status, 200, result.ender.body);
    assert.match(result.ender.setCookie, /^session=; .*Max-Age=0/);
    const counts = checkSaves(result);
    for (const host of [a, b]) assert.equal((await get(host.url, '/get', { token: result.old })).body, '', 'the old token works');
    for (const [token, message] of counts.fresh) assert.equal((await get(a.url, '/get', { token })).body, message);
    dead.push(result.old);
    acknowledged.push(...counts.fresh);
    before += counts.before;
    refused += counts.refused;
  }
  console.error(
    `${ROUNDS} logouts x ${RACERS} saves in ${Date.now() - started} ms: ${before} saved before, ${refused} refused (409), ${acknowledged.length} fresh`,
  );
  await stopAndCheckStored({ dataDir, a, b }, dead, acknowledged);
});

test('a renewal racing 80 saves of the same session on two hosts leaves the old token dead and the new one working', async (t) => {
  const { dataDir, a, b } = await twoHosts(t);
  const dead = [];
  const live = [];
  for (let round = 0; round < ROUNDS; round++) {
    const result = await race(a, b, round, '/renew');
    assert.equal(result.ender.status, 200, result.ender.body);
    const renewed = result.ender.token;
    assert.match(renewed, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(renewed, result.old);
    const { fresh, refused } = checkSaves(result);
    console.error(`renewal round ${round}: ${refused} saves refused (409), ${fresh.length} fresh`);
    for (const host of [a, b]) assert.equal((await get(host.url, '/get', { token: result.old })).body, '', 'the old token works');
    // The new session carries what the renewal read: the first message, or one a save
    // acknowledged before the old token ended.
    const possible = new Set([`r${round}-initial`, ...result.saves.filter((s) => s.reply.token === result.old).map((s) => s.message)]);
    const carried = (await get(a.url, '/get', { token: renewed })).body;
    assert.ok(possible.has(carried), `the renewed session holds ${carried}`);
    dead.push(result.old);
    live.push([renewed, carried], ...fresh);
  }
  await stopAndCheckStored({ dataDir, a, b }, dead, live);
});

// Over HTTP the window between a request's load and its save is narrow in Node (both run
// in one tick); these take the interleaving apart, with a second instance on the file.
async function loadedThenEndedElsewhere(t, end) {
  const dataDir = tempDir(t);
  const clock = new HostClock();
  const manager = new SessionManager(await open(dataDir, fileEnv(), clock), { now: () => clock.nowMs() });
  const other = await open(dataDir, fileEnv(), clock);
  const first = await manager.load(undefined);
  first.put('message', 'before');
  const { token } = await manager.save(first);
  const session = await manager.load(`session=${token}`);
  assert.equal(session.get('message'), 'before');
  await end(other, token);
  return { manager, other, session, token };
}

test('a save of a session destroyed elsewhere after it loaded stores nothing', async (t) => {
  const { manager, other, session, token } = await loadedThenEndedElsewhere(t, (store, tok) => store.delete(tok));
  session.put('message', 'too late');
  assert.deepEqual(await manager.save(session), { kind: 'ended-meanwhile' });
  assert.equal(await other.find(token), undefined, 'the logged-out token came back');
  assert.deepEqual(await other.stats(), { active: 0, expired: 0 });
});

test('a renewal of a session renewed or destroyed elsewhere after it loaded creates nothing', async (t) => {
  const renewedElsewhere = (store, tok) => store.rotate(tok, { absolute: Date.now() + 60_000 });
  for (const [end, left] of [
    [renewedElsewhere, 1],
    [(store, tok) => store.delete(tok), 0],
  ]) {
    const { manager, other, session, token } = await loadedThenEndedElsewhere(t, end);
    session.renew();
    assert.deepEqual(await manager.save(session), { kind: 'ended-meanwhile' });
    assert.equal(await other.find(token), undefined);
    assert.equal((await other.stats()).active, left, 'no second successor was created');
  }
});

test('a password in the database URL never reaches an HTTP client; the log has it masked', async (t) => {
  const { url, logs } = await startServer(t, { env: { SESSIONS_DATABASE: 'http://user:s3cret@127.0.0.1:1' } });
  const statuses = new Set();
  const routes = [
    ['/put?message=x', 'GET'],
    ['/get', 'GET'],
    ['/renew', 'POST'],
    ['/destroy', 'POST'],
    ['/login?user=alice', 'POST'],
    ['/devices', 'GET'],
    ['/logout-everywhere', 'POST'],
  ];
  for (const [path, method] of routes) {
    for (const token of [undefined, 'A'.repeat(43)]) {
      const res = await get(url, path, { token, method });
      statuses.add(res.status);
      const seen = `${[...res.headers].join('\n')}\n${res.body}`;
      for (const secret of ['s3cret', 'user:', 'SESSIONS_DATABASE']) assert.ok(!seen.includes(secret), `${path}: ${seen}`);
    }
  }
  assert.ok(statuses.has(500), `statuses ${[...statuses]}`);
  assert.ok(logs.length > 0 && logs.every((line) => !line.includes('s3cret')), logs.join('\n'));
});

test('a fresh session created with a huge lifetime ends at the largest timestamp, not in the past', async (t) => {
  const dataDir = tempDir(t);
  const clock = new HostClock();
  const manager = new SessionManager(await open(dataDir, fileEnv(), clock), { now: () => clock.nowMs(), lifetimeMs: Number.MAX_VALUE });
  const session = await manager.load(undefined);
  assert.equal(session.deadline, MAX_TIMESTAMP);
  session.put('message', 'forever');
  const saved = await manager.save(session);
  assert.equal(saved.kind, 'live');
  assert.match(manager.setCookie(saved), /; Max-Age=34560000; /, 'Max-Age is capped at 400 days');
  assert.equal((await manager.load(`session=${saved.token}`)).get('message'), 'forever');
});
