/**
 * Signed repository indexes: `index.json` (canonical JSON, see types.ts Index)
 * and `index.sig` (64-byte Ed25519 signature over index.json's exact bytes).
 * Writing verifies every package first; loading verifies the signature before
 * any field is trusted, then freshness (expiry) and, when asked, anti-rollback.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { canonicalBytes, canonicalJson } from '../canonical.js';
import { ioError, MinosError, quote } from '../errors.js';
import { readInput, readInputText } from '../input.js';
import { writeFilesAtomic } from '../fsutil.js';
import { exactKeys, getInt, getStr, keySpec, parseCanonical, specKeys, type Ctx } from '../jsonfields.js';
import { checkDebianMeta, checkMeta, META_FIELDS } from '../meta.js';
import { isSha256Hex, repoNameError } from '../names.js';
import { readPackage } from '../pkg/read.js';
import type { Index, IndexPackage, PackageMeta } from '../types.js';
import { signBytes, verifyBytes, type Keyring, type PublicKey, type SecretKey } from './keys.js';

export const INDEX_NAME = 'index.json';
export const INDEX_SIG = 'index.sig';
const MAX_INDEX = 256 << 20;
/** RFC 3339 UTC with second precision. */
export function formatTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function parseTime(s: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(s)) return undefined;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/** Parse `30d`, `12h`, `90m`, `3600s`, `2w` or `never` into seconds (null for never). */
export function parseDuration(s: string): number | null {
  if (s === 'never') return null;
  const m = /^([1-9][0-9]{0,8})([smhdw])$/.exec(s);
  if (!m) throw new MinosError('MN0002', `invalid duration ${quote(s)}: use a number with s, m, h, d or w (e.g. 30d), or "never"`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as 's']!;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

const ENTRY_KEYS = keySpec([...META_FIELDS, 'file', 'size', 'sha256'], ['debian']);

/** Where entry i of an index is, for messages: built only when one is made. */
class EntryCtx implements Ctx {
  readonly code: Ctx['code'];
  private readonly index: Ctx;
  private readonly i: number;
  constructor(index: Ctx, i: number) {
    this.index = index;
    this.code = index.code;
    this.i = i;
  }
  get where(): string {
    return `${this.index.where}: packages[${this.i}]`;
  }
}

/** Validate an index object parsed from canonical JSON. */
export function checkIndex(o: Record<string, unknown>, ctx: Ctx): Index {
  exactKeys(o, ctx, '', ['format', 'name', 'serial', 'created', 'expires', 'signer', 'packages']);
  const fail = (field: string, msg: string) => new MinosError(ctx.code, `${ctx.where}: field "${field}": ${msg}`, { data: { file: ctx.where, field } });
  if (o.format !== 1) throw fail('format', `unsupported format ${JSON.stringify(o.format)} (expected 1)`);
  const name = getStr(o, 'name', ctx, 'name', 64);
  const nerr = repoNameError(name);
  if (nerr) throw fail('name', nerr);
  const serial = getInt(o, 'serial', ctx, 'serial');
  const created = getStr(o, 'created', ctx, 'created', 32);
  if (parseTime(created) === undefined) throw fail('created', 'expected a time like 2026-01-31T12:00:00Z');
  let expires: string | null = null;
  if (o.expires !== null) {
    expires = getStr(o, 'expires', ctx, 'expires', 32);
    if (parseTime(expires) === undefined) throw fail('expires', 'expected a time like 2026-01-31T12:00:00Z, or null');
    if (parseTime(expires)! < parseTime(created)!) throw fail('expires', `${expires} is before created ${created}`);
  }
  const signer = getStr(o, 'signer', ctx, 'signer', 16);
  if (!Array.isArray(o.packages)) throw fail('packages', 'expected a list');
  const list: unknown[] = o.packages;
  const packages = new Array<IndexPackage>(list.length);
  // Duplicates: files by name; entries chained by package name (most names have one entry).
  const files = new Set<string>();
  const firstOfName = new Map<string, number>();
  const nextOfName = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    const pctx = new EntryCtx(ctx, i);
    specKeys(p, pctx, ENTRY_KEYS, '');
    const po = p as Record<string, unknown>;
    const meta = checkMeta(po, pctx);
    const file = getStr(po, 'file', pctx, 'file', 255);
    if (file === '' || file.includes('/') || file.startsWith('.') || file === INDEX_NAME || file === INDEX_SIG) throw fail(`packages[${i}].file`, `${quote(file)} must be a plain file name in the repository folder`);
    const sha256 = getStr(po, 'sha256', pctx, 'sha256', 64);
    if (!isSha256Hex(sha256)) throw fail(`packages[${i}].sha256`, 'expected 64 lowercase hex digits');
    let twice = files.has(file);
    const first = firstOfName.get(meta.name);
    for (let j = first ?? -1; j >= 0 && !twice; j = nextOfName[j]) twice = packages[j].version === meta.version && packages[j].arch === meta.arch;
    if (twice) throw fail(`packages[${i}]`, `${meta.name} ${meta.version} ${meta.arch} (${file}) is listed twice`);
    files.add(file);
    nextOfName[i] = first ?? -1;
    firstOfName.set(meta.name, i);
    packages[i] = {
      name: meta.name, version: meta.version, arch: meta.arch, summary: meta.summary, license: meta.license,
      depends: meta.depends, provides: meta.provides, conflicts: meta.conflicts, replaces: meta.replaces, optional: meta.optional,
      builddate: meta.builddate, installedSize: meta.installedSize, file, size: getInt(po, 'size', pctx, 'size'), sha256,
    };
    if ('debian' in po) packages[i].debian = checkDebianMeta(po.debian, pctx);
  }
  return { format: 1, name, serial, created, expires, signer, packages };
}

