// The methods each route answers, served by the Node host over real HTTP on loopback with
// the real component: state-changing routes answer POST only, reads GET and HEAD, anything
// else is 405 before the session is loaded. The scenarios are every JavaScript host's
// (../../../packages/libsqlstore-js/test/methods.js).

import test from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import {
  aGetOfAStateChangingRouteChangesNothing,
  otherMethodsOfDestroyChangeNothing,
  readsAnswerGetAndHeadAndPutTakesPost,
} from '../../../packages/libsqlstore-js/test/methods.js';
import { get, startServer } from './helpers.js';

test('a GET of renew, destroy, login or logout-everywhere is 405 Allow: POST and changes nothing', async (t) => {
  const { url } = await startServer(t);
  await aGetOfAStateChangingRouteChangesNothing(url);
});

test('HEAD, PUT, DELETE, PATCH and OPTIONS of destroy are 405 and the session lives on', async (t) => {
  const { url } = await startServer(t);
  await otherMethodsOfDestroyChangeNothing(url);
});

test('reads answer GET and HEAD, a POST of them is 405; put takes POST; unknown paths stay 404', async (t) => {
  const { url } = await startServer(t);
  await readsAnswerGetAndHeadAndPutTakesPost(url);
});

test('a refused method stores nothing: no session is created, rotated or deleted', async (t) => {
  const { url, store } = await startServer(t);
  const { token } = await get(url, '/put?message=one');
  for (const path of ['/renew', '/destroy', '/login?user=mallory', '/logout-everywhere']) {
    assert.equal((await get(url, path)).status, 405, path);
    assert.equal((await get(url, path, { token })).status, 405, path);
  }
  assert.deepEqual(await store.stats(), { active: 1, expired: 0 });
  assert.equal((await get(url, '/get', { token })).body, 'one');
});

test('TRACE, which a Web Request cannot carry, is 405 too', async (t) => {
  const { url } = await startServer(t);
  const answer = await new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/logout-everywhere`, { method: 'TRACE' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, allow: res.headers.allow, body }));
    });
    req.on('error', reject);
    req.end();
  });
  assert.deepEqual(answer, { status: 405, allow: 'POST', body: 'method not allowed; use POST\n' });
});
