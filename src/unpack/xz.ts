/**
 * xz decompression for Debian's `.tar.xz` members and `Packages.xz` lists,
 * backed by our WebAssembly build of liblzma's stream decoder (wasm/xz.wit,
 * wasm/xz-glue.c, built by `node wasm/build.mjs` into wasm/gen/xz-decoder.*),
 * and xz compression for `.tar.xz` images and squashfs (createXzEncoder,
 * wasm/gen/xz-encoder.*, liblzma's encoder in a module of its own).
 * This module is the only one that loads them.
 *
 * Contract: `xzDecompress(input, { limit, onChunk })` decodes every stream of
 * `input` (concatenated streams and stream padding allowed, as `xz -d` does),
 * hands the output to `onChunk` in order (each chunk is a fresh copy the
 * caller may keep, at most 256 KiB), and returns the total size. liblzma
 * checks the header CRC32s, the block sizes that headers and index declare,
 * and each block's check (CRC32, CRC64 or SHA-256; other check types are
 * refused). Chunks are delivered before the check that covers them is read,
 * so after a throw, output already delivered must be discarded.
 *
 * Errors, all MinosError MN0208 (exit 4) naming `label`: corrupt, truncated
 * or non-xz input; output beyond `limit` bytes (thrown before the excess is
 * delivered); filters other than LZMA2; and a stream whose decoding needs
 * more than `memlimit` bytes (mostly its dictionary). A failure inside wasm
 * itself (out of memory) is MN0001.
 *
 * Memory: the dictionary (8 MiB for `xz -6`, 64 MiB for `xz -9`) plus about
 * 1.5 MiB: the input is copied into wasm 1 MiB at a time.
 */
import { readFileSync } from 'node:fs';
import { MinosError } from '../errors.js';

export interface XzOptions {
  /** Most output bytes accepted. */
  limit: number;
  onChunk(chunk: Uint8Array): void;
  /** Named in errors. */
  label?: string;
  /**
   * Most bytes of memory the decoder may use (liblzma's memory limit), at
   * most 2^32 - 1. Default 257 MiB: any dictionary up to 256 MiB.
   */
  memlimit?: number;
}

const DEFAULT_MEMLIMIT = 257 << 20;
/** Input slice copied into wasm per call. */
const FEED = 1 << 20;
/** An idle instance whose memory grew beyond this is dropped. */
const RECYCLE_BYTES = 80 << 20;
const IFACE = 'minos:xz/decode@0.1.0';
const WASM = new URL('../../wasm/gen/xz-decoder.core.wasm', import.meta.url);

/** The core module's canonical-ABI exports (wasm/xz-glue.c), called directly. */
interface Instance {
  outCapacity: number;
  memory: WebAssembly.Memory;
  realloc(old: number, oldSize: number, align: number, size: number): number;
  create(memlimit: number): number;
  decode(rep: number, ptr: number, len: number, last: number): number;
  atEnd(rep: number): number;
  drop(rep: number): void;
  live: number;
  broken: boolean;
}

let module: WebAssembly.Module | undefined;
let current: Instance | undefined;

/**
 * A fresh instance of core module `mod` exporting component interface
 * `iface` with one resource: its memory, and `fn(name)` for the export
 * `IFACE#name` (or a `cabi_` one). Both xz modules are loaded this way.
 */
function coreExports(mod: WebAssembly.Module, iface: string, resource: string) {
  const x = new WebAssembly.Instance(mod, {
    [`[export]${iface}`]: { [`[resource-new]${resource}`]: (rep: number) => rep },
  }).exports as Record<string, unknown>;
  const fn = (name: string): ((...a: number[]) => number) => {
    const f = x[name.startsWith('cabi_') ? name : `${iface}#${name}`];
    if (typeof f !== 'function') throw new MinosError('MN0001', `xz wasm module lacks export ${name}`);
    return f as (...a: number[]) => number;
  };
  return { memory: x.memory as WebAssembly.Memory, fn };
}

function instantiate(): Instance {
  module ??= new WebAssembly.Module(readFileSync(WASM));
  const { memory, fn } = coreExports(module, IFACE, 'decoder');
  const drop = fn('[dtor]decoder');
  return {
    outCapacity: fn('out-capacity')(),
    memory,
    realloc: fn('cabi_realloc'),
    create: fn('[constructor]decoder'),
    decode: fn('[method]decoder.decode'),
    atEnd: fn('[method]decoder.at-end'),
    drop: (rep) => void drop(rep),
    live: 0,
    broken: false,
  };
}

function acquire(): Instance {
  if (!current || current.broken) current = instantiate();
  current.live++;
  return current;
}

function release(inst: Instance): void {
  inst.live--;
  if (inst.live === 0 && current === inst && inst.memory.buffer.byteLength > RECYCLE_BYTES) current = undefined;
}

