// The routes served through the libsqlstore package's Hono middleware under Node
// (@hono/node-server), with the real component (the package's synchronous transpilation)
// and a real libSQL server (sqld): the contract every JavaScript host shares
// (../../../packages/libsqlstore-js/test/{owners,methods}.js), finality, 503, cookie options
// and the cron helper.

import assert from 'node:assert/strict';
import test from 'node:test';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { sessionMiddleware, sessionRoutes, sweeper } from 'libsqlstore/hono';
import { createStorePool } from 'libsqlstore/node';
import { request } from '../../../packages/libsqlstore-js/test/hosts.js';
import { methodScenarios } from '../../../packages/libsqlstore-js/test/methods.js';
import { ownerScenarios } from '../../../packages/libsqlstore-js/test/owners.js';
import { idOf, startSqld } from '../../../packages/libsqlstore-js/test/sqld.js';

/** Serves `app` on a free loopback port for test `t`; resolves its base URL. */
async function listen(t, app) {
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${server.address().port}`;
}

async function demo(t, env = {}, options = {}) {
  const sqld = await startSqld(t);
  const pool = createStorePool({ SESSIONS_DATABASE: sqld.url, ...env });
  const app = new Hono();
  app.route('/', sessionRoutes({ pool, log: () => {}, ...options }));
  return { sqld, pool, url: await listen(t, app) };
}

test('hono on node: put, get, renew, destroy keep one session in sqld', async (t) => {
  const { sqld, url } = await demo(t);
  const put = await request(url, '/put?message=hello');
  assert.equal(put.status, 200);
  assert.match(put.setCookie, /^session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=(86399|86400); HttpOnly; SameSite=Lax$/);
  assert.deepEqual((await sqld.record(put.token)).data.values, { message: 'hello' });
  assert.deepEqual(await request(url, '/get', { token: put.token }).then((r) => [r.status, r.body, r.setCookie]), [200, 'hello', undefined]);
  const renewed = await request(url, '/renew', { token: put.token, method: 'POST' });
  assert.equal(renewed.status, 200);
  assert.deepEqual(await sqld.ids(), [idOf(renewed.token)]);
  const destroyed = await request(url, '/destroy', { token: renewed.token, method: 'POST' });
  assert.equal(destroyed.setCookie, 'session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
  assert.deepEqual(await sqld.ids(), []);
  assert.equal((await request(url, '/nowhere')).status, 404);
});

test('hono on node: owners and methods as every host answers them', async (t) => {
  const { url } = await demo(t);
  await ownerScenarios(url);
  await methodScenarios(url);
});

test('hono on node: saves racing a /destroy never bring the session back (409, cookie cleared)', async (t) => {
  const { sqld, url } = await demo(t);
  let conflicts = 0;
  for (let round = 0; round < 4; round += 1) {
    const { token } = await request(url, '/put?message=start');
    const answers = await Promise.all([
      ...Array.from({ length: 16 }, (_, i) => request(url, `/put?message=s${i}`, { token })),
      request(url, '/destroy', { token, method: 'POST' }),
    ]);
    for (const a of answers) {
      assert.ok(a.status === 200 || a.status === 409, `${a.status} ${a.body}`);
      if (a.status === 409) {
        conflicts += 1;
        assert.equal(a.setCookie, 'session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
      }
    }
    assert.equal(await sqld.record(token), undefined);
  }
  t.diagnostic(`${conflicts} saves answered 409`);
});

test('hono on node: sqld down gives 503 with Retry-After; it recovers', async (t) => {
  const { sqld, url } = await demo(t, { SESSIONS_REMOTE_TIMEOUT: '2s' });
  const put = await request(url, '/put?message=kept');
  await sqld.stop('SIGKILL');
  const down = await request(url, '/get', { token: put.token });
  assert.deepEqual([down.status, down.headers.get('retry-after'), down.setCookie], [503, '1', undefined]);
  await sqld.start();
  assert.equal((await request(url, '/get', { token: put.token })).body, 'kept');
});

test('hono on node: cookie options and an application route using c.get(session)', async (t) => {
  const sqld = await startSqld(t);
  const pool = createStorePool({ SESSIONS_DATABASE: sqld.url });
  const app = new Hono();
  const cookie = { name: 'sid', path: '/app', domain: 'example.test', sameSite: 'Strict', secure: true };
  app.use(sessionMiddleware({ pool, lifetime: '1h', cookie }));
  app.post('/app/count', (c) => {
    const session = c.get('session');
    session.put('n', (session.get('n') ?? 0) + 1);
    return c.json({ n: session.get('n') });
  });
  app.post('/app/logout', (c) => {
    c.get('session').destroy();
    return c.text('bye');
  });
  const url = await listen(t, app);
  const first = await request(url, '/app/count', { method: 'POST' });
  assert.equal(first.body, '{"n":1}');
  assert.match(first.setCookie, /^sid=([A-Za-z0-9_-]{43}); Path=\/app; Domain=example.test; Max-Age=(3599|3600); HttpOnly; SameSite=Strict; Secure$/);
  const token = first.setCookie.match(/^sid=([^;]*)/)[1];
  const second = await request(url, '/app/count', { method: 'POST', cookie: `sid=${token}` });
  assert.equal(second.body, '{"n":2}');
  const out = await request(url, '/app/logout', { method: 'POST', cookie: `sid=${token}` });
  assert.equal(out.setCookie, 'sid=; Path=/app; Domain=example.test; Max-Age=0; HttpOnly; SameSite=Strict; Secure');
  assert.deepEqual(await sqld.ids(), []);
  assert.throws(() => sessionMiddleware({ pool, cookie: { sameSite: 'None', secure: false } }), /needs secure/);
});

test('hono on node: the cron helper sweeps until no expired session remains', async (t) => {
  const { sqld, pool, url } = await demo(t, { SESSIONS_SWEEP_BATCH: '2' });
  const tokens = [];
  for (let i = 0; i < 5; i += 1) tokens.push((await request(url, `/put?message=s${i}`)).token);
  await sqld.expire(tokens.slice(0, 4));
  const logged = [];
  const sweep = sweeper(pool, { log: (m) => logged.push(m) });
  const { removed, batches } = await sweep();
  assert.equal(removed, 4);
  assert.ok(batches >= 2, `${batches} batches of at most 2`);
  assert.deepEqual(await sqld.ids(), [idOf(tokens[4])]);
  assert.equal(await sqld.count(), 1, 'the expired rows are gone');
  assert.deepEqual(logged, [`swept 4 expired sessions in ${batches} batches`]);
});
