/**
 * Repository sources: a folder or an http(s) URL serving the same files. Both
 * are verified the same way (loadIndex → verifyIndexBytes); a package is only
 * ever handed out as a local file whose size and sha256 are then checked
 * against the signed index by readPackage.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ioError, MinosError } from '../errors.js';
import { abandonTemp, writeAll } from '../fsutil.js';
import type { RepoSpec } from '../spec/image.js';
import type { IndexPackage } from '../types.js';
import { INDEX_NAME, INDEX_SIG, loadIndexDir, verifyIndexBytes, type LoadedIndex, type LoadIndexOptions } from './index.js';
import { download } from './fetch.js';
import { loadKeyring } from './keys.js';
import type { DebianRepoInfo } from '../debian/source.js';

export interface Repository {
  spec: RepoSpec;
  /** Where it is, for messages: a folder or URL. */
  location: string;
  name: string;
  priority: number;
  loaded: LoadedIndex;
  /** Set for a Debian repository (debian/source.ts). */
  debian?: DebianRepoInfo;
}

export type OpenOptions = Omit<LoadIndexOptions, 'keyring' | 'expectName'>;

const MAX_INDEX = 256 << 20;

export async function fetchBytes(url: string, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  await download(url, max, (c) => parts.push(Buffer.from(c)));
  return Buffer.concat(parts);
}

/** Open and verify a repository's index. */
export async function openRepository(spec: RepoSpec, opts: OpenOptions = {}): Promise<Repository> {
  const keyring = loadKeyring(spec.keys);
  const full: LoadIndexOptions = { ...opts, keyring, expectName: spec.name };
  let loaded: LoadedIndex;
  let location: string;
  if (spec.path !== undefined) {
    location = spec.path;
    if (!existsSync(join(spec.path, INDEX_NAME))) {
      throw new MinosError('MN0101', `${spec.path}: not a repository (no ${INDEX_NAME})`, { hint: 'make one with `minos repo index DIR --key KEY`', data: { file: spec.path } });
    }
    loaded = loadIndexDir(spec.path, full);
  } else {
    location = spec.url!;
    const bytes = await fetchBytes(`${spec.url}/${INDEX_NAME}`, MAX_INDEX);
    let sig: Buffer;
    try {
      sig = await fetchBytes(`${spec.url}/${INDEX_SIG}`, 1024);
    } catch (e) {
      if (e instanceof MinosError && e.code === 'MN0212') throw new MinosError('MN0202', `${spec.url}/${INDEX_SIG}: index signature missing`);
      throw e;
    }
    loaded = verifyIndexBytes(bytes, sig, `${spec.url}/${INDEX_NAME}`, full);
  }
  return { spec, location, name: loaded.index.name, priority: spec.priority, loaded };
}

/** Where a package of the repository `spec` is on this machine: the file itself in a folder, else its download in `cacheDir`, named by its sha256 (it may not be there yet). */
export function localFile(spec: RepoSpec, p: IndexPackage, cacheDir: string): string {
  return spec.path !== undefined ? join(spec.path, p.file) : join(cacheDir, `${p.sha256}${spec.debian ? '.deb' : '.mpk'}`);
}

/**
 * A local path for a package of `repo`: the file itself for a folder, or a
 * download into `cacheDir` named by its sha256 (reused when already there).
 * The caller verifies it with readPackage(…, { expect: { size, sha256 } }).
 */
export async function packageFile(repo: Repository, p: IndexPackage, cacheDir: string): Promise<string> {
  if (repo.spec.path !== undefined) {
    const f = localFile(repo.spec, p, cacheDir);
    if (repo.debian && !existsSync(f)) {
      throw new MinosError('MN0212', `${f}: ${p.name} ${p.version} is listed in the signed Packages but missing from the mirror`, { data: { file: f, package: p.name } });
    }
    return f;
  }
  const dest = localFile(repo.spec, p, cacheDir);
  if (existsSync(dest)) return dest;
  const tmp = `${dest}.part-${process.pid}`;
  let fd: number | undefined;
  try {
    mkdirSync(cacheDir, { recursive: true });
    fd = openSync(tmp, 'w', 0o644);
  } catch (e) {
    throw ioError(e, tmp);
  }
  const hash = createHash('sha256');
  try {
    await download(`${repo.spec.url}/${p.file.split('/').map(encodeURIComponent).join('/')}`, p.size, (c) => {
      hash.update(c);
      try {
        writeAll(fd!, c);
      } catch (e) {
        throw ioError(e, tmp);
      }
    });
    closeSync(fd);
    fd = undefined;
    const got = hash.digest('hex');
    if (got !== p.sha256) throw new MinosError('MN0205', `${repo.spec.url}/${p.file}: sha256 is ${got}, the index says ${p.sha256}`, { data: { file: p.file } });
    renameSync(tmp, dest);
  } catch (e) {
    abandonTemp(fd, tmp);
    throw e instanceof MinosError ? e : ioError(e, dest);
  }
  return dest;
}

/**
 * `p` with every field an own data property, safe to spread, clone or send
 * to a worker: an entry whose relation fields are read on first use
 * (debian/lazyentry.ts, which defines materialize) converts them now.
 */
export function whole<T extends IndexPackage | undefined>(p: T): T {
  (p as { materialize?: () => void } | undefined)?.materialize?.();
  return p;
}

/** Per repository, its index entries by "name version arch" (a Debian index has 60,000: a scan per package cost ~0.7 s a build). */
const byLocator = new WeakMap<Repository, Map<string, IndexPackage>>();

/**
 * findEntry for several locators at once, in their order: one pass over the
 * index comparing names, where findEntry's map costs a key per entry (26 ms
 * for bookworm main's 63,000, to look up 69).
 */
export function findEntries(repo: Repository, ls: readonly { name: string; version: string; arch: string }[]): (IndexPackage | undefined)[] {
  const at = new Map<string, number[]>();
  ls.forEach((l, i) => {
    const k = at.get(l.name);
    if (k) k.push(i);
    else at.set(l.name, [i]);
  });
  const out: (IndexPackage | undefined)[] = ls.map(() => undefined);
  for (const p of repo.loaded.index.packages) {
    const k = at.get(p.name);
    if (k) for (const i of k) if (out[i] === undefined && ls[i].version === p.version && ls[i].arch === p.arch) out[i] = p;
  }
  return out.map(whole);
}

export function findEntry(repo: Repository, l: { name: string; version: string; arch: string }): IndexPackage | undefined {
  let m = byLocator.get(repo);
  if (!m) {
    m = new Map();
    for (const p of repo.loaded.index.packages) {
      const k = `${p.name} ${p.version} ${p.arch}`;
      if (!m.has(k)) m.set(k, p);
    }
    byLocator.set(repo, m);
  }
  return whole(m.get(`${l.name} ${l.version} ${l.arch}`));
}
