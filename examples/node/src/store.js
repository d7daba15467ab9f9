// The session-store component in Node, transpiled by jco (scripts/build.js): one long-lived
// instance per `openStore`, in a WASI sandbox that holds exactly one preopened directory
// (the data directory, seen as /data) and only the SESSIONS_* variables it is given: the
// host process's other files and environment stay out of reach. The instance comes wrapped
// as the SessionStore every JavaScript host uses (../../edge-js/store.js).
//
// The component's calls are synchronous here (no JSPI): one that must wait for another
// instance's lock on the database (SESSIONS_BUSY_TIMEOUT) blocks this thread for that long.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { clocks } from '@bytecodealliance/preview2-shim';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { instantiate } from '../dist/libsqlstore/libsqlstore.js';
import { SessionStore } from '../../edge-js/store.js';
import { HostClock } from './clock.js';

/** Where the data directory appears inside the component. */
export const GUEST_DATA_DIR = '/data';

const coreModules = new Map();

/** Compiles each core module of the transpiled component once per process. */
function coreModule(name) {
  if (!coreModules.has(name)) {
    const url = new URL(`../dist/libsqlstore/${name}`, import.meta.url);
    coreModules.set(name, readFile(url).then((bytes) => WebAssembly.compile(bytes)));
  }
  return coreModules.get(name);
}

const adapted = Symbol('libsqlstore.openAtAdapted');

/**
 * wasi-libc sets `mutate-directory` on every writable open, as the WASI filesystem spec
 * suggests for POSIX compatibility; wasmtime ignores it on files, but preview2-shim 0.26
 * refuses such opens as `unsupported`, so SQLite could not open its database. The flag only
 * asks for the directory's write permission, which a read-write preopen already grants, so
 * it is dropped before the shim sees it.
 */
function adaptOpenAt(Descriptor) {
  if (Descriptor.prototype[adapted]) return;
  const openAt = Descriptor.prototype.openAt;
  Descriptor.prototype.openAt = function (pathFlags, path, openFlags, descriptorFlags) {
    return openAt.call(this, pathFlags, path, openFlags, { ...descriptorFlags, mutateDirectory: false });
  };
  Descriptor.prototype[adapted] = true;
}

/**
 * Opens a store.
 * @param {object} options
 * @param {string} [options.dataDir] host directory preopened as /data (omit for :memory: or a server URL)
 * @param {Record<string,string>} [options.env] the component's whole environment (SESSIONS_*)
 * @param {HostClock} [options.clock] the wall clock the component sees
 */
export async function openStore({ dataDir, env = {}, clock = new HostClock() } = {}) {
  const database = env.SESSIONS_DATABASE ?? '';
  const shim = new WASIShim({
    clocks: { monotonicClock: clocks.monotonicClock, wallClock: clock.wallClock() },
    sandbox: {
      preopens: dataDir ? { [GUEST_DATA_DIR]: resolve(dataDir) } : {},
      env: { ...env },
      args: ['libsqlstore'],
      // Only a libSQL server URL needs the network.
      enableNetwork: database.includes('://'),
    },
  });
  const imports = shim.getImportObject();
  adaptOpenAt(imports['wasi:filesystem/types'].Descriptor);
  const instance = await instantiate(coreModule, imports);
  return new SessionStore(instance);
}
