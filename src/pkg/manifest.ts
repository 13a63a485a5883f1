/**
 * Validation of machine-written JSON (package manifests and index entries).
 * Such files must be canonical JSON (see canonical.ts) with exactly the
 * documented fields; anything else is malformed. Checks here are structural
 * and about safety (paths, links, sizes); signatures are checked by callers.
 */
import { compareUtf8, isCanonicalText } from '../canonical.js';
import { MinosError, quote, type ErrorCode } from '../errors.js';
import { isArch, isSimpleDependency, nameError, parseDependency, parseDescriptor, parseProvide } from '../depend.js';
import { versionError } from '../version.js';
import type { EntryType, FileEntry, GroupDecl, Manifest, PackageMeta, UserDecl } from '../types.js';
import { checkDebianMeta } from './debmeta.js';

/** Where a value came from, for messages: e.g. `hello-1.0-1-x86_64.mpk: manifest`. */
export interface Ctx {
  where: string;
  code: ErrorCode;
}

function bad(ctx: Ctx, field: string, msg: string): MinosError {
  return new MinosError(ctx.code, `${ctx.where}: field "${field}": ${msg}`, { data: { file: ctx.where, field } });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parse bytes that must be canonical JSON of an object. */
export function parseCanonical(bytes: Uint8Array, ctx: Ctx): Record<string, unknown> {
  let text: string;
  let value: unknown;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new MinosError(ctx.code, `${ctx.where}: starts with a UTF-8 byte order mark, which canonical JSON does not allow`, { data: { file: ctx.where } });
  }
  try {
    text = utf8.decode(bytes);
    value = JSON.parse(text);
  } catch (e) {
    throw new MinosError(ctx.code, `${ctx.where}: not valid JSON: ${(e as Error).message}`, { data: { file: ctx.where } });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MinosError(ctx.code, `${ctx.where}: expected a JSON object`, { data: { file: ctx.where } });
  }
  if (!isCanonicalText(value, text, bytes)) {
    throw new MinosError(ctx.code, `${ctx.where}: JSON is not in canonical form (sorted keys, no whitespace, no duplicate keys)`, {
      data: { file: ctx.where },
    });
  }
  return value as Record<string, unknown>;
}

/** The keys an object must and may have, precomputed for checks run per entry. */
export interface KeySpec {
  required: readonly string[];
  optional: readonly string[];
  bits: Map<string, number>;
  requiredMask: number;
}

export function keySpec(required: readonly string[], optional: readonly string[] = []): KeySpec {
  const bits = new Map<string, number>();
  [...required, ...optional].forEach((k, i) => bits.set(k, 2 ** i));
  return { required, optional, bits, requiredMask: 2 ** required.length - 1 };
}

/** Which keys of `spec` `o` has, as a bit mask (bit i for key i of required then optional), or -1 if it has another key. */
function keyMask(o: object, spec: KeySpec): number {
  let mask = 0;
  for (const k in o) {
    const bit = spec.bits.get(k);
    if (bit === undefined) return -1;
    mask |= bit;
  }
  return mask;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function exactKeys(obj: unknown, ctx: Ctx, field: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (!isObject(obj)) throw bad(ctx, field, 'expected an object');
  const allowed = new Set([...required, ...optional]);
  for (const k of Object.keys(obj)) if (!allowed.has(k)) throw bad(ctx, field ? `${field}.${k}` : k, 'unknown field');
  for (const k of required) if (!(k in obj)) throw bad(ctx, field ? `${field}.${k}` : k, 'missing');
  return obj;
}

/** Field name `list[i]`, or `list` without an index; built only for messages. */
function itemName(list: string, i?: number): string {
  return i === undefined ? list : `${list}[${i}]`;
}

/** exactKeys of the object at `list[i]` with a precomputed spec; returns its key mask. */
export function specKeys(obj: unknown, ctx: Ctx, spec: KeySpec, list: string, i?: number): number {
  const mask = isObject(obj) ? keyMask(obj, spec) : -1;
  if (mask >= 0 && (mask & spec.requiredMask) === spec.requiredMask) return mask;
  exactKeys(obj, ctx, itemName(list, i), spec.required, spec.optional); // throws the precise error
  return mask;
}

/** Why `v` is not a string of at most `max` UTF-8 bytes, or undefined. */
function strError(v: unknown, max: number): string | undefined {
  if (typeof v !== 'string') return 'expected a string';
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes, so only a middle length needs counting.
  if (v.length > max || (v.length * 3 > max && Buffer.byteLength(v) > max)) return `longer than ${max} bytes`;
  return undefined;
}

function isInt(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
}

function intMessage(max: number): string {
  return `expected an integer between 0 and ${max}`;
}

export function getStr(o: Record<string, unknown>, k: string, ctx: Ctx, field: string, max = 4096): string {
  const v = o[k];
  const err = strError(v, max);
  if (err) throw bad(ctx, field, err);
  return v as string;
}

export function getInt(o: Record<string, unknown>, k: string, ctx: Ctx, field: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k];
  if (!isInt(v, max)) throw bad(ctx, field, intMessage(max));
  return v;
}

