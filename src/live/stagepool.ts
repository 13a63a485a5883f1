/**
 * Staging on worker threads: decompression, tar parsing, hashing and writes
 * of different packages proceed on different cores. Every job writes only
 * names of its own under txn/ID/new; results are consumed by the caller in
 * submission order. Without a built worker script (running from TypeScript
 * sources), with one core, or MINOS_LIVE_WORKERS <= 1, the work runs in this
 * thread instead, with the same results.
 */
import { closeReaders, killReaders, startReaders } from '../privsep/spawn.js';
import { createWorkerPool, idleCores, workersPay } from '../workers.js';
import { stageOne, type OldEntries, type StageJob, type StageResult } from './stage.js';

export interface StagePool {
  /** Jobs run on worker threads (submit them all at once); else each runs when submitted. */
  readonly parallel: boolean;
  /**
   * Stage every job on this thread from now on and stop the workers: for a
   * transaction whose packages are too small to repay a worker's start-up
   * (see smallWork). Before any run.
   */
  runHere(): void;
  /** The installed entries: a staged entry equal to one of them is not staged. Before any run. */
  setOld(old: OldEntries): void;
  run(job: StageJob): Promise<StageResult>;
  /** Stop every worker (waits until none writes any more). */
  close(): Promise<void>;
}

/**
 * Threads that stage, this one included (see createWorkerPool):
 * MINOS_LIVE_WORKERS when set; else the idle cores, at most 4. A worker pays
 * a start-up (module loading, JIT and wasm warm-up) that small packages do
 * not repay: on an idle 2-core machine, 100 packages of 50 small files
 * installed in 0.56 s on this thread alone and 0.57 s with one worker
 * besides (`MINOS_LIVE_WORKERS=1|2`, bench/live.mjs's install).
 */
function defaultSize(): number {
  const env = Number(process.env.MINOS_LIVE_WORKERS);
  if (process.env.MINOS_LIVE_WORKERS !== undefined && Number.isInteger(env) && env >= 0) return env;
  return Math.min(4, Math.floor(idleCores()));
}

/**
 * Start the pool early (workers load their modules while the main thread
 * resolves and fetches); `setOld` before the first job. As root, each thread
 * reads its packages as privsep/read.ts says (verified first, or through an
 * unprivileged reader). `asked`: the threads (default: defaultSize).
 */
export function createStagePool(asked?: number): StagePool {
  const size = asked ?? defaultSize();
  let old: OldEntries = new Map();
  // Readers start when a package needs one (privsep/read.ts: most are verified first).
  const readers = startReaders(Math.max(1, size), { eager: 0 });
  const pool = createWorkerPool<StageJob, StageResult>({
    script: new URL('./stageworker.js', import.meta.url), size, name: 'stage', inline: (job) => stageOne(job, old),
  });
  let here = false;
  let stopped: Promise<void> | undefined;
  return {
    get parallel() {
      return pool.parallel && !here;
    },
    runHere() {
      if (here || !pool.parallel) return;
      here = true;
      stopped = pool.close();
    },
    setOld(o) {
      old = o;
      if (o.size && !here) pool.broadcast({ init: o });
    },
    run: (job) => {
      const j = readers ? { ...job, readers } : job;
      return here ? Promise.resolve().then(() => stageOne(j, old)) : pool.run(j);
    },
    async close() {
      killReaders(readers);
      await (stopped ?? pool.close());
      closeReaders(readers);
    },
  };
}

/**
 * Packages too small to repay a stage worker (workersPay, the build's
 * measure). MINOS_LIVE_WORKERS, when set, decides instead.
 */
export function smallWork(sizes: readonly number[]): boolean {
  if (process.env.MINOS_LIVE_WORKERS !== undefined || sizes.length === 0) return false;
  return !workersPay(sizes.reduce((n, x) => n + x, 0), sizes.length);
}