export interface LoadIndexOptions {
  keyring: Keyring;
  /** Current time in seconds; default now. */
  now?: number;
  /** Accept an index past its expiry time. */
  allowExpired?: boolean;
  /** Refuse an index whose serial is lower than this (anti-rollback). */
  minSerial?: number;
  /** The index must have this name (e.g. from the client's configuration). */
  expectName?: string;
}

export interface LoadedIndex {
  index: Index;
  /** sha256 of index.json's bytes: what a lockfile pins. */
  digest: string;
  /** The minos key that signed index.json (absent for a Debian repository, see debian/source.ts). */
  signer?: PublicKey;
  bytes?: Buffer;
}

/**
 * Verify and parse index bytes and their signature. Order: size bound, JSON,
 * signature by a trusted key, then fields, expiry and serial.
 */
export function verifyIndexBytes(bytes: Buffer, sig: Buffer, where: string, opts: LoadIndexOptions): LoadedIndex {
  const ctx: Ctx = { where, code: 'MN0111' };
  // The signature is checked before a byte is parsed: by each trusted key in turn (a keyring holds a few).
  let key: PublicKey | undefined;
  for (const k of opts.keyring.values()) {
    if (verifyBytes(bytes, sig, k)) {
      key = k;
      break;
    }
  }
  if (!key) throw unverified(bytes, where, opts.keyring);
  const obj = parseCanonical(bytes, ctx);
  const keyid = obj.signer;
  if (typeof keyid !== 'string') throw new MinosError('MN0111', `${where}: field "signer": missing`, { data: { file: where } });
  if (keyid !== key.id) {
    throw new MinosError('MN0201', `${where}: index names signer ${keyid}, but key ${key.id} (${basename(key.file)}) signed it`, { data: { file: where, keyid } });
  }
  const index = checkIndex(obj, ctx);
  if (opts.expectName !== undefined && index.name !== opts.expectName) {
    throw new MinosError('MN0211', `${where}: index is for repository "${index.name}", expected "${opts.expectName}"`, { data: { file: where } });
  }
  const t = opts.now ?? now();
  if (index.expires !== null && parseTime(index.expires)! < t && !opts.allowExpired) {
    throw new MinosError('MN0210', `${where}: repository "${index.name}" index expired at ${index.expires}`, {
      data: { file: where, expires: index.expires },
      hint: 're-sign the repository, pin it with a lockfile, or pass --allow-expired for an offline snapshot',
    });
  }
  if (opts.minSerial !== undefined && index.serial < opts.minSerial) {
    throw new MinosError('MN0211', `${where}: repository "${index.name}" serial ${index.serial} is older than ${opts.minSerial} already seen (rollback)`, {
      data: { file: where, serial: index.serial, seen: opts.minSerial },
    });
  }
  return { index, digest: createHash('sha256').update(bytes).digest('hex'), signer: key, bytes };
}

