import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readLock } from '../lock.js';
import type { Command } from 'commander';
import { MinosError } from '../errors.js';
import { isArch, type Arch } from '../solve/depend.js';
import { loadImageSpec } from '../spec/image.js';
import { planImage } from '../plan.js';
import type { Io } from './io.js';

export function archOption(s: string | undefined): Arch | undefined {
  if (s === undefined) return undefined;
  if (!isArch(s) || s === 'noarch') throw new MinosError('MN0002', `--arch ${s}: expected x86_64, aarch64, armv7 or riscv64`);
  return s;
}

export function registerPlan(program: Command, io: Io): void {
  program
    .command('plan')
    .description('resolve an image spec against its repositories; fetches and writes nothing')
    .argument('<spec>', 'image spec YAML file')
    .option('--arch <arch>', 'target architecture (default: the spec\'s)')
    .option('--allow-expired', 'accept repository indexes past their expiry time')
    .option('--lock <file>', 'keep this lockfile\'s versions while they fit, as build does (default: OUT.lock.json with -o)')
    .option('-o, --out <path>', 'the output build would write: its lockfile is read')
    .option('--update', 'ignore the lockfile\'s versions and resolve afresh')
    .option('--json', 'print {"install": [...], "remove": [], "upgrade": []} (and "lock": FILE when one was read)')
    .action(async (specFile: string, opts: { arch?: string; allowExpired?: boolean; json?: boolean; lock?: string; out?: string; update?: boolean }) => {
      const spec = loadImageSpec(resolve(specFile));
      const lockFile = opts.lock ? resolve(opts.lock) : opts.out ? `${resolve(opts.out)}.lock.json` : undefined;
      // An explicit --lock must exist; the default one beside -o is read when it is there, as build reads it.
      const lock = lockFile && (opts.lock || existsSync(lockFile)) ? readLock(lockFile) : undefined;
      const plan = await planImage(spec, { arch: archOption(opts.arch), allowExpired: opts.allowExpired, lock, update: opts.update });
      // An image starts empty: everything in the result is installed (locked versions are only preferences).
      const cs = { install: plan.changeset.result, remove: [], upgrade: [] };
      if (opts.json) {
        io.out(JSON.stringify(lock ? { ...cs, lock: lockFile } : cs));
        return;
      }
      io.out(`${spec.name} (${plan.arch}): ${cs.install.length} packages to install`);
      if (lock) io.out(`lockfile ${lockFile}: ${opts.update ? 'versions ignored (--update)' : `${plan.lockedKept} locked versions kept where they fit`}`);
      const width = (k: 'name' | 'version' | 'arch') => Math.max(0, ...cs.install.map((l) => l[k].length));
      const [wn, wv, wa] = [width('name'), width('version'), width('arch')];
      for (const l of cs.install) io.out(`  ${l.name.padEnd(wn)}  ${l.version.padEnd(wv)}  ${l.arch.padEnd(wa)}  ${l.repo}`);
    });
}
