/**
 * The contract of the maintainer-script effects layer. Input: a read-only
 * view of a root into which Debian packages have been unpacked (nothing run).
 * Output: the operations that complete it as the packages' scripts would,
 * plus one warning per package whose scripts do something not reproduced.
 * Same input, same output, byte for byte: nothing here reads the clock, the
 * host or the environment.
 */

/** The maintainer scripts and control members dpkg keeps in its info folder. */
export const SCRIPT_NAMES = ['preinst', 'postinst', 'prerm', 'postrm', 'config', 'triggers', 'templates', 'shlibs', 'symbols', 'md5sums'] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

export type DebEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One entry of a package's data.tar, in archive order. */
export interface DebFileEntry {
  /** Absolute path as the package ships it ("/bin/ls"), before merged-/usr mapping. */
  path: string;
  type: DebEntryType;
  /** Permission bits including setuid/setgid/sticky (07777). */
  mode: number;
  owner: string;
  group: string;
  size: number;
  /** Hex sha256 of a regular file's bytes ('' for other types). */
  sha256: string;
  /** Symlink target, or the absolute path a hardlink points to. */
  target?: string;
}

/** One package as it sits unpacked in the root. */
export interface DebInstalled {
  /**
   * The control file's fields in their order, values as in the file (a
   * multi-line value keeps its newlines and leading spaces, e.g. Description).
   */
  control: readonly (readonly [string, string])[];
  /** Maintainer scripts and other control members (text), by member name. */
  scripts: Partial<Record<ScriptName, string>>;
  /** Absolute conffile paths, from the control member `conffiles`. */
  conffiles: readonly string[];
  files: readonly DebFileEntry[];
}

/** The read-only root: everything the effects may depend on. */
export interface RootView {
  /** Debian architecture of the root (amd64, arm64, armhf, i386, riscv64, ...). */
  arch: string;
  packages: readonly DebInstalled[];
  /**
   * Bytes of a regular file of the unpacked root, by the path a package ships
   * it under ("/usr/share/base-passwd/passwd.master"); undefined when absent.
   */
  read(path: string): Uint8Array | undefined;
  /** Bytes [offset, offset + length) of such a file (fewer where it ends); without it, `read` serves. */
  readAt?(path: string, offset: number, length: number): Uint8Array | undefined;
  /** Seconds since the epoch for dates written into files (shadow's lastchg); SOURCE_DATE_EPOCH. */
  epoch: number;
}

/** Owner of a created entry, numeric (the accounts are known by then). */
export interface Owner {
  uid: number;
  gid: number;
}

export type EffectOp =
  | ({ op: 'mkdir'; path: string; mode: number } & Owner)
  | ({ op: 'file'; path: string; data: Uint8Array; mode: number } & Owner)
  | { op: 'symlink'; path: string; target: string }
  | ({ op: 'device'; path: string; kind: 'char' | 'block'; major: number; minor: number; mode: number } & Owner)
  /** Replace a shipped directory by a symlink (merged-/usr: /bin -> usr/bin); its contents move first. */
  | { op: 'dir-to-link'; path: string; target: string };

export interface EffectWarning {
  package: string;
  /** One line, naming the scripts and what was not reproduced. */
  message: string;
}

export interface EffectsResult {
  /** Sorted so that a parent comes before its children; applying in order completes the root. */
  ops: EffectOp[];
  /** Sorted by package name. */
  warnings: EffectWarning[];
}

/** A field of a control stanza, by name (case-insensitive as Debian defines). */
export function field(pkg: DebInstalled, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of pkg.control) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** The package's name, from its control fields. */
export function nameOf(pkg: DebInstalled): string {
  return field(pkg, 'Package') ?? '';
}
