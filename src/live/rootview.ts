/**
 * The engine's view of a live root on disk (engine/target.ts): lstat, list
 * and hash, each through the confined root (confine.ts), so no lookup
 * follows a link: a node below a link or a file reads as absent (and the
 * journal, confined the same way, refuses to write there).
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, readSync } from 'node:fs';
import { confine } from '../confine.js';
import type { Kind, TargetView } from '../engine/target.js';
import { ioError } from '../errors.js';

export function rootView(root: string): TargetView {
  const c = confine(root);
  const buf = Buffer.allocUnsafe(1 << 20);
  return {
    kind: (path): Kind | undefined => {
      const st = c.lstat(path);
      if (!st) return undefined;
      return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    },
    hash: (path) => {
      const fd = c.open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
      try {
        const h = createHash('sha256');
        for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
        return h.digest('hex');
      } catch (e) {
        throw ioError(e, c.abs(path));
      } finally {
        closeSync(fd);
      }
    },
    list: (path) => c.readdir(path),
  };
}
