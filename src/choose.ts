/**
 * Choosing an image's packages: open and verify the spec's repositories,
 * then take the lockfile's packages as they are (--frozen, or a lockfile
 * whose resolution digest still matches: fromLock) or resolve, keeping the
 * lockfile's versions while they fit. The answer is sorted by name and
 * carries its resolution digest (lock.ts) unless a --frozen lockfile edited
 * by hand no longer vouches for it.
 */
import { MinosError } from './errors.js';
import { lockedFor, resolutionDigest, type Lockfile, type ResolutionInputs } from './lock.js';
import { candidatesOf, checkAgainstLock, lockedPreferences, openRepositories, requestsOf } from './plan.js';
import { findEntries, findEntry, type Repository } from './repo/source.js';
import type { Arch } from './solve/depend.js';
import { solve, type Locator } from './solve/solver.js';
import type { ImageSpec } from './spec/image.js';
import type { IndexPackage } from './types.js';
import type { DebianPackage } from './debian/packages.js';
import type { EarlyUnpack } from './early.js';

export interface Chosen {
  locator: Locator;
  repo: Repository;
  entry: IndexPackage;
}

/** What the resolution of `spec` for `arch` from `repos` reads besides the packages, and its answer `chosen` (lock.ts resolutionDigest). */
function resolutionOf(spec: ImageSpec, arch: Arch, repos: readonly Repository[], chosen: ResolutionInputs['chosen']): string {
  return resolutionDigest({
    arch, packages: spec.packages, sets: spec.sets, optional: spec.optional, chosen,
    repositories: repos.map((r) => ({ name: r.name, priority: r.priority, digest: r.loaded.digest, suite: r.spec.debian?.suite, components: r.spec.debian?.components })),
  });
}

/**
 * Per repository, the names the lockfile locks for `arch`, when only those
 * entries are needed: for --frozen, or a lockfile of `arch` alone with a
 * resolution digest (fromLock); otherwise undefined.
 */
function lockedNames(lock: Lockfile | undefined, arch: Arch, frozen: boolean): Map<string, Set<string>> | undefined {
  if (!lock || (!frozen && (lock.resolved === undefined || lock.arch !== arch))) return undefined;
  const m = new Map<string, Set<string>>();
  for (const p of lockedFor(lock, arch)) {
    let s = m.get(p.repo);
    if (!s) m.set(p.repo, (s = new Set()));
    s.add(p.name);
  }
  return m;
}

/**
 * The lockfile's packages when its resolution digest is what resolving
 * `spec` from `repos` now reads (same requests, sets, architecture,
 * repositories and index digests): resolving again would keep every locked
 * version, so the build takes them as --frozen does, each checked against
 * its repository's signed index. Undefined when anything differs.
 */
function fromLock(spec: ImageSpec, arch: Arch, lock: Lockfile, lockFile: string, repos: Repository[]): Chosen[] | undefined {
  if (resolutionOf(spec, arch, repos, lock.packages) !== lock.resolved) return undefined;
  try {
    return chooseFrozen(lock, lockFile, repos);
  } catch (e) {
    if (e instanceof MinosError && e.code === 'MN0214') return undefined;
    throw e;
  }
}

/** With --frozen: the locked packages, each checked against its repository's signed index. */
function chooseFrozen(lock: Lockfile, lockFile: string, repos: Repository[]): Chosen[] {
  return lock.packages.map((lp) => {
    const repo = repos.find((r) => r.name === lp.repo);
    if (!repo) throw new MinosError('MN0214', `${lockFile}: locked ${lp.name} ${lp.version} comes from repository "${lp.repo}", which the spec does not name`, { data: { package: lp.name } });
    const entry = findEntry(repo, lp);
    if (!entry) throw new MinosError('MN0214', `locked ${lp.name} ${lp.version} (${lp.arch}) is missing from repository "${repo.name}"`, { data: { package: lp.name } });
    if (entry.sha256 !== lp.sha256 || entry.size !== lp.size) {
      throw new MinosError('MN0214', `locked ${lp.name} ${lp.version} differs in repository "${repo.name}": sha256 ${entry.sha256}, the lockfile says ${lp.sha256}`, { data: { package: lp.name } });
    }
    return { locator: { name: lp.name, version: lp.version, arch: lp.arch, repo: lp.repo }, repo, entry };
  });
}

