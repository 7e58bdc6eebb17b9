import type { KV } from '@nats-io/kv';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { OffsetCommit } from '../bus.js';
import { isCasConflict } from './errors.js';
import { json } from './kv.js';
import { layout } from './layout.js';

/**
 * Committed group offsets in the offsets bucket: one key per group holding
 * `{"<topic>/<partition>": committed offset, ...}`, so one write carries every offset of a commit.
 */
export class NatsOffsets {
  constructor(
    private readonly kv: KV,
    private readonly mapError: (e: unknown, what: string) => MonsoonError,
  ) {}

  /** The group's committed offsets by `layout.committedField` ({} when it committed none). */
  async committed(group: string): Promise<Record<string, number>> {
    try {
      const e = await this.kv.get(layout.key(group));
      return e && e.operation === 'PUT' ? e.json<Record<string, number>>() : {};
    } catch (err) {
      throw this.mapError(err, `read the committed offsets of group ${group}`);
    }
  }

  commit(group: string, entries: OffsetCommit[]): Promise<void> {
    return this.update(group, (doc) => {
      for (const e of entries) doc[layout.committedField(e.topic, e.partition)] = e.offset;
    });
  }

  /** Removes a deleted topic's offsets from every group, so a topic created again under the name starts afresh. */
  async dropTopic(name: string): Promise<void> {
    const groups: string[] = [];
    try {
      for await (const g of await this.kv.keys()) groups.push(layout.nameOfKey(g));
    } catch (e) {
      throw this.mapError(e, `list the groups of topic ${name}`);
    }
    for (const g of groups) {
      await this.update(g, (doc) => {
        for (const k of Object.keys(doc)) if (k.slice(0, k.lastIndexOf('/')) === name) delete doc[k];
      });
    }
  }

  /** Read, change, compare-and-set: one write carries every offset of a commit, or none does. */
  private async update(group: string, change: (doc: Record<string, number>) => void): Promise<void> {
    const key = layout.key(group);
    for (let attempt = 0; attempt < 50; attempt++) {
      let e;
      try {
        e = await this.kv.get(key);
      } catch (err) {
        throw this.mapError(err, `read the committed offsets of group ${group}`);
      }
      const doc = e && e.operation === 'PUT' ? e.json<Record<string, number>>() : {};
      change(doc);
      try {
        if (e) await this.kv.update(key, json(doc), e.revision);
        else await this.kv.create(key, json(doc));
        return;
      } catch (err) {
        if (isCasConflict(err)) continue;
        throw this.mapError(err, `commit offsets of group ${group}`);
      }
    }
    throw new MonsoonError(ErrorCodes.BUS_UNAVAILABLE, `commit offsets of group ${group}: the offsets kept changing under 50 attempts`, { retriable: true });
  }
}
