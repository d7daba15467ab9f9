// Moved to packages/libsqlstore-js/test/sqld.js; this path stays for the edge app's Python
// tests (examples/edge-app/tests/sqld.py runs it to mint auth tokens).
import { argv } from 'node:process';
import { fileURLToPath } from 'node:url';
import { mintAuth } from '../../../packages/libsqlstore-js/test/sqld.js';

export * from '../../../packages/libsqlstore-js/test/sqld.js';

if (argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(mintAuth()));
