import { randomBytes } from 'node:crypto';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { rangeAssign, type GroupMember } from '../embedded/group.js';

/**
 * Consumer-group membership shared through a JetStream KV bucket, so consumers of one group in
 * several processes (or machines) split the partitions. One key per group holds the live members:
 * `{"<member id>": {"topics": [...], "beat": n}}`. Each process rewrites the key once per heartbeat
 * with a compare-and-set on the key's revision, bumping the beat counter of its own members. A
 * process judges another member alive while its counter keeps changing, timed on its own clock, so no
 * two machines' clocks are compared; a member whose counter stood still for `sessionTimeoutMs` (a
 * crashed process) is removed by whichever process rewrites the key next. Every process computes the
 * same plan from the same key value (Kafka's range assignor, ids sorting in join order), so the
 * survivors take a dead member's partitions over from the committed offsets.
 *
 * As with the Redis bus, handover is not fenced: until the previous owner's next heartbeat both may
 * read a partition (duplicates, never loss). A process that cannot write its heartbeat for a whole
 * session gives its partitions up itself.
 */
export interface MemberEntry {
  topics: string[];
  beat: number;
}
export type MembersDoc = Record<string, MemberEntry>;

/** The KV operations membership needs; `create`/`update` resolve false when another writer won. */
export interface MembersStore {
  get(group: string): Promise<{ doc: MembersDoc; revision: number } | null>;
  create(group: string, doc: MembersDoc): Promise<boolean>;
  update(group: string, doc: MembersDoc, revision: number): Promise<boolean>;
}

export interface MembershipOptions {
  store: MembersStore;
  sessionTimeoutMs: number;
  heartbeatMs: number;
  /** A topic's partition count (0 when the topic is gone). */
  partitions(topic: string): Promise<number>;
  log: Logger;
}

interface GroupState {
  members: Set<GroupMember>;
  timer: NodeJS.Timeout;
  /** Other processes' members: the beat last seen and when it changed (this process's clock). */
  seen: Map<string, { beat: number; at: number }>;
  lastWrite: number;
  chain: Promise<void>;
}

const CAS_ATTEMPTS = 20;

export class NatsMembership {
  private readonly groups = new Map<string, GroupState>();

  constructor(private readonly o: MembershipOptions) {}

  /** A member id that sorts in join order across processes. */
  nextMemberId(group: string): string {
    return `${group}-${Date.now().toString(36).padStart(9, '0')}-${randomBytes(4).toString('hex')}`;
  }

  async join(group: string, m: GroupMember): Promise<void> {
    let g = this.groups.get(group);
    if (!g) {
      const timer = setInterval(() => {
        this.beat(group).catch((e: unknown) => this.o.log.warn({ err: e }, `NATS bus: heartbeat of group ${group} failed.`));
      }, this.o.heartbeatMs);
      timer.unref();
      g = { members: new Set(), timer, seen: new Map(), lastWrite: Date.now(), chain: Promise.resolve() };
      this.groups.set(group, g);
    }
    g.members.add(m);
    try {
      await this.beat(group);
    } catch (e) {
      this.drop(group, m);
      throw e;
    }
  }

  async leave(group: string, m: GroupMember): Promise<void> {
    const g = this.groups.get(group);
    if (!g || !g.members.has(m)) return;
    g.members.delete(m);
    await this.beat(group, m.id).catch((e: unknown) => this.o.log.warn({ err: e }, `NATS bus: consumer ${m.id} could not leave group ${group}; the others drop it after the session timeout.`));
    if (g.members.size === 0 && this.groups.get(group) === g) {
      clearInterval(g.timer);
      this.groups.delete(group);
    }
  }

  all(): GroupMember[] {
    return [...this.groups.values()].flatMap((g) => [...g.members]);
  }

  /** The topics every live member of the group (in any process) subscribes to. */
  async subscribedTopics(group: string): Promise<string[]> {
    const cur = await this.o.store.get(group);
    return [...new Set(Object.values(cur?.doc ?? {}).flatMap((e) => e.topics))];
  }

  /** Members subscribed to a deleted topic drop its partitions now. */
  async topicGone(topic: string): Promise<void> {
    const affected = [...this.groups].filter(([, g]) => [...g.members].some((m) => m.topics.includes(topic)));
    await Promise.all(affected.map(([group]) => this.beat(group).catch(() => {})));
  }

  private drop(group: string, m: GroupMember): void {
    const g = this.groups.get(group);
    if (!g) return;
    g.members.delete(m);
    if (g.members.size === 0) {
      clearInterval(g.timer);
      this.groups.delete(group);
    }
  }

  /** One heartbeat of every member of `group` in this process; beats of one group never overlap. */
  private beat(group: string, leaving?: string): Promise<void> {
    const g = this.groups.get(group);
    if (!g) return Promise.resolve();
    const run = g.chain.then(() => this.write(group, g, leaving));
    g.chain = run.catch(() => {});
    return run;
  }

  private async write(group: string, g: GroupState, leaving: string | undefined): Promise<void> {
    try {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const cur = await this.o.store.get(group);
        const now = Date.now();
        const doc = cur?.doc ?? {};
        const local = new Map([...g.members].map((m) => [m.id, m]));
        const next: MembersDoc = {};
        for (const [id, e] of Object.entries(doc)) {
          if (local.has(id) || id === leaving) continue;
          const s = g.seen.get(id);
          if (!s || s.beat !== e.beat) g.seen.set(id, { beat: e.beat, at: now });
          else if (now - s.at >= this.o.sessionTimeoutMs) continue; // stood still for a whole session: gone
          next[id] = e;
        }
        for (const [id, m] of local) next[id] = { topics: [...m.topics], beat: (doc[id]?.beat ?? 0) + 1 };
        for (const id of g.seen.keys()) if (!(id in next)) g.seen.delete(id);
        const ok = cur ? await this.o.store.update(group, next, cur.revision) : await this.o.store.create(group, next);
        if (!ok) continue;
        g.lastWrite = Date.now();
        await this.assign(next, g);
        return;
      }
      throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `NATS bus: group ${group}: the membership key kept changing under ${CAS_ATTEMPTS} heartbeat attempts`, { retriable: true });
    } catch (e) {
      // The others drop these members after the session timeout; stop reading before they take over.
      if (Date.now() - g.lastWrite >= this.o.sessionTimeoutMs) for (const m of g.members) m.assign([]);
      throw e;
    }
  }

  private async assign(doc: MembersDoc, g: GroupState): Promise<void> {
    const members = Object.entries(doc).map(([id, e]) => ({ id, topics: e.topics }));
    const topics = [...new Set(members.flatMap((m) => m.topics))];
    const counts = new Map(await Promise.all(topics.map(async (t) => [t, await this.o.partitions(t)] as const)));
    const plan = rangeAssign(members, (t) => counts.get(t) ?? 0);
    for (const m of g.members) m.assign(plan.get(m.id) ?? []);
  }
}
