/**
 * The one unpack sink of both faces: it turns the entries of a package being
 * read and verified (readPackage's and readDeb's PackageSink calls) into
 * nodes on disk, through an FsWriter. The build unpacks each package into a
 * folder tree of its own (extract.ts); a live transaction stages each node
 * under a name of its own beside the root (live/stage.ts). They differ only
 * in what the layout says: where a node goes (or whether it is made at all),
 * whether owners are set now, whether device nodes are made now, and which
 * mode and time a file is created and finished with.
 *
 * Contract: calls come in package order, each entry's parent already made
 * by this sink or by the caller; a file is created 0600 (or its final mode
 * when `fileMode` gives it), written, then owned (fchown) and only then
 * given its mode (fchmod), so no setuid or setgid file is ever writable by
 * others. Devices are made by path and never opened. Errors are the
 * writer's (ioError naming the path) or MN0110 for a hardlink to a file the
 * layout left out.
 */
import { MinosError, quote } from '../errors.js';
import type { PackageSink } from '../pkg/read.js';
import type { FileEntry } from '../types.js';
import type { FsWriter } from './fswriter.js';

export interface Layout {
  /** Where entry `e` is made (an absolute path), or undefined to leave it out. Called once per entry, in order. */
  place(e: FileEntry): string | undefined;
  /**
   * Mode to create a regular file with (subject to the umask), and whether
   * that is already its final mode; if not, the final mode is applied at its end.
   */
  fileMode(e: FileEntry): { mode: number; final: boolean };
  /** mtime (seconds) for regular files, or -1 to leave it. */
  mtime: number;
  /** Owner ids to give a node now; undefined: leave owners to the target. `ids` returns undefined for an account not yet known (see `unowned`). */
  ids?: (e: FileEntry) => { uid: number; gid: number } | undefined;
  /** A node made whose account is not known yet: owned later by the caller. */
  unowned?: (path: string, e: FileEntry) => void;
  /** Make device nodes (when `ids` is set: as root) and FIFOs now; otherwise they exist only in the manifest. */
  nodes: boolean;
  /** A device node that could not be made here (not root). */
  skipped?: (e: FileEntry) => void;
  /** Check each file's content on the writer's thread (FsWriter.hashes), naming package file `check` on a mismatch. */
  check?: string;
}

export interface NodeSink extends PackageSink {
  /** Path → where each node was made, in entry order. */
  readonly made: Map<string, string>;
  /** Regular files made (absolute paths), in order. */
  readonly files: string[];
}

const EUID = process.geteuid?.() ?? 0;
const EGID = process.getegid?.() ?? 0;

export function nodeSink(w: FsWriter, layout: Layout, label: string): NodeSink {
  const made = new Map<string, string>();
  const files: string[] = [];
  let cur: string | undefined;
  let chmod = -1;
  const own = (p: string, e: FileEntry, node: 'link' | 'file'): { uid: number; gid: number } | undefined => {
    const id = layout.ids!(e);
    if (!id) layout.unowned?.(p, e);
    else if (node === 'link') w.lchown(p, id.uid, id.gid);
    return id;
  };
  return {
    made,
    files,
    begin(e) {
      cur = layout.place(e);
      if (cur === undefined) return;
      const p = cur;
      switch (e.type) {
        case 'dir':
          w.mkdir(p, 0o700);
          break;
        case 'file': {
          const { mode, final } = layout.fileMode(e);
          w.create(p, mode);
          // After a chown the mode is applied again: chown clears setuid and setgid.
          chmod = final && !layout.ids ? -1 : e.mode;
          files.push(p);
          break;
        }
        case 'symlink':
          w.symlink(e.target!, p);
          if (layout.ids) own(p, e, 'link');
          break;
        case 'hardlink': {
          const target = made.get(e.target!);
          if (target === undefined) throw new MinosError('MN0110', `${label}: hardlink ${quote(e.path)} to a file not unpacked`);
          w.link(target, p);
          break;
        }
        default:
          if (!layout.nodes || (e.type !== 'fifo' && !layout.ids)) {
            if (layout.nodes) layout.skipped?.(e);
            cur = undefined;
            return;
          }
          w.node(p, e);
          if (layout.ids) own(p, e, 'link');
          // By path, never by opening it: opening a device can have effects.
          w.chmodPath(p, e.mode);
      }
      made.set(e.path, p);
    },
    data(chunk) {
      if (cur !== undefined) w.write(chunk);
    },
    end(e) {
      if (cur === undefined || e.type !== 'file') return;
      let owner: { uid: number; gid: number } | undefined;
      if (layout.ids) {
        const id = own(cur, e, 'file');
        // A new file is already ours.
        if (id && (id.uid !== EUID || id.gid !== EGID)) owner = id;
      }
      w.finish(chmod, layout.mtime, w.hashes && layout.check !== undefined ? { sha256: e.sha256!, file: layout.check, path: e.path } : undefined, owner);
    },
    checksFiles: w.hashes && layout.check !== undefined,
  };
}
