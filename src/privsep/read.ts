/**
 * Reading a .mpk as root (docs/SECURITY.md). readPackageVia takes the
 * options and gives the result of readPackage, driving the sink the same way
 * with the same errors for a bad package, and reads in one of two ways:
 * - verified first: a package a signed index lists (size and sha256), at most
 *   VERIFY_FIRST_MAX bytes, is read whole into memory here and checked
 *   against the index before a byte of it is parsed; only then is it parsed,
 *   here, from that memory (the file may change on disk, the bytes parsed
 *   cannot). A .deb is always read this way (readDeb does it itself).
 * - through an unprivileged reader (spawn.ts, child.ts): a package no index
 *   lists (a file named on the command line) or a larger one. This side
 *   opens it, hands the child the bytes it asks for and hashes them itself,
 *   and believes nothing the child says that it can check: the manifest's
 *   signature is verified here before the manifest is parsed, each entry the
 *   child announces must be the next one of that manifest (only its index
 *   crosses), each file's bytes are counted and hashed here against the
 *   manifest, and the file's size and sha256 are those of the bytes served.
 *   The child can only make the read fail. A child that breaks the protocol
 *   fails the read with MN0217 and is killed; a package the child finds bad
 *   fails with the child's error, as in-process.
 */
import { createHash, hash, type Hash } from 'node:crypto';
import { closeSync, readSync, writevSync } from 'node:fs';
import { basename } from 'node:path';
import { helperError, ioError, MinosError } from '../errors.js';
import { openInput } from '../input.js';
import { runsAlone } from '../privuser.js';
import { parseCanonical } from '../jsonfields.js';
import { checkManifest } from '../pkg/manifest.js';
import { EMPTY_SHA256, fileHashError, readPackage, type ReadOptions, type ReadResult } from '../pkg/read.js';
import { verifyBytes, type PublicKey } from '../repo/keys.js';
import type { FileEntry, Manifest } from '../types.js';
import { F, FrameError, frameReader, HEADER, jsonBody, READ_CHUNK, type ChildJob, type Frame } from './frames.js';
import { claimChannel, releaseChannel, type Channel, type ReaderSet } from './spawn.js';

export type { ReaderSet };

/**
 * A package at most this large that a signed index lists (size and sha256)
 * is read whole into memory and checked against the index before a byte of
 * it is parsed, in this process; a larger one, or one no index lists (a file
 * named on the command line), streams through the reader.
 */
export const VERIFY_FIRST_MAX = 16 << 20;

/**
 * Read `file` as readPackage does. With `readers` (minos runs as root):
 * verified first when the index lists it and it is small enough, else
 * through a reader.
 */
export function readPackageVia(readers: ReaderSet | undefined, file: string, opts: ReadOptions): ReadResult {
  if (!readers || !opts.keyring || opts.headOnly) return readPackage(file, opts);
  const expect = opts.expect;
  if (expect && expect.size <= VERIFY_FIRST_MAX) {
    const bytes = verifiedBytes(file, expect);
    let at = 0;
    const input = { size: bytes.length, read: (buf: Buffer) => { const n = bytes.copy(buf, 0, at); at += n; return n; } };
    return readPackage(file, { ...opts, input, verified: true });
  }
  return readPackageChild(readers, file, opts);
}

/** The bytes of `file`, which must be exactly those `expect` names (as readPackage words it). */
function verifiedBytes(file: string, expect: { size: number; sha256: string }): Buffer {
  const { fd, size } = openInput(file);
  try {
    const buf = Buffer.allocUnsafe(expect.size + 1);
    let have = 0;
    if (size <= expect.size) {
      for (let n = 1; n > 0 && have < buf.length; have += n) {
        try {
          n = readSync(fd, buf, have, buf.length - have, null);
        } catch (e) {
          throw ioError(e, file);
        }
      }
    }
    const served: Served = { size: size > expect.size ? size : have, eof: true };
    if (served.size === expect.size) served.sha256 = hash('sha256', buf.subarray(0, have), 'hex');
    checkServed(served, expect, file, 'the index');
    return buf.subarray(0, have);
  } finally {
    closeSync(fd);
  }
}

/** readPackage run by a reader of `readers`, this side checking everything it says. */
export function readPackageChild(readers: ReaderSet, file: string, opts: ReadOptions): ReadResult {
  if (!opts.keyring) throw new Error('readPackageChild: a keyring is required');
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
  return session(readers, file, { file, expect: opts.expect, keys }, (f, served) => {
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
function checkServed(s: Served, expect: { size: number; sha256: string } | undefined, file: string, by: string): void {
  if (!s.eof) throw broken('entries before reading the whole file');
  if (!expect) return;
  if (s.size !== expect.size) {
    throw new MinosError('MN0206', `${basename(file)}: file is ${s.size} bytes, ${by} says ${expect.size}`, { data: { file, expected: expect.size, actual: s.size } });
  }
  if (s.sha256 !== expect.sha256) {
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
  const h = jsonBody(f);
  const { name, uid, gid } = readers.user;
  if (!runsAlone(h, readers.user)) throw new MinosError('MN0013', `privilege separation: the reader runs as ${JSON.stringify(h)}, not as ${name} (${uid}:${gid}) alone`);
}

/** The child's MinosError for a bad package; messages cleaned of control characters. */
function childError(f: Frame, file: string): MinosError {
  const e = helperError(jsonBody(f), { file });
  if (!e) throw broken('a malformed error');
  return e;
}
