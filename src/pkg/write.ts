/**
 * Writing packages: a manifest and its payload → signed NAME-VERSION-ARCH.mpk
 * (writePackage); packing a recipe and its payload folder (packPackage) and
 * importing a .deb (debian/import.ts) are its two callers.
 * Deterministic: entries sorted by path bytes, every mtime set to the build
 * date (SOURCE_DATE_EPOCH, else the recipe folder's last git commit, else 0), owners by name from
 * the recipe (root unless overridden), no host data anywhere.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, renameSync, statSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { canonicalBytes, compareUtf8 } from '../canonical.js';
import { abandonTemp, writeAll } from '../fsutil.js';
import { ioError, MinosError, quote } from '../errors.js';
import { signBytes, type SecretKey } from '../repo/keys.js';
import type { Recipe } from '../spec/recipe.js';
import { yamlError } from '../spec/yaml.js';
import type { EntryType, FileEntry, Manifest } from '../types.js';
import type { TarHeader } from '../unpack/tar.js';
import { encodeHeader, padLength, TAR_END } from '../unpack/tarwrite.js';
import { createZstdEncoder } from '../unpack/zstd.js';
import { parseCanonical } from '../jsonfields.js';
import { pathError, symlinkEscapes } from '../names.js';
import { checkManifest } from './manifest.js';
import { MANIFEST_NAME, SIGNATURE_NAME } from './read.js';

export interface PackOptions {
  recipe: Recipe;
  key: SecretKey;
  outDir: string;
  /** zstd level, 1..19; default 19 (packages are written once, read many times). */
  level?: number;
  /** Seconds since the epoch for every mtime; default: the recipe folder's last git commit, else 0. */
  sourceDateEpoch?: number;
}

export interface PackResult {
  file: string;
  manifest: Manifest;
  size: number;
  sha256: string;
}

interface Item {
  entry: FileEntry;
  /** Absolute source path for regular files. */
  source?: string;
}

/** Package file name for a name, version and arch (`:` of an epoch becomes `%3a`). */
export function packageFileName(m: { name: string; version: string; arch: string }): string {
  return `${m.name}-${m.version.replace(/:/g, '%3a')}-${m.arch}.mpk`;
}


/** Walk the payload folder: every entry below it, with lstat results. */
function walk(root: string): { rel: string; abs: string; st: Stats }[] {
  const out: { rel: string; abs: string; st: Stats }[] = [];
  const visit = (abs: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch (e) {
      throw ioError(e, abs, 'MN0101');
    }
    for (const name of names) {
      const a = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      let st: Stats;
      try {
        st = lstatSync(a);
      } catch (e) {
        throw ioError(e, a, 'MN0101');
      }
      out.push({ rel: r, abs: a, st });
      if (st.isDirectory()) visit(a, r);
    }
  };
  visit(root, '');
  return out.sort((x, y) => compareUtf8(x.rel, y.rel));
}

function collect(recipe: Recipe): Item[] {
  const items = new Map<string, Item>();
  const inodes = new Map<string, string>();
  const where = (p: string) => `${recipe.files}/${p}`;
  if (recipe.files !== undefined) {
    try {
      if (!statSync(recipe.files).isDirectory()) throw new Error();
    } catch {
      throw yamlError(recipe.src, ['files'], `"${recipe.files}" is not a readable folder`);
    }
    for (const { rel, abs, st } of walk(recipe.files)) {
      const err = pathError(rel);
      if (err) throw new MinosError('MN0104', `${where(rel)}: cannot be packed: ${err}`, { data: { file: abs } });
      const base = { path: rel, mode: st.mode & 0o7777, owner: 'root', group: 'root', size: 0 };
      let entry: FileEntry;
      if (st.isDirectory()) entry = { ...base, type: 'dir' };
      else if (st.isSymbolicLink()) entry = { ...base, type: 'symlink', mode: 0o777, target: readlinkSync(abs) };
      else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first !== undefined) entry = { ...base, type: 'hardlink', target: first };
        else {
          if (st.nlink > 1) inodes.set(key, rel);
          entry = { ...base, type: 'file', size: st.size };
        }
      } else {
        throw new MinosError('MN0104', `${where(rel)}: special files cannot be packed from the folder; declare devices and FIFOs under "overrides" with a type`, { data: { file: abs } });
      }
      items.set(rel, { entry, source: entry.type === 'file' ? abs : undefined });
    }
  }
  for (const [path, ov] of recipe.overrides) {
    const at = ['overrides', `/${path}`];
    let item = items.get(path);
    if (ov.type !== undefined) {
      if (item) throw yamlError(recipe.src, at, `"/${path}" already exists in the files folder; "type" only creates new entries`);
      const type: EntryType = ov.type;
      const entry: FileEntry = { path, type, mode: type === 'symlink' ? 0o777 : type === 'dir' ? 0o755 : 0o644, owner: 'root', group: 'root', size: 0 };
      if (type === 'char' || type === 'block') Object.assign(entry, { devmajor: ov.major, devminor: ov.minor });
      if (type === 'symlink') entry.target = ov.target;
      item = { entry };
      items.set(path, item);
      for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
        const parent = path.slice(0, i);
        if (!items.has(parent)) items.set(parent, { entry: { path: parent, type: 'dir', mode: 0o755, owner: 'root', group: 'root', size: 0 } });
      }
    } else if (!item) {
      throw yamlError(recipe.src, at, `"/${path}" is not in the files folder (give "type" to create a device, FIFO, folder or symlink)`);
    }
    // Mode and owner belong to the inode: an override on a hardlink changes its file.
    const e = item.entry.type === 'hardlink' ? items.get(item.entry.target!)!.entry : item.entry;
    if (ov.mode !== undefined) {
      if (e.type === 'symlink') throw yamlError(recipe.src, [...at, 'mode'], 'a symlink has no mode of its own');
      e.mode = ov.mode;
    }
    if (ov.owner !== undefined) e.owner = ov.owner;
    if (ov.group !== undefined) e.group = ov.group;
  }
  const sorted = [...items.values()].sort((a, b) => compareUtf8(a.entry.path, b.entry.path));
  // A hardlink shares its inode's mode and owner with the file it points to.
  for (const { entry } of sorted) {
    if (entry.type === 'hardlink') {
      const t = items.get(entry.target!)!.entry;
      Object.assign(entry, { mode: t.mode, owner: t.owner, group: t.group });
    }
    if (entry.type === 'symlink' && symlinkEscapes(entry.path, entry.target!)) {
      throw new MinosError('MN0104', `${where(entry.path)}: symlink target ${quote(entry.target!)} points outside the root`, { data: { path: entry.path } });
    }
  }
  recipe.config.forEach((c, i) => {
    const e = items.get(c.slice(1))?.entry;
    if (!e || e.type !== 'file') throw yamlError(recipe.src, ['config', i], `"${c}" is not a regular file in the package`);
  });
  return sorted;
}

