/**
 * What a live command means for a root: open its repositories (signature,
 * expiry, anti-rollback against the serials it has seen), turn the request
 * into a changeset with the solver, and find where each package to install
 * comes from (repository, package file or the cache). Writes nothing but the
 * serials of the indexes it accepted.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { InstalledDb } from '../db/installed.js';
import { ioError, isMinosError, MinosError, quote } from '../errors.js';
import { readPackage, type ReadResult } from '../pkg/read.js';
import { readPackageChild } from '../privsep/read.js';
import { closeReaders, startReaders } from '../privsep/spawn.js';
import { loadKeyring, type Keyring } from '../repo/keys.js';
import { findEntry, openRepository, packageFile, type Repository } from '../repo/source.js';
import { meets, parseDependency, type Arch } from '../depend.js';
import { nearNames } from '../solve/explain.js';
import { solve, type Candidate, type InstalledPackage, type Locator } from '../solve/solver.js';
import type { IndexPackage } from '../types.js';
import { readHistory, type GenPackage } from './history.js';
import { crashPoint } from './journal.js';
import { orphans } from './needs.js';
import { CACHE_DIR, loadDb, readOptions, readRepoConfig, readSerials, repoSpecs, rootArch, trustedKeys, writeSerials } from './root.js';
import { openDebianRepository } from '../debian/source.js';
import type { RepoSpec } from '../spec/image.js';

export type Action =
  | { kind: 'install'; requests: string[]; files: string[] }
  | { kind: 'remove'; names: string[]; cascade?: boolean; allowEssential?: boolean; orphans?: boolean }
  | { kind: 'upgrade'; names: string[] }
  | { kind: 'rollback'; generation?: number };

/** Where a package to install comes from. */
export type Source =
  | { kind: 'repo'; repo: Repository; entry: IndexPackage }
  | { kind: 'file'; file: string; size: number; sha256: string }
  | { kind: 'cache'; file: string; size?: number; sha256: string };

export interface Target {
  locator: Locator;
  source: Source;
  explicit: boolean;
}

export interface Resolution {
  install: Locator[];
  upgrade: { from: Locator; to: Locator }[];
  remove: Locator[];
  /** Packages to fetch, verify and unpack (new and changed). */
  targets: Target[];
  /** Names of installed packages that stay as they are. */
  kept: Set<string>;
  /** The world after the transaction. */
  world: string[];
  /** Explicit flag of every package after the transaction. */
  explicit: Map<string, boolean>;
}

export const FILE_REPO = '@file';

export interface RepoContext {
  root: string;
  allowExpired?: boolean;
  /** Record the serials accepted (a writing command, under the lock); queries leave the root as it is. */
  remember?: boolean;
  /** The root's architecture, when already known (Debian repositories list packages per architecture). */
  arch?: Arch;
}

/**
 * Open every configured repository. An index older than the serial already
 * accepted is refused (MN0211), an expired one too unless allowed (MN0210);
 * accepted serials are remembered when `ctx.remember` is set.
 */
export async function openLiveRepos(ctx: RepoContext): Promise<Repository[]> {
  const serials = readSerials(ctx.root);
  const allowExpired = ctx.allowExpired || readOptions(ctx.root).allowExpired;
  const repos: Repository[] = [];
  for (const spec of repoSpecs(ctx.root)) {
    const r = spec.debian ? await openDebianLive(ctx, spec, serials[spec.name!], allowExpired) : await openRepository(spec, { allowExpired, minSerial: serials[spec.name!] });
    repos.push(r);
  }
  const next = { ...serials };
  for (const r of repos) next[r.name] = Math.max(next[r.name] ?? 0, r.loaded.index.serial);
  if (ctx.remember && JSON.stringify(next) !== JSON.stringify(serials)) writeSerials(ctx.root, next);
  return repos;
}

/**
 * `fn`, with a package not found (MN0302) explained when a configured
 * repository has no location here: an image names the repositories of its
 * spec without the build machine's folders, so a folder source needs one.
 */
function withUnlocated<T>(root: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const none = readRepoConfig(root).filter((r) => r.url === undefined && r.path === undefined).map((r) => r.name);
    if (!isMinosError(e) || e.code !== 'MN0302' || !none.length) throw e;
    throw new MinosError('MN0302', e.message, {
      hint: `repository ${none.map((n) => `"${n}"`).join(', ')} has no location on this machine; give it one: minos repo remove NAME, then minos repo add NAME FOLDER-or-URL (with its --suite and --keyring for Debian)`,
      data: { ...(e.data ?? {}), unlocated: none },
    });
  }
}

