/**
 * Live transactions on a Debian root (one whose packages came from a Debian
 * repository). As in a build, each Debian package lands through merged-/usr
 * (its "bin/ls" is recorded and installed as "usr/bin/ls"), and the effects
 * of the maintainer scripts (debian/effects) are derived again, from data,
 * for every Debian package installed after the transaction: alternatives,
 * /etc/shells, ld.so.cache, the dpkg database, /dev and the merged-/usr links.
 * What they make is the database's `generated` set; it is staged here and the
 * engine replaces it as it replaces a package's files, so an install, upgrade,
 * removal or rollback keeps the dpkg database and the effects in step.
 *
 * The kept packages are read back from the root's own dpkg database (status
 * and info/, which the build or the previous transaction wrote from the same
 * data); the new ones from their .deb. The account files are not regenerated:
 * the root's stay (see ACCOUNT_FILES).
 */
import { closeSync, fchmodSync, fchownSync, lchownSync, openSync, readFileSync, symlinkSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { InstalledDb, InstalledRecord } from '../db/installed.js';
import { controlFields, effectEntries, mergedUsrPath, opOwners, viewPackage } from '../debian/complete.js';
import { deriveEffects } from '../debian/effects/index.js';
import { SCRIPT_NAMES, type DebFileEntry, type DebInstalled } from '../debian/effects/types.js';
import { canonicalPath } from '../debian/effects/usrmerge.js';
import { DEB_ARCH } from '../debian/relations.js';
import { sameEntry } from '../engine/owners.js';
import { mappedEntry } from '../engine/stage.js';
import { ioError, MinosError } from '../errors.js';
import { CREATE_NEW, makeNode, under, writeAll } from '../fsutil.js';
import { confine } from '../confine.js';
import { CAP } from '../input.js';
import { rootText } from './root.js';
import { rootView } from './rootview.js';
import type { Arch } from '../solve/depend.js';
import type { FileEntry, Manifest } from '../types.js';

export interface DebianRoot {
  debArch: string;
  /** Where a shipped path lands on the root (merged-/usr). */
  map: (path: string) => string;
}

/** The root's Debian side, if its packages include Debian ones before or after the transaction (`adding`). */
export function debianRoot(db: InstalledDb, arch: Arch, adding: boolean): DebianRoot | undefined {
  const debArch = DEB_ARCH[arch];
  if (!debArch || !(adding || db.packages.some((r) => r.debian))) return undefined;
  return { debArch, map: mergedUsrPath(debArch) };
}

/** A staged package: `deb` set for a Debian one, whose manifest still has the shipped paths. */
export interface LivePackage {
  manifest: Manifest;
  staged: Map<string, string>;
  deb?: { control: string; members: Record<string, string> };
}

const DPKG = 'var/lib/dpkg';

/** Status stanzas of the root's dpkg database by "name arch". */
function statusStanzas(root: string): Map<string, [string, string][]> {
  const out = new Map<string, [string, string][]>();
  for (const block of (rootText(root, `${DPKG}/status`, CAP.state) ?? '').split(/\n{2,}/)) {
    const f = controlFields(block);
    const get = (k: string) => f.find(([n]) => n.toLowerCase() === k)?.[1];
    if (get('package')) out.set(`${get('package')} ${get('architecture')}`, f);
  }
  return out;
}

/** A kept package as its dpkg database entry (control fields, control members, file list) and record describe it. */
function keptPackage(root: string, r: InstalledRecord, stanzas: Map<string, [string, string][]>, d: DebianRoot): DebInstalled {
  const arch = r.arch === 'noarch' ? 'all' : d.debArch;
  const fields = stanzas.get(`${r.name} ${arch}`);
  if (!fields) {
    throw new MinosError('MN0004', `${under(root, `${DPKG}/status`)}: no entry for the installed ${r.name} ${r.version}; the effects of its scripts cannot be derived again`, {
      data: { file: under(root, `${DPKG}/status`), package: r.name },
      hint: 'reinstall the package (minos install) or restore the dpkg database',
    });
  }
  const control = fields.filter(([k]) => !['status', 'conffiles', 'config-version'].includes(k.toLowerCase()));
  const multi = fields.find(([k]) => k.toLowerCase() === 'multi-arch')?.[1] === 'same';
  const info = `${DPKG}/info/${multi ? `${r.name}:${arch}` : r.name}`;
  const scripts: DebInstalled['scripts'] = {};
  for (const s of SCRIPT_NAMES) {
    const text = rootText(root, `${info}.${s}`);
    if (text !== undefined) scripts[s] = text;
  }
  const byPath = new Map(r.files.map((e) => [e.path, e]));
  const files: DebFileEntry[] = [];
  for (const line of (rootText(root, `${info}.list`, CAP.state) ?? '').split('\n')) {
    if (!line.startsWith('/') || line === '/.') continue;
    const e = byPath.get(d.map(line.slice(1)));
    // A shipped folder the scripts made a link (/var/run) is no longer in the record.
    if (!e) files.push({ path: line, type: 'dir', mode: 0o755, owner: 'root', group: 'root', size: 0, sha256: '' });
    else files.push({ path: line, type: e.type, mode: e.mode, owner: e.owner, group: e.group, size: e.size, sha256: e.sha256 ?? '', ...(e.type === 'symlink' ? { target: e.target } : e.type === 'hardlink' ? { target: `/${e.target}` } : {}) });
  }
  return { control, scripts, conffiles: r.config, files };
}

/**
 * The dpkg status minos wrote must still be the one on the root: a status
 * changed since (dpkg run inside the root) would be replaced and its
 * changes lost, so the transaction stops first (MN0601) unless forced.
 */
function checkDpkgStatus(root: string, db: InstalledDb, force: ReadonlySet<string>): void {
  const path = `${DPKG}/status`;
  const was = db.generated?.find((e) => e.path === path);
  if (!was || force.has(path)) return;
  const view = rootView(root);
  if (view.kind(path) === 'file' && view.hash(path) === was.sha256) return;
  throw new MinosError('MN0601', `/${path} was changed outside minos (dpkg run inside the root?); this transaction would replace it and lose those changes`, {
    data: { path: `/${path}` },
    hint: `restore it, or pass --force-overwrite /${path} to let minos write its own`,
  });
}

export interface DebianStep {
  /** The staged packages, Debian ones with the paths they land on (merged-/usr, relinked folders). */
  packages: LivePackage[];
  generated: { now: FileEntry[]; staged: Map<string, string> };
  warnings: string[];
  /** Staged regular files not yet on disk for sure. */
  unsynced: string[];
}

/**
 * Map the staged Debian packages onto the root, derive the effects for the
 * packages after the transaction and stage the generated nodes that differ
 * from the installed ones into `newDir`. `kept`: the installed records
 * that stay. `ids`: numeric owners (undefined for an unknown account);
 * `chown`: apply owners and make device nodes (running as root).
 */
export function debianStep(root: string, db: InstalledDb, d: DebianRoot, kept: readonly InstalledRecord[], staged: readonly LivePackage[], opts: {
  newDir: string; chown: boolean; ids: (e: FileEntry) => { uid: number; gid: number } | undefined; epoch: number; force: ReadonlySet<string>;
}): DebianStep {
  checkDpkgStatus(root, db, opts.force);
  const mapped = staged.map((s) => (s.deb ? { ...s, manifest: { ...s.manifest, files: s.manifest.files.map((e) => mappedEntry(e, d.map)) }, staged: new Map([...s.staged].map(([p, n]) => [d.map(p), n])) } : s));
  const stanzas = statusStanzas(root);
  const keptDeb = kept.filter((r) => r.debian);
  const packages = [...keptDeb.map((r) => keptPackage(root, r, stanzas, d)), ...staged.filter((s) => s.deb).map((s) => viewPackage({ manifest: s.manifest, control: s.deb!.control, members: s.deb!.members }))];
  const stagedFile = new Map<string, string>();
  for (const s of mapped) for (const [p, n] of s.staged) stagedFile.set(p, join(opts.newDir, n));
  const keptFiles = new Set(kept.flatMap((r) => r.files.filter((e) => e.type === 'file' || e.type === 'hardlink').map((e) => e.path)));
  const c = confine(root);
  const read = (path: string): Uint8Array | undefined => {
    const rel = canonicalPath(`/${path.replace(/^\/+/, '')}`, d.debArch).slice(1);
    const s = stagedFile.get(rel);
    if (s !== undefined) {
      try {
        return readFileSync(s);
      } catch (e) {
        throw ioError(e, s);
      }
    }
    // A kept package's file, through the confined root (never a link), if it is still a regular file.
    return keptFiles.has(rel) && c.lstat(rel)?.isFile() ? c.readFile(rel, CAP.state) : undefined;
  };
  const fx = deriveEffects({ arch: d.debArch, packages, read, epoch: opts.epoch }, {});
  const shipped = new Set([...kept.flatMap((r) => r.files.map((e) => e.path)), ...mapped.flatMap((s) => s.manifest.files.map((e) => e.path))]);
  const owner = opOwners(fx.ops, (p) => rootText(root, p.slice(1)));
  const { entries, relinked, data } = effectEntries(fx.ops, (p) => shipped.has(p), owner);

  // Folders the scripts made links: what a package ships in one lands where the link leads.
  const links = new Map(relinked.map((p) => [p, entries.find((e) => e.path === p)!.target!.replace(/^\/+/, '')]));
  const relink = (p: string): string | undefined => {
    for (const [l, to] of links) {
      if (p === l) return undefined;
      if (p.startsWith(`${l}/`)) return `${to}${p.slice(l.length)}`;
    }
    return p;
  };
  const packagesOut = mapped.map((s) => {
    if (!s.deb || !links.size) return s;
    const files: FileEntry[] = [];
    const st = new Map<string, string>();
    for (const e of s.manifest.files) {
      const p = relink(e.path);
      if (p === undefined) continue;
      files.push(p === e.path ? e : { ...e, path: p });
      const n = s.staged.get(e.path);
      if (n !== undefined) st.set(p, n);
    }
    return { ...s, manifest: { ...s.manifest, files }, staged: st };
  });

  const old = new Map((db.generated ?? []).map((e) => [e.path, e]));
  const gstaged = new Map<string, string>();
  const unsynced: string[] = [];
  // Each package's warning comes once, when it is installed (a build gave those of the kept ones).
  const adding = new Set(packages.slice(keptDeb.length).map((p) => p.control.find(([k]) => k === 'Package')?.[1]));
  const warnings = fx.warnings.filter((w) => adding.has(w.package)).map((w) => w.message);
  let counter = 0;
  for (const e of entries) {
    if (e.type === 'dir' || (old.has(e.path) && sameEntry(e, old.get(e.path)!))) continue;
    const name = `g${counter++}`;
    const p = join(opts.newDir, name);
    const id = opts.chown ? opts.ids(e) : undefined;
    if (opts.chown && !id) throw new MinosError('MN0113', `/${e.path} (made for the packages' scripts) is owned by ${e.owner}:${e.group}, which the root's account files do not declare`, { data: { path: e.path } });
    try {
      if (e.type === 'file') {
        const fd = openSync(p, CREATE_NEW, 0o600);
        try {
          writeAll(fd, data.get(e.path)!);
          if (id) fchownSync(fd, id.uid, id.gid);
          fchmodSync(fd, e.mode);
        } finally {
          closeSync(fd);
        }
        unsynced.push(p);
      } else if (e.type === 'symlink') {
        symlinkSync(e.target!, p);
        if (id) lchownSync(p, id.uid, id.gid);
      } else if (e.type === 'char' || e.type === 'block') {
        if (!id) {
          warnings.push(`/${e.path}: not running as root, device node not created`);
          continue;
        }
        makeNode(p, e);
        lchownSync(p, id.uid, id.gid);
        // By path, never by opening it: opening a device can have effects.
        chmodSync(p, e.mode);
      } else continue;
    } catch (err) {
      throw err instanceof MinosError ? err : ioError(err, p);
    }
    gstaged.set(e.path, name);
  }
  return { packages: packagesOut, generated: { now: entries, staged: gstaged }, warnings, unsynced };
}
