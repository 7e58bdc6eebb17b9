import { busCliSuite } from './bus/cli-suite.js';
import { startRedis } from './support/redis.js';

busCliSuite('Redis Streams', 'redis', () => startRedis());
