// The one-value routes (POST /set?key=K&value=V, /get?key=K) and the saves behind them as
// every JavaScript host must answer them, over real HTTP (session-core's "No lost updates"):
// each scenario takes running hosts' base URLs. The Node host's tests run them on a
// database file and on sqld; the edge runtimes' shared suite under workerd and Deno on sqld.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from './hosts.js';
import { devices, login } from './owners.js';
import { idOf } from './sqld.js';

export const STORED = [200, 'stored\n'];
export const CONFLICT = 'the session kept changing under concurrent requests; nothing was stored; try again\n';
export const ENDED = 'the session ended while this request ran; nothing was stored\n';
const MISSING_KEY = [400, 'missing the key parameter: /set?key=K&value=V\n'];
const INVALID_KEY = [400, 'invalid key: use 1 to 64 bytes without control characters; "user" is set by /login\n'];
const CLEARED = 'session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax';

/** session-core's shared User-Agent → label cases: `[[agent, label or null], …]`. */
export const DEVICE_LABEL_CASES = JSON.parse(
  readFileSync(new URL('../../../session-core/tests/device-labels.json', import.meta.url), 'utf8'),
).cases;

/** POSTs /set of `key` = `value` for the jar `token` to `url`. */
export function set(url, key, value, token) {
  return request(url, `/set?key=${encodeURIComponent(key)}&value=${encodeURIComponent(value)}`, { token, method: 'POST' });
}

/** The value of `key` for the jar `token`, as /get?key= answers it. */
export async function valueOf(url, key, token) {
  const res = await request(url, `/get?key=${encodeURIComponent(key)}`, { token });
  assert.equal(res.status, 200, res.body);
  return res.body;
}

/**
 * `count` concurrent POST /set of distinct keys on one cookie, spread over `urls` (hosts on
 * one database): every answer is 200 or the 409 Conflict text (the cookie kept); each 409'd
 * key is sent again until 200; then /get?key=K answers every value, none lost. Resolves how
 * many answers were 409.
 */
export async function concurrentSetsKeepEveryValue(urls, count = 50) {
  const first = await request(urls[0], '/put?message=start');
  assert.equal(first.status, 200, first.body);
  const { token } = first;
  const keys = Array.from({ length: count }, (_, i) => `k${i}`);
  let conflicts = 0;
  let pending = keys;
  for (let round = 0; pending.length > 0; round += 1) {
    assert.ok(round < 20, `still refused after 20 rounds: ${pending.join(', ')}`);
    const answers = await Promise.all(pending.map((key, i) => set(urls[i % urls.length], key, `v-${key}`, token)));
    const refused = [];
    answers.forEach((res, i) => {
      if (res.status === 409) {
        assert.deepEqual([res.body, res.setCookie], [CONFLICT, undefined], pending[i]);
        refused.push(pending[i]);
      } else {
        assert.deepEqual([res.status, res.body], STORED, `${pending[i]}: ${res.body}`);
        assert.equal(res.token, token, 'the session keeps its token');
      }
    });
    conflicts += refused.length;
    pending = refused;
  }
  for (const key of keys) assert.equal(await valueOf(urls[urls.length - 1], key, token), `v-${key}`, key);
  assert.equal(await valueOf(urls[0], 'message', token), 'start', 'the value stored before stays');
  return conflicts;
}

/**
 * /set checks its key before any store call (400, no cookie); a missing value stores the
 * empty string; /get?key= answers a value, empty when none; /set answers POST only.
 */
export async function setChecksItsKey(url) {
  const { token } = await request(url, '/put?message=kept');
  const missing = await request(url, '/set?value=v', { token, method: 'POST' });
  assert.deepEqual([missing.status, missing.body, missing.setCookie], [...MISSING_KEY, undefined]);
  for (const key of ['', 'k'.repeat(65), 'é'.repeat(33), 'a\nb', 'tab\t', '\u007f', 'user']) {
    const res = await set(url, key, 'v', token);
    assert.deepEqual([res.status, res.body, res.setCookie], [...INVALID_KEY, undefined], JSON.stringify(key));
  }
  const fresh = await set(url, 'k', 'v');
  assert.deepEqual([fresh.status, fresh.body], STORED);
  assert.match(fresh.token, /^[A-Za-z0-9_-]{43}$/, 'a /set without a cookie creates a session');
  assert.equal(await valueOf(url, 'k', fresh.token), 'v');
  assert.equal((await set(url, 'k'.repeat(64), 'long', token)).status, 200, '64 bytes is a key');
  assert.equal((await request(url, '/set?key=empty', { token, method: 'POST' })).status, 200);
  assert.equal((await set(url, 'ünï', 'ü ✓', token)).status, 200);
  assert.equal(await valueOf(url, 'k'.repeat(64), token), 'long');
  assert.equal(await valueOf(url, 'empty', token), '', 'no value: the empty string');
  assert.equal(await valueOf(url, 'ünï', token), 'ü ✓');
  assert.equal(await valueOf(url, 'absent', token), '');
  assert.equal(await valueOf(url, 'message', token), 'kept', 'other values stay');
  assert.equal((await request(url, '/get', { token })).body, 'kept', '/get alone answers the message');
  const get = await request(url, '/set?key=k&value=v', { token });
  assert.deepEqual([get.status, get.headers.get('allow'), get.body], [405, 'POST', 'method not allowed; use POST\n']);
}

