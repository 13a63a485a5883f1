/**
 * The file-system writes of unpacking and merging, behind one interface with
 * two implementations: `directWriter` makes each call on this thread, as it
 * comes; `queuedWriter` hands them, in order, to a worker thread that makes
 * them there, so the thread decoding and verifying packages does not also
 * pay for ~4 syscalls per file (build (a): ~200 ms of its ~800).
 *
 * Contract for both: calls take absolute paths and act in call order; a
 * failure is a MinosError naming the path (ioError). The direct writer throws
 * it from the failing call; the queued one from the next `check` or `sync`
 * after the worker reports it, and skips every call after the failure (the
 * file it had open is closed). Call `sync` before reading or changing
 * anything the writer wrote by other means, and `close` before removing it.
 */
import {
  chmodSync, closeSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, mkdirSync, openSync, renameSync, rmdirSync, rmSync, symlinkSync, unlinkSync,
} from 'node:fs';
import { createHash, hash, type Hash } from 'node:crypto';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { ioError, MinosError, type ErrorCode } from '../errors.js';
import { CREATE_NEW, makeNode, under, writeAll } from '../fsutil.js';
import { EMPTY_SHA256, fileHashError } from '../pkg/read.js';
import type { FileEntry } from '../types.js';

export interface FsWriter {
  mkdir(path: string, mode: number): void;
  /** Create and open the current file (O_EXCL|O_NOFOLLOW); `mode` is subject to the umask. */
  create(path: string, mode: number): void;
  /** Append to the current file. The bytes are copied or written before this returns. */
  write(chunk: Uint8Array): void;
  /**
   * True if `finish` can check a file's content (see PackageSink.checksFiles):
   * the queued writer hashes on the thread that writes.
   */
  readonly hashes: boolean;
  /**
   * Close the current file, first applying `chmod` and `mtime` (seconds)
   * unless -1. With `check` (only if `hashes`), first compare the content's
   * sha256 with `check.sha256`, failing with readPackage's fileHashError.
   * With `owner`, the file is given that owner first (chown clears setuid
   * and setgid, so the mode comes after it).
   */
  finish(chmod: number, mtime: number, check?: FileCheck, owner?: { uid: number; gid: number }): void;
  /** Close the current file, if one is open, ignoring errors. */
  abort(): void;
  symlink(target: string, path: string): void;
  link(existing: string, path: string): void;
  /** Make a device node or FIFO (mode 0600 until chmodPath): never opened. */
  node(path: string, e: { type: string; devmajor?: number; devminor?: number }): void;
  /** The owner of the node itself (a link is not followed). */
  lchown(path: string, uid: number, gid: number): void;
  /** The mode of a node this writer made (a device or FIFO: by path, as it must not be opened). */
  chmodPath(path: string, mode: number): void;
  rename(from: string, to: string): void;
  /** Remove a file or link; one that is not there is fine. */
  unlink(path: string): void;
  /** Remove folder `dir`: with `kept` (its subfolders, parents first, and nothing else in it) by rmdir deepest first, else (or if that fails) recursively. */
  removeTree(dir: string, kept?: readonly string[]): void;
  /** End a unit of work (a package): queued calls start on their way. */
  flush(): void;
  /** Throw the first failure reported so far, if any. */
  check(): void;
  /** Wait until every call so far is done; throw the first failure, if any. */
  sync(): void;
  /** Wait until every call so far is done (or skipped) and stop; failures are dropped. */
  close(): Promise<void>;
}

/** What a file's content must hash to, and the package `file` and entry `path` a mismatch names. */
export interface FileCheck { sha256: string; file: string; path: string }