/** Check a list field; `each` gets the item's index to name `field[i]` only when it fails. */
function getList<T>(o: Record<string, unknown>, k: string, ctx: Ctx, field: string, each: (v: unknown, i: number) => T): T[] {
  const v = o[k];
  if (!Array.isArray(v)) throw bad(ctx, field, 'expected a list');
  const out = new Array<T>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = each(v[i], i);
  return out;
}

/** A list of strings each passing `check` (which throws to refuse); returned as it is, not copied. */
export function strings(o: Record<string, unknown>, k: string, ctx: Ctx, check: (s: string) => unknown, field = k): string[] {
  const v = o[k];
  if (!Array.isArray(v)) throw bad(ctx, field, 'expected a list');
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== 'string') throw bad(ctx, itemName(field, i), 'expected a string');
    try {
      check(x);
    } catch (e) {
      throw bad(ctx, itemName(field, i), (e as Error).message);
    }
  }
  return v as string[];
}

/** parseDependency's verdict, without building the parse for the common forms. */
function checkDependency(s: string): void {
  if (!isSimpleDependency(s)) parseDependency(s);
}

/** parseDescriptor's verdict, without building the parse for the common forms. */
function checkDescriptor(s: string): void {
  if (s.indexOf('|') >= 0 || !isSimpleDependency(s)) parseDescriptor(s);
}

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

const ENTRY_KEYS = keySpec(['path', 'type', 'mode', 'owner', 'group', 'size'], ['sha256', 'target', 'devmajor', 'devminor']);
const SHA = ENTRY_KEYS.bits.get('sha256')!;
const TARGET = ENTRY_KEYS.bits.get('target')!;
const DEV = ENTRY_KEYS.bits.get('devmajor')! | ENTRY_KEYS.bits.get('devminor')!;
/** Each entry type and the optional keys it must have (all others it must not). */
const TYPE_KEYS = new Map<unknown, number>([
  ['file', SHA], ['dir', 0], ['symlink', TARGET], ['hardlink', TARGET], ['char', DEV], ['block', DEV], ['fifo', 0],
]);

function entryField(i: number, k: string): string {
  return `files[${i}].${k}`;
}

function entryStr(o: Record<string, unknown>, k: string, ctx: Ctx, i: number, max = 4096): string {
  const v = o[k];
  const err = strError(v, max);
  if (err) throw bad(ctx, entryField(i, k), err);
  return v as string;
}

function entryInt(o: Record<string, unknown>, k: string, ctx: Ctx, i: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k];
  if (!isInt(v, max)) throw bad(ctx, entryField(i, k), intMessage(max));
  return v;
}

