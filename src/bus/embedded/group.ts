import type { TopicPartition } from '../bus.js';

/**
 * Consumer groups inside one process. Members of a group split the partitions of the topics they
 * subscribe to with Kafka's range assignor: per topic, the subscribed members in member-id order each
 * take a contiguous range, the first `partitions % members` one partition more. Every join or leave
 * reassigns the whole group (an eager rebalance); a member keeps its position in partitions it keeps.
 */
export interface GroupMember {
  readonly id: string;
  readonly topics: readonly string[];
  assign(partitions: TopicPartition[]): void;
}

export function rangeAssign(members: ReadonlyArray<{ id: string; topics: readonly string[] }>, partitionsOf: (topic: string) => number): Map<string, TopicPartition[]> {
  const out = new Map<string, TopicPartition[]>(members.map((m) => [m.id, []]));
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
  for (const topic of topics) {
    const n = partitionsOf(topic);
    const subs = members.filter((m) => m.topics.includes(topic)).map((m) => m.id).sort();
    const per = Math.floor(n / subs.length);
    const extra = n % subs.length;
    let p = 0;
    subs.forEach((id, i) => {
      const count = per + (i < extra ? 1 : 0);
      for (let k = 0; k < count; k++) out.get(id)!.push({ topic, partition: p++ });
    });
  }
  return out;
}

export class GroupRegistry {
  private readonly groups = new Map<string, GroupMember[]>();
  private seq = 0;

  constructor(private readonly partitionsOf: (topic: string) => number) {}

  /** A member id that sorts in join order, so earlier members take the lower partitions. */
  nextMemberId(group: string): string {
    return `${group}-${String(++this.seq).padStart(10, '0')}`;
  }

  join(group: string, m: GroupMember): void {
    const ms = this.groups.get(group) ?? [];
    ms.push(m);
    this.groups.set(group, ms);
    this.rebalance(group);
  }

  leave(group: string, m: GroupMember): void {
    const ms = (this.groups.get(group) ?? []).filter((x) => x !== m);
    if (ms.length === 0) this.groups.delete(group);
    else this.groups.set(group, ms);
    this.rebalance(group);
  }

  members(group: string): readonly GroupMember[] {
    return this.groups.get(group) ?? [];
  }

  all(): GroupMember[] {
    return [...this.groups.values()].flat();
  }

  /** Reassigns every group subscribed to `topic` (after it was deleted). */
  topicGone(topic: string): void {
    for (const [g, ms] of this.groups) if (ms.some((m) => m.topics.includes(topic))) this.rebalance(g);
  }

  private rebalance(group: string): void {
    const ms = this.groups.get(group) ?? [];
    const plan = rangeAssign(ms, (t) => this.partitionsOf(t));
    for (const m of ms) m.assign(plan.get(m.id) ?? []);
  }
}
