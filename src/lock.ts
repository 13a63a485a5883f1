/**
 * Lockfiles: what a build installed, exactly. Each package's name, version,
 * arch, repository and sha256, and each repository index's digest and serial.
 * Written as sorted, indented JSON so it diffs well in version control.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import { MinosError } from './errors.js';
import { CAP, readInputText } from './input.js';
import { isSha256Hex } from './names.js';

export interface LockedRepo {
  name: string;
  location: string;
  digest: string;
  serial: number;
}

export interface LockedPackage {
  name: string;
  version: string;
  arch: string;
  repo: string;
  file: string;
  size: number;
  sha256: string;
  /** In a lockfile of several architectures: the image architectures that install this package. */
  images?: string[];
}

export interface Lockfile {
  format: 1;
  image: string;
  /** The image's architecture, or the list of a multi-architecture OCI build. */
  arch: string | string[];
  repositories: LockedRepo[];
  packages: LockedPackage[];
  /** The sha256 of what the resolution read and gave (resolutionDigest); absent in lockfiles of several architectures. */
  resolved?: string;
}

/** What a build's resolution depends on besides the repositories' packages, and what it gave. */
export interface ResolutionInputs {
  arch: string;
  /** The spec's requests, sets and optional flag, as written. */
  packages: readonly string[];
  sets: readonly string[];
  optional: boolean;
  /** Each repository as the spec names it, with the digest of the index it read (which pins every package list it holds). */
  repositories: readonly { name: string; priority: number; digest: string; suite?: string; components?: readonly string[] }[];
  /** The answer. */
  chosen: readonly { name: string; version: string; arch: string; repo: string; sha256: string }[];
}

/**
 * A digest of a resolution's inputs and answer. A later build whose inputs
 * give the same digest with a lockfile's packages would resolve to what it
 * locks (the resolver is deterministic and keeps locked versions), so it
 * takes them as they are; a lockfile whose packages were edited by hand no
 * longer matches and is resolved again.
 */
export function resolutionDigest(r: ResolutionInputs): string {
  const chosen = r.chosen.map((c) => `${c.name} ${c.version} ${c.arch} ${c.repo} ${c.sha256}`).sort();
  const repositories = r.repositories.map((x) => ({ name: x.name, priority: x.priority, digest: x.digest, suite: x.suite ?? null, components: x.components ?? null }));
  return createHash('sha256').update(canonicalJson({ v: 1, arch: r.arch, packages: r.packages, sets: r.sets, optional: r.optional, repositories, chosen })).digest('hex');
}

/** Sorted, indented JSON: stable across runs. */
export function lockText(lock: Lockfile): string {
  const sorted: Lockfile = {
    ...lock,
    repositories: [...lock.repositories].sort((a, b) => (a.name < b.name ? -1 : 1)),
    packages: [...lock.packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0)),
  };
  return `${JSON.stringify(JSON.parse(canonicalJson(sorted)), null, 2)}\n`;
}

/**
 * What `lock` locks for an image of `arch`: every package of a lockfile of
 * that architecture, those marked with it in a lockfile of several (OCI
 * builds), none of another architecture's.
 */
export function lockedFor(lock: Lockfile, arch: string): LockedPackage[] {
  const own = [lock.arch].flat().includes(arch);
  return lock.packages.filter((p) => (p.images ? p.images.includes(arch) : own));
}

/** Bytes and number of the packages `file` locks for `arch`; undefined when there is no readable lockfile. */
export function lockedWork(file: string, arch: string): { bytes: number; count: number } | undefined {
  let lock: Lockfile;
  try {
    lock = readLock(file);
  } catch {
    return undefined;
  }
  const pkgs = lockedFor(lock, arch);
  return { bytes: pkgs.reduce((n, p) => n + p.size, 0), count: pkgs.length };
}

function bad(file: string, msg: string): MinosError {
  return new MinosError('MN0112', `${file}: ${msg}`, { data: { file } });
}

export function readLock(file: string): Lockfile {
  const text = readInputText(file, CAP.lockfile, { tooLarge: 'MN0112' });
  let v: Lockfile;
  try {
    v = JSON.parse(text) as Lockfile;
  } catch (e) {
    throw bad(file, `not valid JSON: ${(e as Error).message}`);
  }
  if (!v || v.format !== 1 || !Array.isArray(v.packages) || !Array.isArray(v.repositories)) throw bad(file, 'not a minos lockfile (format 1)');
  if (!(typeof v.arch === 'string' || (Array.isArray(v.arch) && v.arch.every((a) => typeof a === 'string')))) throw bad(file, 'field "arch": expected an architecture or a list of them');
  v.packages.forEach((p, i) => {
    for (const k of ['name', 'version', 'arch', 'repo', 'file', 'sha256'] as const) if (typeof p[k] !== 'string') throw bad(file, `field "packages[${i}].${k}": expected a string`);
    if (!isSha256Hex(p.sha256)) throw bad(file, `field "packages[${i}].sha256": expected 64 hex digits`);
    if (typeof p.size !== 'number') throw bad(file, `field "packages[${i}].size": expected a number`);
    if (p.images !== undefined && !(Array.isArray(p.images) && p.images.every((a) => typeof a === 'string'))) throw bad(file, `field "packages[${i}].images": expected a list of architectures`);
  });
  if (v.resolved !== undefined && !(typeof v.resolved === 'string' && isSha256Hex(v.resolved))) throw bad(file, 'field "resolved": expected 64 hex digits');
  v.repositories.forEach((r, i) => {
    if (typeof r.name !== 'string' || typeof r.digest !== 'string' || typeof r.serial !== 'number') throw bad(file, `field "repositories[${i}]": expected name, digest and serial`);
  });
  return v;
}
