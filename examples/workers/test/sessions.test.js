// The shared edge behaviour (../../../packages/libsqlstore-js/test/suite.js) with the Worker under workerd.
import { sessionSuite } from '../../../packages/libsqlstore-js/test/suite.js';

sessionSuite('workers');
