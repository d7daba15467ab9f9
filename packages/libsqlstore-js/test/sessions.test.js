// The shared session module against session-core's contract (the Rust crate's own tests,
// case for case, where the JavaScript hosts must agree with it): the stored record, the
// cookie, deadlines, log redaction, the fixed answers to failures, and what the routes of a
// logged-in user ask of the store, in which order. No component: the store is a stand-in
// (the hosts' tests run the real one).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_AGE_CAP_S,
  MAX_TIMESTAMP,
  ROUTE_METHODS,
  SessionManager,
  SettingsError,
  cookieValue,
  createApp,
  decodeRecord,
  encodeRecord,
  maxAgeSeconds,
  offset,
  readPoolSettings,
  redact,
  refuseRequest,
} from '../sessions.js';
import { StoreError } from '../store.js';

const NOW = 1_767_225_600_000;
const bytes = (text) => new TextEncoder().encode(text);
const decode = (data) => new TextDecoder().decode(data);

test('the record is compact JSON, deadline first', () => {
  assert.equal(decode(encodeRecord(NOW, { message: 'hi "you"' })), '{"deadline":1767225600000,"values":{"message":"hi \\"you\\""}}');
  assert.equal(decode(encodeRecord(0, {})), '{"deadline":0,"values":{}}');
});

test('records written by other hosts are read and unknown fields ignored', () => {
  const record = decodeRecord(bytes('{ "values": {"message": "from rust", "n": [1, 2]}, "deadline": 7, "v": 2 }'));
  assert.deepEqual(record, { deadline: 7, values: { message: 'from rust', n: [1, 2] } });
});

test('data that is not a record, or not UTF-8, is no session', () => {
  const cases = [
    bytes(''),
    bytes('not json'),
    bytes('{}'),
    bytes('[1,2]'),
    bytes('{"deadline":-1,"values":{}}'),
    bytes('{"deadline":1.5,"values":{}}'),
    bytes('{"deadline":1,"values":[]}'),
    bytes('{"deadline":"1","values":{}}'),
    new Uint8Array([0xff, 0xfe]),
    new Uint8Array([...bytes('{"deadline":1,"values":{"m":"'), 0xff, ...bytes('"}}')]),
  ];
  for (const data of cases) assert.equal(decodeRecord(data), undefined, decode(data));
});

test('Max-Age is the time left rounded up to whole seconds, 0 once expired', () => {
  assert.equal(maxAgeSeconds(NOW + 86_400_000, NOW), 86_400);
  assert.equal(maxAgeSeconds(NOW + 86_399_001, NOW), 86_400);
  assert.equal(maxAgeSeconds(NOW + 1, NOW), 1);
  assert.equal(maxAgeSeconds(NOW, NOW), 0);
  assert.equal(maxAgeSeconds(NOW - 5000, NOW), 0);
});

test('Max-Age is capped at 400 days', () => {
  assert.equal(maxAgeSeconds(MAX_TIMESTAMP, NOW), MAX_AGE_CAP_S);
  assert.equal(maxAgeSeconds(NOW + MAX_AGE_CAP_S * 1000 + 1, NOW), MAX_AGE_CAP_S);
  assert.equal(maxAgeSeconds(NOW + (MAX_AGE_CAP_S - 1) * 1000, NOW), MAX_AGE_CAP_S - 1);
});

test('a huge lifetime saturates at the largest timestamp and never wraps into the past', () => {
  assert.equal(offset(NOW, 3_600_000), NOW + 3_600_000);
  assert.equal(offset(NOW, Number.MAX_VALUE), MAX_TIMESTAMP);
  assert.equal(offset(MAX_TIMESTAMP + 5, 1000), MAX_TIMESTAMP + 5);
});