export interface ChooseOptions {
  spec: ImageSpec;
  /** Absolute lockfile path, for messages. */
  lockFile: string;
  frozen?: boolean;
  update?: boolean;
  allowExpired?: boolean;
}

export interface Choice {
  repos: Repository[];
  /** By name. */
  chosen: Chosen[];
  /** Taken from a lockfile whose resolution digest matched. */
  fromLockfile: boolean;
  /** The spec's requests, with its sets' members. */
  requests: string[];
  /** The answer's resolution digest, when the answer is what resolving gives. */
  resolved?: string;
}

/** `early`: offered each Debian package as it is read (every package read, when only the lockfile's are). */
export async function choosePackages(opts: ChooseOptions, arch: Arch, lock: Lockfile | undefined, early: EarlyUnpack | undefined): Promise<Choice> {
  const { spec } = opts;
  const now = Math.floor(Date.now() / 1000);
  // A lockfile whose resolution digest still matches is taken as it is (fromLock), reading only its packages' entries.
  const wanted = opts.update ? undefined : lockedNames(lock, arch, !!opts.frozen);
  const onLocked = early && ((repo: string, p: DebianPackage, signer: string) => early.offer(repo, p, signer, true));
  let repos = await openRepositories(spec, { allowExpired: true, arch, only: wanted, onPackage: wanted ? onLocked : early?.offer, readShared: early?.readShared });
  checkAgainstLock(repos, lock, !!opts.allowExpired, now);
  let chosen: Chosen[] | undefined;
  let fromLockfile = false;
  if (opts.frozen) chosen = chooseFrozen({ ...lock!, packages: lockedFor(lock!, arch) }, opts.lockFile, repos);
  else if (wanted) {
    chosen = fromLock(spec, arch, lock!, opts.lockFile, repos);
    fromLockfile = chosen !== undefined;
    if (!chosen) {
      repos = await openRepositories(spec, { allowExpired: true, arch, onPackage: early?.offer, readShared: early?.readShared });
      checkAgainstLock(repos, lock, !!opts.allowExpired, now);
    }
  }
  // With a lockfile taken as it is, the sets' members among its packages are all of them: resolving installed every one.
  const requests = requestsOf(spec, repos);
  if (!chosen) {
    const candidates = candidatesOf(repos);
    // The lockfile locks by default: its versions are kept while they still fit the spec.
    const preferred = opts.update ? [] : lockedPreferences(repos, lock, arch);
    const cs = solve({ candidates, arch, requests, optional: spec.optional, installed: preferred, autoremove: true });
    const entries = new Map(repos.map((r) => [r, findEntries(r, cs.result.filter((l) => l.repo === r.name))]));
    chosen = cs.result.map((locator) => {
      const repo = repos.find((r) => r.name === locator.repo)!;
      return { locator, repo, entry: entries.get(repo)!.shift()! };
    });
  }
  chosen.sort((a, b) => (a.locator.name < b.locator.name ? -1 : a.locator.name > b.locator.name ? 1 : 0));
  // The answer's resolution digest, once. A --frozen build vouches for it only when its lockfile did (chooseFrozen
  // checked every locked sha256): packages edited by hand get no digest.
  const digest = resolutionOf(spec, arch, repos, chosen.map((c) => ({ ...c.locator, sha256: c.entry.sha256 })));
  const resolved = opts.frozen && lock!.resolved !== digest ? undefined : digest;
  return { repos, chosen, fromLockfile, requests, resolved };
}