const CHUNK = 1 << 20;

/** Read a file in chunks, checking it still has the size seen by the walk. */
function readChunks(file: string, size: number, buf: Buffer, each: (chunk: Buffer) => void): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw ioError(e, file, 'MN0101');
  }
  try {
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      total += n;
      if (total > size) break;
      each(buf.subarray(0, n));
    }
    if (total !== size) throw new MinosError('MN0003', `${file}: changed while packing`, { data: { file } });
  } finally {
    closeSync(fd);
  }
}

/**
 * Every mtime of a package: SOURCE_DATE_EPOCH, else the time of the last git
 * commit that touched the recipe's folder, else 0. Never the files' own
 * mtimes, which depend on when and how the folder was checked out.
 */
function resolveEpoch(opts: PackOptions): number {
  if (opts.sourceDateEpoch !== undefined) return opts.sourceDateEpoch;
  const dir = dirname(opts.recipe.file);
  const r = spawnSync('git', ['-c', 'safe.directory=*', '-C', dir, 'log', '-1', '--format=%ct', '--', '.'], { encoding: 'utf8', timeout: 10_000 });
  const t = r.status === 0 ? r.stdout.trim() : '';
  return /^\d{1,12}$/.test(t) ? Number(t) : 0;
}

/** Numeric id for a name: 0 for root, else the recipe's declaration, else 0. */
function idOf(name: string, decls: { name: string; id: number }[]): number {
  return decls.find((d) => d.name === name)?.id ?? 0;
}

/** One payload entry to write: its manifest entry and, for a regular file, its content. */
export interface PayloadItem {
  entry: FileEntry;
  /** Regular files: calls `each` with exactly `entry.size` bytes of content, in order, every time it is called. */
  content?: (each: (chunk: Uint8Array) => void) => void;
}

export interface WriteOptions {
  /** The manifest but its format, signer and files (which are the items' entries). */
  meta: Omit<Manifest, 'format' | 'signer' | 'files'>;
  /** Every payload entry, sorted by path bytes; files carry their sha256. */
  items: PayloadItem[];
  key: SecretKey;
  outDir: string;
  /** zstd level, 1..19; default 19. */
  level?: number;
  /** Names the input in messages (a recipe, a .deb). */
  where: string;
  /** Numeric uid/gid written for owner names (root is 0, a name not listed is 0: names are authoritative). */
  ids?: { users: { name: string; id: number }[]; groups: { name: string; id: number }[] };
  /**
   * Leave the finished package at `tmp` (beside `file`, in `outDir`) for the
   * caller to rename, so several packages can appear together; else it is
   * renamed into place here.
   */
  keepTemp?: boolean;
}

/**
 * Write a signed package from a manifest and its payload into `outDir` (made
 * if missing), atomically: a temp file beside the result, fsynced, renamed.
 * The manifest is checked exactly as readers check it before a byte is
 * written; the same input always gives the same bytes.
 */
