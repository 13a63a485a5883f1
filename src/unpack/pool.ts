/**
 * Unpacking on worker threads: zstd, tar parsing, hashing and writes of
 * different packages proceed on different cores. Results are consumed in the
 * order jobs were submitted, whatever order they finish in. Without a built
 * worker script (running from TypeScript sources) or for small jobs, the work
 * runs in this thread instead, with the same results.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MinosError, type ErrorCode } from '../errors.js';
import { unpackPackage, type UnpackJob, type UnpackResult } from './extract.js';

export interface UnpackPool {
  /** Start a job; the promise settles with its result or its MinosError. */
  run(job: UnpackJob): Promise<UnpackResult>;
  close(): Promise<void>;
}

interface Pending {
  resolve: (r: UnpackResult) => void;
  reject: (e: unknown) => void;
}

function defaultSize(): number {
  const env = Number(process.env.MINOS_UNPACK_WORKERS);
  return Number.isInteger(env) && env >= 0 ? env : Math.min(4, availableParallelism());
}

function inline(): UnpackPool {
  return {
    run: async (job) => unpackPackage(job),
    close: async () => {},
  };
}

/**
 * A pool of `size` workers (default: one per core, at most 4, or
 * MINOS_UNPACK_WORKERS when set), or inline work when size <= 1.
 */
export function createUnpackPool(size = defaultSize()): UnpackPool {
  const script = new URL('./worker.js', import.meta.url);
  if (size <= 1 || !existsSync(fileURLToPath(script))) return inline();
  const workers: { w: Worker; busy: number }[] = [];
  const pending = new Map<number, Pending>();
  let next = 0;
  let failed: unknown;
  for (let i = 0; i < size; i++) {
    const w = new Worker(script);
    const slot = { w, busy: 0 };
    w.on('message', (msg: { id: number; result?: UnpackResult; error?: { minos: boolean; code?: ErrorCode; message: string; hint?: string; data?: Record<string, unknown> } }) => {
      const p = pending.get(msg.id)!;
      pending.delete(msg.id);
      slot.busy--;
      if (msg.error) {
        const e = msg.error;
        p.reject(e.minos ? new MinosError(e.code!, e.message, { hint: e.hint, data: e.data }) : new MinosError('MN0001', `unpack worker: ${e.message}`));
      } else p.resolve(msg.result!);
    });
    w.on('error', (e) => {
      failed = e;
      for (const p of pending.values()) p.reject(new MinosError('MN0001', `unpack worker died: ${e.message}`));
      pending.clear();
    });
    workers.push(slot);
  }
  return {
    run(job) {
      if (failed) return Promise.reject(new MinosError('MN0001', `unpack worker died: ${(failed as Error).message}`));
      const slot = workers.reduce((a, b) => (b.busy < a.busy ? b : a));
      const id = next++;
      slot.busy++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        slot.w.postMessage({ id, job });
      });
    },
    async close() {
      await Promise.all(workers.map((s) => s.w.terminate()));
    },
  };
}
