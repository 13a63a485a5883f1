/**
 * Debian packages in a staged root. Contract, in build order:
 *   1. prepareMergedUsr before the first Debian package is merged: /usr is
 *      in the stage, so mergedUsrPath can send "bin/ls" to "usr/bin/ls"
 *      (mergePackage's mapPath) as dpkg writes through bookworm's links.
 *   2. completeDebianRoot once every package is staged: the RootView of
 *      the Debian packages (shipped paths, control fields as the package
 *      wrote them, control members, bytes read from the stage) goes to
 *      deriveEffects, and its operations become nodes made by minos (links
 *      /bin -> usr/bin, /dev, accounts, alternatives, ld.so.cache, the dpkg
 *      database). Returns the warnings of packages whose scripts do
 *      something not reproduced.
 * Numeric owners of the operations are named from the account files the
 * operations themselves write (base-passwd's), else the stage's.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync, renameSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { MinosError } from '../errors.js';
import type { FileEntry, GroupDecl, Manifest, UserDecl } from '../types.js';
import { addNode, addOwnFile, addParents, type Stage } from '../engine/stage.js';
import { deriveEffects, type EffectOp, type EffectWarning } from './effects/index.js';
import type { DebFileEntry, DebInstalled, ScriptName } from './effects/types.js';
import { canonicalPath } from './effects/usrmerge.js';

export interface StagedDeb {
  manifest: Manifest;
  /** The control file's text. */
  control: string;
  /** Control members by name (DebResult.members). */
  members: Record<string, string>;
}

/** The stage path a shipped path (relative, "bin/ls") occupies on a merged root of `debArch`. */
export function mergedUsrPath(debArch: string): (path: string) => string {
  return (p) => canonicalPath(`/${p}`, debArch).slice(1);
}

/** /usr, so that packages' top-level program and library folders can land in it. */
export function prepareMergedUsr(stage: Stage): void {
  if (!stage.nodes.has('usr')) addNode(stage, { path: 'usr', type: 'dir', mode: 0o755, owner: 'root', group: 'root', size: 0 });
}

/** Fields of a control file in their order, values as written (continuation lines kept with their newlines). */
export function controlFields(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.replace(/\n+$/, '').split('\n')) {
    if (/^[ \t]/.test(line) && out.length) out[out.length - 1][1] += `\n${line}`;
    else {
      const i = line.indexOf(':');
      if (i > 0) out.push([line.slice(0, i), line.slice(i + 1).replace(/^[ \t]+/, '')]);
    }
  }
  return out;
}

/** A staged Debian package as the effects layer sees it: shipped paths, control fields, members. */
export function viewPackage(d: StagedDeb): DebInstalled {
  const files: DebFileEntry[] = d.manifest.files.map((f) => ({
    path: `/${f.path}`, type: f.type, mode: f.mode, owner: f.owner, group: f.group, size: f.size, sha256: f.sha256 ?? '',
    ...(f.type === 'symlink' ? { target: f.target } : f.type === 'hardlink' ? { target: `/${f.target}` } : {}),
  }));
  return { control: controlFields(d.control), scripts: d.members as Partial<Record<ScriptName, string>>, conffiles: d.manifest.config, files };
}

/** id -> name from the passwd or group text. */
function namesById(text: string | undefined): Map<number, string> {
  const m = new Map<number, string>([[0, 'root']]);
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length > 2 && /^\d+$/.test(f[2]) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
  }
  return m;
}

export interface CompleteOptions {
  debArch: string;
  /** SOURCE_DATE_EPOCH of the build (dates written into files). */
  epoch: number;
  declared: { users: readonly UserDecl[]; groups: readonly GroupDecl[] };
}

export interface Completed {
  warnings: EffectWarning[];
  /** Shipped folders the scripts turn into links (/var/run -> /run): no longer the packages' folders. */
  relinked: string[];
  /** The nodes the effects made that no package ships (the database's `generated` set), by path order of the ops. */
  generated: FileEntry[];
}