test('a set cookie carries every flag, and Secure when asked', () => {
  const now = () => NOW;
  const plain = new SessionManager(undefined, { now });
  assert.equal(
    plain.setCookie({ kind: 'live', token: 'tok', expiry: NOW + 86_400_000 }),
    'session=tok; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax',
  );
  assert.equal(plain.setCookie({ kind: 'live', token: 't', expiry: NOW + 2500 }), 'session=t; Path=/; Max-Age=3; HttpOnly; SameSite=Lax');
  assert.equal(plain.setCookie({ kind: 'unchanged' }), undefined);
  assert.equal(plain.setCookie({ kind: 'ended' }), 'session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
  assert.equal(plain.setCookie({ kind: 'ended-meanwhile' }), plain.clearCookie());
  const secure = new SessionManager(undefined, { now, secure: true });
  assert.equal(secure.setCookie({ kind: 'live', token: 'tok', expiry: NOW + 1000 }), 'session=tok; Path=/; Max-Age=1; HttpOnly; SameSite=Lax; Secure');
  assert.equal(secure.clearCookie(), 'session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure');
});

test('the token is found among other cookies; other cookies and garbage have none', () => {
  assert.equal(cookieValue('a=1; session=tok; b=2', 'session'), 'tok');
  assert.equal(cookieValue(' session = tok ;x=y', 'session'), 'tok');
  assert.equal(cookieValue('session=first; session=second', 'session'), 'first');
  assert.equal(cookieValue('session=a=b', 'session'), 'a=b');
  for (const header of ['', 'garbage', 'sessionx=1', 'xsession=1', 'session', ';;;']) {
    assert.equal(cookieValue(header, 'session'), undefined, header);
  }
});

test('logs have URL passwords and the auth token replaced', () => {
  assert.equal(
    redact('SESSIONS_DATABASE="http://user:s3cret@127.0.0.1:1": give only scheme, host and port'),
    'SESSIONS_DATABASE="http://***@127.0.0.1:1": give only scheme, host and port',
  );
  assert.equal(redact('a libsql://u:p@x.turso.io/path and https://k@h?q=1 end'), 'a libsql://***@x.turso.io/path and https://***@h?q=1 end');
  assert.equal(redact('http://a:b@c@d'), 'http://***@d');
  assert.equal(redact('token tk-123 refused', 'tk-123'), 'token *** refused');
  assert.equal(redact('cannot reach the libSQL server at http://127.0.0.1:8080'), 'cannot reach the libSQL server at http://127.0.0.1:8080');
});

/** The app over a stand-in store whose every call throws `error`; returns it and its log. */
function failingApp(error) {
  const logs = [];
  const fail = async () => {
    throw error;
  };
  const store = { find: fail, create: fail, update: fail, delete: fail, sweep: fail };
  const app = createApp({
    pool: { use: (fn) => fn(store) },
    settings: { storeEnv: { SESSIONS_AUTH_TOKEN: 'tk-123' }, lifetimeMs: 1000 },
    log: (m) => logs.push(m),
  });
  return { app, logs };
}

test("failures are answered with session-core's fixed texts, the details only in the log", async () => {
  const cases = [
    [new StoreError('unavailable', 'cannot reach http://u:pw@db tk-123'), 503, 'session store unavailable; try again shortly\n'],
    [new StoreError('internal', 'disk I/O error'), 500, 'internal error in the session store; the server log has the details\n'],
    [new Error('bug'), 500, 'internal error in the session store; the server log has the details\n'],
    [new StoreError('too-large', 256), 413, "session data is larger than the store's limit of 256 bytes; nothing was stored\n"],
  ];
  for (const [error, status, body] of cases) {
    const { app, logs } = failingApp(error);
    const res = await app.fetch(new Request('http://localhost/put?message=x'));
    assert.deepEqual([res.status, await res.text()], [status, body], error.message);
    assert.equal(res.headers.get('retry-after'), status === 503 ? '1' : null);
    assert.ok(logs.every((line) => !line.includes('pw@') && !line.includes('tk-123')), logs.join('\n'));
  }
});

test('a fresh session with 1.5 s to live gets Max-Age=2 (rounded up)', async () => {
  const store = { create: async () => 'tok' };
  const app = createApp({ pool: { use: (fn) => fn(store) }, settings: { storeEnv: {}, lifetimeMs: 1500 }, now: () => NOW });
  const res = await app.fetch(new Request('http://localhost/put'));
  assert.equal(res.headers.get('set-cookie'), 'session=tok; Path=/; Max-Age=2; HttpOnly; SameSite=Lax');
});

const OLD = 'old-token';
const NEW = 'rotated-token';
const CREATED = 'created-token';
const cookieOf = (token, maxAge) => `session=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax`;

/**
 * The app over a stand-in store holding one active session `OLD` (with `values`), which
 * answers each call as `answers` says (default: a store where every call succeeds) and
 * records the calls in order as `[name, ...args]`, data decoded to its record.
 */
function recordingApp({ values = { message: 'kept' }, answers = {} } = {}) {
  const calls = [];
  const deadline = NOW + 3_600_000;
  const defaults = {
    find: async (token) => (token === OLD ? encodeRecord(deadline, values) : undefined),
    rotate: async () => NEW,
    create: async () => CREATED,
    setOwner: async () => true,
    update: async () => true,
    sessionsOf: async () => [],
    revokeOwner: async () => 0,
  };
  const store = {};
  for (const [name, fn] of Object.entries({ ...defaults, ...answers })) {
    store[name] = (...args) => {
      calls.push([name, ...args.map((a) => (a instanceof Uint8Array ? decodeRecord(a) : a))]);
      return fn(...args);
    };
  }
  const logs = [];
  const app = createApp({
    pool: { use: (fn) => fn(store) },
    settings: { storeEnv: {}, lifetimeMs: 60_000 },
    log: (m) => logs.push(m),
    now: () => NOW,
  });
  const fetch = async (path, token, method = 'GET') => {
    const headers = token === undefined ? {} : { cookie: `session=${token}` };
    const res = await app.fetch(new Request(`http://localhost${path}`, { method, headers }));
    return {
      status: res.status,
      body: await res.text(),
      type: res.headers.get('content-type'),
      setCookie: res.headers.get('set-cookie'),
      allow: res.headers.get('allow'),
    };
  };
  return { fetch, calls, deadline, logs };
}

test('login rotates the session, then sets the owner, then saves the user value, all under the new token', async () => {
  const { fetch, calls, deadline } = recordingApp();
  const res = await fetch('/login?user=alice', OLD, 'POST');
  assert.deepEqual([res.status, res.body, res.setCookie], [200, 'logged in\n', cookieOf(NEW, 3600)]);
  assert.deepEqual(calls, [
    ['find', OLD],
    ['rotate', OLD, deadline],
    ['setOwner', NEW, 'alice'],
    ['update', NEW, { deadline, values: { message: 'kept', user: 'alice' } }, deadline],
  ]);
});

test('login without a session creates an anonymous one first, then owns and fills it', async () => {
  const { fetch, calls } = recordingApp();
  const res = await fetch('/login?user=bob', undefined, 'POST');
  assert.deepEqual([res.status, res.setCookie], [200, cookieOf(CREATED, 60)]);
  const fresh = NOW + 60_000;
  assert.deepEqual(calls, [
    ['create', { deadline: fresh, values: {} }, fresh],
    ['setOwner', CREATED, 'bob'],
    ['update', CREATED, { deadline: fresh, values: { user: 'bob' } }, fresh],
  ]);
});

test('login whose session ended before the rotation starts a fresh session, carrying nothing of the old one', async () => {
  const { fetch, calls } = recordingApp({ answers: { rotate: async () => undefined } });
  const res = await fetch('/login?user=alice', OLD, 'POST');
  assert.deepEqual([res.status, res.setCookie], [200, cookieOf(CREATED, 60)]);
  const fresh = NOW + 60_000;
  assert.deepEqual(calls.slice(2), [
    ['create', { deadline: fresh, values: {} }, fresh],
    ['setOwner', CREATED, 'alice'],
    ['update', CREATED, { deadline: fresh, values: { user: 'alice' } }, fresh],
  ]);
});

test('a name the store refuses gets 400 without the name, and the cookie names the rotated, anonymous token', async () => {
  const refuse = async () => {
    throw new StoreError('invalid-input', 'owner holds a control character');
  };
  const { fetch, calls } = recordingApp({ answers: { setOwner: refuse } });
  const res = await fetch('/login?user=evil%0Aname', OLD, 'POST');
  assert.deepEqual(
    [res.status, res.body, res.setCookie],
    [400, 'invalid user name: use 1 to 256 bytes without control characters\n', cookieOf(NEW, 3600)],
  );
  assert.ok(!res.body.includes('evil'));
  assert.deepEqual(calls.map(([name]) => name), ['find', 'rotate', 'setOwner'], 'the user value is never saved');
});

test('login without a user parameter gets 400 before any store call', async () => {
  const { fetch, calls } = recordingApp();
  const res = await fetch('/login', OLD, 'POST');
  assert.deepEqual([res.status, res.body, res.setCookie], [400, 'missing the user parameter: /login?user=NAME\n', null]);
  assert.deepEqual(calls, []);
});

test('a login whose new session ends before it is saved (a logout elsewhere) gets 409 and the cookie cleared', async () => {
  for (const answers of [{ setOwner: async () => false }, { update: async () => false }]) {
    const { fetch } = recordingApp({ answers });
    const res = await fetch('/login?user=alice', OLD, 'POST');
    assert.deepEqual(
      [res.status, res.body, res.setCookie],
      [409, 'the session ended while this request ran; nothing was stored\n', cookieOf('', 0)],
      Object.keys(answers)[0],
    );
  }
});

test('a store failure after the rotation is answered as every failure, and the cookie keeps the new token', async () => {
  const down = async () => {
    throw new StoreError('unavailable', 'cannot reach the libSQL server');
  };
  const { fetch, logs } = recordingApp({ answers: { update: down } });
  const res = await fetch('/login?user=alice', OLD, 'POST');
  assert.deepEqual([res.status, res.body, res.setCookie], [503, 'session store unavailable; try again shortly\n', cookieOf(NEW, 3600)]);
  assert.match(logs.join('\n'), /cannot reach the libSQL server/);

  const before = recordingApp({ answers: { rotate: down } });
  const refused = await before.fetch('/login?user=alice', OLD, 'POST');
  assert.deepEqual([refused.status, refused.setCookie], [503, null], 'no new token existed: the cookie stays');
});

test('devices and logout-everywhere without a logged-in session get 401 and ask the store nothing more', async () => {
  for (const [path, method] of [['/devices', 'GET'], ['/logout-everywhere', 'POST']]) {
    for (const token of [undefined, OLD]) {
      const { fetch, calls } = recordingApp();
      const res = await fetch(path, token, method);
      assert.deepEqual([res.status, res.body, res.setCookie], [401, 'not logged in\n', null], `${path} ${token}`);
      assert.deepEqual(calls.map(([name]) => name), token ? ['find'] : []);
    }
  }
  const { fetch } = recordingApp({ values: { user: 42 } });
  assert.equal((await fetch('/devices', OLD)).status, 401, 'only a string user is a login');
});

test("devices lists the user's sessions as the store orders them: ids and expiries only", async () => {
  const listed = [
    { id: 'a'.repeat(43), owner: 'alice', expiry: NOW + 1000 },
    { id: 'b'.repeat(43), owner: 'alice', expiry: NOW + 5000 },
  ];
  const { fetch, calls } = recordingApp({ values: { user: 'alice' }, answers: { sessionsOf: async () => listed } });
  const res = await fetch('/devices', OLD);
  assert.deepEqual([res.status, res.type, res.setCookie], [200, 'application/json', null]);
  assert.equal(res.body, `{"sessions":[{"id":"${'a'.repeat(43)}","expiry":${NOW + 1000}},{"id":"${'b'.repeat(43)}","expiry":${NOW + 5000}}]}`);
  assert.deepEqual(calls.at(-1), ['sessionsOf', 'alice']);
});

test('logout-everywhere revokes the sessions of the user except this one and says how many', async () => {
  const { fetch, calls } = recordingApp({ values: { user: 'alice' }, answers: { revokeOwner: async () => 2 } });
  const res = await fetch('/logout-everywhere', OLD, 'POST');
  assert.deepEqual([res.status, res.type, res.body, res.setCookie], [200, 'application/json', '{"revoked":2}', null]);
  assert.deepEqual(calls.at(-1), ['revokeOwner', 'alice', OLD]);
});

test('an unknown path is 404 naming every route, whatever the method', async () => {
  const { fetch } = recordingApp();
  const res = await fetch('/nowhere');
  assert.equal(res.status, 404);
  for (const method of ['POST', 'DELETE', 'HEAD']) assert.equal((await fetch('/nowhere', OLD, method)).status, 404, method);
  for (const route of ['/put', '/get', '/renew', '/destroy', '/login?user=NAME', '/devices', '/logout-everywhere']) {
    assert.ok(res.body.includes(route), route);
  }
});

// The methods each route answers, as session-core's `Route` tests them.
const USE_POST = 'method not allowed; use POST\n';
const USE_GET_OR_HEAD = 'method not allowed; use GET or HEAD\n';

test('state-changing routes answer POST only: GET and the rest get 405, Allow: POST, before any store call', async () => {
  for (const path of ['/renew', '/destroy', '/login?user=mallory', '/logout-everywhere']) {
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const { fetch, calls } = recordingApp({ values: { user: 'alice', message: 'kept' } });
      const res = await fetch(path, OLD, method);
      // (A server sends no body with a HEAD answer; this is the app's Response, before one.)
      assert.deepEqual([res.status, res.allow, res.body, res.setCookie], [405, 'POST', USE_POST, null], `${method} ${path}`);
      assert.deepEqual(calls, [], `${method} ${path}: nothing loaded, changed or saved`);
    }
  }
});

