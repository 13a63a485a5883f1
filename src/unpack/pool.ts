/**
 * Unpacking on worker threads: zstd, tar parsing, hashing and writes of
 * different packages proceed on different cores. Results are consumed in the
 * order jobs were submitted, whatever order they finish in.
 */
import { availableParallelism } from 'node:os';
import { createWorkerPool, type WorkerPool } from '../workers.js';
import { unpackPackage, type UnpackJob, type UnpackResult } from './extract.js';
import type { FsWriter } from './fswriter.js';

export type UnpackPool = WorkerPool<UnpackJob, UnpackResult>;

function defaultSize(): number {
  const env = Number(process.env.MINOS_UNPACK_WORKERS);
  return Number.isInteger(env) && env >= 0 ? env : Math.min(4, availableParallelism());
}

/**
 * A pool of `size` threads, this one included (default: one per core, at
 * most 4, or MINOS_UNPACK_WORKERS when set); size <= 1: this thread only.
 * Jobs run on this thread write through `writer` (default: directly).
 */
export function createUnpackPool(size = defaultSize(), writer?: FsWriter): UnpackPool {
  return createWorkerPool({ script: new URL('./worker.js', import.meta.url), size, inline: (job) => unpackPackage(job, writer), name: 'unpack' });
}
