/**
 * Validation of package manifests (docs/FORMAT.md): the metadata (meta.ts),
 * then the file list: every entry's fields and type, sorted paths, listed
 * parent folders, hardlinks to earlier files, symlinks that stay inside the
 * root; declared users and groups; config files. Structural and about safety;
 * signatures are checked by callers.
 */
import { compareUtf8 } from '../canonical.js';
import { MinosError, quote } from '../errors.js';
import { exactKeys, fieldError, getInt, getList, getStr, intMessage, isInt, itemName, keySpec, specKeys, strError, strings, type Ctx } from '../jsonfields.js';
import { checkDebianMeta, checkMeta, META_FIELDS } from '../meta.js';
import { ACCOUNT_NAME, isSha256Hex, pathError, symlinkEscapes } from '../names.js';
import type { EntryType, FileEntry, GroupDecl, Manifest, UserDecl } from '../types.js';

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
  if (err) throw fieldError(ctx, entryField(i, k), err);
  return v as string;
}

function entryInt(o: Record<string, unknown>, k: string, ctx: Ctx, i: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k];
  if (!isInt(v, max)) throw fieldError(ctx, entryField(i, k), intMessage(max));
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
    if (yes && !(k in o)) return fieldError(ctx, entryField(i, k), `missing for a ${type}`);
    if (!yes && k in o) return fieldError(ctx, entryField(i, k), `not allowed for a ${type}`);
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
  if (perr) throw fieldError(ctx, entryField(i, 'path'), `${perr}: ${quote(path)}`);
  const type = o.type as EntryType;
  const extra = TYPE_KEYS.get(type);
  if (extra === undefined) throw fieldError(ctx, entryField(i, 'type'), `unknown type ${JSON.stringify(o.type)}`);
  entryInt(o, 'mode', ctx, i, 0o7777);
  const owner = entryStr(o, 'owner', ctx, i);
  const group = entryStr(o, 'group', ctx, i);
  if (!ACCOUNT_NAME.test(owner)) throw fieldError(ctx, entryField(i, 'owner'), `invalid user name ${quote(owner)}`);
  if (!ACCOUNT_NAME.test(group)) throw fieldError(ctx, entryField(i, 'group'), `invalid group name ${quote(group)}`);
  const size = entryInt(o, 'size', ctx, i);
  if ((has & (SHA | TARGET | DEV)) !== extra) throw typeKeysError(o, ctx, i, type);
  if (type !== 'file' && size !== 0) throw fieldError(ctx, entryField(i, 'size'), `must be 0 for a ${type}`);
  if (type === 'file') {
    if (!isSha256Hex(entryStr(o, 'sha256', ctx, i))) throw fieldError(ctx, entryField(i, 'sha256'), 'expected 64 lowercase hex digits');
  } else if (type === 'symlink' || type === 'hardlink') {
    const target = entryStr(o, 'target', ctx, i, 4095);
    if (target === '' || target.includes('\0')) throw fieldError(ctx, entryField(i, 'target'), 'empty or contains NUL');
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
      throw fieldError(ctx, field(i, 'path'), order === 0 ? `duplicate entry ${quote(e.path)}` : `${quote(e.path)} is out of order (files must be sorted by path)`);
    }
    const slash = e.path.lastIndexOf('/');
    if (slash > 0) {
      const prev = files[i - 1];
      const parent = isParent(dir, e.path, slash) ? dir : isParent(prev, e.path, slash) ? prev : findEntry(files, i, e.path.slice(0, slash));
      if (!parent || parent.type !== 'dir') throw fieldError(ctx, field(i, 'path'), `parent folder of ${quote(e.path)} is not listed as a directory`);
      dir = parent;
    }
    if (e.type === 'hardlink') {
      const t = findEntry(files, i, e.target!);
      if (!t || t.type !== 'file') throw fieldError(ctx, field(i, 'target'), `hardlink ${quote(e.path)} must point to an earlier regular file of this package, not ${quote(e.target!)}`);
      if (t.mode !== e.mode || t.owner !== e.owner || t.group !== e.group) {
        throw fieldError(ctx, field(i), `hardlink ${quote(e.path)} must have the mode, owner and group of ${quote(t.path)} (they share an inode)`);
      }
    }
    if (e.type === 'symlink' && e.mode !== 0o777) throw fieldError(ctx, field(i, 'mode'), `a symlink's mode is always 511 (0o777)`);
    if (e.type === 'symlink' && symlinkEscapes(e.path, e.target!)) {
      throw fieldError(ctx, field(i, 'target'), `symlink ${quote(e.path)} -> ${quote(e.target!)} points outside the root`);
    }
  }
}

function checkUser(v: unknown, ctx: Ctx, i: number): UserDecl {
  const f = itemName('users', i);
  const o = exactKeys(v, ctx, f, ['name', 'uid', 'group'], ['home', 'shell', 'gecos']);
  const u: UserDecl = { name: getStr(o, 'name', ctx, `${f}.name`), uid: getInt(o, 'uid', ctx, `${f}.uid`, 2 ** 32 - 2), group: getStr(o, 'group', ctx, `${f}.group`) };
  if (!ACCOUNT_NAME.test(u.name)) throw fieldError(ctx, `${f}.name`, `invalid user name ${quote(u.name)}`);
  if (!ACCOUNT_NAME.test(u.group)) throw fieldError(ctx, `${f}.group`, `invalid group name ${quote(u.group)}`);
  for (const k of ['home', 'shell', 'gecos'] as const) {
    if (k in o) {
      const s = getStr(o, k, ctx, `${f}.${k}`, 255);
      if (/[:\n\0]/.test(s)) throw fieldError(ctx, `${f}.${k}`, 'may not contain ":" or a newline');
      u[k] = s;
    }
  }
  return u;
}

function checkGroup(v: unknown, ctx: Ctx, i: number): GroupDecl {
  const f = itemName('groups', i);
  const o = exactKeys(v, ctx, f, ['name', 'gid'], ['members']);
  const g: GroupDecl = { name: getStr(o, 'name', ctx, `${f}.name`), gid: getInt(o, 'gid', ctx, `${f}.gid`, 2 ** 32 - 2) };
  if (!ACCOUNT_NAME.test(g.name)) throw fieldError(ctx, `${f}.name`, `invalid group name ${quote(g.name)}`);
  if ('members' in o) {
    g.members = getList(o, 'members', ctx, `${f}.members`, (m, j) => {
      if (typeof m !== 'string' || !ACCOUNT_NAME.test(m)) throw fieldError(ctx, itemName(`${f}.members`, j), 'invalid user name');
      return m;
    });
  }
  return g;
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
  if (o.format !== 1) throw fieldError(ctx, 'format', `unsupported format ${JSON.stringify(o.format)} (expected 1)`);
  const meta = checkMeta(o, ctx);
  const signer = getStr(o, 'signer', ctx, 'signer');
  if (!/^[0-9a-f]{16}$/.test(signer)) throw fieldError(ctx, 'signer', 'expected a 16-digit hex key id');
  const files = getList(o, 'files', ctx, 'files', (v, i) => entry(v, ctx, i));
  checkFiles(files, ctx);
  const config = strings(o, 'config', ctx, (s) => {
    if (!s.startsWith('/') || findEntry(files, files.length, s.slice(1))?.type !== 'file') throw new Error(`${quote(s)} is not a regular file of this package`);
  });
  let installed = 0;
  for (const e of files) if (e.type === 'file') installed += e.size;
  if (installed !== meta.installedSize) throw fieldError(ctx, 'installedSize', `is ${meta.installedSize} but the files add up to ${installed}`);
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
