/**
 * Safe outputs for `minos build`: where the temporary files go, which OUT may
 * be replaced, and replacing it so that the old or the new output exists in
 * full at every instant.
 *
 * Every temporary file of a build is beside OUT, named `.BASE.minos-KIND-PID`
 * (BASE = OUT's file name), and the lockfile and SBOM are written through
 * `FILE.tmp-PID`: a later build removes those whose process is gone, and a
 * build interrupted by SIGINT or SIGTERM removes its own before exiting.
 *
 * A file replaces a file by rename(2), which is atomic. Any other replacement
 * (a folder, or a change of kind) is a swap without renameat2(RENAME_EXCHANGE),
 * which Node cannot call: the marker `.BASE.minos-swap` naming both sides is
 * written durably first, then OUT is renamed aside and the new output renamed
 * to OUT. Between the two renames OUT is absent but the old and the new
 * output are each complete under their temporary names, and the marker says
 * which is which; the next build (recoverSwap) finishes the move before
 * anything else, so a SIGKILL at any point ends in the old or the new output.
 */
import { lstatSync, readSync, closeSync, openSync, constants, type Stats } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { openTarget, type Confined } from '../confine.js';
import { ioError, MinosError } from '../errors.js';
import { crashPoint } from '../live/journal.js';
import type { OutputFormat } from '../spec/image.js';

export interface BuildTemps {
  /** The staging folder (a directory output is renamed from here). */
  stage: string;
  /** Unpacked packages before they are merged into the stage. */
  pkgs: string;
  /** An archive output before it is renamed to OUT. */
  file: string;
  /** An OCI layout while it is written (renamed to OUT, or archived into `file`). */
  oci: string;
  /** The previous OUT while a swap is under way. */
  old: string;
  /** The swap marker (no pid: one swap per OUT at a time). */
  marker: string;
}

const TEMP_KINDS = /^\.(.+)\.minos-(tmp|out|old|oci|gone)-([0-9]+)(\.pkgs)?$/;

/** The temporary names of a build of `out` by process `pid`. */
export function buildTemps(out: string, pid = process.pid): BuildTemps {
  const dir = dirname(out);
  const base = basename(out);
  const stage = join(dir, `.${base}.minos-tmp-${pid}`);
  return {
    stage, pkgs: `${stage}.pkgs`, file: join(dir, `.${base}.minos-out-${pid}`), oci: join(dir, `.${base}.minos-oci-${pid}`),
    old: join(dir, `.${base}.minos-old-${pid}`), marker: join(dir, `.${base}.minos-swap`),
  };
}

