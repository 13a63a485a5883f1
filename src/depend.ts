/**
 * The dependency language: `name`, `name OP version`, alternatives `a | b`.
 * Parsers throw MinosError MN0107 describing the problem; callers add where
 * the string came from (file, package, field).
 */
import { MinosError } from './errors.js';
import { compareVersions, versionError } from './version.js';

export type Op = '=' | '<' | '<=' | '>' | '>=';
export const OPS: readonly Op[] = ['<=', '>=', '=', '<', '>'];

export interface Constraint {
  op: Op;
  version: string;
}

/** What someone asked for: a name and an optional version constraint. */
export interface Descriptor {
  name: string;
  constraint?: Constraint;
}

/** A dependency clause: any one of its alternatives satisfies it. */
export type Dependency = Descriptor[];

const NAME = /^[a-z0-9][a-z0-9+._-]*$/;

/** Why `s` is not a valid package name, or undefined when it is. */
export function nameError(s: string): string | undefined {
  if (typeof s !== 'string' || s.length === 0) return 'empty name';
  if (s.length > 128) return 'name longer than 128 characters';
  if (!NAME.test(s)) return `name "${s}" must match [a-z0-9][a-z0-9+._-]*`;
  return undefined;
}

export const ARCHES = ['x86_64', 'aarch64', 'armv7', 'riscv64', 'noarch'] as const;
export type Arch = (typeof ARCHES)[number];

export function isArch(s: unknown): s is Arch {
  return typeof s === 'string' && (ARCHES as readonly string[]).includes(s);
}

function fail(s: string, why: string): never {
  throw new MinosError('MN0107', `invalid dependency "${s}": ${why}`);
}

/** Parse one alternative: `name` or `name OP version` (spaces optional). */
export function parseDescriptor(s: string): Descriptor {
  if (typeof s !== 'string') fail(String(s), 'not a string');
  return fastDescriptor(s) ?? slowDescriptor(s);
}

const versionOk = new Map<string, boolean>();

function validVersion(v: string): boolean {
  let ok = versionOk.get(v);
  if (ok === undefined) {
    if (versionOk.size > 100_000) versionOk.clear();
    ok = versionError(v) === undefined;
    versionOk.set(v, ok);
  }
  return ok;
}

/** Classes of ASCII code units (one table load instead of a chain of range tests): bits C_NAME, C_VERSION. */
const C_NAME = 1;
const C_VERSION = 2;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const digit = c >= 48 && c <= 57;
  const lower = c >= 97 && c <= 122;
  const upper = c >= 65 && c <= 90;
  if (digit || lower || c === 43 || c === 46 || c === 95 || c === 45) CLASS[c] |= C_NAME;
  if (digit || lower || upper || c === 46 || c === 43 || c === 126 || c === 45) CLASS[c] |= C_VERSION;
}

/** a-z 0-9 + . _ - */
function isNameChar(c: number): boolean {
  return c < 128 && (CLASS[c] & C_NAME) !== 0;
}