function removeTreeNow(dir: string, kept: readonly string[] | undefined): void {
  if (kept) {
    try {
      for (let i = kept.length - 1; i >= 0; i--) rmdirSync(kept[i]);
      rmdirSync(dir);
      return;
    } catch {
      // not empty after all: remove whatever is there
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Every call made at once, on this thread. */
export function directWriter(): FsWriter {
  let fd: number | undefined;
  let path = '';
  const at = <T>(p: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw ioError(e, p);
    }
  };
  return {
    hashes: false,
    mkdir: (p, mode) => at(p, () => mkdirSync(p, { mode })),
    create(p, mode) {
      path = p;
      fd = at(p, () => openSync(p, CREATE_NEW, mode));
    },
    write(chunk) {
      const f = fd!;
      at(path, () => writeAll(f, chunk));
    },
    finish(chmod, mtime, _check, owner) {
      const f = fd!;
      fd = undefined;
      try {
        if (owner) fchownSync(f, owner.uid, owner.gid);
        if (chmod >= 0) fchmodSync(f, chmod);
        if (mtime >= 0) futimesSync(f, mtime, mtime);
      } catch (e) {
        throw ioError(e, path);
      } finally {
        closeSync(f);
      }
    },
    abort() {
      if (fd === undefined) return;
      const f = fd;
      fd = undefined;
      try {
        closeSync(f);
      } catch {
        // closing is all that is asked
      }
    },
    symlink: (target, p) => at(p, () => symlinkSync(target, p)),
    link: (existing, p) => at(p, () => linkSync(existing, p)),
    node: (p, e) => makeNode(p, e),
    lchown: (p, uid, gid) => at(p, () => lchownSync(p, uid, gid)),
    chmodPath: (p, mode) => at(p, () => chmodSync(p, mode)),
    rename: (from, to) => at(to, () => renameSync(from, to)),
    unlink(p) {
      try {
        unlinkSync(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, p);
      }
    },
    removeTree: removeTreeNow,
    flush() {},
    check() {},
    sync() {},
    close: async () => {},
  };
}

// The queue's wire format: a batch is { ops, data }: `ops` a flat list of an
// opcode and its arguments, `data` the bytes of every WRITE in order.
const MKDIR = 1, CREATE = 2, WRITE = 3, FINISH = 4, ABORT = 5, SYMLINK = 6, LINK = 7, RENAME = 8, UNLINK = 9, RMTREE = 10, NODE = 11, LCHOWN = 12, CHMOD = 13;
type Op = number | string | readonly string[] | null;
interface Batch { ops: Op[]; data: Uint8Array }
/** A MinosError on the wire (ioError's for system calls, fileHashError's for content). */
interface Failure { code: ErrorCode; message: string; hint?: string; data?: Record<string, unknown> }

/** Shared counters: [0] batches done, [1] 1 once a call failed. */
const DONE = 0, FAILED = 1;
/** A batch goes out once its bytes reach this... */
const BATCH_BYTES = 256 << 10;
/** ...and the sender waits while more than this is sent but not yet written (the memory bound). */
const MAX_IN_FLIGHT = 32 << 20;

/**
 * Calls queued to `worker` (which must run `serveFsQueue` on the message this
 * sends). Bytes are copied into the batch, so chunks may be reused at once.
 */
export function queuedWriter(worker: Worker): FsWriter {
  const counters = new Int32Array(new SharedArrayBuffer(8));
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ fsQueue: { port: port2, counters } }, [port2]);
  let ops: Op[] = [];
  let data: Uint8Array = Buffer.allocUnsafeSlow(BATCH_BYTES);
  let used = 0;
  let sent = 0;
  const sizes: number[] = [];
  let inFlight = 0;
  let failure: Error | undefined;
  let closed = false;

  const waitDone = (until: (done: number) => boolean) => {
    for (;;) {
      const done = Atomics.load(counters, DONE);
      while (sizes.length > sent - done) inFlight -= sizes.shift()!;
      if (until(done)) return;
      Atomics.wait(counters, DONE, done, 1000);
    }
  };
  const send = () => {
    if (!ops.length) return;
    const batch: Batch = { ops, data: used === data.length ? data : data.subarray(0, used) };
    port1.postMessage(batch, [data.buffer as ArrayBuffer]);
    sent++;
    sizes.push(used);
    inFlight += used;
    ops = [];
    data = Buffer.allocUnsafeSlow(BATCH_BYTES);
    used = 0;
    if (inFlight > MAX_IN_FLIGHT) waitDone(() => inFlight <= MAX_IN_FLIGHT / 2);
  };
  const check = () => {
    if (failure) throw failure;
    if (Atomics.load(counters, FAILED) === 0) return;
    // The worker posts its failure before raising the flag.
    const f = receiveMessageOnPort(port1)?.message as Failure;
    failure = new MinosError(f.code, f.message, { hint: f.hint, data: f.data });
    throw failure;
  };
  return {
    hashes: true,
    mkdir: (p, mode) => void ops.push(MKDIR, p, mode),
    create: (p, mode) => void ops.push(CREATE, p, mode),
    write(chunk) {
      if (chunk.length <= data.length - used) {
        data.set(chunk, used);
        used += chunk.length;
        ops.push(WRITE, chunk.length);
        return;
      }
      let off = 0;
      while (off < chunk.length) {
        if (used === data.length) send();
        const n = Math.min(chunk.length - off, data.length - used);
        data.set(chunk.subarray(off, off + n), used);
        used += n;
        off += n;
        ops.push(WRITE, n);
      }
    },
    finish(chmod, mtime, c, owner) {
      ops.push(FINISH, chmod, mtime, c?.sha256 ?? null, c?.file ?? null, c?.path ?? null, owner?.uid ?? -1, owner?.gid ?? -1);
    },
    abort: () => void ops.push(ABORT),
    symlink: (target, p) => void ops.push(SYMLINK, target, p),
    link: (existing, p) => void ops.push(LINK, existing, p),
    node: (p, e) => void ops.push(NODE, p, e.type, e.devmajor ?? 0, e.devminor ?? 0),
    lchown: (p, uid, gid) => void ops.push(LCHOWN, p, uid, gid),
    chmodPath: (p, mode) => void ops.push(CHMOD, p, mode),
    rename: (from, to) => void ops.push(RENAME, from, to),
    unlink: (p) => void ops.push(UNLINK, p),
    removeTree: (dir, kept) => void ops.push(RMTREE, dir, kept ?? null),
    flush() {
      send();
      check();
    },
    check,
    sync() {
      send();
      waitDone((done) => done === sent);
      check();
    },
    async close() {
      if (closed) return;
      closed = true;
      send();
      waitDone((done) => done === sent);
      port1.close();
      // Every batch is done and no more come: the worker need not be waited for.
      worker.unref();
      void worker.terminate();
    },
  };
}

