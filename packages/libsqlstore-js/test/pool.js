// The store pool of an edge runtime (workerd, Deno: JSPI), seen from outside: a real sqld
// behind a loopback proxy that counts the requests carrying the schema statements (each
// instance sends them with its first call, so they count the instances that served) and
// can hold every request for a while (a slow server, keeping instances busy).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { request, startEdge } from './hosts.js';
import { idOf, startSqld } from './sqld.js';

/** session-core's fixed answer to an unavailable store. */
const GENERIC_503 = 'session store unavailable; try again shortly\n';

/**
 * A proxy in front of `sqld` on a free loopback port: `url`, `schemaRounds()` (requests that
 * carried the schema statements so far), and `delayMs`, how long each request is held
 * before it is forwarded (settable at any time).
 */
async function countingProxy(t, sqld) {
  let schemaRounds = 0;
  const proxy = {
    delayMs: 0,
    schemaRounds: () => schemaRounds,
  };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    if (body.includes('CREATE TABLE IF NOT EXISTS')) schemaRounds += 1;
    if (proxy.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, proxy.delayMs));
    const headers = { 'content-type': 'application/json' };
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    const answer = await fetch(`${sqld.url}${req.url}`, { method: 'POST', body, headers });
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.closeAllConnections() || server.close(resolve)));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  return proxy;
}