/** A-Z a-z 0-9 . + ~ - (a version without an epoch). */
function isVersionChar(c: number): boolean {
  return c < 128 && (CLASS[c] & C_VERSION) !== 0;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** Operators of the simple form, as scanSimple reports them. */
export const OP_NONE = 0;
export const OP_EQ = 1;
export const OP_LT = 2;
export const OP_LE = 3;
export const OP_GT = 4;
export const OP_GE = 5;

/** What the last successful scanSimple read: the name s[start, nameEnd), op (OP_NONE…) and version s[vs, ve). */
export const SIMPLE = { start: 0, nameEnd: 0, op: OP_NONE, vs: 0, ve: 0 };

/**
 * One alternative of a dependency in the common simple form, certainly
 * valid: s[i, …) up to the end `n` or a "|", holding `name` or `name OP
 * version` with a version of a digit then A-Za-z0-9.+~- not ending in "-"
 * (so no epoch). Returns where it stopped (n or the index of the "|"), its
 * parts in SIMPLE; -1 when it is not this form (which does not mean
 * invalid: parseDependency decides, and explains). Allocation-free.
 */
export function scanSimple(s: string, i: number, n: number): number {
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  if (i === n) return -1;
  const start = i;
  const c0 = s.charCodeAt(i);
  if (!((c0 >= 97 && c0 <= 122) || (c0 >= 48 && c0 <= 57))) return -1;
  while (i < n && isNameChar(s.charCodeAt(i))) i++;
  const nameEnd = i;
  if (nameEnd - start > 128) return -1;
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  let op = OP_NONE;
  let vs = 0;
  let ve = 0;
  if (i < n && s.charCodeAt(i) !== 124) {
    const a = s.charCodeAt(i);
    const b = i + 1 < n ? s.charCodeAt(i + 1) : 0;
    if (a === 61) {
      if (b === 61 || b === 60 || b === 62) return -1;
      op = OP_EQ;
      i += 1;
    } else if (a === 60 || a === 62) {
      if (b === 61) {
        op = a === 60 ? OP_LE : OP_GE;
        i += 2;
      } else if (b === 60 || b === 62) {
        return -1;
      } else {
        op = a === 60 ? OP_LT : OP_GT;
        i += 1;
      }
    } else {
      return -1;
    }
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    vs = i;
    while (i < n && isVersionChar(s.charCodeAt(i))) i++;
    ve = i;
    while (i < n && isSpace(s.charCodeAt(i))) i++;
    if ((i !== n && s.charCodeAt(i) !== 124) || ve === vs || ve - vs > 128) return -1;
    const v0 = s.charCodeAt(vs);
    if (v0 < 48 || v0 > 57 || s.charCodeAt(ve - 1) === 45) return -1;
  }
  SIMPLE.start = start;
  SIMPLE.nameEnd = nameEnd;
  SIMPLE.op = op;
  SIMPLE.vs = vs;
  SIMPLE.ve = ve;
  return i;
}

/**
 * Is `s` a dependency whose every alternative is in the simple form (see
 * scanSimple)? For checking whole indexes without building parses; false
 * only means "not this form".
 */
export function isSimpleDependency(s: string): boolean {
  const n = s.length;
  for (let i = 0; ; i++) {
    i = scanSimple(s, i, n);
    if (i < 0) return false;
    if (i === n) return true;
  }
}

/**
 * Hand-written scanner for the common, valid case (index loads parse
 * hundreds of thousands of these); undefined sends the string to the
 * regular-expression parser, which produces the error message.
 */
function fastDescriptor(s: string): Descriptor | undefined {
  const n = s.length;
  let i = 0;
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  const start = i;
  if (i === n) return undefined;
  const c0 = s.charCodeAt(i);
  if (!((c0 >= 97 && c0 <= 122) || (c0 >= 48 && c0 <= 57))) return undefined;
  while (i < n && isNameChar(s.charCodeAt(i))) i++;
  const nameEnd = i;
  if (nameEnd - start > 128) return undefined;
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  if (i === n) return { name: start === 0 && nameEnd === n ? s : s.slice(start, nameEnd) };
  if (i === nameEnd && nameEnd < n && !isSpace(s.charCodeAt(nameEnd))) {
    const c = s.charCodeAt(nameEnd);
    if (c !== 60 && c !== 61 && c !== 62) return undefined; // name followed by a stray character
  }
  let op: Op;
  const a = s.charCodeAt(i);
  const b = i + 1 < n ? s.charCodeAt(i + 1) : 0;
  if (a === 61) {
    if (b === 61 || b === 60 || b === 62) return undefined;
    op = '=';
    i += 1;
  } else if (a === 60 || a === 62) {
    if (b === 61) {
      op = a === 60 ? '<=' : '>=';
      i += 2;
    } else if (b === 60 || b === 62) {
      return undefined;
    } else {
      op = a === 60 ? '<' : '>';
      i += 1;
    }
  } else {
    return undefined;
  }
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  const vStart = i;
  while (i < n && !isSpace(s.charCodeAt(i))) i++;
  const vEnd = i;
  while (i < n && isSpace(s.charCodeAt(i))) i++;
  if (i !== n || vEnd === vStart) return undefined;
  const version = s.slice(vStart, vEnd);
  if (!validVersion(version)) return undefined;
  return { name: s.slice(start, nameEnd), constraint: { op, version } };
}

function slowDescriptor(s: string): Descriptor {
  const m = /^\s*([^\s<>=!|]+)\s*(?:(<=|>=|==|!=|<<|>>|=|<|>)\s*([^\s<>=!|]\S*))?\s*$/.exec(s);
  if (!m) fail(s, 'expected "name" or "name OP version" with OP one of = < <= > >=');
  const [, name, op, version] = m;
  const nerr = nameError(name);
  if (nerr) fail(s, nerr);
  if (op === undefined) return { name };
  if (!(OPS as readonly string[]).includes(op)) fail(s, `unknown operator "${op}" (use = < <= > >=)`);
  const verr = versionError(version);
  if (verr) fail(s, verr);
  return { name, constraint: { op: op as Op, version } };
}

/** Parse a dependency clause with alternatives separated by `|`. */
export function parseDependency(s: string): Dependency {
  if (typeof s !== 'string') fail(String(s), 'not a string');
  if (s.indexOf('|') < 0) {
    const d = fastDescriptor(s);
    if (d) return [d];
  }
  if (s.trim() === '') fail(s, 'empty');
  return s.split('|').map((alt) => {
    if (alt.trim() === '') fail(s, 'empty alternative');
    return parseDescriptor(alt);
  });
}

/** A provide is `name` or `name = version`. */
export function parseProvide(s: string): Descriptor {
  const d = parseDescriptor(s);
  if (d.constraint && d.constraint.op !== '=') fail(s, 'a provide may only use "="');
  return d;
}

export function formatDescriptor(d: Descriptor): string {
  return d.constraint ? `${d.name} ${d.constraint.op} ${d.constraint.version}` : d.name;
}

export function formatDependency(dep: Dependency): string {
  return dep.map(formatDescriptor).join(' | ');
}

/** Does `version` satisfy `c`? (Both valid; undefined constraint always holds.) */
export function satisfies(version: string, c: Constraint | undefined): boolean {
  if (!c) return true;
  const r = compareVersions(version, c.version);
  switch (c.op) {
    case '=': return r === 0;
    case '<': return r < 0;
    case '<=': return r <= 0;
    case '>': return r > 0;
    case '>=': return r >= 0;
  }
}

/** A parsed request alternative. */
export interface RequestAlt {
  desc: Descriptor;
  pin?: string;
}

export interface ParsedRequest {
  text: string;
  alts: RequestAlt[];
}

const PIN = /^\s*([^\s@<>=|]+)@([A-Za-z0-9._-]+)(.*)$/s;

/**
 * Parse one request: a dependency string whose alternatives may each be
 * pinned to a repository, `name@repo` or `name@repo >= 1.2` (the solver's
 * Request.requests); throws MN0107.
 */
export function parseRequest(text: string): ParsedRequest {
  if (typeof text !== 'string' || text.trim() === '') throw new MinosError('MN0107', `invalid request "${text}": empty`);
  const alts = text.split('|').map((a): RequestAlt => {
    if (a.trim() === '') throw new MinosError('MN0107', `invalid request "${text}": empty alternative`);
    const m = PIN.exec(a);
    if (m) return { desc: parseDescriptor(m[1] + m[3]), pin: m[2] };
    return { desc: parseDescriptor(a) };
  });
  return { text: text.trim(), alts };
}

/** Does package `p` (its own name and version, or one of its provides) meet descriptor `d`? An unversioned provide meets only unversioned descriptors. */
export function meets(d: Descriptor, p: { name: string; version: string; provides: readonly string[] }): boolean {
  if (p.name === d.name && satisfies(p.version, d.constraint)) return true;
  for (const s of p.provides) {
    const pr = parseProvide(s);
    if (pr.name !== d.name) continue;
    if (!d.constraint) return true;
    if (pr.constraint && satisfies(pr.constraint.version, d.constraint)) return true;
  }
  return false;
}
