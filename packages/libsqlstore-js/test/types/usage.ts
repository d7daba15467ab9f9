// Compiled (not run) by `npm run typecheck`: the package's entries used as the README shows,
// checked by tsc against the hand-written .d.ts files and jco's typings.
import { Hono } from 'hono';
import {
  RequestSession,
  SessionManager,
  PoolBusyError,
  SettingsError,
  StoreError,
  StorePool,
  checkKey,
  createApp,
  deviceLabel,
  devicesJson,
  readPoolSettings,
  readSettings,
  sweepAll,
  sweeper,
  type Pool,
  type SessionStore,
  type StoreErrorKind,
} from 'libsqlstore';
import { scheduledSweep, sessionErrorHandler, sessionMiddleware, sessionRoutes, type SessionEnv } from 'libsqlstore/hono';
import * as workerd from 'libsqlstore/workerd';
import * as deno from 'libsqlstore/deno';
import * as node from 'libsqlstore/node';
import { instantiate } from 'libsqlstore/component';
import { instantiate as instantiateSync } from 'libsqlstore/component/sync';

// Workers (README "Hono").
type Env = { SESSIONS_DATABASE: string; SESSIONS_AUTH_TOKEN?: string };
let pool: StorePool | undefined;
const poolOf = (env: Env) => (pool ??= workerd.createStorePool(env));
const app = new Hono<{ Bindings: Env } & SessionEnv>();
app.use(sessionMiddleware({ pool: (c) => poolOf(c.env), lifetime: '24h', idleTimeout: '30m' }));
app.onError(sessionErrorHandler());
app.post('/count', (c) => {
  const session = c.get('session');
  session.put('n', (session.get<number>('n') ?? 0) + 1);
  return c.json({ n: session.get('n') });
});
app.post('/login', async (c) => {
  const sessions = c.get('sessions');
  if (!(await sessions.login(c.req.query('user') ?? ''))) return c.text('ended', 409);
  const devices = await sessions.devices();
  const revoked: number | undefined = await sessions.logoutEverywhere();
  c.get('session').renew();
  return c.json({ devices, revoked, user: c.get('session').user() });
});
app.post('/destroy', (c) => {
  c.get('session').destroy();
  return c.text('destroyed');
});
app.route('/demo', sessionRoutes({ pool: poolOf({ SESSIONS_DATABASE: ':memory:' }), cookie: { name: 'sid', sameSite: 'Strict', secure: true } }));
export default { fetch: app.fetch, scheduled: scheduledSweep(poolOf) };
const cores: Record<string, WebAssembly.Module> = workerd.coreModules;

// Deno and Node (README "Sweeping expired sessions").
const denoPool: Pool = deno.createStorePool({ SESSIONS_DATABASE: 'http://127.0.0.1:8080' }, { size: 4, waitMs: 500, coreModulesUrl: new URL('file:///srv/') });
const nodePool = node.createStorePool({ SESSIONS_DATABASE: 'http://127.0.0.1:8080', HOME: undefined }, { dataDir: './data', size: 1 });
setInterval(sweeper(nodePool), 5 * 60_000);
const tick: () => Promise<{ removed: number; batches: number } | undefined> = sweeper(() => denoPool, { log: console.log });

// The store, the manager and errors (README "Errors").
async function direct(p: Pool): Promise<void> {
  const { removed, batches } = await sweepAll(p);
  await p.use(async (store: SessionStore) => {
    const manager = new SessionManager(store, { lifetimeMs: 60_000, cookie: { name: 'sid' } });
    const session = await manager.load('sid=abc');
    session.put('message', 'hello');
    const saved = await manager.save(session);
    const header: string | undefined = manager.setCookie(saved);
    const scope = new RequestSession(manager, session);
    const mine: { id: string; expiry: number; created?: number; lastSeen?: number; label?: string }[] | undefined = await scope.devices();
    console.log(mine, new SettingsError('SESSIONS_DATABASE', 'missing').variable);
    const token: string = await store.create(new Uint8Array([1]), { absolute: Date.now() + 60_000, idleMs: 600_000 }, deviceLabel('curl/8'));
    const found = await store.find(token);
    const version: bigint | undefined = found && (await store.update(token, new Uint8Array([2]), found.version));
    const renewed: string | undefined = await store.rotate(token, { absolute: Date.now() + 60_000 });
    console.log(version, renewed, checkKey('cart'), devicesJson(mine ?? []));
    const { active, expired } = await store.stats();
    console.log(removed, batches, header, found, active, expired, manager.clearCookie());
  });
  try {
    await p.use((store) => store.checkConfig());
  } catch (e) {
    if (e instanceof PoolBusyError) {
      console.log('every instance busy', e.kind);
    } else if (e instanceof StoreError) {
      const kind: StoreErrorKind = e.kind;
      console.log(kind, e.detail);
    } else if (e instanceof SettingsError) {
      console.log(e.variable);
    }
  }
}

const settings = readSettings({ SESSIONS_DATABASE: ':memory:' });
const { size, waitMs }: { size?: number; waitMs?: number } = readPoolSettings({ EDGE_POOL_SIZE: '4', EDGE_POOL_WAIT: '500ms' });
const warmPool = workerd.createStorePool({ SESSIONS_DATABASE: ':memory:' }, { size, waitMs });
const warmed: Promise<void> = warmPool.warm();
const counts: number = warmPool.size + warmPool.instancesMade;
const plain = createApp({ pool: denoPool, settings });
const answer: Promise<Response> = plain.fetch(new Request('http://localhost/get'));
console.log(cores, tick, direct, answer, instantiate, instantiateSync, warmed, counts);
