/**
 * The live pipeline, top to bottom:
 *   lock → recover → resolve (solve) → fetch every package into the cache →
 *   verify + stage each into txn/ID/new (owner and mode final) → plan the
 *   file operations against the database and the disk (conflicts, config
 *   files, symlinks on the root) → new database + history → journal →
 *   switch (journal.ts) → release.
 * Nothing on the root changes until every package is fetched, verified and
 * staged and the whole plan is known.
 */
import { chmodSync, closeSync, constants, fchmodSync, fchownSync, fsyncSync, lchownSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { dbBytes, INSTALLED, type InstalledDb, type InstalledRecord } from '../db/installed.js';
import { confine } from '../confine.js';
import { MinosError } from '../errors.js';
import type { Locator } from '../solve/solver.js';
import { accountFiles, collectAccounts, parseIdFile } from '../target/accounts.js';
import { CREATE_NEW } from '../fsutil.js';
import type { FileEntry, Manifest } from '../types.js';
import type { Keyring } from '../repo/keys.js';
import { noEvents, type Emit } from './events.js';
import { appendGeneration, fastDbBytes, genPackages, historyBytes, readHistory } from './history.js';
import { acquireLock, lockHolder } from './lock.js';
import { createTxn, crashPoint, discardTxn, pendingReport, recover, runJournal, syncFsAsync, type Journal, type Txn } from './journal.js';
import { expectOf, fetchToCache, keyringFor, resolveAction, type Action, type Resolution, type Target } from './resolve.js';
import { loadDb, openRoot, rootArch, rootText, writeState } from './root.js';
import type { StageResult } from './stage.js';
import { planChanges, type Plan, type PlanInput } from '../engine/plan.js';
import { debianRoot, debianStep } from './debian.js';
import { rootView } from './rootview.js';
import { createStagePool, smallWork, type StagePool } from './stagepool.js';

export interface LiveOptions {
  /** The root folder (default '/'). */
  root: string;
  /** The command line, for the lock, the journal and the history. */
  command: string;
  /** Wait for another minos instead of failing with MN0501. */
  wait?: boolean;
  allowExpired?: boolean;
  /** Paths (absolute, inside the root) that may replace files no package owns. */
  forceOverwrite?: string[];
  /** Replace a corrupt database by an empty one (the corrupt file is kept). */
  repair?: boolean;
  onEvent?: Emit;
}

export interface LiveResult {
  install: Locator[];
  upgrade: { from: Locator; to: Locator }[];
  remove: Locator[];
  /** The generation recorded, if anything changed. */
  generation?: number;
  configNew: string[];
  configSave: string[];
}

/**
 * Run `fn` holding the write lock of an existing minos root, after
 * recovering any interrupted transaction.
 */
export async function withWriteLock<T>(opts: Pick<LiveOptions, 'root' | 'command' | 'wait' | 'onEvent'>, fn: (root: string) => Promise<T> | T): Promise<T> {
  const root = openRoot(opts.root);
  const emit = opts.onEvent ?? noEvents;
  const lock = await acquireLock(root, { command: opts.command, wait: opts.wait, onEvent: emit });
  try {
    recover(root, emit);
    return await fn(root);
  } finally {
    lock.release();
  }
}

/**
 * Open a root for a query. Queries never write (nor take the lock): an
 * interrupted transaction, or a dead writer's temporary files, wait for
 * `minos recover` or the next writing command; the query answers from the
 * last committed database and says so.
 */
export async function openForQuery(dir: string, emit: Emit = noEvents): Promise<string> {
  const root = openRoot(dir);
  const pending = lockHolder(root) ? undefined : pendingReport(root);
  if (pending) emit({ type: 'warning', message: pending });
  return root;
}

/** Resolve without changing anything (minos plan install|remove|upgrade|rollback). */
export async function planLive(action: Action, opts: LiveOptions): Promise<Resolution> {
  const root = await openForQuery(opts.root, opts.onEvent);
  const db = loadDb(root, false);
  return resolveAction({ root, db, arch: rootArch(root, db), allowExpired: opts.allowExpired }, action);
}

// ---------------------------------------------------------------------------

interface StagedPkg {
  target: Target;
  manifest: Manifest;
  sha256: string;
  /** path → staged number (new/N) */
  staged: Map<string, string>;
  deb?: StageResult['deb'];
}

/** Owner and group names → ids: declared accounts first, then the root's /etc/passwd and /etc/group. */
class Ids {
  users: Map<string, number>;
  groups: Map<string, number>;
  constructor(root: string) {
    this.users = parseIdFile(rootText(root, 'etc/passwd'));
    this.groups = parseIdFile(rootText(root, 'etc/group'));
    this.users.set('root', 0);
    this.groups.set('root', 0);
  }
  declare(m: { users: readonly { name: string; uid: number }[]; groups: readonly { name: string; gid: number }[] }): void {
    for (const u of m.users) this.users.set(u.name, u.uid);
    for (const g of m.groups) this.groups.set(g.name, g.gid);
  }
  uid(name: string): number | undefined {
    return this.users.get(name);
  }
  gid(name: string): number | undefined {
    return this.groups.get(name);
  }
  /** Both ids of `e`'s owner and group; undefined when either account is unknown. */
  of(e: FileEntry): { uid: number; gid: number } | undefined {
    const uid = this.users.get(e.owner);
    const gid = this.groups.get(e.group);
    return uid === undefined || gid === undefined ? undefined : { uid, gid };
  }
}

function fsyncPath(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function ownLink(p: string, e: FileEntry, ctx: { ids: Ids; fixups: { path: string; e: FileEntry }[] }): void {
  const id = ctx.ids.of(e);
  if (!id) ctx.fixups.push({ path: p, e });
  else lchownSync(p, id.uid, id.gid);
}

function ownPath(p: string, e: FileEntry, ctx: { chown: boolean; ids: Ids; fixups: { path: string; e: FileEntry }[] }): void {
  if (ctx.chown) ownLink(p, e, ctx);
  if (e.type === 'char' || e.type === 'block' || e.type === 'fifo') {
    // By path, never by opening it: opening a device can have effects. The node was staged by this transaction.
    chmodSync(p, e.mode);
  } else if (e.type !== 'symlink') {
    const fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    try {
      fchmodSync(fd, e.mode);
    } finally {
      closeSync(fd);
    }
  }
}

function ownerError(what: string, e: FileEntry): MinosError {
  return new MinosError('MN0113', `/${e.path} (${what}) is owned by ${e.owner}:${e.group}, which neither a package nor the root's /etc/passwd and /etc/group declare`, { data: { path: e.path } });
}

/**
 * Accounts: when the packages after the transaction declare users or groups
 * the root's /etc/passwd or /etc/group lack (or with other ids), the three
 * files are rewritten as build writes them, keeping every other line.
 */
function planAccounts(root: string, records: InstalledRecord[], txn: Txn, counter: { n: number }, plan: Plan, chown: boolean): void {
  const declared = records.some((r) => r.users.length || r.groups.length);
  if (!declared) return;
  const acc = collectAccounts(records.map((r) => ({ name: r.name, users: r.users, groups: r.groups })));
  const base = { passwd: rootText(root, 'etc/passwd'), group: rootText(root, 'etc/group'), shadow: rootText(root, 'etc/shadow') };
  const users = parseIdFile(base.passwd);
  const groups = parseIdFile(base.group);
  const missing = [...acc.users.values()].some((u) => users.get(u.name) !== u.uid) || [...acc.groups.values()].some((g) => groups.get(g.name) !== g.gid);
  if (!missing) return;
  const files = accountFiles(acc, base);
  const c = confine(root);
  if (!c.lstat('etc')?.isDirectory()) {
    if (c.lstat('etc')) throw new MinosError('MN0601', `file conflict: /etc is not a folder`);
    plan.pre.push({ op: 'mkdir', path: 'etc', mode: 0o755, uid: 0, gid: 0 });
  }
  const shadowGroup = acc.groups.has('shadow') ? acc.groups.get('shadow')!.gid : 0;
  for (const [name, text, mode, gid] of [['passwd', files.passwd, 0o644, 0], ['group', files.group, 0o644, 0], ['shadow', files.shadow, shadowGroup ? 0o640 : 0o600, shadowGroup]] as const) {
    const n = String(counter.n++);
    const p = join(txn.newDir, n);
    const fd = openSync(p, CREATE_NEW, 0o600);
    try {
      writeSync(fd, text);
      if (chown) fchownSync(fd, 0, gid);
      fchmodSync(fd, mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const st = c.lstat(`etc/${name}`);
    plan.pre.push({ op: 'put', path: `etc/${name}`, src: n, ...(st && !st.isDirectory() ? { old: `acc-${name}` } : {}) });
  }
}

/** Run an install, remove, upgrade or rollback as one transaction. */
export async function runLive(action: Action, opts: LiveOptions): Promise<LiveResult> {
  const emit = opts.onEvent ?? noEvents;
  // Workers start now and load their modules while this thread locks, resolves and fetches.
  const pool = createStagePool(action.kind === 'remove' ? 0 : undefined);
  try {
    return await runLiveLocked(action, opts, emit, pool);
  } finally {
    await pool.close();
  }
}

async function runLiveLocked(action: Action, opts: LiveOptions, emit: Emit, pool: StagePool): Promise<LiveResult> {
  return withWriteLock(opts, async (root) => {
    const db = loadDb(root, opts.repair);
    const res = await resolveAction({ root, db, arch: rootArch(root, db), allowExpired: opts.allowExpired, remember: true }, action);
    emit({ type: 'resolved', install: res.install.length, upgrade: res.upgrade.length, remove: res.remove.length });
    const result: LiveResult = { install: res.install, upgrade: res.upgrade, remove: res.remove, configNew: [], configSave: [] };
    if (res.targets.length === 0 && res.remove.length === 0) {
      // Only the world or explicit flags may change: no files, no generation.
      const packages = db.packages.map((p) => ({ ...p, explicit: res.explicit.get(p.name) ?? p.explicit }));
      const next: InstalledDb = { ...db, world: res.world, packages };
      if (!dbBytes(next).equals(dbBytes(db)) || opts.repair) writeState(root, INSTALLED, dbBytes(next));
      return result;
    }

    // Fetch everything first.
    const files: string[] = [];
    for (const t of res.targets) files.push(await fetchToCache(root, t.source));
    // Packages too small to repay the stage workers are staged on this thread (smallWork).
    if (smallWork(files.map((f) => statSync(f, { throwIfNoEntry: false })?.size ?? 0))) pool.runHere();

    const chown = process.getuid?.() === 0;
    const ids = new Ids(root);
    for (const r of db.packages) if (res.kept.has(r.name)) ids.declare(r);
    const txn = createTxn(root);
    let journaled = false;
    try {
      const counter = { n: 0 };
      const fixups: { path: string; e: FileEntry }[] = [];
      const unsynced: string[] = [];
      const keyrings = new Map<string, Keyring>();
      const oldEntries = new Map<string, FileEntry>();
      if (res.targets.length) for (const r of db.packages) for (const e of r.files) oldEntries.set(e.path, e);
      pool.setOld(oldEntries);
      const users = ids.users;
      const groups = ids.groups;
      const staged: StagedPkg[] = [];
      let stagedBytes = 0;
      try {
        const submit = (i: number) => {
          const t = res.targets[i];
          const src = t.source;
          const ringKey = src.kind === 'repo' ? `repo:${src.repo.name}` : '*';
          let keyring = keyrings.get(ringKey);
          if (!keyring) keyrings.set(ringKey, (keyring = keyringFor(root, src)));
          const p = pool.run({
            file: files[i], keyring, expect: expectOf(src), want: { name: t.locator.name, version: t.locator.version, arch: t.locator.arch }, entry: src.kind === 'repo' && !src.repo.debian ? src.entry : undefined,
            deb: src.kind === 'repo' && src.repo.debian ? { entry: src.entry, signer: src.repo.debian.release.signer } : undefined,
            cacheSha256: src.kind === 'cache' ? src.sha256 : undefined, newDir: txn.newDir, prefix: `${i}.`, chown, users, groups,
          });
          p.catch(() => {}); // consumed (and reported) in order below
          return p;
        };
        // Workers: submit everything now; inline: stage each package when its turn comes.
        const jobs = pool.parallel ? res.targets.map((_, i) => submit(i)) : [];
        for (const [i, t] of res.targets.entries()) {
          let r: StageResult;
          try {
            r = await (pool.parallel ? jobs[i] : submit(i));
          } catch (e) {
            // A damaged cache copy must not poison later attempts.
            if (e instanceof MinosError && ['MN0205', 'MN0206', 'MN0208'].includes(e.code) && t.source.kind !== 'file') rmSync(files[i], { force: true });
            throw e;
          }
          ids.declare(r.manifest);
          for (const w of r.warnings) emit({ type: 'warning', message: w });
          fixups.push(...r.fixups);
          for (const u of r.unsynced) unsynced.push(u);
          for (let k = 0; k < r.regular; k++) crashPoint();
          staged.push({ target: t, manifest: r.manifest, sha256: r.sha256, staged: new Map(r.staged), deb: r.deb });
          stagedBytes += r.manifest.installedSize;
          emit({ type: 'package', name: t.locator.name, version: t.locator.version, index: i + 1, total: res.targets.length, bytes: stagedBytes });
        }
      } finally {
        await pool.close(); // no worker writes any more (a failure discards the transaction folder)
      }
      for (const f of fixups) {
        const id = ids.of(f.e);
        if (!id) throw ownerError('file', f.e);
        lchownSync(f.path, id.uid, id.gid);
        if (f.e.type !== 'symlink') ownPath(f.path, f.e, { chown: false, ids, fixups: [] });
      }
      const force = new Set((opts.forceOverwrite ?? []).map((p) => p.replace(/^\/+/, '').replace(/\/+$/, '')));
      // A Debian root: packages land through merged-/usr, the scripts' effects are derived again.
      const deb = debianRoot(db, rootArch(root, db), staged.some((x) => x.deb));
      let generated: PlanInput['generated'];
      if (deb) {
        const step = debianStep(root, db, deb, db.packages.filter((r) => res.kept.has(r.name)), staged, {
          newDir: txn.newDir, chown, force, epoch: Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000)),
          ids: (e) => ids.of(e),
        });
        step.packages.forEach((p, i) => Object.assign(staged[i], { manifest: p.manifest, staged: p.staged }));
        for (const w of step.warnings) emit({ type: 'warning', message: w });
        unsynced.push(...step.unsynced);
        generated = step.generated;
      }
      // Staged content must be on disk before the journal lets it into the root.
      // (one syncfs, run while the operations are planned; awaited before the journal).
      const durable = unsynced.length > 16 ? syncFsAsync(root) : Promise.resolve(false);
      const plan = planChanges(rootView(root), {
        db, kept: res.kept, explicit: res.explicit, force, onEvent: emit, generated,
        staged: staged.map((s) => ({ manifest: s.manifest, staged: s.staged, repo: s.target.locator.repo, sha256: s.sha256, explicit: s.target.explicit })),
        ids: (e) => {
          if (!chown) return { uid: 0, gid: 0 };
          const id = ids.of(e);
          if (!id) throw ownerError('folder', e);
          return id;
        },
      });
      planAccounts(root, plan.records, txn, counter, plan, chown);
      result.configNew = plan.configNew;
      result.configSave = plan.configSave;

      // Owners and nodes still not applied: those of kept files and generated nodes this transaction left as they were,
      // and device nodes it could not make (not running as root).
      const still = new Set([...plan.records.filter((r) => res.kept.has(r.name)).flatMap((r) => r.files.map((e) => e.path)), ...plan.generated.map((e) => e.path)]);
      const deferred = db.deferred.filter((d) => !plan.touched.has(d.path) && still.has(d.path));
      if (!chown) {
        const have = new Set(deferred.map((d) => d.path));
        for (const e of plan.generated) {
          if ((e.type !== 'char' && e.type !== 'block') || have.has(e.path)) continue;
          deferred.push({ path: e.path, uid: ids.uid(e.owner) ?? 0, gid: ids.gid(e.group) ?? 0, mode: e.mode, type: e.type, devmajor: e.devmajor, devminor: e.devminor });
        }
      }
      const newDb: InstalledDb = { format: 1, world: res.world, packages: plan.records, deferred, ...(plan.generated.length ? { generated: plan.generated } : {}) };
      const hist = readHistory(root);
      const { history, id } = appendGeneration(hist, { time: new Date().toISOString(), command: opts.command, before: genPackages(db.packages), after: genPackages(plan.records) });
      result.generation = id;
      const journal: Journal = { format: 1, id: txn.id, pid: process.pid, command: opts.command, chown, pre: plan.pre, post: plan.post };
      emit({ type: 'committing', operations: plan.pre.length + plan.post.length });
      if (!(await durable)) for (const p of unsynced) fsyncPath(p);
      journaled = true;
      runJournal(txn, journal, fastDbBytes(newDb), historyBytes(history), emit);
    } catch (e) {
      // Once journaled, runJournal owns the folder: it removes it, or keeps it for the next command to finish.
      if (!journaled) discardTxn(txn);
      throw e;
    }
    return result;
  });
}
