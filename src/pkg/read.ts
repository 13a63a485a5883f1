/**
 * Reading and verifying a package, streaming: file → sha256 of the compressed
 * bytes → zstd → tar → manifest check → optional sink. Nothing is trusted
 * before it is checked: the manifest's signature is verified before its
 * contents are used, every payload entry must equal its manifest entry in
 * order, every file's content must match its size and sha256, and the
 * decompressed stream may not exceed what the manifest declares.
 *
 * A sink receives payload bytes before the entry's hash is known to match
 * (`end` is called only once it does), so a sink must write somewhere it can
 * discard on failure.
 */
import { createHash, hash, type Hash } from 'node:crypto';
import { closeSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { ioError, MinosError, quote, type ErrorCode } from '../errors.js';
import { openInput } from '../input.js';
import { verifyBytes, type Keyring, type PublicKey } from '../repo/keys.js';
import type { FileEntry, Manifest } from '../types.js';
import { createTarReader, type TarHeader } from '../unpack/tar.js';
import { createZstdDecoder } from '../unpack/zstd.js';
import { parseCanonical } from '../jsonfields.js';
import { checkManifest } from './manifest.js';

export const MANIFEST_NAME = '.MANIFEST';
export const SIGNATURE_NAME = '.SIGNATURE';
/** Largest manifest accepted, bounding memory before the signature is checked. */
export const MAX_MANIFEST = 32 << 20;
const CHUNK = 1 << 20;
const HEAD_DONE = Symbol('head read');
export const EMPTY_SHA256 = createHash('sha256').digest('hex');
/** One read buffer per thread: readPackage is synchronous and keeps no chunk past a read. */
let readBuf: Buffer | undefined;

export interface PackageSink {
  /** The verified manifest, before any payload entry; `signed` holds the exact bytes and the signature that verified. */
  manifest?(m: Manifest, signed: { bytes: Buffer; signature: Buffer }): void;
  /** A payload entry whose header matches the manifest begins. */
  begin(e: FileEntry): void;
  /** Content bytes of the current regular file (not yet hash-checked), valid only during the call: copy what you keep. */
  data(chunk: Uint8Array): void;
  /** The current entry is complete and, for a file, its size and sha256 match (unless `checksFiles`). */
  end(e: FileEntry): void;
  /**
   * The sink itself checks each file's content against its manifest sha256,
   * failing with `fileHashError`, before anything it wrote leaves its private
   * folder: readPackage then skips the per-file hash (`end` means only that the
   * size matched).
   */
  checksFiles?: boolean;
}

/** A file whose content does not match its manifest sha256 (MN0205), as readPackage reports it. */
export function fileHashError(file: string, path: string, expected: string, actual: string): MinosError {
  return new MinosError('MN0205', `${basename(file)}: ${path}: sha256 is ${actual}, manifest says ${expected}`, { data: { file, path, expected, actual } });
}

export interface ReadOptions {
  /** Trusted keys. Only `headOnly` reads may omit it (the signature is then not checked). */
  keyring?: Keyring;
  /** Stop after the manifest and signature: for showing metadata, not for trusting payload. */
  headOnly?: boolean;
  /** Size and sha256 of the package file as a signed index lists them. */
  expect?: { size: number; sha256: string };
  sink?: PackageSink;
  /**
   * Where the bytes come from instead of opening `file` (which then only
   * names the package in messages): `size` as fstat would give it, and `read`
   * filling `buf` from its start like readSync, 0 at the end.
   */
  input?: { size: number; read(buf: Buffer): number };
  /** The bytes of `input` are those `expect` names, checked by the caller: not hashed again. */
  verified?: boolean;
}

export interface ReadResult {
  manifest: Manifest;
  /** The exact manifest bytes the signature covers. */
  manifestBytes: Buffer;
  /** The verifying key; undefined only for a head-only read without keyring. */
  signer?: PublicKey;
  /** Compressed size and sha256; for a head-only read, of the bytes read so far. */
  size: number;
  sha256: string;
}

/** Upper bound on the decompressed tar size a manifest allows. */
export function tarBound(m: Manifest, manifestBytes: number): number {
  const block = (n: number) => Math.ceil(n / 512) * 512;
  // The two head members with pax headers, end blocks, and up to 64 KiB of record padding.
  let total = 8 * 512 + 2 * block(manifestBytes) + 64 * 1024;
  for (const e of m.files) total += 4096 + block(2 * Buffer.byteLength(e.path) + 2 * Buffer.byteLength(e.target ?? '')) + block(e.size);
  return total;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function describeHeader(h: TarHeader): Partial<Record<string, unknown>> {
  return { type: h.type, mode: h.mode, owner: h.uname, group: h.gname, size: h.size, target: h.linkname, devmajor: h.devmajor, devminor: h.devminor };
}

function oct(n: number): string {
  return n.toString(8).padStart(4, '0');
}

/** First field where a tar header differs from its manifest entry, or undefined. */
function headerMismatch(h: TarHeader, e: FileEntry): string | undefined {
  if (h.type !== e.type) return `type is ${h.type}, manifest says ${e.type}`;
  if (h.mode !== e.mode) return `mode is ${oct(h.mode)}, manifest says ${oct(e.mode)}`;
  if (h.uname !== e.owner) return `owner is ${quote(h.uname)}, manifest says ${quote(e.owner)}`;
  if (h.gname !== e.group) return `group is ${quote(h.gname)}, manifest says ${quote(e.group)}`;
  if (h.size !== e.size) return `size is ${h.size}, manifest says ${e.size}`;
  if (h.linkname !== (e.target ?? '')) return `link target is ${quote(h.linkname)}, manifest says ${quote(e.target ?? '')}`;
  if ((e.type === 'char' || e.type === 'block') && (h.devmajor !== e.devmajor || h.devminor !== e.devminor)) {
    return `device is ${h.devmajor},${h.devminor}, manifest says ${e.devmajor},${e.devminor}`;
  }
  return undefined;
}

/**
 * Read and fully verify the package at `file`. Throws MinosError: exit 4 codes
 * for verification failures (signature, key, hashes, sizes, mismatches, corrupt
 * or oversized zstd), MN0110 (exit 2) for a structurally malformed archive or
 * manifest, MN0101 if the file cannot be read.
 */
export function readPackage(file: string, opts: ReadOptions): ReadResult {
  const label = basename(file);
  const fail = (code: ErrorCode, msg: string, data: Record<string, unknown> = {}) =>
    new MinosError(code, `${label}: ${msg}`, { data: { file, ...data } });

  const input = opts.input;
  const verified = opts.verified === true && input !== undefined && opts.expect !== undefined;
  const { fd, size } = input ? { fd: -1, size: input.size } : openInput(file);
  // Transient output: the tar reader copies the headers it keeps, every sink writes synchronously.
  const decoder = createZstdDecoder({ transient: true });
  try {
    if (opts.expect && size !== opts.expect.size) {
      throw fail('MN0206', `file is ${size} bytes, the index says ${opts.expect.size}`, { expected: opts.expect.size, actual: size });
    }

    let phase: 'manifest' | 'signature' | 'payload' = 'manifest';
    let manifestBytes: Buffer | undefined;
    let manifest: Manifest | undefined;
    let signer: PublicKey | undefined;
    let bound = MAX_MANIFEST + 64 * 1024;
    let produced = 0;
    let index = 0; // next manifest entry expected in the payload
    let current: FileEntry | undefined;
    // A file whose content arrives in one chunk (most do) is hashed in one call;
    // createHash per file cost ~3 us more a file.
    let fileHash: Hash | undefined;
    let fileDigest: string | undefined;
    const sinkHashes = opts.sink?.checksFiles === true;
    let collect: Buffer[] = [];
    let collected = 0;

    const finishHead = (sig: Buffer) => {
      const raw = manifestBytes!;
      const obj = parseCanonical(raw, { where: `${label}: manifest`, code: 'MN0110' });
      const id = obj.signer;
      if (typeof id !== 'string') throw fail('MN0110', 'manifest has no "signer" key id');
      if (!/^[0-9a-f]{16}$/.test(id)) throw fail('MN0110', 'manifest "signer" is not a key id');
      if (!opts.keyring) {
        if (!opts.headOnly) throw new MinosError('MN0001', 'readPackage: a keyring is required');
        manifest = checkManifest(obj, { where: `${label}: manifest`, code: 'MN0110' });
        return;
      }
      const key = opts.keyring.get(id);
      if (!key) {
        throw new MinosError('MN0203', `${label}: signed by untrusted key ${id}`, {
          data: { file, keyid: id },
          hint: 'add the signer\'s public key to the keyring (--key PUB or --keyring DIR)',
        });
      }
      if (!verifyBytes(raw, sig, key)) throw fail('MN0201', `manifest signature does not verify with key ${id} (${basename(key.file)})`, { keyid: id });
      signer = key;
      manifest = checkManifest(obj, { where: `${label}: manifest`, code: 'MN0110' });
      bound = tarBound(manifest, raw.length);
      if (produced > bound) throw fail('MN0209', `decompressed data exceeds what the manifest declares (${bound} bytes)`);
      opts.sink?.manifest?.(manifest, { bytes: raw, signature: sig });
    };

    const tar = createTarReader({
      entry(h) {
        if (phase === 'manifest' || phase === 'signature') {
          const want = phase === 'manifest' ? MANIFEST_NAME : SIGNATURE_NAME;
          if (h.name !== want || h.type !== 'file') {
            if (phase === 'signature' || h.name === SIGNATURE_NAME) throw fail('MN0202', `missing signature: expected member ${SIGNATURE_NAME}, found ${quote(h.name)}`);
            throw fail('MN0110', `first member must be ${MANIFEST_NAME}, found ${quote(h.name)}`);
          }
          const max = phase === 'manifest' ? MAX_MANIFEST : 64;
          if (h.size > max || (phase === 'signature' && h.size !== 64)) {
            throw fail(phase === 'manifest' ? 'MN0110' : 'MN0201', `${want} is ${h.size} bytes (${phase === 'manifest' ? `at most ${max}` : 'expected 64'})`);
          }
          collect = [];
          collected = 0;
          return;
        }
        const e = manifest!.files[index];
        if (!e) throw fail('MN0204', `entry ${quote(h.name)} is not in the manifest`, { path: h.name });
        if (h.name !== e.path) {
          const listed = manifest!.files.some((f) => f.path === h.name);
          throw fail('MN0204', listed ? `entry ${quote(h.name)} is out of order or duplicated (expected ${quote(e.path)} next)` : `entry ${quote(h.name)} is not in the manifest`, { path: h.name });
        }
        const why = headerMismatch(h, e);
        if (why) throw fail('MN0204', `${e.path}: ${why}`, { path: e.path, header: describeHeader(h) });
        current = e;
        fileHash = undefined;
        fileDigest = undefined;
        opts.sink?.begin(e);
      },
      data(chunk) {
        if (phase !== 'payload') {
          collect.push(Buffer.from(chunk));
          collected += chunk.length;
          return;
        }
        if (!sinkHashes) {
          if (fileHash) fileHash.update(chunk);
          else if (chunk.length === current!.size) fileDigest = hash('sha256', chunk, 'hex');
          else fileHash = createHash('sha256').update(chunk);
        }
        opts.sink?.data(chunk);
      },
      entryEnd() {
        if (phase === 'manifest') {
          manifestBytes = Buffer.concat(collect, collected);
          phase = 'signature';
          return;
        }
        if (phase === 'signature') {
          finishHead(Buffer.concat(collect, collected));
          phase = 'payload';
          if (opts.headOnly) throw HEAD_DONE;
          return;
        }
        const e = current!;
        if (e.type === 'file' && !sinkHashes) {
          const got = fileDigest ?? fileHash?.digest('hex') ?? EMPTY_SHA256;
          if (got !== e.sha256) throw fileHashError(file, e.path, e.sha256!, got);
        }
        opts.sink?.end(e);
        current = undefined;
        index++;
      },
    });

    const whole = createHash('sha256');
    const buf = (readBuf ??= Buffer.allocUnsafeSlow(CHUNK));
    const onOut = (out: Uint8Array) => {
      produced += out.length;
      if (produced > bound) {
        throw fail('MN0209', manifest ? `decompressed data exceeds what the manifest declares (${bound} bytes)` : 'manifest too large or missing');
      }
      tar.push(out);
    };
    let total = 0;
    for (;;) {
      const n = input ? input.read(buf) : readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      total += n;
      if (opts.expect && total > opts.expect.size) throw fail('MN0206', `file is larger than the ${opts.expect.size} bytes the index says`);
      const chunk = buf.subarray(0, n);
      if (!verified) whole.update(chunk);
      try {
        decoder.push(chunk, onOut);
      } catch (e) {
        if (e !== HEAD_DONE) throw e;
        return { manifest: manifest!, manifestBytes: manifestBytes!, signer, size: total, sha256: verified ? opts.expect!.sha256 : hex(whole.digest()) };
      }
    }
    if (total === 0) throw fail('MN0110', 'empty file');
    decoder.end();
    tar.end();
    const ended = phase as string; // assigned inside the tar callbacks
    if (ended !== 'payload') throw fail(ended === 'signature' ? 'MN0202' : 'MN0110', ended === 'signature' ? 'missing signature' : 'no manifest');
    if (index < manifest!.files.length) {
      const e = manifest!.files[index];
      throw fail('MN0204', `manifest entry ${quote(e.path)} is missing from the payload`, { path: e.path });
    }
    const sha256 = verified ? opts.expect!.sha256 : hex(whole.digest());
    if (opts.expect && sha256 !== opts.expect.sha256) {
      throw fail('MN0205', `file sha256 is ${sha256}, the index says ${opts.expect.sha256}`, { expected: opts.expect.sha256, actual: sha256 });
    }
    return { manifest: manifest!, manifestBytes: manifestBytes!, signer, size: total, sha256 };
  } catch (e) {
    if (e instanceof MinosError && !e.message.startsWith(label)) {
      throw new MinosError(e.code, `${label}: ${e.message}`, { data: { file, ...e.data }, hint: e.hint, cause: e.cause });
    }
    throw e instanceof MinosError ? e : ioError(e, file);
  } finally {
    decoder.free();
    if (!input) closeSync(fd);
  }
}
