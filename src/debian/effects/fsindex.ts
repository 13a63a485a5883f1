/**
 * The unpacked root as the effects see it: every package entry at its
 * canonical (merged-/usr) path, with symlinks resolved inside the root as a
 * chroot would. Built once from a RootView; read-only.
 */
import { MinosError, quote } from '../../errors.js';
import { canonicalPath, mergedDirs } from './usrmerge.js';
import type { DebFileEntry, RootView } from './types.js';
import { nameOf } from './types.js';

export interface IndexedEntry {
  entry: DebFileEntry;
  /** The package that ships it (the last one unpacked, as dpkg leaves it). */
  pkg: string;
}

export interface FsIndex {
  view: RootView;
  /** canonical path -> entry */
  entries: Map<string, IndexedEntry>;
  /** canonical folder -> names directly inside it, sorted */
  children(dir: string): string[];
  /** Resolve every symlink in PATH (absolute); undefined when it leaves the root through "..". */
  resolve(path: string): string;
  /** Bytes of a regular file at a canonical, resolved path. */
  read(path: string): Uint8Array | undefined;
  /** Some of them (RootView.readAt). */
  readAt(path: string, offset: number, length: number): Uint8Array | undefined;
}

/** An absolute path of non-empty names, none of them "." or "..": normalizePath leaves it as it is. */
const NORMAL = /^(?:\/(?!\.\.?(?:\/|$))[^/]+)+$/;

/** Normalize an absolute path: collapse "//" and ".", apply ".." (never above "/"). */
export function normalizePath(path: string): string {
  if (NORMAL.test(path)) return path;
  const out: string[] = [];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return `/${out.join('/')}`;
}

export function buildIndex(view: RootView): FsIndex {
  const entries = new Map<string, IndexedEntry>();
  const shipped = new Map<string, string>();
  const kids = new Map<string, Set<string>>();
  // A folder with a set of names is itself in its parent's: the walk up stops at the first one known.
  const addKid = (p: string) => {
    if (p === '/') return;
    const i = p.lastIndexOf('/');
    const parent = i === 0 ? '/' : p.slice(0, i);
    const s = kids.get(parent);
    if (s) {
      s.add(p.slice(i + 1));
      return;
    }
    kids.set(parent, new Set([p.slice(i + 1)]));
    addKid(parent);
  };
  for (const pkg of view.packages) {
    for (const e of pkg.files) {
      const c = canonicalPath(normalizePath(e.path), view.arch);
      entries.set(c, { entry: e, pkg: nameOf(pkg) });
      if (e.type === 'file' || e.type === 'hardlink') shipped.set(c, e.path);
      addKid(c);
    }
  }
  for (const d of mergedDirs(view.arch)) addKid(`/usr/${d}`);

  const resolve = (path: string): string => {
    let parts = normalizePath(path).split('/').filter(Boolean);
    let done = '';
    for (let hops = 0; parts.length > 0; ) {
      const next = canonicalPath(`${done}/${parts[0]}`, view.arch);
      const ent = entries.get(next);
      if (ent?.entry.type === 'symlink' && ent.entry.target !== undefined) {
        if (++hops > 40) throw new MinosError('MN0207', `${quote(path)}: too many levels of symbolic links in the root`, { data: { path } });
        const t = ent.entry.target;
        const base = t.startsWith('/') ? '' : done;
        parts = [...`${base}/${t}`.split('/').filter(Boolean), ...parts.slice(1)];
        done = '';
        parts = normalizePath(`/${parts.join('/')}`).split('/').filter(Boolean);
        continue;
      }
      done = next;
      parts = parts.slice(1);
    }
    return done || '/';
  };

  /** The path a package ships the file at canonical `p` under (a hardlink's: its target's). */
  const shippedAs = (p: string) => {
    const e = entries.get(p);
    if (!e) return undefined;
    if (e.entry.type === 'hardlink' && e.entry.target) return e.entry.target;
    return shipped.get(p);
  };
  return {
    view,
    entries,
    children: (dir) => [...(kids.get(dir) ?? [])].sort(),
    resolve,
    read: (p) => {
      const s = shippedAs(p);
      return s === undefined ? undefined : view.read(s);
    },
    readAt: (p, offset, length) => {
      const s = shippedAs(p);
      if (s === undefined) return undefined;
      return view.readAt ? view.readAt(s, offset, length) : view.read(s)?.subarray(offset, offset + length);
    },
  };
}
