import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { buildUnpackPool, type UnpackPool } from '../unpack/pool.js';
import { lockedWork } from '../lock.js';
import { workersPay } from '../workers.js';
import { buildImage, type BuildEvent } from '../build.js';
import { MinosError } from '../errors.js';
import { buildOciImage } from '../buildoci.js';
import { formatOfPath, isOci, loadImageSpec, type ImageSpec } from '../spec/image.js';
import { FORMATS, SQUASHFS_COMPRESSIONS, type OutputFormat, type SquashfsCompression } from '../formats.js';
import { yamlError } from '../spec/yaml.js';
import { checkOutput, removeOwnTemps, sweepStale } from '../target/place.js';
import { sbomPathFor } from '../build.js';
import { formatBytes, sourceDateEpoch, zstdLevel } from './common.js';
import type { Io } from './io.js';
import { createProgress } from './progress.js';
import { archOption } from './plan.js';

/** The format an output path's extension implies, if any (the table is OUTPUT_EXTENSIONS). */
export function formatOf(path: string): OutputFormat | undefined {
  return formatOfPath(path);
}

/** minos's cache folder: $XDG_CACHE_HOME/minos, ~/.cache/minos, or a per-user folder under the temp dir. */
export function cacheBase(): string {
  const base = process.env.XDG_CACHE_HOME || (existsSync(homedir()) ? join(homedir(), '.cache') : join(tmpdir(), `minos-${process.getuid?.() ?? 0}`));
  return join(base, 'minos');
}

function cacheDir(): string {
  return join(cacheBase(), 'packages');
}

interface BuildFlags { force?: boolean; out?: string; format?: string; arch?: string; lock?: string; frozen?: boolean; update?: boolean; allowExpired?: boolean; level?: string; compression?: string; json?: boolean }

export function registerBuild(program: Command, io: Io): void {
  program
    .command('build')
    .description('build a root filesystem image from a spec, offline and reproducibly')
    .argument('<spec>', 'image spec YAML file')
    .option('-o, --out <path>', 'output path (default: the spec\'s output.path, else ./NAME); - writes a tar, tar.zst, tar.gz, tar.xz or cpio (--format) to standard output')
    .option('--format <format>', `one of ${FORMATS.join(', ')} (default: from the output's extension, else dir)`)
    .option('--arch <arch>', 'target architecture (default: the spec\'s)')
    .option('--lock <file>', 'lockfile to read and write (default: OUT.lock.json)')
    .option('--frozen', 'install exactly the locked packages, without resolving')
    .option('--update', 'ignore the lockfile\'s versions and resolve afresh')
    .option('--allow-expired', 'accept repository indexes past their expiry time')
    .option('--level <n>', 'compression level: zstd 1-19 for tar.zst, squashfs and zstd OCI layers (default 3), gzip 1-9 for tar.gz and gzip OCI layers (default 6), xz 0-9 for tar.xz and squashfs with --compression xz (default 6)')
    .option('--compression <algo>', `squashfs compression: ${SQUASHFS_COMPRESSIONS.join(' or ')} (default zstd); OCI layers: gzip or zstd (default: the spec's output.compression, else gzip)`)
    .option('--json', 'print a JSON summary')
    .option('--force', 'replace an existing OUT even if it is not an earlier minos output')
    .action(async (specFile: string, opts: BuildFlags) => {
      const held: Held = {};
      try {
        await runBuild(specFile, opts, io, held);
      } finally {
        await held.pool?.close();
      }
    });
}

/** The unpack threads a build started early, closed when the command ends. */
interface Held {
  pool?: UnpackPool;
}

/**
 * Start unpack threads now, while the indexes are read, when they will pay:
 * a thread's start-up is ~60 ms of CPU before it can take a package, so it
 * starts early when the lockfile's packages repay threads (workersPay) or,
 * without a lockfile, when a Debian source's Packages file is to be read (a
 * tenth of a second and more); otherwise buildImage starts threads once its
 * chosen packages show they pay, and closes early ones it does not need.
 * Measured on bench/build.mjs, 2 cores, runs interleaved: build (a), 100
 * small packages, 15 runs, 338 ms and 0.52 s of CPU with an early thread
 * (lent as this thread's writer) against 337 ms and 0.46 s with none; build
 * (b), 40 packages of ~3 MiB, 11 runs, 502 ms with the thread started early
 * against 511 ms started once the packages are chosen. On a busy machine
 * this thread works alone (buildUnpackPool).
 */
function startEarly(held: Held, spec: ImageSpec, lockFile: string, opts: BuildFlags): UnpackPool | undefined {
  const locked = lockedWork(lockFile, archOption(opts.arch) ?? spec.arch);
  const pays = locked ? workersPay(locked.bytes, locked.count) : spec.repositories.some((r) => r.debian !== undefined);
  if (process.env.MINOS_UNPACK_WORKERS !== undefined || pays) held.pool = buildUnpackPool();
  return held.pool;
}

