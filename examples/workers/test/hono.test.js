// The shared edge behaviour (../../../packages/libsqlstore-js/test/suite.js) with the routes
// served through the libsqlstore package's Hono middleware (EDGE_APP=hono).
import { sessionSuite } from '../../../packages/libsqlstore-js/test/suite.js';

sessionSuite('workers', { app: 'hono' });
