/**
 * Confined access to a target folder (a live root, a build's output
 * folder): every path is relative to the target and resolved one component
 * at a time without following a symbolic link, as openat(2) with
 * O_NOFOLLOW would, for reads and writes alike (docs/SECURITY.md).
 *
 * Node has no openat: the folder holding a path is opened O_PATH |
 * O_DIRECTORY | O_NOFOLLOW component by component from the target's own
 * descriptor, and the operation is applied to `/proc/PID/fd/N/NAME`, which
 * the kernel resolves in the folder that descriptor holds; a link or file
 * in place of a folder fails the open. Operations on the last component
 * never follow it (lstat, rename, unlink, rmdir, mkdir, link, symlink,
 * lchown, readlink), opens add O_NOFOLLOW, chmod goes through a descriptor
 * opened O_NOFOLLOW. Folder descriptors are cached; the cache forgets what
 * this module renames or removes and is dropped by `reset` (taking a
 * root's lock calls it). Without /proc the same checks are made with lstat
 * on each component before the operation.
 *
 * A link where a folder must be is MN0604; a `..`, `.` or empty component,
 * or an absolute path, MN0207. Other failures are the OS error (its `code`
 * kept) naming the path inside the target, never the /proc one.
 */
import { closeSync, constants, existsSync, fstatSync, fsyncSync, linkSync, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync, chmodSync, type Stats } from 'node:fs';
import { MinosError } from './errors.js';
import { mkdirpIn, readFileIn, writeFileAtomicIn } from './confinefile.js';

/** O_PATH (Linux; the same value on x86, arm, aarch64 and riscv): a descriptor that only names a node. */
const O_PATH = (constants as Record<string, number>).O_PATH ?? 0o10000000;
const DIR_FLAGS = O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/**
 * Folder descriptors kept per target; when full, all are dropped and the
 * lookups start again from the target. Small on purpose: the first lookup
 * of each descriptor number in /proc/self/fd costs the kernel an inode
 * (about 30 µs), so a few numbers reused serve better than one per folder;
 * operations come sorted by path, so a folder's files follow each other.
 * Dropping all keeps the invariant forget() relies on: a cached folder's
 * folders above it are cached too.
 */
const CACHE_LIMIT = 64;

/**
 * Whether /proc is there (MINOS_CONFINE_PROC=0, a test hook, forces the
 * lstat fallback), and where descriptors are named: /proc/PID/fd when
 * /proc/self is this process (one link fewer per lookup), else /proc/self/fd.
 */
let FD = '/proc/self/fd';
const PROC = (() => {
  if (process.env.MINOS_CONFINE_PROC === '0') return false;
  try {
    if (!existsSync('/proc/self/fd')) return false;
    if (readlinkSync('/proc/self') === String(process.pid)) FD = `/proc/${process.pid}/fd`;
    return true;
  } catch {
    return false;
  }
})();

export interface Confined {
  readonly root: string;
  /** `root/rel`, for messages. */
  abs(rel: string): string;
  /** The node itself; undefined when it, or a folder on its way, is missing, not a folder or a link. */
  lstat(rel: string): Stats | undefined;
  exists(rel: string): boolean;
  readdir(rel: string): string[];
  readlink(rel: string): string;
  /** A regular file's bytes (at most `max`, else MN0003 naming the cap); undefined when absent. */
  readFile(rel: string, max: number): Buffer | undefined;
  open(rel: string, flags: number, mode?: number): number;
  mkdir(rel: string, mode: number): void;
  /** mkdir -p: each missing folder is made with `mode`; a link or file on the way is refused. */
  mkdirp(rel: string, mode: number): void;
  rename(from: string, to: string): void;
  link(existing: string, rel: string): void;
  symlink(target: string, rel: string): void;
  unlink(rel: string): void;
  rmdir(rel: string): void;
  /** The mode of the node itself; a symbolic link is refused (MN0604). */
  chmod(rel: string, mode: number): void;
  lchown(rel: string, uid: number, gid: number): void;
  /** Remove a node and everything under it (never following a link); absent is fine. Iterative: any depth. */
  rmTree(rel: string): void;
  /** Temp file `REL.new-PID`, fsync, rename over REL, fsync the folder. */
  writeFileAtomic(rel: string, data: Uint8Array, mode?: number): void;
  fsyncDir(rel: string): void;
  reset(): void;
  /** Close every descriptor, the target's own too (a handle from openTarget). */
  close(): void;
}

