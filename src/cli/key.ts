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
    .option('--json', 'print JSON')
    .action((name: string, opts: { dir: string; json?: boolean }) => {
      const k = generateKey(resolve(opts.dir), name);
      if (opts.json) io.out(JSON.stringify({ id: k.id, secret: k.secretFile, public: k.publicFile }));
      else io.out(`${k.id}  ${k.secretFile}  ${k.publicFile}`);
    });
  key
    .command('id')
    .description('print the key id of key files or folders of *.pub')
    .argument('<files...>', 'PEM key files (public or secret) or folders')
    .option('--json', 'print JSON')
    .action((files: string[], opts: { json?: boolean }) => {
      const keys = [...loadKeyring(files).values()].map((k) => ({ id: k.id, file: k.file }));
      if (opts.json) io.out(JSON.stringify(keys));
      else for (const k of keys) io.out(`${k.id}  ${k.file}`);
    });
  registerLiveKey(key, io);
}
