// Builds what the Deno server needs (see ../../lib/edge-build.js): the component, its JSPI
// transpilation in build/libsqlstore/, and dist/: main.js, the server bundled as one ES
// module, with the core WebAssembly modules beside it (compiled when the server starts).
import * as esbuild from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExample } from '../../lib/edge-build.js';

await buildExample({
  dir: join(dirname(fileURLToPath(import.meta.url)), '..'),
  entry: 'main.js',
  esbuild,
  conditions: ['deno', 'browser'],
});
