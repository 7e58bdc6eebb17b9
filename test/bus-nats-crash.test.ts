import { openNatsBus } from '../src/bus/nats/nats.js';
import { groupCrashSuite } from './bus/group-crash-suite.js';
import { startNats } from './support/nats.js';

groupCrashSuite('nats', 'NATS bus', () => startNats(), (url) => openNatsBus(url, { sessionTimeoutMs: 1500, heartbeatMs: 100 }));
