// The session-store component in Node, transpiled by jco (scripts/build.js): one long-lived
// instance per `openStore`, in a WASI sandbox that holds exactly one preopened directory
// (the data directory, seen as /data) and only the SESSIONS_* variables it is given: the
// host process's other files and environment stay out of reach. The instance comes wrapped
// as the SessionStore every JavaScript host uses (the libsqlstore package, whose
// libsqlstore/node entry holds the synchronous transpilation and the filesystem workaround).
//
// The component's calls are synchronous here (no JSPI): one that must wait for another
// instance's lock on the database (SESSIONS_BUSY_TIMEOUT) blocks this thread for that long.

import { resolve } from 'node:path';
import { clocks } from '@bytecodealliance/preview2-shim';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { SessionStore } from 'libsqlstore';
import { adaptFilesystem, getCoreModule, instantiate } from 'libsqlstore/node';
import { HostClock } from './clock.js';

/** Where the data directory appears inside the component. */
export const GUEST_DATA_DIR = '/data';

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
  adaptFilesystem(imports);
  const instance = await instantiate(getCoreModule, imports);
  return new SessionStore(instance);
}
