// The hand-written typings (*.d.ts) and jco's (dist/) as a TypeScript user meets them:
// test/types/usage.ts uses every entry point as the README shows and is compiled by tsc
// (strict, library files checked) against the package's exports. Needs dist/ (npm run build)
// and the package's dev dependencies (typescript).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const PKG = fileURLToPath(new URL('../', import.meta.url));
const TSC = join(PKG, 'node_modules', '.bin', 'tsc');

test('the typings compile under tsc --strict for the README usage of every entry point', () => {
  assert.ok(existsSync(TSC), `${TSC} is missing: run npm install in ${PKG}`);
  const run = spawnSync(TSC, ['-p', join(PKG, 'test', 'types')], { cwd: PKG, encoding: 'utf8' });
  assert.equal(run.status, 0, `tsc found errors:\n${run.stdout}${run.stderr}`);
});
