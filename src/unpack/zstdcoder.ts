/**
 * The coders behind unpack/zstd.ts's API: Decoder and Encoder over one
 * WebAssembly coder each (zstdwasm.ts), with the shared lifecycle (free,
 * leaks reclaimed by a FinalizationRegistry) and error mapping (MN0208
 * corrupt or truncated, MN0209 over the limit, MN0001 for misuse and
 * allocation failures), and CoderTransform, the Node stream around either.
 * The contracts are those of ZstdDecoder and ZstdEncoder in zstd.ts.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { MinosError } from '../errors.js';
import type { ZstdDecoder, ZstdEncoder } from './zstd.js';
import { acquire, EMPTY, release, type Instance, type Kind, type RawCoder } from './zstdwasm.js';

/** Frees leaked coders' wasm memory when their JS object is collected. */
const leaks = new FinalizationRegistry<() => void>((free) => free());

/** Shared lifecycle and error mapping of Decoder and Encoder. */
abstract class Coder {
  protected raw: RawCoder | undefined;
  protected readonly inst: Instance;
  protected readonly cap: number;
  protected failed: unknown;
  /** Input not yet handed to wasm; `more` = the last step filled a whole buffer. */
  private input: Uint8Array | undefined;
  private more = false;
  /** next() may return views (ZstdDecodeOptions.transient). */
  protected transient = false;

  constructor(private readonly kind: Kind, make: (inst: Instance) => RawCoder) {
    const inst = acquire(kind);
    this.inst = inst;
    this.cap = inst.outCapacity;
    let raw: RawCoder;
    try {
      raw = make(inst);
    } catch (e) {
      release(kind, inst);
      throw this.fatal(e);
    }
    this.raw = raw;
    const token = {};
    leaks.register(this, () => {
      try {
        raw.drop();
      } finally {
        release(kind, inst);
      }
    }, token);
    this.unregister = () => leaks.unregister(token);
  }

  private readonly unregister: () => void;

  free(): void {
    const raw = this.raw;
    if (!raw) return;
    this.raw = undefined;
    this.unregister();
    try {
      if (!this.inst.broken) raw.drop();
    } finally {
      release(this.kind, this.inst);
    }
  }

  protected live(): RawCoder {
    if (this.failed !== undefined) throw this.failed;
    if (!this.raw) throw new MinosError('MN0001', `zstd ${this.kind} used after free()`);
    // Another coder trapped in the shared instance: its state is not trustworthy.
    if (this.inst.broken) throw (this.failed = new MinosError('MN0001', `zstd ${this.kind}: wasm instance failed`));
    return this.raw;
  }

  /** Queues a chunk for next(). */
  feed(chunk: Uint8Array): void {
    this.live();
    this.input = chunk;
  }

  /** Next non-empty output for the queued input, or null once it is all consumed. */
  next(): Uint8Array | null {
    const raw = this.live();
    for (;;) {
      if (this.input === undefined && !this.more) return null;
      const input = this.input ?? EMPTY;
      this.input = undefined;
      let out: Uint8Array;
      try {
        out = this.transient ? raw.stepView(input) : raw.step(input);
      } catch (e) {
        throw this.fail(e);
      }
      this.more = out.length === this.cap;
      if (out.length > 0) {
        this.produced(out.length);
        return out;
      }
    }
  }

  /** Hook: called with the size of each output before it is delivered. */
  protected produced(_n: number): void {}

  /** Step used by the Transform's flush; null when done. */
  abstract flushNext(): Uint8Array | null;

  /** Maps a failure from wasm, remembers it, returns it for throwing. */
  protected fail(e: unknown): unknown {
    this.failed = this.fatal(e);
    return this.failed;
  }

  private fatal(e: unknown): unknown {
    if (typeof e === 'string') return this.zstdError(e);
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
      // A trap (out of memory in cabi_realloc, …) leaves the instance unusable.
      this.inst.broken = true;
      return new MinosError('MN0001', `zstd ${this.kind} failed: ${e.message}`, { cause: e });
    }
    return e;
  }

  protected abstract zstdError(name: string): MinosError;
}

