import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadKeyring, loadSecretKey } from '../repo/keys.js';
import { parseDuration, verifyRepository, writeIndex } from '../repo/index.js';
import { collect, type Io } from './io.js';
import { sourceDateEpoch, trustFrom, type TrustOptions } from './common.js';
import { registerLiveRepo } from './live.js';

export function registerRepo(program: Command, io: Io): void {
  const repo = program.command('repo').description('make and check signed repositories');
  repo
    .command('index')
    .description('verify every *.mpk in DIR and write the signed index (index.json, index.sig)')
    .argument('<dir>', 'repository folder')
    .requiredOption('-k, --key <file>', 'secret key to sign the index with')
    .option('--name <name>', 'repository name (default: the previous index\'s, else the folder\'s name)')
    .option('--expires <duration>', 'validity, e.g. 30d, 12h, 2w, or never', '90d')
    .option('--keyring <path>', 'keys trusted to have signed the packages, besides the index key (repeatable)', collect, [])
    .option('--json', 'print the result as JSON')
    .action((dir: string, opts: { key: string; name?: string; expires: string; keyring: string[]; json?: boolean }) => {
      const expires = parseDuration(opts.expires);
      const key = loadSecretKey(opts.key);
      const keyring = opts.keyring.length ? loadKeyring(opts.keyring) : undefined;
      const { index, digest } = writeIndex({
        dir: resolve(dir), key, keyring, name: opts.name, expires, created: sourceDateEpoch(), validFrom: Math.floor(Date.now() / 1000),
      });
      if (opts.json) io.out(JSON.stringify({ name: index.name, serial: index.serial, packages: index.packages.length, expires: index.expires, digest }));
      else io.out(`${index.name}: serial ${index.serial}, ${index.packages.length} packages, expires ${index.expires ?? 'never'}, signed by ${key.id}`);
    });
  repo
    .command('verify')
    .description('verify a repository: index signature and expiry, and every package it lists')
    .argument('<dir>', 'repository folder')
    .option('--key <file>', 'trusted public key (repeatable)', collect, [])
    .option('--keyring <dir>', 'folder of trusted *.pub keys (repeatable)', collect, [])
    .option('--allow-expired', 'accept an index past its expiry time')
    .option('--json', 'print the result as JSON')
    .action((dir: string, opts: TrustOptions & { allowExpired?: boolean; json?: boolean }) => {
      const { index, digest } = verifyRepository(resolve(dir), { keyring: trustFrom(opts), allowExpired: opts.allowExpired });
      if (opts.json) io.out(JSON.stringify({ name: index.name, serial: index.serial, packages: index.packages.length, digest, ok: true }));
      else io.out(`${index.name}: ok (serial ${index.serial}, ${index.packages.length} packages verified)`);
    });
  registerLiveRepo(repo, io);
}
