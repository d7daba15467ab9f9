// The shared edge behaviour (../../edge-js/test/suite.js) with the Deno server.
import { sessionSuite } from '../../edge-js/test/suite.js';

sessionSuite('deno');
