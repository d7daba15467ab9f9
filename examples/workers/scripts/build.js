// Builds what the Worker needs (see ../../lib/edge-build.js): the component, its JSPI
// transpilation in build/libsqlstore/, and dist/: worker.js, the Worker bundled as one ES
// module, with the core WebAssembly modules beside it as module imports. Checks that
// config.capnp names exactly the core modules the transpilation wrote.
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExample } from '../../lib/edge-build.js';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const names = await buildExample({
  dir: here,
  entry: 'worker.js',
  esbuild,
  conditions: ['workerd', 'worker', 'browser'],
  external: ['cloudflare:*'],
  minify: true,
});

const config = readFileSync(join(here, 'config.capnp'), 'utf8');
const listed = [...config.matchAll(/wasm = embed "dist\/([^"]+)"/g)].map((m) => m[1]).sort();
if (listed.join() !== names.join()) {
  console.error(`config.capnp embeds the core modules ${listed.join(', ')}, but jco wrote ${names.join(', ')}: update its modules list`);
  process.exit(1);
}
