/**
 * The planner: from the installed packages, the packages staged for a
 * transaction and what the target holds, the operations that take the
 * target from the old set to the new one (see target.ts), with the new
 * installed records.
 *
 * Contract: the planner only reads, and only through the TargetView; it
 * never writes anything anywhere. The operations it returns never write
 * through a symlink the plan does not itself replace: a node other than a
 * folder where a folder must be is moved out first; a removal below a path
 * that is not a folder on the target (it became a link) is skipped with a
 * warning; a folder that becomes something else is moved out whole, so its
 * old contents are not removed one by one through whatever replaces it.
 * Ownership follows owners.ts: the same rule as the image build.
 */
import type { InstalledDb, InstalledRecord } from '../db/installed.js';
import { MinosError } from '../errors.js';
import type { FileEntry, Manifest } from '../types.js';
import { claim, recordOf, replaceSets, sameEntry, type Claimant } from './owners.js';
import type { ConfigNewEvent, ConfigSaveEvent, WarningEvent } from './events.js';
import type { Kind, PostOp, PreOp, TargetView } from './target.js';

/** A package staged for the transaction: its verified manifest and the staged node of each path. */
export interface StagedPackage {
  manifest: Manifest;
  /** path → name of the staged node (under the transaction's new/). */
  staged: ReadonlyMap<string, string>;
  repo: string;
  sha256: string;
  explicit: boolean;
}

export type PlanEvent = ConfigNewEvent | ConfigSaveEvent | WarningEvent;

export interface PlanInput {
  /** The installed database before the transaction. */
  db: InstalledDb;
  /** Installed packages that stay as they are. */
  kept: ReadonlySet<string>;
  staged: readonly StagedPackage[];
  /** The explicit flag of every package after the transaction. */
  explicit: ReadonlyMap<string, boolean>;
  /** Paths that may replace nodes no package owns (--force-overwrite). */
  force: ReadonlySet<string>;
  /**
   * The nodes minos makes from data (InstalledDb.generated): those after the
   * transaction, with their staged nodes. They are placed like the files of
   * a package named '' (a package's entry on the same path is a conflict),
   * may replace what is on the target without --force-overwrite (minos made
   * it; a root built before the set was recorded has them unrecorded), and
   * those under etc/ are config files.
   */
  generated?: { now: readonly FileEntry[]; staged: ReadonlyMap<string, string> };
  /** Numeric owner of a folder the plan makes or changes; throws for an unknown account. */
  ids: (e: FileEntry) => { uid: number; gid: number };
  onEvent: (e: PlanEvent) => void;
}

export interface Plan {
  pre: PreOp[];
  post: PostOp[];
  records: InstalledRecord[];
  configNew: string[];
  configSave: string[];
  /** Paths whose node on the target this transaction replaces or creates. */
  touched: Set<string>;
  /** The generated set after the transaction: the entries no package took. */
  generated: FileEntry[];
}

interface Owned {
  e: FileEntry;
  pkg: string;
  /** Its staged node, for a staged package's entry. */
  n?: string;
}

