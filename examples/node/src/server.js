// The session routes over node:http: each request goes, as a Web `Request`, to the app that
// every JavaScript host shares (the libsqlstore package's sessions.js: /put[?message=], /get[?key=],
// /set?key=&value=, /renew, /destroy, /login?user=NAME, /devices, /logout-everywhere, the methods each answers, their
// status codes and fixed error texts), and its `Response` is written back. A path or method
// the routes do not answer is refused (404, 405) before a Web `Request` is built, which
// could not carry methods such as TRACE.
// The app borrows an instance of this host's store pool for each request (src/store.js).
// Oversized headers are refused by node:http (431).

import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { DEFAULT_LIFETIME_MS, createApp, refuseRequest } from 'libsqlstore';

/**
 * An http.Server serving the routes.
 * @param {object} options
 * @param {import('libsqlstore').StorePool} options.pool from openPool
 * @param {Record<string,string>} options.env the store's environment (its auth token is kept out of logs)
 * @param {import('./clock.js').HostClock} options.clock the clock the store sees
 * @param {number} [options.lifetimeMs] how long a fresh session lasts at most
 * @param {number} [options.idleTimeoutMs] a session unused that long ends (default: never)
 * @param {(message: string) => void} [options.log] receives server-side failures
 */
export function createSessionServer({ pool, env, clock, lifetimeMs = DEFAULT_LIFETIME_MS, idleTimeoutMs, log = console.error }) {
  const app = createApp({
    pool,
    settings: { storeEnv: env, lifetimeMs, idleTimeoutMs },
    log,
    now: () => clock.nowMs(),
  });
  return createServer(async (req, res) => {
    try {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const response = refuseRequest(path, req.method) ?? (await app.fetch(webRequest(req)));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    } catch (e) {
      log(`request ${req.url} failed: ${e?.stack ?? e}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    }
  });
}

/** A node:http request as a Web `Request` (only the path and query of its URL matter). */
function webRequest(req) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : Readable.toWeb(req);
  return new Request(new URL(req.url ?? '/', 'http://localhost'), { method: req.method, headers, body, duplex: 'half' });
}
