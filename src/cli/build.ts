import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createUnpackPool, type UnpackPool } from '../unpack/pool.js';
import { buildImage, type BuildEvent } from '../build.js';
import { MinosError } from '../errors.js';
import { FORMATS, formatOfPath, loadImageSpec, type ImageSpec, type OutputFormat } from '../spec/image.js';
import { checkOutput, removeOwnTemps, sweepStale } from '../target/place.js';
import { SQUASHFS_COMPRESSIONS, type SquashfsCompression } from '../target/squashfs.js';
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

interface BuildFlags { force?: boolean; out?: string; format?: string; arch?: string; lock?: string; frozen?: boolean; update?: boolean; allowExpired?: boolean; level: string; compression?: string; json?: boolean }

export function registerBuild(program: Command, io: Io): void {
  program
    .command('build')
    .description('build a root filesystem image from a spec, offline and reproducibly')
    .argument('<spec>', 'image spec YAML file')
    .option('-o, --out <path>', 'output path (default: the spec\'s output.path, else ./NAME)')
    .option('--format <format>', `one of ${FORMATS.join(', ')} (default: from the output's extension, else dir)`)
    .option('--arch <arch>', 'target architecture (default: the spec\'s)')
    .option('--lock <file>', 'lockfile to read and write (default: OUT.lock.json)')
    .option('--frozen', 'install exactly the locked packages, without resolving')
    .option('--update', 'ignore the lockfile\'s versions and resolve afresh')
    .option('--allow-expired', 'accept repository indexes past their expiry time')
    .option('--level <n>', 'zstd level for tar.zst and squashfs output, 1-19', '3')
    .option('--compression <algo>', `squashfs compression: ${SQUASHFS_COMPRESSIONS.join(' or ')} (default zstd)`)
    .option('--json', 'print a JSON summary')
    .option('--force', 'replace an existing OUT even if it is not an earlier minos output')
    .action(async (specFile: string, opts: BuildFlags) => {
      // Unpacking threads start while the spec and indexes are read: a worker's start-up is
      // ~60 ms of CPU before it can take a package. buildImage closes them if it does not need them.
      const unpackPool = createUnpackPool();
      try {
        await runBuild(specFile, opts, io, unpackPool);
      } finally {
        await unpackPool.close();
      }
    });
}

async function runBuild(specFile: string, opts: BuildFlags, io: Io, unpackPool: UnpackPool): Promise<void> {
  const spec = loadImageSpec(resolve(specFile));
  if (opts.format !== undefined && !(FORMATS as readonly string[]).includes(opts.format)) {
    throw new MinosError('MN0002', `--format ${opts.format}: expected one of ${FORMATS.join(', ')}`);
  }
  if (opts.frozen && opts.update) throw new MinosError('MN0002', '--frozen and --update contradict each other');
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
  if (opts.compression !== undefined && format !== 'squashfs') throw new MinosError('MN0002', `--compression applies to squashfs output, not ${format}`);
  const lockFile = resolve(opts.lock ?? `${out}.lock.json`);
  checkOutput(out, { specFile: resolve(specFile), force: opts.force });
  sweepStale(out, lockFile, sbomPathFor(out));
  // Ctrl-C or a TERM: this build's temporary files go, then exit 128 + signal as a shell reports it.
  const stop = (signal: NodeJS.Signals, status: number) => {
    removeOwnTemps(out, lockFile, sbomPathFor(out));
    io.err(`minos: interrupted by ${signal}, temporary files removed [MN0011]`);
    process.exit(status);
  };
  const onInt = () => stop('SIGINT', 130);
  const onTerm = () => stop('SIGTERM', 143);
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    await buildAndReport(spec, out, format, lockFile, opts, io, unpackPool);
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  }
}

async function buildAndReport(
  spec: ImageSpec, out: string, format: OutputFormat, lockFile: string, opts: BuildFlags, io: Io, unpackPool: UnpackPool,
): Promise<void> {
  const progress = createProgress(io, { enabled: io.isTTY && !opts.json });
  const onEvent = (e: BuildEvent) => {
    if (e.type === 'warning') {
      progress.clear();
      io.err(`minos: warning: ${e.message}`);
    } else if (e.type === 'resolved') progress.phase(`resolved ${e.packages} packages${e.frozen ? ' (frozen)' : ''}; fetching and unpacking`);
    else if (e.type === 'package') progress.step({ done: e.index, total: e.total, bytes: e.bytes, label: `${e.name} ${e.version}` });
    else if (e.type === 'writing') progress.phase(`writing ${e.format}`);
  };
  let r;
  try {
    r = await buildImage({
      spec, out, format, arch: archOption(opts.arch), lockFile, frozen: opts.frozen, update: opts.update, allowExpired: opts.allowExpired,
      level: zstdLevel(opts.level), compression: opts.compression as SquashfsCompression | undefined, sourceDateEpoch: sourceDateEpoch(), cacheDir: cacheDir(), tool: `minos-${io.version}`, onEvent, unpackPool,
    });
  } finally {
    progress.clear();
  }
  if (opts.json) {
    io.out(JSON.stringify({ out: r.out, format: r.format, arch: r.arch, packages: r.packages, entries: r.entries, bytes: r.bytes, mtime: r.mtime, lock: r.lockFile, sbom: r.sbomFile, deferred: r.deferred }));
  } else {
    io.out(`${r.out}: ${r.format} image of ${r.packages.length} packages for ${r.arch}, ${r.entries} entries, ${formatBytes(r.bytes)}`);
    io.out(`lockfile ${r.lockFile}, SBOM ${r.sbomFile}`);
  }
}

