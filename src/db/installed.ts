/**
 * The installed database inside a root: `var/lib/minos/installed.json`,
 * canonical JSON, replaced atomically (write new, fsync, rename, fsync dir).
 * An image built by `minos build` carries it, so the live engine can manage
 * the image later. It holds no host names and no clock times: only the
 * packages' own build dates.
 */
import { join } from 'node:path';
import { canonicalBytes, canonicalJson } from '../canonical.js';
import { MinosError } from '../errors.js';
import { CAP, readInputText } from '../input.js';
import { pathError } from '../names.js';
import type { FileEntry, GroupDecl, PackageMeta, UserDecl } from '../types.js';

export const DB_DIR = 'var/lib/minos';
export const INSTALLED = `${DB_DIR}/installed.json`;

export interface InstalledRecord extends PackageMeta {
  repo: string;
  /** sha256 of the package file it was installed from. */
  sha256: string;
  config: string[];
  users: UserDecl[];
  groups: GroupDecl[];
  files: FileEntry[];
  /** Installed because it was asked for (not only as a dependency). */
  explicit: boolean;
}

/** An owner or mode the builder could not apply (rootless directory build). */
export interface Deferred {
  path: string;
  uid: number;
  gid: number;
  mode: number;
  /** Device nodes and FIFOs that could not be created. */
  type?: 'char' | 'block' | 'fifo';
  devmajor?: number;
  devminor?: number;
}

export interface InstalledDb {
  format: 1;
  /** Request strings of the world (what was asked for). */
  world: string[];
  packages: InstalledRecord[];
  /** Owners, modes and nodes not applied on disk (empty when built as root). */
  deferred: Deferred[];
  /**
   * Nodes minos made from data rather than from a package (the effects of
   * Debian maintainer scripts: merged-/usr links, alternatives, the dpkg
   * database, ld.so.cache, /dev). The live engine derives them again for
   * every transaction and replaces them as it replaces a package's files.
   */
  generated?: FileEntry[];
}

export function emptyDb(): InstalledDb {
  return { format: 1, world: [], packages: [], deferred: [] };
}

export { writeFileAtomic } from '../fsutil.js';

/**
 * The database as written: canonical JSON, packages by name. `files(r)` may
 * give record r's file list already as its canonical JSON (`[...]`: its
 * manifest's own bytes, see manifestFilesJson), which is then copied instead
 * of serialised again: 15-29 ms of a 100-package build's single-threaded
 * tail became 3-4 ms. The cut relies on "packages" and "files" being the key
 * of nothing else in a database.
 */
export function dbBytes(db: InstalledDb, files?: (r: InstalledRecord) => Uint8Array | undefined): Buffer {
  const packages = [...db.packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (!files) return canonicalBytes({ ...db, packages });
  const [head, tail] = splitAt(canonicalJson({ ...db, packages: [] }), '"packages":[]');
  const parts: Uint8Array[] = [Buffer.from(`${head}[`)];
  packages.forEach((r, i) => {
    const raw = files(r);
    const text = canonicalJson(raw ? { ...r, files: [] } : r);
    if (i > 0) parts.push(COMMA);
    if (!raw) {
      parts.push(Buffer.from(text));
      return;
    }
    const [before, after] = splitAt(text, '"files":[]');
    parts.push(Buffer.from(before), raw, Buffer.from(after));
  });
  parts.push(Buffer.from(`]${tail}`));
  return Buffer.concat(parts);
}

const COMMA = Buffer.from(',');

/** `text` without the `[]` of its one `marker` (`"key":[]`): what comes before it and after. */
function splitAt(text: string, marker: string): [string, string] {
  const k = text.indexOf(marker) + marker.length - 2;
  return [text.slice(0, k), text.slice(k + 2)];
}

/** Read the database of a root; MN0004 (exit 1) naming the file if corrupt. */
export function readDb(root: string): InstalledDb {
  const file = join(root, INSTALLED);
  const text = readInputText(file, CAP.state, { tooLarge: 'MN0004' });
  try {
    const db = JSON.parse(text) as InstalledDb;
    if (db.format !== 1 || !Array.isArray(db.packages)) throw new Error('not a minos database');
    // Every path the engine may remove or replace must stay inside the root, whatever the file says.
    const check = (e: FileEntry, who: string) => {
      const bad = typeof e?.path === 'string' ? pathError(e.path) : 'no path';
      if (bad) throw new Error(`${who}: entry ${JSON.stringify(e?.path)}: ${bad}`);
    };
    for (const r of db.packages) {
      if (!Array.isArray(r?.files)) throw new Error(`package ${JSON.stringify(r?.name)}: no file list`);
      for (const e of r.files) check(e, `package ${r.name}`);
    }
    if (db.generated !== undefined && !Array.isArray(db.generated)) throw new Error('generated: not a list');
    for (const e of db.generated ?? []) check(e, 'generated');
    return db;
  } catch (e) {
    throw new MinosError('MN0004', `${file}: corrupt installed database: ${(e as Error).message}`, {
      data: { file },
      hint: 'restore it from a backup, or rebuild it with --repair (the corrupt file is kept beside it)',
    });
  }
}
