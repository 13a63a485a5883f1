/**
 * A small pool of threads running one kind of job: `size - 1` worker threads
 * and this thread, which runs queued jobs through `inline` whenever its event
 * loop is otherwise idle (so one core is not left to a worker's start-up and
 * the caller's waiting). Each promise settles with the job's result or its
 * MinosError. Without a built worker script (running from TypeScript
 * sources) or with size <= 1, every job runs in this thread, with the same
 * results.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parentPort, Worker } from 'node:worker_threads';
import { MinosError, type ErrorCode } from './errors.js';

export interface WorkerPool<J, R> {
  /** Jobs run on worker threads (submit them all at once); else each runs when submitted. */
  parallel: boolean;
  run(job: J): Promise<R>;
  /** Send a message to every worker (see serveJobs' `other`). */
  broadcast(msg: object): void;
  /** Take one worker thread out of the pool, unused, once it runs, for another purpose (the caller stops it); none if a job went to the pool or it failed to start. */
  lend(): Promise<Worker | undefined>;
  /** Stop every worker (waits until none runs any more). */
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
    return { parallel: false, run: async (job) => opts.inline(job), broadcast: () => {}, lend: async () => undefined, close: async () => {} };
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
    const w = new Worker(opts.script);
    const started = new Promise<boolean>((resolve) => {
      w.once('online', () => resolve(true));
      w.once('error', () => resolve(false));
      w.once('exit', () => resolve(false));
    });
    const slot = { w, busy: 0, started };
    slot.w.on('message', (msg: { id: number; result?: R; error?: WireError }) => {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      slot.busy--;
      dispatch();
      const e = msg.error;
      if (!e) p.resolve(msg.result as R);
      else p.reject(e.minos ? new MinosError(e.code!, e.message, { hint: e.hint, data: e.data }) : new MinosError('MN0001', `${opts.name} worker: ${e.message}`));
    });
    slot.w.on('error', (e) => {
      failed = e;
      queue.length = 0;
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
      const cancelled = new MinosError('MN0001', `${opts.name} job cancelled`);
      for (const q of queue.splice(0)) {
        pending.get(q.id)?.reject(cancelled);
        pending.delete(q.id);
      }
      await Promise.all(workers.map((s) => s.w.terminate()));
      for (const p of pending.values()) p.reject(cancelled);
      pending.clear();
    },
  };
}

/** Worker side: answer `{id, job}` messages with `handle(job)`; other messages go to `other`. */
export function serveJobs<J, R>(handle: (job: J) => R, other?: (msg: object) => void): void {
  parentPort!.on('message', (msg: { id?: number; job?: J }) => {
    if (msg.id === undefined) {
      other?.(msg);
      return;
    }
    try {
      parentPort!.postMessage({ id: msg.id, result: handle(msg.job as J) });
    } catch (e) {
      const error: WireError = e instanceof MinosError
        ? { minos: true, code: e.code, message: e.message, hint: e.hint, data: e.data }
        : { minos: false, message: (e as Error)?.stack ?? String(e) };
      parentPort!.postMessage({ id: msg.id, error });
    }
  });
}
