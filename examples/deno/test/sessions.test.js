// The shared edge behaviour (../../../packages/libsqlstore-js/test/suite.js) with the Deno server.
import { sessionSuite } from '../../../packages/libsqlstore-js/test/suite.js';

sessionSuite('deno');
