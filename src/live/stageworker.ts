/** Worker thread entry: stages packages on request (see stagepool.ts). */
import { serveJobs } from '../workers.js';
import { stageOne, type OldEntries, type StageJob } from './stage.js';

let old: OldEntries = new Map();

serveJobs((job: StageJob) => stageOne(job, old), (msg) => {
  if ('init' in msg) old = (msg as { init: OldEntries }).init;
});
