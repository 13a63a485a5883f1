/**
 * A live root and its configuration: where minos keeps its database, cache,
 * journal and lock inside the root, and the files under ROOT/etc/minos/ that
 * say which repositories and keys it trusts (docs/LIVE.md). `minos build`
 * writes the same files into an image, so an image is a root.
 */
import { existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { canonicalBytes } from '../canonical.js';
import { confine } from '../confine.js';
import { DB_DIR, INSTALLED, dbBytes, emptyDb, readDb, type InstalledDb } from '../db/installed.js';
import { ioError, MinosError, quote } from '../errors.js';
import { CAP } from '../input.js';
import { repoNameError } from '../names.js';
import { loadKeyring, loadPublicKey, type Keyring, type PublicKey } from '../repo/keys.js';
import { isArch, type Arch } from '../depend.js';
import type { RepoSpec } from '../spec/image.js';

export const CONFIG_DIR = 'etc/minos';
export const REPOS_FILE = `${CONFIG_DIR}/repositories.json`;
export const KEYS_DIR = `${CONFIG_DIR}/keys`;
export const KEYRINGS_DIR = `${CONFIG_DIR}/keyrings`;
export const OPTIONS_FILE = `${CONFIG_DIR}/options.json`;
export const SERIALS_FILE = `${DB_DIR}/serials.json`;
export const HISTORY_FILE = `${DB_DIR}/history.json`;
export const TXN_DIR = `${DB_DIR}/txn`;
export const LOCK_FILE = `${DB_DIR}/lock`;
export const CACHE_DIR = 'var/cache/minos';

/** One entry of ROOT/etc/minos/repositories.json (the form `minos build` writes). */
export interface RepoConfig {
  name: string;
  url?: string;
  path?: string;
  priority: number;
  /** Key ids whose ROOT/etc/minos/keys/ID.pub may sign this repository; empty: every trusted key. */
  keys: string[];
  /** A Debian repository: suite, components and OpenPGP keyrings (file names in ROOT/etc/minos/keyrings/). */
  debian?: { suite: string; components: string[]; keyrings: string[] };
}

/** ROOT/etc/minos/options.json. */
export interface RootOptions {
  /** Architecture of the root; default: that of its installed packages, else the host's. */
  arch?: Arch;
  /** Accept expired repository indexes (offline snapshots). */
  allowExpired?: boolean;
}

/** The absolute, symlink-free path of a root folder; MN0101 if it is not a folder. */
export function rootPath(dir: string): string {
  let real: string;
  try {
    real = realpathSync(resolve(dir));
  } catch (e) {
    throw ioError(e, resolve(dir), 'MN0101');
  }
  if (!statSync(real).isDirectory()) throw new MinosError('MN0101', `${real}: not a folder`, { data: { file: real } });
  return real;
}

export function isMinosRoot(root: string): boolean {
  return confine(root).exists(INSTALLED);
}

/** minos's own folders in a root, with every folder above them, and its own files there. */
const STATE_DIRS = ['var', 'var/lib', DB_DIR, TXN_DIR, `${DB_DIR}/salvage`, 'var/cache', CACHE_DIR, 'etc', CONFIG_DIR, KEYS_DIR, KEYRINGS_DIR];
const STATE_FILES = [INSTALLED, HISTORY_FILE, SERIALS_FILE, LOCK_FILE, REPOS_FILE, OPTIONS_FILE];

/**
 * Refuse a root whose own state folders (var/lib/minos, var/cache/minos,
 * etc/minos and the folders above them) or state files are symbolic links
 * or, for folders, anything but a folder (MN0604, MN0115): minos writes
 * there by path (its cache, its database) and must not be led outside the
 * root. Missing ones are fine (made later, confined). Called on every open.
 */
export function checkStateFolders(root: string): void {
  const c = confine(root);
  for (const d of STATE_DIRS) {
    const st = c.lstat(d);
    if (!st) continue;
    if (st.isSymbolicLink()) {
      throw new MinosError('MN0604', `${c.abs(d)}: is a symbolic link; minos keeps its own state there and never follows a link in a root`, {
        hint: 'replace the link by a real folder (move its contents in) and run the command again',
        data: { file: c.abs(d) },
      });
    }
    if (!st.isDirectory()) throw new MinosError('MN0115', `${c.abs(d)}: is not a folder`, { data: { file: c.abs(d) } });
  }
  for (const f of STATE_FILES) {
    if (c.lstat(f)?.isSymbolicLink()) {
      throw new MinosError('MN0604', `${c.abs(f)}: is a symbolic link; minos's own files in a root are never links`, {
        hint: 'replace the link by the file it points to and run the command again',
        data: { file: c.abs(f) },
      });
    }
  }
}

/** A root that minos manages; MN0114 (exit 2) telling how to initialise it otherwise. */
export function openRoot(dir: string): string {
  const root = rootPath(dir);
  checkStateFolders(root);
  if (!isMinosRoot(root)) {
    throw new MinosError('MN0114', `${root} is not a minos root (no /${INSTALLED})`, {
      hint: `initialise it with \`minos --root ${root} init\``,
      data: { root },
    });
  }
  return root;
}

/** Read the database; with `repair`, a corrupt one is moved aside and replaced by an empty one. */
export function loadDb(root: string, repair = false): InstalledDb {
  try {
    return readDb(root);
  } catch (e) {
    if (!(e instanceof MinosError) || e.code !== 'MN0004' || !repair) throw e;
    const c = confine(root);
    const kept = `${INSTALLED}.corrupt-${Date.now()}`;
    c.writeFileAtomic(kept, c.readFile(INSTALLED, CAP.state) ?? Buffer.alloc(0));
    return emptyDb();
  }
}

/** Make `dir` a minos root: empty database, configuration folders. Idempotent for the folders. */
export function initRoot(dir: string, opts: { arch?: Arch } = {}): { root: string; created: boolean } {
  mkdirSync(resolve(dir), { recursive: true });
  const root = rootPath(dir);
  checkStateFolders(root);
  const c = confine(root);
  for (const d of [DB_DIR, KEYS_DIR, CACHE_DIR]) {
    try {
      c.mkdirp(d, 0o755);
    } catch (e) {
      throw ioError(e, c.abs(d));
    }
  }
  const created = !isMinosRoot(root);
  if (!c.exists(REPOS_FILE)) writeRepoConfig(root, []);
  if (opts.arch || !c.exists(OPTIONS_FILE)) writeOptions(root, { ...readOptions(root), ...(opts.arch ? { arch: opts.arch } : {}) });
  if (created) writeState(root, INSTALLED, dbBytes(emptyDb()));
  return { root, created };
}

/** Write one of minos's own files in a root, confined (confine.ts), durably and atomically. */
export function writeState(root: string, rel: string, data: Uint8Array): void {
  const c = confine(root);
  try {
    c.writeFileAtomic(rel, data);
  } catch (e) {
    throw ioError(e, c.abs(rel));
  }
}

/** A JSON state file of a root (relative path), read confined; undefined when absent. */
function readJson(root: string, rel: string): unknown {
  const c = confine(root);
  const file = c.abs(rel);
  let text: string | undefined;
  try {
    text = c.readFile(rel, CAP.spec)?.toString('utf8');
  } catch (e) {
    throw e instanceof MinosError ? new MinosError('MN0115', e.message, { data: e.data }) : ioError(e, file, 'MN0115');
  }
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new MinosError('MN0115', `${file}: invalid JSON: ${(e as Error).message}`, { data: { file } });
  }
}

