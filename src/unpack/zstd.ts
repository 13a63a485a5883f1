/**
 * zstd compression and decompression, synchronous and streaming, backed by our
 * own WebAssembly build of upstream zstd (wasm/: C glue + WIT interface,
 * built by `node wasm/build.mjs`, committed under wasm/gen/). This module is
 * the only one that touches the wasm bindings.
 *
 * Memory: every call into wasm returns at most one output buffer (256 KiB), so
 * a stream of any size decodes in constant memory: about the frame's window
 * size plus ~1 MiB. Frames made by `zstd -1`…`-19` have windows of at most
 * 8 MiB; the decoder refuses windows above 2^windowLogMax bytes (default 2^27,
 * the same limit the zstd CLI applies without `--memory`).
 *
 * Integrity: zstd detects corruption through its block structure and, when the
 * frame carries one (the zstd CLI and our encoder always write it), the XXH64
 * content checksum at the end of each frame. A streaming decoder emits data
 * before it reaches that checksum, so when a streaming decode fails, data it
 * already delivered may be wrong and must be discarded. zstdDecompress() only
 * returns after the whole input verified.
 */
import type { Transform } from 'node:stream';
import { MinosError } from '../errors.js';
import { CoderTransform, Decoder, Encoder } from './zstdcoder.js';
import { memoryBytes } from './zstdwasm.js';

export { loadZstdBindings } from './zstdwasm.js';

/* -------------------------------------------------------------- public API */

/** Options for decoders. */
export interface ZstdDecodeOptions {
  /**
   * Maximum number of decompressed bytes. Output beyond it raises MN0209
   * before the excess is delivered (or even produced in full: decoding
   * proceeds at most 256 KiB past the limit). Default: unlimited.
   */
  limit?: number;
  /**
   * Refuse frames whose window exceeds 2^windowLogMax bytes (MN0208). Integer
   * 10..31, default 27. Lower values bound memory against hostile input.
   */
  windowLogMax?: number;
  /**
   * push()'s `onData` receives views into the decoder's own output buffer,
   * valid only until `onData` returns: no copy per chunk, for callers that
   * consume each chunk synchronously and copy whatever they keep.
   */
  transient?: boolean;
}

/** Options for encoders. */
export interface ZstdEncodeOptions {
  /** Compression level, integer 1..22; default 3. */
  level?: number;
}

/**
 * Low-level synchronous decoder: push compressed chunks, receive decompressed
 * chunks via callback.
 *
 * - push() copies `chunk` into wasm memory before it returns, so the caller
 *   may reuse its buffer; `onData` receives freshly allocated Buffers (never
 *   views into reused memory; keeping them is fine; with `transient`, views
 *   valid only during the call) and is called zero or more times before
 *   push() returns. Concatenated frames and skippable
 *   frames are accepted.
 * - Throws MinosError MN0208 (`corrupt zstd data: <zstd error name>`) on
 *   invalid data and MN0209 when the output would exceed `limit`. After a
 *   throw, every further push()/end() throws the same error; output already
 *   delivered must be discarded (see the module comment).
 * - If `onData` throws, the exception propagates out of push(); the decoder
 *   stays usable and keeps the undelivered output for the next push().
 * - end() throws MN0208 `truncated zstd stream` if the input stopped
 *   mid-frame or was empty (as with the zstd CLI, a stream has >= 1 frame).
 * - free() releases wasm memory; idempotent; the decoder is unusable after.
 *   Always call it (e.g. in `finally`); a leaked decoder is only reclaimed by
 *   garbage collection.
 */
export interface ZstdDecoder {
  push(chunk: Uint8Array, onData: (out: Uint8Array) => void): void;
  end(): void;
  free(): void;
}

/**
 * Low-level synchronous encoder. push() copies `chunk` before returning and
 * hands compressed output, as freshly allocated Buffers, to `onData`; end()
 * completes the frame (one frame per encoder, with checksum, no content size)
 * and flushes the rest. Output is deterministic for a given input byte stream
 * and level regardless of how it is split into chunks. free() releases wasm
 * memory; idempotent. Errors: MN0001 (out of memory), MN0002 (bad level),
 * push() after end() throws MN0001.
 */
