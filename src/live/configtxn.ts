/**
 * Changes to the configuration files of a root (keys, keyrings, the
 * repository list) as one transaction: several files written or removed
 * together are all changed or none, whatever kills minos or fails on the
 * way. They go through the same journal as packages (journal.ts): the new
 * contents are staged in txn/ID/new, each replaced file is kept in
 * txn/ID/old, and the commit point is the rename of an unchanged copy of the
 * installed database; removals come after it. Recovery needs nothing else.
 */
import { closeSync, fchmodSync, fsyncSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { confine } from '../confine.js';
import { INSTALLED } from '../db/installed.js';
import { ioError } from '../errors.js';
import { CREATE_NEW, writeAll } from '../fsutil.js';
import { CAP, readInput } from '../input.js';
import { noEvents, type Emit } from './events.js';
import { createTxn, discardTxn, runJournal, type Journal } from './journal.js';
import type { PostOp, PreOp } from '../engine/target.js';

export interface FileChange {
  /** Path relative to the root. */
  path: string;
  /** The new contents; undefined removes the file. */
  data?: Uint8Array;
  /** Mode of a written file (default 0644). */
  mode?: number;
}

function stageFile(file: string, data: Uint8Array, mode: number): void {
  let fd: number | undefined;
  try {
    fd = openSync(file, CREATE_NEW, 0o600);
    writeAll(fd, data);
    fchmodSync(fd, mode);
    fsyncSync(fd);
  } catch (e) {
    throw ioError(e, file);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Apply `changes` to `root` as one transaction. Call with the write lock
 * held. Missing parent folders are made (0755). A failure before the commit
 * leaves every file as it was.
 */
export function changeFiles(root: string, changes: readonly FileChange[], command: string, emit: Emit = noEvents): void {
  const txn = createTxn(root);
  const cf = confine(root);
  let journaled = false;
  try {
    const pre: PreOp[] = [];
    const post: PostOp[] = [];
    const made = new Set<string>();
    changes.forEach((c, i) => {
      const st = cf.lstat(c.path);
      if (c.data === undefined) {
        if (st) post.push({ op: 'unlink', path: c.path });
        return;
      }
      const parts = c.path.split('/');
      for (let k = 1; k < parts.length; k++) {
        const dir = parts.slice(0, k).join('/');
        if (made.has(dir) || cf.lstat(dir)) continue;
        made.add(dir);
        pre.push({ op: 'mkdir', path: dir, mode: 0o755, uid: 0, gid: 0 });
      }
      stageFile(join(txn.newDir, String(i)), c.data, c.mode ?? 0o644);
      pre.push({ op: 'put', path: c.path, src: String(i), ...(st ? { old: String(i) } : {}) });
    });
    const db = cf.readFile(INSTALLED, CAP.state) ?? readInput(join(root, INSTALLED), CAP.state);
    const journal: Journal = { format: 1, id: txn.id, pid: process.pid, command, chown: false, pre, post };
    journaled = true;
    runJournal(txn, journal, db, undefined, emit);
  } catch (e) {
    if (!journaled) discardTxn(txn);
    throw e;
  }
}
