// The HTTP routes over node:http: /put[?message=], /get, /renew, /destroy, each a
// load-act-save of the request's session (the same routes as the Rust host example and
// the edge app).
//
// Status codes: 200 done; 400 a token the store refuses; 409 the session ended (a concurrent
// logout or renewal) while the request ran: nothing stored, cookie cleared; 413 session data
// over the store's limit (SESSIONS_MAX_DATA_BYTES); 503 with Retry-After when the database
// is unavailable (e.g. locked by another instance for the whole busy timeout): retrying later
// works; 500 anything else; 404 unknown path. Oversized headers are refused by node:http
// (431). Error bodies are fixed texts; the store's message (paths, lock holders, server
// URLs) goes to the log only, credentials in URLs masked.

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

/** Seconds a client is told to wait after a 503. */
const RETRY_AFTER_S = '1';

/**
 * The answer to each failure: a fixed text (as session-core's `Failure::answer`). What the
 * store said goes to the log, never to the client.
 */
const ANSWERS = {
  'invalid-token': { status: 400, body: 'invalid session token\n' },
  'session-ended': { status: 409, body: 'the session ended while this request ran; nothing was stored\n' },
  unavailable: { status: 503, body: 'session store unavailable; try again shortly\n' },
  internal: { status: 500, body: 'internal error in the session store; the server log has the details\n' },
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
      const saved = manager.save(session);
      if (saved.kind === 'ended-meanwhile') {
        const { status, body: text } = ANSWERS['session-ended'];
        return reply(res, status, text, { 'set-cookie': manager.clearCookie() });
      }
      const setCookie = manager.setCookie(saved);
      reply(res, 200, body, setCookie ? { 'set-cookie': setCookie } : {});
    } catch (e) {
      const { status, body, headers } = answer(e);
      if (status >= 500) log(`request ${url.pathname} answered ${status}: ${redactCredentials(describe(e))}`);
      reply(res, status, body, headers);
    }
  });
}

/** The answer to a failed request. */
function answer(e) {
  if (e instanceof StoreError && e.kind === 'too-large') {
    return { status: 413, body: `session data is larger than the store's limit of ${e.detail} bytes; nothing was stored\n`, headers: {} };
  }
  if (e instanceof StoreError && e.kind === 'invalid-token') return { ...ANSWERS['invalid-token'], headers: {} };
  if (e instanceof StoreError && e.kind === 'unavailable') {
    return { ...ANSWERS.unavailable, headers: { 'retry-after': RETRY_AFTER_S } };
  }
  return { ...ANSWERS.internal, headers: {} };
}

function describe(e) {
  return e instanceof Error ? e.message : String(e);
}

/**
 * `message` with the user information of every URL in it (`scheme://user:pass@host`)
 * replaced by `***`, as session-core's `redact_credentials`.
 */
export function redactCredentials(message) {
  return message.replace(/(:\/\/)([^/?#"'`\s]*)@/g, '$1***@');
}

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}
