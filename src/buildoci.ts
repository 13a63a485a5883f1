/**
 * OCI image builds: the image pipeline (build.ts) once per architecture,
 * each adding its image to one layout beside OUT, then the index, the
 * folder or its tar put in place, and one lockfile and one SBOM for every
 * architecture.
 *
 * With several architectures the lockfile's `arch` is the list and each
 * package names the image architectures that install it (`images`), so a
 * later build of one architecture keeps, or with --frozen installs, exactly
 * its own; the SBOM lists each package once (a noarch package shared by two
 * images included) and draws dependencies only within an architecture.
 */
import { MinosError } from './errors.js';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { buildImage, sbomPathFor, type BuildOptions, type BuildResult } from './build.js';
import { lockText, type LockedPackage, type Lockfile } from './lock.js';
import { makeSbom, type SbomPackage } from './sbom.js';
import type { Arch } from './depend.js';
import type { Locator } from './solve/solver.js';
import { createLayout, finishLayout, writeLayoutTar } from './target/oci.js';
import { buildTemps, placeOutput, tempBeside } from './target/place.js';

const keyOf = (p: { name: string; version: string; arch: string }, repo: string) => `${repo}\0${p.name}\0${p.version}\0${p.arch}`;

/** One lockfile for the images of `arches` (the lockfile of one architecture as it is). */
function mergeLocks(arches: readonly Arch[], locks: readonly Lockfile[]): Lockfile {
  if (locks.length === 1) return locks[0];
  const byKey = new Map<string, LockedPackage & { images: string[] }>();
  locks.forEach((l, k) => {
    for (const p of l.packages) {
      const had = byKey.get(keyOf(p, p.repo));
      if (had) had.images.push(arches[k]);
      else byKey.set(keyOf(p, p.repo), { ...p, images: [arches[k]] });
    }
  });
  // No resolution digest: a lockfile of several architectures is always resolved again (build.ts fromLock).
  const { resolved: _resolved, ...first } = locks[0];
  return { ...first, arch: [...arches], packages: [...byKey.values()] };
}

function mergeSbomParts(arches: readonly Arch[], parts: readonly SbomPackage[][]): SbomPackage[] {
  if (parts.length === 1) return parts[0];
  const byKey = new Map<string, SbomPackage & { images: string[] }>();
  parts.forEach((ps, k) => {
    for (const p of ps) {
      const had = byKey.get(keyOf(p.meta, p.repo));
      if (had) had.images.push(arches[k]);
      else byKey.set(keyOf(p.meta, p.repo), { ...p, images: [arches[k]] });
    }
  });
  return [...byKey.values()];
}

/** Build an OCI layout (`oci`) or oci-archive (`oci.tar`) at opts.out, for opts.arch or every architecture of the spec. */
export async function buildOciImage(opts: BuildOptions): Promise<BuildResult> {
  const { spec } = opts;
  const arches = opts.arch ? [opts.arch] : spec.arches;
  const temps = buildTemps(opts.out);
  const compression = opts.compression ?? spec.output?.compression ?? 'gzip';
  if (compression === 'xz') throw new MinosError('MN0002', 'OCI layers take gzip or zstd compression, not xz');
  const layout = createLayout(temps.oci, { compression, level: opts.level ?? (compression === 'gzip' ? 6 : 3), spec, tool: opts.tool });
  const sbomFile = opts.sbomFile ?? sbomPathFor(opts.out);
  try {
    const results: BuildResult[] = [];
    for (const [k, arch] of arches.entries()) {
      // The caller's early unpacking threads serve the first build, which closes them.
      results.push(await buildImage({ ...opts, arch, layout, unpackPool: k === 0 ? opts.unpackPool : undefined }));
    }
    finishLayout(layout);
    if (opts.format === 'oci') {
      placeOutput(layout.dir, opts.out);
    } else {
      writeLayoutTar(layout, temps.file);
      placeOutput(temps.file, opts.out);
      rmSync(layout.dir, { recursive: true, force: true });
    }
    const mtime = layout.mtime;
    const lock = mergeLocks(arches, results.map((r) => r.locked!.lock));
    const sbom = makeSbom({ image: spec.name, created: mtime, tool: opts.tool, packages: mergeSbomParts(arches, results.map((r) => r.locked!.sbom)) });
    writeFileSync(tempBeside(opts.lockFile), lockText(lock));
    writeFileSync(tempBeside(sbomFile), `${JSON.stringify(sbom, null, 2)}\n`);
    renameSync(tempBeside(opts.lockFile), opts.lockFile);
    renameSync(tempBeside(sbomFile), sbomFile);
    const packages = new Map<string, Locator>();
    for (const r of results) for (const l of r.packages) packages.set(keyOf(l, l.repo), l);
    return {
      out: opts.out, format: opts.format, arch: arches[0], arches, packages: [...packages.values()],
      entries: results.reduce((n, r) => n + r.entries, 0), bytes: results.reduce((n, r) => n + r.bytes, 0), mtime,
      lockFile: opts.lockFile, sbomFile, deferred: 0,
      resolution: results.every((r) => r.resolution === results[0].resolution) ? results[0].resolution : 'resolved',
      ahead: results.reduce((n, r) => n + r.ahead, 0),
    };
  } catch (e) {
    rmSync(layout.dir, { recursive: true, force: true });
    rmSync(temps.file, { force: true });
    for (const f of [opts.lockFile, sbomFile]) rmSync(tempBeside(f), { force: true });
    throw e;
  }
}
