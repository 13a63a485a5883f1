/** Worker thread entry: unpacks packages on request (see pool.ts), or serves a queued writer lent it (see fswriter.ts). */
import { serveJobs } from '../workers.js';
import { unpackPackage } from './extract.js';
import { serveFsQueue } from './fswriter.js';
import { createZstdDecoder } from './zstd.js';

serveJobs(unpackPackage, (msg) => {
  if ('fsQueue' in msg) serveFsQueue((msg as { fsQueue: Parameters<typeof serveFsQueue>[0] }).fsQueue);
});
// Compile and instantiate the decoder now, while no job is here yet (pools may start early).
createZstdDecoder().free();
