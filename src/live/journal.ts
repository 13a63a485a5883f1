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
import { join } from 'node:path';
import { confine, type Confined } from '../confine.js';
import { DB_DIR, INSTALLED } from '../db/installed.js';
import { ioError, MinosError } from '../errors.js';
import type { Emit } from './events.js';
import { CAP } from '../input.js';
import { checkStatePaths, HISTORY_FILE, TXN_DIR } from './root.js';
import { OLD_DB, salvageTxn } from './salvage.js';
import { syncFs } from './sync.js';
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
  /** The transaction folder, absolute (dir) and relative to the root (rel). */
  dir: string;
  rel: string;
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

export function txnRoot(root: string): string {
  return join(root, TXN_DIR);
}

/** A fresh transaction folder (0700: staged setuid files are unreachable by others). */
export function createTxn(root: string): Txn {
  const c = confine(root);
  const id = `${Date.now().toString(36)}-${process.pid}`;
  const rel = `${TXN_DIR}/${id}`;
  const dir = join(root, rel);
  const txn = { root, id, dir, rel, newDir: join(dir, 'new'), oldDir: join(dir, 'old') };
  let made = false;
  try {
    c.mkdirp(TXN_DIR, 0o700);
    c.mkdir(rel, 0o700);
    made = true;
    c.mkdir(`${rel}/new`, 0o700);
    c.mkdir(`${rel}/old`, 0o700);
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
    confine(txn.root).rmTree(txn.rel);
  } catch {
    // left for the next command's recovery
  }
}

const parentOf = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

/** Make the folders in `dirs` (relative) durable: one syncfs for many, else each. */
function syncRel(c: Confined, dirs: Set<string>): void {
  if (dirs.size > 16 && syncFs(c.root)) return;
  for (const d of dirs) c.fsyncDir(d);
}

