// Builds what the Node example needs: the session-store component (unless
// LIBSQLSTORE_COMPONENT names a prebuilt one) and its jco transpilation in
// dist/libsqlstore/, redone only when the component is newer than the transpiled copy.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureComponent } from '../../edge-js/build.js';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'libsqlstore');
const transpiled = join(out, 'libsqlstore.js');

const component = ensureComponent();

if (!existsSync(transpiled) || statSync(component).mtimeMs > statSync(transpiled).mtimeMs) {
  console.error(`==> transpiling ${component} with jco`);
  rmSync(out, { recursive: true, force: true });
  const jco = join(here, '..', 'node_modules', '.bin', 'jco');
  // --instantiation async: the program supplies the WASI imports itself (a sandbox with
  // one preopen and only SESSIONS_* variables) instead of the shim's host-wide defaults.
  execFileSync(jco, ['transpile', component, '--instantiation', 'async', '--name', 'libsqlstore', '-o', out], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
