/**
 * What the engine asks of a target and what it hands one.
 *
 * The planner (plan.ts) looks at a target only through `TargetView`, and
 * says what to change as operations: `pre` ops are reversible and run before
 * the commit point (a live root journals them, see live/journal.ts), `post`
 * ops run after it and are idempotent. Paths are relative to the target's
 * root, without a leading slash; `src` and `old` name nodes in the
 * transaction's own `new/` and `old/` folders.
 *
 * Implementations: the live root (live/rootview.ts over the disk, applied by
 * live/journal.ts), the in-memory twin (memory.ts) that the engine's tests
 * use, and a build's stage (stage.ts), which starts empty, so every package
 * merges into it by rename and planning reduces to the ownership rule.
 */

export type PreOp =
  | { op: 'mkdir'; path: string; mode: number; uid: number; gid: number }
  | { op: 'moveout'; path: string; old: string }
  | { op: 'put'; path: string; src: string; old?: string };

export type PostOp =
  | { op: 'unlink'; path: string }
  | { op: 'save'; path: string; to: string }
  | { op: 'rmdir'; path: string }
  | { op: 'attr'; path: string; mode: number; uid: number; gid: number };

/** What is at a path, not following a symlink there. */
export type Kind = 'dir' | 'file' | 'symlink' | 'other';

export interface TargetView {
  /** The node at `path` (a symlink is reported as one, never followed at the last step); undefined if none. */
  kind(path: string): Kind | undefined;
  /** sha256 (hex) of the regular file at `path`. */
  hash(path: string): string;
  /** The names in folder `path`. */
  list(path: string): string[];
}
