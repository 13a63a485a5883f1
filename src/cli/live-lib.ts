/**
 * The library functions the live commands call. cli/live.ts loads this module
 * when a live command runs (a commander preAction hook), so the other
 * commands start without the live engine.
 */
export { readHistory } from '../live/history.js';
export { findRecord, owners, search, verifyInstalled } from '../live/query.js';
export { openLiveRepos } from '../live/resolve.js';
export { addKey, CACHE_DIR, initRoot, listKeys, loadDb, readRepoConfig, removeKey, rootArch, writeRepoConfig } from '../live/root.js';
export { openForQuery, planLive, runLive, withWriteLock } from '../live/transaction.js';
export { repoNameError } from '../repo/index.js';
export { solve } from '../solve/solver.js';
