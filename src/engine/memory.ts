/**
 * The in-memory twin of a target: a file tree held in a Map, with the
 * kernel's path rules that matter to the engine (a symlink met before the
 * last component is followed; an absolute link, or `..` above the root,
 * leads outside), and the operations of target.ts applied with the live
 * journal's semantics (live/journal.ts), including the undo of pre ops.
 *
 * It exists so the engine's own tests can check install, upgrade, replace,
 * config protection and rollback without a file system, and can see what a
 * plan would do outside the target: every node written or removed out there
 * is recorded in `outside`, which a correct plan leaves empty.
 */
import { MinosError } from '../errors.js';
import type { InstalledDb } from '../db/installed.js';
import type { FileEntry, Manifest } from '../types.js';
import { planChanges, type Plan, type PlanEvent } from './plan.js';
import { sameEntry } from './owners.js';
import type { Kind, PostOp, PreOp, TargetView } from './target.js';

export interface MemNode {
  kind: Kind;
  mode: number;
  uid: number;
  gid: number;
  /** A file's content, as its sha256 (any string stands for bytes a user wrote). */
  content?: string;
  /** A symlink's target. */
  target?: string;
}

export interface MemoryTarget extends TargetView {
  /** Nodes inside the target, by root-relative path ('' is the root folder). */
  nodes: Map<string, MemNode>;
  /** Paths outside the target that an operation reached, with what it did there. */
  outside: string[];
  /** Staged nodes (a transaction's new/) and saved ones (old/). */
  staged: Map<string, MemNode>;
  saved: Map<string, MemNode>;
  /** Stage the entries of `files` that differ from `installed` (as live staging does); path → staged name. */
  stage(files: readonly FileEntry[], installed: ReadonlyMap<string, FileEntry>): Map<string, string>;
  applyPre(ops: readonly PreOp[]): void;
  undoPre(ops: readonly PreOp[]): void;
  applyPost(ops: readonly PostOp[]): void;
  /** What `files` says is missing or different on the target (following no link at the last step). */
  check(files: readonly FileEntry[]): string[];
}

const OUTSIDE = '\0outside';

export function nodeOfEntry(e: FileEntry): MemNode {
  const kind: Kind = e.type === 'dir' ? 'dir' : e.type === 'file' || e.type === 'hardlink' ? 'file' : e.type === 'symlink' ? 'symlink' : 'other';
  return { kind, mode: e.mode, uid: 0, gid: 0, content: e.sha256, target: e.type === 'symlink' ? e.target : undefined };
}

