import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured logs go to stderr so stdout stays free for data (consume, --check output). */
export function createLogger(name: string, level = process.env.MONSOON_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

export const silentLogger: Logger = pino({ level: 'silent' });
