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
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, constants, fchmodSync, fchownSync, fsyncSync, lchownSync, lstatSync, openSync, readdirSync, readFileSync, rmSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { dbBytes, INSTALLED, writeFileAtomic, type InstalledDb, type InstalledRecord } from '../db/installed.js';
import { ioError, MinosError } from '../errors.js';
import { parseDescriptor, satisfies } from '../depend.js';
import type { Locator } from '../solve/solver.js';
import { accountFiles, collectAccounts, parseIdFile } from '../target/accounts.js';
import { CREATE_NEW, readTextIfAny } from '../fsutil.js';
import type { FileEntry, Manifest } from '../types.js';
import type { Keyring } from '../repo/keys.js';
import { noEvents, type Emit } from './events.js';
import { appendGeneration, fastDbBytes, genPackages, historyBytes, readHistory } from './history.js';
import { acquireLock, lockHolder } from './lock.js';
import { createTxn, crashPoint, discardTxn, pendingReport, recover, runJournal, syncFsAsync, type Journal, type PostOp, type PreOp, type Txn } from './journal.js';
import { expectOf, fetchToCache, keyringFor, recordFrom, resolveAction, type Action, type Resolution, type Target } from './resolve.js';
import { loadDb, openRoot, rootArch } from './root.js';
import { sameEntry, type StageResult } from './stage.js';
import { createStagePool, type StagePool } from './stagepool.js';

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
 * For queries: open the root and, if an interrupted transaction (or a lock
 * or temporary files left by a dead process) is found and nobody holds the
 * lock, recover first (taking the lock removes the temporary files). A query during a live write
 * reads the committed database and does not wait.
 */
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

interface Owned {
  e: FileEntry;
  pkg: string;
}

interface StagedPkg {
  target: Target;
  manifest: Manifest;
  sha256: string;
  /** path → staged number (new/N) */
  staged: Map<string, string>;
}

function lst(p: string): Stats | undefined {
  try {
    return lstatSync(p, { throwIfNoEntry: false });
  } catch (e) {
    throw ioError(e, p);
  }
}

/** Paths in byte order (parents before children), without re-encoding on every comparison. */
function byteSorted(paths: Iterable<string>, descending = false): string[] {
  const list = [...paths];
  // UTF-16 code unit order is UTF-8 byte order unless a string holds a code unit >= 0xD800.
  if (!list.some((p) => /[\uD800-\uFFFF]/.test(p))) {
    list.sort();
    if (descending) list.reverse();
    return list;
  }
  const keyed = list.map((p) => ({ p, b: Buffer.from(p) }));
  keyed.sort((x, y) => (descending ? Buffer.compare(y.b, x.b) : Buffer.compare(x.b, y.b)));
  return keyed.map((k) => k.p);
}

function sha256File(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}


