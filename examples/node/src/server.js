// The HTTP routes over node:http: /put[?message=], /get, /renew, /destroy, each a
// load-act-save of the request's session (the same routes as the Rust host example and
// the edge app).
//
// Status codes: 200 done; 400 a token the store refuses; 413 session data over the store's
// limit (SESSIONS_MAX_DATA_BYTES); 503 with Retry-After when the database is unavailable
// (e.g. locked by another instance for the whole busy timeout): retrying later works;
// 500 anything else; 404 unknown path. Oversized headers are refused by node:http (431).

import { createServer } from 'node:http';
import { StoreError } from './store.js';

/** The value /put stores when no `message` is given. */
export const DEFAULT_MESSAGE = 'Hello from a session!';

const ROUTES = {
  '/put': (session, query) => {
    session.put('message', query.get('message') ?? DEFAULT_MESSAGE);
    return 'stored\n';
  },
  '/get': (session) => String(session.get('message') ?? ''),
  '/renew': (session) => {
    session.renew();
    return 'renewed\n';
  },
  '/destroy': (session) => {
    session.destroy();
    return 'destroyed\n';
  },
};

/** An http.Server serving the routes with `manager`; `log` receives server-side failures. */
export function createSessionServer(manager, { log = console.error } = {}) {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = ROUTES[url.pathname];
    if (!route) {
      return reply(res, 404, 'not found; the routes are /put?message=TEXT, /get, /renew and /destroy\n');
    }
    try {
      const session = manager.load(req.headers.cookie);
      const body = route(session, url.searchParams);
      const setCookie = manager.save(session);
      reply(res, 200, body, setCookie ? { 'set-cookie': setCookie } : {});
    } catch (e) {
      const { status, headers } = classify(e);
      if (status >= 500) log(`request ${url.pathname} failed: ${e.message}`);
      reply(res, status, `${e.message}\n`, headers);
    }
  });
}

function classify(e) {
  if (!(e instanceof StoreError)) return { status: 500, headers: {} };
  switch (e.kind) {
    case 'invalid-token':
      return { status: 400, headers: {} };
    case 'too-large':
      return { status: 413, headers: {} };
    case 'unavailable':
      return { status: 503, headers: { 'retry-after': '1' } };
    default:
      return { status: 500, headers: {} };
  }
}

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}
