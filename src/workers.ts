/**
 * A small pool of threads running one kind of job: `size - 1` worker threads
 * and this thread, which runs queued jobs through `inline` whenever its event
 * loop is otherwise idle (so one core is not left to a worker's start-up and
 * the caller's waiting). Each promise settles with the job's result or its
 * MinosError. Without a built worker script (running from TypeScript
 * sources) or with size <= 1, every job runs in this thread, with the same
 * results.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parentPort, Worker } from 'node:worker_threads';
import { MinosError, type ErrorCode } from './errors.js';

export interface WorkerPool<J, R> {
  /** Jobs run on worker threads (submit them all at once); else each runs when submitted. */
  parallel: boolean;
  run(job: J): Promise<R>;
  /**
   * Run every job of `jobs`, each on whichever thread is free first: the
   * threads claim them in array order from a shared counter, so no thread
   * waits for another to hand it work. Promises in the order of `jobs`.
   */
  runAll(jobs: readonly J[]): Promise<R>[];
  /**
   * Offer `job` to the worker threads alone (never this thread), ahead of a
   * runAll: the first worker free runs it, unless `withdraw` takes it back
   * first (true: it will not run, and `result` never settles). False from a
   * pool without worker threads: nothing was offered.
   */
  offer(job: J): { result: Promise<R>; withdraw(): boolean } | false;
  /** Send a message to every worker (see serveJobs' `other`). */
  broadcast(msg: object): void;
  /** Take one worker thread out of the pool, unused, once it runs, for another purpose (the caller stops it); none if a job went to the pool or it failed to start. */
  lend(): Promise<Worker | undefined>;
  /** Stop every worker; resolves once no job runs any more (at once if none was running). */
  close(): Promise<void>;
}

interface WireError {
  minos: boolean;
  code?: ErrorCode;
  message: string;
  hint?: string;
  data?: Record<string, unknown>;
}

/** Jobs a worker holds at once: one running, one waiting in its port so it never idles on a round trip. */
const IN_FLIGHT = 2;

export function createWorkerPool<J, R>(opts: { script: URL; size: number; inline: (job: J) => R; name: string }): WorkerPool<J, R> {
  if (opts.size <= 1 || !existsSync(fileURLToPath(opts.script))) {
    const run = async (job: J) => opts.inline(job);
    return { parallel: false, run, runAll: (jobs) => jobs.map(run), offer: () => false, broadcast: () => {}, lend: async () => undefined, close: async () => {} };
  }
  const workers: { w: Worker; busy: number; started: Promise<boolean> }[] = [];
  let closed = false;
  let inlineSoon = false;
  const pending = new Map<number, { resolve: (r: R) => void; reject: (e: unknown) => void }>();
  // Jobs wait here until a worker has room: each worker holds at most
  // IN_FLIGHT jobs, so work goes to whichever core frees up first rather than
  // being dealt out by count when submitted (packages differ in size).
  const queue: { id: number; job: J }[] = [];
  let next = 0;
  // runAll's claim counters, set past the end to stop further claims (close, a dead worker).
  const batches: { counter: Int32Array; n: number }[] = [];
  const stopBatches = () => {
    for (const b of batches) Atomics.store(b.counter, 0, b.n);
  };
  let failed: Error | undefined;
  const died = (e: Error) => new MinosError('MN0001', `${opts.name} worker died: ${e.message}`);
  const dispatch = () => {
    for (let level = 1; level <= IN_FLIGHT; level++) {
      for (const slot of workers) {
        if (slot.busy >= level || !queue.length) continue;
        slot.busy++;
        slot.w.postMessage(queue.shift()!);
      }
    }
  };
  // This thread's share: one queued job per turn of the event loop, so worker
  // results and the caller's own work interleave with it.
  const runInline = () => {
    inlineSoon = false;
    const q = queue.shift();
    if (!q) return;
    const p = pending.get(q.id)!;
    pending.delete(q.id);
    try {
      p.resolve(opts.inline(q.job));
    } catch (e) {
      p.reject(e);
    }
    scheduleInline();
  };
  const scheduleInline = () => {
    if (inlineSoon || !queue.length || closed) return;
    inlineSoon = true;
    setImmediate(runInline);
  };
  for (let i = 0; i < opts.size - 1; i++) {
    // Descriptors a worker opens stay open when it exits (Node would close them): the
    // privsep readers' channels may be opened by one thread and closed by another.
    const w = new Worker(opts.script, { trackUnmanagedFds: false });
    const started = new Promise<boolean>((resolve) => {
      w.once('online', () => resolve(true));
      w.once('error', () => resolve(false));
      w.once('exit', () => resolve(false));
    });
    const slot = { w, busy: 0, started };
    slot.w.on('message', (msg: { id: number; result?: R; error?: WireError; claimed?: boolean }) => {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (!msg.claimed) {
        slot.busy--;
        dispatch();
      }
      const e = msg.error;
      if (!e) p.resolve(msg.result as R);
      else p.reject(e.minos ? new MinosError(e.code!, e.message, { hint: e.hint, data: e.data }) : new MinosError('MN0001', `${opts.name} worker: ${e.message}`));
    });
    slot.w.on('error', (e) => {
      failed = e;
      queue.length = 0;
      stopBatches();
      for (const p of pending.values()) p.reject(died(e));
      pending.clear();
    });
    workers.push(slot);
  }
  return {
    parallel: true,
    run(job) {
      if (failed) return Promise.reject(died(failed));
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        queue.push({ id, job });
        dispatch();
        scheduleInline();
      });
    },
    runAll(jobs) {
      if (failed) return jobs.map(() => Promise.reject(died(failed!)));
      const base = next;
      next += jobs.length;
      const batch = { counter: new Int32Array(new SharedArrayBuffer(4)), n: jobs.length };
      batches.push(batch);
      const promises = jobs.map((_, i) => new Promise<R>((resolve, reject) => pending.set(base + i, { resolve, reject })));
      for (const slot of workers) slot.w.postMessage({ batch: { jobs, counter: batch.counter, base } });
      // This thread's share: one claimed job per turn of the event loop, as for queued jobs.
      const claim = () => {
        const i = Atomics.add(batch.counter, 0, 1);
        if (i >= jobs.length) return;
        const p = pending.get(base + i)!;
        pending.delete(base + i);
        try {
          p.resolve(opts.inline(jobs[i]));
        } catch (e) {
          p.reject(e);
        }
        setImmediate(claim);
      };
      setImmediate(claim);
      return promises;
    },
    offer(job) {
      if (failed || closed) return false;
      // A batch of one (serveJobs claims it through its counter): taking the counter first withdraws it.
      const id = next++;
      const batch = { counter: new Int32Array(new SharedArrayBuffer(4)), n: 1 };
      batches.push(batch);
      const result = new Promise<R>((resolve, reject) => pending.set(id, { resolve, reject }));
      for (const slot of workers) slot.w.postMessage({ batch: { jobs: [job], counter: batch.counter, base: id } });
      const withdraw = () => {
        if (Atomics.add(batch.counter, 0, 1) !== 0) return false;
        pending.delete(id);
        return true;
      };
      return { result, withdraw };
    },
    broadcast(msg) {
      for (const s of workers) s.w.postMessage(msg);
    },
    async lend() {
      if (next > 0 || failed || !workers.length) return undefined;
      const slot = workers.pop()!;
      slot.w.removeAllListeners('message');
      // Only a worker that runs: one that failed to start would leave its borrower waiting.
      if (await slot.started) return slot.w;
      void slot.w.terminate();
      return undefined;
    },
    /** Stop: queued jobs are cancelled (rejected), workers terminated; no job writes any more once this resolves. */
    async close() {
      closed = true;
      stopBatches();
      const cancelled = new MinosError('MN0001', `${opts.name} job cancelled`);
      for (const q of queue.splice(0)) {
        pending.get(q.id)?.reject(cancelled);
        pending.delete(q.id);
      }
      if (pending.size === 0) {
        // No job runs anywhere: nothing to wait for. A worker's exit takes ~20 ms (its isolate's teardown).
        for (const s of workers) {
          s.w.unref();
          void s.w.terminate();
        }
        return;
      }
      await Promise.all(workers.map((s) => s.w.terminate()));
      for (const p of pending.values()) p.reject(cancelled);
      pending.clear();
    },
  };
}

