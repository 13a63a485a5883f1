/**
 * The image pipeline, top to bottom:
 *   open + verify repositories → choose packages (choose.ts: solve, or take
 *   the lockfile) → fetch → verify + unpack each package into a stage beside
 *   the output → accounts, overlay, device configuration, installed database
 *   → write the target (dir | tar | tar.zst | cpio | squashfs | erofs) → rename into place →
 *   lockfile and SBOM. OCI images run this once per architecture into one
 *   layout (buildoci.ts).
 * Nothing appears at the output path unless every step succeeded.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { canonicalBytes } from './canonical.js';
import { DB_DIR, INSTALLED, dbBytes, type InstalledDb, type InstalledRecord } from './db/installed.js';
import { ioError, MinosError } from './errors.js';
import { lockText, readLock, type Lockfile } from './lock.js';
import { choosePackages, type Chosen } from './choose.js';
import { addOciImage, type OciLayout } from './target/oci.js';
import { manifestFilesJson } from './pkg/manifest.js';
import { checkIndexEntry } from './repo/index.js';
import { loadKeyring } from './repo/keys.js';
import { packageFile, type Repository } from './repo/source.js';
import { buildTemps, placeOutput, tempBeside } from './target/place.js';
import { makeSbom, type SbomPackage } from './sbom.js';
import type { Arch } from './solve/depend.js';
import type { PackageEvent, WarningEvent } from './engine/events.js';
import { recordOf, replaceSets } from './engine/owners.js';
import { parseRequest, type Locator } from './solve/solver.js';
import { isOci, type ImageSpec, type OutputFormat } from './spec/image.js';
import { accountFiles, collectAccounts, withFileAccounts } from './target/accounts.js';
import { completeDebianRoot, mergedUsrPath, prepareMergedUsr, type StagedDeb } from './debian/complete.js';
import { DEB_ARCH } from './debian/relations.js';
import { deferredFor, finishDirectory, resolveNodes, writeCpio, writeTar } from './target/output.js';
import { writeFsImage } from './target/fsimage.js';
import type { SquashfsCompression } from './target/squashfs.js';
import type { EntryType, FileEntry } from './types.js';
import { buildUnpackPool, createUnpackPool, type UnpackPool } from './unpack/pool.js';
import { earlyUnpack, presentFile, type EarlyUnpack } from './early.js';
import { workersPay } from './workers.js';
import type { UnpackJob, UnpackResult } from './unpack/extract.js';
import { directWriter, queuedWriter } from './unpack/fswriter.js';
import { addOwnFile, addParents, createStage, discardStage, mappedEntry, materialize, mergePackage, type Stage } from './engine/stage.js';

export type BuildEvent =
  | { type: 'resolved'; packages: number; frozen: boolean; fromLock: boolean }
  | PackageEvent
  | { type: 'writing'; format: OutputFormat }
  | WarningEvent;

export interface BuildOptions {
  spec: ImageSpec;
  /** Absolute output path. */
  out: string;
  format: OutputFormat;
  arch?: Arch;
  /** Absolute lockfile path. */
  lockFile: string;
  /** Write the (single-file) output to standard output; `out` then only places the temporary files. */
  stdout?: boolean;
  /** Where the SBOM goes; default OUT.spdx.json. */
  sbomFile?: string;
  /** Install exactly the locked set, without resolving. */
  frozen?: boolean;
  /** Ignore an existing lockfile's versions (re-resolve from scratch). */
  update?: boolean;
  allowExpired?: boolean;
  sourceDateEpoch?: number;
  /** Compression level: zstd for tar.zst and squashfs (default 3), gzip for tar.gz (default 6), xz for tar.xz and xz squashfs (default 6). */
  level?: number;
  /** squashfs compression (default zstd), or an OCI image's layer compression (default the spec's, else gzip). */
  compression?: SquashfsCompression;
  /** Where packages from http repositories are downloaded. */
  cacheDir: string;
  /** Tool name and version for the SBOM. */
  tool: string;
  onEvent?: (e: BuildEvent) => void;
  /**
   * Unpacking threads the caller started early (see cli/build.ts), used when
   * the packages are large enough to share out and closed otherwise.
   */
  unpackPool?: UnpackPool;
  /** Add the image to this OCI layout (buildoci.ts) instead of placing OUT, lockfile and SBOM: their parts come back in `locked`. */
  layout?: OciLayout;
}