export function writePackage(opts: WriteOptions): PackResult & { tmp: string } {
  const { key, items } = opts;
  const files = items.map((i) => i.entry);
  const manifest: Manifest = { ...opts.meta, format: 1, signer: key.id, files };
  const manifestBytes = canonicalBytes(manifest);
  // The reader's checks are the definition of a valid manifest: apply them now.
  checkManifest(parseCanonical(manifestBytes, { where: `${opts.where}: manifest`, code: 'MN0104' }), { where: opts.where, code: 'MN0104' });
  const signature = signBytes(manifestBytes, key);

  const users = [{ name: 'root', id: 0 }, ...(opts.ids?.users ?? [])];
  const groups = [{ name: 'root', id: 0 }, ...(opts.ids?.groups ?? [])];
  const builddate = manifest.builddate;
  const header = (e: Omit<FileEntry, 'sha256'>): TarHeader => ({
    name: e.path, type: e.type, mode: e.mode, uid: idOf(e.owner, users), gid: idOf(e.group, groups), uname: e.owner, gname: e.group,
    size: e.size, mtime: builddate, linkname: e.target ?? '', devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0,
  });

  const outFile = join(opts.outDir, packageFileName(manifest));
  const tmp = `${outFile}.tmp-${process.pid}`;
  let fd: number;
  try {
    mkdirSync(opts.outDir, { recursive: true });
  } catch (e) {
    throw ioError(e, opts.outDir);
  }
  try {
    fd = openSync(tmp, 'w', 0o644);
  } catch (e) {
    throw ioError(e, tmp);
  }
  const encoder = createZstdEncoder({ level: opts.level ?? 19 });
  const sha = createHash('sha256');
  let size = 0;
  const write = (out: Uint8Array) => {
    sha.update(out);
    size += out.length;
    writeAll(fd, out);
  };
  // Batch small tar pieces so the encoder sees large chunks.
  const stage = Buffer.allocUnsafe(CHUNK);
  let staged = 0;
  const emit = (b: Uint8Array) => {
    if (staged + b.length > CHUNK) {
      if (staged) encoder.push(stage.subarray(0, staged), write);
      staged = 0;
      if (b.length >= CHUNK) {
        encoder.push(b, write);
        return;
      }
    }
    stage.set(b, staged);
    staged += b.length;
  };
  const member = (name: string, data: Buffer) => {
    emit(encodeHeader(header({ path: name, type: 'file', mode: 0o644, owner: 'root', group: 'root', size: data.length })));
    emit(data);
    emit(Buffer.alloc(padLength(data.length)));
  };
  try {
    member(MANIFEST_NAME, manifestBytes);
    member(SIGNATURE_NAME, signature);
    for (const it of items) {
      const e = it.entry;
      emit(encodeHeader(header(e)));
      if (e.type === 'file') {
        let n = 0;
        it.content!((c) => {
          n += c.length;
          if (n <= e.size) emit(c);
        });
        if (n !== e.size) throw new MinosError('MN0003', `${opts.where}: ${e.path}: ${n} bytes of content, the manifest says ${e.size}`, { data: { path: e.path } });
        emit(Buffer.alloc(padLength(e.size)));
      }
    }
    emit(TAR_END);
    if (staged) encoder.push(stage.subarray(0, staged), write);
    encoder.end(write);
    fsyncSync(fd);
    closeSync(fd);
    if (!opts.keepTemp) renameSync(tmp, outFile);
  } catch (e) {
    abandonTemp(fd, tmp);
    throw e instanceof MinosError ? e : ioError(e, outFile);
  } finally {
    encoder.free();
  }
  return { file: outFile, tmp, manifest, size, sha256: sha.digest('hex') };
}

/** Pack a recipe into `outDir` (made if missing), atomically (temp file + rename). */
export function packPackage(opts: PackOptions): PackResult {
  const { recipe, key } = opts;
  const items = collect(recipe);
  const buf = Buffer.allocUnsafe(CHUNK);
  for (const it of items) {
    if (it.entry.type !== 'file') continue;
    const h = createHash('sha256');
    readChunks(it.source!, it.entry.size, buf, (c) => h.update(c));
    it.entry.sha256 = h.digest('hex');
  }
  const builddate = resolveEpoch(opts);
  const files = items.map((i) => i.entry);
  const r = writePackage({
    meta: {
      name: recipe.name,
      version: recipe.version,
      arch: recipe.arch,
      summary: recipe.summary,
      license: recipe.license,
      depends: recipe.depends,
      provides: recipe.provides,
      conflicts: recipe.conflicts,
      replaces: recipe.replaces,
      optional: recipe.optional,
      builddate,
      installedSize: files.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0),
      config: recipe.config,
      users: recipe.users,
      groups: recipe.groups,
    },
    items: items.map((it) => ({ entry: it.entry, content: it.source === undefined ? undefined : (each) => readChunks(it.source!, it.entry.size, buf, each) })),
    key, outDir: opts.outDir, level: opts.level, where: recipe.file,
    ids: { users: recipe.users.map((u) => ({ name: u.name, id: u.uid })), groups: recipe.groups.map((g) => ({ name: g.name, id: g.gid })) },
  });
  return { file: r.file, manifest: r.manifest, size: r.size, sha256: r.sha256 };
}