/** Check a target-relative path: MN0207 for an absolute path or an empty, `.` or `..` component. */
const BAD_REL = /^\/|\/$|\/\/|(^|\/)\.\.?(\/|$)/;

export function checkRel(rel: string): void {
  if (BAD_REL.test(rel)) {
    throw new MinosError('MN0207', `${JSON.stringify(rel)}: not a plain path inside the target`, { data: { path: rel } });
  }
}

const split = (rel: string): [string, string] => {
  const i = rel.lastIndexOf('/');
  return i < 0 ? ['', rel] : [rel.slice(0, i), rel.slice(i + 1)];
};

export function linkError(abs: string): MinosError {
  return new MinosError('MN0604', `${abs}: is a symbolic link where a folder must be; minos never follows a link inside a root it changes`, {
    hint: 'replace the link by a real folder (or remove it) and run the command again',
    data: { file: abs },
  });
}

const handles = new Map<string, Confined>();

/** The confined handle of target folder `root` (absolute, its own path trusted as given): one per path and process. */
export function confine(root: string): Confined {
  let h = handles.get(root);
  if (!h) handles.set(root, (h = openTarget(root)));
  return h;
}

/** A handle of its own for a folder that may be replaced later (a build's output folder): the caller closes it. */
export function openTarget(root: string): Confined {
  return open(root);
}

