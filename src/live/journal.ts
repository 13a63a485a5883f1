/**
 * Whole-transaction atomicity on a live root.
 *
 * A transaction lives in ROOT/var/lib/minos/txn/ID/ (same filesystem as the
 * root): `new/N` staged nodes (final owner and mode already applied),
 * `old/N` old nodes kept for undo, `installed.json` the new database,
 * `history.json` the new history, and `journal.json` the plan below, written
 * atomically and fsynced before the root is touched.
 *
 *   pre ops (reversible, in order):
 *     mkdir P            rollback: rmdir P (if empty)
 *     moveout P → old/N  rollback: rename old/N → P  if old/N exists and P does not
 *     put new/N → P      (when P exists, first link P → old/M, then rename over it,
 *                         so P never disappears) rollback: if new/N is gone,
 *                         rename old/M → P, or unlink P when there was no old
 *   fsync every folder touched
 *   COMMIT: rename txn/installed.json → var/lib/minos/installed.json, fsync
 *   post ops (idempotent, rolled forward): unlink, rename to .minos-save,
 *     rmdir (if empty), folder owner/mode; then history.json is moved in
 *   fsync, unlink journal.json, remove the transaction folder.
 *
 * Recovery (at the start of the next command, under the lock): a transaction
 * folder without journal is rolled back from its saved files (salvage.ts);
 * with a journal (journal.json, or its copy), if txn/installed.json still exists the commit did not happen and
 * the pre ops are undone in reverse order; otherwise the post ops are
 * (re)done. Every step checks the state it finds, so recovery itself may be
 * interrupted and run again.
 */
