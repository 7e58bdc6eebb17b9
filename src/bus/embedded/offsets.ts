import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { OffsetCommit } from '../bus.js';
import { writeFileAtomic } from '../../core/fs.js';

/**
 * Committed group offsets: `groups/<group>.json` = {"offsets": {topic: {partition: next offset}}},
 * replaced atomically on each commit. Commits of one group that arrive while its file is being
 * written share the next write.
 */
type GroupOffsets = Map<string, Map<number, number>>;

interface WriteState {
  writing: Promise<void> | undefined;
  dirty: boolean;
}

export class OffsetStore {
  private readonly groups = new Map<string, GroupOffsets>();
  private readonly writes = new Map<string, WriteState>();
  private readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'groups');
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const f of await readdir(this.dir)) {
      if (!f.endsWith('.json')) continue;
      const path = join(this.dir, f);
      try {
        const doc = JSON.parse(await readFile(path, 'utf8')) as { offsets: Record<string, Record<string, number>> };
        const g: GroupOffsets = new Map();
        for (const [t, ps] of Object.entries(doc.offsets)) g.set(t, new Map(Object.entries(ps).map(([p, o]) => [Number(p), o])));
        this.groups.set(f.slice(0, -5), g);
      } catch (e) {
        throw new MonsoonError(ErrorCodes.BUS_CORRUPT, `${path}: unreadable committed offsets: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  get(group: string, topic: string, partition: number): number | undefined {
    return this.groups.get(group)?.get(topic)?.get(partition);
  }

  topicsOf(group: string): string[] {
    return [...(this.groups.get(group)?.keys() ?? [])];
  }

  async commit(group: string, entries: readonly OffsetCommit[]): Promise<void> {
    if (entries.length === 0) return;
    let g = this.groups.get(group);
    if (!g) this.groups.set(group, (g = new Map()));
    for (const e of entries) {
      let t = g.get(e.topic);
      if (!t) g.set(e.topic, (t = new Map()));
      t.set(e.partition, e.offset);
    }
    await this.persist(group);
  }

  /** Forgets a deleted topic's offsets in every group. */
  async dropTopic(topic: string): Promise<void> {
    for (const [group, g] of this.groups) {
      if (g.delete(topic)) await this.persist(group);
    }
  }

  private async persist(group: string): Promise<void> {
    let st = this.writes.get(group);
    if (!st) this.writes.set(group, (st = { writing: undefined, dirty: false }));
    st.dirty = true;
    while (st.writing) await st.writing;
    if (!st.dirty) return; // a write that started after this change already carried it
    st.dirty = false;
    const doc: Record<string, Record<string, number>> = {};
    for (const [t, ps] of this.groups.get(group) ?? []) doc[t] = Object.fromEntries(ps);
    const s = st;
    s.writing = writeFileAtomic(join(this.dir, `${group}.json`), JSON.stringify({ offsets: doc }) + '\n').finally(() => {
      s.writing = undefined;
    });
    await s.writing;
  }
}
