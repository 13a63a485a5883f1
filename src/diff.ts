/**
 * What differs between two package sets, each a lockfile (what a build
 * installed) or an image folder (its database, var/lib/minos/installed.json):
 * packages added, removed, and changed (another version or architecture, or
 * the same version from a different package file).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { INSTALLED, readDb } from './db/installed.js';
import { MinosError } from './errors.js';
import { readLock } from './lock.js';

export interface SetPackage {
  name: string;
  version: string;
  arch: string;
  repo: string;
  /** sha256 of the package file. */
  sha256: string;
}

export interface PackageSet {
  /** The path given. */
  path: string;
  kind: 'lockfile' | 'image';
  packages: SetPackage[];
}

export interface PackageChange {
  name: string;
  from: SetPackage;
  to: SetPackage;
}

export interface PackageDiff {
  added: SetPackage[];
  removed: SetPackage[];
  changed: PackageChange[];
}

const pick = (p: SetPackage): SetPackage => ({ name: p.name, version: p.version, arch: p.arch, repo: p.repo, sha256: p.sha256 });

/**
 * Read a lockfile (a file) or an image folder (a folder holding
 * var/lib/minos/installed.json). MN0101 for a path that is neither;
 * MN0112 or MN0004 for a malformed lockfile or database.
 */
export function readPackageSet(path: string): PackageSet {
  let dir: boolean;
  try {
    dir = statSync(path).isDirectory();
  } catch {
    throw new MinosError('MN0101', `${path}: no such file or folder`, { data: { file: path } });
  }
  if (!dir) return { path, kind: 'lockfile', packages: readLock(path).packages.map(pick) };
  if (!existsSync(join(path, INSTALLED))) {
    throw new MinosError('MN0101', `${path}: not an image folder (no ${INSTALLED})`, { hint: 'give two lockfiles (OUT.lock.json) or two image folders', data: { file: path } });
  }
  return { path, kind: 'image', packages: readDb(path).packages.map(pick) };
}

/** Names are the key; a name listed for several architectures (Debian multiarch) is keyed by name and arch. */
function keyed(a: readonly SetPackage[], b: readonly SetPackage[]): { ka: Map<string, SetPackage>; kb: Map<string, SetPackage> } {
  const count = new Map<string, number>();
  for (const s of [a, b]) {
    const seen = new Map<string, number>();
    for (const p of s) seen.set(p.name, (seen.get(p.name) ?? 0) + 1);
    for (const [n, c] of seen) count.set(n, Math.max(count.get(n) ?? 0, c));
  }
  const key = (p: SetPackage) => (count.get(p.name)! > 1 ? `${p.name}:${p.arch}` : p.name);
  return { ka: new Map(a.map((p) => [key(p), p])), kb: new Map(b.map((p) => [key(p), p])) };
}

const byName = (x: { name: string; arch?: string }, y: { name: string; arch?: string }) =>
  x.name < y.name ? -1 : x.name > y.name ? 1 : (x.arch ?? '') < (y.arch ?? '') ? -1 : (x.arch ?? '') > (y.arch ?? '') ? 1 : 0;

/** From `a` to `b`, each list sorted by name. */
export function diffPackageSets(a: readonly SetPackage[], b: readonly SetPackage[]): PackageDiff {
  const { ka, kb } = keyed(a, b);
  const added = [...kb].filter(([k]) => !ka.has(k)).map(([, p]) => p).sort(byName);
  const removed = [...ka].filter(([k]) => !kb.has(k)).map(([, p]) => p).sort(byName);
  const changed: PackageChange[] = [];
  for (const [k, from] of ka) {
    const to = kb.get(k);
    if (to && (to.version !== from.version || to.arch !== from.arch || to.sha256 !== from.sha256)) changed.push({ name: from.name, from, to });
  }
  changed.sort((x, y) => byName(x.from, y.from));
  return { added, removed, changed };
}
