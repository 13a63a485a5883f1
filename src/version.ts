/**
 * Debian version ordering (deb-version(7)): `[epoch:]upstream[-revision]`.
 * `~` sorts before everything, even the end of a part; letters sort before
 * non-letters; digit runs compare numerically.
 */
import { MinosError } from './errors.js';

export interface Version {
  epoch: number;
  upstream: string;
  revision: string;
}

const UPSTREAM = /^[0-9][A-Za-z0-9.+~:-]*$/;
const REVISION = /^[A-Za-z0-9.+~]+$/;

/** Why `s` is not a valid version, or undefined when it is. */
export function versionError(s: string): string | undefined {
  if (typeof s !== 'string' || s.length === 0) return 'empty version';
  if (s.length > 128) return 'version longer than 128 characters';
  let rest = s;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const epoch = rest.slice(0, colon);
    if (!/^[0-9]{1,9}$/.test(epoch)) return `bad epoch "${epoch}"`;
    rest = rest.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  if (dash >= 0 && !REVISION.test(revision)) return `bad revision "${revision}"`;
  if (!UPSTREAM.test(upstream)) {
    return upstream.length === 0 ? 'empty upstream version' : `upstream version "${upstream}" must start with a digit and use only A-Za-z0-9.+~:-`;
  }
  if (colon < 0 && upstream.includes(':')) return 'colon in upstream version without an epoch';
  if (dash < 0 && upstream.includes('-')) return 'hyphen in upstream version without a revision';
  return undefined;
}

/** Parse a version; throws MinosError MN0106 naming the problem. */
export function parseVersion(s: string): Version {
  const err = versionError(s);
  if (err) throw new MinosError('MN0106', `invalid version "${s}": ${err}`);
  return splitVersion(s);
}

function splitVersion(s: string): Version {
  const colon = s.indexOf(':');
  const epoch = colon >= 0 ? Number(s.slice(0, colon)) : 0;
  const rest = colon >= 0 ? s.slice(colon + 1) : s;
  const dash = rest.lastIndexOf('-');
  return dash >= 0
    ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) }
    : { epoch, upstream: rest, revision: '' };
}

function order(c: number): number {
  if (c >= 48 && c <= 57) return 0; // digit
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c; // letter
  if (c === 126) return -1; // ~
  return c + 256;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * dpkg's verrevcmp over one part (upstream or revision): a[i, ae) against
 * b[j, be), without allocating substrings.
 */
function comparepart(a: string, i: number, ae: number, b: string, j: number, be: number): number {
  while (i < ae || j < be) {
    let diff = 0;
    while ((i < ae && !isDigit(a.charCodeAt(i))) || (j < be && !isDigit(b.charCodeAt(j)))) {
      const ac = i < ae ? order(a.charCodeAt(i)) : 0;
      const bc = j < be ? order(b.charCodeAt(j)) : 0;
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (i < ae && a.charCodeAt(i) === 48) i++;
    while (j < be && b.charCodeAt(j) === 48) j++;
    while (i < ae && j < be && isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (diff === 0) diff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < ae && isDigit(a.charCodeAt(i))) return 1;
    if (j < be && isDigit(b.charCodeAt(j))) return -1;
    if (diff !== 0) return diff;
  }
  return 0;
}

/** The epoch digits s[from, colon). */
function epochOf(s: string, from: number, colon: number): number {
  let e = 0;
  for (let i = from; i < colon; i++) e = e * 10 + (s.charCodeAt(i) - 48);
  return e;
}

/** Index of the first `ch` in s[from, to), or -1. */
function indexIn(s: string, ch: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) === ch) return i;
  return -1;
}

/** Index of the last `ch` in s[from, to), or -1. */
function lastIndexIn(s: string, ch: number, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) if (s.charCodeAt(i) === ch) return i;
  return -1;
}

/**
 * Compare two valid version strings: negative, zero or positive like
 * `dpkg --compare-versions`. Inputs are assumed validated (see parseVersion).
 * Allocation-free: it runs millions of times while building a universe.
 */
export function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  return compareVersionRanges(a, 0, a.length, b, 0, b.length);
}

/**
 * compareVersions over the valid versions a[as, ae) and b[bs, be) (for
 * versions inside a dependency string, without taking substrings).
 */
export function compareVersionRanges(a: string, as: number, ae: number, b: string, bs: number, be: number): number {
  const ca = indexIn(a, 58, as, ae);
  const cb = indexIn(b, 58, bs, be);
  const ea = ca < 0 ? 0 : epochOf(a, as, ca);
  const eb = cb < 0 ? 0 : epochOf(b, bs, cb);
  if (ea !== eb) return ea < eb ? -1 : 1;
  const sa = ca < 0 ? as : ca + 1;
  const sb = cb < 0 ? bs : cb + 1;
  const da = lastIndexIn(a, 45, sa, ae);
  const db = lastIndexIn(b, 45, sb, be);
  const ua = da >= 0 ? da : ae;
  const ub = db >= 0 ? db : be;
  const u = comparepart(a, sa, ua, b, sb, ub);
  if (u !== 0) return u < 0 ? -1 : 1;
  const r = comparepart(a, ua < ae ? ua + 1 : ae, ae, b, ub < be ? ub + 1 : be, be);
  return r < 0 ? -1 : r > 0 ? 1 : 0;
}
