// The Node host for the session-store component.
//
//   node src/main.js [serve] [--listen 127.0.0.1:4000] [--data-dir ./data] [--database NAME|:memory:|URL]
//                    [--lifetime 24h] [--idle-timeout 30m]
//                                          serve /put, /get, /set, /renew, /destroy,
//                                          /login?user=NAME, /devices, /logout-everywhere;
//                                          sweep on a timer
//   node src/main.js sweep [--data-dir ./data] [--database NAME]   sweep now (cron), print the total
//   node src/main.js stats [--data-dir ./data] [--database NAME]   print active/expired counts
//
// --database: a file name inside --data-dir (default sessions.db), :memory:, or a libSQL
// server URL; without it a SESSIONS_DATABASE in the environment is used. Every other
// SESSIONS_* variable in the environment (SESSIONS_CLEANUP_INTERVAL, SESSIONS_BUSY_TIMEOUT,
// ...) is passed to the component; nothing else of the environment is. EDGE_POOL_SIZE and
// EDGE_POOL_WAIT size the store pool (src/store.js; default 8 instances with JSPI and a
// libSQL server, else 1) and bound a request's wait for an instance (default 3s, then 503).
// Run it with the Node this example installs (node_modules/.bin/node, as `npm start` and
// `npm test` do): that one has JSPI; an older Node serves one request at a time.

import { existsSync, mkdirSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDuration, sweepUntilDone } from 'libsqlstore';
import { HostClock } from './clock.js';
import { createSessionServer } from './server.js';
import { GUEST_DATA_DIR, openPool, storeOf } from './store.js';
import { startSweeper } from './sweeper.js';

const USAGE =
  'usage: node src/main.js [serve|sweep|stats] [--listen ADDR] [--data-dir DIR] [--database NAME|:memory:|URL] [--lifetime 24h] [--idle-timeout 30m]';

/**
 * The store's environment: SESSIONS_* (the component's) and EDGE_POOL_* (the pool's) from
 * ours, SESSIONS_DATABASE from --database.
 */
function storeEnv(database) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('SESSIONS_') || k.startsWith('EDGE_POOL_')));
  if (database === undefined) {
    env.SESSIONS_DATABASE ??= `${GUEST_DATA_DIR}/sessions.db`;
  } else if (database === ':memory:' || database.includes('://')) {
    env.SESSIONS_DATABASE = database;
  } else if (database.includes('/')) {
    throw new Error('--database takes a file name inside --data-dir, :memory: or a URL');
  } else {
    env.SESSIONS_DATABASE = `${GUEST_DATA_DIR}/${database}`;
  }
  return env;
}

/**
 * Session data readable by this user only (WASI gives the component no file modes): files are
 * created 0600 and a missing directory 0700; an existing group- or world-accessible one is
 * kept as the operator set it, with a warning.
 */
function privateDataDir(dir) {
  process.umask(0o077);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return;
  }
  const mode = statSync(dir).mode & 0o777;
  if (mode & 0o077) {
    console.error(`warning: ${dir} is accessible to other users (mode ${mode.toString(8)}): session data and user names are readable; chmod 700 it`);
  }
}

/**
 * The store pool (its instances made), a store borrowing from it per call, and its
 * environment; fails, with the store's own message, if the database is unusable.
 */
async function open(values, clock) {
  const env = storeEnv(values.database);
  const needsDir = !env.SESSIONS_DATABASE.includes('://') && env.SESSIONS_DATABASE !== ':memory:';
  if (needsDir) privateDataDir(values['data-dir']);
  const pool = openPool({ dataDir: needsDir ? values['data-dir'] : undefined, env, clock });
  await pool.warm();
  const store = storeOf(pool);
  await store.stats();
  return { pool, store, env };
}

async function serve(values) {
  const clock = new HostClock();
  const lifetimeMs = parseDuration(values.lifetime, '--lifetime');
  const idleTimeoutMs = values['idle-timeout'] === undefined ? undefined : parseDuration(values['idle-timeout'], '--idle-timeout');
  const { pool, store, env } = await open(values, clock);
  const server = createSessionServer({ pool, env, clock, lifetimeMs, idleTimeoutMs });
  const sweeper = await startSweeper(store, {
    onSweep: ({ removed }) => removed > 0 && console.error(`swept ${removed} expired sessions`),
    onError: (e) => console.error(`sweep failed (retried at the next tick): ${e.message}`),
  });
  const { hostname, port } = new URL(`http://${values.listen}`);
  server.listen(Number(port), hostname.replace(/^\[|\]$/g, ''), () => {
    const address = server.address();
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    console.log(`listening on http://${host}:${address.port}`);
    console.error(sweeper ? `sweeping every ${sweeper.intervalMs} ms` : 'cleanup disabled');
  });
  const stop = () => {
    sweeper?.stop();
    server.close(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      listen: { type: 'string', default: '127.0.0.1:4000' },
      'data-dir': { type: 'string', default: './data' },
      database: { type: 'string' },
      lifetime: { type: 'string', default: '24h' },
      'idle-timeout': { type: 'string' },
    },
  });
  const command = positionals[0] ?? 'serve';
  if (command === 'serve') return serve(values);
  if (command === 'sweep') {
    const { store } = await open(values, new HostClock());
    const { removed, batches } = await sweepUntilDone(store);
    console.log(`removed ${removed} expired sessions in ${batches} batches`);
    return undefined;
  }
  if (command === 'stats') {
    const { store } = await open(values, new HostClock());
    const { active, expired } = await store.stats();
    console.log(`active: ${active}\nexpired: ${expired}`);
    return undefined;
  }
  throw new Error(USAGE);
}

main().catch((e) => {
  console.error(`node-host: ${e.message}`);
  process.exit(1);
});
