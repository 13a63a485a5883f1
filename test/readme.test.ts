/**
 * The README's short tour, run as written (copy-paste) in a fresh copy of the
 * repository's images/ folder, `minos` being this checkout's bin/minos.js.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN, ROOT, tempDir } from './lib/cli.js';

t.test('the short tour runs as written', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const tour = /## A short tour\n\n```sh\n([\s\S]*?)```/.exec(readme);
  t.ok(tour, 'the README has the tour');
  const dir = tempDir(t, 'minos-tour-');
  cpSync(join(ROOT, 'images'), join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin/minos'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 });
  for (const line of tour![1].split('\n').filter((l) => l.trim() && !l.startsWith('#'))) {
    const r = spawnSync('bash', ['-c', line], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, SOURCE_DATE_EPOCH: '' } });
    t.equal(r.status, 0, `${line.replace(/\s+#.*$/, '')}: ${r.stderr}`);
  }
  t.ok(existsSync(join(dir, 'rootfs.tar.zst')) && existsSync(join(dir, 'rootfs.tar.zst.lock.json')) && existsSync(join(dir, 'rootfs.tar.zst.spdx.json')), 'the image, its lockfile and SBOM');
});