export interface BuildResult {
  out: string;
  format: OutputFormat;
  arch: Arch;
  /** An OCI build's architectures (arch is the first). */
  arches?: Arch[];
  packages: Locator[];
  entries: number;
  bytes: number;
  mtime: number;
  lockFile: string;
  sbomFile: string;
  deferred: number;
  /** How the packages were chosen: resolved, taken as locked (the lockfile's resolution digest matched), or --frozen. */
  resolution: 'resolved' | 'locked' | 'frozen';
  /** Packages a worker thread began unpacking while the build read its indexes and resolved (early.ts). */
  ahead: number;
  /** With `layout`: the lockfile and SBOM's contents, for buildoci.ts to merge. */
  locked?: { lock: Lockfile; sbom: SbomPackage[] };
}

/** The SBOM sits beside the output whatever --lock says: OUT.spdx.json. */
export function sbomPathFor(out: string): string {
  return `${out}.spdx.json`;
}

/** Where the image's live commands find a repository: the spec's `device:`, else an http URL; never a build machine's folder. */
function deviceLocation(r: Repository['spec']): { url: string } | { path: string } | Record<string, never> {
  return r.device ?? (r.url ? { url: r.url } : {});
}

/** Copy an overlay folder over the stage: its entries replace whatever is there. */
function applyOverlay(stage: Stage, overlay: { path: string; owner: string; group: string }): number {
  const { owner, group } = overlay;
  let count = 0;
  const visit = (abs: string, rel: string) => {
    let names: string[];
    try {
      names = readdirSync(abs).sort();
    } catch (e) {
      throw ioError(e, abs, 'MN0101');
    }
    for (const name of names) {
      const a = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st: Stats = lstatSync(a);
      const old = stage.nodes.get(r);
      if (st.isDirectory()) {
        if (old && old.type !== 'dir') throw new MinosError('MN0601', `file conflict: overlay folder /${r} would replace a ${old.type} of ${old.pkg || 'the image'}`);
        if (!old) {
          addParents(stage, r);
          const dir = { path: r, type: 'dir' as EntryType, mode: st.mode & 0o7777, owner, group, size: 0, pkg: '' };
          materialize(stage, dir);
          stage.nodes.set(r, dir);
        }
        visit(a, r);
      } else if (st.isFile()) {
        addOwnFile(stage, r, readFileSync(a), st.mode & 0o7777, owner, group);
      } else if (st.isSymbolicLink()) {
        if (old?.type === 'dir') throw new MinosError('MN0601', `file conflict: overlay symlink /${r} would replace a folder`);
        if (old) rmSync(join(stage.root, r), { force: true });
        addParents(stage, r);
        const link = { path: r, type: 'symlink' as EntryType, mode: 0o777, owner, group, size: 0, target: readlinkSync(a), pkg: '' };
        materialize(stage, link);
        stage.nodes.set(r, link);
      } else {
        throw new MinosError('MN0104', `${a}: overlays may hold only files, folders and symlinks`, { data: { file: a } });
      }
      count++;
    }
  };
  visit(overlay.path, '');
  return count;
}

/**
 * The lockfile's and the SBOM's text for `chosen`, and the SBOM's path.
 * `resolved`: the resolution digest the lockfile carries, when chosen is
 * what resolving gives, not only what a lockfile said.
 * `found` holds the licenses found in the files of Debian packages, whose
 * metadata has none (see debian/copyright.ts); without it, no SBOM is made.
 */
