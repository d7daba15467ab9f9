// The package as a user gets it: `npm pack` of packages/libsqlstore-js, installed with hono
// into an empty temporary directory, and a small Hono app written from the README, served by
// workerd (bundled with esbuild, the core modules as `wasm` modules of its config) or by Deno
// (run straight from node_modules). Nothing of the repository is reachable from the app: a
// file the tarball leaves out, or an import that resolves only inside the repository, fails
// here. The runtimes' binaries are the examples' (examples/workers, examples/deno).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPONENT, request } from './hosts.js';
import { idOf } from './sqld.js';

const PKG = fileURLToPath(new URL('../', import.meta.url));
const EXAMPLES = join(PKG, '..', '..', 'examples');
export const WORKERD = join(EXAMPLES, 'workers', 'node_modules', '.bin', 'workerd');
export const ESBUILD = join(EXAMPLES, 'workers', 'node_modules', '.bin', 'esbuild');
export const DENO = join(EXAMPLES, 'deno', 'node_modules', '.bin', 'deno');

/** Our environment without npm's lifecycle variables (`npm test`'s flags must not reach npm pack/install). */
function cleanEnv(env = {}) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && !k.startsWith('SESSIONS_') && !k.startsWith('EDGE_')),
  );
  return { ...base, LIBSQLSTORE_COMPONENT: COMPONENT, ...env };
}

function run(command, args, cwd) {
  try {
    return execFileSync(command, args, { cwd, env: cleanEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

// The routes the tests drive, the same in every runtime's app.
const ROUTES = `const app = new Hono();
app.use(sessionMiddleware({ pool, lifetime: '1h' }));
app.onError(sessionErrorHandler());
app.get('/put', (c) => {
  c.get('session').put('message', c.req.query('message'));
  return c.text('stored');
});
app.get('/get', (c) => c.text(c.get('session').get('message') ?? ''));
app.post('/destroy', (c) => {
  c.get('session').destroy();
  return c.text('destroyed');
});
`;

const APPS = {
  workerd: `import { Hono } from 'hono';
import { scheduledSweep, sessionErrorHandler, sessionMiddleware } from 'libsqlstore/hono';
import { createStorePool } from 'libsqlstore/workerd';

let storePool;
const poolOf = (env) => (storePool ??= createStorePool(env));
const pool = (c) => poolOf(c.env);
${ROUTES}
export default { fetch: app.fetch, scheduled: scheduledSweep(poolOf) };
`,
  deno: `import { Hono } from 'hono';
import { sessionErrorHandler, sessionMiddleware } from 'libsqlstore/hono';
import { createStorePool } from 'libsqlstore/deno';

const pool = createStorePool(); // SESSIONS_* from Deno's environment
${ROUTES}
Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }) => console.log(\`listening on http://127.0.0.1:\${port}\`) }, app.fetch);
`,
};

/**
 * Packs the package (its prepack builds dist/ when stale) and installs the tarball and hono
 * into a fresh temporary directory, removed when test `t` ends. Resolves with the directory.
 */
export function installPacked(t) {
  const dir = mkdtempSync(join(tmpdir(), 'libsqlstore-tarball-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const packs = join(dir, 'packs');
  const app = join(dir, 'app');
  for (const d of [packs, app]) run('mkdir', ['-p', d], dir);
  run('npm', ['pack', '--pack-destination', packs, '--loglevel=error'], PKG);
  const tarballs = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`npm pack wrote ${tarballs.join(', ') || 'nothing'}`);
  // A package.json of its own: npm installs here, not into a parent directory's project.
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'tarball-app', private: true, type: 'module' })}\n`);
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline', join(packs, tarballs[0]), 'hono'], app);
  return app;
}

/** Spawns a server; resolves with `{ url, output }` once it has announced its port. Killed when `t` ends. */
function serve(t, command, args, { cwd, env, stdio, announce }) {
  const child = spawn(command, args, { cwd, env: cleanEnv(env), stdio });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (d) => (output += d));
  t.after(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    announce(child, (port) => resolve({ url: `http://127.0.0.1:${port}`, output: () => output }));
    child.once('exit', (code, signal) => reject(new Error(`${command} exited (${code ?? signal}) before it listened:\n${output}`)));
  });
}

