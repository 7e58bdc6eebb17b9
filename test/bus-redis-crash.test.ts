import { openRedisBus } from '../src/bus/redis/redis.js';
import { groupCrashSuite } from './bus/group-crash-suite.js';
import { startRedis } from './support/redis.js';

groupCrashSuite('redis', 'Redis bus', () => startRedis(), (url) => openRedisBus(url, { retentionCheckMs: 0, sessionTimeoutMs: 600, heartbeatMs: 100 }));
