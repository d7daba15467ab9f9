// The shared session module against session-core's contract (the Rust crate's own tests,
// case for case, where the JavaScript hosts must agree with it): the stored record, the
// cookie, deadlines, log redaction, the fixed answers to failures, the save's state machine
// (conditional updates, their retries and their limit), /set's keys, device labels (the
// shared cases in session-core/tests/device-labels.json), and what the routes ask of the
// store, in which order. No component: the store is a stand-in
// (the hosts' tests run the real one).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import {
  MAX_AGE_CAP_S,
  MAX_KEY_BYTES,
  MAX_TIMESTAMP,
  ROUTE_METHODS,
  SAVE_ATTEMPTS,
  Save,
  Session,
  SessionManager,
  SettingsError,
  checkKey,
  cookieValue,
  createApp,
  decodeRecord,
  deviceLabel,
  devicesJson,
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
const encoder = new TextEncoder();

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
const CONFLICT = 'the session kept changing under concurrent requests; nothing was stored; try again\n';

/**
 * A stand-in store in memory, versioned as the component's: `sessions` maps a token to `{
 * data, version }`; `find` answers `{ data, version }`, `update` applies only at the stored
 * version and answers the next one, `rotate` moves a session to NEW, `create` stores under
 * CREATED.
 */
function memoryStore(sessions) {
  return {
    find: async (token) => sessions.get(token),
    update: async (token, data, version) => {
      const stored = sessions.get(token);
      if (stored === undefined || stored.version !== version) return undefined;
      sessions.set(token, { data, version: version + 1n });
      return version + 1n;
    },
    rotate: async (token) => {
      const stored = sessions.get(token);
      if (stored === undefined) return undefined;
      sessions.delete(token);
      sessions.set(NEW, stored);
      return NEW;
    },
    create: async (data) => {
      sessions.set(CREATED, { data, version: 1n });
      return CREATED;
    },
    delete: async (token) => {
      sessions.delete(token);
    },
    setOwner: async (token) => sessions.has(token),
    sessionsOf: async () => [],
    revokeOwner: async () => 0,
  };
}

/**
 * The app over a stand-in store (memoryStore) holding one active session `OLD` (with
 * `values`, at version 3), whose calls `answers` may replace, and which records the calls
 * in order as `[name, ...args]`, data decoded to its record.
 */
function recordingApp({ values = { message: 'kept' }, answers = {}, idleTimeoutMs } = {}) {
  const calls = [];
  const deadline = NOW + 3_600_000;
  const sessions = new Map([[OLD, { data: encodeRecord(deadline, values), version: 3n }]]);
  const store = {};
  for (const [name, fn] of Object.entries({ ...memoryStore(sessions), ...answers })) {
    store[name] = (...args) => {
      calls.push([name, ...args.map((a) => (a instanceof Uint8Array ? decodeRecord(a) : a))]);
      return fn(...args);
    };
  }
  const logs = [];
  const app = createApp({
    pool: { use: (fn) => fn(store) },
    settings: { storeEnv: {}, lifetimeMs: 60_000, idleTimeoutMs },
    log: (m) => logs.push(m),
    now: () => NOW,
  });
  const fetch = async (path, token, method = 'GET', userAgent = undefined) => {
    const headers = token === undefined ? {} : { cookie: `session=${token}` };
    if (userAgent !== undefined) headers['user-agent'] = userAgent;
    const res = await app.fetch(new Request(`http://localhost${path}`, { method, headers }));
    return {
      status: res.status,
      body: await res.text(),
      type: res.headers.get('content-type'),
      setCookie: res.headers.get('set-cookie'),
      allow: res.headers.get('allow'),
    };
  };
  const stored = (token) => {
    const found = sessions.get(token);
    return found && decodeRecord(found.data);
  };
  return { fetch, calls, deadline, logs, sessions, stored };
}

const noIdle = (absolute) => ({ absolute, idleMs: undefined });