async function runBuild(specFile: string, opts: BuildFlags, io: Io, held: Held): Promise<void> {
  const spec = loadImageSpec(resolve(specFile));
  if (opts.format !== undefined && !(FORMATS as readonly string[]).includes(opts.format)) {
    throw new MinosError('MN0002', `--format ${opts.format}: expected one of ${FORMATS.join(', ')}`);
  }
  if (opts.frozen && opts.update) throw new MinosError('MN0002', '--frozen and --update contradict each other');
  if (opts.out === '-') {
    await buildToStdout(spec, opts, io, held);
    return;
  }
  const out = resolve(opts.out ?? spec.output?.path ?? spec.name);
  let format = opts.format as OutputFormat | undefined;
  try {
    format ??= formatOf(out);
  } catch (e) {
    if (!spec.output?.format) throw e; // an unknown extension is fine when the spec names the format
  }
  format ??= spec.output?.format ?? 'dir';
  if (opts.compression !== undefined && !(SQUASHFS_COMPRESSIONS as readonly string[]).includes(opts.compression)) {
    throw new MinosError('MN0002', `--compression ${opts.compression}: expected one of ${SQUASHFS_COMPRESSIONS.join(', ')}`);
  }
  if (opts.compression !== undefined && format !== 'squashfs' && !isOci(format)) throw new MinosError('MN0002', `--compression applies to squashfs, oci and oci.tar output, not ${format}`);
  if (isOci(format) && opts.compression === 'xz') throw new MinosError('MN0002', '--compression xz applies to squashfs; OCI layers take gzip or zstd');
  const gzipLayer = isOci(format) && (opts.compression ?? spec.output?.compression ?? 'gzip') === 'gzip';
  const level = levelOption(format, opts, gzipLayer);
  checkArches(spec, format, opts);
  const lockFile = resolve(opts.lock ?? `${out}.lock.json`);
  checkOutput(out, { specFile: resolve(specFile), force: opts.force });
  sweepStale(out, lockFile, sbomPathFor(out));
  const unpackPool = startEarly(held, spec, lockFile, opts);
  await cleanOnSignal(io, () => removeOwnTemps(out, lockFile, sbomPathFor(out)), () => buildAndReport(spec, out, format, lockFile, opts, level, io, unpackPool));
}

/** Run `work`; Ctrl-C or a TERM meanwhile runs `cleanup`, says so, and exits 128 + signal as a shell reports it. */
async function cleanOnSignal<T>(io: Io, cleanup: () => void, work: () => Promise<T>): Promise<T> {
  const stop = (signal: NodeJS.Signals, status: number) => {
    cleanup();
    io.err(`minos: interrupted by ${signal}, temporary files removed [MN0011]`);
    process.exit(status);
  };
  const onInt = () => stop('SIGINT', 130);
  const onTerm = () => stop('SIGTERM', 143);
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    return await work();
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  }
}

/** A list `arch:` makes one OCI index: any other format, without --arch, is the spec's error. */
function checkArches(spec: ImageSpec, format: OutputFormat, opts: BuildFlags): void {
  if (spec.arches.length > 1 && opts.arch === undefined && !isOci(format)) {
    throw yamlError(spec.src, ['arch'], `several architectures make one OCI image index: build with --format oci or oci.tar (or -o NAME.oci), not ${format}, or pick one with --arch`);
  }
}

/** Formats `-o -` can stream: one file, written front to back. */
const STREAMABLE: readonly OutputFormat[] = ['tar', 'tar.zst', 'tar.gz', 'tar.xz', 'cpio'];

/** `--level` for `format`: gzip 1-9 (tar.gz, gzip OCI layers), xz 0-9 (tar.xz, squashfs with --compression xz), zstd 1-19. */
function levelOption(format: OutputFormat, opts: BuildFlags, gzipLayer: boolean): number | undefined {
  const s = opts.level;
  if (s === undefined) return undefined;
  if ((format === 'tar.gz' || gzipLayer) && !/^[1-9]$/.test(s)) throw new MinosError('MN0002', `--level ${s}: gzip takes 1 to 9`);
  if (format === 'tar.xz' || (format === 'squashfs' && opts.compression === 'xz')) {
    if (!/^[0-9]$/.test(s)) throw new MinosError('MN0002', `--level ${s}: xz takes 0 to 9`);
    return Number(s);
  }
  return zstdLevel(s);
}

/**
 * `-o -`: the image on standard output and nothing else there. The work
 * happens in a private temporary folder; the lockfile and SBOM are written
 * only with --lock FILE (the SBOM beside it: FILE without .lock.json, plus
 * .spdx.json); messages go to stderr.
 */