/** Worker side: answer `{id, job}` messages with `handle(job)`; other messages go to `other`. */
export function serveJobs<J, R>(handle: (job: J) => R, other?: (msg: object) => void): void {
  const answer = (id: number, job: J, claimed: boolean) => {
    try {
      parentPort!.postMessage({ id, result: handle(job), claimed });
    } catch (e) {
      const error: WireError = e instanceof MinosError
        ? { minos: true, code: e.code, message: e.message, hint: e.hint, data: e.data }
        : { minos: false, message: (e as Error)?.stack ?? String(e) };
      parentPort!.postMessage({ id, error, claimed });
    }
  };
  parentPort!.on('message', (msg: { id?: number; job?: J; batch?: { jobs: J[]; counter: Int32Array; base: number } }) => {
    if (msg.batch) {
      // Claim runAll's jobs until none is left (see WorkerPool.runAll).
      const { jobs, counter, base } = msg.batch;
      for (let i = Atomics.add(counter, 0, 1); i < jobs.length; i = Atomics.add(counter, 0, 1)) answer(base + i, jobs[i], true);
      return;
    }
    if (msg.id === undefined) {
      other?.(msg);
      return;
    }
    answer(msg.id, msg.job as J, false);
  });
}

/**
 * Cores no other task wants now: the cores less the tasks runnable at this
 * instant besides this one (Linux: /proc/loadavg's fourth field), else less
 * the 1-minute load average. Not the load average where the instant count
 * exists: it still counts a build that just ended (each run of a loop of
 * builds saw its predecessor's threads and ran alone) and tasks blocked on
 * disk, and a machine whose load sat at 1.1 with both cores idle built on
 * one thread.
 */
export function idleCores(): number {
  const cores = availableParallelism();
  try {
    const running = Number(readFileSync('/proc/loadavg', 'latin1').split(' ')[3]?.split('/')[0]);
    if (Number.isInteger(running) && running >= 1) return Math.max(0, cores - (running - 1));
  } catch {
    // not Linux: the load average below
  }
  return Math.max(0, cores - loadavg()[0]);
}

/**
 * Do `count` packages of `total` bytes repay worker threads' start-up
 * (module loading, JIT and wasm warm-up): at least 16 MiB in all and
 * 256 KiB each on average. The build's unpack threads and the live stage
 * workers both go by it (build.ts has the measurements).
 */
export function workersPay(total: number, count: number): boolean {
  return count > 0 && total >= 16 << 20 && total / count >= 256 << 10;
}

/** Less than one core idle (idleCores): a worker thread would only compete for the core this thread runs on, after paying its start-up. */
export function machineBusy(): boolean {
  return idleCores() < 1;
}