/**
 * Account files: the image's accounts step writes them (build) or keeps the
 * root's (live), whatever the effects say; they are never in `generated`.
 */
export const ACCOUNT_FILES: ReadonlySet<string> = new Set(['etc/passwd', 'etc/group', 'etc/shadow', 'etc/gshadow']);

/**
 * The nodes `ops` leave, as entries with owner names (`owner`), for the
 * paths `shipped` does not hold, and each file's bytes; in op order, a later op on a path
 * replacing an earlier one as applyOp does (a file replaces, a folder,
 * link or device stays the first one made).
 */
export function effectEntries(ops: readonly EffectOp[], shipped: (path: string) => boolean, owner: (o: { path: string; uid: number; gid: number }) => { owner: string; group: string }): { entries: FileEntry[]; relinked: string[]; data: Map<string, Uint8Array> } {
  const out = new Map<string, FileEntry>();
  const relinked: string[] = [];
  const data = new Map<string, Uint8Array>();
  const root = { owner: 'root', group: 'root' };
  for (const o of ops) {
    const path = o.path.slice(1);
    if (ACCOUNT_FILES.has(path)) continue;
    if (o.op === 'dir-to-link') {
      relinked.push(path);
      out.set(path, { path, type: 'symlink', mode: 0o777, ...root, size: 0, target: o.target });
      continue;
    }
    if (shipped(path)) continue;
    if (o.op === 'file') {
      data.set(path, o.data);
      out.set(path, { path, type: 'file', mode: o.mode, ...owner(o), size: o.data.length, sha256: createHash('sha256').update(o.data).digest('hex') });
    } else if (out.has(path)) {
      continue;
    } else if (o.op === 'mkdir') {
      out.set(path, { path, type: 'dir', mode: o.mode, ...owner(o), size: 0 });
    } else if (o.op === 'symlink') {
      out.set(path, { path, type: 'symlink', mode: 0o777, ...root, size: 0, target: o.target });
    } else {
      out.set(path, { path, type: o.kind, mode: o.mode, ...owner(o), size: 0, devmajor: o.major, devminor: o.minor });
    }
  }
  return { entries: [...out.values()], relinked, data };
}

/** Names for the numeric owners of `ops`: from the account files the ops write, else from `base` (the root's). */
export function opOwners(ops: readonly EffectOp[], base: (path: string) => string | undefined): (o: { path: string; uid: number; gid: number }) => { owner: string; group: string } {
  const text = (path: string) => {
    const op = ops.find((o) => o.op === 'file' && o.path === path);
    return op && op.op === 'file' ? Buffer.from(op.data).toString('utf8') : base(path);
  };
  const users = namesById(text('/etc/passwd'));
  const groups = namesById(text('/etc/group'));
  return (o) => {
    const u = users.get(o.uid);
    const g = groups.get(o.gid);
    if (u === undefined || g === undefined) {
      throw new MinosError('MN0113', `/${o.path.slice(1)}: made for the packages' scripts with owner ${o.uid}:${o.gid}, which the account files do not name`, { data: { path: o.path } });
    }
    return { owner: u, group: g };
  };
}

