/**
 * minos as an installable tool: `npm pack` gives a package that installs with
 * no network and no build step and runs real work (WebAssembly, workers);
 * the man page and shell completions come from the same command tree as --help.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { minos, ROOT, sh, tempDir, writeTree } from './lib/cli.js';

const run = (cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}) => spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });

t.test('bash completion: commands, subcommands and options by the words typed', async (t) => {
  const script = minos(['completion', 'bash']).stdout;
  t.equal(run('bash', ['-n'], { input: script }).status, 0, 'valid bash');
  const complete = (...words: string[]) => run('bash', ['-c', `${script}\nCOMP_WORDS=(minos ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _minos; printf '%s\\n' "\${COMPREPLY[@]}"`]).stdout.split('\n').filter(Boolean).sort();
  t.same(complete('re'), ['recover', 'remove', 'repo']);
  t.same(complete('repo', 'i'), ['index']);
  t.same(complete('--root', '/mnt', 'repo', 'i'), ['index'], '--root DIR is skipped');
  t.ok(complete('build', '--f').includes('--format'));
  t.ok(complete('build', '--f').includes('--frozen'));
  for (const shell of ['zsh', 'fish']) {
    const r = minos(['completion', shell]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /install/);
  }
  const bad = minos(['completion', 'tcsh']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /completion tcsh: expected bash, zsh, fish \[MN0002\]/);
});

t.test('the man page lists every command --help lists', async (t) => {
  const man = readFileSync(join(ROOT, 'man/minos.1'), 'utf8');
  t.match(man, /^\.TH MINOS 1/);
  const help = minos(['--help']).stdout;
  // (help is commander's own: `minos help CMD` is `minos CMD --help`)
  const commands = [...help.matchAll(/^ {2}([a-z][a-z-]*) /gm)].map((m) => m[1]).filter((c) => c !== 'help');
  t.ok(commands.length > 20, `${commands.length} commands`);
  for (const c of commands) t.match(man, new RegExp(`^\\.SS ${c}\\b`, 'm'), `man: ${c}`);
  t.match(man, /\.SH EXIT STATUS/);
  const groff = run('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: man });
  if (!groff.error) t.equal(groff.stderr, '', 'groff: no warnings');
});

t.test('npm pack: installs offline with no build step and runs', async (t) => {
  const dir = tempDir(t, 'minos-pack-');
  const p = run('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], { cwd: ROOT });
  t.equal(p.status, 0, p.stderr);
  const tgz = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
  const listing = sh(`tar tzf '${tgz}'`);
  for (const f of ['package/LICENSE', 'package/man/minos.1', 'package/bin/minos.js', 'package/dist/bundle/minos.cjs', 'package/dist/bundle/engine.cjs', 'package/dist/bundle/errors.cjs', 'package/dist/bundle/engine.cjs.cache', 'package/wasm/gen/zstd-decoder.core.wasm']) {
    t.ok(listing.split('\n').includes(f) || (f.endsWith('.wasm') && /package\/wasm\/gen\/.*\.wasm/.test(listing)), `the package holds ${f}`);
  }
  t.notMatch(listing, /package\/src\/|package\/test\/|package\/node_modules\//, 'no sources, tests or node_modules');
  const prefix = join(dir, 'prefix');
  const i = run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', prefix, tgz]);
  t.equal(i.status, 0, i.stderr);
  const bin = join(prefix, 'node_modules/.bin/minos');
  const v = run(bin, ['--version']);
  t.equal(v.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  // Real work with the installed copy: keys, pack, index, a tar.zst build.
  const work = join(dir, 'work');
  mkdirSync(work);
  writeTree(join(work, 'src'), {
    'recipe.yaml': 'name: hello\nversion: "1.0"\narch: noarch\nsummary: hi\nlicense: MIT\nfiles: tree\n',
    'tree/usr/share/hello/README': 'hello\n',
  });
  for (const args of [
    ['key', 'generate', 'k', '--dir', work],
    ['pack', join(work, 'src/recipe.yaml'), '-k', join(work, 'k.key'), '-o', join(work, 'repo')],
    ['repo', 'index', join(work, 'repo'), '-k', join(work, 'k.key')],
  ]) {
    const r = run(bin, args);
    t.equal(r.status, 0, `${args[0]}: ${r.stderr}`);
  }
  writeTree(work, { 'image.yaml': `name: img\narch: x86_64\nrepositories:\n  - path: repo\n    keys: [k.pub]\npackages: [hello]\n` });
  const b = run(bin, ['build', join(work, 'image.yaml'), '-o', join(work, 'img.tar.zst')]);
  t.equal(b.status, 0, b.stderr);
  t.match(sh(`tar --zstd -tf '${join(work, 'img.tar.zst')}'`), /usr\/share\/hello\/README/);
});
