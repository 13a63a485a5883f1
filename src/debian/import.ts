/**
 * Importing Debian packages: each `.deb` becomes a signed `.mpk` holding the
 * same files and the metadata its control file gives (debian/deb.ts reads
 * it, pkg/write.ts writes the package).
 *
 * Contract: `importDebs(files, opts)` reads every .deb (refusing one that is
 * not a well-formed Debian package with MN0110, exit 2, naming the file) and
 * writes NAME-VERSION-ARCH.mpk for each into `opts.outDir`, all or none: each
 * is written to a temp name beside its result and only when every file has
 * been read and written are they renamed into place; on failure the temps,
 * and `outDir` if this call made it, are removed. The payload is the
 * data.tar's entries, sorted by path; a group of hardlinks is rooted at its
 * first path in that order (the .mpk format needs the file before its
 * links); symlinks get mode 0o777. Build date: `sourceDateEpoch`, else the
 * newest mtime in data.tar, so the same .deb and key give the same bytes.
 */
import { closeSync, mkdtempSync, openSync, readSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareUtf8 } from '../canonical.js';
import { ioError, MinosError } from '../errors.js';
import { writeAll } from '../fsutil.js';
import type { SecretKey } from '../repo/keys.js';
import { writePackage, type PackResult, type PayloadItem } from '../pkg/write.js';
import type { FileEntry } from '../types.js';
import { readDeb } from './deb.js';

export interface ImportOptions {
  key: SecretKey;
  outDir: string;
  /** zstd level, 1..19; default 19. */
  level?: number;
  /** Seconds since the epoch for the build date and every mtime; default: the newest mtime in the .deb. */
  sourceDateEpoch?: number;
}

export interface ImportResult extends PackResult {
  /** The .deb it was made from. */
  deb: string;
}

const CHUNK = 1 << 20;

/** Refuse an output path that exists and is not a folder (MN0116); true when it must be made. */
function checkOutDir(dir: string): boolean {
  try {
    if (statSync(dir).isDirectory()) return false;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw ioError(e, dir);
  }
  throw new MinosError('MN0116', `${dir}: exists and is not a folder`, { hint: 'give a folder for the packages with -o', data: { file: dir } });
}

/**
 * The payload in .mpk order: sorted by path, each hardlink group rooted at
 * its first path (holding the content of the file it was in the .deb).
 */
export function payloadOrder(files: FileEntry[]): { entry: FileEntry; from?: string }[] {
  const byPath = new Map(files.map((e) => [e.path, e]));
  const groups = new Map<string, string[]>();
  for (const e of files) if (e.type === 'hardlink') groups.set(e.target!, [...(groups.get(e.target!) ?? [e.target!]), e.path]);
  const out = new Map<string, { entry: FileEntry; from?: string }>();
  for (const e of files) {
    if (e.type === 'file' || e.type === 'hardlink') continue;
    out.set(e.path, { entry: e.type === 'symlink' ? { ...e, mode: 0o777 } : e });
  }
  for (const e of files) {
    if (e.type !== 'file') continue;
    const members = (groups.get(e.path) ?? [e.path]).sort(compareUtf8);
    const root = members[0];
    out.set(root, { entry: { ...e, path: root }, from: e.path });
    for (const p of members.slice(1)) {
      const { path, owner, group, mode } = { ...byPath.get(p)!, owner: e.owner, group: e.group, mode: e.mode };
      out.set(p, { entry: { path, type: 'hardlink', mode, owner, group, size: 0, target: root } });
    }
  }
  return [...out.values()].sort((a, b) => compareUtf8(a.entry.path, b.entry.path));
}

/** Read one .deb, spooling file contents into `spool`, and write its package to a temp name. */
function importOne(file: string, opts: ImportOptions, spool: string): PackResult & { tmp: string } {
  const fd = openSpool(spool);
  try {
    const offsets = new Map<string, number>();
    let pos = 0;
    const r = readDeb(file, {
      signer: opts.key.id, malformed: 'MN0110',
      sink: {
        begin(e) {
          if (e.type === 'file') offsets.set(e.path, pos);
        },
        data(c) {
          writeAll(fd, c);
          pos += c.length;
        },
        end() {},
      },
    });
    const buf = Buffer.allocUnsafe(CHUNK);
    const items: PayloadItem[] = payloadOrder(r.manifest.files).map(({ entry, from }) => ({
      entry,
      content: from === undefined ? undefined : (each) => {
        let at = offsets.get(from)!;
        for (let left = entry.size; left > 0;) {
          const n = readSync(fd, buf, 0, Math.min(CHUNK, left), at);
          if (n === 0) throw new MinosError('MN0003', `${spool}: shorter than what was spooled`);
          each(buf.subarray(0, n));
          at += n;
          left -= n;
        }
      },
    }));
    const { format: _f, signer: _s, files: _files, ...meta } = r.manifest;
    if (opts.sourceDateEpoch !== undefined) meta.builddate = opts.sourceDateEpoch;
    return writePackage({ meta, items, key: opts.key, outDir: opts.outDir, level: opts.level, where: file, keepTemp: true });
  } finally {
    closeSync(fd);
  }
}

function openSpool(spool: string): number {
  try {
    return openSync(spool, 'w+', 0o600);
  } catch (e) {
    throw ioError(e, spool);
  }
}

export function importDebs(files: string[], opts: ImportOptions): ImportResult[] {
  const made = checkOutDir(opts.outDir);
  const done: (ImportResult & { tmp: string })[] = [];
  let work: string | undefined;
  try {
    try {
      work = mkdtempSync(join(tmpdir(), 'minos-import-'));
    } catch (e) {
      throw ioError(e, tmpdir());
    }
    for (const f of files) {
      const r = importOne(f, opts, join(work, 'spool'));
      const same = done.find((d) => d.file === r.file);
      if (same) {
        rmSync(r.tmp, { force: true });
        throw new MinosError('MN0002', `${f} and ${same.deb} are both ${r.manifest.name} ${r.manifest.version} ${r.manifest.arch}`, { data: { file: f } });
      }
      done.push({ ...r, deb: f });
    }
    for (const d of done) renameSync(d.tmp, d.file);
    return done.map(({ tmp: _t, ...r }) => r);
  } catch (e) {
    for (const d of done) rmSync(d.tmp, { force: true });
    if (made) {
      try {
        rmdirSync(opts.outDir);
      } catch {
        // not empty: something else wrote there meanwhile, so it stays
      }
    }
    throw e;
  } finally {
    if (work) rmSync(work, { recursive: true, force: true });
  }
}
