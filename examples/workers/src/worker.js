// The session routes as a Cloudflare Worker (ES module): `fetch` serves /put, /get, /set,
// /renew, /destroy, /login?user=NAME, /devices and /logout-everywhere with the shared edge module;
// `scheduled` (a Cron Trigger) sweeps expired sessions batch after batch until none remain.
//
// Settings are the Worker's bindings (vars and secrets): SESSIONS_DATABASE (a libSQL server
// URL; `:memory:` for local trials), SESSIONS_AUTH_TOKEN (a secret), any other SESSIONS_*
// variable of the store, EDGE_SESSION_LIFETIME, EDGE_SESSION_IDLE_TIMEOUT, and EDGE_POOL_SIZE / EDGE_POOL_WAIT (the
// store instances held, how long a request waits for one). They are read and checked when the
// Worker starts, so a malformed value stops the start (workerd exits, a deploy is refused)
// with a message naming the variable, before any request is served. EDGE_APP=hono serves the
// same routes through the package's Hono middleware (libsqlstore/hono) instead.

import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { createApp, readSettings, redact } from 'libsqlstore';
import { sessionRoutes } from 'libsqlstore/hono';
import { createStorePool } from 'libsqlstore/workerd';

/** The settings, checked: a malformed one throws here, which stops the Worker's start. */
async function start() {
  const settings = readSettings(env);
  const pool = createStorePool(env);
  // Every instance made now, before any request: no request waits for one to be made.
  await pool.warm();
  await pool.use((store) => store.checkConfig());
  const app = createApp({ pool, settings });
  if (env.EDGE_APP !== 'hono') return app;
  const hono = new Hono();
  hono.route('/', sessionRoutes({ pool, lifetime: settings.lifetimeMs, idleTimeout: settings.idleTimeoutMs, authToken: settings.storeEnv.SESSIONS_AUTH_TOKEN }));
  return { ...app, fetch: (request) => hono.fetch(request) };
}

let app;
try {
  app = await start();
} catch (e) {
  // workerd prints this; keep the auth token and URL passwords out of it.
  throw new Error(`the sessions Worker cannot start: ${redact(e.message, env.SESSIONS_AUTH_TOKEN)}`);
}

export default {
  fetch(request) {
    return app.fetch(request);
  },

  async scheduled(controller) {
    try {
      const { removed, batches } = await app.sweep();
      console.log(`sweep (${controller.cron || 'on demand'}): removed ${removed} expired sessions in ${batches} batches`);
    } catch (e) {
      app.logFailure('sweep failed (retried at the next trigger)', e);
      throw e;
    }
  },
};
