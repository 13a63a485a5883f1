/**
 * The data contracts between stages. docs/FORMAT.md documents the on-disk form
 * of Manifest and Index exactly; keep the two in step.
 */
import type { Arch } from './depend.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One payload entry of a package, as listed in its manifest. */
export interface FileEntry {
  /** Relative POSIX path, no leading `/` or `./`, no `.`/`..` components. */
  path: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky, as a number (e.g. 0o4755). */
  mode: number;
  owner: string;
  group: string;
  /** Bytes of content; 0 for everything but regular files. */
  size: number;
  /** Hex SHA-256 of the content, regular files only. */
  sha256?: string;
  /** Symlink target (any string) or hardlink target (a path of this package). */
  target?: string;
  devmajor?: number;
  devminor?: number;
}

export interface UserDecl {
  name: string;
  uid: number;
  group: string;
  home?: string;
  shell?: string;
  gecos?: string;
}

export interface GroupDecl {
  name: string;
  gid: number;
  members?: string[];
}

/** Package metadata shared by the manifest and the index. */
export interface PackageMeta {
  name: string;
  version: string;
  arch: Arch;
  summary: string;
  license: string;
  depends: string[];
  provides: string[];
  conflicts: string[];
  replaces: string[];
  optional: string[];
  /** Build time, seconds since the epoch (SOURCE_DATE_EPOCH when packed). */
  builddate: number;
  /** Sum of regular file sizes. */
  installedSize: number;
  /** Packages from a Debian repository, and .mpk packages imported from a .deb (`minos import deb`). */
  debian?: DebianMeta;
}

/**
 * Debian fields the solver and the engine need beyond PackageMeta. Dependency
 * strings in PackageMeta are already in minos syntax (`name OP version`,
 * `a | b`), with Debian's architecture qualifiers (`:any`, `:native`)
 * dropped. Pre-Depends are also merged into `depends`, Breaks into `conflicts`.
 */
export interface DebianMeta {
  /** Pre-Depends clauses alone (they are in `depends` too). */
  preDepends: string[];
  /** Breaks, in minos syntax; the solver treats them as conflicts. */
  breaks: string[];
  /** Recommends (also in `optional`). */
  recommends: string[];
  /** `Essential: yes`: never removed by the live commands without an explicit flag. */
  essential: boolean;
  /** Debian's Priority: required, important, standard, optional or extra. */
  priority: string;
  /** Multi-Arch: same, foreign, allowed, or '' when absent. */
  multiArch: string;
  /** The Debian architecture as Packages names it (amd64, arm64, all, ...). */
  debArch: string;
  section: string;
  source: string;
}

export interface Manifest extends PackageMeta {
  format: 1;
  /** Key id of the key that signs this manifest. */
  signer: string;
  config: string[];
  users: UserDecl[];
  groups: GroupDecl[];
  files: FileEntry[];
}

/** One package as listed in a signed repository index. */
export interface IndexPackage extends PackageMeta {
  /** File name inside the repository folder. */
  file: string;
  size: number;
  sha256: string;
}

export interface Index {
  format: 1;
  name: string;
  serial: number;
  /** RFC 3339 UTC, e.g. 2026-11-23T00:00:00Z. */
  created: string;
  /** RFC 3339 UTC, or null for an index that never expires. */
  expires: string | null;
  signer: string;
  packages: IndexPackage[];
}
