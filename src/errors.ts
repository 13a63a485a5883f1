/**
 * Every failure the library reports is a MinosError carrying a stable code from
 * CODES. A code is never reused for a different meaning; new failures get new
 * codes. The exit status is derived from the code, so the CLI only renders.
 */

/** Process exit statuses, documented in `minos --help` and the README. */
export const EXIT = {
  ok: 0,
  other: 1,
  usage: 2,
  unsatisfiable: 3,
  verify: 4,
  locked: 5,
  conflict: 6,
} as const;
export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/** code → [exit status, short title]. Titles appear in docs, not in messages. */
export const CODES = {
  MN0001: [EXIT.other, 'internal error'],
  MN0002: [EXIT.usage, 'usage error'],
  MN0003: [EXIT.other, 'I/O error'],
  MN0004: [EXIT.other, 'corrupt installed database'],
  MN0005: [EXIT.other, 'package not available for rollback'],
  MN0006: [EXIT.other, 'no package owns the path'],
  MN0007: [EXIT.other, 'permission denied'],
  MN0008: [EXIT.other, 'read-only file system'],
  MN0009: [EXIT.other, 'no space left on device'],
  MN0010: [EXIT.other, 'network timeout'],
  MN0011: [EXIT.other, 'interrupted by a signal'],
  MN0012: [EXIT.other, 'boot failed or timed out'],
  MN0013: [EXIT.other, 'privilege separation unavailable'],

  MN0101: [EXIT.usage, 'cannot read input file'],
  MN0102: [EXIT.usage, 'invalid YAML'],
  MN0103: [EXIT.usage, 'unknown field'],
  MN0104: [EXIT.usage, 'invalid field value'],
  MN0105: [EXIT.usage, 'missing required field'],
  MN0106: [EXIT.usage, 'invalid name, version or architecture'],
  MN0107: [EXIT.usage, 'invalid dependency string'],
  MN0108: [EXIT.usage, 'invalid or unsupported key file'],
  MN0109: [EXIT.usage, 'output already exists'],
  MN0110: [EXIT.usage, 'malformed package or archive'],
  MN0111: [EXIT.usage, 'malformed repository index'],
  MN0112: [EXIT.usage, 'malformed lockfile'],
  MN0113: [EXIT.usage, 'owner not declared by any package'],
  MN0114: [EXIT.usage, 'not a minos root'],
  MN0115: [EXIT.usage, 'invalid root configuration'],
  MN0116: [EXIT.usage, 'output path refused'],
  MN0117: [EXIT.usage, 'invalid file for a maintainer-script effect'],
  MN0118: [EXIT.usage, 'image does not fit the output format'],

  MN0201: [EXIT.verify, 'signature does not verify'],
  MN0202: [EXIT.verify, 'signature missing'],
  MN0203: [EXIT.verify, 'signed by an untrusted key'],
  MN0204: [EXIT.verify, 'payload does not match manifest'],
  MN0205: [EXIT.verify, 'hash mismatch'],
  MN0206: [EXIT.verify, 'size mismatch'],
  MN0207: [EXIT.verify, 'unsafe path or link'],
  MN0208: [EXIT.verify, 'corrupt compressed data'],
  MN0209: [EXIT.verify, 'decompressed size exceeds the declared bound'],
  MN0210: [EXIT.verify, 'repository index expired'],
  MN0211: [EXIT.verify, 'repository index rolled back'],
  MN0212: [EXIT.verify, 'package missing from repository'],
  MN0213: [EXIT.verify, 'package not listed in repository index'],
  MN0214: [EXIT.verify, 'locked package missing or different'],
  MN0215: [EXIT.verify, 'installed files differ from the database'],
  MN0216: [EXIT.verify, 'malformed or inconsistent Debian repository data'],
  MN0217: [EXIT.verify, 'unprivileged reader or downloader broke its protocol'],

  MN0301: [EXIT.unsatisfiable, 'dependencies cannot be satisfied'],
  MN0302: [EXIT.unsatisfiable, 'no such package'],
  MN0303: [EXIT.unsatisfiable, 'removal would break installed packages'],
  MN0304: [EXIT.unsatisfiable, 'package not installed'],

  MN0501: [EXIT.locked, 'another minos holds the lock'],
  MN0601: [EXIT.conflict, 'file conflict'],
  MN0602: [EXIT.conflict, 'account conflict'],
  MN0603: [EXIT.conflict, 'conflicting maintainer-script effects'],
  MN0604: [EXIT.conflict, 'symbolic link where a folder must be'],
} as const satisfies Record<string, readonly [ExitStatus, string]>;
export type ErrorCode = keyof typeof CODES;

export interface ErrorOptions {
  /** One line telling the user what to do about it. */
  hint?: string;
  /** Structured facts for `--json` output and tests (expected/actual, paths…). */
  data?: Record<string, unknown>;
  cause?: unknown;
}

export class MinosError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly data?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'MinosError';
    this.code = code;
    this.hint = opts.hint;
    this.data = opts.data;
  }

  get exit(): ExitStatus {
    return CODES[this.code][0];
  }
}

