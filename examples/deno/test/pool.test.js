// The store pool's bound, wait and refusal (../../../packages/libsqlstore-js/test/pool.js) under Deno.
import { poolSuite } from '../../../packages/libsqlstore-js/test/pool.js';

poolSuite('deno');
