// The store pool's bound, wait and refusal (../../../packages/libsqlstore-js/test/pool.js) under workerd.
import { poolSuite } from '../../../packages/libsqlstore-js/test/pool.js';

poolSuite('workers');
