/**
 * Lockfiles: what a build installed, exactly. Each package's name, version,
 * arch, repository and sha256, and each repository index's digest and serial.
 * Written as sorted, indented JSON so it diffs well in version control.
 */
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
  v.repositories.forEach((r, i) => {
    if (typeof r.name !== 'string' || typeof r.digest !== 'string' || typeof r.serial !== 'number') throw bad(file, `field "repositories[${i}]": expected name, digest and serial`);
  });
  return v;
}
