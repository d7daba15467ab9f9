// Shared test fixtures: a temporary data directory, an in-process server over loopback,
// the sweeper on mock timers, the host program as a real child process, and SQLite's own
// integrity check.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { mock } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HostClock } from '../src/clock.js';
import { createSessionServer } from '../src/server.js';
import { openPool, openStore, storeOf } from '../src/store.js';
import { startSweeper } from '../src/sweeper.js';

export const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

/** A fresh directory, removed when the test ends. */
export function tempDir(t) {
  const dir = mkdtempSync(join(tmpdir(), 'libsqlstore-node-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The store's environment for a database file in the preopened data directory. */
export function fileEnv(extra = {}) {
  return { SESSIONS_DATABASE: '/data/sessions.db', ...extra };
}

/** Opens a store (a pool of its own) on `dataDir`; `clock` defaults to a fresh HostClock. */
export function open(dataDir, env = fileEnv(), clock = new HostClock()) {
  return openStore({ dataDir, env, clock });
}

/**
 * Serves the routes in this process on 127.0.0.1:0 (store env `env`); closed when the test
 * ends. `store` borrows from the server's pool; `logs` collects what the server logs.
 */
export async function startServer(t, { env = fileEnv(), lifetimeMs, idleTimeoutMs } = {}) {
  // A libSQL server URL needs no directory: then nothing is preopened.
  const dataDir = env.SESSIONS_DATABASE?.includes('://') ? undefined : tempDir(t);
  const clock = new HostClock();
  const pool = openPool({ dataDir, env, clock });
  await pool.warm();
  const logs = [];
  const server = createSessionServer({ pool, env, clock, lifetimeMs, idleTimeoutMs, log: (m) => logs.push(m) });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${server.address().port}`, clock, pool, store: storeOf(pool), dataDir, logs };
}

/**
 * Starts the sweeper on `store` under Node's mock setInterval (moved by mock.timers.tick);
 * both are undone when the test ends. Resolves `{ sweeper, swept, failed, errors }`: `swept`
 * resolves with the first sweep's report, `failed` with the kind of the first failed sweep
 * (a sweep waiting on a libSQL server ends after the tick that started it), `errors`
 * collects the kinds of failed sweeps.
 */
export async function startMockedSweeper(t, store) {
  mock.timers.enable({ apis: ['setInterval'] });
  t.after(() => mock.timers.reset());
  const errors = [];
  let onSweep;
  let onFailure;
  const swept = new Promise((resolve) => (onSweep = resolve));
  const failed = new Promise((resolve) => (onFailure = resolve));
  const onError = (e) => {
    errors.push(e.kind);
    onFailure(e.kind);
  };
  const sweeper = await startSweeper(store, { onSweep, onError });
  t.after(() => sweeper.stop());
  return { sweeper, swept, failed, errors };
}

/**
 * One request, GET unless `method` says otherwise (the routes that end, rotate or log in a
 * session answer POST only); `token` goes in the session cookie.
 */
export async function get(url, path, { token, cookie, method = 'GET' } = {}) {
  const headers = {};
  if (cookie !== undefined) headers.cookie = cookie;
  else if (token !== undefined) headers.cookie = `session=${token}`;
  const res = await fetch(url + path, { method, headers });
  const body = await res.text();
  const setCookie = res.headers.get('set-cookie') ?? undefined;
  return { status: res.status, body, setCookie, token: setCookie?.match(/^session=([^;]*)/)?.[1], headers: res.headers };
}

/** Starts `node src/main.js ARGS`; resolves with its URL once it prints "listening on". */
export async function spawnHost(t, args, env = {}) {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.exitCode === null && child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let stdout = '';
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`host exited (${code}) before listening: ${stderr}`)));
  });
  return { url, child, stderr: () => stderr };
}

/** Stops a spawned host with SIGTERM and waits for it to exit. */
export async function stopHost({ child }) {
  if (child.exitCode !== null) return child.exitCode;
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  return code;
}

/** SQLite's `PRAGMA integrity_check` on a database file (python3's sqlite3 module). */
export function integrityCheck(dbPath) {
  const script = 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])';
  return execFileSync('python3', ['-c', script, dbPath], { encoding: 'utf8' }).trim();
}