test('login rotates the session, then sets the owner, then saves the user value, all under the new token', async () => {
  const { fetch, calls, deadline } = recordingApp();
  const res = await fetch('/login?user=alice', OLD, 'POST');
  assert.deepEqual([res.status, res.body, res.setCookie], [200, 'logged in\n', cookieOf(NEW, 3600)]);
  assert.deepEqual(calls, [
    ['find', OLD],
    ['rotate', OLD, noIdle(deadline)],
    ['setOwner', NEW, 'alice'],
    ['find', NEW],
    ['update', NEW, { deadline, values: { message: 'kept', user: 'alice' } }, 3n],
  ]);
});

test('the rotation and a created session carry the idle timeout to the store', async () => {
  const { fetch, calls, deadline } = recordingApp({ idleTimeoutMs: 60_000 });
  await fetch('/login?user=alice', OLD, 'POST');
  assert.deepEqual(calls[1], ['rotate', OLD, { absolute: deadline, idleMs: 60_000 }]);
  const fresh = recordingApp({ idleTimeoutMs: 60_000 });
  await fresh.fetch('/set?key=k&value=v', undefined, 'POST', 'curl/8.11.0');
  assert.deepEqual(fresh.calls, [['create', { deadline: NOW + 60_000, values: { k: 'v' } }, { absolute: NOW + 60_000, idleMs: 60_000 }, 'curl']]);
});

