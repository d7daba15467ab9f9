// The hosts under test as real processes on loopback ports: the Worker under workerd and the
// Deno server (each through its serve.sh, as a user runs it), and host-example; plus an
// HTTP client that speaks the session cookie.

import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));
const ROOT = join(EXAMPLES, '..');
export const COMPONENT =
  process.env.LIBSQLSTORE_COMPONENT ?? join(ROOT, 'target', 'wasm32-wasip2', 'release', 'libsqlstore.wasm');
export const HOST_EXAMPLE = process.env.HOST_EXAMPLE ?? join(ROOT, 'target', 'release', 'host-example');

/** The environment of a spawned host: ours without SESSIONS_* / EDGE_*, plus `env`. */
function hostEnv(env) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('SESSIONS_') && !k.startsWith('EDGE_')),
  );
  return { ...base, LIBSQLSTORE_COMPONENT: COMPONENT, ...env };
}

/**
 * Spawns `command args` and resolves once its stdout has printed a line for each pattern of
 * `ready` (first capture groups, in order). Killed with SIGKILL when the test ends, if alive.
 */
async function spawnReady(t, command, args, env, ready) {
  const child = spawn(command, args, { env: hostEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  t.after(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  const found = await new Promise((resolve, reject) => {
    const check = () => {
      const matches = ready.map((pattern) => output.match(pattern)?.[1]);
      if (matches.every((m) => m !== undefined)) resolve(matches);
    };
    child.stdout.on('data', check);
    child.once('exit', (code, signal) => reject(new Error(`${command} exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
  return {
    child,
    found,
    /** Everything it printed so far (stdout and stderr). */
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * Starts an edge example (`workers` or `deno`) with `serve.sh --listen 127.0.0.1:0
 * --database DATABASE`. Resolves with `url`, and for workers `scheduledUrl`.
 */
export async function startEdge(t, runtime, { database, env = {}, args = [] }) {
  const ready = [/listening on (http:\/\/\S+)/];
  if (runtime === 'workers') ready.push(/scheduled trigger on (http:\/\/\S+)/);
  const host = await spawnReady(
    t,
    join(EXAMPLES, runtime, 'serve.sh'),
    ['--listen', '127.0.0.1:0', '--database', database, ...args],
    env,
    ready,
  );
  return { ...host, url: host.found[0], scheduledUrl: host.found[1] };
}

/** Runs `serve.sh ARGS` of `runtime` expecting it to exit; resolves `{ code, output }`. */
export async function runServe(runtime, args, env = {}, timeoutMs = 60_000) {
  const child = spawn(join(EXAMPLES, runtime, 'serve.sh'), args, { env: hostEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  return { code, output };
}

/** Starts `host-example serve --database URL` on a free port. */
export async function startHostExample(t, database) {
  const dataDir = mkdtempSync(join(tmpdir(), 'libsqlstore-edge-host-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const host = await spawnReady(
    t,
    HOST_EXAMPLE,
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--database', database, '--component', COMPONENT],
    {},
    [/listening on (http:\/\/\S+)/],
  );
  return { ...host, url: host.found[0] };
}

/**
 * One request to `url + path`; `token` goes in the session cookie (or `cookie` verbatim),
 * `userAgent` in User-Agent. Resolves `{ status, body, setCookie, token, headers }`; `token`
 * is the cookie's new value.
 */
export async function request(url, path, { token, cookie, method = 'GET', body, userAgent } = {}) {
  const headers = {};
  if (userAgent !== undefined) headers['user-agent'] = userAgent;
  if (cookie !== undefined) headers.cookie = cookie;
  else if (token !== undefined) headers.cookie = `session=${token}`;
  // A host that never answers fails the test instead of hanging it.
  const signal = AbortSignal.timeout(30_000);
  const res = await fetch(url + path, { method, headers, body, duplex: body ? 'half' : undefined, signal });
  const text = await res.text();
  const setCookie = res.headers.get('set-cookie') ?? undefined;
  return { status: res.status, body: text, setCookie, token: setCookie?.match(/^session=([^;]*)/)?.[1], headers: res.headers };
}

/**
 * Starts a POST to `url` over a raw TCP connection announcing a body far larger than it
 * sends: a Content-Length of `declared` bytes, or (`chunked`) no length at all, followed by
 * `sent` zero bytes; then waits for the answer and resolves with its status (0 when the
 * server closes without one). The client never floods the connection, so a server that
 * answers early and closes cannot lose its answer to a reset.
 */
export function postOversized(url, { declared = 0, sent, chunked = false }) {
  const { hostname, port, pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${url} within 30 s`));
    }, 30_000);
    const done = (status) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(status);
    };
    socket.on('data', (d) => {
      answer += d;
      const status = answer.match(/^HTTP\/1\.1 (\d{3})/);
      if (status) done(Number(status[1]));
    });
    socket.on('close', () => done(0));
    socket.on('error', () => {});
    const length = chunked ? 'transfer-encoding: chunked' : `content-length: ${declared}`;
    socket.write(`POST ${pathname}${search} HTTP/1.1\r\nhost: ${hostname}\r\n${length}\r\n\r\n`);
    const body = Buffer.alloc(sent);
    socket.write(chunked ? Buffer.concat([Buffer.from(`${sent.toString(16)}\r\n`), body, Buffer.from('\r\n')]) : body);
  });
}
