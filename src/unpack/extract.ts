/**
 * Unpacking one package into a fresh folder of its own (verify + write), the
 * unit of work that runs on worker threads. The folder is new and written only
 * here, and every entry's parent is a directory this package listed before it
 * (the manifest guarantees it), so nothing can be redirected by a symlink.
 * Merging into the shared stage (conflicts, replaces) happens afterwards, in
 * package order, on the main thread: see stage.ts mergePackage.
 */
import { closeSync, fchmodSync, futimesSync, mkdirSync, rmSync } from 'node:fs';
import { writeAll } from '../fsutil.js';
import { readPackage, type ReadResult } from '../pkg/read.js';
import type { Keyring } from '../repo/keys.js';
import { materializeAt } from './stage.js';

export interface UnpackJob {
  file: string;
  keyring: Keyring;
  expect: { size: number; sha256: string };
  /** Folder to create and unpack into: must not exist, its parent must. */
  dest: string;
  /** Apply final file modes and this mtime through each file's descriptor; `umask` is the process's. */
  finish?: { mtime: number; umask: number };
}

export type UnpackResult = Omit<ReadResult, 'signer'> & { signer: string };

export function unpackPackage(job: UnpackJob): UnpackResult {
  mkdirSync(job.dest, { mode: 0o700 });
  let fd: number | undefined;
  let mode = 0;
  let chmod = false;
  const finish = job.finish;
  try {
    const r = readPackage(job.file, {
      keyring: job.keyring,
      expect: job.expect,
      sink: {
        begin(e) {
          // A plain mode the umask leaves intact is given at creation, saving an fchmod per
          // file (5,000 in build (a)); the folder is private (0700) while it is written.
          const direct = finish !== undefined && e.mode <= 0o777 && (e.mode & finish.umask) === 0;
          fd = materializeAt(job.dest, e, direct ? e.mode : 0o600);
          mode = e.mode;
          chmod = finish !== undefined && !direct;
        },
        data(chunk) {
          writeAll(fd!, chunk);
        },
        end() {
          if (fd === undefined) return;
          const f = fd;
          fd = undefined;
          try {
            if (finish) {
              if (chmod) fchmodSync(f, mode);
              futimesSync(f, finish.mtime, finish.mtime);
            }
          } finally {
            closeSync(f);
          }
        },
      },
    });
    return { ...r, signer: r.signer!.id };
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(job.dest, { recursive: true, force: true });
    throw e;
  }
}
