/**
 * Validation of machine-written JSON (package manifests and index entries).
 * Such files must be canonical JSON (see canonical.ts) with exactly the
 * documented fields; anything else is malformed. Checks here are structural
 * and about safety (paths, links, sizes); signatures are checked by callers.
 */
import { compareUtf8, isCanonicalText } from '../canonical.js';
import { MinosError, quote, type ErrorCode } from '../errors.js';
import { isArch, nameError, parseDependency, parseDescriptor, parseProvide } from '../solve/depend.js';
import { versionError } from '../solve/version.js';
import type { EntryType, FileEntry, GroupDecl, Manifest, PackageMeta, UserDecl } from '../types.js';

/** Where a value came from, for messages: e.g. `hello-1.0-1-x86_64.mpk: manifest`. */
export interface Ctx {
  where: string;
  code: ErrorCode;
}

function bad(ctx: Ctx, field: string, msg: string): MinosError {
  return new MinosError(ctx.code, `${ctx.where}: field "${field}": ${msg}`, { data: { file: ctx.where, field } });
}

/** Parse bytes that must be canonical JSON of an object. */
export function parseCanonical(bytes: Uint8Array, ctx: Ctx): Record<string, unknown> {
  let text: string;
  let value: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    value = JSON.parse(text);
  } catch (e) {
    throw new MinosError(ctx.code, `${ctx.where}: not valid JSON: ${(e as Error).message}`, { data: { file: ctx.where } });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MinosError(ctx.code, `${ctx.where}: expected a JSON object`, { data: { file: ctx.where } });
  }
  if (!isCanonicalText(value, text)) {
    throw new MinosError(ctx.code, `${ctx.where}: JSON is not in canonical form (sorted keys, no whitespace, no duplicate keys)`, {
      data: { file: ctx.where },
    });
  }
  return value as Record<string, unknown>;
}

export function exactKeys(obj: unknown, ctx: Ctx, field: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw bad(ctx, field, 'expected an object');
  const o = obj as Record<string, unknown>;
  const allowed = new Set([...required, ...optional]);
  for (const k of Object.keys(o)) if (!allowed.has(k)) throw bad(ctx, field ? `${field}.${k}` : k, 'unknown field');
  for (const k of required) if (!(k in o)) throw bad(ctx, field ? `${field}.${k}` : k, 'missing');
  return o;
}

export function getStr(o: Record<string, unknown>, k: string, ctx: Ctx, field: string, max = 4096): string {
  const v = o[k];
  if (typeof v !== 'string') throw bad(ctx, field, 'expected a string');
  if (Buffer.byteLength(v) > max) throw bad(ctx, field, `longer than ${max} bytes`);
  return v;
}

export function getInt(o: Record<string, unknown>, k: string, ctx: Ctx, field: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw bad(ctx, field, `expected an integer between 0 and ${max}`);
  return v;
}

function getList<T>(o: Record<string, unknown>, k: string, ctx: Ctx, field: string, each: (v: unknown, f: string) => T): T[] {
  const v = o[k];
  if (!Array.isArray(v)) throw bad(ctx, field, 'expected a list');
  return v.map((x, i) => each(x, `${field}[${i}]`));
}

function strings(o: Record<string, unknown>, k: string, ctx: Ctx, check: (s: string) => unknown): string[] {
  return getList(o, k, ctx, k, (v, f) => {
    if (typeof v !== 'string') throw bad(ctx, f, 'expected a string');
    try {
      check(v);
    } catch (e) {
      throw bad(ctx, f, (e as Error).message);
    }
    return v;
  });
}

/** User and group names: at most 32 characters, an optional final `$`. */
export const ACCOUNT_NAME = /^(?=.{1,32}$)[a-z_][a-z0-9_.-]*\$?$/;
const SHA256 = /^[0-9a-f]{64}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const RESERVED = new Set(['.MANIFEST', '.SIGNATURE']);