/** Paths in byte order (parents before children), without re-encoding on every comparison. */
export function byteSorted(paths: Iterable<string>, descending = false): string[] {
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

const kindName = (k: Kind) => (k === 'dir' ? 'folder' : k === 'symlink' ? 'symlink' : 'file');
const configSet = (m: { config: readonly string[] }) => new Set(m.config.map((c) => c.replace(/^\/+/, '')));

/** The generated set after the transaction: as given, else the one installed, unchanged. */
function generatedOf(input: PlanInput): NonNullable<PlanInput['generated']> {
  return input.generated ?? { now: input.db.generated ?? [], staged: new Map() };
}

/** The new ownership map (owners.ts), and the paths each package loses to one that replaces it. */
function ownership(input: PlanInput, keptRecords: readonly InstalledRecord[]) {
  const versions = new Map<string, string>([...keptRecords.map((r) => [r.name, r.version] as const), ...input.staged.map((s) => [s.manifest.name, s.manifest.version] as const)]);
  const sets = replaceSets([...keptRecords, ...input.staged.map((s) => s.manifest)]);
  const newMap = new Map<string, Owned>();
  const lost = new Map<string, Set<string>>();
  const lose = (pkg: string, path: string) => {
    let s = lost.get(pkg);
    if (!s) lost.set(pkg, (s = new Set()));
    s.add(path);
  };
  const place = (o: Owned) => {
    const had = newMap.get(o.e.path);
    if (!had) {
      newMap.set(o.e.path, o);
      return;
    }
    const c = (x: Owned): Claimant => ({ pkg: x.pkg, type: x.e.type });
    const how = claim(o.e.path, c(had), c(o), sets, versions);
    if (how === 'take') {
      lose(had.pkg, o.e.path);
      newMap.set(o.e.path, o);
    } else if (how === 'keep') lose(o.pkg, o.e.path);
  };
  for (const r of keptRecords) for (const e of r.files) place({ e, pkg: r.name });
  for (const s of input.staged) for (const e of s.manifest.files) place({ e, pkg: s.manifest.name, n: s.staged.get(e.path) });
  const g = generatedOf(input);
  for (const e of g.now) place({ e, pkg: '', n: g.staged.get(e.path) });
  return { newMap, lost, versions };
}

export function planChanges(view: TargetView, input: PlanInput): Plan {
  const { db, force, ids, onEvent: emit } = input;
  const oldMap = new Map<string, Owned>();
  for (const r of db.packages) for (const e of r.files) if (!oldMap.has(e.path) || e.type !== 'dir') oldMap.set(e.path, { e, pkg: r.name });
  for (const e of db.generated ?? []) if (!oldMap.has(e.path)) oldMap.set(e.path, { e, pkg: '' });
  const keptRecords = db.packages.filter((r) => input.kept.has(r.name));
  const { newMap, lost, versions } = ownership(input, keptRecords);
  const etcFiles = (files: readonly FileEntry[]) => new Set(files.filter((e) => e.type === 'file' && e.path.startsWith('etc/')).map((e) => e.path));
  const configs = new Map([...keptRecords, ...input.staged.map((s) => s.manifest)].map((m) => [m.name, configSet(m)]));
  configs.set('', etcFiles(generatedOf(input).now));
  const oldConfigs = new Map(db.packages.map((m) => [m.name, configSet(m)]));
  oldConfigs.set('', etcFiles(db.generated ?? []));
  // What minos made itself may replace what is there, as --force-overwrite would.
  const forced = (p: string, pkg: string) => pkg === '' || force.has(p);
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
  const label = (pkg: string) => `${pkg} ${versions.get(pkg) ?? ''}`.trim();
  const unowned = (path: string, k: Kind, pkg: string) => new MinosError('MN0601', `file conflict: /${path} exists on the root (${kindName(k)}) and belongs to no package, but ${label(pkg)} installs it`, {
    data: { path: `/${path}`, packages: [pkg] },
    hint: `move it away, or pass --force-overwrite /${path}`,
  });
  // A folder in the way of a non-folder may only hold what this transaction removes.
  const dirEmptiedBy = (path: string): boolean => view.list(path).every((name) => {
    const child = `${path}/${name}`;
    const o = oldMap.get(child);
    return !!o && !newMap.has(child) && (o.e.type !== 'dir' || dirEmptiedBy(child));
  });

  const created = new Set<string>(); // folders this transaction creates: empty, nothing to look up inside
  for (const p of byteSorted(newMap.keys())) {
    const nw = newMap.get(p)!;
    const old = oldMap.get(p);
    const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : undefined;
    const inNew = parent !== undefined && created.has(parent);
    if (parent !== undefined && newMap.get(parent)?.e.type !== 'dir') {
      throw new MinosError('MN0207', `/${p}: its folder /${parent} is not a folder of any package after this transaction`, { data: { path: p } });
    }
    if (nw.e.type === 'dir') {
      const k = inNew ? undefined : view.kind(p);
      if (k === 'dir') {
        if (old && old.e.type === 'dir' && old.pkg === nw.pkg && (old.e.mode !== nw.e.mode || old.e.owner !== nw.e.owner || old.e.group !== nw.e.group)) {
          attrs.push({ op: 'attr', path: p, mode: nw.e.mode, ...ids(nw.e) });
        }
        continue;
      }
      if (k) {
        // Something else (a symlink, perhaps) where a folder must be: never write through it.
        if (!old && !forced(p, nw.pkg)) throw unowned(p, k, nw.pkg);
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
    const k = inNew ? undefined : view.kind(p);
    if (nw.e.type === 'file' && k === 'file' && configs.get(nw.pkg)?.has(p)) {
      const h = view.hash(p);
      const pristine = old && old.e.type === 'file' && old.e.sha256 === h;
      if (!pristine) {
        if (h !== nw.e.sha256) {
          const side = `${p}.minos-new`;
          const sk = view.kind(side);
          if (sk === 'dir') throw unowned(side, sk, nw.pkg);
          puts.push({ op: 'put', path: side, src: nw.n, ...(sk ? { old: nextOld() } : {}) });
          configNew.push(`/${p}`);
          emit({ type: 'config-new', path: `/${p}`, package: nw.pkg });
        }
        continue;
      }
    }
    touched.add(p);
    if (!k) {
      puts.push({ op: 'put', path: p, src: nw.n });
      continue;
    }
    if (!old && !forced(p, nw.pkg)) throw unowned(p, k, nw.pkg);
    if (k === 'dir') {
      if (!forced(p, nw.pkg) && !dirEmptiedBy(p)) throw unowned(p, k, nw.pkg);
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
      ok = view.kind(parent) === 'dir' && parentSafe(parent);
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
  const rmdirs: PostOp[] = [];
  for (const p of byteSorted([...oldMap.keys()].filter((q) => !newMap.has(q)), true)) {
    const old = oldMap.get(p)!;
    if (underMoved(p)) continue;
    if (!parentSafe(p)) {
      emit({ type: 'warning', message: `/${p}: not removed, a folder above it is not a folder any more` });
      continue;
    }
    if (old.e.type === 'dir') {
      rmdirs.push({ op: 'rmdir', path: p });
      continue;
    }
    if (old.e.type === 'file' && oldConfigs.get(old.pkg)?.has(p) && view.kind(p) === 'file' && view.hash(p) !== old.e.sha256) {
      post.push({ op: 'save', path: p, to: `${p}.minos-save` });
      configSave.push(`/${p}`);
      emit({ type: 'config-save', path: `/${p}`, package: old.pkg });
      continue;
    }
    post.push({ op: 'unlink', path: p });
  }
  const moveOrder = byteSorted(moveouts.map((m) => m.path), true);
  moveouts.sort((a, b) => moveOrder.indexOf(a.path) - moveOrder.indexOf(b.path));

  const without = <T extends { files: FileEntry[] }>(rec: T, pkg: string): T => {
    const l = lost.get(pkg);
    return l ? { ...rec, files: rec.files.filter((e) => !l.has(e.path)) } : rec;
  };
  const records: InstalledRecord[] = [
    ...keptRecords.map((r) => without(r, r.name)),
    ...input.staged.map((s) => without(recordOf(s.manifest, s.repo, s.sha256, s.explicit), s.manifest.name)),
  ];
  for (const rec of records) rec.explicit = input.explicit.get(rec.name) ?? rec.explicit;
  const generated = generatedOf(input).now.filter((e) => newMap.get(e.path)?.pkg === '');
  return { pre: [...moveouts, ...mkdirs, ...puts], post: [...post, ...rmdirs, ...attrs], records, configNew, configSave, touched, generated };
}
