// The methods each route answers (session-core's `Route`, sessions.js's ROUTE_METHODS) as
// every JavaScript host must answer them, over real HTTP: each scenario takes a running
// host's base URL. The Node host's tests run them in-process; the edge runtimes' shared
// suite runs them under workerd and Deno.

import assert from 'node:assert/strict';
import { request } from './hosts.js';
import { devices, login } from './owners.js';
import { idOf } from './sqld.js';

const USE_POST = 'method not allowed; use POST\n';
const USE_GET_OR_HEAD = 'method not allowed; use GET or HEAD\n';

/** The routes that set a value in, end, rotate or log in a session: POST only. */
const STATE_CHANGING = ['/set?key=k&value=v', '/renew', '/destroy', '/login?user=mallory', '/logout-everywhere'];

/** `method path` for the jar `token` is refused: 405, `allow`, `body` (none for HEAD), no cookie. */
async function assertRefused(url, path, method, token, allow, body) {
  const res = await request(url, path, { token, method });
  const what = `${method} ${path}`;
  assert.deepEqual([res.status, res.headers.get('allow'), res.setCookie], [405, allow, undefined], `${what}: ${res.body}`);
  assert.equal(res.body, method === 'HEAD' ? '' : body, what);
}

/**
 * A GET of a state-changing route (what a link on another site sends, with the SameSite=Lax
 * cookie) is 405 with Allow: POST and changes nothing: the session keeps its token and
 * message, stays logged in as its user, and the user's other sessions stay logged in.
 */
export async function aGetOfAStateChangingRouteChangesNothing(url) {
  const token = await login(url, 'judy', (await request(url, '/put?message=still%20here')).token);
  const phone = await login(url, 'judy');
  const before = (await devices(url, token)).map((s) => s.id).sort();
  assert.deepEqual(before, [idOf(token), idOf(phone)].sort());
  for (const path of STATE_CHANGING) {
    await assertRefused(url, path, 'GET', token, 'POST', USE_POST);
    const get = await request(url, '/get', { token });
    assert.deepEqual([get.status, get.body], [200, 'still here'], `after GET ${path}`);
  }
  for (const jar of [token, phone]) {
    assert.deepEqual((await devices(url, jar)).map((s) => s.id).sort(), before, 'still logged in as judy, both jars');
  }
  // Without a cookie, a GET /login creates no session and hands out no cookie.
  await assertRefused(url, '/login?user=mallory', 'GET', undefined, 'POST', USE_POST);
}

/** HEAD, PUT, DELETE, PATCH and OPTIONS of /destroy are 405 too; the session lives on. */
export async function otherMethodsOfDestroyChangeNothing(url) {
  const { token } = await request(url, '/put?message=kept');
  for (const method of ['HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    await assertRefused(url, '/destroy', method, token, 'POST', USE_POST);
  }
  assert.equal((await request(url, '/get', { token })).body, 'kept');
}

/**
 * Reads answer GET and HEAD: POST (or PUT) is 405 with Allow: GET, HEAD. /put answers GET
 * and POST, not HEAD. An unknown path is 404 whatever the method.
 */
export async function readsAnswerGetAndHeadAndPutTakesPost(url) {
  const posted = await request(url, '/put?message=posted', { method: 'POST' });
  assert.deepEqual([posted.status, posted.body], [200, 'stored\n']);
  const token = await login(url, 'kim', posted.token);
  for (const path of ['/get', '/devices']) {
    for (const method of ['POST', 'PUT']) await assertRefused(url, path, method, token, 'GET, HEAD', USE_GET_OR_HEAD);
    const head = await request(url, path, { token, method: 'HEAD' });
    assert.deepEqual([head.status, head.body], [200, ''], `HEAD ${path}`);
  }
  await assertRefused(url, '/put?message=head', 'HEAD', token, 'GET, POST', 'method not allowed; use GET or POST\n');
  assert.equal((await request(url, '/get', { token })).body, 'posted');
  for (const method of ['GET', 'POST', 'DELETE']) {
    const res = await request(url, '/nowhere', { method });
    assert.deepEqual([res.status, res.headers.get('allow')], [404, null], method);
  }
}

/** Every scenario above, in turn, against one host. */
export async function methodScenarios(url) {
  await aGetOfAStateChangingRouteChangesNothing(url);
  await otherMethodsOfDestroyChangeNothing(url);
  await readsAnswerGetAndHeadAndPutTakesPost(url);
}