/** Defines the pool's tests for `runtime` (`workers` or `deno`). */
export function poolSuite(runtime) {
  test(`${runtime}: a burst of 40 requests is served by no more instances than EDGE_POOL_SIZE`, async (t) => {
    const sqld = await startSqld(t);
    const proxy = await countingProxy(t, sqld);
    const edge = await startEdge(t, runtime, { database: proxy.url, env: { EDGE_POOL_SIZE: '3', EDGE_POOL_WAIT: '60s' } });
    // Each request holds its instance for a round trip of at least 50 ms: all 40 overlap.
    proxy.delayMs = 50;
    const puts = await Promise.all(Array.from({ length: 40 }, (_, i) => request(edge.url, `/put?message=burst-${i}`)));
    assert.deepEqual(
      puts.map((put) => put.status),
      puts.map(() => 200),
      edge.output().slice(-3000),
    );
    assert.deepEqual(await sqld.ids(), puts.map((put) => idOf(put.token)).sort());
    assert.ok(proxy.schemaRounds() <= 3, `${proxy.schemaRounds()} instances sent the schema statements; the pool holds 3`);
  });

  test(`${runtime}: a request waiting for the only instance is served once it comes back`, async (t) => {
    const sqld = await startSqld(t);
    const proxy = await countingProxy(t, sqld);
    const edge = await startEdge(t, runtime, { database: proxy.url, env: { EDGE_POOL_SIZE: '1', EDGE_POOL_WAIT: '60s' } });
    const { token } = await request(edge.url, '/put?message=first');
    // The instance is held 300 ms by each request; the second waits for the first's.
    proxy.delayMs = 300;
    const [put, get] = await Promise.all([
      request(edge.url, '/put?message=second', { token }),
      request(edge.url, '/get', { token }),
    ]);
    assert.deepEqual([put.status, get.status], [200, 200]);
    assert.ok(['first', 'second'].includes(get.body), get.body);
    assert.equal((await request(edge.url, '/get', { token })).body, 'second');
    assert.equal(proxy.schemaRounds(), 1, 'one instance served every request');
  });

  test(`${runtime}: a request that waits longer than EDGE_POOL_WAIT gets 503 with Retry-After, not a hang`, async (t) => {
    const sqld = await startSqld(t);
    const proxy = await countingProxy(t, sqld);
    const edge = await startEdge(t, runtime, { database: proxy.url, env: { EDGE_POOL_SIZE: '1', EDGE_POOL_WAIT: '200ms' } });
    const { token } = await request(edge.url, '/put?message=kept');
    // The only instance is busy 3 s with one request; the other gives up after 200 ms.
    proxy.delayMs = 3000;
    const slow = request(edge.url, '/get', { token });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const refused = await request(edge.url, '/get', { token });
    const waited = Date.now() - started;
    assert.deepEqual([refused.status, refused.body, refused.headers.get('retry-after')], [503, GENERIC_503, '1']);
    assert.ok(waited < 2500, `the refusal took ${waited} ms: it must not wait for the busy instance`);
    assert.match(edge.output(), /all 1 store instances stayed busy for 200 ms/);
    assert.deepEqual([(await slow).status, (await slow).body], [200, 'kept']);
    proxy.delayMs = 0;
    assert.equal((await request(edge.url, '/get', { token })).body, 'kept', 'the pool serves again');
  });

  test(`${runtime}: clients that go away while waiting or while served cost the pool no instance`, async (t) => {
    const sqld = await startSqld(t);
    const proxy = await countingProxy(t, sqld);
    const edge = await startEdge(t, runtime, { database: proxy.url, env: { EDGE_POOL_SIZE: '1', EDGE_POOL_WAIT: '20s' } });
    const { token } = await request(edge.url, '/put?message=kept');
    const leave = (afterMs) =>
      fetch(`${edge.url}/get`, { headers: { cookie: `session=${token}` }, signal: AbortSignal.timeout(afterMs) }).then(
        () => assert.fail('the client was to leave before the answer'),
        (e) => assert.equal(e.name, 'TimeoutError'),
      );
    proxy.delayMs = 1000;
    // One request holds the only instance for a second; another waits for it and leaves.
    const holder = request(edge.url, '/get', { token });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await leave(200);
    assert.equal((await holder).body, 'kept');
    // A request served by the instance leaves in the middle of its call.
    await leave(300);
    proxy.delayMs = 0;
    // Had either taken the instance with it, these would wait out EDGE_POOL_WAIT and get 503.
    for (let i = 0; i < 3; i += 1) {
      const get = await request(edge.url, '/get', { token });
      assert.deepEqual([get.status, get.body], [200, 'kept']);
    }
  });

  test(`${runtime}: an instance held ten times the pool's wait by one request is replaced, and the pool serves on`, async (t) => {
    const sqld = await startSqld(t);
    const proxy = await countingProxy(t, sqld);
    const edge = await startEdge(t, runtime, { database: proxy.url, env: { EDGE_POOL_SIZE: '1', EDGE_POOL_WAIT: '200ms' } });
    const { token } = await request(edge.url, '/put?message=kept');
    // One request holds the only instance 4 s (its call within the store's 5 s timeout),
    // past the 2 s a lease may last.
    proxy.delayMs = 4000;
    const slow = request(edge.url, '/get', { token });
    await new Promise((resolve) => setTimeout(resolve, 100));
    proxy.delayMs = 0;
    await new Promise((resolve) => setTimeout(resolve, 2200));
    // This one finds the lease stuck: a new instance serves it; it waits at most the pool's wait.
    const started = Date.now();
    const get = await request(edge.url, '/get', { token });
    assert.deepEqual([get.status, get.body], [200, 'kept'], edge.output().slice(-2000));
    assert.match(edge.output(), /a store instance was held for over 2000 ms by one request; replaced/);
    assert.ok(Date.now() - started < 2000, 'served by the new instance, not after the old one');
    assert.deepEqual([(await slow).status, (await slow).body], [200, 'kept'], 'the slow request still answered');
    assert.equal(proxy.schemaRounds(), 2, 'one instance made in place of the stuck one');
    assert.equal((await request(edge.url, '/get', { token })).body, 'kept');
  });

  test(`${runtime}: a request whose client leaves during its save still stores it, on the same instance`, async (t) => {
    const sqld = await startSqld(t);
    const proxy = await countingProxy(t, sqld);
    const edge = await startEdge(t, runtime, { database: proxy.url, env: { EDGE_POOL_SIZE: '1', EDGE_POOL_WAIT: '20s' } });
    const { token } = await request(edge.url, '/put?message=first');
    // The load takes 400 ms, then the save another 400: the client leaves during the save.
    proxy.delayMs = 400;
    await fetch(`${edge.url}/put?message=left`, { headers: { cookie: `session=${token}` }, signal: AbortSignal.timeout(600) }).then(
      () => assert.fail('the client was to leave before the answer'),
      (e) => assert.equal(e.name, 'TimeoutError'),
    );
    proxy.delayMs = 0;
    assert.equal((await request(edge.url, '/get', { token })).body, 'left');
    assert.equal(proxy.schemaRounds(), 1, 'the instance was cut halfway and replaced');
  });

  test(`${runtime}: 64 clients saving 16 sessions without pause keep every instance serving`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url, env: { EDGE_POOL_WAIT: '5s' } });
    const tokens = [];
    for (let i = 0; i < 16; i += 1) tokens.push((await request(edge.url, '/put?message=first')).token);
    // Each client sends its next save as soon as the last is answered, as a load generator
    // does; four clients share each session, so saves of one session often overlap.
    const statuses = await Promise.all(
      Array.from({ length: 64 }, async (_, client) => {
        const token = tokens[client % 16];
        const seen = [];
        for (let n = 0; n < 15; n += 1) seen.push((await request(edge.url, `/put?message=${client}-${n}`, { token })).status);
        return seen;
      }),
    );
    assert.deepEqual(statuses.flat(), Array(64 * 15).fill(200), edge.output().slice(-2000));
    for (const token of tokens) assert.equal((await request(edge.url, '/put?message=last', { token })).status, 200);
  });

  test(`${runtime}: 64 clients reading for 20,000 requests with instances passed between them keep every instance serving`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url });
    const tokens = [];
    for (let i = 0; i < 64; i += 1) tokens.push((await request(edge.url, '/put?message=kept')).token);
    // 64 clients on the default 8 instances: nearly every request waits, and is handed its
    // instance by the request before it.
    const statuses = new Map();
    await Promise.all(
      tokens.map(async (token) => {
        for (let n = 0; n < 20_000 / 64; n += 1) {
          const { status } = await request(edge.url, '/get', { token });
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    assert.deepEqual([...statuses], [[200, 64 * Math.ceil(20_000 / 64)]], edge.output().slice(-2000));
    assert.doesNotMatch(edge.output(), /hung|held for over/);
  });

  test(`${runtime}: waves of overlapping saves on a few sessions leave every session writable`, async (t) => {
    const sqld = await startSqld(t);
    const edge = await startEdge(t, runtime, { database: sqld.url, env: { EDGE_POOL_WAIT: '5s' } });
    const tokens = [];
    for (let i = 0; i < 4; i += 1) tokens.push((await request(edge.url, '/put?message=first')).token);
    // 64 requests at once, 16 on each session: most saves wait for another request's save.
    for (let wave = 0; wave < 12; wave += 1) {
      const puts = await Promise.all(
        Array.from({ length: 64 }, (_, i) => request(edge.url, `/put?message=w${wave}-${i}`, { token: tokens[i % 4] })),
      );
      assert.deepEqual(
        puts.map((put) => put.status),
        puts.map(() => 200),
        edge.output().slice(-2000),
      );
    }
    for (const token of tokens) {
      assert.equal((await request(edge.url, '/put?message=last', { token })).status, 200);
      assert.equal((await request(edge.url, '/get', { token })).body, 'last');
    }
  });
}
