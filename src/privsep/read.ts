/**
 * Reading a package through an unprivileged reader (spawn.ts, child.ts), or
 * in this process when there is none: readPackageVia and readDebVia take the
 * options and give the results of readPackage and readDeb, and drive the
 * sink the same way, with the same errors for a bad package.
 *
 * This side opens the package, hands the child the bytes it asks for, and
 * hashes them itself; it believes nothing the child says that it can check:
 * - .mpk: the manifest's signature is verified here before the manifest is
 *   parsed, each entry the child announces must be the next one of that
 *   manifest (only its index crosses), each file's bytes are counted and
 *   hashed here against the manifest, and the file's size and sha256 are
 *   those of the bytes served. The child can only make the read fail.
 * - .deb: the whole file's size and sha256 must match the signed Packages
 *   entry before the first entry is accepted; each entry is checked as
 *   readDeb checks it (confined path, folder listed first, no duplicate,
 *   hardlink to an earlier file) and each file hashed here.
 * A child that breaks the protocol fails the read with MN0217 and is killed;
 * a package the child finds bad fails with the child's error, as in-process.
 */
import { createHash, hash, type Hash } from 'node:crypto';
import { closeSync, readSync, writevSync } from 'node:fs';
import { basename } from 'node:path';
import { CODES, ioError, MinosError, quote, type ErrorCode } from '../errors.js';
import { openInput } from '../input.js';
import { parseCanonical } from '../jsonfields.js';
import { pathError } from '../names.js';
import { readDeb, type DebOptions, type DebResult } from '../debian/deb.js';
import { checkManifest } from '../pkg/manifest.js';
import { EMPTY_SHA256, fileHashError, readPackage, type ReadOptions, type ReadResult } from '../pkg/read.js';
import { verifyBytes, type PublicKey } from '../repo/keys.js';
import type { EntryType, FileEntry, Manifest } from '../types.js';
import { F, FrameError, frameReader, HEADER, jsonBody, READ_CHUNK, type ChildJob, type Frame } from './frames.js';
import { claimChannel, releaseChannel, type Channel, type ReaderSet } from './spawn.js';

export type { ReaderSet };

/** Read `file` as readPackage does, through `readers` when given. */
export function readPackageVia(readers: ReaderSet | undefined, file: string, opts: ReadOptions): ReadResult {
  if (!readers || !opts.keyring || opts.headOnly) return readPackage(file, opts);
  const keyring = opts.keyring;
  const label = basename(file);
  const sink = opts.sink;
  const hashes = sink?.checksFiles !== true;
  const keys = [...keyring.values()].map((k) => ({ file: k.file, pem: pemOf(k) }));
  let m: Manifest | undefined;
  let raw: Buffer | undefined;
  let signer: ReadResult['signer'];
  let index = 0;
  const file1 = fileState();
  return session(readers, file, { kind: 'mpk', file, expect: opts.expect, keys }, (f, served) => {
    if (f.type === F.manifest) {
      if (m || f.body.length < 80) throw broken('a second or short manifest');
      const id = f.body.toString('latin1', 0, 16);
      const key = keyring.get(id);
      const sig = Buffer.from(f.body.subarray(16, 80));
      raw = Buffer.from(f.body.subarray(80));
      if (!key || !verifyBytes(raw, sig, key)) throw broken('a manifest whose signature does not verify');
      const obj = parseCanonical(raw, { where: `${label}: manifest`, code: 'MN0110' });
      if (obj.signer !== id) throw broken('a manifest signed by another key than it names');
      m = checkManifest(obj, { where: `${label}: manifest`, code: 'MN0110' });
      signer = key;
      sink?.manifest?.(m, { bytes: raw, signature: sig });
    } else if (f.type === F.begin) {
      if (!m || f.body.length !== 4 || f.body.readUInt32LE(0) !== index || index >= m.files.length) throw broken('an entry out of order');
      file1.begin(m.files[index], hashes);
      sink?.begin(m.files[index]);
    } else if (f.type === F.chunk) {
      file1.data(f.body);
      sink?.data(f.body);
    } else if (f.type === F.end) {
      const e = file1.end();
      if (hashes && e.type === 'file' && file1.digest !== e.sha256) throw fileHashError(file, e.path, e.sha256!, file1.digest!);
      sink?.end(e);
      index++;
    } else if (f.type === F.finish) {
      if (!m || file1.open || index !== m.files.length) throw broken('an early end');
      checkServed(served, opts.expect, file, 'the index');
      return { manifest: m, manifestBytes: raw!, signer, size: served.size, sha256: served.sha256! };
    } else throw broken(`a frame of type ${f.type}`);
    return undefined;
  });
}