test('reads answer GET and HEAD only: POST and the rest get 405, Allow: GET, HEAD, before any store call', async () => {
  for (const path of ['/get', '/devices']) {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const { fetch, calls } = recordingApp({ values: { user: 'alice' } });
      const res = await fetch(path, OLD, method);
      assert.deepEqual([res.status, res.allow, res.body, res.setCookie], [405, 'GET, HEAD', USE_GET_OR_HEAD, null], `${method} ${path}`);
      assert.deepEqual(calls, []);
    }
    const { fetch } = recordingApp({ values: { user: 'alice' } });
    assert.equal((await fetch(path, OLD, 'HEAD')).status, 200, `HEAD ${path}`);
  }
});

test('put answers GET and POST, and nothing else', async () => {
  for (const method of ['GET', 'POST']) {
    const { fetch } = recordingApp();
    const res = await fetch('/put?message=hi', OLD, method);
    assert.deepEqual([res.status, res.body], [200, 'stored\n'], method);
  }
  for (const method of ['HEAD', 'PUT', 'DELETE']) {
    const { fetch, calls } = recordingApp();
    const res = await fetch('/put?message=hi', OLD, method);
    assert.deepEqual([res.status, res.allow], [405, 'GET, POST'], method);
    assert.deepEqual(calls, []);
  }
});