/** The error for the first optional key that does not fit the entry's type; called only when one does not. */
function typeKeysError(o: Record<string, unknown>, ctx: Ctx, i: number, type: EntryType): MinosError {
  const wants: [string, boolean][] = [
    ['sha256', type === 'file'],
    ['target', type === 'symlink' || type === 'hardlink'],
    ['devmajor', type === 'char' || type === 'block'],
    ['devminor', type === 'char' || type === 'block'],
  ];
  for (const [k, yes] of wants) {
    if (yes && !(k in o)) return bad(ctx, entryField(i, k), `missing for a ${type}`);
    if (!yes && k in o) return bad(ctx, entryField(i, k), `not allowed for a ${type}`);
  }
  return new MinosError('MN0001', 'typeKeysError: keys fit the type');
}

/**
 * Check the file entry `files[i]` and return it: once checked, the object
 * holds exactly a FileEntry's fields (in key order when parsed from
 * canonical JSON, so the installed database serialises it without a copy).
 */
function entry(v: unknown, ctx: Ctx, i: number): FileEntry {
  const has = specKeys(v, ctx, ENTRY_KEYS, 'files', i);
  const o = v as Record<string, unknown>;
  const path = entryStr(o, 'path', ctx, i);
  const perr = pathError(path);
  if (perr) throw bad(ctx, entryField(i, 'path'), `${perr}: ${quote(path)}`);
  const type = o.type as EntryType;
  const extra = TYPE_KEYS.get(type);
  if (extra === undefined) throw bad(ctx, entryField(i, 'type'), `unknown type ${JSON.stringify(o.type)}`);
  entryInt(o, 'mode', ctx, i, 0o7777);
  const owner = entryStr(o, 'owner', ctx, i);
  const group = entryStr(o, 'group', ctx, i);
  if (!ACCOUNT_NAME.test(owner)) throw bad(ctx, entryField(i, 'owner'), `invalid user name ${quote(owner)}`);
  if (!ACCOUNT_NAME.test(group)) throw bad(ctx, entryField(i, 'group'), `invalid group name ${quote(group)}`);
  const size = entryInt(o, 'size', ctx, i);
  if ((has & (SHA | TARGET | DEV)) !== extra) throw typeKeysError(o, ctx, i, type);
  if (type !== 'file' && size !== 0) throw bad(ctx, entryField(i, 'size'), `must be 0 for a ${type}`);
  if (type === 'file') {
    if (!isSha256Hex(entryStr(o, 'sha256', ctx, i))) throw bad(ctx, entryField(i, 'sha256'), 'expected 64 lowercase hex digits');
  } else if (type === 'symlink' || type === 'hardlink') {
    const target = entryStr(o, 'target', ctx, i, 4095);
    if (target === '' || target.includes('\0')) throw bad(ctx, entryField(i, 'target'), 'empty or contains NUL');
  } else if (type === 'char' || type === 'block') {
    entryInt(o, 'devmajor', ctx, i, 0o7777777);
    entryInt(o, 'devminor', ctx, i, 0o7777777);
  }
  return o as unknown as FileEntry;
}

/** Is `e` the entry at `path`'s first `slash` characters? */
function isParent(e: FileEntry | undefined, path: string, slash: number): e is FileEntry {
  return e !== undefined && e.path.length === slash && path.startsWith(e.path);
}

/** The entry at `path` among the first `n` of `files`, which are sorted by compareUtf8. */
function findEntry(files: readonly FileEntry[], n: number, path: string): FileEntry | undefined {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const order = compareUtf8(files[mid].path, path);
    if (order === 0) return files[mid];
    if (order < 0) lo = mid + 1;
    else hi = mid;
  }
  return undefined;
}

/**
 * Check the whole file list: sorted by path (byte order, which also rules out
 * duplicates), every parent listed as a directory, hardlinks pointing at an
 * earlier regular file, relative symlinks staying inside the root. Earlier
 * entries are looked up by binary search, as the order is checked first.
 */
