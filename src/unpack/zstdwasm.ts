/**
 * The zstd WebAssembly instances behind unpack/zstd.ts: the two components
 * built by wasm/build.mjs (decoder, encoder), run through either binding
 * (the jco-generated component bindings, or the core module with a thin
 * glue of our own), one instance per kind, shared by every coder of that
 * kind and dropped when idle after its memory grew large.
 *
 * Contract: acquire a kind's instance for each coder and release it when the
 * coder is done; a coder's RawCoder throws a string (zstd's error name) on
 * failure, which zstd.ts maps to MinosError.
 */
import { readFileSync } from 'node:fs';
import { MinosError } from '../errors.js';

export const EMPTY = new Uint8Array(0);

/** An idle instance whose memory grew beyond this is dropped. */
const RECYCLE_BYTES = 64 * 1024 * 1024;
const GEN = new URL('../../wasm/gen/', import.meta.url);

export type Kind = 'decoder' | 'encoder';

/** One coder inside wasm, as both binding flavours expose it. */
export interface RawCoder {
  /** Decode/encode step; returns a fresh copy of the output. Throws a string (zstd error name) on failure. */
  step(input: Uint8Array): Uint8Array;
  /** step, but the output may be a view valid until this coder's next call (or any growth of wasm memory). */
  stepView(input: Uint8Array): Uint8Array;
  /** Encoder only: finish step. */
  finish(): Uint8Array;
  /** Decoder only. */
  atFrameBoundary(): boolean;
  drop(): void;
}

export interface Instance {
  readonly outCapacity: number;
  /** `arg`: windowLogMax for decoders, level for encoders. */
  newCoder(arg: number): RawCoder;
  memoryBytes(): number;
  live: number;
  broken: boolean;
}

/** The two components built by wasm/build.mjs. */
const WORLDS = {
  decoder: { iface: 'minos:zstd/decode@0.1.0', file: 'zstd-decoder', step: 'decoder.decode' },
  encoder: { iface: 'minos:zstd/encode@0.1.0', file: 'zstd-encoder', step: 'encoder.encode' },
} as const;

const modules = new Map<string, WebAssembly.Module>();
function coreModule(name: string): WebAssembly.Module {
  let m = modules.get(name);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(new URL(name, GEN)));
    modules.set(name, m);
  }
  return m;
}

const DISPOSE: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('dispose');
function dispose(o: object): void {
  const f = (o as Record<symbol, unknown>)[DISPOSE];
  if (typeof f === 'function') f.call(o);
}

/**
 * Which binding runs the hot path. Both call the same wasm code; 'core' skips
 * the generated component runtime's per-call bookkeeping. MINOS_ZSTD_BINDING
 * overrides it (for benchmarks), and its user then awaits
 * `loadZstdBindings()` before the first coder: the component bindings (185 KB
 * of JavaScript) are loaded only when chosen, and not at module load, which
 * would need a top-level await (the CLI bundle is CommonJS: tools/bundle.mjs).
 */
const BINDING: 'core' | 'component' = process.env.MINOS_ZSTD_BINDING === 'component' ? 'component' : 'core';
let component: { decoder: typeof import('../../wasm/gen/zstd-decoder.js'); encoder: typeof import('../../wasm/gen/zstd-encoder.js') } | undefined;

/** Load the bindings MINOS_ZSTD_BINDING chose (nothing to do for the default). */
export async function loadZstdBindings(): Promise<void> {
  if (BINDING === 'component' && !component) {
    component = { decoder: await import('../../wasm/gen/zstd-decoder.js'), encoder: await import('../../wasm/gen/zstd-encoder.js') };
  }
}

/** Binding through the jco-generated component bindings (wasm/gen/zstd-*.js). */
function componentInstance(kind: Kind): Instance {
  let memory: WebAssembly.Memory | undefined;
  const capture = (module: WebAssembly.Module, imports: Record<string, unknown>): WebAssembly.Instance => {
    const inst = new WebAssembly.Instance(module, imports as WebAssembly.Imports);
    const m = inst.exports.memory;
    if (m instanceof WebAssembly.Memory) memory = m;
    return inst;
  };
  let outCapacity: number;
  let newCoder: (arg: number) => RawCoder;
  if (kind === 'decoder') {
    const api = component!.decoder.instantiate(coreModule, {}, capture).decode;
    outCapacity = api.outCapacity();
    newCoder = (windowLogMax) => {
      const d = new api.Decoder(windowLogMax);
      return {
        step: (input) => d.decode(input),
        stepView: (input) => d.decode(input),
        finish: () => EMPTY,
        atFrameBoundary: () => d.atFrameBoundary(),
        drop: () => dispose(d),
      };
    };
  } else {
    const api = component!.encoder.instantiate(coreModule, {}, capture).encode;
    outCapacity = api.outCapacity();
    newCoder = (level) => {
      const e = new api.Encoder(level);
      return {
        step: (input) => e.encode(input),
        stepView: (input) => e.encode(input),
        finish: () => e.finish(),
        atFrameBoundary: () => true,
        drop: () => dispose(e),
      };
    };
  }
  const mem = memory;
  if (!mem) throw new MinosError('MN0001', 'zstd wasm module exports no memory');
  return { outCapacity, newCoder, live: 0, broken: false, memoryBytes: () => mem.buffer.byteLength };
}