test('the method table names every route, as session-core does', () => {
  assert.deepEqual(ROUTE_METHODS, {
    '/put': ['GET', 'POST'],
    '/get': ['GET', 'HEAD'],
    '/renew': ['POST'],
    '/destroy': ['POST'],
    '/login': ['POST'],
    '/devices': ['GET', 'HEAD'],
    '/logout-everywhere': ['POST'],
  });
  assert.equal(refuseRequest('/renew', 'POST'), undefined);
  assert.equal(refuseRequest('/toString', 'GET').status, 404, 'no inherited property is a route');
});

test('EDGE_POOL_SIZE and EDGE_POOL_WAIT size the pool; unset leaves the defaults; malformed ones name themselves', () => {
  assert.deepEqual(readPoolSettings({}), {});
  assert.deepEqual(readPoolSettings({ EDGE_POOL_SIZE: '12', EDGE_POOL_WAIT: '1s 500ms' }), { size: 12, waitMs: 1500 });
  for (const [name, value] of [
    ['EDGE_POOL_SIZE', '0'],
    ['EDGE_POOL_SIZE', '1025'],
    ['EDGE_POOL_SIZE', '2.5'],
    ['EDGE_POOL_SIZE', 'many'],
    ['EDGE_POOL_WAIT', 'soon'],
    ['EDGE_POOL_WAIT', '11m'],
  ]) {
    assert.throws(() => readPoolSettings({ [name]: value }), (e) => e instanceof SettingsError && e.variable === name, `${name}=${value}`);
  }
});
