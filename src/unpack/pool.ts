/**
 * Unpacking on worker threads: zstd, tar parsing, hashing and writes of
 * different packages proceed on different cores. Results are consumed in the
 * order jobs were submitted, whatever order they finish in. As root, each
 * thread reads its packages through an unprivileged reader process
 * (privsep/spawn.ts), which the pool starts and stops.
 */
import { availableParallelism } from 'node:os';
import { closeReaders, killReaders, startReaders } from '../privsep/spawn.js';
import { createWorkerPool, machineBusy, type WorkerPool } from '../workers.js';
import { readShared, unpackPackage, type SharedRead, type SharedReadJob, type UnpackJob, type UnpackResult } from './extract.js';
import type { FsWriter } from './fswriter.js';

export interface UnpackPool extends WorkerPool<UnpackJob, UnpackResult> {
  /**
   * readShared on a worker thread (never this one), which `withdraw` takes
   * back if not begun (WorkerPool.offer); false without worker threads.
   */
  readShared(file: string, max: number): { result: Promise<SharedRead>; withdraw(): boolean } | false;
}

type ThreadJob = UnpackJob | SharedReadJob;

function defaultSize(): number {
  const env = Number(process.env.MINOS_UNPACK_WORKERS);
  return Number.isInteger(env) && env >= 0 ? env : Math.min(4, availableParallelism());
}

/** A build's pool: this thread alone on a busy machine (machineBusy), unless MINOS_UNPACK_WORKERS says otherwise. */
export function buildUnpackPool(): UnpackPool {
  return createUnpackPool(machineBusy() && process.env.MINOS_UNPACK_WORKERS === undefined ? 1 : undefined);
}

/**
 * A pool of `size` threads, this one included (default: one per core, at
 * most 4, or MINOS_UNPACK_WORKERS when set); size <= 1: this thread only.
 * Jobs run on this thread write through `writer` (default: directly).
 */
export function createUnpackPool(size = defaultSize(), writer?: FsWriter): UnpackPool {
  // One reader per thread, started when a package needs it (privsep/read.ts: most are verified first).
  const readers = startReaders(Math.max(1, size), { eager: 0 });
  // One pool for both jobs; what each job returns is known from its kind.
  const threads = createWorkerPool<ThreadJob, UnpackResult | SharedRead>({
    script: new URL('./worker.js', import.meta.url), size, inline: (job) => ('sharedRead' in job ? readShared(job) : unpackPackage(job, writer)), name: 'unpack',
  });
  const pool = threads as WorkerPool<UnpackJob, UnpackResult>;
  const shared = (file: string, max: number) => {
    const o = threads.offer({ sharedRead: { file, max } });
    return o && { result: o.result as Promise<SharedRead>, withdraw: o.withdraw };
  };
  if (!readers) return { ...pool, readShared: shared };
  const withReaders = (job: UnpackJob): UnpackJob => ({ ...job, readers });
  return {
    ...pool,
    readShared: shared,
    run: (job) => pool.run(withReaders(job)),
    runAll: (jobs) => pool.runAll(jobs.map(withReaders)),
    async close() {
      killReaders(readers);
      await pool.close();
      closeReaders(readers);
    },
  };
}