const pretty = (v: unknown) => Buffer.from(`${JSON.stringify(JSON.parse(canonicalBytes(v).toString()), null, 2)}\n`);

export function readRepoConfig(root: string): RepoConfig[] {
  const v = readJson(root, REPOS_FILE);
  return v === undefined ? [] : parseRepoConfig(root, v);
}

/** Check and read the JSON value of ROOT/etc/minos/repositories.json. */
export function parseRepoConfig(root: string, v: unknown): RepoConfig[] {
  const file = join(root, REPOS_FILE);
  const bad = (why: string) => new MinosError('MN0115', `${file}: ${why}`, { data: { file } });
  if (!Array.isArray(v)) throw bad('expected a list of repositories');
  return v.map((r: Record<string, unknown>, i) => {
    if (!r || typeof r !== 'object') throw bad(`entry ${i}: expected an object`);
    if (typeof r.name !== 'string' || repoNameError(r.name)) throw bad(`entry ${i}: invalid "name"`);
    // Neither: a repository the image was built from that has no location on this device (see repoSpecs).
    if (typeof r.url === 'string' && typeof r.path === 'string') throw bad(`entry ${i} (${r.name}): give one of "url" or "path", not both`);
    if ((r.url !== undefined && typeof r.url !== 'string') || (r.path !== undefined && typeof r.path !== 'string')) throw bad(`entry ${i} (${r.name}): "url" and "path" must be strings`);
    if (r.priority !== undefined && !Number.isInteger(r.priority)) throw bad(`entry ${i} (${r.name}): "priority" must be an integer`);
    if (r.keys !== undefined && (!Array.isArray(r.keys) || r.keys.some((k) => typeof k !== 'string' || !/^[0-9a-f]{16}$/.test(k)))) {
      throw bad(`entry ${i} (${r.name}): "keys" must be a list of key ids`);
    }
    const out: RepoConfig = { name: r.name, priority: (r.priority as number | undefined) ?? 0, keys: (r.keys as string[] | undefined) ?? [] };
    if (r.debian !== undefined) {
      const d = r.debian as Record<string, unknown>;
      const names = (v: unknown, re: RegExp) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && re.test(x));
      if (!d || typeof d !== 'object' || typeof d.suite !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(d.suite) || d.suite.split('/').includes('..')
        || !names(d.components, /^[a-z0-9][a-z0-9._-]*$/) || !names(d.keyrings, /^[A-Za-z0-9][A-Za-z0-9._-]*\.(gpg|asc|pgp)$/)) {
        throw bad(`entry ${i} (${r.name}): "debian" must be {suite, components, keyrings}`);
      }
      out.debian = { suite: d.suite, components: d.components as string[], keyrings: d.keyrings as string[] };
    }
    if (typeof r.url === 'string') out.url = r.url.replace(/\/+$/, '');
    else if (typeof r.path === 'string') out.path = isAbsolute(r.path) ? r.path : resolve(root, CONFIG_DIR, r.path);
    return out;
  });
}