export function completeDebianRoot(stage: Stage, debs: readonly StagedDeb[], opts: CompleteOptions): Completed {
  const inStage = (p: string): string | undefined => {
    const rel = canonicalPath(p, opts.debArch).slice(1);
    const n = stage.nodes.get(rel);
    return n && (n.type === 'file' || n.type === 'hardlink') ? join(stage.root, rel) : undefined;
  };
  const readStage = (p: string): Uint8Array | undefined => {
    const f = inStage(p);
    return f === undefined ? undefined : readFileSync(f);
  };
  // The ld.so cache reads a few ranges of each library, not whole files (~12 MB in the essential set).
  const readAt = (p: string, offset: number, length: number): Uint8Array | undefined => {
    const f = inStage(p);
    if (f === undefined) return undefined;
    const fd = openSync(f, 'r');
    try {
      // A length from the file's own headers is bounded by the file, not trusted.
      const b = Buffer.allocUnsafe(Math.max(0, Math.min(length, fstatSync(fd).size - offset)));
      return b.subarray(0, readSync(fd, b, 0, b.length, offset));
    } finally {
      closeSync(fd);
    }
  };
  const fx = deriveEffects({ arch: opts.debArch, packages: debs.map(viewPackage), read: readStage, readAt, epoch: opts.epoch }, { declared: opts.declared });
  const owner = opOwners(fx.ops, (path) => {
    const own = readStage(path);
    return own && Buffer.from(own).toString('utf8');
  });
  const shipped = (path: string) => !!stage.nodes.get(path)?.pkg;
  // What the packages ship is known before the ops run: the generated set is what the ops add besides.
  const { entries, relinked } = effectEntries(fx.ops, shipped, owner);
  for (const o of fx.ops) applyOp(stage, o, owner);
  return { warnings: fx.warnings, relinked, generated: entries };
}

function applyOp(stage: Stage, o: EffectOp, owner: (o: { path: string; uid: number; gid: number }) => { owner: string; group: string }): void {
  const path = o.path.slice(1);
  const old = stage.nodes.get(path);
  switch (o.op) {
    case 'mkdir':
      if (old?.type === 'dir') return;
      addParents(stage, path);
      addNode(stage, { path, type: 'dir', mode: o.mode, size: 0, ...owner(o) });
      return;
    case 'file': {
      const who = owner(o);
      addOwnFile(stage, path, o.data, o.mode, who.owner, who.group);
      return;
    }
    case 'symlink':
      if (old) return;
      addParents(stage, path);
      addNode(stage, { path, type: 'symlink', mode: 0o777, owner: 'root', group: 'root', size: 0, target: o.target });
      return;
    case 'device':
      if (old) return;
      addParents(stage, path);
      addNode(stage, { path, type: o.kind, mode: o.mode, size: 0, devmajor: o.major, devminor: o.minor, ...owner(o) });
      return;
    case 'dir-to-link':
      dirToLink(stage, path, o.target);
  }
}

/** Replace folder `path` by a symlink to `target` (absolute): what it holds moves to the target first. */
function dirToLink(stage: Stage, path: string, target: string): void {
  const old = stage.nodes.get(path);
  if (old && old.type !== 'dir') return;
  if (old) {
    const to = target.replace(/^\/+/, '');
    addParents(stage, `${to}/x`);
    if (!stage.nodes.has(to)) addNode(stage, { path: to, type: 'dir', mode: old.mode, owner: old.owner, group: old.group, size: 0 });
    const inside = [...stage.nodes.keys()].filter((p) => p.startsWith(`${path}/`)).sort();
    for (const p of inside) {
      const dest = `${to}${p.slice(path.length)}`;
      if (stage.nodes.has(dest)) throw new MinosError('MN0601', `file conflict: /${p} would move to /${dest}, which is already there (making /${path} a link to ${target})`, { data: { path: `/${p}` } });
    }
    for (const p of inside) {
      const n = stage.nodes.get(p)!;
      stage.nodes.delete(p);
      stage.nodes.set(`${to}${p.slice(path.length)}`, { ...n, path: `${to}${p.slice(path.length)}` });
      // Renaming a folder carries what it holds: only the direct children move on disk.
      if (!p.slice(path.length + 1).includes('/')) renameSync(join(stage.root, p), join(stage.root, `${to}${p.slice(path.length)}`));
    }
    rmdirSync(join(stage.root, path));
    stage.nodes.delete(path);
  }
  addParents(stage, path);
  addNode(stage, { path, type: 'symlink', mode: 0o777, owner: 'root', group: 'root', size: 0, target });
}