/**
 * Binding straight to the core module's canonical-ABI exports (same wasm, no
 * component runtime in between): the calling convention is the one
 * wasm/glue.c implements.
 */
function coreInstance(kind: Kind): Instance {
  const w = WORLDS[kind];
  const ident = (rep: number): number => rep;
  const inst = new WebAssembly.Instance(coreModule(`${w.file}.core.wasm`), {
    [`[export]${w.iface}`]: { [`[resource-new]${kind}`]: ident },
  });
  const x = inst.exports as Record<string, unknown>;
  const fn = (name: string): ((...a: number[]) => number) => {
    const f = x[name.startsWith('cabi_') ? name : `${w.iface}#${name}`];
    if (typeof f !== 'function') throw new MinosError('MN0001', `zstd wasm module lacks export ${name}`);
    return f as (...a: number[]) => number;
  };
  const mem = x.memory as WebAssembly.Memory;
  const realloc = fn('cabi_realloc');
  const make = fn(`[constructor]${kind}`);
  const drop = fn(`[dtor]${kind}`);
  const step = fn(`[method]${w.step}`);
  const atEnd = kind === 'decoder' ? fn('[method]decoder.at-frame-boundary') : undefined;
  const finish = kind === 'encoder' ? fn('[method]encoder.finish') : undefined;
  const text = new TextDecoder();

  const lower = (input: Uint8Array): number => {
    if (input.length === 0) return 1;
    const ptr = realloc(0, 0, 1, input.length);
    new Uint8Array(mem.buffer, ptr, input.length).set(input);
    return ptr;
  };
  /** The result in the static return area: a view of the coder's output buffer (glue.c), or a thrown error name. */
  const view = (ret: number): Uint8Array => {
    const v = new DataView(mem.buffer, ret, 12);
    const ptr = v.getUint32(4, true);
    const len = v.getUint32(8, true);
    if (v.getUint8(0) !== 0) throw text.decode(new Uint8Array(mem.buffer, ptr, len));
    return new Uint8Array(mem.buffer, ptr, len);
  };
  const lift = (ret: number): Uint8Array => {
    const out = view(ret);
    const copy = Buffer.allocUnsafeSlow(out.length);
    copy.set(out);
    return copy;
  };
  return {
    outCapacity: fn('out-capacity')(),
    live: 0,
    broken: false,
    memoryBytes: () => mem.buffer.byteLength,
    newCoder(arg) {
      const rep = make(arg);
      return {
        step: (input) => lift(step(rep, lower(input), input.length)),
        stepView: (input) => view(step(rep, lower(input), input.length)),
        finish: () => (finish ? lift(finish(rep)) : EMPTY),
        atFrameBoundary: () => (atEnd ? atEnd(rep) !== 0 : true),
        drop: () => void drop(rep),
      };
    },
  };
}


/** One instance per kind, so decoder memory is accounted (and recycled) separately. */
const instances: { decoder?: Instance; encoder?: Instance } = {};

export function acquire(kind: Kind): Instance {
  let inst = instances[kind];
  if (!inst || inst.broken) {
    if (BINDING === 'component' && !component) throw new Error('MINOS_ZSTD_BINDING=component: await loadZstdBindings() first');
    inst = BINDING === 'component' ? componentInstance(kind) : coreInstance(kind);
    instances[kind] = inst;
  }
  inst.live++;
  return inst;
}

export function release(kind: Kind, inst: Instance): void {
  inst.live--;
  if (inst.live === 0 && instances[kind] === inst && inst.memoryBytes() > RECYCLE_BYTES) instances[kind] = undefined;
}

/** Bytes of linear memory the live instance of `kind` holds (0 when there is none). */
export function memoryBytes(kind: Kind): number {
  return instances[kind]?.memoryBytes() ?? 0;
}
