import { StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { MonsoonError } from '../../core/errors.js';
import { isCasConflict } from './errors.js';
import { layout } from './layout.js';
import type { MembersDoc, MembersStore } from './membership.js';

/** The bus's KV buckets (layout.ts): topic metadata, committed offsets, group members. */
export interface Buckets {
  topics: KV;
  offsets: KV;
  members: KV;
}

const enc = new TextEncoder();
/** A document as a KV value. */
export const json = (v: unknown) => enc.encode(JSON.stringify(v));

/** Opens (creating when missing) the topics, offsets and members buckets. */
export async function openBuckets(js: JetStreamClient, prefix: string, replicas: number, mapError: (e: unknown, what: string) => MonsoonError): Promise<Buckets> {
  const kvm = new Kvm(js);
  const open = async (name: string): Promise<KV> => {
    try {
      return await kvm.create(name, { history: 1, replicas, storage: StorageType.File });
    } catch (e) {
      // Created by another bus with other options (e.g. replicas): use it as it is.
      try {
        const kv = await kvm.open(name);
        await kv.status(); // open() does not check that the bucket exists
        return kv;
      } catch {
        throw mapError(e, `create KV bucket ${name}`);
      }
    }
  };
  const [topics, offsets, members] = await Promise.all([open(layout.topicsBucket(prefix)), open(layout.offsetsBucket(prefix)), open(layout.membersBucket(prefix))]);
  return { topics, offsets, members };
}

/** Group membership's store on the members bucket (`bucket` is read at each call: it opens after the bus is made). */
export function kvMembersStore(bucket: () => KV): MembersStore {
  return {
    get: async (group) => {
      const e = await bucket().get(layout.key(group));
      return e ? { doc: e.operation === 'PUT' ? e.json<MembersDoc>() : {}, revision: e.revision } : null;
    },
    create: async (group, doc) => {
      try {
        await bucket().create(layout.key(group), json(doc));
        return true;
      } catch (e) {
        if (isCasConflict(e)) return false;
        throw e;
      }
    },
    update: async (group, doc, revision) => {
      try {
        await bucket().update(layout.key(group), json(doc), revision);
        return true;
      } catch (e) {
        if (isCasConflict(e)) return false;
        throw e;
      }
    },
  };
}
