// Builds what the Deno server needs (see ../../edge-js/build.js): the component, its JSPI
// transpilation in build/libsqlstore/, and dist/: main.js, the server bundled as one ES
// module, with the core WebAssembly modules beside it (compiled when the server starts).
import * as esbuild from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, copyCoreModules, ensureComponent, transpile } from '../../edge-js/build.js';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const transpiled = join(here, 'build', 'libsqlstore');
const dist = join(here, 'dist');
const names = transpile({ component: ensureComponent(), jco: join(here, 'node_modules', '.bin', 'jco'), outDir: transpiled });
await bundle({
  esbuild,
  entry: join(here, 'src', 'main.js'),
  outfile: join(dist, 'main.js'),
  inputs: [join(here, 'src'), transpiled],
  nodeModules: join(here, 'node_modules'),
  conditions: ['deno', 'browser'],
});
copyCoreModules(names, transpiled, dist);