/**
 * Worker side: run the batches arriving on `port` in order, through a direct
 * writer. After the first failure (posted back on `port`, then flagged in
 * `counters`), every later call is skipped but the open file is closed.
 */
export function serveFsQueue(msg: { port: MessagePort; counters: Int32Array }): void {
  const { port, counters } = msg;
  const w = directWriter();
  let failed = false;
  // The current file's content, for its check: its one chunk, or a running hash once there are more.
  let first: Uint8Array | undefined;
  let running: Hash | undefined;
  port.on('message', (b: Batch) => {
    const { ops, data } = b;
    let at = 0;
    let i = 0;
    try {
      while (!failed && i < ops.length) {
        switch (ops[i]) {
          case MKDIR: w.mkdir(ops[i + 1] as string, ops[i + 2] as number); i += 3; break;
          case CREATE:
            w.create(ops[i + 1] as string, ops[i + 2] as number);
            first = undefined;
            running = undefined;
            i += 3;
            break;
          case WRITE: {
            const n = ops[i + 1] as number;
            const chunk = data.subarray(at, at + n);
            w.write(chunk);
            if (running) running.update(chunk);
            else if (first) running = createHash('sha256').update(first).update(chunk);
            else first = chunk;
            at += n;
            i += 2;
            break;
          }
          case FINISH: {
            const want = ops[i + 3] as string | null;
            if (want !== null) {
              const got = running ? running.digest('hex') : first ? hash('sha256', first, 'hex') : EMPTY_SHA256;
              if (got !== want) throw fileHashError(ops[i + 4] as string, ops[i + 5] as string, want, got);
            }
            first = undefined;
            running = undefined;
            const uid = ops[i + 6] as number;
            w.finish(ops[i + 1] as number, ops[i + 2] as number, undefined, uid >= 0 ? { uid, gid: ops[i + 7] as number } : undefined);
            i += 8;
            break;
          }
          case ABORT: w.abort(); i += 1; break;
          case SYMLINK: w.symlink(ops[i + 1] as string, ops[i + 2] as string); i += 3; break;
          case LINK: w.link(ops[i + 1] as string, ops[i + 2] as string); i += 3; break;
          case NODE: w.node(ops[i + 1] as string, { type: ops[i + 2] as string, devmajor: ops[i + 3] as number, devminor: ops[i + 4] as number }); i += 5; break;
          case LCHOWN: w.lchown(ops[i + 1] as string, ops[i + 2] as number, ops[i + 3] as number); i += 4; break;
          case CHMOD: w.chmodPath(ops[i + 1] as string, ops[i + 2] as number); i += 3; break;
          case RENAME: w.rename(ops[i + 1] as string, ops[i + 2] as string); i += 3; break;
          case UNLINK: w.unlink(ops[i + 1] as string); i += 2; break;
          case RMTREE: w.removeTree(ops[i + 1] as string, (ops[i + 2] as string[] | null) ?? undefined); i += 3; break;
          default: throw new Error(`fs queue: unknown op ${String(ops[i])}`);
        }
      }
    } catch (e) {
      failed = true;
      first = undefined;
      running = undefined;
      w.abort();
      const f: Failure = e instanceof MinosError
        ? { code: e.code, message: e.message, hint: e.hint, data: e.data }
        : { code: 'MN0001', message: `fs queue: ${(e as Error)?.message ?? String(e)}` };
      port.postMessage(f);
      Atomics.store(counters, FAILED, 1);
    }
    Atomics.add(counters, DONE, 1);
    Atomics.notify(counters, DONE);
  });
}

/**
 * Create entry `e` under `root` through `w`: folders 0700 (finished later), a
 * file created with `fileMode` (subject to the umask) and left open as `w`'s
 * current file, symlinks, and hardlinks to a path under the same root.
 * Devices and FIFOs exist only in the node map until a directory target
 * makes them.
 */
export function materializeWith(w: FsWriter, root: string, e: FileEntry, fileMode = 0o600): void {
  const p = under(root, e.path);
  switch (e.type) {
    case 'dir':
      w.mkdir(p, 0o700);
      return;
    case 'file':
      w.create(p, fileMode);
      return;
    case 'symlink':
      w.symlink(e.target!, p);
      return;
    case 'hardlink':
      w.link(under(root, e.target!), p);
      return;
    default:
  }
}