import { chmodSync, lchownSync, linkSync, lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { INSTALLED, writeFileAtomic } from '../db/installed.js';
import { ioError, MinosError } from '../errors.js';
import { under } from '../fsutil.js';
import type { Emit } from './events.js';
import { CAP, readInputTextIfAny } from '../input.js';
import { HISTORY_FILE, TXN_DIR } from './root.js';
import { OLD_DB, salvageTxn } from './salvage.js';
import { fsyncDir, syncDirs } from './sync.js';
import type { PostOp, PreOp } from '../engine/target.js';

export { fsyncDir, syncDirs, syncFs, syncFsAsync } from './sync.js';

export interface Journal {
  format: 1;
  id: string;
  pid: number;
  command: string;
  /** Apply owners (running as root). */
  chown: boolean;
  pre: PreOp[];
  post: PostOp[];
}

export interface Txn {
  root: string;
  id: string;
  dir: string;
  newDir: string;
  oldDir: string;
}

const JOURNAL = 'journal.json';
/** A second copy, written first: one damaged or deleted file does not lose the plan. */
const JOURNAL_COPY = 'journal.copy.json';
const NEW_DB = 'installed.json';
const NEW_HISTORY = 'history.json';

let crashCount = 0;
const crashAfter = Number(process.env.MINOS_CRASH_AFTER ?? 0);
if (process.env.MINOS_CRASH_COUNT) process.on('exit', () => process.stderr.write(`minos-crash-steps: ${crashCount}\n`));

/**
 * Test hooks: with MINOS_CRASH_AFTER=N the process kills itself (SIGKILL, no
 * cleanup) at the Nth step that changes the disk; with MINOS_CRASH_COUNT=1 it
 * prints how many such steps it took.
 */
export function crashPoint(): void {
  ++crashCount;
  if (crashAfter > 0 && crashCount === crashAfter) process.kill(process.pid, 'SIGKILL');
}

function lexists(p: string): boolean {
  return lstatSync(p, { throwIfNoEntry: false }) !== undefined;
}

export function txnRoot(root: string): string {
  return join(root, TXN_DIR);
}

/** A fresh transaction folder (0700: staged setuid files are unreachable by others). */
export function createTxn(root: string): Txn {
  const base = txnRoot(root);
  const id = `${Date.now().toString(36)}-${process.pid}`;
  const dir = join(base, id);
  const txn = { root, id, dir, newDir: join(dir, 'new'), oldDir: join(dir, 'old') };
  let made = false;
  try {
    mkdirSync(base, { recursive: true, mode: 0o700 });
    mkdirSync(dir, { mode: 0o700 });
    made = true;
    mkdirSync(txn.newDir, { mode: 0o700 });
    mkdirSync(txn.oldDir, { mode: 0o700 });
  } catch (e) {
    if (made) discardTxn(txn);
    throw ioError(e, dir);
  }
  return txn;
}

/**
 * Remove a transaction folder that never reached its journal. A failure to
 * remove it is not reported (the error that led here is the one that
 * matters): the next command removes what is left.
 */
export function discardTxn(txn: Txn): void {
  try {
    rmSync(txn.dir, { recursive: true, force: true });
  } catch {
    // left for the next command's recovery
  }
}

function undoPre(root: string, dir: string, ops: readonly PreOp[], touched: Set<string>): void {
  for (let i = ops.length - 1; i >= 0; i--) {
    const o = ops[i];
    const p = join(root, o.path);
    touched.add(dirname(p));
    try {
      if (o.op === 'mkdir') {
        try {
          rmdirSync(p);
          crashPoint();
        } catch (e) {
          // absent, or not empty (something else was put there): leave it
          if (!['ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
        }
      } else if (o.op === 'moveout') {
        const from = join(dir, 'old', o.old);
        if (lexists(from) && !lexists(p)) {
          renameSync(from, p);
          crashPoint();
        }
      } else {
        const src = join(dir, 'new', o.src);
        if (lexists(src)) continue; // never renamed in
        if (o.old !== undefined) {
          const old = join(dir, 'old', o.old);
          if (lexists(old)) {
            renameSync(old, p);
            crashPoint();
          }
        } else if (lexists(p)) {
          unlinkSync(p);
          crashPoint();
        }
      }
    } catch (e) {
      throw ioError(e, p);
    }
  }
}

function parentOf(p: string): string {
  return p.slice(0, p.lastIndexOf('/')) || '/';
}

function doPre(root: string, txn: Txn, ops: readonly PreOp[], chown: boolean, touched: Set<string>): void {
  for (const o of ops) {
    const p = under(root, o.path);
    touched.add(parentOf(p));
    try {
      if (o.op === 'mkdir') {
        mkdirSync(p, { mode: 0o700 });
        touched.add(p);
        if (chown) lchownSync(p, o.uid, o.gid);
        chmodSync(p, o.mode);
      } else if (o.op === 'moveout') {
        renameSync(p, `${txn.oldDir}/${o.old}`);
      } else {
        if (o.old !== undefined) linkSync(p, `${txn.oldDir}/${o.old}`);
        renameSync(`${txn.newDir}/${o.src}`, p);
      }
    } catch (e) {
      throw ioError(e, p);
    }
    crashPoint();
  }
}

function doPost(root: string, ops: readonly PostOp[], touched: Set<string>, emit: Emit): void {
  for (const o of ops) {
    const p = under(root, o.path);
    touched.add(parentOf(p));
    try {
      if (o.op === 'unlink') {
        unlinkSync(p);
      } else if (o.op === 'save') {
        if (lexists(p)) renameSync(p, join(root, o.to));
      } else if (o.op === 'rmdir') {
        rmdirSync(p);
      } else {
        if (!lexists(p)) continue;
        if (process.getuid?.() === 0) lchownSync(p, o.uid, o.gid);
        chmodSync(p, o.mode);
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      // A file system that is full, read-only or failing now may not be later: stop, the journal stays and the next command finishes.
      if (RETRY.includes(code)) throw ioError(e, p);
      // A folder still holding files no package owns stays, as with every package manager.
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') {
        emit({ type: 'warning', message: ioError(e, p).message });
      }
    }
    crashPoint();
  }
}

/** Errors of the file system as a whole, after which work is stopped and left for the next command rather than skipped. */
const RETRY = ['EROFS', 'ENOSPC', 'EDQUOT', 'EIO'];

/** A failure after the commit point: the new state is the one that counts, and the next command completes it. */
function afterCommit(e: unknown, dir: string): MinosError {
  const err = ioError(e, dir);
  return new MinosError(err.code, `${err.message}; the transaction is committed and the next minos command completes it`, { hint: err.hint, data: err.data, cause: e });
}

/** A transaction folder renamed so once its transaction is over (undone or completed): only removal is left. */
const DONE = '.done';

/**
 * End a transaction: make what was touched durable, then mark the folder
 * done in one rename (so no state exists where part of it is gone and the
 * rest could be mistaken for a transaction to recover) and remove it.
 */
function finish(root: string, dir: string, touched: Set<string>): void {
  syncDirs(root, touched);
  crashPoint();
  try {
    renameSync(dir, `${dir}${DONE}`);
  } catch (e) {
    throw ioError(e, dir);
  }
  fsyncDir(dirname(dir));
  crashPoint();
  removeDone(`${dir}${DONE}`);
}

function removeDone(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // the transaction is over; the next command removes what is left
  }
}

/** The commit point: the new database replaces the old one (made durable by the caller). */
function commitPoint(root: string, txn: { dir: string }): void {
  try {
    renameSync(join(txn.dir, NEW_DB), join(root, INSTALLED));
  } catch (e) {
    throw ioError(e, join(root, INSTALLED));
  }
}

function moveHistory(root: string, dir: string): void {
  const h = join(dir, NEW_HISTORY);
  if (lexists(h)) {
    try {
      renameSync(h, join(root, HISTORY_FILE));
    } catch (e) {
      throw ioError(e, join(root, HISTORY_FILE));
    }
    fsyncDir(dirname(join(root, HISTORY_FILE)));
    crashPoint();
  }
}

/**
 * Run a prepared transaction: `newDb` and `history` are written into the
 * transaction folder, then the journal, then the pre ops, the commit and the
 * post ops. A failure before the commit undoes everything, removes the
 * transaction folder and rethrows; one after it (a full or read-only file
 * system) keeps the journal for the next command to complete, and says so.
 */
export function runJournal(txn: Txn, journal: Journal, newDb: Uint8Array, history: Uint8Array | undefined, emit: Emit): void {
  const { root } = txn;
  const touched = new Set<string>([txn.newDir, txn.oldDir]);
  try {
    writeFileAtomic(join(txn.dir, NEW_DB), newDb);
    crashPoint();
    linkSync(join(root, INSTALLED), join(txn.dir, OLD_DB)); // for recovery without a journal (salvage.ts)
    if (history) writeFileAtomic(join(txn.dir, NEW_HISTORY), history);
    writeFileAtomic(join(txn.dir, JOURNAL_COPY), Buffer.from(JSON.stringify(journal)));
    writeFileAtomic(join(txn.dir, JOURNAL), Buffer.from(JSON.stringify(journal)));
    fsyncDir(txnRoot(root));
    crashPoint();
    doPre(root, txn, journal.pre, journal.chown, touched);
    syncDirs(root, touched);
    crashPoint();
    commitPoint(root, txn);
  } catch (e) {
    const undo = new Set<string>();
    try {
      undoPre(root, txn.dir, journal.pre, undo);
      finish(root, txn.dir, undo);
    } catch (e2) {
      const err = ioError(e, txn.dir);
      throw new MinosError(err.code, `${err.message}; undoing it also failed (${(e2 as Error).message}): the next minos command will retry`, { hint: err.hint, data: err.data, cause: e });
    }
    throw e;
  }
  try {
    fsyncDir(dirname(join(root, INSTALLED)));
    crashPoint();
    const post = new Set<string>();
    doPost(root, journal.post, post, emit);
    moveHistory(root, txn.dir);
    finish(root, txn.dir, post);
  } catch (e) {
    throw afterCommit(e, txn.dir);
  }
}

/** Transactions left in the root by an interrupted minos (folder names). */
export function pendingTxns(root: string): string[] {
  try {
    return readdirSync(txnRoot(root)).sort();
  } catch {
    return [];
  }
}

function isJournal(j: unknown): j is Journal {
  const o = j as Journal | null;
  return o !== null && typeof o === 'object' && o.format === 1 && Array.isArray(o.pre) && Array.isArray(o.post) && typeof o.id === 'string'
    && o.pre.every((x) => x && typeof x.path === 'string') && o.post.every((x) => x && typeof x.path === 'string');
}

/** The journal of transaction folder `dir`: 'missing' when neither copy exists, 'garbage' when none that exists reads. */
function readJournal(dir: string): Journal | 'missing' | 'garbage' {
  let seen = false;
  for (const f of [JOURNAL, JOURNAL_COPY]) {
    let text: string | undefined;
    try {
      text = readInputTextIfAny(join(dir, f), CAP.state);
    } catch {
      seen = true;
      continue;
    }
    if (text === undefined) continue;
    seen = true;
    try {
      const j: unknown = JSON.parse(text);
      if (isJournal(j)) return j;
    } catch {
      // the other copy may read
    }
  }
  return seen ? 'garbage' : 'missing';
}

/**
 * What a query says about interrupted transactions, reading only: undefined
 * when there are none; otherwise one line (naming an unreadable journal).
 */
export function pendingReport(root: string): string | undefined {
  const ids = pendingTxns(root).filter((id) => !id.endsWith(DONE));
  if (!ids.length) return undefined;
  for (const id of ids) {
    const dir = join(txnRoot(root), id);
    if (readJournal(dir) === 'garbage') {
      return `${join(dir, JOURNAL)}: unreadable journal of an interrupted transaction; showing the last committed state (run \`minos recover --abort\` to roll it back from its saved files)`;
    }
  }
  return `an interrupted transaction (${ids.join(', ')}) is pending; showing the last committed state (\`minos recover\`, or the next install, remove, upgrade or rollback, completes it)`;
}

/**
 * Finish or undo every interrupted transaction. Call with the write lock
 * held. Returns what was done; emits a 'recovered' event for each. A folder
 * without journal is rolled back from its own saved files (salvageTxn); one
 * whose journal cannot be read stops with MN0004 unless `abort`, which rolls
 * it back the same way (`minos recover --abort`).
 */
export function recover(root: string, emit: Emit, opts: { abort?: boolean } = {}): { txn: string; action: 'rolled back' | 'completed' | 'discarded' }[] {
  const done: { txn: string; action: 'rolled back' | 'completed' | 'discarded' }[] = [];
  for (const id of pendingTxns(root)) {
    const dir = join(txnRoot(root), id);
    if (id.endsWith(DONE)) {
      removeDone(dir);
      continue;
    }
    const j = readJournal(dir);
    if (j === 'missing' || (j === 'garbage' && opts.abort)) {
      const action = salvageTxn(root, dir, id, emit);
      emit({ type: 'recovered', txn: id, command: '?', pid: 0, action });
      done.push({ txn: id, action });
      continue;
    }
    if (j === 'garbage') {
      throw new MinosError('MN0004', `${join(dir, JOURNAL)}: unreadable journal of an interrupted transaction`, {
        data: { file: join(dir, JOURNAL) },
        hint: 'run `minos recover --abort` to roll it back from its saved files',
      });
    }
    const touched = new Set<string>();
    let action: 'rolled back' | 'completed';
    if (lexists(join(dir, NEW_DB))) {
      undoPre(root, dir, j.pre, touched);
      action = 'rolled back';
    } else {
      doPost(root, j.post, touched, emit);
      moveHistory(root, dir);
      action = 'completed';
    }
    finish(root, dir, touched);
    emit({ type: 'recovered', txn: id, command: j.command, pid: j.pid, action });
    done.push({ txn: id, action });
  }
  return done;
}
