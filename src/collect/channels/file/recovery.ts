import type { Logger } from '../../../core/log.js';
import { readCheckpoint } from './checkpoint.js';
import { pointerKey, type Pointer } from './records.js';
import { listDataFiles, scanFile } from './wal.js';

export interface Recovered {
  queue: Pointer[];
  markers: Map<string, string>;
  /** The id the next data file gets: above every file present and every id the checkpoint names. */
  nextFileId: number;
  /** Damaged records and checkpoints found (each one also logged). */
  corrupt: number;
  /** Committed transactions replayed from the log. */
  replayed: number;
}

/**
 * Rebuilds a channel's state: the checkpoint's queue and markers, then every committed transaction
 * logged after the checkpoint's position (puts append, takes remove, the latest marker wins).
 * Transactions without their commit record never happened; takes open at the crash come back in
 * their original place because only committed takes are logged.
 */
export async function recover(name: string, dataDirs: readonly string[], checkpointDir: string, log: Logger): Promise<Recovered> {
  let corrupt = 0;
  let ck = await readCheckpoint(checkpointDir);
  if (typeof ck === 'string') {
    corrupt++;
    log.warn({ channel: name, dir: checkpointDir }, `channel ${name}: the checkpoint in ${checkpointDir} is unusable (${ck}); replaying every data file instead`);
    ck = undefined;
  }
  const queue: Pointer[] = ck ? ck.queue : [];
  const markers = ck ? ck.markers : new Map<string, string>();
  const from = ck ? ck.pos : { f: 0, o: 0 };
  const removed = new Set<number>();
  const files = await listDataFiles(dataDirs);
  const ids = [...files.keys()].sort((a, b) => a - b);
  let replayed = 0;
  for (const id of ids) {
    if (id < from.f) continue;
    const path = files.get(id)!;
    await scanFile(path, id, id === from.f ? from.o : 0, {
      commit(puts, rec) {
        replayed++;
        for (const p of puts) queue.push(p);
        for (const t of rec.takes) removed.add(pointerKey(t.f, t.o));
        for (const k in rec.markers) markers.set(k, rec.markers[k]!);
      },
      corrupt(offset, reason) {
        corrupt++;
        log.warn({ channel: name, file: path, offset }, `channel ${name}: ${reason} in ${path} at offset ${offset}; the rest of that file is dropped`);
      },
    });
  }
  let lost = 0;
  const kept = queue.filter((p) => {
    if (removed.has(pointerKey(p.f, p.o))) return false;
    if (files.has(p.f)) return true;
    lost++;
    return false;
  });
  if (lost > 0) {
    corrupt++;
    log.error({ channel: name, events: lost }, `channel ${name}: ${lost} queued event(s) point into data files that no longer exist; they are lost`);
  }
  const nextFileId = Math.max(ids.length ? ids[ids.length - 1]! : 0, from.f) + 1;
  return { queue: kept, markers, nextFileId, corrupt, replayed };
}