function undoPre(c: Confined, dir: string, ops: readonly PreOp[], touched: Set<string>): void {
  for (let i = ops.length - 1; i >= 0; i--) {
    const o = ops[i];
    const p = o.path;
    touched.add(parentOf(p));
    try {
      if (o.op === 'mkdir') {
        try {
          c.rmdir(p);
          crashPoint();
        } catch (e) {
          // absent, or not empty (something else was put there): leave it
          if (!['ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'MN0604'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
        }
      } else if (o.op === 'moveout') {
        const from = `${dir}/old/${o.old}`;
        if (c.exists(from) && !c.exists(p)) {
          c.rename(from, p);
          crashPoint();
        }
      } else {
        const src = `${dir}/new/${o.src}`;
        if (c.exists(src)) continue; // never renamed in
        if (o.old !== undefined) {
          const old = `${dir}/old/${o.old}`;
          if (c.exists(old)) {
            c.rename(old, p);
            crashPoint();
          }
        } else if (c.exists(p)) {
          c.unlink(p);
          crashPoint();
        }
      }
    } catch (e) {
      throw ioError(e, c.abs(p));
    }
  }
}

function doPre(c: Confined, txn: Txn, ops: readonly PreOp[], chown: boolean, touched: Set<string>): void {
  for (const o of ops) {
    const p = o.path;
    touched.add(parentOf(p));
    try {
      if (o.op === 'mkdir') {
        c.mkdir(p, 0o700);
        touched.add(p);
        if (chown) c.lchown(p, o.uid, o.gid);
        c.chmod(p, o.mode);
      } else if (o.op === 'moveout') {
        c.rename(p, `${txn.rel}/old/${o.old}`);
      } else {
        if (o.old !== undefined) c.link(p, `${txn.rel}/old/${o.old}`);
        c.rename(`${txn.rel}/new/${o.src}`, p);
      }
    } catch (e) {
      throw ioError(e, c.abs(p));
    }
    crashPoint();
  }
}

function doPost(c: Confined, ops: readonly PostOp[], touched: Set<string>, emit: Emit): void {
  for (const o of ops) {
    const p = o.path;
    touched.add(parentOf(p));
    try {
      if (o.op === 'unlink') {
        c.unlink(p);
      } else if (o.op === 'save') {
        if (c.exists(p)) c.rename(p, o.to);
      } else if (o.op === 'rmdir') {
        c.rmdir(p);
      } else {
        if (!c.exists(p)) continue;
        if (process.getuid?.() === 0) c.lchown(p, o.uid, o.gid);
        c.chmod(p, o.mode);
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      // A file system that is full, read-only or failing now may not be later: stop, the journal stays and the next command finishes.
      if (RETRY.includes(code)) throw ioError(e, c.abs(p));
      // A folder still holding files no package owns stays, as with every package manager.
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') {
        emit({ type: 'warning', message: ioError(e, c.abs(p)).message });
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
function finish(c: Confined, dir: string, touched: Set<string>): void {
  syncRel(c, touched);
  crashPoint();
  try {
    c.rename(dir, `${dir}${DONE}`);
  } catch (e) {
    throw ioError(e, c.abs(dir));
  }
  c.fsyncDir(TXN_DIR);
  crashPoint();
  removeDone(c, `${dir}${DONE}`);
}

function removeDone(c: Confined, dir: string): void {
  try {
    c.rmTree(dir);
  } catch {
    // the transaction is over; the next command removes what is left
  }
}

/** The commit point: the new database replaces the old one (made durable by the caller). */
function commitPoint(c: Confined, txn: { rel: string }): void {
  try {
    c.rename(`${txn.rel}/${NEW_DB}`, INSTALLED);
  } catch (e) {
    throw ioError(e, c.abs(INSTALLED));
  }
}

function moveHistory(c: Confined, dir: string): void {
  const h = `${dir}/${NEW_HISTORY}`;
  if (c.exists(h)) {
    try {
      c.rename(h, HISTORY_FILE);
    } catch (e) {
      throw ioError(e, c.abs(HISTORY_FILE));
    }
    c.fsyncDir(DB_DIR);
    crashPoint();
  }
}

/**
 * Run a prepared transaction: `newDb` and `history` are written into the
 * transaction folder, then the journal, then the pre ops, the commit and the
 * post ops. A failure before the commit undoes everything, removes the
 * transaction folder and rethrows; one after it (a full or read-only file
 * system) keeps the journal for the next command to complete, and says so.
 * Every operation is confined to the root (confine.ts).
 */
export function runJournal(txn: Txn, journal: Journal, newDb: Uint8Array, history: Uint8Array | undefined, emit: Emit): void {
  const c = confine(txn.root);
  const touched = new Set<string>([`${txn.rel}/new`, `${txn.rel}/old`]);
  try {
    checkStatePaths(journal);
    c.writeFileAtomic(`${txn.rel}/${NEW_DB}`, newDb);
    crashPoint();
    c.link(INSTALLED, `${txn.rel}/${OLD_DB}`); // for recovery without a journal (salvage.ts)
    if (history) c.writeFileAtomic(`${txn.rel}/${NEW_HISTORY}`, history);
    c.writeFileAtomic(`${txn.rel}/${JOURNAL_COPY}`, Buffer.from(JSON.stringify(journal)));
    c.writeFileAtomic(`${txn.rel}/${JOURNAL}`, Buffer.from(JSON.stringify(journal)));
    c.fsyncDir(TXN_DIR);
    crashPoint();
    doPre(c, txn, journal.pre, journal.chown, touched);
    syncRel(c, touched);
    crashPoint();
    commitPoint(c, txn);
  } catch (e) {
    const undo = new Set<string>();
    try {
      undoPre(c, txn.rel, journal.pre, undo);
      finish(c, txn.rel, undo);
    } catch (e2) {
      const err = ioError(e, txn.dir);
      throw new MinosError(err.code, `${err.message}; undoing it also failed (${(e2 as Error).message}): the next minos command will retry`, { hint: err.hint, data: err.data, cause: e });
    }
    throw e;
  }
  try {
    c.fsyncDir(DB_DIR);
    crashPoint();
    const post = new Set<string>();
    doPost(c, journal.post, post, emit);
    moveHistory(c, txn.rel);
    finish(c, txn.rel, post);
  } catch (e) {
    throw afterCommit(e, txn.dir);
  }
}

/** Transactions left in the root by an interrupted minos (folder names). */
export function pendingTxns(root: string): string[] {
  try {
    return confine(root).readdir(TXN_DIR).sort();
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
function readJournal(c: Confined, dir: string): Journal | 'missing' | 'garbage' {
  let seen = false;
  for (const f of [JOURNAL, JOURNAL_COPY]) {
    let text: string | undefined;
    try {
      text = c.readFile(`${dir}/${f}`, CAP.state)?.toString('utf8');
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
    if (readJournal(confine(root), `${TXN_DIR}/${id}`) === 'garbage') {
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
  const c = confine(root);
  for (const id of pendingTxns(root)) {
    const dir = join(txnRoot(root), id);
    const rel = `${TXN_DIR}/${id}`;
    if (id.endsWith(DONE)) {
      removeDone(c, rel);
      continue;
    }
    const j = readJournal(c, rel);
    if (j === 'missing' || (j === 'garbage' && opts.abort)) {
      const action = salvageTxn(root, rel, id, emit);
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
    if (c.exists(`${rel}/${NEW_DB}`)) {
      undoPre(c, rel, j.pre, touched);
      action = 'rolled back';
    } else {
      doPost(c, j.post, touched, emit);
      moveHistory(c, rel);
      action = 'completed';
    }
    finish(c, rel, touched);
    emit({ type: 'recovered', txn: id, command: j.command, pid: j.pid, action });
    done.push({ txn: id, action });
  }
  return done;
}