/** Why `p` is not a safe relative package path, or undefined. */
export function pathError(p: string): string | undefined {
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

const TYPES: readonly EntryType[] = ['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo'];

function entry(v: unknown, ctx: Ctx, f: string): FileEntry {
  const o = exactKeys(v, ctx, f, ['path', 'type', 'mode', 'owner', 'group', 'size'], ['sha256', 'target', 'devmajor', 'devminor']);
  const path = getStr(o, 'path', ctx, `${f}.path`);
  const perr = pathError(path);
  if (perr) throw bad(ctx, `${f}.path`, `${perr}: ${quote(path)}`);
  const type = o.type as EntryType;
  if (!TYPES.includes(type)) throw bad(ctx, `${f}.type`, `unknown type ${JSON.stringify(o.type)}`);
  const mode = getInt(o, 'mode', ctx, `${f}.mode`, 0o7777);
  const owner = getStr(o, 'owner', ctx, `${f}.owner`);
  const group = getStr(o, 'group', ctx, `${f}.group`);
  if (!ACCOUNT_NAME.test(owner)) throw bad(ctx, `${f}.owner`, `invalid user name ${quote(owner)}`);
  if (!ACCOUNT_NAME.test(group)) throw bad(ctx, `${f}.group`, `invalid group name ${quote(group)}`);
  const size = getInt(o, 'size', ctx, `${f}.size`);
  const e: FileEntry = { path, type, mode, owner, group, size };
  const want = (k: string, yes: boolean) => {
    if (yes && !(k in o)) throw bad(ctx, `${f}.${k}`, `missing for a ${type}`);
    if (!yes && k in o) throw bad(ctx, `${f}.${k}`, `not allowed for a ${type}`);
  };
  want('sha256', type === 'file');
  want('target', type === 'symlink' || type === 'hardlink');
  want('devmajor', type === 'char' || type === 'block');
  want('devminor', type === 'char' || type === 'block');
  if (type !== 'file' && size !== 0) throw bad(ctx, `${f}.size`, `must be 0 for a ${type}`);
  if (type === 'file') {
    e.sha256 = getStr(o, 'sha256', ctx, `${f}.sha256`);
    if (!SHA256.test(e.sha256)) throw bad(ctx, `${f}.sha256`, 'expected 64 lowercase hex digits');
  }
  if (type === 'symlink' || type === 'hardlink') {
    const target = getStr(o, 'target', ctx, `${f}.target`, 4095);
    if (target === '' || target.includes('\0')) throw bad(ctx, `${f}.target`, 'empty or contains NUL');
    e.target = target;
  }
  if (type === 'char' || type === 'block') {
    e.devmajor = getInt(o, 'devmajor', ctx, `${f}.devmajor`, 0o7777777);
    e.devminor = getInt(o, 'devminor', ctx, `${f}.devminor`, 0o7777777);
  }
  return e;
}

/**
 * Check the whole file list: sorted by path (byte order, which also rules out
 * duplicates), every parent listed as a directory, hardlinks pointing at an
 * earlier regular file, relative symlinks staying inside the root.
 */
function checkFiles(files: FileEntry[], ctx: Ctx): void {
  const byPath = new Map<string, FileEntry>();
  let prev: string | undefined;
  files.forEach((e, i) => {
    const f = `files[${i}]`;
    const order = prev === undefined ? 1 : compareUtf8(e.path, prev);
    if (order <= 0) {
      throw bad(ctx, `${f}.path`, order === 0 ? `duplicate entry ${quote(e.path)}` : `${quote(e.path)} is out of order (files must be sorted by path)`);
    }
    prev = e.path;
    const slash = e.path.lastIndexOf('/');
    if (slash > 0) {
      const parent = byPath.get(e.path.slice(0, slash));
      if (!parent || parent.type !== 'dir') throw bad(ctx, `${f}.path`, `parent folder of ${quote(e.path)} is not listed as a directory`);
    }
    if (e.type === 'hardlink') {
      const t = byPath.get(e.target!);
      if (!t || t.type !== 'file') throw bad(ctx, `${f}.target`, `hardlink ${quote(e.path)} must point to an earlier regular file of this package, not ${quote(e.target!)}`);
      if (t.mode !== e.mode || t.owner !== e.owner || t.group !== e.group) {
        throw bad(ctx, f, `hardlink ${quote(e.path)} must have the mode, owner and group of ${quote(t.path)} (they share an inode)`);
      }
    }
    if (e.type === 'symlink' && e.mode !== 0o777) throw bad(ctx, `${f}.mode`, `a symlink's mode is always 511 (0o777)`);
    if (e.type === 'symlink' && symlinkEscapes(e.path, e.target!)) {
      throw bad(ctx, `${f}.target`, `symlink ${quote(e.path)} -> ${quote(e.target!)} points outside the root`);
    }
    byPath.set(e.path, e);
  });
}

function checkUser(v: unknown, ctx: Ctx, f: string): UserDecl {
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

function checkGroup(v: unknown, ctx: Ctx, f: string): GroupDecl {
  const o = exactKeys(v, ctx, f, ['name', 'gid'], ['members']);
  const g: GroupDecl = { name: getStr(o, 'name', ctx, `${f}.name`), gid: getInt(o, 'gid', ctx, `${f}.gid`, 2 ** 32 - 2) };
  if (!ACCOUNT_NAME.test(g.name)) throw bad(ctx, `${f}.name`, `invalid group name ${quote(g.name)}`);
  if ('members' in o) {
    g.members = getList(o, 'members', ctx, `${f}.members`, (m, mf) => {
      if (typeof m !== 'string' || !ACCOUNT_NAME.test(m)) throw bad(ctx, mf, 'invalid user name');
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
    depends: strings(o, 'depends', ctx, parseDependency),
    provides: strings(o, 'provides', ctx, parseProvide),
    conflicts: strings(o, 'conflicts', ctx, parseDescriptor),
    replaces: strings(o, 'replaces', ctx, parseDescriptor),
    optional: strings(o, 'optional', ctx, parseDependency),
    builddate: getInt(o, 'builddate', ctx, 'builddate'),
    installedSize: getInt(o, 'installedSize', ctx, 'installedSize'),
  };
}

const MANIFEST_FIELDS = [...META_FIELDS, 'format', 'signer', 'config', 'users', 'groups', 'files'] as const;

/** Validate a manifest object (already parsed from canonical JSON). */
export function checkManifest(o: Record<string, unknown>, ctx: Ctx): Manifest {
  exactKeys(o, ctx, '', MANIFEST_FIELDS);
  if (o.format !== 1) throw bad(ctx, 'format', `unsupported format ${JSON.stringify(o.format)} (expected 1)`);
  const meta = checkMeta(o, ctx);
  const signer = getStr(o, 'signer', ctx, 'signer');
  if (!/^[0-9a-f]{16}$/.test(signer)) throw bad(ctx, 'signer', 'expected a 16-digit hex key id');
  const files = getList(o, 'files', ctx, 'files', (v, f) => entry(v, ctx, f));
  checkFiles(files, ctx);
  const regular = new Map(files.filter((e) => e.type === 'file').map((e) => [e.path, e]));
  const config = strings(o, 'config', ctx, (s) => {
    if (!s.startsWith('/') || !regular.has(s.slice(1))) throw new Error(`${quote(s)} is not a regular file of this package`);
  });
  const installed = [...regular.values()].reduce((n, e) => n + e.size, 0);
  if (installed !== meta.installedSize) throw bad(ctx, 'installedSize', `is ${meta.installedSize} but the files add up to ${installed}`);
  return {
    ...meta,
    format: 1,
    signer,
    config,
    users: getList(o, 'users', ctx, 'users', (v, f) => checkUser(v, ctx, f)),
    groups: getList(o, 'groups', ctx, 'groups', (v, f) => checkGroup(v, ctx, f)),
    files,
  };
}
