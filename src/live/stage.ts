/**
 * Verify and stage one package into txn/ID/new, the unit of work that runs
 * on worker threads (stagepool.ts) or inline. Every node is created under a
 * name of its own (`PREFIX` + a counter, the prefix being the package's
 * index in the transaction), so packages staged at the same time never
 * collide. The nodes are made by the build's unpack sink (unpack/sink.ts),
 * with this layout: no folders (the planner makes them), owners set now when
 * root, device nodes made now. Nothing here touches the root; planning the
 * operations, crash points and the journal stay on the main thread, in
 * package order.
 */
import { MinosError } from '../errors.js';
import type { PackageSink } from '../pkg/read.js';
import { readDeb } from '../debian/deb.js';
import { readPackageVia } from '../privsep/read.js';
import type { ReaderSet } from '../privsep/spawn.js';
import { checkIndexEntry } from '../repo/index.js';
import type { Keyring } from '../repo/keys.js';
import type { FileEntry, IndexPackage, Manifest } from '../types.js';
import { directWriter } from '../unpack/fswriter.js';
import { nodeSink } from '../unpack/sink.js';
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

export function stageOne(job: StageJob, oldEntries: OldEntries): StageResult {
  const users = job.users;
  const groups = job.groups;
  const fixups: { path: string; e: FileEntry }[] = [];
  const warnings: string[] = [];
  let counter = 0;
  let manifest: Manifest | undefined;
  let skipSame = true;
  const { file, newDir, prefix, chown, want } = job;
  const w = directWriter();
  let r: { sha256: string };
  let deb: StageResult['deb'];
  const nodes = nodeSink(w, {
    // A folder is the planner's to make; a file equal to the installed one is not staged (the reader still hashes its bytes).
    place: (e) => {
      if (e.type === 'dir') return undefined;
      const old = oldEntries.get(e.path);
      if (skipSame && old && sameEntry(old, e)) return undefined;
      return `${newDir}/${prefix}${counter++}`;
    },
    fileMode: () => ({ mode: 0o600, final: false }),
    mtime: -1,
    ids: chown ? (e) => {
      const uid = users.get(e.owner);
      const gid = groups.get(e.group);
      return uid === undefined || gid === undefined ? undefined : { uid, gid };
    } : undefined,
    unowned: (path, e) => fixups.push({ path, e }),
    nodes: true,
    skipped: (e) => warnings.push(`/${e.path}: not running as root, device node of ${want.name} not created`),
  }, file);
  const sink: PackageSink = {
    ...nodes,
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
  };
  try {
  if (job.deb) {
    // A .deb has no manifest up front: every entry is staged (a hardlink's target must be).
    skipSame = false;
    const d = readDeb(file, { expect: job.expect!, entry: job.deb.entry, signer: job.deb.signer, sink });
    manifest = d.manifest;
    r = d;
    deb = { control: Buffer.from(d.manifestBytes).toString('utf8'), members: d.members };
  } else r = readPackageVia(job.readers, file, { keyring: job.keyring, expect: job.expect, sink });
  } finally {
    w.abort();
  }
  if (job.cacheSha256 !== undefined && r.sha256 !== job.cacheSha256) {
    throw new MinosError('MN0205', `${file}: sha256 is ${r.sha256}, expected ${job.cacheSha256}`, { data: { file } });
  }
  const staged = [...nodes.made].map(([path, p]): [string, string] => [path, p.slice(newDir.length + 1)]);
  return { manifest: manifest!, sha256: r.sha256, staged, regular: nodes.files.length, unsynced: nodes.files, fixups, warnings, ...(deb ? { deb } : {}) };
}
