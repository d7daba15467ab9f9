// The shared edge behaviour (../../edge-js/test/suite.js) with the Worker under workerd.
import { sessionSuite } from '../../edge-js/test/suite.js';

sessionSuite('workers');
