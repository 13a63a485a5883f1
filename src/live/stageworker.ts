/** Worker thread entry: stages packages on request (see stagepool.ts). */
import { parentPort } from 'node:worker_threads';
import { MinosError } from '../errors.js';
import { stageOne, type OldEntries, type StageJob } from './stage.js';

let old: OldEntries = new Map();

parentPort!.on('message', (msg: { init: OldEntries } | { id: number; job: StageJob }) => {
  if ('init' in msg) {
    old = msg.init;
    return;
  }
  try {
    parentPort!.postMessage({ id: msg.id, result: stageOne(msg.job, old) });
  } catch (e) {
    const err = e instanceof MinosError
      ? { minos: true, code: e.code, message: e.message, hint: e.hint, data: e.data }
      : { minos: false, message: (e as Error)?.stack ?? String(e) };
    parentPort!.postMessage({ id: msg.id, error: err });
  }
});