/**
 * Conditional saves racing an ending: `racers` concurrent /set on one session, spread over
 * `urls`, with `/destroy` or `/renew` among them. Every answer is 200 or 409 (ended: cookie
 * cleared; conflict: cookie kept; 200: saved before the ending, or a fresh session for a
 * request loaded after it), and nothing brings the old token back: `isStored(old)` is false
 * afterwards, and only what the ending left and the fresh sessions are stored (`ids()`: the
 * ids of the active sessions, sorted).
 */
export async function savesRacingAnEndingResurrectNothing(urls, { ids, isStored }, racers = 24) {
  let ended = 0;
  for (const ending of ['/destroy', '/renew']) {
    const { token } = await set(urls[0], 'start', 'yes');
    const before = await ids();
    const sets = Array.from({ length: racers }, (_, i) => set(urls[i % urls.length], `r${i}`, 'v', token));
    const end = request(urls[urls.length - 1], ending, { token, method: 'POST' });
    const [ender, ...answers] = await Promise.all([end, ...sets]);
    const fresh = [];
    assert.equal(ender.status, 200, `${ending}: ${ender.body}`);
    for (const res of answers) {
      assert.ok(res.status === 200 || res.status === 409, `${ending} racer: ${res.status} ${res.body}`);
      if (res.status === 409 && res.body === ENDED) {
        ended += 1;
        assert.equal(res.setCookie, CLEARED);
      } else if (res.status === 409) {
        assert.deepEqual([res.body, res.setCookie], [CONFLICT, undefined]);
      } else {
        assert.equal(res.status, 200, res.body);
        // Saved to the old token before the ending, or, loaded after it, a fresh session.
        if (res.token !== token) fresh.push(res.token);
      }
    }
    assert.equal(await isStored(token), false, `${ending}: the old token came back`);
    assert.equal(await valueOf(urls[0], 'start', token), '', `${ending}: the old token finds nothing`);
    const expected = [...before.filter((id) => id !== idOf(token)), ...fresh.map(idOf)];
    if (ending === '/renew') {
      expected.push(idOf(ender.token));
      assert.equal(await valueOf(urls[0], 'start', ender.token), 'yes', 'the renewed session kept its values');
    }
    assert.deepEqual(await ids(), expected.sort(), `${ending}: no session was brought back`);
  }
  return ended;
}

/**
 * /devices lists created, last seen and the label of each session: a session created with a
 * browser's User-Agent (from session-core's shared cases) keeps its label through login (a
 * rotation), and a login without a session creates one labelled by its own agent: each
 * shared case an HTTP client can send gets its label.
 */
export async function devicesShowCreatedLastSeenAndLabel(url) {
  const [agent, label] = DEVICE_LABEL_CASES.find(([, l]) => l === 'Firefox on Linux');
  const started = Date.now();
  const put = await request(url, '/put?message=from%20firefox', { userAgent: agent });
  const browser = await login(url, 'lena', put.token);
  const curlAgent = DEVICE_LABEL_CASES.find(([, l]) => l === 'curl')[0];
  const res = await request(url, '/login?user=lena', { method: 'POST', userAgent: curlAgent });
  assert.equal(res.status, 200, res.body);
  const listed = await devices(url, browser);
  const byId = new Map(listed.map((s) => [s.id, s]));
  assert.deepEqual([...byId.keys()].sort(), [idOf(browser), idOf(res.token)].sort());
  for (const s of listed) {
    assert.deepEqual(Object.keys(s), ['id', 'expiry', 'created', 'last_seen', 'label']);
    assert.ok(Number.isSafeInteger(s.created) && s.created >= started - 60_000 && s.created <= Date.now() + 60_000, JSON.stringify(s));
    assert.ok(Number.isSafeInteger(s.last_seen) && s.last_seen >= s.created, JSON.stringify(s));
    assert.ok(s.expiry > s.last_seen, JSON.stringify(s));
  }
  assert.equal(byId.get(idOf(browser)).label, label, 'the label of the agent that created the session, kept through login');
  assert.equal(byId.get(idOf(res.token)).label, 'curl');

  // Every shared case an HTTP client can send (printable, not trimmed away by the server).
  const sendable = DEVICE_LABEL_CASES.filter(([a]) => /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(a));
  assert.ok(sendable.length >= 10, `${sendable.length} sendable cases`);
  const labelled = new Map();
  for (const [a, l] of sendable) {
    const jar = await request(url, '/login?user=labels', { method: 'POST', userAgent: a });
    assert.equal(jar.status, 200, jar.body);
    labelled.set(idOf(jar.token), [a, l]);
  }
  const viewer = await login(url, 'labels');
  for (const row of await devices(url, viewer)) {
    if (!labelled.has(row.id)) continue;
    const [a, l] = labelled.get(row.id);
    assert.equal(row.label, l, a);
    labelled.delete(row.id);
  }
  assert.deepEqual([...labelled.values()], [], 'every labelled session is listed');
}
