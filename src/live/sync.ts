/**
 * Making writes durable: fsync of folders, and syncfs(2) of a whole file
 * system when many folders were touched.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { ioError } from '../errors.js';

/**
 * Make everything written so far durable. Many folders: one syncfs(2) of the
 * root's filesystem (`sync -f`), which is far cheaper than fsyncing each;
 * few, or when `sync -f` is unavailable: fsync each folder.
 */
export function syncDirs(root: string, dirs: Iterable<string>): void {
  const list = [...dirs];
  if (list.length > 16 && syncFs(root)) return;
  for (const d of list) fsyncDir(d);
}

let syncFsWorks: boolean | undefined;

/** syncfs(2) on the filesystem holding `path`, through coreutils/busybox `sync -f`. */
export function syncFs(path: string): boolean {
  if (syncFsWorks === false) return false;
  const r = spawnSync('sync', ['-f', path], { stdio: 'ignore' });
  syncFsWorks = r.status === 0;
  return syncFsWorks;
}

/** syncFs without waiting: the command runs while this thread goes on. */
export function syncFsAsync(path: string): Promise<boolean> {
  if (syncFsWorks === false) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn('sync', ['-f', path], { stdio: 'ignore' });
    child.on('error', () => {
      syncFsWorks = false;
      resolve(false);
    });
    child.on('close', (code) => {
      syncFsWorks = code === 0;
      resolve(syncFsWorks);
    });
  });
}

export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return; // gone: nothing to make durable
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    // Some filesystems refuse fsync on folders (nothing more to do there); a full disk or a failing device is an error.
    if (!['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EBADF', 'EISDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) throw ioError(e, dir);
  } finally {
    closeSync(fd);
  }
}