test('login without a session creates an anonymous one first, labelled by its User-Agent, then owns and fills it', async () => {
  const { fetch, calls } = recordingApp();
  const res = await fetch('/login?user=bob', undefined, 'POST', 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0');
  assert.deepEqual([res.status, res.setCookie], [200, cookieOf(CREATED, 60)]);
  const fresh = NOW + 60_000;
  assert.deepEqual(calls, [
    ['create', { deadline: fresh, values: {} }, noIdle(fresh), 'Firefox on Linux'],
    ['setOwner', CREATED, 'bob'],
    ['find', CREATED],
    ['update', CREATED, { deadline: fresh, values: { user: 'bob' } }, 1n],
  ]);
});

test('login whose session ended before the rotation starts a fresh session, carrying nothing of the old one', async () => {
  const { fetch, calls } = recordingApp({ answers: { rotate: async () => undefined } });
  const res = await fetch('/login?user=alice', OLD, 'POST');
  assert.deepEqual([res.status, res.setCookie], [200, cookieOf(CREATED, 60)]);
  const fresh = NOW + 60_000;
  assert.deepEqual(calls.slice(2), [
    ['create', { deadline: fresh, values: {} }, noIdle(fresh), undefined],
    ['setOwner', CREATED, 'alice'],
    ['find', CREATED],
    ['update', CREATED, { deadline: fresh, values: { user: 'alice' } }, 1n],
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
  // setOwner finds the new token gone; or the new token is gone by the time the user value is saved.
  for (const answers of [{ setOwner: async () => false }, { rotate: async () => NEW }]) {
    const { fetch } = recordingApp({ answers });
    const res = await fetch('/login?user=alice', OLD, 'POST');
    assert.deepEqual(
      [res.status, res.body, res.setCookie],
      [409, 'the session ended while this request ran; nothing was stored\n', cookieOf('', 0)],
      Object.keys(answers)[0],
    );
  }
});

test('a login whose user value other writes keep out gets 409 Conflict, the cookie set to the new token', async () => {
  const { fetch, calls } = recordingApp({ answers: { update: async () => undefined } });
  const res = await fetch('/login?user=alice', OLD, 'POST');
  assert.deepEqual([res.status, res.body, res.setCookie], [409, CONFLICT, cookieOf(NEW, 3600)]);
  assert.equal(calls.filter(([name]) => name === 'update').length, SAVE_ATTEMPTS);
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

test("devices lists the user's sessions as the store orders them, null where the store recorded nothing", async () => {
  const listed = [
    { id: 'a'.repeat(43), owner: 'alice', expiry: NOW + 1000, created: NOW - 5000, lastSeen: NOW - 10, label: 'Firefox on Linux' },
    { id: 'b"'.repeat(3), owner: 'alice', expiry: NOW + 5000, created: undefined, lastSeen: undefined, label: undefined },
  ];
  const { fetch, calls } = recordingApp({ values: { user: 'alice' }, answers: { sessionsOf: async () => listed } });
  const res = await fetch('/devices', OLD);
  assert.deepEqual([res.status, res.type, res.setCookie], [200, 'application/json', null]);
  assert.equal(
    res.body,
    `{"sessions":[{"id":"${'a'.repeat(43)}","expiry":${NOW + 1000},"created":${NOW - 5000},"last_seen":${NOW - 10},"label":"Firefox on Linux"},` +
      `{"id":"b\\"b\\"b\\"","expiry":${NOW + 5000},"created":null,"last_seen":null,"label":null}]}`,
  );
  assert.deepEqual(calls.at(-1), ['sessionsOf', 'alice']);
  assert.equal(devicesJson([]), '{"sessions":[]}');
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
  assert.equal(
    res.body,
    'not found; the routes are /put?message=TEXT, /get[?key=K], /set?key=K&value=V, /renew, /destroy, /login?user=NAME, /devices and /logout-everywhere\n',
  );
  for (const route of ['/put', '/get', '/set', '/renew', '/destroy', '/login?user=NAME', '/devices', '/logout-everywhere']) {
    assert.ok(res.body.includes(route), route);
  }
});

// The methods each route answers, as session-core's `Route` tests them.
const USE_POST = 'method not allowed; use POST\n';
const USE_GET_OR_HEAD = 'method not allowed; use GET or HEAD\n';

test('state-changing routes answer POST only: GET and the rest get 405, Allow: POST, before any store call', async () => {
  for (const path of ['/set?key=k&value=v', '/renew', '/destroy', '/login?user=mallory', '/logout-everywhere']) {
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
    '/set': ['POST'],
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

test('every shared User-Agent case gets its label (session-core/tests/device-labels.json)', () => {
  const { cases } = JSON.parse(readFileSync(new URL('../../../session-core/tests/device-labels.json', import.meta.url), 'utf8'));
  assert.ok(cases.length >= 10);
  for (const [agent, label] of cases) assert.equal(deviceLabel(agent) ?? null, label, JSON.stringify(agent));
  assert.equal(deviceLabel('\ufeff curl/8'), undefined, "trimmed as Rust trims: U+FEFF is no white space");
  assert.equal(deviceLabel('\u0085curl/8'), 'curl', 'U+0085 is');
});

test('set takes ordinary keys up to the limit and refuses empty, long, control and the user key', () => {
  for (const key of ['cart', 'theme', 'ünï', 'k'.repeat(MAX_KEY_BYTES), 'message', '__proto__']) assert.ok(checkKey(key), key);
  for (const key of ['', 'k'.repeat(MAX_KEY_BYTES + 1), 'é'.repeat(33), 'a\nb', 'tab\t', '\u007f', '\u0085', 'user']) {
    assert.ok(!checkKey(key), JSON.stringify(key));
  }
});

test('set refuses a missing or invalid key with 400 before any store call, and stores a string value', async () => {
  const cases = [
    ['/set?value=v', 'missing the key parameter: /set?key=K&value=V\n'],
    ['/set?key=user&value=root', 'invalid key: use 1 to 64 bytes without control characters; "user" is set by /login\n'],
    ['/set?key=&value=v', 'invalid key: use 1 to 64 bytes without control characters; "user" is set by /login\n'],
  ];
  for (const [path, body] of cases) {
    const { fetch, calls } = recordingApp();
    const res = await fetch(path, OLD, 'POST');
    assert.deepEqual([res.status, res.body, res.setCookie], [400, body, null], path);
    assert.deepEqual(calls, [], path);
  }
  const { fetch, stored, deadline } = recordingApp();
  const res = await fetch('/set?key=__proto__&value=7', OLD, 'POST');
  assert.deepEqual([res.status, res.body, res.setCookie], [200, 'stored\n', cookieOf(OLD, 3600)]);
  assert.equal(JSON.stringify(stored(OLD)), `{"deadline":${deadline},"values":{"message":"kept","__proto__":"7"}}`, 'the string "7", as an own value');
  await fetch('/set?key=empty', OLD, 'POST');
  assert.equal(stored(OLD).values.empty, '', 'no value: the empty string');
});

test('get answers a value by key: a string as it is, other JSON as JSON, empty when none; alone, the message', async () => {
  const { fetch } = recordingApp({ values: { message: 'hi', n: 7, list: [1, 'a'], nil: null, s: 'text' } });
  const answers = [];
  for (const path of ['/get', '/get?key=message', '/get?key=n', '/get?key=list', '/get?key=nil', '/get?key=s', '/get?key=absent', '/get?key=toString']) {
    const res = await fetch(path, OLD);
    answers.push([res.status, res.body, res.setCookie]);
  }
  assert.deepEqual(answers.map(([, body]) => body), ['hi', 'hi', '7', '[1,"a"]', 'null', 'text', '', '']);
  assert.ok(answers.every(([status, , cookie]) => status === 200 && cookie === null), 'a read stores nothing and sends no cookie');
});

test('a read stores nothing: the store only finds', async () => {
  const { fetch, calls } = recordingApp();
  await fetch('/get', OLD);
  await fetch('/get?key=message', OLD, 'HEAD');
  assert.deepEqual(calls, [['find', OLD], ['find', OLD]]);
});

test('a changed session is updated at the version it was read, and a conflict reloads and puts only its own values over the newer ones', async () => {
  let elsewhere = true;
  const update = async (token, data, version) => {
    if (elsewhere) {
      // Another request saved first: the record moved on to version 4, with values of its own.
      elsewhere = false;
      app.sessions.set(OLD, { data: encodeRecord(app.deadline, { message: 'changed elsewhere', cart: '3' }), version: 4n });
    }
    return memoryStore(app.sessions).update(token, data, version);
  };
  const app = recordingApp({ answers: { update } });
  const res = await app.fetch('/set?key=theme&value=dark', OLD, 'POST');
  assert.deepEqual([res.status, res.body, res.setCookie], [200, 'stored\n', cookieOf(OLD, 3600)]);
  assert.deepEqual(app.calls, [
    ['find', OLD],
    ['update', OLD, { deadline: app.deadline, values: { message: 'kept', theme: 'dark' } }, 3n],
    ['find', OLD],
    ['update', OLD, { deadline: app.deadline, values: { message: 'changed elsewhere', cart: '3', theme: 'dark' } }, 4n],
  ]);
  assert.deepEqual(app.stored(OLD).values, { message: 'changed elsewhere', cart: '3', theme: 'dark' });
});

test('a save gives up with 409 Conflict after SAVE_ATTEMPTS updates, the cookie kept and nothing stored', async () => {
  const app = recordingApp({ answers: { update: async () => undefined } });
  const res = await app.fetch('/set?key=k&value=v', OLD, 'POST');
  assert.deepEqual([res.status, res.body, res.setCookie], [409, CONFLICT, null]);
  assert.equal(SAVE_ATTEMPTS, 10);
  assert.equal(app.calls.filter(([name]) => name === 'update').length, SAVE_ATTEMPTS);
  assert.equal(app.calls.filter(([name]) => name === 'find').length, SAVE_ATTEMPTS, 'the load, then a find after each failed update but the last');
  assert.deepEqual(app.stored(OLD).values, { message: 'kept' });
});

test('a save of a session ended meanwhile stores nothing, never brings it back, and clears the cookie (409)', async () => {
  for (const [what, after] of [
    ['a logout elsewhere', (sessions) => sessions.delete(OLD)],
    ['foreign data under the token', (sessions) => sessions.set(OLD, { data: encoder.encode('not a record'), version: 9n })],
  ]) {
    const update = async () => {
      after(app.sessions);
      return undefined;
    };
    const app = recordingApp({ answers: { update } });
    const res = await app.fetch('/set?key=k&value=late', OLD, 'POST');
    assert.deepEqual([res.status, res.body, res.setCookie], [409, 'the session ended while this request ran; nothing was stored\n', cookieOf('', 0)], what);
    assert.deepEqual(app.calls.map(([name]) => name), ['find', 'update', 'find'], what);
    assert.equal(app.stored(OLD)?.values, undefined, what);
  }
});

test('a renewal rotates, and stores the values the request put under the new token with a conditional update', async () => {
  const session = new Session({ token: OLD, version: 3n, deadline: NOW + 5000, values: { message: 'hi' } });
  session.renew();
  let save = new Save(session, { idleTimeoutMs: 60_000 });
  assert.deepEqual(save.first(), { call: 'rotate', token: OLD, deadlines: { absolute: NOW + 5000, idleMs: 60_000 } });
  assert.deepEqual(save.rotated('new'), { call: 'done', saved: { kind: 'live', token: 'new', expiry: NOW + 5000 } }, 'nothing put: the rotation carried the data');
  session.put('more', '1');
  save = new Save(session);
  save.first();
  assert.deepEqual(save.rotated('new'), { call: 'find', token: 'new' });
  const step = save.found({ data: encodeRecord(NOW + 5000, { message: 'hi', other: 'x' }), version: 8n });
  assert.deepEqual([step.call, step.token, decodeRecord(step.data), step.version], ['update', 'new', { deadline: NOW + 5000, values: { message: 'hi', other: 'x', more: '1' } }, 8n]);
  assert.deepEqual(save.updated(9n), { call: 'done', saved: { kind: 'live', token: 'new', expiry: NOW + 5000 } });
  save = new Save(session);
  save.first();
  assert.deepEqual(save.rotated(undefined), { call: 'done', saved: { kind: 'ended-meanwhile' } });
  const fresh = Session.fresh(NOW, 3_600_000);
  fresh.renew();
  assert.equal(new Save(fresh).first().call, 'create', 'a fresh session has no old token');
});

test('destroying deletes an existing session and stays final within the request; a session only read stores nothing', async () => {
  const session = new Session({ token: OLD, version: 3n, deadline: NOW + 5000, values: { message: 'hi' } });
  assert.deepEqual(new Save(session).first(), { call: 'done', saved: { kind: 'unchanged' } });
  session.destroy();
  session.put('message', 'after');
  session.renew();
  assert.equal(session.get('message'), undefined);
  const save = new Save(session);
  assert.deepEqual(save.first(), { call: 'delete', token: OLD });
  assert.deepEqual(save.deleted(), { call: 'done', saved: { kind: 'ended' } });
  const fresh = Session.fresh(NOW, 3_600_000);
  fresh.destroy();
  assert.deepEqual(new Save(fresh).first(), { call: 'done', saved: { kind: 'unchanged' } });
});

test('concurrent saves of one token through one app wait for each other: none spends more than two updates', async () => {
  const app = recordingApp();
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => app.fetch(`/set?key=k${i}&value=v${i}`, OLD, 'POST')));
  assert.deepEqual(
    answers.map((res) => res.status),
    answers.map(() => 200),
  );
  const updates = app.calls.filter(([name]) => name === 'update').length;
  assert.ok(updates <= 2 * 12 - 1, `${updates} updates for 12 saves`);
  for (let i = 0; i < 12; i += 1) assert.equal(app.stored(OLD).values[`k${i}`], `v${i}`);
});
