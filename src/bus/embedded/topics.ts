import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { TopicConfig } from '../bus.js';
import { normalizeTopicConfig, validateTopicName, type NormalizedTopicConfig } from '../names.js';
import { fsyncDir, writeFileAtomic } from '../../core/fs.js';
import { PartitionLog, type LogOptions } from './partition.js';
import { segmentName } from './segment.js';

/**
 * The topics of one embedded log: `topics/<name>/topic.json` and one directory per partition.
 * A topic is built under `trash/` and renamed into place, so a crash never leaves half a topic; a
 * deleted topic is renamed into `trash/` first and removed from there (leftovers go at the next open).
 */
export interface Topic {
  name: string;
  config: NormalizedTopicConfig;
  partitions: PartitionLog[];
}

export class TopicStore {
  readonly topics = new Map<string, Topic>();
  private seq = 0;
  private readonly topicsDir: string;
  private readonly trashDir: string;

  constructor(
    root: string,
    private readonly opts: LogOptions,
  ) {
    this.topicsDir = join(root, 'topics');
    this.trashDir = join(root, 'trash');
  }

  async open(): Promise<void> {
    await mkdir(this.topicsDir, { recursive: true });
    await rm(this.trashDir, { recursive: true, force: true });
    await mkdir(this.trashDir, { recursive: true });
    for (const name of (await readdir(this.topicsDir)).sort()) {
      const dir = join(this.topicsDir, name);
      let config: NormalizedTopicConfig;
      try {
        config = normalizeTopicConfig(name, JSON.parse(await readFile(join(dir, 'topic.json'), 'utf8')) as TopicConfig);
      } catch (e) {
        throw new MonsoonError(ErrorCodes.BUS_CORRUPT, `${join(dir, 'topic.json')}: unreadable topic description: ${(e as Error).message}`, { cause: e });
      }
      this.topics.set(name, await this.openTopic(name, dir, config));
    }
  }

  private async openTopic(name: string, dir: string, config: NormalizedTopicConfig): Promise<Topic> {
    const partitions: PartitionLog[] = [];
    for (let p = 0; p < config.partitions; p++) {
      const log = new PartitionLog(name, p, join(dir, String(p)), this.opts);
      await log.open();
      partitions.push(log);
    }
    return { name, config, partitions };
  }

  get(name: string): Topic {
    const t = this.topics.get(name);
    if (!t) {
      validateTopicName(name);
      throw new MonsoonError(ErrorCodes.BUS_UNKNOWN_TOPIC, `topic ${name} does not exist`);
    }
    return t;
  }

  async create(name: string, cfg: TopicConfig): Promise<void> {
    validateTopicName(name);
    const config = normalizeTopicConfig(name, cfg);
    if (this.topics.has(name)) throw new MonsoonError(ErrorCodes.BUS_TOPIC_EXISTS, `topic ${name} already exists`);
    const tmp = join(this.trashDir, `new-${process.pid}-${++this.seq}`);
    await mkdir(tmp, { recursive: true });
    for (let p = 0; p < config.partitions; p++) {
      const pdir = join(tmp, String(p));
      await mkdir(pdir);
      await (await open(join(pdir, `${segmentName(0)}.log`), 'w')).close();
      await fsyncDir(pdir);
    }
    await writeFileAtomic(join(tmp, 'topic.json'), JSON.stringify({ partitions: config.partitions, retentionMs: config.retentionMs, retentionBytes: config.retentionBytes }) + '\n');
    const dir = join(this.topicsDir, name);
    await rename(tmp, dir);
    await fsyncDir(this.topicsDir);
    this.topics.set(name, await this.openTopic(name, dir, config));
  }

  async delete(name: string): Promise<void> {
    const t = this.get(name);
    this.topics.delete(name);
    for (const p of t.partitions) await p.close();
    const gone = join(this.trashDir, `del-${process.pid}-${++this.seq}`);
    await rename(join(this.topicsDir, name), gone);
    await fsyncDir(this.topicsDir);
    await rm(gone, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    for (const t of this.topics.values()) for (const p of t.partitions) await p.close();
  }
}