export interface ZstdEncoder {
  push(chunk: Uint8Array, onData: (out: Uint8Array) => void): void;
  end(onData: (out: Uint8Array) => void): void;
  free(): void;
}

/** Creates a streaming decoder (see ZstdDecoder for the contract). */
export function createZstdDecoder(opts: ZstdDecodeOptions = {}): ZstdDecoder {
  return new Decoder(checkLimit(opts.limit), checkWindowLog(opts.windowLogMax), opts.transient === true);
}

/** Creates a streaming encoder (see ZstdEncoder for the contract). */
export function createZstdEncoder(opts: ZstdEncodeOptions = {}): ZstdEncoder {
  return new Encoder(checkLevel(opts.level));
}

/**
 * Decompressing Transform stream. Errors are emitted as MinosError MN0208 /
 * MN0209 as in ZstdDecoder; it honours backpressure even inside a single
 * input chunk (a small chunk may expand enormously), and ending the input
 * mid-frame fails with `truncated zstd stream`.
 */
export function zstdDecompressStream(opts: ZstdDecodeOptions = {}): Transform {
  return new CoderTransform(createZstdDecoder({ ...opts, transient: false }) as Decoder);
}

/** Compressing Transform stream (one frame; see ZstdEncoder). */
export function zstdCompressStream(opts: ZstdEncodeOptions = {}): Transform {
  return new CoderTransform(createZstdEncoder(opts) as Encoder);
}

/**
 * Decompresses a whole buffer (any number of frames). Returns only if the
 * entire input is valid: never partial or wrong data. Throws MN0208 / MN0209.
 */
export function zstdDecompress(buf: Uint8Array, opts: ZstdDecodeOptions = {}): Buffer {
  const out: Uint8Array[] = [];
  let n = 0;
  const d = createZstdDecoder({ ...opts, transient: false });
  try {
    const collect = (b: Uint8Array): void => {
      out.push(b);
      n += b.length;
    };
    // Feed in slices so wasm memory does not grow with the input size.
    for (let off = 0; off < buf.length; off += FEED) d.push(buf.subarray(off, off + FEED), collect);
    d.end();
  } finally {
    d.free();
  }
  return Buffer.concat(out, n);
}

/** Compresses a whole buffer into one zstd frame (with checksum). */
export function zstdCompress(buf: Uint8Array, opts: ZstdEncodeOptions = {}): Buffer {
  const out: Uint8Array[] = [];
  let n = 0;
  const collect = (b: Uint8Array): void => {
    out.push(b);
    n += b.length;
  };
  const e = createZstdEncoder(opts);
  try {
    for (let off = 0; off < buf.length; off += FEED) e.push(buf.subarray(off, off + FEED), collect);
    e.end(collect);
  } finally {
    e.free();
  }
  return Buffer.concat(out, n);
}

/**
 * Bytes of wasm linear memory currently held by the decoder instance, the
 * encoder instance, or both (default). Linear memory never shrinks while an
 * instance lives; an instance whose memory grew beyond 64 MiB is discarded
 * once its last coder is freed.
 */
export function zstdMemoryBytes(which: 'decoder' | 'encoder' | 'all' = 'all'): number {
  return (which !== 'encoder' ? memoryBytes('decoder') : 0) + (which !== 'decoder' ? memoryBytes('encoder') : 0);
}

/* ---------------------------------------------------------- option checks */

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return Infinity;
  if (!(Number.isSafeInteger(limit) && limit >= 0) && limit !== Infinity) {
    throw new MinosError('MN0002', `zstd limit must be a non-negative integer, got ${String(limit)}`);
  }
  return limit;
}

function checkWindowLog(w: number | undefined): number {
  if (w === undefined) return 27;
  if (!(Number.isInteger(w) && w >= 10 && w <= 31)) {
    throw new MinosError('MN0002', `zstd windowLogMax must be an integer from 10 to 31, got ${String(w)}`);
  }
  return w;
}

function checkLevel(level: number | undefined): number {
  if (level === undefined) return 3;
  if (!(Number.isInteger(level) && level >= 1 && level <= 22)) {
    throw new MinosError('MN0002', `zstd level must be an integer from 1 to 22, got ${String(level)}`);
  }
  return level;
}

/** Input slice size for the whole-buffer helpers. */
const FEED = 1 << 20;