function open(root: string): Confined {
  const abs = (rel: string) => (rel === '' ? root : root === '/' ? `/${rel}` : `${root}/${rel}`);
  /** Folder path → descriptor. */
  const cache = new Map<string, number>();
  /**
   * Descriptors dropped from the cache, closed at the next drop (the
   * operation under way may still name one) except `pinned`, the folder
   * of a rename's or link's first path while its second is looked up.
   */
  let spare: number[] = [];
  let pinned: number | undefined;
  let lastFd: number | undefined;
  /** Without /proc: folders checked with lstat (same invalidation as the cache). */
  const checked = new Set<string>();
  let rootFd: number | undefined;

  const closeSpare = () => {
    const keep = spare.filter((fd) => fd === pinned);
    for (const fd of spare) if (fd !== pinned) closeSync(fd);
    spare = keep;
  };
  /** Rethrow an OS error with the path inside the target instead of the /proc one. */
  const sys = <T>(rel: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err && typeof err.code === 'string' && /^E[A-Z]/.test(err.code)) {
        const out = new Error(`${err.code}: ${err.message.replace(/^[A-Z0-9]+: /, '').replace(/, [a-z]+ '.*$/, '')}, '${abs(rel)}'`) as NodeJS.ErrnoException;
        out.code = err.code;
        out.errno = err.errno;
        out.syscall = err.syscall;
        out.path = abs(rel);
        throw out;
      }
      throw e;
    }
  };
  const fail = (code: string, rel: string): never => {
    const e = new Error(`${code}: '${abs(rel)}'`) as NodeJS.ErrnoException;
    e.code = code;
    e.path = abs(rel);
    throw e;
  };

  /** A prefix naming folder `dir` (relative) for one operation: `/proc/self/fd/N`, or the checked path. */
  const dirRef = (dir: string): string => {
    if (!PROC) {
      if (dir === '' || checked.has(dir)) return abs(dir);
      let cur = '';
      for (const c of dir.split('/')) {
        cur = cur ? `${cur}/${c}` : c;
        if (checked.has(cur)) continue;
        const st = sys(cur, () => lstatSync(abs(cur)));
        if (st.isSymbolicLink()) throw linkError(abs(cur));
        if (!st.isDirectory()) fail('ENOTDIR', cur);
        checked.add(cur);
      }
      return abs(dir);
    }
    if (rootFd === undefined) rootFd = sys('', () => openSync(root, O_PATH | constants.O_DIRECTORY));
    if (dir === '') {
      lastFd = undefined;
      return `${FD}/${rootFd}`;
    }
    const hit = cache.get(dir);
    if (hit !== undefined) {
      lastFd = hit;
      return `${FD}/${hit}`;
    }
    // The deepest cached folder above `dir`, then one open per component below it.
    let cur = '';
    let fd = rootFd;
    for (let i = dir.lastIndexOf('/'); i > 0; i = dir.lastIndexOf('/', i - 1)) {
      const f = cache.get(dir.slice(0, i));
      if (f !== undefined) {
        cur = dir.slice(0, i);
        fd = f;
        break;
      }
    }
    for (const part of (cur ? dir.slice(cur.length + 1) : dir).split('/')) {
      cur = cur ? `${cur}/${part}` : part;
      const at = `${FD}/${fd}/${part}`;
      let next: number;
      try {
        next = openSync(at, DIR_FLAGS);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOTDIR' || code === 'ELOOP') {
          const st = lstatSync(at, { throwIfNoEntry: false });
          if (st?.isSymbolicLink()) throw linkError(abs(cur));
        }
        return sys(cur, () => {
          throw e;
        });
      }
      if (cache.size >= CACHE_LIMIT) {
        closeSpare();
        for (const ofd of cache.values()) spare.push(ofd);
        cache.clear();
      }
      cache.set(cur, next);
      fd = next;
    }
    lastFd = fd;
    return `${FD}/${fd}`;
  };
  /** The path an operation on `rel` uses. */
  const at = (rel: string): string => {
    checkRel(rel);
    if (rel === '') return PROC ? `${dirRef('')}/.` : root;
    const [dir, name] = split(rel);
    return `${dirRef(dir)}/${name}`;
  };
  /** `rel` was removed (an empty folder, or not a folder): forget its own descriptor. */
  const forgetOne = (rel: string): void => {
    if (!PROC) {
      checked.delete(rel);
      return;
    }
    const fd = cache.get(rel);
    if (fd === undefined) return;
    spare.push(fd);
    cache.delete(rel);
  };
  /** `rel` and everything under it was moved or replaced: forget what was cached for it. */
  const forget = (rel: string): void => {
    const prefix = `${rel}/`;
    if (!PROC) {
      // Checked folders always have their folders above checked too.
      if (!checked.has(rel)) return;
      for (const k of [...checked]) if (k === rel || k.startsWith(prefix)) checked.delete(k);
      return;
    }
    // A cached folder has every folder above it cached: nothing under `rel` is cached unless `rel` is.
    if (!cache.has(rel)) return;
    for (const [k, fd] of cache) {
      if (k !== rel && !k.startsWith(prefix)) continue;
      spare.push(fd);
      cache.delete(k);
    }
  };
  const lstat = (rel: string): Stats | undefined => {
    try {
      return lstatSync(at(rel), { throwIfNoEntry: false });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (e instanceof MinosError && e.code === 'MN0604') return undefined;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    }
  };
  const chmod = (rel: string, mode: number) => {
    if (PROC) {
      // A folder (what minos changes modes of): its own descriptor, opened O_NOFOLLOW and kept for what goes into it next.
      let dir: string | undefined;
      try {
        checkRel(rel);
        dir = dirRef(rel);
      } catch {
        dir = undefined; // not a folder: looked at below
      }
      if (dir !== undefined) {
        sys(rel, () => chmodSync(dir, mode));
        return;
      }
    }
    const fd = sys(rel, () => openSync(at(rel), O_PATH | constants.O_NOFOLLOW));
    try {
      const st = fstatSync(fd);
      if (st.isSymbolicLink()) throw new MinosError('MN0604', `${abs(rel)}: is a symbolic link, its mode is not changed (the link is never followed)`, { data: { file: abs(rel) } });
      sys(rel, () => chmodSync(PROC ? `${FD}/${fd}` : abs(rel), mode));
    } finally {
      closeSync(fd);
    }
  };
  // The folder itself is opened like every folder on the way: a link in its place is refused.
  const readdir = (rel: string) => {
    checkRel(rel);
    return sys(rel, () => readdirSync(dirRef(rel)));
  };
  // An empty folder went: nothing under it is cached (what was, minos removed and forgot first).
  const rmdir = (rel: string) => {
    sys(rel, () => rmdirSync(at(rel)));
    forgetOne(rel);
  };
  const unlink = (rel: string) => sys(rel, () => unlinkSync(at(rel)));
  const fsyncDir = (rel: string) => {
    let fd: number;
    try {
      fd = openSync(at(rel), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch {
      return; // gone (or a link): nothing of ours to make durable
    }
    try {
      fsyncSync(fd);
    } catch (e) {
      if (!['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EBADF', 'EISDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) sys(rel, () => {
        throw e;
      });
    } finally {
      closeSync(fd);
    }
  };

  const h: Confined = {
    root,
    abs,
    lstat,
    exists: (rel) => lstat(rel) !== undefined,
    readdir,
    readlink: (rel) => sys(rel, () => readlinkSync(at(rel))),
    readFile: (rel, max) => readFileIn(h, rel, max),
    mkdirp: (rel, mode) => mkdirpIn(h, rel, mode),
    writeFileAtomic: (rel, data, mode = 0o644) => writeFileAtomicIn(h, rel, data, mode),
    open: (rel, flags, mode) => sys(rel, () => openSync(at(rel), flags | constants.O_NOFOLLOW, mode)),
    mkdir: (rel, mode) => sys(rel, () => mkdirSync(at(rel), { mode })),
    rename(from, to) {
      const a = at(from);
      pinned = lastFd;
      try {
        const b = at(to);
        sys(to, () => renameSync(a, b));
      } finally {
        pinned = undefined;
      }
      forget(from);
      forget(to);
    },
    link(existing, rel) {
      const a = at(existing);
      pinned = lastFd;
      try {
        const b = at(rel);
        sys(rel, () => linkSync(a, b));
      } finally {
        pinned = undefined;
      }
    },
    symlink: (target, rel) => sys(rel, () => symlinkSync(target, at(rel))),
    unlink,
    rmdir,
    chmod,
    lchown: (rel, uid, gid) => sys(rel, () => lchownSync(at(rel), uid, gid)),
    rmTree(rel) {
      checkRel(rel);
      const top = lstat(rel);
      if (!top) return;
      if (!top.isDirectory()) return unlink(rel);
      forget(rel);
      // Depth first in a loop, one level per stack entry: any depth. With /proc each folder is held
      // by a descriptor opened in its parent's; without, it is named by its checked path.
      const [d0, n0] = split(rel);
      const stack: { fd?: number; parent: string; name: string; rel: string }[] = [];
      const enter = (parent: string, name: string, r: string) => stack.push({ fd: PROC ? sys(r, () => openSync(`${parent}/${name}`, DIR_FLAGS)) : undefined, parent, name, rel: r });
      try {
        enter(PROC ? dirRef(d0) : abs(d0), n0, rel);
        while (stack.length) {
          const top = stack[stack.length - 1];
          if (top.fd === undefined) checked.delete(top.rel); // looked at again on every visit
          const here = top.fd !== undefined ? `${FD}/${top.fd}` : dirRef(top.rel);
          let sub: string | undefined;
          for (const name of sys(top.rel, () => readdirSync(here))) {
            const st = lstatSync(`${here}/${name}`, { throwIfNoEntry: false });
            if (st?.isDirectory()) {
              sub = name;
              break;
            }
            if (st) sys(`${top.rel}/${name}`, () => unlinkSync(`${here}/${name}`));
          }
          if (sub !== undefined) {
            enter(here, sub, `${top.rel}/${sub}`);
            continue;
          }
          stack.pop();
          if (top.fd !== undefined) closeSync(top.fd);
          sys(top.rel, () => rmdirSync(`${top.parent}/${top.name}`));
        }
      } finally {
        for (const e of stack) if (e.fd !== undefined) closeSync(e.fd);
      }
    },
    fsyncDir,
    reset() {
      closeSpare();
      for (const fd of cache.values()) closeSync(fd);
      cache.clear();
      checked.clear();
    },
    close() {
      h.reset();
      if (rootFd !== undefined) closeSync(rootFd);
      rootFd = undefined;
    },
  };
  return h;
}
