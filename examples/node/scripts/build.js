// Builds what the Node example needs: the libsqlstore package it installed from
// packages/libsqlstore-js (its dist/: the jco transpilations of the session-store component,
// LIBSQLSTORE_COMPONENT or the repository's), redone only when the component is newer.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePackage } from '../../lib/edge-build.js';

ensurePackage(join(dirname(fileURLToPath(import.meta.url)), '..'));
