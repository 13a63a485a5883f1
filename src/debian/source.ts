/**
 * A Debian repository as a minos source: a folder holding `dists/` and
 * `pool/` (a mirror or a partial copy) or an http(s) URL serving the same.
 *
 * Contract: `openDebianRepository(spec, opts)` fetches `dists/SUITE/InRelease`
 * (or `Release` + `Release.gpg`), verifies it with the spec's OpenPGP
 * keyrings, then for each component the image architecture's Packages file
 * (plain, .gz or .xz: whichever the Release lists and the mirror has), each
 * checked against the size and sha256 the Release lists, and returns a
 * Repository whose index is the parsed Packages: `serial` is the Release Date
 * (so the lockfile's anti-rollback check applies to it), `expires` its
 * Valid-Until, `digest` the sha256 of the signed Release file. Packages are
 * fetched and checked later, per file, by `packageFile` and `readDeb`.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type * as openpgp from 'openpgp';
import { ioError, MinosError } from '../errors.js';
import { openInput, readInput } from '../input.js';
import type { LoadedIndex } from '../repo/index.js';
import { fetchBytes, type Repository } from '../repo/source.js';
import type { Arch } from '../depend.js';
import type { DebianSet, RepoSpec } from '../spec/image.js';
import type { DebianMeta, IndexPackage } from '../types.js';
import { xzDecompress } from '../unpack/xz.js';
import type { SharedRead } from '../unpack/extract.js';
import { packagesParser, parsePackages, type DebianPackage, type ParseOptions } from './packages.js';
import { DEB_ARCH } from './relations.js';
import { loadPgpKeys, parseRelease, verifyRelease, type Release } from './release.js';

export interface DebianRepoInfo {
  release: Release;
  /** Where the signed Release came from, for messages. */
  releaseFile: string;
  keys: openpgp.PublicKey[];
}

export interface DebianOpenOptions {
  arch: Arch;
  /** Only packages of these names are wanted (a build taking a lockfile's packages): the rest of each Packages file is hashed but not read. */
  only?: ReadonlySet<string>;
  /**
   * Called with each package as its Packages file is parsed, with the
   * Release's signer; only ever after that file's size and sha256 matched
   * the signed Release (a plain file is then read whole before parsing).
   */
  onPackage?: (p: DebianPackage, signer: string) => void;
  /**
   * Reads a file whole into shared memory and hashes it on another thread
   * (UnpackPool.readShared): a folder mirror's plain Packages files are then
   * read while this thread verifies the Release, and parsed from those
   * bytes once their size and sha256 match it.
   */
  readShared?: (file: string, max: number) => { result: Promise<SharedRead>; withdraw(): boolean } | false;
}

const MAX_RELEASE = 16 << 20;
const MAX_PACKAGES = 1 << 30;
/** The largest Packages file read before the Release that lists its size is verified (bookworm main amd64: 50 MB). */
const MAX_EARLY_READ = 256 << 20;
/** Bytes read at a time from a plain Packages file. */
const CHUNK = 1 << 20;

async function get(spec: RepoSpec, rel: string, max: number): Promise<Buffer | undefined> {
  if (spec.path !== undefined) {
    const f = join(spec.path, rel);
    if (!existsSync(f)) return undefined;
    return readInput(f, max);
  }
  try {
    return await fetchBytes(`${spec.url}/${rel.split('/').map(encodeURIComponent).join('/')}`, max);
  } catch (e) {
    if (e instanceof MinosError && e.code === 'MN0212') return undefined;
    throw e;
  }
}

function where(spec: RepoSpec, rel: string): string {
  return spec.path !== undefined ? join(spec.path, rel) : `${spec.url}/${rel}`;
}

function decompress(bytes: Buffer, name: string, label: string): Buffer {
  if (name.endsWith('.gz')) {
    try {
      return gunzipSync(bytes, { maxOutputLength: MAX_PACKAGES });
    } catch (e) {
      throw new MinosError('MN0208', `${label}: corrupt gzip data: ${(e as Error).message}`, { data: { file: label } });
    }
  }
  return bytes;
}