const text = new TextDecoder();

export function xzDecompress(input: Uint8Array, opts: XzOptions): number {
  const label = opts.label ?? 'xz data';
  const data = { file: opts.label };
  const memlimit = Math.min(opts.memlimit ?? DEFAULT_MEMLIMIT, 0xffffffff);
  const inst = acquire();
  let rep: number | undefined;
  let total = 0;
  /** One decode call: a fresh copy of its output, or a thrown MinosError. */
  const step = (chunk: Uint8Array, last: boolean): Uint8Array => {
    let ptr = 1;
    if (chunk.length > 0) {
      ptr = inst.realloc(0, 0, 1, chunk.length);
      new Uint8Array(inst.memory.buffer, ptr, chunk.length).set(chunk);
    }
    // The call may grow (and so replace) the memory's buffer: read it after.
    const area = inst.decode(rep!, ptr, chunk.length, last ? 1 : 0);
    const ret = new DataView(inst.memory.buffer, area, 12);
    const at = ret.getUint32(4, true);
    const len = ret.getUint32(8, true);
    if (ret.getUint8(0) !== 0) throw xzError(label, data, text.decode(new Uint8Array(inst.memory.buffer, at, len)), memlimit);
    return new Uint8Array(inst.memory.buffer.slice(at, at + len));
  };
  try {
    rep = inst.create(memlimit);
    for (let off = 0; ; off += FEED) {
      const last = off + FEED >= input.length;
      let out = step(input.subarray(off, off + FEED), last);
      for (;;) {
        if (out.length > 0) {
          total += out.length;
          if (total > opts.limit) {
            throw new MinosError('MN0208', `${label}: corrupt xz data: output larger than the ${opts.limit} bytes expected`, { data: { ...data, limit: opts.limit } });
          }
          opts.onChunk(out);
        }
        if (out.length < inst.outCapacity) break;
        out = step(new Uint8Array(0), last);
      }
      if (last) break;
    }
    if (inst.atEnd(rep) === 0) throw new MinosError('MN0208', `${label}: corrupt xz data: truncated`, { data });
    return total;
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
      // A trap (out of memory in cabi_realloc, …) leaves the instance unusable.
      inst.broken = true;
      throw new MinosError('MN0001', `${label}: xz decoder failed: ${e.message}`, { cause: e });
    }
    throw e;
  } finally {
    if (rep !== undefined && !inst.broken) inst.drop(rep);
    release(inst);
  }
}

/** Maps an error string from wasm/xz-glue.c to a MinosError. */
function xzError(label: string, data: { file?: string }, msg: string, memlimit: number): MinosError {
  if (msg.startsWith('Allocation error')) return new MinosError('MN0001', `${label}: xz decoder: ${msg}`, { data });
  const need = /^memory limit: (\d+) bytes needed/.exec(msg);
  if (need) {
    return new MinosError('MN0208', `${label}: xz data needs ${need[1]} bytes of memory to decode, more than the ${memlimit} allowed`, {
      data: { ...data, memlimit, needed: Number(need[1]) },
    });
  }
  if (msg.startsWith('unsupported')) return new MinosError('MN0208', `${label}: unsupported xz data: ${msg}`, { data });
  return new MinosError('MN0208', `${label}: corrupt xz data: ${msg}`, { data });
}

/* ------------------------------------------------------------------ encoder */

/** The integrity check of each block: CRC64 as `xz` writes it; squashfs takes CRC32 or none. */
export type XzCheck = 'none' | 'crc32' | 'crc64';

export interface XzEncodeOptions {
  /** xz's preset level, integer 0..9; default 6. */
  level?: number;
  /** Default 'crc64'. */
  check?: XzCheck;
  /** If given, the LZMA2 dictionary is at most this many bytes (at least 4 KiB). */
  dictMax?: number;
}

/**
 * Low-level synchronous encoder writing one .xz stream (single-threaded,
 * LZMA2 blocks; `xz -T1 -<level>` writes the same bytes for the same input,
 * as it is the same liblzma). push() copies `chunk` before returning and
 * hands compressed output, as freshly allocated Uint8Arrays of at most
 * 256 KiB, to `onData`; end() completes the stream and flushes the rest. The
 * output depends only on the input bytes and the options, never on how the
 * input is split into chunks. free() releases the encoder; idempotent.
 * Errors: MN0002 (bad level or dictionary), MN0001 (out of memory, push()
 * after end()).
 */
export interface XzEncoder {
  push(chunk: Uint8Array, onData: (out: Uint8Array) => void): void;
  end(onData: (out: Uint8Array) => void): void;
  free(): void;
}

const ENC_IFACE = 'minos:xz/encode@0.1.0';
const ENC_WASM = new URL('../../wasm/gen/xz-encoder.core.wasm', import.meta.url);
const CHECKS: Record<XzCheck, number> = { none: 0, crc32: 1, crc64: 2 };

