/**
 * The framing between minos and its unprivileged reader (see spawn.ts): each
 * frame is one type byte, a 32-bit little-endian body length, then the body.
 * Reads and writes are synchronous and block: each side owns one end of two
 * FIFOs, and the parent writes only while the child waits to read (a job
 * with the package's first chunk, then a chunk for each `read` the child
 * sends), so neither side fills a pipe the other is not reading.
 *
 * A reader never trusts a length: a frame longer than MAX_FRAME, or a
 * stream that ends inside a frame, is a FrameError.
 */
import { readSync, writeSync, writevSync } from 'node:fs';
import { MAX_MANIFEST } from '../pkg/read.js';

/** What the parent sends for one package (a `job` frame). */
export interface ChildJob {
  /** The package's path, for messages only: the child opens nothing. */
  file: string;
  size: number;
  expect?: { size: number; sha256: string };
  /** The trusted keys, SPKI PEM, with the file each came from. */
  keys?: { file: string; pem: string }[];
}

/** The child's descriptors: jobs and data come in on the first, its frames go out on the second. */
export const CHILD_IN = 3;
export const CHILD_OUT = 4;

/** The child asks for at most this much at once. */
export const READ_CHUNK = 1 << 20;

/** Frame types. Parent → child: job, data. Child → parent: the others. */
export const F = {
  /** child's first frame: its uid, gid and groups (JSON) */
  hello: 0x48,
  /** a job (JSON) */
  job: 0x4a,
  /** bytes of the package: the first chunk right after the job, then one per `read`; empty at its end */
  data: 0x44,
  /** the child asks for at most N bytes (u32) */
  read: 0x52,
  /** the key id (16 ASCII), the signature (64), the manifest bytes */
  manifest: 0x4d,
  /** an entry begins: its index in the manifest (u32) */
  begin: 0x42,
  /** content bytes of the current file */
  chunk: 0x43,
  /** the current entry ends */
  end: 0x45,
  /** the job is done (JSON: what the parent cannot derive itself) */
  finish: 0x46,
  /** the job failed (JSON: code, message, hint, data) */
  error: 0x58,
} as const;

export const HEADER = 5;
/** The largest body accepted: a manifest with its key id and signature, or a chunk. */
export const MAX_FRAME = MAX_MANIFEST + 80;

/** A stream that breaks the framing: too long a frame, or the end inside one or where one was due. */
export class FrameError extends Error {}

export interface Frame {
  type: number;
  /** Valid until the next call of `next`: copy what you keep. */
  body: Buffer;
}

export interface FrameReader {
  /** The next frame; undefined at a clean end of stream (between frames). */
  next(): Frame | undefined;
}

const READ_BUF = 1 << 20;

/** Read buffers to reuse, one per thread: a thread reads one stream at a time. */
let spareBuf: Buffer | undefined;

/** Frames from `fd`; `reuse` takes this thread's buffer (one such reader at a time). */
export function frameReader(fd: number, reuse = false): FrameReader {
  let buf = (reuse ? spareBuf : undefined) ?? Buffer.allocUnsafeSlow(READ_BUF);
  if (reuse) spareBuf = buf;
  let start = 0;
  let end = 0;
  /** Read until `n` bytes are buffered from `start`; false at end of stream. */
  const fill = (n: number): boolean => {
    if (start + n > buf.length) {
      // Move what is left to the front, growing only for a frame larger than the buffer.
      const next = n > buf.length ? Buffer.allocUnsafeSlow(n) : buf;
      buf.copy(next, 0, start, end);
      buf = next;
      end -= start;
      start = 0;
    }
    while (end - start < n) {
      const got = retry(() => readSync(fd, buf, end, buf.length - end, null));
      if (got === 0) return false;
      end += got;
    }
    return true;
  };
  return {
    next() {
      if (end - start < HEADER && !fill(HEADER)) {
        if (end === start) return undefined;
        throw new FrameError('stream ends inside a frame header');
      }
      const type = buf[start];
      const len = buf.readUInt32LE(start + 1);
      if (len > MAX_FRAME) throw new FrameError(`frame of ${len} bytes (at most ${MAX_FRAME})`);
      if (end - start < HEADER + len && !fill(HEADER + len)) throw new FrameError(`stream ends inside a frame of ${len} bytes`);
      const body = buf.subarray(start + HEADER, start + HEADER + len);
      start += HEADER + len;
      if (start === end) start = end = 0;
      return { type, body };
    },
  };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** `io()`, again after a millisecond while the descriptor says EAGAIN (someone made it non-blocking). */
function retry(io: () => number): number {
  for (;;) {
    try {
      return io();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

function writeFully(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) off += retry(() => writeSync(fd, b, off, b.length - off));
}

export interface FrameWriter {
  /** Queue a frame; bodies of 64 KiB and more are written at once, after what is queued. */
  frame(type: number, body?: Uint8Array): void;
  /** Write what is queued (before blocking on a read, and at the end of a job). */
  flush(): void;
}

const WRITE_BUF = 256 << 10;
const DIRECT = 64 << 10;

export function frameWriter(fd: number): FrameWriter {
  const buf = Buffer.allocUnsafeSlow(WRITE_BUF);
  let n = 0;
  const flush = () => {
    if (n > 0) writeFully(fd, buf.subarray(0, n));
    n = 0;
  };
  return {
    frame(type, body) {
      const len = body ? body.length : 0;
      if (len >= DIRECT || HEADER + len > buf.length) {
        if (n + HEADER > buf.length) flush();
        buf[n] = type;
        buf.writeUInt32LE(len, n + 1);
        n += HEADER;
        const head = buf.subarray(0, n);
        n = 0;
        // One system call for what is queued, the header and the body (short writes finished after).
        const done = retry(() => writevSync(fd, [head, body!]));
        if (done < head.length + len) {
          if (done < head.length) {
            writeFully(fd, head.subarray(done));
            writeFully(fd, body!);
          } else writeFully(fd, body!.subarray(done - head.length));
        }
        return;
      }
      if (n + HEADER + len > buf.length) flush();
      buf[n] = type;
      buf.writeUInt32LE(len, n + 1);
      if (body) buf.set(body, n + HEADER);
      n += HEADER + len;
    },
    flush,
  };
}

/** A frame's body as JSON; a FrameError when it is not. */
export function jsonBody(f: Frame): unknown {
  try {
    return JSON.parse(f.body.toString('utf8'));
  } catch {
    throw new FrameError('a frame that should hold JSON does not');
  }
}

export function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n);
  return b;
}