/** Owner and group names → ids: declared accounts first, then the root's /etc/passwd and /etc/group. */
class Ids {
  users: Map<string, number>;
  groups: Map<string, number>;
  constructor(root: string) {
    this.users = parseIdFile(readTextIfAny(join(root, 'etc/passwd')));
    this.groups = parseIdFile(readTextIfAny(join(root, 'etc/group')));
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
  const uid = ctx.ids.uid(e.owner);
  const gid = ctx.ids.gid(e.group);
  if (uid === undefined || gid === undefined) ctx.fixups.push({ path: p, e });
  else lchownSync(p, uid, gid);
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

/** For each package, the packages of the result it replaces (build's rule: the version must match). */
function replaceSets(metas: Map<string, { version: string; replaces: readonly string[] }>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [name, m] of metas) {
    const s = new Set<string>();
    for (const r of m.replaces) {
      const d = parseDescriptor(r);
      const other = metas.get(d.name);
      if (other && d.name !== name && satisfies(other.version, d.constraint)) s.add(d.name);
    }
    out.set(name, s);
  }
  return out;
}

function pkgLabel(name: string, versions: Map<string, string>): string {
  return `${name} ${versions.get(name) ?? ''}`.trim();
}

interface OpsPlan {
  pre: PreOp[];
  post: PostOp[];
  records: InstalledRecord[];
  configNew: string[];
  configSave: string[];
  /** Paths whose on-disk node this transaction replaces or creates. */
  touched: Set<string>;
}

/**
 * Plan the file operations: the new ownership map (conflicts as in build:
 * folders may be shared, `replaces` takes files over), then for each path
 * the difference with the old map and the disk.
 */
function planOps(root: string, db: InstalledDb, res: Resolution, staged: StagedPkg[], txn: Txn, ctx: { chown: boolean; ids: Ids; force: Set<string>; emit: Emit }): OpsPlan {
  const oldMap = new Map<string, Owned>();
  for (const r of db.packages) for (const e of r.files) if (!oldMap.has(e.path) || e.type !== 'dir') oldMap.set(e.path, { e, pkg: r.name });
  const keptRecords = db.packages.filter((r) => res.kept.has(r.name));
  const versions = new Map<string, string>([...keptRecords.map((r) => [r.name, r.version] as const), ...staged.map((s) => [s.manifest.name, s.manifest.version] as const)]);
  const metas = new Map<string, { version: string; replaces: readonly string[] }>([...keptRecords, ...staged.map((s) => s.manifest)].map((m) => [m.name, m]));
  const replaces = replaceSets(metas);
  const newMap = new Map<string, Owned & { n?: string }>();
  const lost = new Map<string, Set<string>>();
  const lose = (pkg: string, path: string) => {
    let s = lost.get(pkg);
    if (!s) lost.set(pkg, (s = new Set()));
    s.add(path);
  };
  const conflict = (path: string, a: Owned, b: Owned) => new MinosError('MN0601', `file conflict: /${path} is in both ${pkgLabel(a.pkg, versions)} (${a.e.type}) and ${pkgLabel(b.pkg, versions)} (${b.e.type})`, {
    data: { path: `/${path}`, packages: [a.pkg, b.pkg] },
    hint: 'one package must declare `replaces` on the other',
  });
  const place = (o: Owned & { n?: string }) => {
    const had = newMap.get(o.e.path);
    if (!had) {
      newMap.set(o.e.path, o);
      return;
    }
    if (had.e.type === 'dir' && o.e.type === 'dir') return;
    if (had.e.type !== 'dir' && o.e.type !== 'dir') {
      if (replaces.get(o.pkg)?.has(had.pkg)) {
        lose(had.pkg, o.e.path);
        newMap.set(o.e.path, o);
        return;
      }
      if (replaces.get(had.pkg)?.has(o.pkg)) {
        lose(o.pkg, o.e.path);
        return;
      }
    }
    throw conflict(o.e.path, had, o);
  };
  for (const r of keptRecords) for (const e of r.files) place({ e, pkg: r.name });
  for (const s of staged) for (const e of s.manifest.files) place({ e, pkg: s.manifest.name, n: s.staged.get(e.path) });

  const configs = new Map<string, Set<string>>([...keptRecords, ...staged.map((s) => s.manifest)].map((m) => [m.name, new Set(m.config.map((c) => c.replace(/^\/+/, '')))]));
  const oldConfigs = new Map<string, Set<string>>(db.packages.map((m) => [m.name, new Set(m.config.map((c) => c.replace(/^\/+/, '')))]));
  const abs = (p: string) => (root === '/' ? `/${p}` : `${root}/${p}`);
  let oldN = 0;
  const nextOld = () => String(oldN++);
  const moveouts: PreOp[] = [];
  const mkdirs: PreOp[] = [];
  const puts: PreOp[] = [];
  const post: PostOp[] = [];
  const attrs: PostOp[] = [];
  const configNew: string[] = [];
  const configSave: string[] = [];
  const touched = new Set<string>();
  const unowned = (path: string, st: Stats, pkg: string) => new MinosError('MN0601', `file conflict: /${path} exists on the root (${st.isDirectory() ? 'folder' : st.isSymbolicLink() ? 'symlink' : 'file'}) and belongs to no package, but ${pkgLabel(pkg, versions)} installs it`, {
    data: { path: `/${path}`, packages: [pkg] },
    hint: `move it away, or pass --force-overwrite /${path}`,
  });
  const ids = (e: FileEntry) => {
    if (!ctx.chown) return { uid: 0, gid: 0 };
    const uid = ctx.ids.uid(e.owner);
    const gid = ctx.ids.gid(e.group);
    if (uid === undefined || gid === undefined) throw ownerError('folder', e);
    return { uid, gid };
  };
  // A folder in the way of a non-folder may only hold what this transaction removes.
  const dirEmptiedBy = (path: string) => {
    for (const name of readdirSync(abs(path))) {
      const child = `${path}/${name}`;
      const o = oldMap.get(child);
      if (!o || newMap.has(child)) return false;
      if (o.e.type === 'dir' && !dirEmptiedBy(child)) return false;
    }
    return true;
  };

  const newPaths = byteSorted(newMap.keys());
  const created = new Set<string>(); // folders this transaction creates: empty, nothing to look up inside
  for (const p of newPaths) {
    const nw = newMap.get(p)!;
    const old = oldMap.get(p);
    const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : undefined;
    const inNew = parent !== undefined && created.has(parent);
    if (parent !== undefined && newMap.get(parent)?.e.type !== 'dir') {
      throw new MinosError('MN0207', `/${p}: its folder /${parent} is not a folder of any package after this transaction`, { data: { path: p } });
    }
    if (nw.e.type === 'dir') {
      const st = inNew ? undefined : lst(abs(p));
      if (st?.isDirectory()) {
        if (old && old.e.type === 'dir' && old.pkg === nw.pkg && (old.e.mode !== nw.e.mode || old.e.owner !== nw.e.owner || old.e.group !== nw.e.group)) {
          attrs.push({ op: 'attr', path: p, mode: nw.e.mode, ...ids(nw.e) });
        }
        continue;
      }
      if (st) {
        // Something else (a symlink, perhaps) where a folder must be: never write through it.
        if (!old && !ctx.force.has(p)) throw unowned(p, st, nw.pkg);
        moveouts.push({ op: 'moveout', path: p, old: nextOld() });
      }
      mkdirs.push({ op: 'mkdir', path: p, mode: nw.e.mode, ...ids(nw.e) });
      touched.add(p);
      created.add(p);
      continue;
    }
    if (old && sameEntry(old.e, nw.e)) continue;
    if (nw.n === undefined) {
      if (nw.e.type === 'char' || nw.e.type === 'block') continue; // not creatable without root (warned)
      throw new MinosError('MN0001', `/${p} of ${nw.pkg} was not staged`);
    }
    const st = inNew ? undefined : lst(abs(p));
    const isConfig = configs.get(nw.pkg)?.has(p) && nw.e.type === 'file';
    if (isConfig && st?.isFile()) {
      const h = sha256File(abs(p));
      const pristine = old && old.e.type === 'file' && old.e.sha256 === h;
      if (!pristine) {
        if (h !== nw.e.sha256) {
          const side = `${p}.minos-new`;
          const sst = lst(abs(side));
          if (sst?.isDirectory()) throw unowned(side, sst, nw.pkg);
          puts.push({ op: 'put', path: side, src: nw.n, ...(sst ? { old: nextOld() } : {}) });
          configNew.push(`/${p}`);
          ctx.emit({ type: 'config-new', path: `/${p}`, package: nw.pkg });
        }
        continue;
      }
    }
    touched.add(p);
    if (!st) {
      puts.push({ op: 'put', path: p, src: nw.n });
      continue;
    }
    if (!old && !ctx.force.has(p)) throw unowned(p, st, nw.pkg);
    if (st.isDirectory()) {
      if (!ctx.force.has(p) && !dirEmptiedBy(p)) throw unowned(p, st, nw.pkg);
      moveouts.push({ op: 'moveout', path: p, old: nextOld() });
      puts.push({ op: 'put', path: p, src: nw.n });
    } else {
      puts.push({ op: 'put', path: p, src: nw.n, old: nextOld() });
    }
  }

  // Removals happen after the commit: never through a symlink that is not a folder of the root.
  const safeDirs = new Map<string, boolean>();
  const parentSafe = (p: string): boolean => {
    const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
    if (parent === '') return true;
    let ok = safeDirs.get(parent);
    if (ok === undefined) {
      const st = lst(abs(parent));
      ok = !!st?.isDirectory() && parentSafe(parent);
      safeDirs.set(parent, ok);
    }
    return ok;
  };
  // A folder moved out before the commit (it becomes a file or a symlink) took its old
  // contents with it: after the commit the same paths lead elsewhere, perhaps through a
  // new link (merged-/usr), so nothing is removed under it.
  const movedOut = new Set(moveouts.map((m) => m.path));
  const underMoved = (p: string): boolean => {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) if (movedOut.has(p.slice(0, i))) return true;
    return false;
  };
  const removed = byteSorted([...oldMap.keys()].filter((p) => !newMap.has(p)), true);
  const rmdirs: PostOp[] = [];
  for (const p of removed) {
    const old = oldMap.get(p)!;
    if (underMoved(p)) continue;
    if (!parentSafe(p)) {
      ctx.emit({ type: 'warning', message: `/${p}: not removed, a folder above it is not a folder any more` });
      continue;
    }
    if (old.e.type === 'dir') {
      rmdirs.push({ op: 'rmdir', path: p });
      continue;
    }
    const isConfig = oldConfigs.get(old.pkg)?.has(p) && old.e.type === 'file';
    const st = isConfig ? lst(abs(p)) : undefined;
    if (isConfig && st?.isFile() && sha256File(abs(p)) !== old.e.sha256) {
      post.push({ op: 'save', path: p, to: `${p}.minos-save` });
      configSave.push(`/${p}`);
      ctx.emit({ type: 'config-save', path: `/${p}`, package: old.pkg });
      continue;
    }
    post.push({ op: 'unlink', path: p });
  }
  const moveOrder = byteSorted(moveouts.map((m) => m.path), true);
  moveouts.sort((a, b) => moveOrder.indexOf(a.path) - moveOrder.indexOf(b.path));

