// Builds the package's dist/: the session-store component (LIBSQLSTORE_COMPONENT, or the
// repository's target/wasm32-wasip2/release/libsqlstore.wasm) transpiled by jco twice:
//
// - dist/jspi/: for every runtime with JSPI (Cloudflare Workers / workerd, Deno, Bun, Node
//   with JSPI): every store and sweeper export async through JSPI (`--async-mode jspi
//   --async-wasi-imports`), so the component's WASI calls that wait (the libSQL server's HTTP
//   requests, timers) suspend it instead of blocking the runtime's only thread; no Node
//   fallbacks. By jco 1.15 (the dev dependency `jco-lean`), whose glue calls an import
//   without jco 1.35's per-call task bookkeeping: under workerd a find took 0.73 ms of CPU
//   with it against 1.38 ms with 1.35's (the same core modules). `core-modules.js` imports
//   each core module as a `.wasm` module (Workers compile WebAssembly only ahead of time,
//   from module imports).
// - dist/sync/: for Node without JSPI (Node 20): synchronous exports, Node's preview2-shim,
//   by jco 1.35. Its core modules are the same bytes as jspi/'s, loaded from there.
//
// What is transpiled is the component narrowed by wac to the calls this package makes:
// `store` of STORE_VERSION and `sweeper` of SWEEPER_VERSION (the component also exports
// `store` 0.2.2, which jco would type under the same name as 0.3.0's). The two interfaces
// use two versions of `edge:sessions/types`, which jco also types as one file,
// `interfaces/edge-sessions-types.d.ts`, holding one version's declarations: it is replaced
// by the union (STORE_VERSION's, plus those only SWEEPER_VERSION's has, `SweepReport`),
// generated from the repository's WIT for the store alone (see `typesOfStore`). At run time the
// types interfaces are nothing (they hold no functions).
// Both with `--instantiation async`: the host passes the core modules and the WASI imports
// (a sandbox holding only SESSIONS_* variables). jco writes TypeScript typings beside each.
// Redone only when the component (or this script, or the WIT) is newer than the output. Run by `npm run build` and by
// `npm pack` (prepack); the examples run it through their own build scripts.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(pkg, '..', '..');
const dist = join(pkg, 'dist');

/** The WIT package of the component's exports; every export is transpiled as async for JSPI. */
const WIT_PACKAGE = 'edge:sessions';
const STORE_VERSION = '0.3.0';
const SWEEPER_VERSION = '0.2.2';
const STORE = `${WIT_PACKAGE}/store@${STORE_VERSION}`;
const SWEEPER = `${WIT_PACKAGE}/sweeper@${SWEEPER_VERSION}`;
const STORE_EXPORTS = [
  'find', 'create', 'insert', 'commit', 'update', 'touch', 'set-label', 'delete', 'page', 'stats',
  'set-owner', 'sessions-of', 'revoke-owner', 'revoke', 'rotate', 'write-all',
];
const SWEEPER_EXPORTS = ['sweep', 'cleanup-interval'];

const log = (message) => console.error(`==> ${message}`);