function checkFiles(files: FileEntry[], ctx: Ctx): void {
  let dir: FileEntry | undefined; // the last parent found: siblings share it
  const field = (i: number, k?: string) => (k ? entryField(i, k) : `files[${i}]`);
  for (let i = 0; i < files.length; i++) {
    const e = files[i];
    const order = i === 0 ? 1 : compareUtf8(e.path, files[i - 1].path);
    if (order <= 0) {
      throw bad(ctx, field(i, 'path'), order === 0 ? `duplicate entry ${quote(e.path)}` : `${quote(e.path)} is out of order (files must be sorted by path)`);
    }
    const slash = e.path.lastIndexOf('/');
    if (slash > 0) {
      const prev = files[i - 1];
      const parent = isParent(dir, e.path, slash) ? dir : isParent(prev, e.path, slash) ? prev : findEntry(files, i, e.path.slice(0, slash));
      if (!parent || parent.type !== 'dir') throw bad(ctx, field(i, 'path'), `parent folder of ${quote(e.path)} is not listed as a directory`);
      dir = parent;
    }
    if (e.type === 'hardlink') {
      const t = findEntry(files, i, e.target!);
      if (!t || t.type !== 'file') throw bad(ctx, field(i, 'target'), `hardlink ${quote(e.path)} must point to an earlier regular file of this package, not ${quote(e.target!)}`);
      if (t.mode !== e.mode || t.owner !== e.owner || t.group !== e.group) {
        throw bad(ctx, field(i), `hardlink ${quote(e.path)} must have the mode, owner and group of ${quote(t.path)} (they share an inode)`);
      }
    }
    if (e.type === 'symlink' && e.mode !== 0o777) throw bad(ctx, field(i, 'mode'), `a symlink's mode is always 511 (0o777)`);
    if (e.type === 'symlink' && symlinkEscapes(e.path, e.target!)) {
      throw bad(ctx, field(i, 'target'), `symlink ${quote(e.path)} -> ${quote(e.target!)} points outside the root`);
    }
  }
}

function checkUser(v: unknown, ctx: Ctx, i: number): UserDecl {
  const f = itemName('users', i);
  const o = exactKeys(v, ctx, f, ['name', 'uid', 'group'], ['home', 'shell', 'gecos']);
  const u: UserDecl = { name: getStr(o, 'name', ctx, `${f}.name`), uid: getInt(o, 'uid', ctx, `${f}.uid`, 2 ** 32 - 2), group: getStr(o, 'group', ctx, `${f}.group`) };
  if (!ACCOUNT_NAME.test(u.name)) throw bad(ctx, `${f}.name`, `invalid user name ${quote(u.name)}`);
  if (!ACCOUNT_NAME.test(u.group)) throw bad(ctx, `${f}.group`, `invalid group name ${quote(u.group)}`);
  for (const k of ['home', 'shell', 'gecos'] as const) {
    if (k in o) {
      const s = getStr(o, k, ctx, `${f}.${k}`, 255);
      if (/[:\n\0]/.test(s)) throw bad(ctx, `${f}.${k}`, 'may not contain ":" or a newline');
      u[k] = s;
    }
  }
  return u;
}

function checkGroup(v: unknown, ctx: Ctx, i: number): GroupDecl {
  const f = itemName('groups', i);
  const o = exactKeys(v, ctx, f, ['name', 'gid'], ['members']);
  const g: GroupDecl = { name: getStr(o, 'name', ctx, `${f}.name`), gid: getInt(o, 'gid', ctx, `${f}.gid`, 2 ** 32 - 2) };
  if (!ACCOUNT_NAME.test(g.name)) throw bad(ctx, `${f}.name`, `invalid group name ${quote(g.name)}`);
  if ('members' in o) {
    g.members = getList(o, 'members', ctx, `${f}.members`, (m, j) => {
      if (typeof m !== 'string' || !ACCOUNT_NAME.test(m)) throw bad(ctx, itemName(`${f}.members`, j), 'invalid user name');
      return m;
    });
  }
  return g;
}