function installedOf(db: InstalledDb): InstalledPackage[] {
  return db.packages.map((r) => ({ name: r.name, version: r.version, arch: r.arch, repo: r.repo, meta: r }));
}

const loc = (r: { name: string; version: string; arch: string; repo: string }): Locator => ({ name: r.name, version: r.version, arch: r.arch, repo: r.repo });

function notInstalled(db: InstalledDb, name: string): MinosError {
  const near = nearNames(name, db.packages.map((p) => p.name));
  return new MinosError('MN0304', `package ${quote(name)} is not installed`, { hint: near.length ? `did you mean ${near.join(', ')}?` : undefined, data: { name, suggestions: near } });
}

/** Installed packages (outside `removing`) whose dependencies need a package in `removing`. */
function dependents(db: InstalledDb, removing: Set<string>): Map<string, string[]> {
  const left = db.packages.filter((p) => !removing.has(p.name));
  const out = new Map<string, string[]>();
  for (const p of left) {
    for (const dep of p.depends) {
      const alts = parseDependency(dep);
      if (alts.some((d) => left.some((q) => meets(d, q)))) continue;
      const needs = db.packages.filter((q) => removing.has(q.name) && alts.some((d) => meets(d, q))).map((q) => q.name);
      if (needs.length) out.set(p.name, [...(out.get(p.name) ?? []), `${dep} (${needs.join(', ')})`]);
    }
  }
  return out;
}

function requestName(r: string): string {
  return r.trim().split(/[\s@<>=|]/)[0];
}

function keyringOf(root: string): Keyring {
  return trustedKeys(root);
}

function finishResolution(db: InstalledDb, result: Locator[], sources: (l: Locator) => Source, explicitNames: Set<string>, world: string[]): Resolution {
  const before = new Map(db.packages.map((p) => [p.name, p]));
  const after = new Map(result.map((l) => [l.name, l]));
  const install: Locator[] = [];
  const upgrade: { from: Locator; to: Locator }[] = [];
  const remove: Locator[] = [];
  const kept = new Set<string>();
  const targets: Target[] = [];
  const explicit = new Map<string, boolean>();
  for (const l of result) {
    const old = before.get(l.name);
    const src = old && old.version === l.version && old.arch === l.arch ? undefined : sources(l);
    const ex = explicitNames.has(l.name) || (old?.explicit ?? false);
    explicit.set(l.name, ex);
    if (!src || (old && src.kind !== 'repo' && src.sha256 === old.sha256)) {
      kept.add(l.name);
      continue;
    }
    if (old) upgrade.push({ from: loc(old), to: l });
    else install.push(l);
    targets.push({ locator: l, source: src, explicit: ex });
  }
  for (const p of db.packages) if (!after.has(p.name)) remove.push(loc(p));
  return { install, upgrade, remove, targets, kept, world, explicit };
}

/** A Debian repository of the root: its Release Date must not go back, its Valid-Until must not have passed. */
async function openDebianLive(ctx: RepoContext, spec: RepoSpec, minSerial: number | undefined, allowExpired: boolean | undefined): Promise<Repository> {
  const arch = ctx.arch ?? rootArch(ctx.root, loadDb(ctx.root, false));
  const r = await openDebianRepository(spec, { arch });
  const idx = r.loaded.index;
  if (minSerial !== undefined && idx.serial < minSerial) {
    throw new MinosError('MN0211', `${r.debian!.releaseFile}: dated ${idx.created}, older than the Release this root already accepted (rollback)`, { data: { repo: r.name } });
  }
  if (!allowExpired && idx.expires !== null && Date.parse(idx.expires) < Date.now()) {
    throw new MinosError('MN0210', `${r.debian!.releaseFile}: valid until ${idx.expires}, which has passed`, { data: { repo: r.name }, hint: 'update the mirror, or pass --allow-expired' });
  }
  return r;
}

