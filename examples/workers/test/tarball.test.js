// The package as npm publishes it, under workerd: `npm pack`, installed with hono into an
// empty directory, a Hono app from the README bundled with esbuild (../../../packages/libsqlstore-js/test/tarball.js).
import { test } from 'node:test';
import { startSqld } from '../../../packages/libsqlstore-js/test/sqld.js';
import { installPacked, putGetDestroy, serveWorkerd } from '../../../packages/libsqlstore-js/test/tarball.js';

test('the packed package, installed in an empty directory, serves Hono sessions from sqld under workerd', async (t) => {
  const sqld = await startSqld(t);
  const app = installPacked(t);
  const server = await serveWorkerd(t, app, sqld.url);
  await putGetDestroy(server.url, sqld);
});