/**
 * Why no trusted key verifies an index: the key it names (found without
 * parsing it: the bytes are not trusted) is unknown, or known and the
 * signature does not verify.
 */
function unverified(bytes: Buffer, where: string, keyring: Keyring): MinosError {
  // Canonical JSON sorts keys: the top-level "signer" comes after "packages", so it is the last one.
  const at = bytes.lastIndexOf('"signer":"');
  const keyid = at < 0 ? undefined : /^[0-9a-f]{16}(?=")/.exec(bytes.toString('latin1', at + 10, at + 27))?.[0];
  const key = keyid === undefined ? undefined : keyring.get(keyid);
  if (keyid !== undefined && !key) {
    return new MinosError('MN0203', `${where}: signed by untrusted key ${keyid}`, {
      data: { file: where, keyid },
      hint: 'trust the repository\'s public key (--keyring DIR or keys: in the spec)',
    });
  }
  return new MinosError('MN0201', `${where}: index signature does not verify${key ? ` with key ${key.id} (${basename(key.file)})` : ' with any trusted key'}`, { data: { file: where, keyid: keyid ?? null } });
}

function readLimited(file: string, max: number, code: 'MN0101' | 'MN0202' = 'MN0101'): Buffer {
  try {
    return readInput(file, max, { tooLarge: 'MN0111' });
  } catch (e) {
    if (e instanceof MinosError && e.data?.errno === 'ENOENT' && code === 'MN0202') {
      throw new MinosError('MN0202', `${file}: index signature missing`, { data: { file } });
    }
    throw e;
  }
}

/** Load and verify the index of a repository folder. */
export function loadIndexDir(dir: string, opts: LoadIndexOptions): LoadedIndex {
  const file = join(dir, INDEX_NAME);
  const bytes = readLimited(file, MAX_INDEX);
  const sig = readLimited(join(dir, INDEX_SIG), 1024, 'MN0202');
  return verifyIndexBytes(bytes, sig, file, opts);
}

function previousIndex(dir: string): { serial: number; name: string } | undefined {
  try {
    const o = JSON.parse(readInputText(join(dir, INDEX_NAME), MAX_INDEX)) as { serial?: unknown; name?: unknown };
    return { serial: typeof o.serial === 'number' ? o.serial : 0, name: typeof o.name === 'string' ? o.name : '' };
  } catch {
    return undefined;
  }
}

export interface WriteIndexOptions {
  dir: string;
  key: SecretKey;
  /** Keys trusted to have signed the packages; the index key is always trusted. */
  keyring?: Keyring;
  name?: string;
  /** Validity in seconds from `created`, or null for never. Default 90 days. */
  expires?: number | null;
  /** Creation time in seconds (SOURCE_DATE_EPOCH); default now. */
  created?: number;
  /** Time the validity counts from; default `created`. The CLI gives the real clock, so an old epoch signs no expired index. */
  validFrom?: number;
}

/**
 * Verify every `*.mpk` in the folder and write a signed index listing them,
 * with a serial one higher than the index it replaces.
 */
export function writeIndex(opts: WriteIndexOptions): { index: Index; digest: string } {
  const dir = resolve(opts.dir);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.mpk')).sort();
  } catch (e) {
    throw ioError(e, dir, 'MN0101');
  }
  const keyring: Keyring = new Map(opts.keyring);
  keyring.set(opts.key.id, opts.key);
  const seen = new Map<string, string>();
  const packages: IndexPackage[] = names.map((file) => {
    const r = readPackage(join(dir, file), { keyring });
    const m = r.manifest;
    const id = `${m.name} ${m.version} ${m.arch}`;
    const other = seen.get(id);
    if (other) throw new MinosError('MN0104', `${dir}: ${file} and ${other} are both ${id}`, { data: { file } });
    seen.set(id, file);
    const meta: PackageMeta = Object.fromEntries(META_FIELDS.map((k) => [k, m[k]])) as unknown as PackageMeta;
    return { ...meta, ...(m.debian ? { debian: m.debian } : {}), file, size: r.size, sha256: r.sha256 };
  });
  const prev = previousIndex(dir);
  const name = opts.name ?? (prev?.name || basename(dir).toLowerCase());
  const nerr = repoNameError(name);
  if (nerr) throw new MinosError('MN0002', nerr, { hint: 'give one with --name' });
  const created = opts.created ?? now();
  const validity = opts.expires === undefined ? 90 * 86400 : opts.expires;
  const index: Index = {
    format: 1,
    name,
    serial: (prev?.serial ?? 0) + 1,
    created: formatTime(created),
    expires: validity === null ? null : formatTime(Math.max(created, opts.validFrom ?? created) + validity),
    signer: opts.key.id,
    packages,
  };
  const bytes = canonicalBytes(index);
  writeFilesAtomic([{ file: join(dir, INDEX_SIG), data: signBytes(bytes, opts.key) }, { file: join(dir, INDEX_NAME), data: bytes }]);
  return { index, digest: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * The signed index entry and the package's signed manifest must agree on all
 * metadata, so an index cannot pair one package's file with another's
 * description (mix-and-match). Throws MN0213.
 */
export function checkIndexEntry(p: IndexPackage, m: PackageMeta): void {
  for (const k of META_FIELDS) {
    if (JSON.stringify(m[k]) !== JSON.stringify(p[k])) {
      throw new MinosError('MN0213', `${p.file}: index says ${k} ${JSON.stringify(p[k])}, the package says ${JSON.stringify(m[k])}`, { data: { file: p.file, field: k } });
    }
  }
  // Key order differs between a parsed manifest and a parsed index: compare canonically.
  const debian = (x: PackageMeta) => (x.debian ? canonicalJson(x.debian) : 'none');
  if (debian(p) !== debian(m)) {
    throw new MinosError('MN0213', `${p.file}: index says debian ${debian(p)}, the package says ${debian(m)}`, { data: { file: p.file, field: 'debian' } });
  }
}

/**
 * Verify a repository folder: index signature and freshness, then every
 * listed package: present, the listed size and sha256, a valid signature by a
 * trusted key, a payload matching its manifest, and index metadata equal to
 * the manifest's (no mix-and-match). Returns the index; throws the first problem.
 */
export function verifyRepository(dir: string, opts: LoadIndexOptions): LoadedIndex {
  const loaded = loadIndexDir(dir, opts);
  for (const p of loaded.index.packages) {
    if (!existsSync(join(dir, p.file))) {
      throw new MinosError('MN0212', `${join(dir, p.file)}: listed in the index of "${loaded.index.name}" but missing`, { data: { file: p.file } });
    }
    const r = readPackage(join(dir, p.file), { keyring: opts.keyring, expect: { size: p.size, sha256: p.sha256 } });
    checkIndexEntry(p, r.manifest);
  }
  return loaded;
}