function lockAndSbom(opts: BuildOptions, repos: Repository[], chosen: Chosen[], resolved: string | undefined, mtime: number, found?: Map<Chosen, string>): { lock: string; sbom?: string; sbomFile: string; lockData: Lockfile; parts?: SbomPackage[] } {
  const { spec } = opts;
  const lockData: Lockfile = {
    format: 1,
    image: spec.name,
    arch: opts.arch ?? spec.arch,
    repositories: repos.map((r) => ({ name: r.name, location: r.spec.url ?? basename(r.location), digest: r.loaded.digest, serial: r.loaded.index.serial })),
    packages: chosen.map((c) => ({ ...c.locator, file: c.entry.file, size: c.entry.size, sha256: c.entry.sha256 })),
  };
  if (resolved !== undefined) lockData.resolved = resolved;
  const parts = found && chosen.map((c) => ({
    meta: c.entry, repo: c.repo.name, sha256: c.entry.sha256, location: c.repo.spec.url ? `${c.repo.spec.url}/${c.entry.file}` : c.entry.file, license: found.get(c),
  }));
  const sbom = parts && makeSbom({ image: spec.name, created: mtime, tool: opts.tool, packages: parts });
  return { lock: lockText(lockData), sbom: sbom && `${JSON.stringify(sbom, null, 2)}\n`, sbomFile: opts.sbomFile ?? sbomPathFor(opts.out), lockData, parts };
}

/** What an unpack job finishes in a folder build's files: their final modes, and this mtime. */
function finishOf(opts: BuildOptions, mtime: number): UnpackJob['finish'] {
  return opts.format === 'dir' ? { mtime, umask: process.umask() } : undefined;
}

export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const { spec } = opts;
  const arch = opts.arch ?? spec.arch;
  if (isOci(opts.format) && !opts.layout) throw new MinosError('MN0001', 'OCI images are built by buildOciImage');
  const lock = existsSync(opts.lockFile) ? readLock(opts.lockFile) : undefined;
  if (opts.frozen && !lock) throw new MinosError('MN0101', `${opts.lockFile}: no lockfile to build --frozen from`, { data: { file: opts.lockFile } });
  if (opts.frozen && ![lock!.arch].flat().includes(arch)) throw new MinosError('MN0214', `${opts.lockFile}: locks ${[lock!.arch].flat().join(', ')}, not ${arch}`, { data: { file: opts.lockFile } });

  const temps = buildTemps(opts.out);
  const unpacked = temps.pkgs;
  // One fresh parent for every package's folder: a removal per package cost ~0.5 ms in its ENOENT error.
  rmSync(unpacked, { recursive: true, force: true });
  mkdirSync(unpacked, { mode: 0o700 });
  // An early job guesses the mtime from its own package's build date; one that guessed wrong (an older
  // repository's) is not taken, and its package is unpacked again with the rest (early.ts).
  const finish = (date: number) => finishOf(opts, opts.sourceDateEpoch ?? date);
  const early = opts.unpackPool && spec.repositories.some((r) => r.debian)
    ? earlyUnpack(opts.unpackPool, spec, unpacked, { files: presentFile(spec, opts.cacheDir), finish }) : undefined;
  try {
    return await buildChosen(opts, lock, temps, early);
  } catch (e) {
    await early?.settle();
    rmSync(unpacked, { recursive: true, force: true });
    throw e;
  }
}

