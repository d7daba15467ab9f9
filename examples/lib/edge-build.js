// Build steps shared by the JavaScript examples (run by Node from each example's
// scripts/build.js, with that example's own pinned esbuild):
//
// 1. the libsqlstore package (packages/libsqlstore-js, installed in the example as
//    `libsqlstore` from `file:`): its dist/, the jco transpilations of the session-store
//    component, built by the package's own build script (with its pinned jco) when missing
//    or older than the component (LIBSQLSTORE_COMPONENT, or the repository's, built with
//    cargo);
// 2. for the edge examples, dist/: the example's entry point bundled with esbuild into one
//    ES module, and the component's core modules copied beside it (the bundle keeps their
//    imports as `./NAME.wasm`: Workers compile them ahead of time as module imports).
// Each step is redone only when an input is newer than its output.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const log = (message) => console.error(`==> ${message}`);

/**
 * Builds the libsqlstore package the example in `dir` installed (its node_modules/libsqlstore,
 * a link to packages/libsqlstore-js), installing the package's own dev dependencies (jco,
 * and typescript for its typings test) first when they are missing. Returns the package's directory.
 */
export function ensurePackage(dir) {
  const link = join(dir, 'node_modules', 'libsqlstore');
  if (!existsSync(join(link, 'package.json'))) throw new Error(`${link} is missing: run npm install in ${dir}`);
  const pkg = realpathSync(link);
  const tools = ['jco', 'tsc'].map((bin) => join(pkg, 'node_modules', '.bin', bin));
  if (!tools.every((tool) => existsSync(tool))) {
    log(`installing the libsqlstore package's build tools (npm install in ${pkg})`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: pkg, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  execFileSync(process.execPath, [join(pkg, 'scripts', 'build.js')], { cwd: pkg, stdio: ['ignore', 'inherit', 'inherit'] });
  return pkg;
}

/** The core modules of the package's JSPI transpilation (their file names, sorted). */
export function coreModuleNames(pkg) {
  return JSON.parse(readFileSync(join(pkg, 'dist', 'component.json'), 'utf8')).coreModules;
}

/** The latest modification time (ms) of the `.js` files in `paths` (files or directories). */
function latestJs(paths) {
  let latest = 0;
  for (const path of paths) {
    if (!existsSync(path)) continue;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      const entries = readdirSync(path).filter((name) => name !== 'node_modules' && name !== 'test');
      latest = Math.max(latest, latestJs(entries.map((name) => join(path, name))));
    } else if (path.endsWith('.js')) {
      latest = Math.max(latest, stat.mtimeMs);
    }
  }
  return latest;
}

/**
 * Builds the edge example in directory `dir`: the package (step 1), then its entry point
 * `src/ENTRY` bundled as `dist/ENTRY` (step 2), resolving packages from the example's
 * node_modules; `.wasm` imports stay imports. `conditions` pick the preview2-shim's browser
 * build for the runtime; `minify` shrinks the upload (Workers limit a script's size).
 * Returns the names of the core modules (in dist/ beside the bundle).
 */
export async function buildExample({ dir, entry, esbuild, conditions, external = [], minify = false }) {
  const pkg = ensurePackage(dir);
  const names = coreModuleNames(pkg);
  const dist = join(dir, 'dist');
  const outfile = join(dist, entry);
  const inputs = [join(dir, 'src'), pkg, join(pkg, 'dist', 'jspi'), here];
  if (!existsSync(outfile) || statSync(outfile).mtimeMs < latestJs(inputs)) {
    await esbuild.build({
      entryPoints: [join(dir, 'src', entry)],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      conditions,
      mainFields: ['module', 'main'],
      // The package is a link to packages/libsqlstore-js: resolve its imports (hono, the shim)
      // from the example's node_modules, so the bundle holds one copy of each.
      preserveSymlinks: true,
      nodePaths: [join(dir, 'node_modules')],
      external: ['*.wasm', ...external],
      minify,
      legalComments: 'none',
      logLevel: 'warning',
    });
  }
  mkdirSync(dist, { recursive: true });
  for (const name of names) copyFileSync(join(pkg, 'dist', 'jspi', name), join(dist, name));
  return names;
}
