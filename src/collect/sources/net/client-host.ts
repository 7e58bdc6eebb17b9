import { lookupService } from 'node:dns/promises';

/**
 * Client address helpers for the clientIPHeader / clientHostnameHeader options. Reverse lookups
 * use the system resolver (so /etc/hosts counts), are cached and bounded in time; on failure the
 * address itself is used, as Java's getCanonicalHostName does.
 */
const LOOKUP_TIMEOUT_MS = 2000;
const CACHE_MAX = 1024;
const cache = new Map<string, Promise<string>>();

export function plainAddress(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

export function hostnameOf(ip: string): Promise<string> {
  let p = cache.get(ip);
  if (!p) {
    const timeout = new Promise<string>((r) => setTimeout(() => r(ip), LOOKUP_TIMEOUT_MS).unref());
    p = Promise.race([lookupService(ip, 0).then((r) => r.hostname, () => ip), timeout]);
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(ip, p);
  }
  return p;
}
