// The session-store component for Node: the synchronous transpilation (Node 20 has no
// JSPI: a call that waits, for the libSQL server or another instance's lock, blocks the
// thread), its core modules (shared with dist/jspi/) compiled once per process.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { instantiate } from './dist/sync/libsqlstore.js';
import { StorePool } from './pool.js';
import { readPoolSettings } from './sessions.js';

export { instantiate };

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
 * A pool of component instances with the environment `env` (SESSIONS_* strings for the
 * component, EDGE_POOL_SIZE and EDGE_POOL_WAIT for the pool unless `size` / `waitMs` are
 * given; default: process.env). Calls are synchronous here: an instance blocks the thread
 * for its whole call, so more than one instance serves no more requests at once, and the
 * size defaults to 1. `dataDir`, a host directory, is preopened as /data for a database
 * file (`SESSIONS_DATABASE=/data/sessions.db`; one writer at a time: keep the size at 1 and
 * one process per file). Throws a SettingsError for a malformed pool setting.
 */
export function createStorePool(env = process.env, { size, waitMs, dataDir } = {}) {
  const storeEnv = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('SESSIONS_') && typeof v === 'string'));
  const preopens = dataDir ? { '/data': resolve(dataDir) } : {};
  const pool = readPoolSettings(env);
  return new StorePool({
    instantiate,
    getCoreModule,
    env: storeEnv,
    size: size ?? pool.size ?? 1,
    waitMs: waitMs ?? pool.waitMs,
    preopens,
    adaptImports: adaptFilesystem,
  });
}
