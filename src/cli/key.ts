import { resolve } from 'node:path';
import type { Command } from 'commander';
import { generateKey, loadKeyring } from '../repo/keys.js';
import type { Io } from './io.js';
import { registerLiveKey } from './live.js';

export function registerKey(program: Command, io: Io): void {
  const key = program.command('key').description('make and inspect signing keys');
  key
    .command('generate')
    .description('write NAME.key (Ed25519 secret, mode 0600) and NAME.pub, and print the key id')
    .argument('<name>', 'key name')
    .option('-d, --dir <dir>', 'folder to write the key files in (made, private, if missing)', '.')
    .action((name: string, opts: { dir: string }) => {
      const k = generateKey(resolve(opts.dir), name);
      io.out(`${k.id}  ${k.secretFile}  ${k.publicFile}`);
    });
  key
    .command('id')
    .description('print the key id of key files or folders of *.pub')
    .argument('<files...>', 'PEM key files (public or secret) or folders')
    .action((files: string[]) => {
      for (const k of loadKeyring(files).values()) io.out(`${k.id}  ${k.file}`);
    });
  registerLiveKey(key, io);
}
