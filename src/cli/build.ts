import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createUnpackPool, type UnpackPool } from '../unpack/pool.js';
import { buildImage, type BuildEvent } from '../build.js';
import { MinosError } from '../errors.js';
import { buildOciImage } from '../buildoci.js';
import { COMPRESSIONS, FORMATS, formatOfPath, isOci, loadImageSpec, type ImageSpec, type LayerCompression, type OutputFormat } from '../spec/image.js';
import { yamlError } from '../spec/yaml.js';
import { checkOutput, removeOwnTemps, sweepStale } from '../target/place.js';
import { sbomPathFor } from '../build.js';
import { formatBytes, sourceDateEpoch, zstdLevel } from './common.js';
import type { Io } from './io.js';
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

interface BuildFlags {
  force?: boolean; out?: string; format?: string; arch?: string; lock?: string; frozen?: boolean; update?: boolean; allowExpired?: boolean;
  level: string; compression?: string; json?: boolean;
}

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
    .option('--level <n>', 'zstd level for tar.zst output and zstd OCI layers, 1-19', '3')
    .option('--compression <c>', `OCI layer compression: ${COMPRESSIONS.join(' or ')} (default: the spec's output.compression, else gzip)`)
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
  if (opts.compression !== undefined && !(COMPRESSIONS as readonly string[]).includes(opts.compression)) {
    throw new MinosError('MN0002', `--compression ${opts.compression}: expected one of ${COMPRESSIONS.join(', ')}`);
  }
  if (opts.compression !== undefined && !isOci(format)) throw new MinosError('MN0002', `--compression applies to the oci and oci.tar formats, not ${format}`);
  if (spec.arches.length > 1 && opts.arch === undefined && !isOci(format)) {
    throw yamlError(spec.src, ['arch'], `several architectures make one OCI image index: build with --format oci or oci.tar (or -o NAME.oci), not ${format}, or pick one with --arch`);
  }
  const lockFile = resolve(opts.lock ?? `${out}.lock.json`);
  checkOutput(out, { specFile: resolve(specFile), force: opts.force });
  sweepStale(out, lockFile, sbomPathFor(lockFile));
  // Ctrl-C or a TERM: this build's temporary files go, then exit 128 + signal as a shell reports it.
  const stop = (signal: NodeJS.Signals, status: number) => {
    removeOwnTemps(out, lockFile, sbomPathFor(lockFile));
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
  const progress = io.isTTY && !opts.json;
  const onEvent = (e: BuildEvent) => {
    if (e.type === 'warning') io.err(`minos: warning: ${e.message}`);
    else if (!progress) return;
    else if (e.type === 'resolved') io.progress?.(`resolved ${e.packages} packages${e.frozen ? ' (frozen)' : ''}`);
    else if (e.type === 'package') io.progress?.(`[${e.index}/${e.total}] ${e.name} ${e.version}  ${formatBytes(e.bytes)} unpacked`);
    else if (e.type === 'writing') io.progress?.(`writing ${e.format}`);
  };
  const r = await (isOci(format) ? buildOciImage : buildImage)({
    spec, out, format, arch: archOption(opts.arch), lockFile, frozen: opts.frozen, update: opts.update, allowExpired: opts.allowExpired,
    level: zstdLevel(opts.level), sourceDateEpoch: sourceDateEpoch(), cacheDir: cacheDir(), tool: `minos-${io.version}`, onEvent, unpackPool,
    compression: opts.compression as LayerCompression | undefined,
  });
  if (progress) io.progress?.('');
  if (opts.json) {
    io.out(JSON.stringify({ out: r.out, format: r.format, arch: r.arch, ...(r.arches ? { arches: r.arches } : {}), packages: r.packages, entries: r.entries, bytes: r.bytes, mtime: r.mtime, lock: r.lockFile, sbom: r.sbomFile, deferred: r.deferred }));
  } else {
    io.out(`${r.out}: ${r.format} image of ${r.packages.length} packages for ${(r.arches ?? [r.arch]).join(', ')}, ${r.entries} entries, ${formatBytes(r.bytes)}`);
    io.out(`lockfile ${r.lockFile}, SBOM ${r.sbomFile}`);
  }
}

