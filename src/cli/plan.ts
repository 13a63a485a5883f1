import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readLock } from '../lock.js';
import type { Command } from 'commander';
import { MinosError } from '../errors.js';
import { isArch, type Arch } from '../depend.js';
import { loadImageSpec } from '../spec/image.js';
import { planImage } from '../plan.js';
import type { Io } from './io.js';
import { LIVE_ACTIONS, runLivePlan } from './live.js';

export function archOption(s: string | undefined): Arch | undefined {
  if (s === undefined) return undefined;
  if (!isArch(s) || s === 'noarch') throw new MinosError('MN0002', `--arch ${s}: expected x86_64, aarch64, armv7 or riscv64`);
  return s;
}

export function registerPlan(program: Command, io: Io): void {
  program
    .command('plan')
    .description('what a build or a live command would do; fetches and writes nothing:\n'
      + '  plan SPEC                              resolve an image spec against its repositories\n'
      + '  plan install|remove|upgrade|rollback … what that command would change on the root')
    .argument('<spec|action>', 'image spec YAML file, or install, remove, upgrade, rollback')
    .argument('[args...]', 'for an action: its arguments, as for the command')
    .option('--arch <arch>', 'spec: target architecture (default: the spec\'s)')
    .option('--allow-expired', 'accept repository indexes past their expiry time')
    .option('--lock <file>', 'spec: keep this lockfile\'s versions while they fit, as build does (default: OUT.lock.json with -o)')
    .option('-o, --out <path>', 'spec: the output build would write: its lockfile is read')
    .option('--update', 'spec: ignore the lockfile\'s versions and resolve afresh')
    .option('--cascade', 'remove: also the packages that depend on them')
    .option('--json', 'print {"install": [...], "remove": [...], "upgrade": [...]} (and "lock": FILE when a lockfile was read)')
    .action(async (first: string, args: string[], opts: PlanFlags, cmd: Command) => {
      if (LIVE_ACTIONS.includes(first)) {
        await runLivePlan(io, first, args, opts, cmd);
        return;
      }
      if (args.length) throw new MinosError('MN0002', `plan ${first}: unexpected arguments ${args.join(' ')}`, { hint: 'plan SPEC, or plan install|remove|upgrade|rollback …' });
      await planSpec(io, first, opts);
    });
}

interface PlanFlags { arch?: string; allowExpired?: boolean; json?: boolean; lock?: string; out?: string; update?: boolean; cascade?: boolean }

async function planSpec(io: Io, specFile: string, opts: PlanFlags): Promise<void> {
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
}