export class Decoder extends Coder implements ZstdDecoder {
  private total = 0;
  private seen = false;

  constructor(private readonly limit: number, windowLogMax: number, transient: boolean) {
    super('decoder', (inst) => inst.newCoder(windowLogMax));
    this.transient = transient;
  }

  override feed(chunk: Uint8Array): void {
    super.feed(chunk);
    if (chunk.length > 0) this.seen = true;
  }

  push(chunk: Uint8Array, onData: (out: Uint8Array) => void): void {
    this.feed(chunk);
    for (let out = this.next(); out !== null; out = this.next()) onData(out);
  }

  end(): void {
    const raw = this.live();
    if (this.next() !== null) throw new MinosError('MN0001', 'zstd decoder: end() with undelivered output');
    if (!this.seen || !raw.atFrameBoundary()) {
      // Like the zstd CLI, an empty input is not a stream (it needs >= 1 frame).
      this.failed = new MinosError('MN0208', this.seen ? 'truncated zstd stream' : 'truncated zstd stream (no data)');
      throw this.failed;
    }
  }

  flushNext(): Uint8Array | null {
    this.end();
    return null;
  }

  protected override produced(n: number): void {
    this.total += n;
    if (this.total > this.limit) {
      this.failed = new MinosError('MN0209', `decompressed size exceeds limit of ${this.limit} bytes`, {
        data: { limit: this.limit },
      });
      throw this.failed;
    }
  }

  protected zstdError(name: string): MinosError {
    if (name.startsWith('Allocation error')) return new MinosError('MN0001', `zstd decoder: ${name}`);
    return new MinosError('MN0208', `corrupt zstd data: ${name}`, { data: { zstd: name } });
  }
}

export class Encoder extends Coder implements ZstdEncoder {
  private finishing = false;

  constructor(level: number) {
    super('encoder', (inst) => inst.newCoder(level));
  }

  push(chunk: Uint8Array, onData: (out: Uint8Array) => void): void {
    if (this.finishing) throw new MinosError('MN0001', 'zstd encoder: push() after end()');
    this.feed(chunk);
    for (let out = this.next(); out !== null; out = this.next()) onData(out);
  }

  end(onData: (out: Uint8Array) => void): void {
    for (let out = this.flushNext(); out !== null; out = this.flushNext()) onData(out);
  }

  flushNext(): Uint8Array | null {
    const raw = this.live();
    const pending = this.next(); // input queued by an interrupted push()
    if (pending !== null) return pending;
    this.finishing = true;
    let out: Uint8Array;
    try {
      out = raw.finish();
    } catch (e) {
      throw this.fail(e);
    }
    return out.length > 0 ? out : null;
  }

  protected zstdError(name: string): MinosError {
    return new MinosError('MN0001', `zstd encoder: ${name}`);
  }
}

/**
 * Transform around a Coder that respects backpressure between the outputs of
 * one input chunk: when push() returns false it waits for _read().
 */
export class CoderTransform extends Transform {
  private pendingDrain: (() => void) | undefined;

  constructor(private readonly coder: Decoder | Encoder) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.coder.feed(chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    this.drain(() => this.coder.next(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.drain(() => this.coder.flushNext(), (err) => {
      this.coder.free();
      cb(err);
    });
  }

  private drain(step: () => Uint8Array | null, cb: TransformCallback): void {
    for (;;) {
      let out: Uint8Array | null;
      try {
        out = step();
      } catch (e) {
        cb(e as Error);
        return;
      }
      if (out === null) {
        cb();
        return;
      }
      if (!this.push(out)) {
        this.pendingDrain = () => this.drain(step, cb);
        return;
      }
    }
  }

  override _read(size: number): void {
    const again = this.pendingDrain;
    if (again) {
      this.pendingDrain = undefined;
      again();
      // The drain may end inside this _read: its callback then went to Transform, which holds
      // it until a _read that pushes nothing would otherwise never come. Hand it over now.
      if (!this.pendingDrain) super._read(size);
    } else {
      super._read(size);
    }
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.pendingDrain = undefined;
    this.coder.free();
    cb(err);
  }
}
