import { resolve } from 'node:path';
import type { Command } from 'commander';
import { MinosError } from '../errors.js';
import { isArch, type Arch } from '../depend.js';
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
    .option('--json', 'print {"install": [...], "remove": [], "upgrade": []}')
    .action(async (specFile: string, opts: { arch?: string; allowExpired?: boolean; json?: boolean }) => {
      const spec = loadImageSpec(resolve(specFile));
      const plan = await planImage(spec, { arch: archOption(opts.arch), allowExpired: opts.allowExpired });
      const cs = plan.changeset;
      if (opts.json) {
        io.out(JSON.stringify({ install: cs.install, remove: cs.remove, upgrade: cs.upgrade }));
        return;
      }
      io.out(`${spec.name} (${plan.arch}): ${cs.install.length} packages to install`);
      const width = (k: 'name' | 'version' | 'arch') => Math.max(0, ...cs.install.map((l) => l[k].length));
      const [wn, wv, wa] = [width('name'), width('version'), width('arch')];
      for (const l of cs.install) io.out(`  ${l.name.padEnd(wn)}  ${l.version.padEnd(wv)}  ${l.arch.padEnd(wa)}  ${l.repo}`);
    });
}
