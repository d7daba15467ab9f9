// The session routes served by Deno: `Deno.serve` answers /put, /get, /set, /renew,
// /destroy, /login?user=NAME, /devices and /logout-everywhere with the shared edge module (the same one
// the Cloudflare Worker uses), and expired sessions are swept every `cleanup-interval()` of
// the component (SESSIONS_CLEANUP_INTERVAL, default 5m; 0 turns sweeping off): with
// `Deno.cron` (Deno Deploy; locally with --unstable-cron) when the interval is whole minutes
// or hours, else with a timer.
//
//   deno run --allow-net --allow-env --allow-read=dist --unstable-cron dist/main.js [--listen ADDR]
//
// Settings come from the environment: SESSIONS_DATABASE (a libSQL server URL, or :memory:
// for a local trial), SESSIONS_AUTH_TOKEN, every other SESSIONS_* variable,
// EDGE_SESSION_LIFETIME, EDGE_SESSION_IDLE_TIMEOUT, and EDGE_POOL_SIZE / EDGE_POOL_WAIT (the store instances held, how
// long a request waits for one); EDGE_APP=hono serves the routes through the package's Hono
// middleware (libsqlstore/hono). They are checked before serving: a malformed value ends the
// program with a message naming the variable. SIGINT or SIGTERM stops accepting, lets the
// requests in flight finish, and exits.

import { Hono } from 'hono';
import { createApp, readSettings, redact } from 'libsqlstore';
import { createStorePool } from 'libsqlstore/deno';
import { sessionRoutes } from 'libsqlstore/hono';

const USAGE = 'usage: main.js [--listen HOST:PORT]   (settings: SESSIONS_DATABASE, SESSIONS_AUTH_TOKEN, ...)';

function listenAddress(args) {
  let listen = '127.0.0.1:8000';
  for (let i = 0; i < args.length; i += 2) {
    if (args[i] !== '--listen' || args[i + 1] === undefined) throw new Error(USAGE);
    listen = args[i + 1];
  }
  const { hostname, port } = new URL(`http://${listen}`);
  return { hostname: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 80) };
}

/** A `Deno.cron` schedule sweeping every `ms`, when whole minutes or hours express it. */
function cronSchedule(ms) {
  const minutes = ms / 60_000;
  if (Number.isInteger(minutes) && minutes >= 1 && minutes < 60 && 60 % minutes === 0) return `*/${minutes} * * * *`;
  const hours = minutes / 60;
  if (Number.isInteger(hours) && hours >= 1 && hours <= 24 && 24 % hours === 0) return `0 */${hours} * * *`;
  return undefined;
}

/** Starts sweeping every `intervalMs`; returns a stop function. */
function startSweeping(app, intervalMs) {
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      const { removed, batches } = await app.sweep();
      if (removed > 0) console.error(`swept ${removed} expired sessions in ${batches} batches`);
    } catch (e) {
      app.logFailure('sweep failed (retried at the next tick)', e);
    } finally {
      running = false;
    }
  };
  const schedule = typeof Deno.cron === 'function' ? cronSchedule(intervalMs) : undefined;
  if (schedule) {
    const aborter = new AbortController();
    Deno.cron('libsqlstore sweep', schedule, { signal: aborter.signal }, sweep);
    console.log(`sweeping with Deno.cron "${schedule}"`);
    return () => aborter.abort();
  }
  const timer = setInterval(sweep, Math.min(intervalMs, 2 ** 31 - 1));
  console.log(`sweeping every ${intervalMs} ms`);
  return () => clearInterval(timer);
}

async function main() {
  const { hostname, port } = listenAddress(Deno.args);
  const settings = readSettings(Deno.env.toObject());
  // The core modules are copied beside this bundle (scripts/build.js).
  const pool = createStorePool(Deno.env.toObject(), { coreModulesUrl: new URL('./', import.meta.url) });
  // Every instance made before serving: no request waits for one to be made.
  await pool.warm();
  const intervalMs = await pool.use(async (store) => {
    await store.checkConfig();
    return store.cleanupInterval();
  });
  const app = createApp({ pool, settings });
  let { fetch } = app;
  if (Deno.env.get('EDGE_APP') === 'hono') {
    const hono = new Hono();
    hono.route('/', sessionRoutes({ pool, lifetime: settings.lifetimeMs, idleTimeout: settings.idleTimeoutMs, authToken: settings.storeEnv.SESSIONS_AUTH_TOKEN }));
    fetch = (request) => hono.fetch(request);
  }
  const stopSweeping = intervalMs === undefined ? () => {} : startSweeping(app, intervalMs);
  if (intervalMs === undefined) console.log('cleanup disabled (SESSIONS_CLEANUP_INTERVAL=0)');
  const server = Deno.serve(
    {
      hostname,
      port,
      onListen: (addr) => {
        const host = addr.hostname.includes(':') ? `[${addr.hostname}]` : addr.hostname;
        console.log(`listening on http://${host}:${addr.port}`);
      },
    },
    fetch,
  );
  const stop = () => {
    stopSweeping();
    server.shutdown();
  };
  Deno.addSignalListener('SIGINT', stop);
  Deno.addSignalListener('SIGTERM', stop);
  await server.finished;
}

try {
  await main();
  // Requests in flight have finished; idle instances' timers must not keep the process.
  Deno.exit(0);
} catch (e) {
  console.error(`deno-host: ${redact(e.message, Deno.env.get('SESSIONS_AUTH_TOKEN'))}`);
  Deno.exit(1);
}
