// Hono middleware: the request's session on the context (`c.get('session')`), loaded before
// the handlers run and saved after them with session-core's finality contract, through the
// same code as the plain-fetch app (sessions.js `sessionHandler`):
//
// - an existing session is saved by the store's conditional update: a save that another
//   request's save came before reads the session again and puts its own values over the
//   newer ones (no lost update), at most 10 times, then answers 409 (Conflict, the cookie
//   kept); a save that finds its session ended meanwhile (a concurrent logout or renewal)
//   stores nothing and answers 409 with the cookie cleared; renew and destroy are final;
// - a store that is unavailable answers 503 with Retry-After: 1 (invalid data 413, refused
//   names 400, any other store failure 500; fixed texts, details to `log`, redacted);
// - the cookie's name and attributes are options; its Max-Age is the time left in the session.
//
// `c.get('sessions')` is the RequestSession: `login(user)`, `devices()`,
// `logoutEverywhere()`, `store`. `sessionRoutes()` serves the demo routes every host of
// this project serves (/put, /get, /set, /renew, /destroy, /login, /devices, /logout-everywhere).

import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import {
  DEFAULT_LIFETIME_MS,
  ROUTE_METHODS,
  bodyTooLargeAnswer,
  bodyTooLarge,
  failureAnswer,
  parseDuration,
  refuseQuery,
  refuseRequest,
  runRoute,
  sessionHandler,
} from './sessions.js';
import { StoreError } from './store.js';

export { scheduledSweep, sweepAll, sweeper } from './cron.js';

/** Milliseconds of the option `name`: a number of ms, or a duration such as `24h`; `fallback` when undefined. */
function durationMs(value, name, fallback) {
  if (value === undefined) return fallback;
  if (typeof value === 'string') return parseDuration(value, name);
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} ${value}: a positive whole number of ms`);
  return value;
}

/**
 * The session middleware.
 * @param {object} options
 * @param {{ use: Function } | ((c: import('hono').Context) => { use: Function })} options.pool
 *   a StorePool (from libsqlstore/workerd, /deno or /node), or a function of the context that
 *   makes one, called once (e.g. `(c) => createStorePool(c.env)` on Workers)
 * @param {number|string} [options.lifetime] how long a fresh session lasts at most: ms or `24h`, `30m` (default 24h)
 * @param {number|string} [options.idleTimeout] a session unused this long ends: ms or `30m` (default: never)
 * @param {import('./sessions.js').CookieOptions} [options.cookie] cookie name and attributes
 * @param {(message: string) => void} [options.log] server-side failures (redacted)
 * @param {string} [options.authToken] redacted from the log (default: SESSIONS_AUTH_TOKEN of the pool's env, if given as `env`)
 * @param {() => number} [options.now] the wall clock (ms since the epoch)
 */
export function sessionMiddleware({ pool, lifetime, idleTimeout, cookie, log = console.error, authToken, now = Date.now } = {}) {
  if (!pool) throw new TypeError('sessionMiddleware needs a pool (createStorePool from libsqlstore/workerd, /deno or /node)');
  const lifetimeMs = durationMs(lifetime, 'lifetime', DEFAULT_LIFETIME_MS);
  const options = { lifetimeMs, idleTimeoutMs: durationMs(idleTimeout, 'idleTimeout', undefined), cookie, log, authToken, now };
  let handle = typeof pool === 'function' ? undefined : sessionHandler({ pool, ...options });
  return createMiddleware(async (c, next) => {
    handle ??= sessionHandler({ pool: pool(c), ...options });
    const answer = await handle(c.req.raw, async (scope) => {
      c.set('session', scope.session);
      c.set('sessions', scope);
      await next();
      if (c.error) {
        // A store failure in a handler is answered as the contract says; any other error
        // keeps the application's answer (its onError) and saves nothing.
        if (c.error instanceof StoreError) throw c.error;
        scope.abandoned = true;
      }
      return c.res;
    });
    // Replace rather than merge: Hono's setter would copy the old answer's cookies over ours.
    c.res = undefined;
    c.res = answer;
  });
}

/**
 * An `app.onError` handler that answers StoreErrors as the middleware does (and logs the
 * others redacted of `authToken`), so Hono's default handler never logs a store message.
 */
export function sessionErrorHandler({ log = console.error, authToken } = {}) {
  return (err, c) => failureAnswer(err, { path: new URL(c.req.url).pathname, log, authToken });
}

/**
 * The demo routes of every host of this project as a Hono app, using `sessionMiddleware`:
 * /put?message=TEXT, /get[?key=K], POST /set?key=K&value=V, POST /renew, POST /destroy,
 * POST /login?user=NAME, /devices, POST /logout-everywhere; other methods 405 with Allow,
 * unknown paths 404, bodies over 64 KiB 413, /login without a user and /set without a
 * valid key 400, all before the session is loaded. Mount it with `app.route('/', sessionRoutes(...))`.
 * @param {Parameters<typeof sessionMiddleware>[0]} options
 */
export function sessionRoutes(options) {
  const app = new Hono();
  app.onError(sessionErrorHandler(options));
  app.use(async (c, next) => {
    const path = new URL(c.req.url).pathname;
    const refused = refuseRequest(path, c.req.method);
    if (refused) return refused;
    if (await bodyTooLarge(c.req.raw)) return bodyTooLargeAnswer();
    return refuseQuery(path, new URL(c.req.url).searchParams) ?? next();
  });
  app.use(sessionMiddleware(options));
  for (const [path, methods] of Object.entries(ROUTE_METHODS)) {
    app.on(methods.filter((m) => m !== 'HEAD'), path, (c) => runRoute(path, c.get('sessions'), new URL(c.req.url).searchParams));
  }
  return app;
}
