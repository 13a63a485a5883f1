/**
 * A small pool of worker threads running one kind of job. Jobs go to the
 * least busy worker; each promise settles with the job's result or its
 * MinosError. Without a built worker script (running from TypeScript
 * sources) or with size <= 1, jobs run in this thread through `inline`,
 * with the same results.
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

export function createWorkerPool<J, R>(opts: { script: URL; size: number; inline: (job: J) => R; name: string }): WorkerPool<J, R> {
  if (opts.size <= 1 || !existsSync(fileURLToPath(opts.script))) {
    return { parallel: false, run: async (job) => opts.inline(job), broadcast: () => {}, close: async () => {} };
  }
  const workers: { w: Worker; busy: number }[] = [];
  const pending = new Map<number, { resolve: (r: R) => void; reject: (e: unknown) => void }>();
  let next = 0;
  let failed: Error | undefined;
  const died = (e: Error) => new MinosError('MN0001', `${opts.name} worker died: ${e.message}`);
  for (let i = 0; i < opts.size; i++) {
    const slot = { w: new Worker(opts.script), busy: 0 };
    slot.w.on('message', (msg: { id: number; result?: R; error?: WireError }) => {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      slot.busy--;
      const e = msg.error;
      if (!e) p.resolve(msg.result as R);
      else p.reject(e.minos ? new MinosError(e.code!, e.message, { hint: e.hint, data: e.data }) : new MinosError('MN0001', `${opts.name} worker: ${e.message}`));
    });
    slot.w.on('error', (e) => {
      failed = e;
      for (const p of pending.values()) p.reject(died(e));
      pending.clear();
    });
    workers.push(slot);
  }
  return {
    parallel: true,
    run(job) {
      if (failed) return Promise.reject(died(failed));
      const slot = workers.reduce((a, b) => (b.busy < a.busy ? b : a));
      const id = next++;
      slot.busy++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        slot.w.postMessage({ id, job });
      });
    },
    broadcast(msg) {
      for (const s of workers) s.w.postMessage(msg);
    },
    async close() {
      await Promise.all(workers.map((s) => s.w.terminate()));
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