/**
 * Quote an untrusted string for a one-line message: JSON escapes (so control
 * characters and newlines show as \n), shortened in the middle when long.
 */
export function quote(s: string, max = 160): string {
  const q = JSON.stringify(s);
  return q.length <= max ? q : `${q.slice(0, max / 2)}…${q.slice(-max / 2)}`;
}

/**
 * The MinosError an unprivileged helper reported (as JSON: code, message,
 * hint, data), or undefined when it is not one; control characters removed
 * and lengths capped, `data` merged with `extra`.
 */
export function helperError(v: unknown, extra: Record<string, unknown>): MinosError | undefined {
  const e = v as { code?: unknown; message?: unknown; hint?: unknown; data?: unknown } | null;
  if (!e || typeof e !== 'object' || typeof e.code !== 'string' || !Object.hasOwn(CODES, e.code) || typeof e.message !== 'string') return undefined;
  const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 4096);
  const data = e.data && typeof e.data === 'object' ? { ...(e.data as Record<string, unknown>), ...extra } : extra;
  return new MinosError(e.code as ErrorCode, clean(e.message), { ...(typeof e.hint === 'string' ? { hint: clean(e.hint) } : {}), data });
}

export function isMinosError(e: unknown): e is MinosError {
  return e instanceof MinosError;
}

/** errno → [what it means, what to do], for one-line messages. */
const ERRNO: Record<string, readonly [string, string]> = {
  ENOENT: ['no such file or directory', 'check the path'],
  EACCES: ['permission denied', 'run as a user allowed to access it (root for a system root), or choose another path'],
  EPERM: ['operation not permitted', 'run as a user allowed to do this (root for a system root), or choose another path'],
  EROFS: ['read-only file system', 'remount the file system read-write, or choose another path'],
  ENOSPC: ['no space left on device', 'free some space and run the command again'],
  EDQUOT: ['disk quota exceeded', 'free some space and run the command again'],
  EISDIR: ['is a directory', 'give the path of a file, not of a folder'],
  ENOTDIR: ['not a directory', 'a component of the path is a file where a folder is expected'],
  ENOTEMPTY: ['directory not empty', 'remove its contents first, or choose another path'],
  EEXIST: ['already exists', 'remove it first, or choose another path'],
  ELOOP: ['too many levels of symbolic links', 'a symbolic link loops, or stands where a real file or folder is expected'],
  ENAMETOOLONG: ['file name too long', 'use a shorter path'],
  EMFILE: ['too many open files', 'raise the limit of open files (ulimit -n) and run the command again'],
  ENFILE: ['too many open files in the system', 'close some programs and run the command again'],
  EXDEV: ['on a different file system', 'keep the file and its destination on one file system'],
  EBUSY: ['device or resource busy', 'stop what uses it and run the command again'],
  ETXTBSY: ['text file busy', 'stop the program that runs it and run the command again'],
  ENXIO: ['no such device or address', 'give the path of a regular file'],
  ENODEV: ['no such device', 'give the path of a regular file'],
  EIO: ['input/output error', 'the device reported an error: check it (dmesg) and run the command again'],
  EINVAL: ['invalid argument', 'the file system may not support this operation'],
  EOPNOTSUPP: ['operation not supported', 'the file system does not support this operation'],
  EFBIG: ['file too large', 'the file system cannot hold a file this large'],
  EMLINK: ['too many links', 'the file system cannot hold this many links or subfolders'],
};

/** The code an OS error gets when the caller gives none of its own. */
const ERRNO_CODE: Record<string, ErrorCode> = { EACCES: 'MN0007', EPERM: 'MN0007', EROFS: 'MN0008', ENOSPC: 'MN0009', EDQUOT: 'MN0009' };

/** Does `e` look like an error from a system call (Node's fs, net…)? */
export function isErrnoError(e: unknown): e is NodeJS.ErrnoException {
  const c = (e as NodeJS.ErrnoException | undefined)?.code;
  return e instanceof Error && typeof c === 'string' && /^E[A-Z0-9]+$/.test(c);
}

/**
 * Wrap an OS error into a MinosError that names the file, says what the
 * errno means and what to do. `code` is used for failures to read an input
 * (MN0101, exit 2); otherwise permission, read-only and full-disk errors get
 * their own codes and the rest MN0003.
 */
export function ioError(e: unknown, file: string, code: ErrorCode = 'MN0003'): MinosError {
  if (e instanceof MinosError) return e;
  const err = e as NodeJS.ErrnoException;
  const known = err?.code ? ERRNO[err.code] : undefined;
  const why = known ? known[0] : (err?.message ?? String(e));
  const c = code === 'MN0003' && err?.code ? (ERRNO_CODE[err.code] ?? code) : code;
  const errno = err?.code === undefined ? '' : ` (${err.code})`;
  return new MinosError(c, `${file}: ${why}${known ? errno : ''}`, { cause: e, hint: known?.[1], data: { file, errno: err?.code } });
}
