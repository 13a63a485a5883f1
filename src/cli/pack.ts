import { resolve } from 'node:path';
import type { Command } from 'commander';
import { readPackage } from '../pkg/read.js';
import { packPackage } from '../pkg/write.js';
import { loadSecretKey } from '../repo/keys.js';
import { loadRecipe } from '../spec/recipe.js';
import { formatTime } from '../repo/index.js';
import { collect, type Io } from './io.js';
import { liveVerify } from './query.js';
import { fieldLine, formatEntry, sourceDateEpoch, trustFrom, zstdLevel, type TrustOptions } from './common.js';


export function registerPack(program: Command, io: Io): void {
  program
    .command('pack')
    .description('build a signed package NAME-VERSION-ARCH.mpk from each recipe')
    .argument('<recipes...>', 'recipe YAML files')
    .requiredOption('-k, --key <file>', 'secret key to sign with')
    .option('-o, --out <dir>', 'output folder (made if missing)', '.')
    .option('--level <n>', 'zstd level 1-19', '19')
    .option('--json', 'print the result as JSON (one line per package)')
    .action((recipeFiles: string[], opts: { key: string; out: string; level: string; json?: boolean }) => {
      // Every recipe and the key are read first: a bad one stops before any package is written.
      const recipes = recipeFiles.map((f) => loadRecipe(resolve(f)));
      const key = loadSecretKey(opts.key);
      const level = zstdLevel(opts.level);
      for (const recipe of recipes) {
        const r = packPackage({ recipe, key, outDir: resolve(opts.out), level, sourceDateEpoch: sourceDateEpoch() });
        if (opts.json) io.out(JSON.stringify({ file: r.file, size: r.size, sha256: r.sha256, name: r.manifest.name, version: r.manifest.version, arch: r.manifest.arch }));
        else io.out(r.file);
      }
    });

  program
    .command('inspect')
    .description('show a package\'s metadata and file list (signature checked only with --key/--keyring)')
    .argument('<file>', 'package file')
    .option('--key <file>', 'trusted public key (repeatable)', collect, [])
    .option('--keyring <dir>', 'folder of trusted *.pub keys (repeatable)', collect, [])
    .option('--json', 'print the manifest as JSON')
    .action((file: string, opts: TrustOptions & { json?: boolean }) => {
      const keyring = opts.key.length + opts.keyring.length ? trustFrom(opts) : undefined;
      const r = readPackage(file, { keyring, headOnly: true });
      const m = r.manifest;
      const signature = { keyid: m.signer, verified: r.signer !== undefined };
      if (opts.json) {
        io.out(JSON.stringify({ ...m, signature }, null, 2));
        return;
      }
      const line = (k: string, v: string) => io.out(fieldLine(k, v));
      io.out(`${m.name} ${m.version} (${m.arch})`);
      line('summary', m.summary);
      line('license', m.license);
      line('signed by', `${m.signer} (${signature.verified ? 'verified' : 'not checked: give --key or --keyring'})`);
      line('built', formatTime(m.builddate));
      line('installed', `${m.installedSize} bytes in ${m.files.length} entries`);
      for (const k of ['depends', 'optional', 'provides', 'conflicts', 'replaces', 'config'] as const) if (m[k].length) line(k, m[k].join(', '));
      for (const u of m.users) line('user', `${u.name} uid ${u.uid} group ${u.group}${u.home ? ` home ${u.home}` : ''}${u.shell ? ` shell ${u.shell}` : ''}`);
      for (const g of m.groups) line('group', `${g.name} gid ${g.gid}`);
      io.out('files:');
      for (const e of m.files) io.out(`  ${formatEntry(e)}`);
    });

  program
    .command('verify')
    .description('verify package files (FILE.mpk --key K: signature, payload against manifest, every hash and size), or the installed packages of the root against the database (NAME..., or none for all)')
    .argument('[files...]', 'package files, or installed package names')
    .option('--key <file>', 'trusted public key (repeatable)', collect, [])
    .option('--keyring <dir>', 'folder of trusted *.pub keys (repeatable)', collect, [])
    .option('--json', 'print one JSON line per package')
    .action(async (files: string[], opts: TrustOptions & { json?: boolean }, cmd: Command) => {
      const packageFiles = opts.key.length + opts.keyring.length > 0 || (files.length > 0 && files.every((f) => f.endsWith('.mpk')));
      if (!packageFiles) return liveVerify(io, cmd, files, !!opts.json);
      const keyring = trustFrom(opts);
      for (const f of files) {
        const r = readPackage(f, { keyring });
        const m = r.manifest;
        if (opts.json) io.out(JSON.stringify({ file: f, ok: true, name: m.name, version: m.version, arch: m.arch, signer: r.signer!.id, size: r.size, sha256: r.sha256 }));
        else io.out(`${f}: ok (${m.name} ${m.version} ${m.arch}, ${m.files.length} entries, signed by ${r.signer!.id})`);
      }
    });
}