export const META_FIELDS = ['name', 'version', 'arch', 'summary', 'license', 'depends', 'provides', 'conflicts', 'replaces', 'optional', 'builddate', 'installedSize'] as const;

/** Validate the package metadata fields shared by manifests and index entries. */
export function checkMeta(o: Record<string, unknown>, ctx: Ctx): PackageMeta {
  const name = getStr(o, 'name', ctx, 'name', 128);
  const nerr = nameError(name);
  if (nerr) throw bad(ctx, 'name', nerr);
  const version = getStr(o, 'version', ctx, 'version', 128);
  const verr = versionError(version);
  if (verr) throw bad(ctx, 'version', verr);
  if (!isArch(o.arch)) throw bad(ctx, 'arch', `unknown architecture ${JSON.stringify(o.arch)}`);
  return {
    name,
    version,
    arch: o.arch,
    summary: getStr(o, 'summary', ctx, 'summary', 1024),
    license: getStr(o, 'license', ctx, 'license', 1024),
    depends: strings(o, 'depends', ctx, checkDependency),
    provides: strings(o, 'provides', ctx, parseProvide),
    conflicts: strings(o, 'conflicts', ctx, checkDescriptor),
    replaces: strings(o, 'replaces', ctx, checkDescriptor),
    optional: strings(o, 'optional', ctx, checkDependency),
    builddate: getInt(o, 'builddate', ctx, 'builddate'),
    installedSize: getInt(o, 'installedSize', ctx, 'installedSize'),
  };
}

const MANIFEST_KEYS = keySpec([...META_FIELDS, 'format', 'signer', 'config', 'users', 'groups', 'files'], ['debian']);

/**
 * The "files" list of a manifest as its canonical JSON (`[...]`), cut from
 * `bytes`: the canonical text of a manifest checkManifest accepted, whose
 * parse is the list and which is its own canonical form. In such a text
 * `"files":[` and `],"format":1,` each occur once, at the top level: no
 * string holds an unescaped quote, no entry, user or group has those keys,
 * and "format" (always 1) is the key that sorts next.
 */
export function manifestFilesJson(bytes: Uint8Array): Uint8Array | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = b.indexOf('"files":[');
  const end = start < 0 ? -1 : b.indexOf('],"format":1,', start);
  return end < 0 ? undefined : b.subarray(start + 8, end + 1);
}

/** Validate a manifest object (already parsed from canonical JSON). */
export function checkManifest(o: Record<string, unknown>, ctx: Ctx): Manifest {
  specKeys(o, ctx, MANIFEST_KEYS, '');
  if (o.format !== 1) throw bad(ctx, 'format', `unsupported format ${JSON.stringify(o.format)} (expected 1)`);
  const meta = checkMeta(o, ctx);
  const signer = getStr(o, 'signer', ctx, 'signer');
  if (!/^[0-9a-f]{16}$/.test(signer)) throw bad(ctx, 'signer', 'expected a 16-digit hex key id');
  const files = getList(o, 'files', ctx, 'files', (v, i) => entry(v, ctx, i));
  checkFiles(files, ctx);
  const config = strings(o, 'config', ctx, (s) => {
    if (!s.startsWith('/') || findEntry(files, files.length, s.slice(1))?.type !== 'file') throw new Error(`${quote(s)} is not a regular file of this package`);
  });
  let installed = 0;
  for (const e of files) if (e.type === 'file') installed += e.size;
  if (installed !== meta.installedSize) throw bad(ctx, 'installedSize', `is ${meta.installedSize} but the files add up to ${installed}`);
  return {
    ...meta,
    ...('debian' in o ? { debian: checkDebianMeta(o.debian, ctx) } : {}),
    format: 1,
    signer,
    config,
    users: getList(o, 'users', ctx, 'users', (v, i) => checkUser(v, ctx, i)),
    groups: getList(o, 'groups', ctx, 'groups', (v, i) => checkGroup(v, ctx, i)),
    files,
  };
}