async function buildToStdout(spec: ImageSpec, opts: BuildFlags, io: Io, held: Held): Promise<void> {
  const format = opts.format as OutputFormat | undefined;
  if (!format || !STREAMABLE.includes(format)) {
    throw new MinosError('MN0002', `-o -: give --format ${STREAMABLE.join(', ')} (a ${format ?? 'folder'} cannot be streamed)`);
  }
  if (opts.compression !== undefined) throw new MinosError('MN0002', `--compression applies to squashfs, oci and oci.tar output, not ${format}`);
  const level = levelOption(format, opts, false);
  checkArches(spec, format, opts);
  if (process.stdout.isTTY) throw new MinosError('MN0002', '-o -: standard output is a terminal; redirect it to a file or a pipe');
  const scratch = mkdtempSync(join(tmpdir(), 'minos-stdout-'));
  const lockFile = opts.lock ? resolve(opts.lock) : join(scratch, 'image.lock.json');
  const sbomFile = opts.lock ? `${lockFile.replace(/\.lock\.json$/, '')}.spdx.json` : join(scratch, 'image.spdx.json');
  const dropScratch = () => rmSync(scratch, { recursive: true, force: true });
  const unpackPool = startEarly(held, spec, lockFile, opts);
  try {
    await cleanOnSignal(io, dropScratch, async () => {
      const r = await buildImage({
        spec, out: join(scratch, 'image'), stdout: true, sbomFile, format, arch: archOption(opts.arch), lockFile, frozen: opts.frozen, update: opts.update,
        allowExpired: opts.allowExpired, level, sourceDateEpoch: sourceDateEpoch(),
        cacheDir: cacheDir(), tool: `minos-${io.version}`, onEvent: (e) => e.type === 'warning' && io.err(`minos: warning: ${e.message}`), unpackPool,
      });
      const summary = { out: '-', format: r.format, arch: r.arch, packages: r.packages, entries: r.entries, bytes: r.bytes, mtime: r.mtime, lock: opts.lock ? r.lockFile : null, sbom: opts.lock ? r.sbomFile : null, deferred: r.deferred, resolution: r.resolution, unpackedAhead: r.ahead };
      io.err(opts.json ? JSON.stringify(summary) : `-: ${r.format} image of ${r.packages.length} packages for ${r.arch}, ${r.entries} entries, ${formatBytes(r.bytes)}${opts.lock ? `; lockfile ${r.lockFile}, SBOM ${r.sbomFile}` : ''}`);
    });
  } finally {
    dropScratch();
  }
}

async function buildAndReport(
  spec: ImageSpec, out: string, format: OutputFormat, lockFile: string, opts: BuildFlags, level: number | undefined, io: Io, unpackPool: UnpackPool | undefined,
): Promise<void> {
  const progress = createProgress(io, { enabled: io.isTTY && !opts.json });
  const onEvent = (e: BuildEvent) => {
    if (e.type === 'warning') {
      progress.clear();
      io.err(`minos: warning: ${e.message}`);
    } else if (e.type === 'resolved') progress.phase(`resolved ${e.packages} packages${e.frozen ? ' (frozen)' : e.fromLock ? ' (as locked)' : ''}; fetching and unpacking`);
    else if (e.type === 'package') progress.step({ done: e.index, total: e.total, bytes: e.bytes, label: `${e.name} ${e.version}` });
    else if (e.type === 'writing') progress.phase(`writing ${e.format}`);
  };
  let r;
  try {
    r = await (isOci(format) ? buildOciImage : buildImage)({
      spec, out, format, arch: archOption(opts.arch), lockFile, frozen: opts.frozen, update: opts.update, allowExpired: opts.allowExpired,
      level, compression: opts.compression as SquashfsCompression | undefined, sourceDateEpoch: sourceDateEpoch(), cacheDir: cacheDir(), tool: `minos-${io.version}`, onEvent, unpackPool,
    });
  } finally {
    progress.clear();
  }
  if (opts.json) {
    io.out(JSON.stringify({ out: r.out, format: r.format, arch: r.arch, ...(r.arches ? { arches: r.arches } : {}), packages: r.packages, entries: r.entries, bytes: r.bytes, mtime: r.mtime, lock: r.lockFile, sbom: r.sbomFile, deferred: r.deferred, resolution: r.resolution, unpackedAhead: r.ahead }));
  } else {
    io.out(`${r.out}: ${r.format} image of ${r.packages.length} packages for ${(r.arches ?? [r.arch]).join(', ')}, ${r.entries} entries, ${formatBytes(r.bytes)}`);
    io.out(`lockfile ${r.lockFile}, SBOM ${r.sbomFile}`);
  }
}

