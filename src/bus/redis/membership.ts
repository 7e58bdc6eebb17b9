import { randomBytes } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import { rangeAssign, type GroupMember } from '../embedded/group.js';

/**
 * Consumer-group membership shared through Redis, so consumers of one group in different processes
 * (or machines) split the partitions. Each member heartbeats into a sorted set scored by its expiry
 * (the server's clock, via TIME in the script); members whose heartbeats stop — a crashed process —
 * expire after `sessionTimeoutMs` and the survivors take their partitions over from the committed
 * offsets. Every member computes the same plan (Kafka's range assignor over the live members in
 * member-id order, ids sorting in join order). Handover is not fenced: until the previous owner's
 * next heartbeat, both may read a partition (duplicates, never loss, since each commits only what it
 * read past the offset it started from). A member that cannot heartbeat for a whole session gives up
 * its partitions itself.
 *
 *   <prefix>::members:<g>   sorted set: member id → expiry (ms)
 *   <prefix>::subs:<g>      hash: member id → topics (JSON)
 */
export const HEARTBEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
if ARGV[1] ~= '' then
  if ARGV[4] == 'leave' then
    redis.call('ZREM', KEYS[1], ARGV[1])
    redis.call('HDEL', KEYS[2], ARGV[1])
  else
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
    redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
    redis.call('PEXPIRE', KEYS[2], 2 * tonumber(ARGV[2]))
  end
end
return redis.call('HGETALL', KEYS[2])
`;

export interface MembershipOptions {
  prefix: string;
  sessionTimeoutMs: number;
  heartbeatMs: number;
  cmd<T>(args: ReadonlyArray<string>): Promise<T>;
  partitionsOf(topic: string): number;
  log: Logger;
}

interface Local {
  group: string;
  timer: NodeJS.Timeout;
  lastBeat: number;
}

export class RedisMembership {
  private readonly local = new Map<GroupMember, Local>();

  constructor(private readonly o: MembershipOptions) {}

  /** A member id that sorts in join order across processes. */
  nextMemberId(group: string): string {
    return `${group}-${Date.now().toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
  }

  async join(group: string, m: GroupMember): Promise<void> {
    const timer = setInterval(() => {
      this.beat(m).catch((e: unknown) => this.o.log.warn({ err: e }, `Redis bus: heartbeat of consumer ${m.id} failed.`));
    }, this.o.heartbeatMs);
    timer.unref();
    this.local.set(m, { group, timer, lastBeat: Date.now() });
    await this.beat(m);
    await this.resyncGroup(group, m);
  }

  async leave(group: string, m: GroupMember): Promise<void> {
    const l = this.local.get(m);
    if (l) clearInterval(l.timer);
    this.local.delete(m);
    await this.run(group, m.id, m.topics, 'leave').catch((e: unknown) => this.o.log.warn({ err: e }, `Redis bus: consumer ${m.id} could not leave group ${group}; it expires after the session timeout.`));
    await this.resyncGroup(group);
  }

  members(group: string): GroupMember[] {
    return [...this.local].filter(([, l]) => l.group === group).map(([m]) => m);
  }

  all(): GroupMember[] {
    return [...this.local.keys()];
  }

  /** Members subscribed to a deleted topic drop its partitions now (their counts are gone). */
  async topicGone(topic: string): Promise<void> {
    await Promise.all(this.all().filter((m) => m.topics.includes(topic)).map((m) => this.beat(m).catch(() => {})));
  }

  /** Other members of the group in this process see a join or leave at once, not at their next beat. */
  private async resyncGroup(group: string, except?: GroupMember): Promise<void> {
    await Promise.all(this.members(group).filter((m) => m !== except).map((m) => this.beat(m).catch(() => {})));
  }

  private async beat(m: GroupMember): Promise<void> {
    const l = this.local.get(m);
    if (!l) return;
    try {
      const plan = await this.run(l.group, m.id, m.topics, 'beat');
      l.lastBeat = Date.now();
      if (this.local.has(m)) m.assign(plan);
    } catch (e) {
      // Others expire this member after the session timeout; stop reading before they take over.
      if (Date.now() - l.lastBeat >= this.o.sessionTimeoutMs) m.assign([]);
      throw e;
    }
  }

  private async run(group: string, id: string, topics: readonly string[], what: 'beat' | 'leave') {
    const flat = await this.o.cmd<string[]>([
      'EVAL', HEARTBEAT_LUA, '2', `${this.o.prefix}::members:${group}`, `${this.o.prefix}::subs:${group}`,
      id, String(this.o.sessionTimeoutMs), JSON.stringify(topics), what,
    ]);
    const members: Array<{ id: string; topics: string[] }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) members.push({ id: flat[i]!, topics: JSON.parse(flat[i + 1]!) as string[] });
    return rangeAssign(members, (t) => this.o.partitionsOf(t)).get(id) ?? [];
  }
}
