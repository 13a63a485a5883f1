/**
 * Verify and stage one package into txn/ID/new, the unit of work that runs
 * on worker threads (stagepool.ts) or inline. Every node is created under a
 * name of its own (`PREFIX` + a counter, the prefix being the package's
 * index in the transaction), so packages staged at the same time never
 * collide. Regular files are created 0600, written, then given their owner
 * (fchown) and only then their mode (fchmod), so no setuid or setgid file is
 * ever writable by others. Nothing here touches the root; planning the
 * operations, crash points and the journal stay on the main thread, in
 * package order.
 */
import { chmodSync, closeSync, fchmodSync, fchownSync, lchownSync, linkSync, openSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ioError, MinosError, quote } from '../errors.js';
import { CREATE_NEW, makeNode } from '../fsutil.js';
import type { PackageSink } from '../pkg/read.js';
import { readDeb } from '../debian/deb.js';
import { readPackageVia } from '../privsep/read.js';
import type { ReaderSet } from '../privsep/spawn.js';
import { checkIndexEntry } from '../repo/index.js';
import type { Keyring } from '../repo/keys.js';
import type { FileEntry, IndexPackage, Manifest } from '../types.js';
import { sameEntry } from '../engine/owners.js';

export interface StageJob {
  file: string;
  keyring: Keyring;
  expect?: { size: number; sha256: string };
  /** The package the file must hold. */
  want: { name: string; version: string; arch: string };
  /** The signed index entry it comes from: its metadata must equal the manifest's (as in build). */
  entry?: IndexPackage;
  /** A Debian package: read with readDeb against its Packages entry. */
  deb?: { entry: IndexPackage; signer: string };
  /** sha256 the file must have (a package taken from the cache). */
  cacheSha256?: string;
  newDir: string;
  /** Names of staged nodes: PREFIX + counter. */
  prefix: string;
  chown: boolean;
  /** Owner and group names → ids known before this package (root's files, kept packages). */
  users: Map<string, number>;
  groups: Map<string, number>;
  /** The unprivileged readers to read the package through (privsep/spawn.ts); none: read here. */
  readers?: ReaderSet;
}

export interface StageResult {
  manifest: Manifest;
  sha256: string;
  /** path → staged name (under new/) */
  staged: [string, string][];
  /** Regular files staged (each is one step that changed the disk). */
  regular: number;
  /** Staged regular files not yet fsynced. */
  unsynced: string[];
  /** Nodes whose owner was unknown here: owned (and moded) once every package is known. */
  fixups: { path: string; e: FileEntry }[];
  warnings: string[];
  /** A Debian package's control text and control members (for the effects of its scripts). */
  deb?: { control: string; members: Record<string, string> };
}

/** Installed entries (path → entry): a staged entry equal to the installed one is not staged. */
export type OldEntries = Map<string, FileEntry>;

const EUID = process.geteuid?.() ?? 0;
const EGID = process.getegid?.() ?? 0;

export function stageOne(job: StageJob, oldEntries: OldEntries): StageResult {
  const staged = new Map<string, string>();
  const users = job.users;
  const groups = job.groups;
  const unsynced: string[] = [];
  const fixups: { path: string; e: FileEntry }[] = [];
  const warnings: string[] = [];
  let regular = 0;
  let counter = 0;
  let manifest: Manifest | undefined;
  let fd: number | undefined;
  let cur: string | undefined;
  let skipSame = true;
  const { file, newDir, prefix, chown, want } = job;
  const ownLink = (p: string, e: FileEntry) => {
    const uid = users.get(e.owner);
    const gid = groups.get(e.group);
    if (uid === undefined || gid === undefined) fixups.push({ path: p, e });
    else lchownSync(p, uid, gid);
  };
  let r: { sha256: string };
  let deb: StageResult['deb'];
  try {
  const sink: PackageSink = {
      manifest(m) {
        manifest = m;
        if (m.name !== want.name || m.version !== want.version || m.arch !== want.arch) {
          throw new MinosError('MN0213', `${file}: holds ${m.name} ${m.version} ${m.arch}, expected ${want.name} ${want.version} ${want.arch}`);
        }
        if (job.entry) checkIndexEntry(job.entry, m);
        for (const u of m.users) users.set(u.name, u.uid);
        for (const g of m.groups) groups.set(g.name, g.gid);
        // Files that are hardlinked must all be staged so the links have targets.
        skipSame = !m.files.some((e) => e.type === 'hardlink');
      },
      begin(e) {
        cur = undefined;
        if (e.type === 'dir') return;
        const old = oldEntries.get(e.path);
        if (skipSame && old && sameEntry(old, e)) return;
        const n = prefix + String(counter++);
        const p = `${newDir}/${n}`;
        cur = n;
        try {
          if (e.type === 'file') {
            fd = openSync(p, CREATE_NEW, 0o600);
          } else if (e.type === 'symlink') {
            symlinkSync(e.target!, p);
            if (chown) ownLink(p, e);
          } else if (e.type === 'hardlink') {
            const tn = staged.get(e.target!);
            if (tn === undefined) throw new MinosError('MN0110', `${file}: hardlink ${quote(e.path)} to an unstaged file`);
            linkSync(join(newDir, tn), p);
          } else if (e.type === 'fifo' || chown) {
            makeNode(p, e);
            if (chown) ownLink(p, e);
            // By path, never by opening it: opening a device can have effects. mknod just made p in our own folder.
            chmodSync(p, e.mode);
          } else {
            warnings.push(`/${e.path}: not running as root, device node of ${want.name} not created`);
            cur = undefined;
            return;
          }
        } catch (err) {
          throw err instanceof MinosError ? err : ioError(err, p);
        }
        staged.set(e.path, n);
      },
      data(chunk) {
        // A file equal to the installed one is not staged: the reader still hashes its bytes.
        if (fd === undefined) return;
        let off = 0;
        try {
          while (off < chunk.length) off += writeSync(fd!, chunk, off, chunk.length - off);
        } catch (err) {
          throw ioError(err, join(newDir, cur!));
        }
      },
      end(e) {
        if (fd === undefined) return;
        const p = `${newDir}/${cur!}`;
        try {
          if (chown) {
            const uid = users.get(e.owner);
            const gid = groups.get(e.group);
            if (uid === undefined || gid === undefined) fixups.push({ path: p, e });
            else if (uid !== EUID || gid !== EGID) fchownSync(fd, uid, gid); // a new file is already ours
          }
          // chmod after chown (chown clears setuid/setgid); the file was 0600 until now.
          fchmodSync(fd, e.mode);
          unsynced.push(p);
          regular++;
        } catch (err) {
          throw ioError(err, p);
        } finally {
          closeSync(fd);
          fd = undefined;
        }
      },
  };
  if (job.deb) {
    // A .deb has no manifest up front: every entry is staged (a hardlink's target must be).
    skipSame = false;
    const d = readDeb(file, { expect: job.expect!, entry: job.deb.entry, signer: job.deb.signer, sink });
    manifest = d.manifest;
    r = d;
    deb = { control: Buffer.from(d.manifestBytes).toString('utf8'), members: d.members };
  } else r = readPackageVia(job.readers, file, { keyring: job.keyring, expect: job.expect, sink });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (job.cacheSha256 !== undefined && r.sha256 !== job.cacheSha256) {
    throw new MinosError('MN0205', `${file}: sha256 is ${r.sha256}, expected ${job.cacheSha256}`, { data: { file } });
  }
  return { manifest: manifest!, sha256: r.sha256, staged: [...staged], regular, unsynced, fixups, warnings, ...(deb ? { deb } : {}) };
}