async function buildChosen(opts: BuildOptions, lock: Lockfile | undefined, temps: ReturnType<typeof buildTemps>, early: EarlyUnpack | undefined): Promise<BuildResult> {
  const { spec } = opts;
  const emit = opts.onEvent ?? (() => {});
  const arch = opts.arch ?? spec.arch;
  const { repos, chosen, fromLockfile, requests, resolved } = await choosePackages(opts, arch, lock, early);
  emit({ type: 'resolved', packages: chosen.length, frozen: !!opts.frozen, fromLock: fromLockfile });

  // Every mtime: SOURCE_DATE_EPOCH, else the newest build date (the index carries the manifests' dates).
  const mtime = opts.sourceDateEpoch ?? Math.max(0, ...chosen.map((c) => c.entry.builddate));
  const stage = createStage(temps.stage);
  const unpacked = temps.pkgs;
  const tmpOut = opts.stdout ? '-' : temps.file;
  try {
    // Index metadata equals the manifests' (readPackage checks it below), so replaces are known up front.
    const sets = replaceSets(chosen.map((c) => c.entry));
    const records: InstalledRecord[] = [];
    // Debian packages land through merged-/usr and are completed by their scripts' effects (debian/complete.ts).
    const debArch = chosen.some((c) => c.repo.debian) ? DEB_ARCH[arch] : undefined;
    const debs: StagedDeb[] = [];
    // Each record's file list as its manifest wrote it, for the database (see dbBytes).
    const filesJson = new Map<InstalledRecord, Uint8Array>();
    const keyrings = new Map(repos.map((r) => [r.name, r.debian ? new Map() : loadKeyring(r.spec.keys)]));
    let bytes = 0;
    const pkgFiles: string[] = [];
    for (const c of chosen) pkgFiles.push(await packageFile(c.repo, c.entry, opts.cacheDir));
    const finish = finishOf(opts, mtime);
    // Packages a worker began while this thread resolved (early.ts); the others' early jobs are withdrawn or waited out.
    const ahead = chosen.map((c) => early?.take(c.repo.name, c.entry, finish));
    const settled = early?.settle();
    const dests = chosen.map((c, i) => ahead[i]?.dest ?? join(unpacked, `${i}-${c.locator.name}`));
    // A worker thread (this thread unpacks too) pays off once there is real decompression to share out.
    // Measured on bench/build.mjs, 2 cores, runs interleaved (median): 40 packages of ~1 MiB 1.03 s
    // with one worker against 1.26 s on this thread alone; 100 of ~120 KiB 0.76 s against 0.74 s, even
    // with the worker started early (see cli/build.ts). MINOS_UNPACK_WORKERS forces the number of threads.
    const total = chosen.reduce((n, c) => n + c.entry.size, 0);
    const big = process.env.MINOS_UNPACK_WORKERS !== undefined || workersPay(total, chosen.length) || ahead.some(Boolean);
    // Otherwise this thread unpacks everything and the early worker, if there is one, makes the
    // writes and hashes the files (see fswriter.ts): on build (a), interleaved (bench/ab.mjs, 12
    // runs), min/median 753/856 ms with the writes made here against 650/756 ms.
    const lending = big ? undefined : opts.unpackPool?.lend();
    // The lockfile's and SBOM's text, written at the end: made while a lent worker starts (this
    // thread would idle ~20-30 ms), else once the workers have their jobs (they would wait for it).
    // Licenses of Debian packages are found while unpacking: with any, the SBOM waits for them.
    const found = new Map<Chosen, string>();
    const knownLicenses = chosen.some((c) => c.repo.debian) ? undefined : found;
    let made = lending && lockAndSbom(opts, repos, chosen, resolved, mtime, knownLicenses);
    const lent = await lending;
    const writer = lent ? queuedWriter(lent) : directWriter();
    const pool = big ? (opts.unpackPool ?? buildUnpackPool()) : createUnpackPool(1, writer);
    if (!big) void opts.unpackPool?.close();
    // Largest packages first, so no core is left with a big one at the end; merged in name order below.
    const order = chosen.map((_, k) => k).filter((i) => !ahead[i]).sort((a, b) => chosen[b].entry.size - chosen[a].entry.size || a - b);
    const started = pool.runAll(order.map((i) => {
      const c = chosen[i];
      return {
        file: pkgFiles[i], keyring: keyrings.get(c.repo.name)!, expect: { size: c.entry.size, sha256: c.entry.sha256 }, dest: dests[i], finish,
        deb: c.repo.debian ? { entry: c.entry, signer: c.repo.debian.release.signer } : undefined,
      };
    }));
    const jobs: Promise<UnpackResult>[] = ahead.map((a) => a?.result as Promise<UnpackResult>);
    order.forEach((i, k) => (jobs[i] = started[k]));
    // Settle every job before leaving, so no worker writes into a folder being removed.
    jobs.forEach((j) => j.catch(() => {}));
    try {
      made ||= lockAndSbom(opts, repos, chosen, resolved, mtime, knownLicenses);
      if (debArch) prepareMergedUsr(stage);
      for (const [i, c] of chosen.entries()) {
        const r = await jobs[i];
        const m = r.manifest;
        checkIndexEntry(c.entry, m);
        const mapPath = c.repo.debian ? mergedUsrPath(debArch!) : undefined;
        mergePackage(stage, dests[i], m, { sets, finished: finish !== undefined, mapPath }, writer);
        bytes += m.installedSize;
        const rec = recordOf(m, c.repo.name, r.sha256, false);
        if (mapPath) {
          debs.push({ manifest: m, control: Buffer.from(r.manifestBytes).toString('utf8'), members: r.debMembers ?? {} });
          // The database records where each file is; the dpkg database keeps the shipped paths.
          rec.files = m.files.map((f) => mappedEntry(f, mapPath));
        }
        records.push(rec);
        const files = manifestFilesJson(r.manifestBytes);
        if (files) filesJson.set(rec, files);
        if (r.license !== undefined) found.set(c, r.license);
        emit({ type: 'package', name: m.name, version: m.version, index: i + 1, total: chosen.length, bytes });
      }
      writer.sync();
      if (made.sbom === undefined) made = lockAndSbom(opts, repos, chosen, resolved, mtime, found);
    } finally {
      await Promise.allSettled(jobs);
      await settled;
      await pool.close();
      await writer.close();
      rmSync(unpacked, { recursive: true, force: true });
    }
    // Every alternative of a request (`a | b`) counts as asked for: the one installed is explicit.
    const requested = new Set(requests.flatMap((p) => parseRequest(p).alts.map((a) => a.desc.name)));
    for (const rec of records) rec.explicit = requested.has(rec.name);
    let generated: FileEntry[] = [];
    if (debs.length) {
      const done = completeDebianRoot(stage, debs, { debArch: debArch!, epoch: mtime, declared: { users: spec.users, groups: spec.groups } });
      for (const w of done.warnings) emit({ type: 'warning', message: w.message });
      // A folder the scripts made a link is no longer the package's to verify (dpkg's own list keeps it).
      const gone = (p: string) => done.relinked.some((l) => p === l || p.startsWith(`${l}/`));
      if (done.relinked.length) for (const rec of records) rec.files = rec.files.filter((f) => !gone(f.path));
      generated = done.generated;
    }

    // Accounts: declared by packages and the spec; existing files from packages are the base.
    const declaredAccounts = collectAccounts([...records.map((r) => ({ name: r.name, users: r.users, groups: r.groups })), { name: '', users: spec.users, groups: spec.groups }]);
    const base = (p: string) => (stage.nodes.get(p)?.type === 'file' ? readFileSync(join(stage.root, p), 'utf8') : undefined);
    const files = accountFiles(declaredAccounts, { passwd: base('etc/passwd'), group: base('etc/group'), shadow: base('etc/shadow') });
    // Owners may also be accounts that only the files name (base-passwd's, a package's own /etc/group).
    const accounts = withFileAccounts(declaredAccounts, files);
    addOwnFile(stage, 'etc/passwd', files.passwd);
    addOwnFile(stage, 'etc/group', files.group);
    // A Debian root has /etc/shadow only when its packages made one (passwd's shadowconfig), or accounts are declared.
    if (!debs.length || base('etc/shadow') !== undefined || [...declaredAccounts.users.values()].some((u) => u.from !== '@')) {
      addOwnFile(stage, 'etc/shadow', files.shadow, accounts.groups.has('shadow') ? 0o640 : 0o600, 'root', accounts.groups.has('shadow') ? 'shadow' : 'root');
    }
    if (spec.overlay !== undefined) {
      if (!existsSync(spec.overlay.path) || !statSync(spec.overlay.path).isDirectory()) {
        throw new MinosError('MN0101', `${spec.file}: overlay ${spec.overlay.path} is not a folder`, { data: { file: spec.file } });
      }
      applyOverlay(stage, spec.overlay);
    }

    // What the device needs to manage itself: repositories, trusted keys, serials seen.
    const keyFiles = new Map<string, string>();
    const keyrings2: [string, Buffer][] = [];
    const repoConfig = repos.map((r) => {
      if (r.debian) {
        // The live commands read the same keyrings, copied into the image.
        const names = [`${r.name}.gpg`];
        keyrings2.push([names[0], Buffer.concat(r.debian.keys.map((k) => Buffer.from(k.write())))]);
        return { name: r.name, ...deviceLocation(r.spec), priority: r.priority, keys: [], debian: { ...r.spec.debian!, keyrings: names } };
      }
      const ids = [...keyrings.get(r.name)!.values()].map((k) => {
        keyFiles.set(k.id, k.key.export({ type: 'spki', format: 'pem' }) as string);
        return k.id;
      });
      return { name: r.name, ...deviceLocation(r.spec), priority: r.priority, keys: ids.sort() };
    });
    addOwnFile(stage, 'etc/minos/repositories.json', `${JSON.stringify(JSON.parse(canonicalBytes(repoConfig.sort((a, b) => (a.name < b.name ? -1 : 1))).toString()), null, 2)}\n`);
    for (const [id, pem] of [...keyFiles].sort()) addOwnFile(stage, `etc/minos/keys/${id}.pub`, pem);
    for (const [name, bytes] of keyrings2) addOwnFile(stage, `etc/minos/keyrings/${name}`, bytes);
    addOwnFile(stage, `${DB_DIR}/serials.json`, canonicalBytes(Object.fromEntries(repos.map((r) => [r.name, r.loaded.index.serial]).sort())));

    // The database goes in last: its deferred list covers every node, itself included.
    const asRoot = process.getuid?.() === 0;
    const db: InstalledDb = { format: 1, world: [...spec.packages], packages: records, deferred: [], ...(generated.length ? { generated } : {}) };
    addOwnFile(stage, INSTALLED, '');
    if (opts.format === 'dir' && !asRoot) db.deferred = deferredFor(resolveNodes(stage, accounts), asRoot);
    addOwnFile(stage, INSTALLED, dbBytes(db, (r) => filesJson.get(r)));
    const nodes = resolveNodes(stage, accounts);
    if (db.deferred.length) {
      emit({ type: 'warning', message: `not running as root: ${db.deferred.length} owners and device nodes could not be applied; they are recorded in /${INSTALLED}` });
    }

    emit({ type: 'writing', format: opts.format });
    const outOpts = { accounts, mtime };
    if (opts.layout) {
      await addOciImage(opts.layout, stage, nodes, { ...outOpts, arch, scratch: tmpOut });
      discardStage(stage);
    } else if (opts.format === 'dir') {
      await finishDirectory(stage, nodes, { ...outOpts, asRoot });
      placeOutput(stage.root, opts.out);
    } else {
      if (opts.format === 'cpio') writeCpio(stage, nodes, tmpOut, outOpts);
      else if (opts.format === 'squashfs' || opts.format === 'erofs') writeFsImage(opts.format, stage, nodes, tmpOut, { mtime, compression: opts.compression, level: opts.level });
      else if (opts.format === 'tar.gz') writeTar(stage, nodes, tmpOut, { ...outOpts, gzip: opts.level ?? 6 });
      else if (opts.format === 'tar.xz') writeTar(stage, nodes, tmpOut, { ...outOpts, xz: opts.level ?? 6 });
      else writeTar(stage, nodes, tmpOut, { ...outOpts, level: opts.format === 'tar.zst' ? (opts.level ?? 3) : undefined });
      if (!opts.stdout) placeOutput(tmpOut, opts.out);
      discardStage(stage);
    }

    const { sbomFile } = made;
    if (!opts.layout) {
      writeFileSync(tempBeside(opts.lockFile), made.lock);
      writeFileSync(tempBeside(sbomFile), made.sbom!);
      renameSync(tempBeside(opts.lockFile), opts.lockFile);
      renameSync(tempBeside(sbomFile), sbomFile);
    }
    return {
      out: opts.out, format: opts.format, arch, packages: chosen.map((c) => c.locator), entries: nodes.length, bytes, mtime,
      lockFile: opts.lockFile, sbomFile, deferred: db.deferred.length, resolution: opts.frozen ? 'frozen' : fromLockfile ? 'locked' : 'resolved', ahead: ahead.filter(Boolean).length,
      locked: opts.layout && { lock: made.lockData, sbom: made.parts! },
    };
  } catch (e) {
    // The packages' folders go once no early job writes there any more (buildImage).
    discardStage(stage);
    if (!opts.stdout) rmSync(tmpOut, { force: true });
    for (const f of [opts.lockFile, opts.sbomFile ?? sbomPathFor(opts.out)]) rmSync(tempBeside(f), { force: true });
    throw e;
  }
}
