/** Worker thread entry: unpacks packages on request (see pool.ts). */
import { serveJobs } from '../workers.js';
import { unpackPackage } from './extract.js';
import { createZstdDecoder } from './zstd.js';

serveJobs(unpackPackage);
// Compile and instantiate the decoder now, while no job is here yet (pools may start early).
createZstdDecoder().free();