/** Read `file` as readDeb does, through `readers` when given. */
export function readDebVia(readers: ReaderSet | undefined, file: string, opts: DebOptions): DebResult {
  if (!readers || !opts.entry || !opts.expect) return readDeb(file, opts);
  const entry = opts.entry;
  const sink = opts.sink;
  const files: FileEntry[] = [];
  const seen = new Map<string, EntryType>();
  const file1 = fileState();
  return session(readers, file, { kind: 'deb', file, expect: opts.expect, deb: { entry, signer: opts.signer } }, (f, served) => {
    if (f.type === F.begin) {
      // The bytes parsed are those the signed Packages lists, or the child would have stopped.
      if (files.length === 0 && !file1.open) checkServed(served, opts.expect, file, 'Packages', true);
      const e = debEntry(jsonBody(f), seen);
      file1.begin(e, true);
      sink?.begin(e);
    } else if (f.type === F.chunk) {
      file1.data(f.body);
      sink?.data(f.body);
    } else if (f.type === F.end) {
      const e = file1.end();
      if (e.type === 'file') e.sha256 = file1.digest;
      files.push(e);
      sink?.end(e);
    } else if (f.type === F.finish) {
      if (file1.open) throw broken('an early end');
      checkServed(served, opts.expect, file, 'Packages', true);
      const r = jsonBody(f) as Record<string, unknown>;
      const mf = r.manifest as Omit<Manifest, 'files'> | undefined;
      const fields = r.stanza as [string, string][] | undefined;
      if (!mf || typeof mf !== 'object' || mf.name !== entry.name || mf.version !== entry.version || mf.arch !== entry.arch
        || typeof r.control !== 'string' || !Array.isArray(fields) || !Array.isArray(r.scripts) || typeof r.members !== 'object' || r.members === null
        || !Array.isArray(mf.config) || !mf.config.every((c) => typeof c === 'string') || typeof r.newest !== 'number'
        || (r.license !== undefined && typeof r.license !== 'string')) throw broken('a malformed result');
      return {
        manifest: { ...mf, files }, manifestBytes: Buffer.from(r.control), size: served.size, sha256: served.sha256!,
        control: { fields: new Map(fields.map(([k, v]) => [String(k), String(v)])), line: Number(r.line) || 1 }, scripts: r.scripts.map(String),
        members: Object.fromEntries(Object.entries(r.members as Record<string, unknown>).map(([k, v]) => [k, String(v)])), newest: r.newest,
        ...(r.license === undefined ? {} : { license: r.license as string }),
      };
    } else throw broken(`a frame of type ${f.type}`);
    return undefined;
  });
}

const pems = new WeakMap<PublicKey, string>();

function pemOf(k: PublicKey): string {
  let pem = pems.get(k);
  if (pem === undefined) pems.set(k, (pem = k.key.export({ type: 'spki', format: 'pem' }).toString()));
  return pem;
}

class Broken extends Error {}

function broken(what: string): Broken {
  return new Broken(`sent ${what}`);
}

interface Served {
  size: number;
  /** Of every byte served, once the end was. */
  sha256?: string;
  eof: boolean;
}

/** The child saw exactly the file the signed index lists (else it should have stopped: a broken protocol). */
function checkServed(s: Served, expect: { size: number; sha256: string } | undefined, file: string, by: string, strict = false): void {
  if (!s.eof) throw broken('entries before reading the whole file');
  if (!expect) return;
  if (s.size !== expect.size) {
    if (strict) throw broken('entries of a file of the wrong size');
    throw new MinosError('MN0206', `${basename(file)}: file is ${s.size} bytes, ${by} says ${expect.size}`, { data: { file, expected: expect.size, actual: s.size } });
  }
  if (s.sha256 !== expect.sha256) {
    if (strict) throw broken('entries of a file of the wrong sha256');
    throw new MinosError('MN0205', `${basename(file)}: file sha256 is ${s.sha256}, ${by} says ${expect.sha256}`, { data: { file, expected: expect.sha256, actual: s.sha256 } });
  }
}

