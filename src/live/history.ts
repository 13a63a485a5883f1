/**
 * Generations: every live transaction appends one to
 * ROOT/var/lib/minos/history.json with the packages before and after it, so
 * `minos rollback` can return to any of them (from the package cache).
 */
import { join } from 'node:path';
import { dbBytes, type InstalledDb, type InstalledRecord } from '../db/installed.js';
import { MinosError } from '../errors.js';
import { CAP, readInputTextIfAny } from '../input.js';
import { HISTORY_FILE } from './root.js';

export interface GenPackage {
  name: string;
  version: string;
  arch: string;
  repo: string;
  /** sha256 of the package file: its name in the cache. */
  sha256: string;
  explicit: boolean;
}

export interface Generation {
  /** 1, 2, 3… in order. */
  id: number;
  /** ISO time of the commit. */
  time: string;
  /** The command line, e.g. `install hello`. */
  command: string;
  before: GenPackage[];
  after: GenPackage[];
}

export interface History {
  format: 1;
  generations: Generation[];
}

export function genPackages(records: readonly InstalledRecord[]): GenPackage[] {
  return records
    .map((r) => ({ name: r.name, version: r.version, arch: r.arch, repo: r.repo, sha256: r.sha256, explicit: r.explicit }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function readHistory(root: string): History {
  const file = join(root, HISTORY_FILE);
  const text = readInputTextIfAny(file, CAP.state, { tooLarge: 'MN0004' });
  if (text === undefined) return { format: 1, generations: [] };
  try {
    const h = JSON.parse(text) as History;
    if (h.format !== 1 || !Array.isArray(h.generations)) throw new Error('not a minos history');
    return h;
  } catch (e) {
    throw new MinosError('MN0004', `${file}: corrupt history: ${(e as Error).message}`, { data: { file } });
  }
}

export function historyBytes(h: History): Buffer {
  return Buffer.from(JSON.stringify(h));
}

/** Append a generation; returns the new history and the generation's id. */
export function appendGeneration(h: History, g: Omit<Generation, 'id'>): { history: History; id: number } {
  const id = (h.generations.at(-1)?.id ?? 0) + 1;
  return { history: { format: 1, generations: [...h.generations, { id, ...g }] }, id };
}

/**
 * The installed database's bytes: dbBytes(), whose canonical serialisation
 * already shares every part in key order (entries from canonical manifests)
 * and serialises natively.
 */
export function fastDbBytes(db: InstalledDb): Buffer {
  return dbBytes(db);
}