/** A file of `size` bytes whose sha256 `digest()` gives is the one the Release lists, or MN0206 / MN0205 (the digest asked only when the size matches). */
function asListed(label: string, size: number, digest: () => string, want: { size: number; sha256: string }): void {
  if (size !== want.size) throw new MinosError('MN0206', `${label}: ${size} bytes, the Release says ${want.size}`, { data: { file: label } });
  const got = digest();
  if (got !== want.sha256) throw new MinosError('MN0205', `${label}: sha256 is ${got}, the Release says ${want.sha256}`, { data: { file: label } });
}

function checked(bytes: Buffer, want: { size: number; sha256: string }, label: string): void {
  asListed(label, bytes.length, () => createHash('sha256').update(bytes).digest('hex'), want);
}

/** A Packages file fetched whole (compressed ones, and any over http), checked, then parsed. */
async function fetchPackages(spec: RepoSpec, rel: string, x: string, want: { size: number; sha256: string }, opts: ParseOptions): Promise<DebianPackage[] | undefined> {
  const bytes = await get(spec, rel, want.size + 1);
  if (!bytes) return undefined;
  checked(bytes, want, opts.label);
  if (x === '.xz') {
    // Decoded into the parser piece by piece: the decoded file is never held whole.
    const parser = packagesParser(opts);
    xzDecompress(bytes, { limit: MAX_PACKAGES, label: opts.label, onChunk: (c) => parser.push(c) });
    return parser.end();
  }
  return parsePackages(decompress(bytes, x, opts.label), opts);
}

/**
 * A plain Packages file in a mirror folder, read in pieces that are hashed
 * and parsed as they come (a 50 MB file is never held whole). Nothing
 * parsed is used before the size and sha256 match the Release; a parse
 * error in a file whose sha256 does not match is reported as the mismatch.
 * With `onPackage`, which hands packages out while parsing, the file is
 * read and checked whole before a byte is parsed.
 */
function streamPackages(file: string, want: { size: number; sha256: string }, opts: ParseOptions): DebianPackage[] | undefined {
  if (!existsSync(file)) return undefined;
  if (opts.onPackage) {
    // Packages leave as they are parsed: the whole file is checked first (the same hashing, one read).
    const bytes = readInput(file, want.size + 1);
    checked(bytes, want, opts.label);
    return parsePackages(bytes, opts);
  }
  const { fd, size } = openInput(file);
  const label = opts.label;
  try {
    if (size > want.size + 1) throw new MinosError('MN0101', `${file}: larger than the ${want.size + 1} bytes accepted`, { data: { file, max: want.size + 1 } });
    const hash = createHash('sha256');
    const parser = packagesParser(opts);
    const chunk = Buffer.allocUnsafe(CHUNK);
    let total = 0;
    let failed: unknown;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, CHUNK, null);
      } catch (e) {
        throw ioError(e, file, 'MN0101');
      }
      if (n === 0) break;
      total += n;
      if (total > want.size + 1) throw new MinosError('MN0101', `${file}: larger than the ${want.size + 1} bytes accepted`, { data: { file, max: want.size + 1 } });
      const piece = chunk.subarray(0, n);
      hash.update(piece);
      if (failed === undefined) {
        try {
          parser.push(piece);
        } catch (e) {
          failed = e;
        }
      }
    }
    asListed(label, total, () => hash.digest('hex'), want);
    if (failed !== undefined) throw failed;
    return parser.end();
  } finally {
    closeSync(fd);
  }
}

/** A Packages file read by readShared (see DebianOpenOptions), checked against the Release, then parsed from the same bytes. */
function sharedPackages(read: SharedRead, want: { size: number; sha256: string }, opts: ParseOptions): DebianPackage[] {
  asListed(opts.label, read.size, () => read.sha256, want);
  return parsePackages(Buffer.from(read.bytes, 0, read.size), opts);
}

