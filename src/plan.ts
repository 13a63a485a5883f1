/**
 * Planning an image: open and verify every repository of a spec, turn their
 * indexes into solver candidates and resolve the requested packages. Writes
 * nothing and fetches no payloads.
 */
import { MinosError } from './errors.js';
import { lockedFor, type Lockfile } from './lock.js';
import { parseTime } from './repo/index.js';
import type { Arch } from './depend.js';
import { solve, type Candidate, type Changeset, type InstalledPackage } from './solve/solver.js';
import type { ImageSpec } from './spec/image.js';
import { findEntry, openRepository, type OpenOptions, type Repository } from './repo/source.js';
import { openDebianRepository, setMembers, type DebianOpenOptions } from './debian/source.js';
import type { DebianPackage } from './debian/packages.js';

export interface PlanOptions extends OpenOptions {
  /** Overrides the spec's architecture. */
  arch?: Arch;
  /** A lockfile: its versions are kept while they still fit the spec, as `build` keeps them. */
  lock?: Lockfile;
  /** Ignore the lockfile's versions (it is still checked against rollback). */
  update?: boolean;
}

export interface Plan {
  arch: Arch;
  repositories: Repository[];
  candidates: Candidate[];
  changeset: Changeset;
  /** How many locked packages were offered to the solver to keep. */
  lockedKept: number;
}

/** Freshness and anti-rollback against the lockfile: a pinned digest excuses expiry. */
export function checkAgainstLock(repos: readonly Repository[], lock: Lockfile | undefined, allowExpired: boolean, now: number): void {
  for (const r of repos) {
    const locked = lock?.repositories.find((x) => x.name === r.name);
    const idx = r.loaded.index;
    if (locked && idx.serial < locked.serial) {
      throw new MinosError('MN0211', `repository "${r.name}" (${r.location}) has serial ${idx.serial}, older than ${locked.serial} in the lockfile (rollback)`, { data: { repo: r.name } });
    }
    const pinned = locked?.digest === r.loaded.digest;
    if (!pinned && !allowExpired && idx.expires !== null && parseTime(idx.expires)! < now) {
      throw new MinosError('MN0210', `repository "${r.name}" (${r.location}) index expired at ${idx.expires}`, {
        data: { repo: r.name },
        hint: 're-sign it, build --frozen from a lockfile that pins this index, or pass --allow-expired',
      });
    }
  }
}

/** The packages `lock` locks for `arch` still offered by their repository with the locked bytes: the solver keeps them where it can. */
export function lockedPreferences(repos: readonly Repository[], lock: Lockfile | undefined, arch: Arch): InstalledPackage[] {
  if (!lock) return [];
  return lockedFor(lock, arch).filter((lp) => {
    const repo = repos.find((r) => r.name === lp.repo);
    const e = repo && findEntry(repo, lp);
    return e !== undefined && e.sha256 === lp.sha256;
  });
}

/**
 * Open and verify every repository of the spec; two with the same name are
 * an error. `only`: per Debian repository name, the only package names
 * wanted (see DebianOpenOptions); such a repository's index then lists only
 * those.
 */
/** `onPackage`: each Debian package as it is read (see DebianOpenOptions), with its repository's name. */
export async function openRepositories(spec: ImageSpec, opts: OpenOptions & {
  arch?: Arch; only?: ReadonlyMap<string, ReadonlySet<string>>; onPackage?: (repo: string, p: DebianPackage, signer: string) => void;
  readShared?: DebianOpenOptions['readShared'];
}): Promise<Repository[]> {
  const repos: Repository[] = [];
  for (const r of spec.repositories) {
    const onPackage = opts.onPackage && ((p: DebianPackage, signer: string) => opts.onPackage!(r.name!, p, signer));
    const repo = r.debian ? await openDebianRepository(r, { arch: opts.arch ?? spec.arch, only: opts.only?.get(r.name!) ?? (opts.only ? new Set() : undefined), onPackage, readShared: opts.readShared }) : await openRepository(r, opts);
    const twin = repos.find((x) => x.name === repo.name);
    if (twin) {
      throw new MinosError('MN0104', `${spec.file}: repositories ${twin.location} and ${repo.location} are both named "${repo.name}"`, { data: { file: spec.file } });
    }
    repos.push(repo);
  }
  return repos;
}

/** The spec's requests, with every member of its Debian `sets:` added. */
export function requestsOf(spec: ImageSpec, repos: readonly Repository[]): string[] {
  if (spec.sets.length === 0) return spec.packages;
  const pkgs = repos.flatMap((r) => (r.debian ? r.loaded.index.packages : []));
  const names = new Set(spec.packages);
  for (const set of spec.sets) for (const n of setMembers(pkgs, set)) names.add(n);
  return [...names];
}

export function candidatesOf(repos: readonly Repository[]): Candidate[] {
  return repos.flatMap((r) => r.loaded.index.packages.map((meta) => ({ meta, repo: r.name, priority: r.priority })));
}

export async function planImage(spec: ImageSpec, opts: PlanOptions = {}): Promise<Plan> {
  const arch = opts.arch ?? spec.arch;
  const repositories = await openRepositories(spec, { ...opts, arch, allowExpired: true });
  checkAgainstLock(repositories, opts.lock, !!opts.allowExpired, Math.floor(Date.now() / 1000));
  const candidates = candidatesOf(repositories);
  const preferred = opts.update ? [] : lockedPreferences(repositories, opts.lock, arch);
  const changeset = solve({ candidates, arch, requests: requestsOf(spec, repositories), optional: spec.optional, installed: preferred, autoremove: true });
  return { arch, repositories, candidates, changeset, lockedKept: preferred.length };
}