export function createMemoryTarget(): MemoryTarget {
  const nodes = new Map<string, MemNode>([['', { kind: 'dir', mode: 0o755, uid: 0, gid: 0 }]]);
  const outside: string[] = [];
  const staged = new Map<string, MemNode>();
  const saved = new Map<string, MemNode>();
  let counter = 0;

  /**
   * The real location of `path`: every component but the last resolved
   * through symlinks; a location outside the target starts with OUTSIDE.
   */
  const resolve = (path: string, depth = 0): string => {
    const parts = path.split('/').filter((c) => c !== '' && c !== '.');
    const at: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (part === '..') {
        if (!at.length) return `${OUTSIDE}/${parts.slice(i + 1).join('/')}`;
        at.pop();
        continue;
      }
      const n = i < parts.length - 1 ? nodes.get([...at, part].join('/')) : undefined;
      if (n?.kind === 'symlink') {
        if (depth > 40) throw new MinosError('MN0003', `/${path}: too many levels of symbolic links (ELOOP)`);
        const rest = parts.slice(i + 1).join('/');
        if (n.target!.startsWith('/')) return `${OUTSIDE}${n.target!.replace(/\/+$/, '')}/${rest}`;
        return resolve([...at, n.target!, rest].join('/'), depth + 1);
      }
      at.push(part);
    }
    return at.join('/');
  };
  /** A folder's real location, following a link at the last step too. */
  const resolveDir = (path: string) => {
    const real = resolve(path ? `${path}/_` : '_');
    return real.includes('/') ? real.slice(0, real.lastIndexOf('/')) : '';
  };
  const isOutside = (real: string) => real.startsWith(OUTSIDE);
  const get = (path: string): MemNode | undefined => {
    const real = resolve(path);
    return isOutside(real) ? undefined : nodes.get(real);
  };
  const parentDir = (real: string) => (real.includes('/') ? real.slice(0, real.lastIndexOf('/')) : '');
  /** The node at `path` must be placeable: its folder exists inside the target; else the access is recorded. */
  const writable = (path: string, what: string): string | undefined => {
    const real = resolve(path);
    if (isOutside(real)) {
      outside.push(`${what} /${path} -> ${real.slice(OUTSIDE.length) || '/'}`);
      return undefined;
    }
    if (nodes.get(parentDir(real))?.kind !== 'dir') throw new MinosError('MN0003', `/${path}: no such folder (ENOENT)`);
    return real;
  };
  const subtree = (real: string) => [...nodes.keys()].filter((k) => k === real || k.startsWith(`${real}/`));
  const moveTree = (from: string, into: (rel: string, n: MemNode) => void) => {
    for (const k of subtree(from)) {
      into(k.slice(from.length), nodes.get(k)!);
      nodes.delete(k);
    }
  };
  const children = (real: string) => [...nodes.keys()].filter((k) => k.startsWith(real === '' ? '' : `${real}/`) && k !== real && !k.slice(real === '' ? 0 : real.length + 1).includes('/'));

  const t: MemoryTarget = {
    nodes, outside, staged, saved,
    kind: (path) => get(path)?.kind,
    hash: (path) => {
      const n = get(path);
      if (n?.kind !== 'file') throw new MinosError('MN0003', `/${path}: not a file`);
      return n.content ?? '';
    },
    list: (path) => children(resolveDir(path)).map((k) => k.slice(k.lastIndexOf('/') + 1)),
    stage(files, installed) {
      const out = new Map<string, string>();
      const all = files.some((e) => e.type === 'hardlink');
      for (const e of files) {
        if (e.type === 'dir') continue;
        const old = installed.get(e.path);
        if (!all && old && sameEntry(old, e)) continue;
        const name = String(counter++);
        staged.set(name, nodeOfEntry(e.type === 'hardlink' ? { ...files.find((f) => f.path === e.target)!, path: e.path } : e));
        out.set(e.path, name);
      }
      return out;
    },
    applyPre(ops) {
      for (const o of ops) {
        const real = writable(o.path, o.op);
        if (real === undefined) continue;
        if (o.op === 'mkdir') {
          if (nodes.has(real)) throw new MinosError('MN0003', `/${o.path}: exists (EEXIST)`);
          nodes.set(real, { kind: 'dir', mode: o.mode, uid: o.uid, gid: o.gid });
        } else if (o.op === 'moveout') {
          if (!nodes.has(real)) throw new MinosError('MN0003', `/${o.path}: no such file (ENOENT)`);
          moveTree(real, (rel, n) => saved.set(`${o.old}${rel}`, n));
        } else {
          const n = staged.get(o.src);
          if (!n) throw new MinosError('MN0003', `new/${o.src}: no such staged node`);
          const had = nodes.get(real);
          if (had?.kind === 'dir') throw new MinosError('MN0003', `/${o.path}: is a folder (EISDIR)`);
          if (o.old !== undefined && had) saved.set(o.old, had);
          nodes.set(real, n);
          staged.delete(o.src);
        }
      }
    },
    undoPre(ops) {
      for (let i = ops.length - 1; i >= 0; i--) {
        const o = ops[i];
        const real = resolve(o.path);
        if (isOutside(real)) continue;
        if (o.op === 'mkdir') {
          if (nodes.get(real)?.kind === 'dir' && children(real).length === 0) nodes.delete(real);
        } else if (o.op === 'moveout') {
          if (!nodes.has(real)) for (const [k, n] of [...saved]) if (k === o.old || k.startsWith(`${o.old}/`)) nodes.set(real + k.slice(o.old.length), n);
        } else if (!staged.has(o.src)) {
          staged.set(o.src, nodes.get(real)!);
          if (o.old !== undefined && saved.has(o.old)) nodes.set(real, saved.get(o.old)!);
          else nodes.delete(real);
        }
      }
    },
    applyPost(ops) {
      for (const o of ops) {
        const real = writable(o.path, o.op);
        if (real === undefined) continue;
        const n = nodes.get(real);
        if (o.op === 'unlink') {
          if (n && n.kind !== 'dir') nodes.delete(real);
        } else if (o.op === 'save') {
          const to = writable(o.to, 'save');
          if (n && to !== undefined) {
            nodes.set(to, n);
            nodes.delete(real);
          }
        } else if (o.op === 'rmdir') {
          if (n?.kind === 'dir' && children(real).length === 0) nodes.delete(real);
        } else if (n) {
          Object.assign(n, { mode: o.mode, uid: o.uid, gid: o.gid });
        }
      }
    },
    check(files) {
      const problems: string[] = [];
      for (const e of files) {
        const n = get(e.path);
        const want = nodeOfEntry(e);
        if (!n) problems.push(`/${e.path}: missing`);
        else if (n.kind !== want.kind) problems.push(`/${e.path}: a ${n.kind}, expected a ${want.kind}`);
        else if (n.kind === 'file' && n.content !== want.content) problems.push(`/${e.path}: content differs`);
        else if (n.kind === 'symlink' && n.target !== want.target) problems.push(`/${e.path}: links to ${n.target}, expected ${want.target}`);
      }
      return problems;
    },
  };
  return t;
}

/**
 * One whole transaction on the twin, as the live commands run it on a root:
 * stage `install` (entries equal to installed ones are not staged), plan
 * against the twin, apply pre, commit, apply post. Returns the new database.
 */
export function transact(t: MemoryTarget, db: InstalledDb, next: { keep: readonly string[]; install: readonly Manifest[]; generated?: readonly FileEntry[] }, opts: { force?: readonly string[]; onEvent?: (e: PlanEvent) => void } = {}): { db: InstalledDb; plan: Plan } {
  const installed = new Map<string, FileEntry>();
  for (const r of db.packages) for (const e of r.files) installed.set(e.path, e);
  const staged = next.install.map((m) => ({ manifest: m, staged: t.stage(m.files, installed), repo: 'memory', sha256: '', explicit: true }));
  const generated = next.generated && { now: next.generated, staged: t.stage(next.generated, new Map((db.generated ?? []).map((e) => [e.path, e]))) };
  const plan = planChanges(t, {
    db, kept: new Set(next.keep), staged, explicit: new Map(), force: new Set(opts.force ?? []),
    ids: () => ({ uid: 0, gid: 0 }), onEvent: opts.onEvent ?? (() => {}), generated,
  });
  t.applyPre(plan.pre);
  t.applyPost(plan.post);
  t.staged.clear();
  t.saved.clear();
  return { db: { ...db, packages: plan.records, deferred: [], ...(plan.generated.length ? { generated: plan.generated } : {}) }, plan };
}
