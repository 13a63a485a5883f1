/**
 * A build's temporary names beside OUT (target/place.ts): what Ctrl-C
 * removes while a worker thread may still be writing, and what a later
 * build sweeps.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { tempDir } from './lib/cli.js';
import { buildTemps, removeOwnTemps, sweepStale } from '../src/target/place.js';

t.test('interrupted while another thread still makes folders in the packages\' temp folder: nothing left beside OUT', async (t) => {
  for (let round = 0; round < 5; round++) {
    const dir = tempDir(t, 'minos-place-');
    const out = join(dir, 'out');
    const temps = buildTemps(out);
    mkdirSync(temps.stage);
    mkdirSync(temps.pkgs);
    writeFileSync(join(temps.stage, 'f'), 'x');
    // As an unpack thread does: one folder at a time, each in a parent that must exist; it stops at the first failure.
    // (At most 20,000: a removal that loses the race fails the test instead of hanging it.)
    const writer = spawn(process.execPath, ['-e', 'const fs = require("fs"); try { for (let i = 0; i < 20000; i++) fs.mkdirSync(`${process.argv[1]}/d${i}`); } catch {}', temps.pkgs], { stdio: 'ignore' });
    const ended = new Promise((resolve) => writer.on('exit', resolve));
    while (!existsSync(join(temps.pkgs, 'd200'))) await new Promise((r) => setTimeout(r, 2));
    removeOwnTemps(out, join(dir, 'out.lock.json'), join(dir, 'out.spdx.json'));
    await ended;
    t.same(readdirSync(dir), [], `round ${round}: nothing beside OUT, and the writer found its folder gone`);
  }
});

t.test('a later build sweeps what a dead process left, under every temporary name, and keeps a live one\'s', async (t) => {
  const dir = tempDir(t, 'minos-place-');
  const out = join(dir, 'out');
  const dead = 2147483646;
  const names = ['tmp', 'out', 'oci', 'gone'].map((k) => `.out.minos-${k}-${dead}`);
  for (const n of [...names, `.out.minos-tmp-${dead}.pkgs`, `.out.minos-gone-${dead}.pkgs`]) mkdirSync(join(dir, n));
  const mine = `.out.minos-gone-${process.pid}.pkgs`;
  mkdirSync(join(dir, mine));
  mkdirSync(join(dir, '.other.minos-gone-1.pkgs'));
  sweepStale(out, join(dir, 'out.lock.json'), join(dir, 'out.spdx.json'));
  t.same(readdirSync(dir).sort(), ['.other.minos-gone-1.pkgs', mine].sort(), 'a live process\'s temp and another output\'s stay');
});
