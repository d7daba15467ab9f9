// The Node host with JSPI (libsqlstore/node's 'jspi' mode) against a real sqld behind a
// loopback relay that can hold one request to the server: while that store call waits, the
// other requests of a burst are served by the pool's other instances, and no more instances
// are made than the pool holds. Without JSPI (Node 20) a waiting call blocks the thread, so
// these tests are skipped there.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest } from 'node:http';
import test from 'node:test';
import { hasJspi, storeMode } from 'libsqlstore/node';
import { get, startServer } from './helpers.js';
import { startSqld } from '../../../packages/libsqlstore-js/test/sqld.js';

const skip = !hasJspi && 'this Node has no JSPI: calls are synchronous';

/**
 * A loopback HTTP relay to `target` (a URL) for test `t`. `holdNext()` makes it keep the next
 * request it gets, and resolves once it has one; `release()` sends that one on.
 */
async function startRelay(t, target) {
  let holding = false;
  let held;
  let onHeld;
  const forward = (req, body, res) => {
    const out = httpRequest(new URL(req.url, target), { method: req.method, headers: req.headers }, (reply) => {
      res.writeHead(reply.statusCode, reply.headers);
      reply.pipe(res);
    });
    out.on('error', () => res.destroy());
    out.end(body);
  };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    if (holding) {
      holding = false;
      held = () => forward(req, body, res);
      onHeld();
    } else {
      forward(req, body, res);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    holdNext() {
      holding = true;
      return new Promise((resolve) => (onHeld = resolve));
    },
    release: () => held(),
  };
}

test('node with JSPI: a libSQL server database runs in jspi mode, a file in sync mode', { skip }, () => {
  assert.equal(storeMode('http://127.0.0.1:1'), 'jspi');
  assert.equal(storeMode(':memory:'), 'jspi');
  assert.equal(storeMode('/data/sessions.db'), 'sync');
});

test('node with JSPI: while one request waits on the server, a burst of 24 is served by the other instances, and no more than 4 are made', { skip }, async (t) => {
  const sqld = await startSqld(t);
  const relay = await startRelay(t, sqld.url);
  const { url, pool } = await startServer(t, { env: { SESSIONS_DATABASE: relay.url, EDGE_POOL_SIZE: '4' } });
  assert.equal(pool.size, 4);
  const tokens = [];
  for (let i = 0; i < 24; i += 1) tokens.push((await get(url, `/put?message=m${i}`)).token);

  const held = relay.holdNext();
  let waiting = true;
  const slow = get(url, '/get', { token: tokens[0] }).finally(() => (waiting = false));
  await held;
  const burst = await Promise.all(tokens.map((token) => get(url, '/get', { token })));
  assert.deepEqual(
    burst.map((r) => [r.status, r.body]),
    tokens.map((_, i) => [200, `m${i}`]),
  );
  assert.ok(waiting, 'the held request is still waiting on the server');

  relay.release();
  const answer = await slow;
  assert.deepEqual([answer.status, answer.body], [200, 'm0']);
  assert.equal(pool.instancesMade, 4);
});