/** The encoder core module's canonical-ABI exports (wasm/xz-glue.c). */
interface EncInstance {
  outCapacity: number;
  memory: WebAssembly.Memory;
  realloc(old: number, oldSize: number, align: number, size: number): number;
  create(preset: number, check: number, dictMax: number): number;
  encode(rep: number, ptr: number, len: number): number;
  finish(rep: number): number;
  drop(rep: number): void;
  live: number;
  broken: boolean;
}

let encModule: WebAssembly.Module | undefined;
let encCurrent: EncInstance | undefined;

function instantiateEncoder(): EncInstance {
  encModule ??= new WebAssembly.Module(readFileSync(ENC_WASM));
  const { memory, fn } = coreExports(encModule, ENC_IFACE, 'encoder');
  const drop = fn('[dtor]encoder');
  return {
    outCapacity: fn('out-capacity')(),
    memory,
    realloc: fn('cabi_realloc'),
    create: fn('[constructor]encoder'),
    encode: fn('[method]encoder.encode'),
    finish: fn('[method]encoder.finish'),
    drop: (rep) => void drop(rep),
    live: 0,
    broken: false,
  };
}

/** Creates a streaming encoder (see XzEncoder for the contract). */
export function createXzEncoder(opts: XzEncodeOptions = {}): XzEncoder {
  const level = opts.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new MinosError('MN0002', `xz level ${level}: must be an integer from 0 to 9`);
  const dictMax = opts.dictMax ?? 0;
  if (!Number.isInteger(dictMax) || dictMax < 0 || dictMax > 0xffffffff) throw new MinosError('MN0002', `xz dictionary size ${dictMax}: must be an integer from 4096 to 2^32 - 1`);
  if (!encCurrent || encCurrent.broken) encCurrent = instantiateEncoder();
  const inst = encCurrent;
  inst.live++;
  let rep: number | undefined;
  let freed = false;
  let ended = false;
  const free = (): void => {
    if (freed) return;
    freed = true;
    if (rep !== undefined && !inst.broken) inst.drop(rep);
    inst.live--;
    if (inst.live === 0 && encCurrent === inst && inst.memory.buffer.byteLength > RECYCLE_BYTES) encCurrent = undefined;
  };
  /** Runs one wasm call and returns a fresh copy of its output. */
  const call = (f: () => number): Uint8Array => {
    if (freed) throw new MinosError('MN0001', 'xz encoder: used after free()');
    let area: number;
    try {
      area = f();
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
        inst.broken = true;
        throw new MinosError('MN0001', `xz encoder failed: ${e.message}`, { cause: e });
      }
      throw e;
    }
    const ret = new DataView(inst.memory.buffer, area, 12);
    const at = ret.getUint32(4, true);
    const len = ret.getUint32(8, true);
    if (ret.getUint8(0) !== 0) {
      const msg = text.decode(new Uint8Array(inst.memory.buffer, at, len));
      throw new MinosError(msg === 'unsupported options' ? 'MN0002' : 'MN0001', `xz encoder: ${msg}`);
    }
    return new Uint8Array(inst.memory.buffer.slice(at, at + len));
  };
  try {
    rep = inst.create(level, CHECKS[opts.check ?? 'crc64'], dictMax);
  } catch (e) {
    free();
    throw e;
  }
  return {
    push(chunk, onData) {
      if (ended) throw new MinosError('MN0001', 'xz encoder: push() after end()');
      for (let off = 0; off < chunk.length || off === 0; off += FEED) {
        const part = chunk.subarray(off, off + FEED);
        let out = call(() => {
          let ptr = 1;
          if (part.length > 0) {
            ptr = inst.realloc(0, 0, 1, part.length);
            new Uint8Array(inst.memory.buffer, ptr, part.length).set(part);
          }
          return inst.encode(rep!, ptr, part.length);
        });
        for (;;) {
          if (out.length > 0) onData(out);
          if (out.length < inst.outCapacity) break;
          out = call(() => inst.encode(rep!, 1, 0));
        }
        if (chunk.length === 0) break;
      }
    },
    end(onData) {
      ended = true;
      for (;;) {
        const out = call(() => inst.finish(rep!));
        if (out.length === 0) break;
        onData(out);
      }
    },
    free,
  };
}

/** Compresses a whole buffer into one .xz stream (see XzEncoder). */
export function xzCompress(buf: Uint8Array, opts: XzEncodeOptions = {}): Buffer {
  const out: Uint8Array[] = [];
  let n = 0;
  const collect = (b: Uint8Array): void => {
    out.push(b);
    n += b.length;
  };
  const e = createXzEncoder(opts);
  try {
    e.push(buf, collect);
    e.end(collect);
  } finally {
    e.free();
  }
  return Buffer.concat(out, n);
}
