import { resolve } from 'node:path';
import type { Command } from 'commander';
import { importDebs } from '../debian/import.js';
import { loadSecretKey } from '../repo/keys.js';
import type { Io } from './io.js';
import { sourceDateEpoch, zstdLevel } from './common.js';

export function registerImport(program: Command, io: Io): void {
  const imp = program.command('import').description('turn packages of other formats into signed minos packages');
  imp
    .command('deb')
    .description('turn Debian packages (.deb) into signed NAME-VERSION-ARCH.mpk, all or none')
    .argument('<files...>', '.deb files')
    .requiredOption('-k, --key <file>', 'secret key to sign with')
    .requiredOption('-o, --out <dir>', 'output folder (made if missing)')
    .option('--level <n>', 'zstd level 1-19', '19')
    .option('--json', 'print one JSON line per package')
    .action((files: string[], opts: { key: string; out: string; level: string; json?: boolean }) => {
      const level = zstdLevel(opts.level);
      const key = loadSecretKey(opts.key);
      const done = importDebs(files.map((f) => resolve(f)), { key, outDir: resolve(opts.out), level, sourceDateEpoch: sourceDateEpoch() });
      for (const r of done) {
        const m = r.manifest;
        if (opts.json) io.out(JSON.stringify({ deb: r.deb, file: r.file, size: r.size, sha256: r.sha256, name: m.name, version: m.version, arch: m.arch }));
        else io.out(r.file);
      }
    });
}