  const records: InstalledRecord[] = [];
  for (const r of keptRecords) {
    const l = lost.get(r.name);
    records.push(l ? { ...r, files: r.files.filter((e) => !l.has(e.path)) } : r);
  }
  for (const s of staged) {
    const l = lost.get(s.manifest.name);
    const rec = recordFrom(s.manifest, s.target.locator.repo, s.sha256, s.target.explicit);
    records.push(l ? { ...rec, files: rec.files.filter((e) => !l.has(e.path)) } : rec);
  }
  for (const rec of records) rec.explicit = res.explicit.get(rec.name) ?? rec.explicit;
  void txn;
  return { pre: [...moveouts, ...mkdirs, ...puts], post: [...post, ...rmdirs, ...attrs], records, configNew, configSave, touched };
}

/**
 * Accounts: when the packages after the transaction declare users or groups
 * the root's /etc/passwd or /etc/group lack (or with other ids), the three
 * files are rewritten as build writes them, keeping every other line.
 */
function planAccounts(root: string, records: InstalledRecord[], txn: Txn, counter: { n: number }, plan: OpsPlan, chown: boolean): void {
  const declared = records.some((r) => r.users.length || r.groups.length);
  if (!declared) return;
  const acc = collectAccounts(records.map((r) => ({ name: r.name, users: r.users, groups: r.groups })));
  const base = { passwd: readTextIfAny(join(root, 'etc/passwd')), group: readTextIfAny(join(root, 'etc/group')), shadow: readTextIfAny(join(root, 'etc/shadow')) };
  const users = parseIdFile(base.passwd);
  const groups = parseIdFile(base.group);
  const missing = [...acc.users.values()].some((u) => users.get(u.name) !== u.uid) || [...acc.groups.values()].some((g) => groups.get(g.name) !== g.gid);
  if (!missing) return;
  const files = accountFiles(acc, base);
  if (!lst(join(root, 'etc'))?.isDirectory()) {
    if (lst(join(root, 'etc'))) throw new MinosError('MN0601', `file conflict: /etc is not a folder`);
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
    const st = lst(join(root, 'etc', name));
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
      if (!dbBytes(next).equals(dbBytes(db)) || opts.repair) writeFileAtomic(join(root, INSTALLED), dbBytes(next));
      return result;
    }

    // Fetch everything first.
    const files: string[] = [];
    for (const t of res.targets) files.push(await fetchToCache(root, t.source));

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
          staged.push({ target: t, manifest: r.manifest, sha256: r.sha256, staged: new Map(r.staged) });
          stagedBytes += r.manifest.installedSize;
          emit({ type: 'package', name: t.locator.name, version: t.locator.version, index: i + 1, total: res.targets.length, bytes: stagedBytes });
        }
      } finally {
        await pool.close(); // no worker writes any more (a failure discards the transaction folder)
      }
      for (const f of fixups) {
        const uid = ids.uid(f.e.owner);
        const gid = ids.gid(f.e.group);
        if (uid === undefined || gid === undefined) throw ownerError('file', f.e);
        lchownSync(f.path, uid, gid);
        if (f.e.type !== 'symlink') ownPath(f.path, f.e, { chown: false, ids, fixups: [] });
      }
      // Staged content must be on disk before the journal lets it into the root.
      // (one syncfs, run while the operations are planned; awaited before the journal).
      const durable = unsynced.length > 16 ? syncFsAsync(root) : Promise.resolve(false);
      const force = new Set((opts.forceOverwrite ?? []).map((p) => p.replace(/^\/+/, '').replace(/\/+$/, '')));
      const plan = planOps(root, db, res, staged, txn, { chown, ids, force, emit });
      planAccounts(root, plan.records, txn, counter, plan, chown);
      result.configNew = plan.configNew;
      result.configSave = plan.configSave;

      const deferred = db.deferred.filter((d) => !plan.touched.has(d.path) && plan.records.some((r) => res.kept.has(r.name) && r.files.some((e) => e.path === d.path)));
      const newDb: InstalledDb = { format: 1, world: res.world, packages: plan.records, deferred };
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
