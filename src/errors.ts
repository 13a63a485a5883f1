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
  MN0116: [EXIT.usage, 'invalid file for a maintainer-script effect'],

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

  MN0301: [EXIT.unsatisfiable, 'dependencies cannot be satisfied'],
  MN0302: [EXIT.unsatisfiable, 'no such package'],
  MN0303: [EXIT.unsatisfiable, 'removal would break installed packages'],
  MN0304: [EXIT.unsatisfiable, 'package not installed'],

  MN0501: [EXIT.locked, 'another minos holds the lock'],
  MN0601: [EXIT.conflict, 'file conflict'],
  MN0602: [EXIT.conflict, 'account conflict'],
  MN0603: [EXIT.conflict, 'conflicting maintainer-script effects'],
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

export function isMinosError(e: unknown): e is MinosError {
  return e instanceof MinosError;
}

/** Wrap a Node fs error into a MinosError that names the file. */
export function ioError(e: unknown, file: string, code: ErrorCode = 'MN0003'): MinosError {
  if (e instanceof MinosError) return e;
  const err = e as NodeJS.ErrnoException;
  const why =
    err?.code === 'ENOENT' ? 'no such file or directory'
    : err?.code === 'EACCES' ? 'permission denied'
    : err?.code === 'EISDIR' ? 'is a directory'
    : err?.code === 'ENOTDIR' ? 'not a directory'
    : err?.code === 'ENOSPC' ? 'no space left on device'
    : (err?.message ?? String(e));
  return new MinosError(code, `${file}: ${why}`, { cause: e, data: { file, errno: err?.code } });
}
