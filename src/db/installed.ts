/**
 * The installed database inside a root: `var/lib/minos/installed.json`,
 * canonical JSON, replaced atomically (write new, fsync, rename, fsync dir).
 * An image built by `minos build` carries it, so the live engine can manage
 * the image later. It holds no host names and no clock times: only the
 * packages' own build dates.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalBytes } from '../canonical.js';
import { ioError, MinosError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';
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
}

export function emptyDb(): InstalledDb {
  return { format: 1, world: [], packages: [], deferred: [] };
}

export { writeFileAtomic } from '../fsutil.js';

export function dbBytes(db: InstalledDb): Buffer {
  const sorted: InstalledDb = { ...db, packages: [...db.packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
  return canonicalBytes(sorted);
}

export function writeDb(root: string, db: InstalledDb): void {
  writeFileAtomic(join(root, INSTALLED), dbBytes(db));
}

/** Read the database of a root; MN0004 (exit 1) naming the file if corrupt. */
export function readDb(root: string): InstalledDb {
  const file = join(root, INSTALLED);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw ioError(e, file, 'MN0101');
  }
  try {
    const db = JSON.parse(text) as InstalledDb;
    if (db.format !== 1 || !Array.isArray(db.packages)) throw new Error('not a minos database');
    return db;
  } catch (e) {
    throw new MinosError('MN0004', `${file}: corrupt installed database: ${(e as Error).message}`, {
      data: { file },
      hint: 'restore it from a backup, or rebuild it with --repair (the corrupt file is kept beside it)',
    });
  }
}
