/**
 * Unpacking one package into a fresh folder of its own (verify + write), the
 * unit of work that runs on worker threads. The folder is new and written only
 * here, and every entry's parent is a directory this package listed before it
 * (the manifest guarantees it), so nothing can be redirected by a symlink.
 * Merging into the shared stage (conflicts, replaces) happens afterwards, in
 * package order, on the main thread: see stage.ts mergePackage.
 */
import { createHash } from 'node:crypto';
import { closeSync, readSync } from 'node:fs';
import { ioError } from '../errors.js';
import { openInput, tooLarge } from '../input.js';
import type { ReadResult } from '../pkg/read.js';
import { readDeb } from '../debian/deb.js';
import { readPackageVia, type ReaderSet } from '../privsep/read.js';
import type { IndexPackage } from '../types.js';
import type { Keyring } from '../repo/keys.js';
import { directWriter, type FsWriter } from './fswriter.js';
import { nodeSink } from './sink.js';
import { under } from '../fsutil.js';

export interface UnpackJob {
  file: string;
  keyring: Keyring;
  expect: { size: number; sha256: string };
  /** Folder to create and unpack into: must not exist, its parent must. */
  dest: string;
  /** Apply final file modes and this mtime through each file's descriptor; `umask` is the process's. */
  finish?: { mtime: number; umask: number };
  /** A Debian package: its signed Packages entry and the Release signer (no keyring is used). */
  deb?: { entry: IndexPackage; signer: string };
  /** The unprivileged readers to read the package through (privsep/spawn.ts); none: read here. */
  readers?: ReaderSet;
}

/** `debMembers`: a Debian package's control members (see DebResult.members). */
export type UnpackResult = Omit<ReadResult, 'signer'> & {
  signer: string;
  debMembers?: Record<string, string>;
  /** A Debian package's license, from its machine-readable copyright file (DebResult.license). */
  license?: string;
};

/**
 * Unpack `job` through `w` (default: directly). Folders are made 0700 and
 * files 0600 unless `finish` gives their final mode; devices and FIFOs exist
 * only in the manifest until a target makes them. On failure the folder is
 * removed (through `w`); a failure `w` reports first wins, being the earlier.
 */
export function unpackPackage(job: UnpackJob, w: FsWriter = directWriter()): UnpackResult {
  const dest = job.dest;
  w.mkdir(dest, 0o700);
  const finish = job.finish;
  try {
    const sink = nodeSink(w, {
      place: (e) => under(dest, e.path),
      // A plain mode the umask leaves intact is given at creation, saving an fchmod per
      // file (5,000 in build (a)); the folder is private (0700) while it is written.
      fileMode: (e) => (finish === undefined ? { mode: 0o600, final: true }
        : e.mode <= 0o777 && (e.mode & finish.umask) === 0 ? { mode: e.mode, final: true } : { mode: 0o600, final: false }),
      mtime: finish ? finish.mtime : -1,
      nodes: false,
      // The queued writer's thread hashes each file as it writes it: that work leaves this thread.
      check: job.file,
    }, job.file);
    if (job.deb) {
      const r = readDeb(job.file, { expect: job.expect, entry: job.deb.entry, signer: job.deb.signer, sink: { ...sink, checksFiles: false } });
      w.flush();
      return {
        manifest: r.manifest, manifestBytes: r.manifestBytes, size: r.size, sha256: r.sha256, signer: job.deb.signer, debMembers: r.members,
        ...(r.license === undefined ? {} : { license: r.license }),
      };
    }
    const r = readPackageVia(job.readers, job.file, { keyring: job.keyring, expect: job.expect, sink });
    w.flush();
    return { ...r, signer: r.signer!.id };
  } catch (e) {
    w.abort();
    w.removeTree(dest);
    w.sync();
    throw e;
  }
}

/** The other job of an unpack thread: read a whole file into shared memory and hash it (see readShared). */
export interface SharedReadJob {
  sharedRead: { file: string; max: number };
}

export interface SharedRead {
  /** The file's bytes, in memory this thread and the caller share (nothing writes it once returned). */
  bytes: SharedArrayBuffer;
  size: number;
  sha256: string;
}

/**
 * Read `file` whole into a new SharedArrayBuffer and hash those bytes, so
 * that the caller can check the digest and then parse the very bytes it
 * covers. The size is stat's: bytes appended meanwhile are not read (the
 * caller compares the size too). Over `max` bytes: MN0101.
 */
export function readShared(job: SharedReadJob): SharedRead {
  const { file, max } = job.sharedRead;
  const { fd, size } = openInput(file);
  try {
    if (size > max) throw tooLarge(file, max);
    const bytes = new SharedArrayBuffer(size);
    const view = new Uint8Array(bytes);
    const hash = createHash('sha256');
    let have = 0;
    while (have < size) {
      let n: number;
      try {
        n = readSync(fd, view, have, Math.min(size - have, 1 << 20), null);
      } catch (e) {
        throw ioError(e, file, 'MN0101');
      }
      if (n === 0) break;
      hash.update(view.subarray(have, have + n));
      have += n;
    }
    return { bytes, size: have, sha256: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}
