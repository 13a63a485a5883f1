/** Worker thread entry: unpacks packages on request (see pool.ts). */
import { parentPort } from 'node:worker_threads';
import { MinosError } from '../errors.js';
import { unpackPackage, type UnpackJob } from './extract.js';

parentPort!.on('message', (msg: { id: number; job: UnpackJob }) => {
  try {
    parentPort!.postMessage({ id: msg.id, result: unpackPackage(msg.job) });
  } catch (e) {
    const err = e instanceof MinosError
      ? { minos: true, code: e.code, message: e.message, hint: e.hint, data: e.data }
      : { minos: false, message: (e as Error)?.stack ?? String(e) };
    parentPort!.postMessage({ id: msg.id, error: err });
  }
});
