// The behaviour both edge runtimes must show, run against each (workerd for the Worker,
// Deno): a real sqld and the runtime as a real process on loopback ports, started through
// the example's serve.sh. Each test starts its own of both.

import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { postOversized, request, runServe, startEdge as startHost } from './hosts.js';
import {
  badUserNamesAreRefused,
  devicesListsEverySessionOfTheUser,
  loginRotatesTheSession,
  logoutEverywhereKeepsThisSession,
} from './owners.js';
import { idOf, mintAuth, startSqld } from './sqld.js';
import { methodScenarios } from './methods.js';
import {
  concurrentSetsKeepEveryValue,
  devicesShowCreatedLastSeenAndLabel,
  savesRacingAnEndingResurrectNothing,
  setChecksItsKey,
} from './values.js';

/** session-core's fixed answer to an unavailable store. */
const GENERIC_503 = 'session store unavailable; try again shortly\n';

/**
 * Defines the shared tests for `runtime` (`workers` or `deno`). With `app: 'hono'` the host
 * serves the routes through the package's Hono middleware (EDGE_APP=hono) and the tests
 * that only concern the host's start-up or its throughput are left to the plain app.
 */
export function sessionSuite(runtime, { app } = {}) {
  const label = app ? `${runtime} (${app})` : runtime;
  const appEnv = app ? { EDGE_APP: app } : {};
  const startEdge = (t, host, options) => startHost(t, host, { ...options, env: { ...appEnv, ...options.env } });
  const hostOnly = app ? () => {} : test;
  test(`${label}: put, get, renew and destroy keep one session in the libSQL server`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url });

    const put = await request(edge.url, '/put?message=hello');
    assert.equal(put.status, 200);
    assert.equal(put.body, 'stored\n');
    assert.match(put.setCookie, /^session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=(86399|86400); HttpOnly; SameSite=Lax$/);
    const record = await sqld.record(put.token);
    assert.deepEqual(record.data.values, { message: 'hello' });
    assert.equal(record.expiry, record.data.deadline, 'the store expiry is the absolute deadline');

    const get = await request(edge.url, '/get', { token: put.token });
    assert.deepEqual([get.status, get.body, get.setCookie], [200, 'hello', undefined]);

    const renewed = await request(edge.url, '/renew', { token: put.token, method: 'POST' });
    assert.equal(renewed.status, 200);
    assert.notEqual(renewed.token, put.token);
    assert.equal((await request(edge.url, '/get', { token: renewed.token })).body, 'hello');
    assert.equal((await request(edge.url, '/get', { token: put.token })).body, '', 'the old token is dead');
    assert.deepEqual(await sqld.ids(), [idOf(renewed.token)]);

    const destroyed = await request(edge.url, '/destroy', { token: renewed.token, method: 'POST' });
    assert.equal(destroyed.status, 200);
    assert.equal(destroyed.setCookie, 'session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
    assert.deepEqual(await sqld.ids(), []);

    const unknown = await request(edge.url, '/nowhere');
    assert.equal(unknown.status, 404);
  });

  test(`${label}: login rotates the session, devices lists a user's sessions soonest expiry first, logout-everywhere keeps this one`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url });
    await loginRotatesTheSession(edge.url);
    await devicesListsEverySessionOfTheUser(edge.url);
    await logoutEverywhereKeepsThisSession(edge.url);
  });

  test(`${label}: state-changing routes answer POST only, reads GET and HEAD; other methods get 405 and change nothing`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url });
    const { token } = await request(edge.url, '/put?message=counted');
    const before = await sqld.ids();
    for (const path of ['/set?key=k&value=v', '/renew', '/destroy', '/login?user=mallory', '/logout-everywhere']) {
      assert.equal((await request(edge.url, path, { token })).status, 405, path);
    }
    assert.deepEqual(await sqld.ids(), before, 'no session created, rotated or deleted');
    await methodScenarios(edge.url);
  });

  test(`${label}: bad user names get 400, leave the session anonymous and change nothing of another user`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url });
    await badUserNamesAreRefused(edge.url);
  });

  test(`${label}: 50 concurrent sets of one session through two hosts on one sqld keep every value`, async (t) => {
    const sqld = await startSqld(t);
    const a = await startEdge(t, runtime, { database: sqld.url });
    const b = await startEdge(t, runtime, { database: sqld.url });
    const one = await concurrentSetsKeepEveryValue([a.url]);
    const two = await concurrentSetsKeepEveryValue([a.url, b.url]);
    t.diagnostic(`409 answers: ${one} through one host, ${two} through two`);
  });

  test(`${label}: sets racing a destroy or a renewal through two hosts bring nothing back`, async (t) => {
    const sqld = await startSqld(t);
    const a = await startEdge(t, runtime, { database: sqld.url });
    const b = await startEdge(t, runtime, { database: sqld.url });
    const ended = await savesRacingAnEndingResurrectNothing([a.url, b.url], {
      ids: () => sqld.ids(),
      isStored: async (token) => (await sqld.record(token)) !== undefined,
    });
    t.diagnostic(`${ended} sets answered 409 (ended)`);
  });

  test(`${label}: set checks its key, get answers a value by key, devices shows created, last seen and the label`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url });
    await setChecksItsKey(edge.url);
    await devicesShowCreatedLastSeenAndLabel(edge.url);
  });

  test(`${label}: a forged, malformed or oversized cookie gets a fresh session`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url });
    const forged = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    for (const cookie of [`session=${forged}`, 'session=bad token', `session=${'x'.repeat(4096)}`, 'session=%00%01']) {
      const get = await request(edge.url, '/get', { cookie });
      assert.deepEqual([get.status, get.body, get.setCookie], [200, '', undefined], cookie.slice(0, 40));
      const put = await request(edge.url, '/put?message=mine', { cookie });
      assert.equal(put.status, 200, cookie.slice(0, 40));
      assert.match(put.token, /^[A-Za-z0-9_-]{43}$/);
      assert.notEqual(put.token, forged, 'a client never chooses its token');
    }
    assert.equal((await sqld.ids()).length, 4);
  });

  test(`${label}: data over SESSIONS_MAX_DATA_BYTES is refused with 413 and nothing stored`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url, env: { SESSIONS_MAX_DATA_BYTES: '300' } });
    const big = 'x'.repeat(400);
    const fresh = await request(edge.url, `/put?message=${big}`);
    assert.equal(fresh.status, 413);
    assert.equal(fresh.setCookie, undefined);
    assert.equal(await sqld.count(), 0);

    const small = await request(edge.url, '/put?message=small');
    const grown = await request(edge.url, `/put?message=${big}`, { token: small.token });
    assert.equal(grown.status, 413);
    assert.deepEqual((await sqld.record(small.token)).data.values, { message: 'small' }, 'the session is as it was');
  });

  test(`${label}: a request body or cookie header far over the limits gets 4xx and serving goes on`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url });
    const declared = await postOversized(`${edge.url}/put?message=body`, { declared: 64 * 1024 * 1024, sent: 1024 });
    assert.equal(declared, 413, 'refused on its Content-Length, before it arrives');
    const chunked = await postOversized(`${edge.url}/put?message=chunked`, { chunked: true, sent: 256 * 1024 });
    assert.equal(chunked, 413, 'a body without Content-Length is cut off once over the limit');
    assert.equal(await sqld.count(), 0);

    const cookie = await request(edge.url, '/get', { cookie: `session=${'y'.repeat(1024 * 1024)}` }).catch((e) => e);
    // The runtime's HTTP server refuses the header (431 or 400), or closes the connection.
    if (!(cookie instanceof Error)) assert.ok(cookie.status >= 400 && cookie.status < 500, `status ${cookie.status}`);

    const put = await request(edge.url, '/put?message=still');
    assert.equal(put.status, 200);
    assert.equal((await request(edge.url, '/get', { token: put.token })).body, 'still');
  });

  test(`${label}: saves racing a /destroy never bring the session back (409, cookie cleared)`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url });
    let conflicts = 0;
    for (let round = 0; round < 8; round += 1) {
      const { token } = await request(edge.url, '/put?message=start');
      const saves = Array.from({ length: 24 }, (_, i) => request(edge.url, `/put?message=save${i}`, { token }));
      const destroy = request(edge.url, '/destroy', { token, method: 'POST' });
      const answers = await Promise.all([...saves, destroy]);
      for (const a of answers) {
        assert.ok(a.status === 200 || a.status === 409, `status ${a.status}: ${a.body}`);
        if (a.status === 409) {
          conflicts += 1;
          assert.equal(a.body, 'the session ended while this request ran; nothing was stored\n');
          assert.equal(a.setCookie, 'session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
        }
      }
      assert.equal(await sqld.record(token), undefined, `round ${round}: the destroyed session stays gone`);
    }
    t.diagnostic(`${conflicts} saves answered 409`);
  });

  test(`${label}: sqld going away gives 503 with Retry-After; it recovers without a restart`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url, env: { SESSIONS_REMOTE_TIMEOUT: '2s' } });
    const put = await request(edge.url, '/put?message=kept');
    assert.equal(put.status, 200);

    await sqld.stop('SIGKILL');
    const down = await request(edge.url, '/get', { token: put.token });
    assert.equal(down.status, 503);
    assert.equal(down.headers.get('retry-after'), '1');
    assert.equal(down.body, GENERIC_503);

    await sqld.start();
    const back = await request(edge.url, '/get', { token: put.token });
    assert.deepEqual([back.status, back.body], [200, 'kept']);
  });

  test(`${label}: a server busy for a moment is asked again; one that stays busy gives 503`, async (t) => {
    const sqld = await startSqld(t);
    // Between the runtime and sqld: answers the next `busy` pipelines as a server whose
    // write lock is taken (SQLITE_BUSY, nothing run), passes the others on.
    let busy = 0;
    const proxy = createHttpServer(async (req, res) => {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      let answer;
      if (busy > 0) {
        busy -= 1;
        const error = { message: 'SQLite error: database is locked', code: 'SQLITE_BUSY' };
        const results = JSON.parse(body).requests.map(() => ({ type: 'error', error }));
        answer = JSON.stringify({ baton: null, base_url: null, results });
      } else {
        answer = await (await fetch(`${sqld.url}${req.url}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).text();
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => proxy.close(resolve)));
    const edge = await startEdge(t, runtime, { database: `http://127.0.0.1:${proxy.address().port}` });

    busy = 2;
    const put = await request(edge.url, '/put?message=after-busy');
    assert.equal(put.status, 200);
    assert.equal(busy, 0);
    assert.equal((await sqld.record(put.token)).data.values.message, 'after-busy');

    busy = 100;
    const refused = await request(edge.url, '/get', { token: put.token });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(busy, 96, 'asked 4 times in all');
  });

  test(`${label}: a refused auth token gives 503, and neither the answer nor the log holds a token`, async (t) => {
    const auth = mintAuth();
    const sqld = await startSqld(t, { auth });
    const refused = await startEdge(t, runtime, { database: sqld.url, env: { SESSIONS_AUTH_TOKEN: auth.foreignToken } });
    const answer = await request(refused.url, '/put?message=x');
    assert.equal(answer.status, 503);
    assert.equal(answer.body, GENERIC_503);
    assert.ok(!JSON.stringify([...answer.headers]).includes(auth.foreignToken));
    assert.match(refused.output(), /auth token/, 'the log says what to fix');
    assert.ok(!refused.output().includes(auth.foreignToken), 'the log holds no token');

    const accepted = await startEdge(t, runtime, { database: sqld.url, env: { SESSIONS_AUTH_TOKEN: auth.token } });
    assert.equal((await request(accepted.url, '/put?message=x')).status, 200);
  });

  test(`${label}: a server that never answers gives 503 within SESSIONS_REMOTE_TIMEOUT`, async (t) => {
    // Accepts connections and reads requests, but never answers.
    const sockets = new Set();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const database = `http://127.0.0.1:${silent.address().port}`;
    const edge = await startEdge(t, runtime, { database, env: { SESSIONS_REMOTE_TIMEOUT: '1s' } });
    const started = Date.now();
    const answer = await request(edge.url, '/put?message=x');
    const elapsed = Date.now() - started;
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.get('retry-after'), '1');
    assert.ok(elapsed >= 900 && elapsed < 3500, `answered after ${elapsed} ms`);
  });

  hostOnly(`${runtime}: a malformed setting stops the start with a message naming it`, async () => {
    const secret = 'do-not-print-this-token';
    const cases = [
      [{ SESSIONS_SWEEP_BATCH: 'many' }, 'SESSIONS_SWEEP_BATCH'],
      [{ SESSIONS_REMOTE_TIMEOUT: 'soon' }, 'SESSIONS_REMOTE_TIMEOUT'],
      [{ EDGE_SESSION_LIFETIME: 'forever' }, 'EDGE_SESSION_LIFETIME'],
      [{ EDGE_SESSION_IDLE_TIMEOUT: 'soon' }, 'EDGE_SESSION_IDLE_TIMEOUT'],
      [{ EDGE_POOL_SIZE: '0' }, 'EDGE_POOL_SIZE'],
      [{ EDGE_POOL_WAIT: 'soon' }, 'EDGE_POOL_WAIT'],
    ];
    for (const [env, variable] of cases) {
      const { code, output } = await runServe(
        runtime,
        ['--listen', '127.0.0.1:0', '--database', 'http://127.0.0.1:9'],
        { ...env, SESSIONS_AUTH_TOKEN: secret },
      );
      assert.notEqual(code, 0, variable);
      assert.ok(output.includes(variable), `${variable} named in:\n${output}`);
      assert.ok(!output.includes(secret), 'no token in the message');
      assert.doesNotMatch(output, /listening on/);
    }
    const file = await runServe(runtime, ['--listen', '127.0.0.1:0', '--database', '/data/sessions.db']);
    assert.notEqual(file.code, 0);
    assert.match(file.output, /SESSIONS_DATABASE names a file, and edge runtimes have no durable filesystem/);
  });

  hostOnly(`${runtime}: 64 concurrent clients for 10 s get no 5xx while sqld is up`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url });
    const until = Date.now() + 10_000;
    const statuses = new Map();
    const count = (status) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const client = async (i) => {
      let token;
      for (let n = 0; Date.now() < until; n += 1) {
        const put = await request(edge.url, `/put?message=c${i}-${n}`, { token });
        count(put.status);
        token = put.token ?? token;
        const get = await request(edge.url, '/get', { token });
        count(get.status);
        if (put.status === 200) assert.equal(get.body, `c${i}-${n}`);
      }
    };
    await Promise.all(Array.from({ length: 64 }, (_, i) => client(i)));
    const summary = JSON.stringify(Object.fromEntries(statuses));
    t.diagnostic(`statuses: ${summary}`);
    assert.deepEqual([...statuses.keys()], [200], `${summary}\n${edge.output().slice(-3000)}`);
  });
}