/** Resolve an action against the root's database and repositories. */
export async function resolveAction(ctx: RepoContext & { db: InstalledDb; arch: Arch }, action: Action): Promise<Resolution> {
  const { db, arch } = ctx;
  const installed = installedOf(db);
  if (action.kind === 'remove') {
    for (const n of action.names) if (!db.packages.some((p) => p.name === n)) throw notInstalled(db, n);
    const removing = new Set(action.names);
    // --orphans: also what no world request needs once these are gone (see needs.ts).
    if (action.orphans) {
      const left = { ...db, packages: db.packages.filter((p) => !removing.has(p.name)), world: db.world.filter((w) => !removing.has(requestName(w))) };
      for (const p of orphans(left)) removing.add(p.name);
    }
    for (;;) {
      const broken = dependents(db, removing);
      if (broken.size === 0) break;
      if (!action.cascade) {
        const [first, why] = [...broken][0];
        throw new MinosError('MN0303', `removing ${action.names.join(', ')} would break ${[...broken.keys()].join(', ')}: ${first} depends on ${why[0]}`, {
          hint: 'remove those too with --cascade',
          data: { dependents: Object.fromEntries(broken) },
        });
      }
      for (const n of broken.keys()) removing.add(n);
    }
    // Debian's Essential packages are what a root needs to work at all (dpkg asks for a flag too).
    const essential = db.packages.filter((p) => removing.has(p.name) && p.debian?.essential).map((p) => p.name);
    if (essential.length && !action.allowEssential) {
      throw new MinosError('MN0303', `removing ${action.names.join(', ')} would remove the Essential package${essential.length > 1 ? 's' : ''} ${essential.join(', ')}`, {
        hint: 'a root without it may not work; pass --allow-essential if you mean it',
        data: { essential },
      });
    }
    const result = db.packages.filter((p) => !removing.has(p.name)).map(loc);
    const world = db.world.filter((w) => !removing.has(requestName(w)));
    return finishResolution(db, result, () => {
      throw new MinosError('MN0001', 'remove installs nothing');
    }, new Set(), world);
  }

  if (action.kind === 'rollback') return resolveRollback(ctx, action.generation);

  const repos = await openLiveRepos(ctx);
  const candidates: Candidate[] = repos.flatMap((r) => r.loaded.index.packages.map((meta) => ({ meta, repo: r.name, priority: r.priority })));
  const fileSources = new Map<string, Source>();
  const requests: string[] = [];
  if (action.kind === 'install') {
    for (const [file, r] of readFiles(action.files.map((f) => resolve(f)), keyringOf(ctx.root))) {
      const m = r.manifest;
      const { format: _f, signer: _s, config: _c, users: _u, groups: _g, files: _files, ...meta } = m;
      candidates.push({ meta, repo: FILE_REPO, priority: Number.MAX_SAFE_INTEGER });
      fileSources.set(`${m.name}\0${m.version}\0${m.arch}`, { kind: 'file', file, size: r.size, sha256: r.sha256 });
      requests.push(`${m.name} = ${m.version}`);
    }
    requests.push(...action.requests);
  } else {
    for (const n of action.names) if (!db.packages.some((p) => p.name === n)) throw notInstalled(db, n);
  }
  const cs = withUnlocated(ctx.root, () => solve({
    candidates, arch, requests, installed,
    upgrade: action.kind === 'upgrade' ? (action.names.length ? action.names : true) : undefined,
  }));
  const byRepo = new Map(repos.map((r) => [r.name, r]));
  const source = (l: Locator): Source => {
    if (l.repo === FILE_REPO) return fileSources.get(`${l.name}\0${l.version}\0${l.arch}`)!;
    const repo = byRepo.get(l.repo);
    const entry = repo && findEntry(repo, l);
    if (!repo || !entry) throw new MinosError('MN0212', `${l.name} ${l.version} is in no configured repository`, { data: { package: l.name } });
    return { kind: 'repo', repo, entry };
  };
  const explicitNames = new Set<string>();
  const world = [...db.world];
  if (action.kind === 'install') {
    for (const r of requests) {
      const name = requestName(r);
      explicitNames.add(name);
      const i = world.findIndex((w) => requestName(w) === name);
      const text = fileSources.size && r.includes(' = ') && [...fileSources.keys()].some((k) => k.startsWith(`${name}\0`)) ? name : r.trim();
      if (i >= 0) world[i] = text;
      else world.push(text);
    }
  }
  return finishResolution(db, cs.result, source, explicitNames, world);
}

