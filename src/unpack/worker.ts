/** Worker thread entry: unpacks packages on request (see pool.ts). */
import { serveJobs } from '../workers.js';
import { unpackPackage } from './extract.js';

serveJobs(unpackPackage);
