/**
 * Read-only questions about a root, answered from the committed database
 * (and the disk, for verify). They never take the write lock, so they work
 * while another minos writes.
 */
import { accessSync, closeSync, constants, existsSync, readSync, type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import type { InstalledDb, InstalledRecord } from '../db/installed.js';
import { MinosError, quote } from '../errors.js';
import { confine, type Confined } from '../confine.js';
import { parseIdFile } from '../target/accounts.js';
import { nearNames } from '../solve/explain.js';
import { compareVersions } from '../version.js';
import type { Arch } from '../depend.js';
import type { FileEntry, IndexPackage, Manifest } from '../types.js';
import { packageFile, whole, type Repository } from '../repo/source.js';
import { readPackage } from '../pkg/read.js';
import { readDeb } from '../debian/deb.js';
import { expectOf, keyringFor } from './resolve.js';
import { CACHE_DIR, rootText } from './root.js';

/** Files whose content minos itself manages (accounts): only their presence is checked. */
const MANAGED = new Set(['etc/passwd', 'etc/group', 'etc/shadow']);

export function findRecord(db: InstalledDb, name: string): InstalledRecord {
  const r = db.packages.find((p) => p.name === name);
  if (r) return r;
  const near = nearNames(name, db.packages.map((p) => p.name));
  throw new MinosError('MN0304', `package ${quote(name)} is not installed`, { hint: near.length ? `did you mean ${near.join(', ')}?` : undefined, data: { name, suggestions: near } });
}

/** A package of a configured repository. */
export interface RepoPackage {
  repo: Repository;
  entry: IndexPackage;
}

/**
 * The package of `name` for `arch` (or noarch) the solver prefers among
 * `repos`: highest repository priority, then newest version, then repository
 * name. Undefined when no repository lists it.
 */
export function bestCandidate(repos: readonly Repository[], name: string, arch: Arch): RepoPackage | undefined {
  let best: RepoPackage | undefined;
  for (const repo of repos) {
    for (const entry of repo.loaded.index.packages) {
      if (entry.name !== name || (entry.arch !== arch && entry.arch !== 'noarch')) continue;
      const better = !best || repo.priority > best.repo.priority
        || (repo.priority === best.repo.priority && (compareVersions(entry.version, best.entry.version) > 0
          || (compareVersions(entry.version, best.entry.version) === 0 && repo.name < best.repo.name)));
      if (better) best = { repo, entry };
    }
  }
  if (best) whole(best.entry);
  return best;
}

/** MN0302 for a name neither installed nor in `repos`, with the nearest names of both. */
export function noSuchPackage(db: InstalledDb, repos: readonly Repository[], name: string): MinosError {
  const names = new Set([...db.packages.map((p) => p.name), ...repos.flatMap((r) => r.loaded.index.packages.map((p) => p.name))]);
  const near = nearNames(name, [...names]);
  return new MinosError('MN0302', `no package ${quote(name)}: not installed, and no configured repository has it`, { hint: near.length ? `did you mean ${near.join(', ')}?` : undefined, data: { name, suggestions: near } });
}

/** The folder nearest `dir` that exists (itself, or a parent). */
function existingAncestor(dir: string): string {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

/**
 * The manifest of a repository package, read with the checks install makes:
 * size and sha256 against the signed index, the signature by a key the
 * repository may use (or the Release signer, for Debian), the payload against
 * the manifest. A folder repository's file is read where it is; a package of
 * an http repository is downloaded into ROOT/var/cache/minos first (the only
 * write), which is refused (MN0007) when that cache is not writable.
 */
export async function repoManifest(root: string, p: RepoPackage): Promise<Manifest> {
  const cache = join(root, CACHE_DIR);
  const cached = join(cache, `${p.entry.sha256}${p.repo.debian ? '.deb' : '.mpk'}`);
  if (p.repo.spec.url !== undefined && !existsSync(cached)) {
    const at = existingAncestor(cache);
    try {
      accessSync(at, constants.W_OK);
    } catch {
      throw new MinosError('MN0007', `${p.entry.name} ${p.entry.version} must be downloaded from ${p.repo.name} to list its files, but ${cache} is not writable`, {
        hint: 'run it as a user who can write the root', data: { file: at },
      });
    }
  }
  const file = await packageFile(p.repo, p.entry, cache);
  const src = { kind: 'repo' as const, repo: p.repo, entry: p.entry };
  if (p.repo.debian) return readDeb(file, { expect: expectOf(src), entry: p.entry, signer: p.repo.debian.release.signer }).manifest;
  return readPackage(file, { keyring: keyringFor(root, src), expect: expectOf(src) }).manifest;
}

/** Normalise a path given on the command line to a root-relative one. */
export function rootRelative(root: string, path: string): string {
  const abs = resolve('/', path);
  if (root !== '/' && (abs === root || abs.startsWith(`${root}/`))) return relative(root, abs);
  return abs.replace(/^\/+/, '').replace(/\/+$/, '');
}

export function owners(db: InstalledDb, root: string, path: string): { path: string; packages: { name: string; version: string; entry: FileEntry }[] } {
  const rel = rootRelative(root, path);
  const packages = db.packages.flatMap((r) => r.files.filter((e) => e.path === rel).map((entry) => ({ name: r.name, version: r.version, entry })));
  if (packages.length === 0) throw new MinosError('MN0006', `no package owns /${rel}`, { data: { path: `/${rel}` } });
  return { path: `/${rel}`, packages };
}

export interface SearchHit {
  name: string;
  version: string;
  arch: string;
  repo: string;
  summary: string;
  installed?: string;
}

export function search(db: InstalledDb, repos: readonly Repository[], term: string): SearchHit[] {
  const t = term.toLowerCase();
  const match = (p: { name: string; summary: string }) => p.name.toLowerCase().includes(t) || p.summary.toLowerCase().includes(t);
  const inst = new Map(db.packages.map((p) => [p.name, p.version]));
  const hits = new Map<string, SearchHit>();
  for (const r of repos) {
    for (const p of r.loaded.index.packages as IndexPackage[]) {
      if (!match(p)) continue;
      const key = `${p.name} ${p.version} ${p.arch} ${r.name}`;
      hits.set(key, { name: p.name, version: p.version, arch: p.arch, repo: r.name, summary: p.summary, installed: inst.get(p.name) });
    }
  }
  for (const p of db.packages) {
    if (!match(p) || [...hits.values()].some((h) => h.name === p.name && h.version === p.version)) continue;
    hits.set(`${p.name} installed`, { name: p.name, version: p.version, arch: p.arch, repo: p.repo, summary: p.summary, installed: p.version });
  }
  return [...hits.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.repo < b.repo ? -1 : 1));
}

export interface VerifyProblem {
  package: string;
  path: string;
  kind: 'missing' | 'type' | 'content' | 'size' | 'mode' | 'owner' | 'group' | 'target';
  expected?: string;
  actual?: string;
}

export interface VerifyReport {
  packages: number;
  entries: number;
  problems: VerifyProblem[];
  /** Config files changed locally (expected, not problems). */
  modifiedConfig: { package: string; path: string }[];
}

/** sha256 of regular file `rel` of the confined root (never through a link; a FIFO put there since does not block). */
function fileHash(c: Confined, rel: string, buf: Buffer): string {
  const h = createHash('sha256');
  const fd = c.open(rel, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

const oct = (n: number) => n.toString(8).padStart(4, '0');

function typeOf(st: Stats): FileEntry['type'] {
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : 'fifo';
}

/** The package name verify reports the generated nodes under. */
export const GENERATED = '(generated)';

/**
 * Compare the files of `names` (default: every package, and the generated
 * nodes) on disk with the database: existence, type, content (size and
 * sha256), mode, owner and group (when the database's owners were
 * applied), symlink targets.
 */

export function verifyInstalled(db: InstalledDb, root: string, names: readonly string[] = []): VerifyReport {
  const records = names.length ? names.map((n) => findRecord(db, n)) : db.packages;
  // The nodes minos made from data (InstalledDb.generated) are checked as one more package; those under etc/ are config files.
  const generated = names.length || !db.generated?.length ? [] : [{ name: GENERATED, config: db.generated.filter((e) => e.type === 'file' && e.path.startsWith('etc/')).map((e) => e.path), files: db.generated }];
  // Every read goes through the confined root: nothing is read through a link, as the writers never write through one.
  const c = confine(root);
  const users = parseIdFile(rootText(root, 'etc/passwd'));
  const groups = parseIdFile(rootText(root, 'etc/group'));
  const deferred = new Set(db.deferred.map((d) => d.path));
  const checkOwners = process.getuid?.() === 0 || db.deferred.length === 0;
  const dirModes = new Map<string, Set<number>>();
  for (const r of [...db.packages, ...generated]) for (const e of r.files) if (e.type === 'dir') (dirModes.get(e.path) ?? dirModes.set(e.path, new Set()).get(e.path)!).add(e.mode);
  const buf = Buffer.allocUnsafe(1 << 20);
  const report: VerifyReport = { packages: records.length, entries: 0, problems: [], modifiedConfig: [] };
  for (const r of [...records, ...generated]) {
    const configs = new Set(r.config.map((c) => c.replace(/^\/+/, '')));
    for (const e of r.files) {
      report.entries++;
      const bad = (kind: VerifyProblem['kind'], expected?: string, actual?: string) => report.problems.push({ package: r.name, path: `/${e.path}`, kind, expected, actual });
      // Absent, or below a link or a file: not at this path inside the root.
      const st = c.lstat(e.path);
      if (!st) {
        // A device node a rootless build could not make is recorded as deferred.
        if ((e.type === 'char' || e.type === 'block') && deferred.has(e.path)) continue;
        bad('missing');
        continue;
      }
      const want = e.type === 'hardlink' ? 'file' : e.type;
      if (typeOf(st) !== want) {
        bad('type', e.type, typeOf(st));
        continue;
      }
      if (e.type === 'symlink') {
        const target = c.readlink(e.path);
        if (target !== e.target) bad('target', e.target, target);
      } else if ((e.type !== 'dir' || dirModes.get(e.path)!.size === 1) && (st.mode & 0o7777) !== e.mode) {
        bad('mode', oct(e.mode), oct(st.mode & 0o7777));
      }
      if (checkOwners && !deferred.has(e.path) && e.type !== 'dir') {
        const uid = users.get(e.owner);
        const gid = groups.get(e.group);
        if (uid !== undefined && st.uid !== uid) bad('owner', e.owner, String(st.uid));
        if (gid !== undefined && st.gid !== gid) bad('group', e.group, String(st.gid));
      }
      if ((e.type === 'file' || e.type === 'hardlink') && !MANAGED.has(e.path)) {
        const file = e.type === 'hardlink' ? r.files.find((f) => f.path === e.target) : e;
        if (!file?.sha256) continue;
        const changed = st.size !== file.size || fileHash(c, e.path, buf) !== file.sha256;
        if (!changed) continue;
        if (configs.has(e.path)) report.modifiedConfig.push({ package: r.name, path: `/${e.path}` });
        else if (st.size !== file.size) bad('size', String(file.size), String(st.size));
        else bad('content', file.sha256);
      }
    }
  }
  return report;
}