/**
 * Writes the workerd app into the installed directory `app`, bundles it with esbuild (the
 * `.wasm` imports kept, the core modules copied beside the bundle and listed in the config)
 * and serves it with workerd against `database`.
 */
export async function serveWorkerd(t, app, database) {
  writeFileSync(join(app, 'worker.js'), APPS.workerd);
  run(ESBUILD, [
    'worker.js', '--bundle', '--format=esm', '--platform=neutral', '--conditions=workerd,worker,browser',
    '--main-fields=module,main', '--external:*.wasm', '--outdir=dist', '--log-level=warning',
  ], app);
  const jspi = join(app, 'node_modules', 'libsqlstore', 'dist', 'jspi');
  const wasm = readdirSync(jspi).filter((f) => f.endsWith('.wasm'));
  for (const name of wasm) run('cp', [join(jspi, name), join(app, 'dist', name)], app);
  const modules = [
    '(name = "worker.js", esModule = embed "dist/worker.js")',
    ...wasm.map((name) => `(name = "${name}", wasm = embed "dist/${name}")`),
  ];
  writeFileSync(
    join(app, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "app", worker = .app),
    (name = "network", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "app")],
);
const app :Workerd.Worker = (
  modules = [${modules.join(', ')}],
  compatibilityDate = "2026-11-01",
  bindings = [(name = "SESSIONS_DATABASE", fromEnvironment = "SESSIONS_DATABASE")],
  globalOutbound = "network",
);
`,
  );
  return serve(t, WORKERD, ['serve', 'config.capnp', '--control-fd', '3'], {
    cwd: app,
    env: { SESSIONS_DATABASE: database },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    // workerd reports {"event":"listen","socket":"http","port":N} on the control descriptor.
    announce(child, ready) {
      let control = '';
      child.stdio[3].on('data', (d) => {
        control += d;
        const port = control.match(/"socket":"http","port":(\d+)/)?.[1];
        if (port) ready(port);
      });
    },
  });
}

/** Writes the Deno app into `app` and runs it from there (no bundle), reading only the package's dist/. */
export async function serveDeno(t, app, database) {
  writeFileSync(join(app, 'main.js'), APPS.deno);
  const allowRead = `--allow-read=${join(app, 'node_modules', 'libsqlstore', 'dist')}`;
  return serve(t, DENO, ['run', '--quiet', '--no-prompt', '--allow-net', '--allow-env', allowRead, 'main.js'], {
    cwd: app,
    env: { SESSIONS_DATABASE: database, DENO_NO_UPDATE_CHECK: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    announce(child, ready) {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const port = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/)?.[1];
        if (port) ready(port);
      });
    },
  });
}

/**
 * Over HTTP against the app at `url`: a put, read back with its cookie; then POST /destroy,
 * which clears the cookie, ends the token and deletes the row from `sqld`.
 */
export async function putGetDestroy(url, sqld) {
  const put = await request(url, '/put?message=from-the-tarball');
  assert.equal(put.status, 200, put.body);
  assert.match(put.setCookie ?? '', /^session=[^;]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/);
  assert.deepEqual(await sqld.ids(), [idOf(put.token)], 'the session is in the server');
  const get = await request(url, '/get', { token: put.token });
  assert.deepEqual([get.status, get.body], [200, 'from-the-tarball']);

  const destroyed = await request(url, '/destroy', { token: put.token, method: 'POST' });
  assert.deepEqual([destroyed.status, destroyed.body], [200, 'destroyed']);
  assert.match(destroyed.setCookie ?? '', /^session=; .*Max-Age=0/, 'the cookie is cleared');
  assert.deepEqual(await sqld.ids(), [], 'the row is gone');
  assert.equal((await request(url, '/get', { token: put.token })).body, '', 'the old token finds nothing');
}
