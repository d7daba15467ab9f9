// The session-store component for Node, in one of two transpilations (both sharing the core
// modules in dist/jspi/, compiled once per process), picked per pool by `storeMode`:
//
// - 'jspi' where Node has JSPI (`WebAssembly.Suspending`: Node ≥ 25, or 24 with
//   --experimental-wasm-jspi) and the database is a libSQL server or :memory:. A JSPI
//   transpilation (dist/jspi/, see scripts/build.js) with preview2-shim's Web streams
//   and timers, as on Deno and Workers, and HTTP over node:http: a call waiting on the
//   server suspends its instance and the event loop serves other requests meanwhile, so a
//   pool of several instances serves as many at once.
// - 'sync' otherwise (Node 20 and 22, or a database file, which needs Node's filesystem): the
//   synchronous transpilation with the shim's Node implementations, whose every WASI call
//   blocks this thread while a worker thread does it, so one request is served at a time.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { clocks } from '@bytecodealliance/preview2-shim';
import { instantiate as instantiateJspi } from './dist/jspi/libsqlstore.js';
import { instantiate } from './dist/sync/libsqlstore.js';
import { nodeHttp } from './node-http.js';
import { StorePool } from './pool.js';
import { readPoolSettings } from './sessions.js';

export { instantiate, instantiateJspi };

/** Whether this Node runs WebAssembly with JSPI (V8 ≥ 13.7, or an older one with the flag). */
export const hasJspi = typeof WebAssembly.Suspending === 'function' && typeof WebAssembly.promising === 'function';

const compiled = new Map();

/** The compiled core module `name` of the component. */
export function getCoreModule(name) {
  if (!compiled.has(name)) {
    compiled.set(name, readFile(new URL(`./dist/jspi/${name}`, import.meta.url)).then((bytes) => WebAssembly.compile(bytes)));
  }
  return compiled.get(name);
}

const adapted = Symbol('libsqlstore.openAtAdapted');

/**
 * wasi-libc sets `mutate-directory` on every writable open; preview2-shim 0.26 refuses such
 * opens as `unsupported`, so SQLite could not open a database file. The flag only asks for
 * the directory's write permission, which a read-write preopen already grants: it is
 * dropped before the shim sees it. Pass to StorePool's `adaptImports` (createStorePool does).
 */
export function adaptFilesystem(imports) {
  const { Descriptor } = imports['wasi:filesystem/types'];
  if (Descriptor.prototype[adapted]) return;
  const openAt = Descriptor.prototype.openAt;
  Descriptor.prototype.openAt = function (pathFlags, path, openFlags, descriptorFlags) {
    return openAt.call(this, pathFlags, path, openFlags, { ...descriptorFlags, mutateDirectory: false });
  };
  Descriptor.prototype[adapted] = true;
}

/**
 * preview2-shim's Web implementations (what Deno and Workers bundle). Its package exports
 * give Node the Node implementations only, so they are loaded by file from beside the shim's
 * instantiation module; only where JSPI is there to wait on their promises.
 */
const web = hasJspi ? await import(new URL('../browser/index.js', import.meta.resolve('@bytecodealliance/preview2-shim/instantiation'))) : undefined;

/**
 * The WASI implementations of the 'jspi' mode: the Web ones, outgoing HTTP over node:http
 * (node-http.js), and no filesystem at all.
 */
function webShims() {
  const { types } = web.filesystem;
  return {
    cli: web.cli,
    clocks: web.clocks,
    http: nodeHttp(web.http, web.io),
    io: web.io,
    random: web.random,
    sockets: web.sockets,
    filesystem: { types, createPreopens: () => ({ getDirectories: () => [] }) },
  };
}

/**
 * 'jspi' or 'sync' (see the top of this file): how a pool for SESSIONS_DATABASE `database`
 * runs in this Node.
 */
export function storeMode(database) {
  const file = typeof database === 'string' && database !== ':memory:' && !database.includes('://');
  return hasJspi && !file ? 'jspi' : 'sync';
}

/**
 * A pool of component instances with the environment `env` (SESSIONS_* strings for the
 * component, EDGE_POOL_SIZE and EDGE_POOL_WAIT for the pool unless `size` / `waitMs` are
 * given; default: process.env), run as `storeMode(env.SESSIONS_DATABASE)` says. The size
 * defaults to 8 in 'jspi' mode and to 1 in 'sync' mode, where an instance blocks the thread
 * for its whole call and more serve no more requests at once. `dataDir`, a host directory,
 * is preopened as /data for a database file (`SESSIONS_DATABASE=/data/sessions.db`; one
 * writer at a time: keep the size at 1 and one process per file). `wallClock` replaces the
 * `wasi:clocks/wall-clock` the component reads. Throws a SettingsError for a malformed pool
 * setting.
 */
export function createStorePool(env = process.env, { size, waitMs, dataDir, wallClock } = {}) {
  const storeEnv = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('SESSIONS_') && typeof v === 'string'));
  const pool = readPoolSettings(env);
  const common = { getCoreModule, env: storeEnv, waitMs: waitMs ?? pool.waitMs };
  if (storeMode(storeEnv.SESSIONS_DATABASE) === 'jspi') {
    const shims = webShims();
    if (wallClock) shims.clocks = { ...shims.clocks, wallClock };
    return new StorePool({ ...common, instantiate: instantiateJspi, size: size ?? pool.size, shims });
  }
  return new StorePool({
    ...common,
    instantiate,
    size: size ?? pool.size ?? 1,
    preopens: dataDir ? { '/data': resolve(dataDir) } : {},
    adaptImports: adaptFilesystem,
    shims: wallClock ? { clocks: { ...clocks, wallClock } } : {},
  });
}