export async function openDebianRepository(spec: RepoSpec, opts: DebianOpenOptions): Promise<Repository> {
  const deb = spec.debian!;
  const location = spec.path ?? spec.url!;
  const dist = `dists/${deb.suite}`;
  const debArch = DEB_ARCH[opts.arch];
  // Each plain Packages file of a folder read on another thread meanwhile; a failure there is the usual path's to report.
  const early = new Map<string, { result: Promise<SharedRead | undefined>; withdraw(): boolean }>();
  for (const comp of spec.path !== undefined && opts.readShared ? deb.components : []) {
    const f = join(spec.path!, dist, comp, `binary-${debArch}`, 'Packages');
    const read = existsSync(f) && opts.readShared!(f, MAX_EARLY_READ);
    if (read) early.set(comp, { result: read.result.catch(() => undefined), withdraw: read.withdraw });
  }
  const keys = await loadPgpKeys(spec.keys);
  let signed = await get(spec, `${dist}/InRelease`, MAX_RELEASE);
  let releaseFile = where(spec, `${dist}/InRelease`);
  let verified: { text: string; signer: string };
  if (signed) verified = await verifyRelease(signed, releaseFile, keys);
  else {
    signed = await get(spec, `${dist}/Release`, MAX_RELEASE);
    releaseFile = where(spec, `${dist}/Release`);
    if (!signed) throw new MinosError('MN0212', `${where(spec, dist)}: no InRelease or Release file (is "${deb.suite}" a suite of this mirror?)`, { data: { file: releaseFile } });
    const sig = await get(spec, `${dist}/Release.gpg`, 1 << 20);
    if (!sig) throw new MinosError('MN0202', `${releaseFile}.gpg: signature missing`, { data: { file: releaseFile } });
    verified = await verifyRelease(signed, releaseFile, keys, sig);
  }
  const release = parseRelease(verified.text, releaseFile, verified.signer);
  const packages: DebianPackage[] = [];
  for (const comp of deb.components) {
    const base = `${comp}/binary-${debArch}/Packages`;
    const listed = ['', '.gz', '.xz'].filter((x) => release.files.has(base + x));
    if (listed.length === 0) {
      throw new MinosError('MN0216', `${releaseFile}: lists no ${base} (is "${comp}" a component and ${debArch} an architecture of this suite?)`, { data: { file: releaseFile } });
    }
    let found = false;
    for (const x of listed) {
      const rel = `${dist}/${base}${x}`;
      const want = release.files.get(base + x)!;
      const label = where(spec, rel);
      const onPackage = opts.onPackage && ((p: DebianPackage) => opts.onPackage!(p, verified.signer));
      const opts2 = { label, arch: opts.arch, date: release.date, lazy: true, only: opts.only, onPackage };
      // A read the other thread has not begun (busy unpacking an earlier repository's packages) is made here.
      const pending = x === '' ? early.get(comp) : undefined;
      const read = pending && !pending.withdraw() ? await pending.result : undefined;
      const got = read ? sharedPackages(read, want, opts2)
        : x === '' && spec.path !== undefined ? streamPackages(join(spec.path, rel), want, opts2) : await fetchPackages(spec, rel, x, want, opts2);
      if (!got) continue;
      for (const p of got) packages.push(p);
      found = true;
      break;
    }
    if (!found) throw new MinosError('MN0212', `${where(spec, `${dist}/${base}`)}: none of ${listed.map((x) => `Packages${x}`).join(', ')} is on the mirror`, { data: { file: releaseFile } });
  }
  // Reads not needed (the Release lists a compressed file instead) and not begun are taken back.
  for (const r of early.values()) r.withdraw();
  const iso = (t: number) => new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const digest = createHash('sha256').update(signed).digest('hex');
  const loaded: LoadedIndex = {
    index: { format: 1, name: spec.name!, serial: release.date, created: iso(release.date), expires: release.validUntil === undefined ? null : iso(release.validUntil), signer: verified.signer, packages },
    digest,
  };
  return { spec, location, name: spec.name!, priority: spec.priority, loaded, debian: { release, releaseFile, keys } };
}

/** Is a package of this Debian metadata a member of `set`? */
export function inSet(d: DebianMeta, set: DebianSet): boolean {
  return set === 'essential' ? d.essential : d.priority === set || (set === 'important' && d.priority === 'required') || (set === 'standard' && (d.priority === 'required' || d.priority === 'important'));
}

/** Names of the packages of a Debian set among `pkgs`. */
export function setMembers(pkgs: readonly IndexPackage[], set: DebianSet): string[] {
  const names = new Set<string>();
  for (const p of pkgs) if (p.debian && inSet(p.debian, set)) names.add(p.name);
  return [...names].sort();
}