/** The entry being received: its bytes counted against its size, and hashed when asked. */
function fileState() {
  let cur: FileEntry | undefined;
  let got = 0;
  let h: Hash | undefined;
  let one: string | undefined;
  let hashing = false;
  const st = {
    open: false,
    digest: undefined as string | undefined,
    begin(e: FileEntry, hashes: boolean) {
      if (cur) throw broken('an entry inside another');
      cur = e;
      got = 0;
      h = undefined;
      one = undefined;
      hashing = hashes && e.type === 'file';
      st.open = true;
    },
    data(b: Buffer) {
      if (!cur || cur.type !== 'file' || got + b.length > cur.size) throw broken('more bytes than the entry has');
      if (hashing) {
        // A file in one chunk (most are) is hashed in one call.
        if (h) h.update(b);
        else if (got === 0 && b.length === cur.size) one = hash('sha256', b, 'hex');
        else h = createHash('sha256').update(b);
      }
      got += b.length;
    },
    end(): FileEntry {
      if (!cur || got !== cur.size) throw broken('an entry shorter than its size');
      const e = cur;
      st.digest = hashing ? (one ?? h?.digest('hex') ?? EMPTY_SHA256) : undefined;
      cur = undefined;
      st.open = false;
      return e;
    },
  };
  return st;
}

const TYPES = new Set<string>(['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo']);
const NAME = /^[^\0\n/:]{1,256}$/;

/** An entry of a .deb as the child announces it, checked as readDeb checks it. */
function debEntry(v: unknown, seen: Map<string, EntryType>): FileEntry {
  const o = v as Record<string, unknown>;
  const int = (x: unknown, max: number) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= max;
  if (!o || typeof o !== 'object' || typeof o.path !== 'string' || !TYPES.has(o.type as string) || !int(o.mode, 0o7777)
    || typeof o.owner !== 'string' || !NAME.test(o.owner) || typeof o.group !== 'string' || !NAME.test(o.group)
    || !int(o.size, Number.MAX_SAFE_INTEGER) || (o.type !== 'file' && o.size !== 0)) throw broken('a malformed entry');
  const type = o.type as EntryType;
  const e: FileEntry = { path: o.path, type, mode: o.mode as number, owner: o.owner, group: o.group, size: o.size as number };
  if (pathError(e.path) || seen.has(e.path)) throw broken(`an entry that readDeb refuses: ${quote(e.path)}`);
  const slash = e.path.lastIndexOf('/');
  if (slash > 0 && seen.get(e.path.slice(0, slash)) !== 'dir') throw broken(`an entry before its folder: ${quote(e.path)}`);
  if (type === 'symlink' || type === 'hardlink') {
    if (typeof o.target !== 'string' || o.target === '' || o.target.includes('\0') || o.target.length > 4095) throw broken('a link without a target');
    if (type === 'hardlink' && seen.get(o.target) !== 'file') throw broken(`a hardlink to no earlier file: ${quote(e.path)}`);
    e.target = o.target;
  }
  if (type === 'char' || type === 'block') {
    if (!int(o.devmajor, 0o7777777) || !int(o.devminor, 0o7777777)) throw broken('a device without numbers');
    e.devmajor = o.devmajor as number;
    e.devminor = o.devminor as number;
  }
  seen.set(e.path, type);
  return e;
}

/** One read buffer per thread: a thread reads one package at a time. */
let serveBuf: Buffer | undefined;

/**
 * Run one job on a claimed reader: serve its reads from `file`, pass its
 * other frames to `onFrame` until that returns the result. The reader is
 * kept when the job ended cleanly (a result, or the child's own error), else
 * killed.
 */
