/**
 * The names and paths every stage checks: account names, sha256 digests,
 * package-relative paths, repository names. Each check either answers a yes
 * or no or says why a value is refused; callers add where it came from.
 */
import { quote } from './errors.js';

/** User and group names: at most 32 characters, an optional final `$`. */
export const ACCOUNT_NAME = /^(?=.{1,32}$)[a-z_][a-z0-9_.-]*\$?$/;
const CONTROL = /[\u0000-\u001f\u007f]/;
const RESERVED = new Set(['.MANIFEST', '.SIGNATURE']);

const NOT_LOWER_HEX = /[^0-9a-f]/;

/** A sha256 as minos writes it: 64 lowercase hex digits. */
export function isSha256Hex(s: unknown): boolean {
  return typeof s === 'string' && s.length === 64 && !NOT_LOWER_HEX.test(s);
}

/**
 * Is `p` printable ASCII made of 1..255-byte components other than `.` and
 * `..`, at most 4095 bytes, not reserved? Such a path passes every check of
 * pathError (ASCII is its own NFC form), which then need not run.
 */
function isPlainPath(p: string): boolean {
  const n = p.length;
  if (n === 0 || n > 4095) return false;
  let start = 0; // first index of the current component
  for (let i = 0; i <= n; i++) {
    const c = i < n ? p.charCodeAt(i) : 0x2f;
    if (c === 0x2f) {
      const len = i - start;
      if (len === 0 || len > 255) return false;
      if (len <= 2 && p.charCodeAt(start) === 0x2e && (len === 1 || p.charCodeAt(start + 1) === 0x2e)) return false;
      start = i + 1;
    } else if (c < 0x20 || c >= 0x7f) return false;
  }
  return !RESERVED.has(p);
}

/** Why `p` is not a safe relative package path, or undefined. */
export function pathError(p: string): string | undefined {
  if (isPlainPath(p)) return undefined;
  if (p.length === 0) return 'empty path';
  if (Buffer.byteLength(p) > 4095) return 'path longer than 4095 bytes';
  if (CONTROL.test(p)) return 'control character in path';
  if (p.startsWith('/')) return 'absolute path';
  if (p.endsWith('/')) return 'trailing slash';
  if (p !== p.normalize('NFC')) return 'path is not in Unicode NFC form';
  for (const c of p.split('/')) {
    if (c === '') return 'empty path component';
    if (c === '.' || c === '..') return `"${c}" path component`;
    if (Buffer.byteLength(c) > 255) return 'path component longer than 255 bytes';
  }
  if (RESERVED.has(p)) return 'reserved name';
  return undefined;
}

/** Does a relative symlink target, read from `linkPath`'s folder, climb out of the root? */
export function symlinkEscapes(linkPath: string, target: string): boolean {
  if (target.startsWith('/')) return false;
  let depth = linkPath.split('/').length - 1;
  for (const c of target.split('/')) {
    if (c === '..') {
      if (--depth < 0) return true;
    } else if (c !== '.' && c !== '') depth++;
  }
  return false;
}

const REPO_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Why `s` is not a repository name, or undefined. */
export function repoNameError(s: string): string | undefined {
  return REPO_NAME.test(s) ? undefined : `repository name ${quote(s)} must match [a-z0-9][a-z0-9._-]* (at most 64 characters)`;
}
