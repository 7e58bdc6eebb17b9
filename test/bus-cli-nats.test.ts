import { busCliSuite } from './bus/cli-suite.js';
import { startNats } from './support/nats.js';

busCliSuite('NATS JetStream', 'nats', () => startNats());