function session<R>(readers: ReaderSet, file: string, job: Omit<ChildJob, 'size'>, onFrame: (f: Frame, served: Served) => R | undefined): R {
  const label = basename(file);
  const { fd, size } = openInput(file);
  let ch: Channel | undefined;
  let clean = false;
  try {
    ch = claimChannel(readers);
    const from = frameReader(ch.output, true);
    if (ch.fresh) {
      checkHello(from.next(), readers);
      ch.fresh = false;
    }
    send(ch.input, F.job, Buffer.from(JSON.stringify({ ...job, size } satisfies ChildJob)));
    const served: Served = { size: 0, eof: false };
    const whole = createHash('sha256');
    let afterEnd = 0;
    const buf = (serveBuf ??= Buffer.allocUnsafeSlow(READ_CHUNK));
    // The next chunk, never past the size the job names (a file that grows is read no further).
    const serve = (want: number) => {
      const len = Math.min(want, size - served.size);
      let n = 0;
      try {
        if (len > 0) n = readSync(fd, buf, 0, len, null);
      } catch (e) {
        throw ioError(e, file);
      }
      whole.update(buf.subarray(0, n));
      served.size += n;
      if (n === 0 && afterEnd++ > 1) throw broken('read requests past the end');
      if ((n === 0 || served.size >= size) && !served.eof) {
        served.sha256 = whole.digest('hex');
        served.eof = true;
      }
      send(ch!.input, F.data, buf.subarray(0, n));
    };
    // The first chunk goes with the job: one exchange less per package.
    serve(READ_CHUNK);
    for (;;) {
      const f = from.next();
      if (!f) throw new Broken('exited');
      if (f.type === F.read) {
        if (f.body.length !== 4 || f.body.readUInt32LE(0) > READ_CHUNK) throw broken('a bad read request');
        serve(f.body.readUInt32LE(0));
        continue;
      }
      if (f.type === F.error) {
        clean = true;
        throw childError(f, file);
      }
      const r = onFrame(f, served);
      if (r !== undefined) {
        clean = true;
        return r;
      }
    }
  } catch (e) {
    if (e instanceof Broken || e instanceof FrameError) {
      throw new MinosError('MN0217', `${label}: the unprivileged reader ${e.message}`, {
        hint: 'the package may be crafted to attack minos: report it to the repository\'s maintainers',
        data: { file },
      });
    }
    throw e;
  } finally {
    closeSync(fd);
    if (ch) releaseChannel(readers, ch, clean);
  }
}

function send(fd: number, type: number, body: Uint8Array): void {
  const head = Buffer.allocUnsafe(HEADER);
  head[0] = type;
  head.writeUInt32LE(body.length, 1);
  let done = writevSync(fd, [head, body]);
  while (done < HEADER + body.length) {
    done += done < HEADER ? writevSync(fd, [head.subarray(done), body]) : writevSync(fd, [body.subarray(done - HEADER)]);
  }
}

/** The child's first frame: it runs as the user it should, with no other group. */
function checkHello(f: Frame | undefined, readers: ReaderSet): void {
  if (!f || f.type !== F.hello) throw new Broken(f ? 'did not say who it is' : 'exited before saying who it is');
  const h = jsonBody(f) as { uid?: number; gid?: number; euid?: number; egid?: number; groups?: number[] };
  const { uid, gid } = readers.user;
  if (h.uid !== uid || h.euid !== uid || h.gid !== gid || h.egid !== gid || !Array.isArray(h.groups) || h.groups.some((g) => g !== gid)) {
    throw new MinosError('MN0013', `privilege separation: the reader runs as ${JSON.stringify(h)}, not as ${readers.user.name} (${uid}:${gid}) alone`);
  }
}

/** The child's MinosError for a bad package; messages cleaned of control characters. */
function childError(f: Frame, file: string): MinosError {
  const e = jsonBody(f) as { code?: unknown; message?: unknown; hint?: unknown; data?: unknown };
  if (typeof e.code !== 'string' || !(e.code in CODES) || typeof e.message !== 'string') throw broken('a malformed error');
  const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 4096);
  const data = e.data && typeof e.data === 'object' ? { ...(e.data as Record<string, unknown>), file } : { file };
  return new MinosError(e.code as ErrorCode, clean(e.message), { ...(typeof e.hint === 'string' ? { hint: clean(e.hint) } : {}), data });
}
