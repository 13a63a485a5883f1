/**
 * Who owns each path once a set of packages is installed: the one rule for
 * file conflicts and `replaces`, used by the image build (merging packages
 * into its stage) and by the live planner (engine/plan.ts) alike.
 *
 * Folders may be shared. Any other overlap is a conflict (MN0601) unless one
 * of the two packages replaces the other, and then only when neither side is
 * a folder: the replacing package's entry stays, the other package loses the
 * path (its record no longer lists it).
 */
import { parseDescriptor, satisfies } from '../depend.js';
import { MinosError } from '../errors.js';
import type { InstalledRecord } from '../db/installed.js';
import type { EntryType, FileEntry, Manifest } from '../types.js';

/** Which packages of one result each package replaces (`replaces` whose version matches), and is replaced by. */
export interface ReplaceSets {
  replaces: Map<string, Set<string>>;
  replacedBy: Map<string, Set<string>>;
}

export function replaceSets(metas: Iterable<{ name: string; version: string; replaces: readonly string[] }>): ReplaceSets {
  const byName = new Map<string, { version: string; replaces: readonly string[] }>();
  for (const m of metas) byName.set(m.name, m);
  const replaces = new Map<string, Set<string>>();
  const replacedBy = new Map<string, Set<string>>();
  for (const name of byName.keys()) {
    replaces.set(name, new Set());
    replacedBy.set(name, new Set());
  }
  for (const [name, m] of byName) {
    for (const r of m.replaces) {
      const d = parseDescriptor(r);
      const other = byName.get(d.name);
      if (other && d.name !== name && satisfies(other.version, d.constraint)) {
        replaces.get(name)!.add(d.name);
        replacedBy.get(d.name)!.add(name);
      }
    }
  }
  return { replaces, replacedBy };
}

/** One side of an overlap: the package ('' for minos itself) and the entry's type. */
export interface Claimant {
  pkg: string;
  type: EntryType;
}

/**
 * What happens when `incoming` claims a path `had` already holds:
 * 'share' (two folders), 'keep' (`had`'s package replaces the incoming one,
 * which loses the path), 'take' (the incoming package replaces `had`'s,
 * which loses it). Anything else throws the conflict, naming both packages
 * with their versions (`versions`, for the message).
 */
export function claim(path: string, had: Claimant, incoming: Claimant, sets: ReplaceSets, versions: ReadonlyMap<string, string>): 'share' | 'keep' | 'take' {
  if (had.type === 'dir' && incoming.type === 'dir') return 'share';
  if (had.type !== 'dir' && incoming.type !== 'dir' && had.pkg && incoming.pkg) {
    if (sets.replaces.get(incoming.pkg)?.has(had.pkg)) return 'take';
    if (sets.replacedBy.get(incoming.pkg)?.has(had.pkg)) return 'keep';
  }
  throw conflictError(path, had, incoming, versions);
}

export function conflictError(path: string, a: Claimant, b: Claimant, versions: ReadonlyMap<string, string>): MinosError {
  const who = (c: Claimant) => (c.pkg ? `${c.pkg} ${versions.get(c.pkg) ?? ''}`.trim() : 'the image');
  return new MinosError('MN0601', `file conflict: /${path} is in both ${who(a)} (${a.type}) and ${who(b)} (${b.type})`, {
    data: { path: `/${path}`, packages: [a.pkg, b.pkg] },
    hint: 'one package must declare `replaces` on the other',
  });
}

/** The installed record of a verified package: its manifest without the signing fields. */
export function recordOf(m: Manifest, repo: string, sha256: string, explicit: boolean): InstalledRecord {
  const { format: _f, signer: _s, ...rest } = m;
  return { ...rest, repo, sha256, explicit };
}

/** Two entries describe the same node (type, owner, mode, content or target): an upgrade leaves it as it is. */
export function sameEntry(a: FileEntry, b: FileEntry): boolean {
  return a.type === b.type && a.mode === b.mode && a.owner === b.owner && a.group === b.group && a.size === b.size
    && a.sha256 === b.sha256 && a.target === b.target && a.devmajor === b.devmajor && a.devminor === b.devminor;
}
