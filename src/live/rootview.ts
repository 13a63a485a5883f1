/** The engine's view of a live root on disk (engine/target.ts): lstat, read and hash, nothing else. */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import type { Kind, TargetView } from '../engine/target.js';
import { ioError } from '../errors.js';
import { under } from '../fsutil.js';

export function rootView(root: string): TargetView {
  const at = <T>(path: string, f: (abs: string) => T): T => {
    const abs = under(root, path);
    try {
      return f(abs);
    } catch (e) {
      throw ioError(e, abs);
    }
  };
  return {
    kind: (path) => at(path, (abs): Kind | undefined => {
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (!st) return undefined;
      return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    }),
    hash: (path) => at(path, (abs) => createHash('sha256').update(readFileSync(abs)).digest('hex')),
    list: (path) => at(path, (abs) => readdirSync(abs)),
  };
}
