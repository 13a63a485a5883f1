/** Worker thread entry: unpacks packages on request (see pool.ts) or reads a file into shared memory (readShared), or serves a queued writer lent it (see fswriter.ts). */
import { serveJobs } from '../workers.js';
import { readShared, unpackPackage, type SharedReadJob, type UnpackJob } from './extract.js';
import { serveFsQueue } from './fswriter.js';
import { createZstdDecoder } from './zstd.js';

serveJobs((job: UnpackJob | SharedReadJob) => ('sharedRead' in job ? readShared(job) : unpackPackage(job)), (msg) => {
  if ('fsQueue' in msg) serveFsQueue((msg as { fsQueue: Parameters<typeof serveFsQueue>[0] }).fsQueue);
});
// Compile and instantiate the decoder now, while no job is here yet (pools may start early).
createZstdDecoder().free();
