/** `minos recover [--abort]`: finish or undo interrupted transactions of the root. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { recover } from '../live/journal.js';
import { acquireLock } from '../live/lock.js';
import { openRoot } from '../live/root.js';
import type { LiveEvent } from '../live/events.js';
import type { Io } from './io.js';

export function registerRecover(program: Command, io: Io, onEvent: (io: Io) => (e: LiveEvent) => void): void {
  program
    .command('recover')
    .description('finish or undo interrupted transactions now (every command does it first)')
    .option('--abort', 'roll back a transaction whose journal cannot be read, from its own saved files')
    .option('--wait', 'wait for another minos to finish instead of failing (exit 5)')
    .option('--json', 'print {"recovered": [{"txn": ID, "action": "rolled back" | "completed" | "discarded"}]}')
    .action(async (opts: { abort?: boolean; wait?: boolean; json?: boolean }, cmd: Command) => {
      const root = openRoot(resolve((cmd.optsWithGlobals() as { root?: string }).root ?? '/'));
      const emit = onEvent(io);
      const lock = await acquireLock(root, { command: opts.abort ? 'recover --abort' : 'recover', wait: opts.wait, onEvent: emit });
      try {
        const done = recover(root, emit, { abort: opts.abort });
        if (opts.json) io.out(JSON.stringify({ recovered: done }));
        else if (done.length === 0) io.out('nothing to recover');
      } finally {
        lock.release();
      }
    });
}