async function resolveRollback(ctx: RepoContext & { db: InstalledDb }, generation?: number): Promise<Resolution> {
  const { db } = ctx;
  const h = readHistory(ctx.root);
  if (h.generations.length === 0) throw new MinosError('MN0005', 'no history to roll back: no transaction has been made on this root');
  let want: GenPackage[];
  if (generation === undefined) want = h.generations.at(-1)!.before;
  else if (generation === 0) want = h.generations[0].before;
  else {
    const g = h.generations.find((x) => x.id === generation);
    if (!g) throw new MinosError('MN0002', `no generation ${generation} (there are 1 to ${h.generations.at(-1)!.id}; 0 is the state before the first)`);
    want = g.after;
  }
  const cacheDir = join(ctx.root, CACHE_DIR);
  let repos: Repository[] | undefined;
  const bySha = new Map(want.map((p) => [p.sha256, p]));
  const sources = new Map<string, Source>();
  for (const p of want) {
    const old = db.packages.find((x) => x.name === p.name);
    if (old && old.sha256 === p.sha256) continue;
    const cached = join(cacheDir, `${p.sha256}.mpk`);
    // The database's sha256 vouches for it; the size is the file's (a wrong file fails on its sha256).
    const st = statSync(cached, { throwIfNoEntry: false });
    if (st?.isFile()) {
      sources.set(p.name, { kind: 'cache', file: cached, size: st.size, sha256: p.sha256 });
      continue;
    }
    if (!repos) {
      try {
        repos = await openLiveRepos(ctx);
      } catch {
        repos = [];
      }
    }
    let found: Source | undefined;
    for (const r of repos) {
      const entry = r.loaded.index.packages.find((e) => e.sha256 === p.sha256);
      if (entry) found = { kind: 'repo', repo: r, entry };
    }
    if (!found) {
      throw new MinosError('MN0005', `${p.name} ${p.version} (sha256 ${p.sha256.slice(0, 12)}…) is neither in the cache (${cacheDir}) nor in any repository`, {
        hint: 'put the package file back in a configured repository', data: { package: p.name, sha256: p.sha256 },
      });
    }
    sources.set(p.name, found);
  }
  void bySha;
  const explicitNames = new Set(want.filter((p) => p.explicit).map((p) => p.name));
  const res = finishResolution(db, want.map(loc), (l) => sources.get(l.name)!, explicitNames, [...explicitNames].sort());
  for (const p of want) res.explicit.set(p.name, p.explicit);
  for (const t of res.targets) t.explicit = explicitNames.has(t.locator.name);
  return res;
}

/** The keyring a package from `src` must be signed by. */
export function keyringFor(root: string, src: Source): Keyring {
  if (src.kind === 'repo') return src.repo.debian ? new Map() : loadKeyring(src.repo.spec.keys);
  return keyringOf(root);
}

/**
 * Bring a package into ROOT/var/cache/minos/SHA256.mpk (download, or copy
 * from a folder repository or a file) so a later rollback finds it. The copy
 * is verified by the caller (readPackage with the expected size and sha256).
 */
export async function fetchToCache(root: string, src: Source): Promise<string> {
  const cacheDir = join(root, CACHE_DIR);
  if (src.kind === 'cache') return src.file;
  if (src.kind === 'repo' && src.repo.spec.url !== undefined) return packageFile(src.repo, src.entry, cacheDir);
  const sha = src.kind === 'repo' ? src.entry.sha256 : src.sha256;
  const dest = join(cacheDir, `${sha}${src.kind === 'repo' && src.repo.debian ? '.deb' : '.mpk'}`);
  if (existsSync(dest)) return dest;
  mkdirSync(cacheDir, { recursive: true });
  const from = src.kind === 'repo' ? join(src.repo.spec.path!, src.entry.file) : src.file;
  const tmp = `${dest}.part-${process.pid}`;
  try {
    copyFileSync(from, tmp);
    renameSync(tmp, dest);
    crashPoint();
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' && src.kind === 'repo') {
      throw new MinosError('MN0212', `${from}: listed in the index of "${src.repo.name}" but missing`, { data: { file: basename(from) } });
    }
    // A full or read-only cache is named as such (MN0009, MN0008); anything else is about the source.
    throw ioError(e, ['ENOSPC', 'EDQUOT', 'EROFS'].includes(err.code ?? '') ? dest : from);
  }
  return dest;
}

/**
 * Packages named on the command line, read and verified whole. As root
 * through an unprivileged reader: no index vouches for their bytes, only
 * their signature (privsep/read.ts).
 */
function readFiles(files: string[], keyring: Keyring): [string, ReadResult][] {
  if (files.length === 0) return [];
  const readers = startReaders(1, { eager: 0 });
  try {
    return files.map((file) => [file, readers ? readPackageChild(readers, file, { keyring }) : readPackage(file, { keyring })]);
  } finally {
    closeReaders(readers);
  }
}

export function expectOf(src: Source): { size: number; sha256: string } | undefined {
  if (src.kind === 'repo') return { size: src.entry.size, sha256: src.entry.sha256 };
  if (src.kind === 'file') return { size: src.size, sha256: src.sha256 };
  return src.size === undefined ? undefined : { size: src.size, sha256: src.sha256 };
}
