import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Kafka's range assignor (protocol name "range", as the Java client's RangeAssignor): per topic, the
 * members subscribed to it in member-id order take consecutive ranges of partitions, the first
 * `partitions % members` one more. Every member gets an assignment, empty when there are more members
 * than partitions — kafkajs's round-robin assignor leaves such members out, which a group coordinator
 * may wait for (librdkafka's mock cluster times the sync out and rebalances forever).
 */
export const rangeAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'range',
  version: 0,
  async assign({ members, topics }) {
    const subscribed = new Map<string, string[]>();
    for (const m of members) {
      const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
      for (const t of meta?.topics ?? topics) subscribed.set(t, [...(subscribed.get(t) ?? []), m.memberId]);
    }
    const out = new Map<string, Record<string, number[]>>(members.map((m) => [m.memberId, {}]));
    for (const topic of topics) {
      const ids = (subscribed.get(topic) ?? []).sort();
      if (ids.length === 0) continue;
      const partitions = cluster
        .findTopicPartitionMetadata(topic)
        .map((p) => p.partitionId)
        .sort((a, b) => a - b);
      const per = Math.floor(partitions.length / ids.length);
      const extra = partitions.length % ids.length;
      let next = 0;
      ids.forEach((id, i) => {
        const n = per + (i < extra ? 1 : 0);
        out.get(id)![topic] = partitions.slice(next, next + n);
        next += n;
      });
    }
    return [...out].map(([memberId, assignment]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: 'range', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
