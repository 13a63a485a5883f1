/** `minos diff A B`: the packages added, removed and changed between two lockfiles or image folders (src/diff.ts). */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { diffPackageSets, readPackageSet, type SetPackage } from '../diff.js';
import type { Io } from './io.js';

const desc = (p: SetPackage) => `${p.version} ${p.arch}`;

export function registerDiff(program: Command, io: Io): void {
  program
    .command('diff')
    .description('the packages added, removed and changed from A to B, each a lockfile (OUT.lock.json) or an image folder')
    .argument('<a>', 'lockfile or image folder')
    .argument('<b>', 'lockfile or image folder')
    .option('--json', 'print JSON')
    .action((a: string, b: string, opts: { json?: boolean }) => {
      const from = readPackageSet(resolve(a));
      const to = readPackageSet(resolve(b));
      const d = diffPackageSets(from.packages, to.packages);
      if (opts.json) {
        io.out(JSON.stringify({ a: { path: from.path, kind: from.kind }, b: { path: to.path, kind: to.kind }, ...d }));
        return;
      }
      for (const p of d.added) io.out(`+ ${p.name} ${desc(p)}`);
      for (const p of d.removed) io.out(`- ${p.name} ${desc(p)}`);
      for (const c of d.changed) {
        const same = c.from.version === c.to.version && c.from.arch === c.to.arch;
        io.out(`~ ${c.name} ${desc(c.from)} -> ${desc(c.to)}${same ? ' (another package file)' : ''}`);
      }
      if (!d.added.length && !d.removed.length && !d.changed.length) io.out(`same ${from.packages.length} packages`);
      else io.out(`${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed`);
    });
}