/** The component to transpile: LIBSQLSTORE_COMPONENT, or the repository's, built with cargo. */
function ensureComponent() {
  let component = process.env.LIBSQLSTORE_COMPONENT;
  if (!component) {
    component = join(root, 'target', 'wasm32-wasip2', 'release', 'libsqlstore.wasm');
    if (!existsSync(join(root, 'Cargo.toml'))) throw new Error('set LIBSQLSTORE_COMPONENT to the session-store component (libsqlstore.wasm)');
    log('building the session-store component');
    execFileSync(join(root, 'dev'), ['setup'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    execFileSync('cargo', ['build', '--quiet', '--release', '--target', 'wasm32-wasip2'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  if (!existsSync(component)) throw new Error(`no session-store component at ${component}; build it with ./dev build`);
  return component;
}

/**
 * The jco of the dev dependency `name` (by path: two jco versions are installed, and
 * node_modules/.bin/jco names either).
 */
function findJco(name) {
  const manifest = join(pkg, 'node_modules', name, 'package.json');
  if (existsSync(manifest)) return join(pkg, 'node_modules', name, JSON.parse(readFileSync(manifest, 'utf8')).bin.jco);
  throw new Error(`${name} is not installed: run npm install in ${pkg}`);
}

/**
 * jco 1.35 types an export named after a reserved word (the store's `delete`) as
 * `export { _delete as delete }; function _delete(…)`: a top-level declaration without
 * `declare`, which tsc refuses (TS1046) in every project that does not skip library checks.
 * Adds the `declare`.
 */
function fixTypings(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) fixTypings(path);
    else if (entry.name.endsWith('.d.ts')) {
      const text = readFileSync(path, 'utf8');
      const fixed = text.replace(/^function /gm, 'declare function ');
      if (fixed !== text) writeFileSync(path, fixed);
    }
  }
}

/** wac (wac-cli 0.12): on PATH, or where `cargo install` puts it. */
function findWac() {
  for (const wac of ['wac', join(process.env.CARGO_HOME || join(homedir(), '.cargo'), 'bin', 'wac')]) {
    try {
      execFileSync(wac, ['--version'], { stdio: 'ignore' });
      return wac;
    } catch {
      // not this one
    }
  }
  throw new Error('wac is not installed: cargo install --locked --no-default-features wac-cli@0.12.0');
}

/**
 * Calls `use` with `component` narrowed by wac to the `interfaces` it names (a temporary
 * file, removed afterwards).
 */
function withSelectedExports(component, interfaces, use) {
  const dir = join(tmpdir(), `libsqlstore-js-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const script = join(dir, 'select.wac');
    const selected = join(dir, 'libsqlstore.wasm');
    writeFileSync(
      script,
      [
        'package libsqlstore:js;',
        'let store = new libsqlstore:component { ... };',
        ...interfaces.map((name) => `export store["${name}"];`),
        '',
      ].join('\n'),
    );
    execFileSync(findWac(), ['compose', script, '--dep', `libsqlstore:component=${component}`, '-o', selected], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return use(selected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TYPES_FILE = join('interfaces', 'edge-sessions-types.d.ts');

/** The repository's WIT of STORE_VERSION, and of 0.2.2, which the 0.3 package lists as a dependency. */
const WIT_FILES = [join(root, 'wit', 'v0.3', 'sessions.wit'), join(root, 'wit', 'sessions.wit')];

/**
 * The top-level declarations of a jco typings file (its `@module` line left out): name →
 * lines, each with the doc comment before it.
 */
function declarations(text) {
  const blocks = new Map();
  let comment;
  let current;
  for (const line of text.split('\n').slice(1)) {
    if (line.startsWith('export ')) {
      const name = /^export (?:type|interface|function|class|const) (\w+)/.exec(line)?.[1];
      if (!name) throw new Error(`unexpected declaration in jco's typings: ${line}`);
      current = [...(comment ?? []), line];
      comment = undefined;
      blocks.set(name, current);
    } else if (line.startsWith('/**') || comment) {
      (comment ??= []).push(line);
    } else if (line !== '') {
      current?.push(line);
    }
  }
  return blocks;
}

/**
 * The typings of `edge:sessions/types` of STORE_VERSION, from the repository's WIT (the
 * interface's truth): `jco types` (jco-lean's; 1.35's cannot read WIT files here) of a
 * world exporting that store alone.
 */
function typesOfStore() {
  const [v03, v02] = WIT_FILES;
  if (!existsSync(v03)) throw new Error(`no WIT at ${v03}: the package is built from the repository`);
  const dir = join(tmpdir(), `libsqlstore-js-types-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  try {
    mkdirSync(join(dir, 'wit', 'deps'), { recursive: true });
    copyFileSync(v03, join(dir, 'wit', 'deps', 'sessions-0.3.wit'));
    copyFileSync(v02, join(dir, 'wit', 'deps', 'sessions-0.2.wit'));
    writeFileSync(join(dir, 'wit', 'typings.wit'), `package libsqlstore:typings;\n\nworld store {\n  export ${STORE};\n}\n`);
    execFileSync(process.execPath, [findJco('jco-lean'), 'types', join(dir, 'wit'), '-o', join(dir, 'out'), '--quiet', '-n', 'store'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return readFileSync(join(dir, 'out', TYPES_FILE), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Replaces the one `edge:sessions/types` typings file jco wrote in `dir` (for both versions)
 * by `storeTypes` plus the declarations only the other version has (the sweeper's).
 */
function mergeTypes(dir, storeTypes) {
  const path = join(dir, TYPES_FILE);
  const store = declarations(storeTypes);
  const extra = [...declarations(readFileSync(path, 'utf8'))].filter(([name]) => !store.has(name)).map(([, lines]) => lines);
  const header = `/** @module Interface ${WIT_PACKAGE}/types@${STORE_VERSION}, with what ${SWEEPER} uses of ${WIT_PACKAGE}/types@${SWEEPER_VERSION} **/`;
  writeFileSync(path, `${[header, ...[...store.values(), ...extra].map((lines) => lines.join('\n'))].join('\n')}\n`);
}

function transpile(component, outDir, flags, jco = '@bytecodealliance/jco', storeTypes = undefined) {
  // Into a fresh directory first: a failed run leaves the previous output whole.
  const tmp = `${outDir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  execFileSync(process.execPath, [findJco(jco), 'transpile', component, '-o', tmp, '--name', 'libsqlstore', '--quiet', '--instantiation', 'async', ...flags], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  fixTypings(tmp);
  if (storeTypes !== undefined) mergeTypes(tmp, storeTypes);
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
}

const component = ensureComponent();
const stamp = join(dist, 'component.json');
const size = statSync(component).size;
const inputs = [component, fileURLToPath(import.meta.url), ...WIT_FILES.filter((path) => existsSync(path))];
const fresh =
  existsSync(stamp) &&
  inputs.every((input) => statSync(stamp).mtimeMs >= statSync(input).mtimeMs) &&
  existsSync(join(dist, 'jspi', 'core-modules.js')) &&
  existsSync(join(dist, 'sync', 'libsqlstore.js'));
if (!fresh) {
  mkdirSync(dist, { recursive: true });
  let names;
  const storeTypes = typesOfStore();
  withSelectedExports(component, [STORE, SWEEPER], (selected) => {
    log(`transpiling ${component} with jco-lean (JSPI)`);
    const asyncExports = [...STORE_EXPORTS.map((f) => `${STORE}#${f}`), ...SWEEPER_EXPORTS.map((f) => `${SWEEPER}#${f}`)];
    const jspiFlags = ['--no-nodejs-compat', '--async-mode', 'jspi', '--async-wasi-imports', '--async-exports', ...asyncExports];
    transpile(selected, join(dist, 'jspi'), jspiFlags, 'jco-lean', storeTypes);
    names = readdirSync(join(dist, 'jspi')).filter((f) => f.endsWith('.wasm')).sort();
    const lines = names.map((name, i) => `import m${i} from './${name}';`);
    lines.push(`export default { ${names.map((name, i) => `'${name}': m${i}`).join(', ')} };`);
    writeFileSync(
      join(dist, 'jspi', 'core-modules.js'),
      `// Generated by scripts/build.js: the core modules as module imports, compiled by the runtime.\n${lines.join('\n')}\n`,
    );
    writeFileSync(
      join(dist, 'jspi', 'core-modules.d.ts'),
      `declare const coreModules: Record<string, WebAssembly.Module>;\nexport default coreModules;\n`,
    );
    log(`transpiling ${component} with jco (synchronous, for Node)`);
    transpile(selected, join(dist, 'sync'), [], undefined, storeTypes);
    // Both transpilations extract the same core modules: the package ships one copy, in jspi/.
    for (const name of names) {
      const [a, b] = ['jspi', 'sync'].map((d) => readFileSync(join(dist, d, name)));
      if (!a.equals(b)) throw new Error(`jco wrote different ${name} for jspi/ and sync/: ship both`);
      rmSync(join(dist, 'sync', name));
    }
  });
  writeFileSync(stamp, `${JSON.stringify({ component: 'libsqlstore.wasm', bytes: size, coreModules: names })}\n`);
}
