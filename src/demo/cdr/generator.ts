import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import { fsyncDir, writeFileAtomic } from '../../core/fs.js';
import { CdrFileBuilder, prng, type CdrGenOptions } from './record.js';

/**
 * Writes call-detail-record files into a landing directory the way an FTP upload does: each file is
 * written as `<name>.tmp` and renamed to `<name>.cdr` once complete, so a spooling-directory source
 * with `ignorePattern = ^.*\.tmp$` only ever sees whole files.
 *
 * Resuming: the generator's state file records how many records exist. A file is written and
 * fsynced as .tmp, then the state moves past it, then the .tmp is renamed. After a crash, a .tmp the
 * state already counts is renamed (finished); any other .tmp is written again from the same seed, so
 * the landing directory receives every record exactly once across restarts, even when the agent has
 * already consumed and deleted earlier files.
 */
export interface CdrGeneratorOptions extends CdrGenOptions {
  /** The landing directory. */
  dir: string;
  /** The generator's state file (outside the landing directory). */
  statePath: string;
  /** Records to generate in total, across restarts. */
  records: number;
  /** Records per second (0 or absent: as fast as possible). */
  rate?: number;
  /** Records per file (default: half a second's worth at `rate`, between 100 and 10,000). */
  fileRecords?: number;
  /** Seed of the run (default: random, fixed in the state file at the first start). */
  seed?: number;
  /** Called for each file this process builds, with its first record and the clock it was built at. */
  onFile?: (first: number, records: number, nowMs: number) => void;
}

interface GenState {
  runId: string;
  seed: number;
  /** Records already in renamed or counted files. */
  next: number;
  /** A counted file whose rename may not have happened yet. */
  pending?: string;
}

const fileName = (runId: string, first: number) => `cdr-${runId}-${String(first).padStart(12, '0')}`;

export class CdrGenerator {
  /** Records in complete files (this run and earlier ones). */
  generated = 0;
  /** Bytes of those files written by this process. */
  bytes = 0;
  private stopping = false;
  private state: GenState | undefined;
  private readonly files = new CdrFileBuilder();

  constructor(private readonly opts: CdrGeneratorOptions) {
    if (!Number.isInteger(opts.records) || opts.records < 0) throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `records must be a whole number ≥ 0, got ${opts.records}`);
    if (opts.rate !== undefined && !(opts.rate >= 0)) throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `rate must be ≥ 0 records/s, got ${opts.rate}`);
  }

  /** Loads or creates the state and finishes a file a crash left between count and rename. */
  async open(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    let state: GenState | undefined;
    try {
      state = JSON.parse(await readFile(this.opts.statePath, 'utf8')) as GenState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new MonsoonError(ErrorCodes.CONFIG_INVALID, `${this.opts.statePath}: unreadable generator state: ${(e as Error).message}`);
    }
    if (!state) {
      const seed = this.opts.seed ?? (Math.random() * 2 ** 31) | 0;
      const runId = createHash('sha1').update(`${seed}/${Date.now()}/${process.pid}`).digest('hex').slice(0, 8);
      state = { runId, seed, next: 0 };
      await writeFileAtomic(this.opts.statePath, JSON.stringify(state));
    }
    this.state = state;
    if (state.pending) {
      await rename(join(this.opts.dir, `${state.pending}.tmp`), join(this.opts.dir, `${state.pending}.cdr`)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e; // renamed before the crash
      });
      await fsyncDir(this.opts.dir);
      delete state.pending;
      await writeFileAtomic(this.opts.statePath, JSON.stringify(state));
    }
    this.generated = state.next;
  }

  stop(): void {
    this.stopping = true;
  }

  get done(): boolean {
    return this.generated >= this.opts.records;
  }

  /** Generates until `records` exist or stop() is called. */
  async run(): Promise<void> {
    if (!this.state) await this.open();
    const st = this.state!;
    const rate = this.opts.rate ?? 0;
    const perFile = this.opts.fileRecords ?? (rate > 0 ? Math.min(10_000, Math.max(100, Math.round(rate / 2))) : 10_000);
    const t0 = Date.now();
    const startCount = st.next;
    while (!this.stopping && st.next < this.opts.records) {
      if (rate > 0) {
        const due = t0 + ((st.next - startCount) / rate) * 1000;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, 250)));
        if (Date.now() < due) continue;
      }
      const first = st.next;
      const n = Math.min(perFile, this.opts.records - first);
      const name = fileName(st.runId, first);
      const r = prng((st.seed ^ Math.imul(first + 1, 0x9e3779b1)) >>> 0);
      const now = Date.now();
      const body = this.files.build(st.runId, first, n, now, r, this.opts);
      this.opts.onFile?.(first, n, now);
      const tmp = join(this.opts.dir, `${name}.tmp`);
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      st.next = first + n;
      st.pending = name;
      await writeFileAtomic(this.opts.statePath, JSON.stringify(st));
      await rename(tmp, join(this.opts.dir, `${name}.cdr`));
      delete st.pending;
      this.generated = st.next;
      this.bytes += body.length;
    }
  }

  /** Removes the landing directory and the state, so the next run starts from record 0. */
  static async reset(dir: string, statePath: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    await rm(statePath, { force: true });
  }
}