/** The bytes of ROOT/etc/minos/repositories.json listing `repos`. */
export function repoConfigBytes(repos: readonly RepoConfig[]): Buffer {
  return pretty([...repos].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
}

export function writeRepoConfig(root: string, repos: readonly RepoConfig[]): void {
  writeState(root, REPOS_FILE, repoConfigBytes(repos));
}

export function readOptions(root: string): RootOptions {
  const file = join(root, OPTIONS_FILE);
  const v = readJson(root, OPTIONS_FILE) as Record<string, unknown> | undefined;
  if (v === undefined) return {};
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new MinosError('MN0115', `${file}: expected an object`, { data: { file } });
  for (const k of Object.keys(v)) if (!['arch', 'allowExpired'].includes(k)) throw new MinosError('MN0115', `${file}: unknown option ${quote(k)}`, { data: { file } });
  if (v.arch !== undefined && (!isArch(v.arch) || v.arch === 'noarch')) throw new MinosError('MN0115', `${file}: "arch" must be x86_64, aarch64, armv7 or riscv64`, { data: { file } });
  if (v.allowExpired !== undefined && typeof v.allowExpired !== 'boolean') throw new MinosError('MN0115', `${file}: "allowExpired" must be true or false`, { data: { file } });
  return v as RootOptions;
}

export function writeOptions(root: string, o: RootOptions): void {
  writeState(root, OPTIONS_FILE, pretty(o));
}

/** The root's architecture: options, else its installed packages, else the host's. */
export function rootArch(root: string, db: InstalledDb): Arch {
  const o = readOptions(root);
  if (o.arch) return o.arch;
  const fromDb = db.packages.find((p) => p.arch !== 'noarch')?.arch;
  if (fromDb) return fromDb;
  return ({ x64: 'x86_64', arm64: 'aarch64', arm: 'armv7', riscv64: 'riscv64' } as Record<string, Arch>)[process.arch] ?? 'x86_64';
}

export function readSerials(root: string): Record<string, number> {
  const v = readJson(root, SERIALS_FILE);
  if (v === undefined) return {};
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new MinosError('MN0115', `${join(root, SERIALS_FILE)}: expected an object`);
  return v as Record<string, number>;
}

export function writeSerials(root: string, s: Record<string, number>): void {
  writeState(root, SERIALS_FILE, canonicalBytes(Object.fromEntries(Object.entries(s).sort())));
}

/** Every key in ROOT/etc/minos/keys. */
export function trustedKeys(root: string): Keyring {
  const dir = join(root, KEYS_DIR);
  if (!existsSync(dir)) return new Map();
  return loadKeyring([dir]);
}

/** The keyring of one repository: its listed key ids, or every trusted key when none are listed. */
export function repoKeyFiles(root: string, r: RepoConfig): string[] {
  const dir = join(root, KEYS_DIR);
  if (r.keys.length === 0) return existsSync(dir) ? [dir] : [];
  return r.keys.map((id) => {
    const f = join(dir, `${id}.pub`);
    if (!existsSync(f)) {
      throw new MinosError('MN0203', `repository "${r.name}" is signed by key ${id}, which is not in ${dir}`, {
        hint: `add it with \`minos --root ${root} key add FILE.pub\``,
        data: { repo: r.name, keyid: id },
      });
    }
    return f;
  });
}

/** The configured repositories with a location on this device, as sources to open. */
export function repoSpecs(root: string): RepoSpec[] {
  return readRepoConfig(root).filter((r) => r.url !== undefined || r.path !== undefined).map((r) => ({
    ...(r.url ? { url: r.url } : { path: r.path }), name: r.name, priority: r.priority,
    ...(r.debian
      ? { keys: r.debian.keyrings.map((k) => join(root, KEYRINGS_DIR, k)), debian: { suite: r.debian.suite, components: r.debian.components } }
      : { keys: repoKeyFiles(root, r) }),
  }));
}

/** A public key to trust, and what ROOT/etc/minos/keys/ID.pub will hold. */
export function keyFile(file: string): { key: PublicKey; path: string; data: Buffer } {
  const key = loadPublicKey(file);
  return { key, path: `${KEYS_DIR}/${key.id}.pub`, data: Buffer.from(key.key.export({ type: 'spki', format: 'pem' }) as string) };
}

export function listKeys(root: string): PublicKey[] {
  return [...trustedKeys(root).values()];
}

/** The trusted key with id (or unique id prefix) `id`; MN0002 when none or several match. */
export function findKey(root: string, id: string): PublicKey {
  const dir = join(root, KEYS_DIR);
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.pub')) : [];
  const match = [...trustedKeys(root).values()].filter((k) => k.id === id || k.id.startsWith(id));
  if (match.length !== 1) {
    throw new MinosError('MN0002', match.length ? `key id ${quote(id)} is ambiguous` : `no trusted key ${quote(id)} in ${dir}`, { data: { keyid: id, keys: names } });
  }
  return match[0];
}

/** The folders minos keeps its own state in, and every folder above them. */
const JOURNAL_STATE_DIRS = [DB_DIR, CACHE_DIR, CONFIG_DIR, KEYS_DIR, KEYRINGS_DIR];
const PRIVATE_DIRS = [DB_DIR, CACHE_DIR];

/**
 * MN0207 for an operation that would replace, move or remove one of
 * minos's own state folders or a folder above one (only making them, giving
 * them a mode or trying rmdir is allowed), or touch anything inside
 * var/lib/minos or var/cache/minos: a package never changes where minos
 * keeps its journal, database, lock and cache.
 */
export function checkStatePaths(journal: { pre: readonly { op: string; path: string }[]; post: readonly { op: string; path: string; to?: string }[] }): void {
  const check = (o: { op: string }, p: string) => {
    // Every state folder is under var/ or etc/: other paths are decided by their first byte.
    if (p[0] !== 'v' && p[0] !== 'e') return;
    const inside = PRIVATE_DIRS.some((d) => p.startsWith(`${d}/`));
    const above = JOURNAL_STATE_DIRS.some((d) => d === p || d.startsWith(`${p}/`));
    if (inside || (above && o.op !== 'mkdir' && o.op !== 'attr' && o.op !== 'rmdir')) {
      throw new MinosError('MN0207', `/${p}: ${inside ? 'inside' : 'holds'} the folders minos keeps its own state in; a package may not ${o.op === 'put' ? 'replace' : o.op === 'moveout' ? 'move' : 'remove'} it`, {
        data: { path: p },
      });
    }
  };
  for (const o of journal.pre) check(o, o.path);
  for (const o of journal.post) {
    check(o, o.path);
    if (o.to !== undefined) check(o, o.to);
  }
}

/**
 * A text file of the root (account files, the dpkg database) read through
 * the confined root: never through a link, at most `max` bytes; undefined
 * when absent. A link or anything but a regular file there is refused.
 */
export function rootText(root: string, rel: string, max: number = CAP.spec): string | undefined {
  return confine(root).readFile(rel, max)?.toString('utf8');
}