/** The temporary name a lockfile or SBOM `file` is written through. */
export function tempBeside(file: string, pid = process.pid): string {
  return `${file}.tmp-${pid}`;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Run `fn` with the folder holding OUT opened as a confined target: every
 * name beside OUT is looked up in that one folder, never through a link.
 */
function beside<T>(out: string, fn: (d: Confined, name: (p: string) => string) => T): T {
  const d = openTarget(dirname(out));
  try {
    return fn(d, (p) => basename(p));
  } finally {
    d.close();
  }
}

function remove(d: Confined, name: string): void {
  try {
    d.rmTree(name);
  } catch (e) {
    throw ioError(e, d.abs(name));
  }
}

/**
 * Finish a swap a killed build left half done: OUT missing → the new output
 * if it is still there, else the old one, is renamed to OUT. Then the side
 * that lost is removed with the marker.
 */
export function recoverSwap(out: string): void {
  beside(out, (d, name) => {
    const marker = name(buildTemps(out).marker);
    const o = name(out);
    let m: { old?: unknown; new?: unknown } | undefined;
    try {
      const text = d.readFile(marker, 4096)?.toString('utf8');
      m = text === undefined ? undefined : (JSON.parse(text) as { old?: unknown; new?: unknown });
    } catch {
      m = {}; // garbage: written by no finished swap; the stale temps go below
    }
    if (m === undefined) return;
    const side = (v: unknown) => (typeof v === 'string' && TEMP_KINDS.test(v) && !v.includes('/') ? v : undefined);
    const oldSide = side(m.old);
    const newSide = side(m.new);
    try {
      if (!d.exists(o)) {
        if (newSide && d.exists(newSide)) d.rename(newSide, o);
        else if (oldSide && d.exists(oldSide)) d.rename(oldSide, o);
      }
      d.fsyncDir('');
      d.unlink(marker);
    } catch (e) {
      throw ioError(e, out);
    }
    if (oldSide) remove(d, oldSide);
  });
}

/** Remove what earlier builds of `out` (and its lockfile) left behind, after recovering a swap. */
export function sweepStale(out: string, lockFile: string, sbomFile: string): void {
  recoverSwap(out);
  const dirs: [string, (name: string) => number | undefined][] = [
    [dirname(out), (name) => {
      const m = TEMP_KINDS.exec(name);
      return m && m[1] === basename(out) ? Number(m[3]) : undefined;
    }],
  ];
  for (const f of [lockFile, sbomFile]) {
    const prefix = `${basename(f)}.tmp-`;
    dirs.push([dirname(f), (name) => (name.startsWith(prefix) && /^[0-9]+$/.test(name.slice(prefix.length)) ? Number(name.slice(prefix.length)) : undefined)]);
  }
  for (const [dir, pidOf] of dirs) {
    let d: Confined;
    try {
      d = openTarget(dir);
      d.readdir('');
    } catch {
      continue; // no folder yet: nothing left behind
    }
    try {
      for (const name of d.readdir('')) {
        const pid = pidOf(name);
        if (pid !== undefined && !alive(pid)) remove(d, name);
      }
    } finally {
      d.close();
    }
  }
}

/** Remove every temporary file of this process's build of `out` (on SIGINT/SIGTERM and on failure). */
export function removeOwnTemps(out: string, lockFile: string, sbomFile: string): void {
  const t = buildTemps(out);
  // The folders worker threads write in (packages unpacked, the stage through a lent writer) are renamed
  // first: a thread still at work (the process exits after this) then fails to make anything more there,
  // instead of refilling a folder being removed. A name left behind is a stale temp sweepStale removes.
  const gone = join(dirname(out), `.${basename(out)}.minos-gone-${process.pid}`);
  const dirs = [[t.stage, gone], [t.pkgs, `${gone}.pkgs`]].map(([p, g]) => {
    try {
      beside(p, (d, name) => d.rename(name(p), name(g)));
      return g;
    } catch {
      return p; // none, or not renamed: removed where it is
    }
  });
  for (const p of [...dirs, t.file, t.oci, tempBeside(lockFile), tempBeside(sbomFile)]) {
    try {
      beside(p, (d, name) => d.rmTree(name(p)));
    } catch {
      // best effort on the way out
    }
  }
}

const MAGIC: Record<Exclude<OutputFormat, 'dir' | 'oci'>, (b: Buffer) => boolean> = {
  tar: (b) => b.length >= 263 && b.toString('latin1', 257, 262) === 'ustar',
  'oci.tar': (b) => b.length >= 263 && b.toString('latin1', 257, 262) === 'ustar',
  'tar.zst': (b) => b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528,
  'tar.gz': (b) => b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 8,
  'tar.xz': (b) => b.length >= 6 && b.toString('latin1', 0, 6) === '\xfd7zXZ\x00',
  cpio: (b) => b.toString('latin1', 0, 6) === '070701',
  squashfs: (b) => b.length >= 4 && b.readUInt32LE(0) === 0x73717368,
  erofs: (b) => b.length >= 1028 && b.readUInt32LE(1024) === 0xe0f5e1e2,
};

/** Is the existing file or folder at `out` (lstat `st`) something minos may replace without --force? */
function replaceable(out: string, st: Stats): boolean {
  if (st.isDirectory()) {
    let names: string[];
    try {
      names = beside(out, (d, name) => d.readdir(name(out)));
    } catch (e) {
      throw ioError(e, out);
    }
    if (names.length === 0) return true;
    // Every root minos builds carries its database; an OCI layout its marker file (looked up without following a link).
    const d = openTarget(out);
    try {
      return ['var/lib/minos/installed.json', 'oci-layout'].some((f) => d.lstat(f)?.isFile() === true);
    } finally {
      d.close();
    }
  }
  if (!st.isFile()) return false;
  if (st.size === 0) return true;
  const head = Buffer.alloc(1028); // erofs's magic is at 1024
  let fd: number;
  try {
    fd = openSync(out, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw ioError(e, out);
  }
  try {
    const n = readSync(fd, head, 0, head.length, 0);
    const b = head.subarray(0, n);
    return Object.values(MAGIC).some((is) => is(b));
  } finally {
    closeSync(fd);
  }
}

function within(inner: string, outer: string): boolean {
  const r = relative(outer, inner);
  return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !r.startsWith(sep));
}

export interface CheckOutputOptions {
  /** The spec file: its folder may not be replaced. */
  specFile: string;
  /** Replace an existing OUT that is not a previous minos output. */
  force?: boolean;
  cwd?: string;
}

/**
 * Refuse (MN0116, exit 2) an output path whose replacement would delete
 * what minos did not make: `/`, the current folder or one holding it, the
 * spec's folder or one holding it, anything under /proc, /sys or /dev (but
 * /dev/shm, a tmpfs), a
 * symbolic link, or an existing non-empty file or folder that is not a
 * previous minos output (unless `force`). `out` is absolute.
 */
export function checkOutput(out: string, opts: CheckOutputOptions): void {
  const refuse = (why: string, hint?: string) => new MinosError('MN0116', `${out}: ${why}`, { hint, data: { file: out } });
  if (out === '/' || out === dirname(out)) throw refuse('is the root folder, refusing to replace it');
  const cwd = opts.cwd ?? process.cwd();
  if (within(cwd, out)) throw refuse('is the current folder or holds it, refusing to replace it', 'give a new path, e.g. -o ./rootfs');
  if (within(dirname(opts.specFile), out)) throw refuse('holds the image spec, refusing to replace it', 'give a path outside the spec\'s folder, e.g. -o ./rootfs');
  // /dev/shm is a tmpfs for files like any other.
  const shm = out.startsWith('/dev/shm/');
  for (const pseudo of ['/proc', '/sys', '/dev']) if (within(out, pseudo) && !shm) throw refuse(`is under ${pseudo}, which holds no files`);
  const st = lstatSync(out, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isSymbolicLink()) {
    if (opts.force) return;
    throw refuse('is a symbolic link, refusing to replace it', 'remove it, or pass --force to replace the link itself');
  }
  if (!st.isFile() && !st.isDirectory()) throw refuse('exists and is neither a file nor a folder');
  if (opts.force || replaceable(out, st)) return;
  throw refuse(`exists and is not an output of minos build (not empty, no ${st.isDirectory() ? 'var/lib/minos/installed.json or oci-layout inside' : 'tar, zstd or cpio header'})`, 'remove it, choose another path, or pass --force to replace it');
}

/** Put the finished output `from` (a temp beside OUT) at `out`, atomically as the module comment says. */
export function placeOutput(from: string, out: string): void {
  if (dirname(from) !== dirname(out)) throw new MinosError('MN0001', `${from}: not beside ${out}`);
  beside(out, (d, name) => {
    const o = name(out);
    const f = name(from);
    const t = buildTemps(out);
    const was = d.lstat(o);
    const now = d.lstat(f);
    try {
      if (!now) throw Object.assign(new Error(`ENOENT: '${from}'`), { code: 'ENOENT' });
      if (!was || (was.isFile() && now.isFile()) || (was.isSymbolicLink() && now.isFile())) {
        d.rename(f, o);
        crashPoint();
        d.fsyncDir('');
        return;
      }
      d.writeFileAtomic(name(t.marker), Buffer.from(JSON.stringify({ old: basename(t.old), new: f })));
      crashPoint();
      d.rename(o, name(t.old));
      crashPoint();
      d.rename(f, o);
      crashPoint();
      d.fsyncDir('');
      d.unlink(name(t.marker));
      crashPoint();
      d.rmTree(name(t.old));
    } catch (e) {
      // Undo a swap that failed between its renames: the old output goes back.
      try {
        if (!d.exists(o) && d.exists(name(t.old))) d.rename(name(t.old), o);
        if (d.exists(o) && d.exists(name(t.marker))) d.unlink(name(t.marker));
      } catch {
        // the marker stays: the next build finishes the move
      }
      throw ioError(e, out);
    }
  });
}
