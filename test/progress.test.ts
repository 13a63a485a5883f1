/**
 * The progress line: its text (rate, time left, cut to the terminal), its
 * redraw rate, and, through a pseudo-terminal (`script` from util-linux),
 * that build and install draw it on a terminal's stderr and never when
 * stderr is a pipe or a file, or under --json.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createProgress, formatDuration, stepText } from '../src/cli/progress.js';
import type { Io } from '../src/cli/io.js';
import { BIN, minos } from './lib/cli.js';
import { liveFixture } from './lib/live.js';
import { writeSpec } from './lib/repo.js';

t.test('step text: packages, bytes, rate, time left', async (t) => {
  t.equal(formatDuration(0), '0:00');
  t.equal(formatDuration(61_400), '1:01');
  t.equal(formatDuration(3_725_000), '1:02:05');
  t.equal(stepText({ done: 1, total: 4, label: 'a 1.0' }, 0), '[1/4] a 1.0', 'no rate before any time has passed');
  t.equal(stepText({ done: 2, total: 4, label: 'a 1.0' }, 1000), '[2/4] a 1.0, 2.0 packages/s, 0:01 left');
  t.equal(stepText({ done: 10, total: 40, bytes: 10 * 2 ** 20, label: 'big 2' }, 5000), '[10/40] big 2, 10.0 MiB, 2.0 MiB/s, 0:15 left');
  t.equal(stepText({ done: 4, total: 4, bytes: 2048, label: 'z 1' }, 2000), '[4/4] z 1, 2.0 KiB, 1.0 KiB/s', 'no time left at the end');
  t.equal(stepText({ done: 2, total: 4, label: 'a-very-long-name 1.0' }, 1000, 12), '[2/4] a-ver', 'cut to the width of the terminal, less one column');
});

t.test('redraws at most every interval, always the first and last step, and clears what it drew', async (t) => {
  const drawn: string[] = [];
  let now = 0;
  const io: Io = { out() {}, err() {}, isTTY: true, version: 'x', progress: (l) => drawn.push(l) };
  const p = createProgress(io, { enabled: true, now: () => now, interval: 100 });
  p.phase('resolved');
  for (let i = 1; i <= 10; i++) {
    now += 30;
    p.step({ done: i, total: 10, label: `p${i} 1` });
  }
  p.clear();
  p.clear();
  t.same(drawn.map((l) => l.split(',')[0]), ['resolved', '[1/10] p1 1', '[5/10] p5 1', '[9/10] p9 1', '[10/10] p10 1', ''], 'throttled; one clear');
  const off: string[] = [];
  const q = createProgress({ ...io, progress: (l) => off.push(l) }, { enabled: false });
  q.phase('x');
  q.step({ done: 1, total: 1, label: 'a' });
  q.clear();
  t.same(off, [], 'a disabled progress draws nothing');
});

/** Run `minos ARGS` under a pseudo-terminal; `redirect` is appended to the command line (e.g. `2>FILE`). Returns what the terminal showed. */
function onTerminal(args: string[], redirect = ''): { code: number; screen: string } {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qfec', `${quoted} ${redirect}`, '/dev/null'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? 128, screen: r.stdout };
}

const PROGRESS = /\r\x1b\[K\[\d+\/\d+\] /;

t.test('install and build draw progress on a terminal, never on a pipe, a file or under --json', async (t) => {
  const f = liveFixture(t, [{ name: 'libz' }, { name: 'hello', depends: ['libz'] }, { name: 'tool' }]);
  const root = ['--root', f.root];

  const tty = onTerminal([...root, 'install', 'hello']);
  t.equal(tty.code, 0, tty.screen);
  t.match(tty.screen, /\r\x1b\[Kresolved: 2 to install, 0 to upgrade, 0 to remove; fetching and unpacking 2 packages/);
  t.match(tty.screen, PROGRESS, 'a [n/total] line');
  t.match(tty.screen, /\r\x1b\[Kcommitting \d+ operations\r\x1b\[Kinstalled /, 'the line is cleared before the result');

  const file = join(f.dir, 'stderr.txt');
  const redirected = onTerminal([...root, 'install', 'tool'], `2>'${file}'`);
  t.equal(redirected.code, 0, redirected.screen);
  t.notMatch(redirected.screen, /\x1b\[K/, 'stderr to a file: no progress');
  t.equal(readFileSync(file, 'utf8'), '');

  const json = onTerminal([...root, 'remove', 'tool', '--json']);
  t.equal(json.code, 0, json.screen);
  t.notMatch(json.screen, /\x1b\[K/, '--json on a terminal: no progress');
  t.match(JSON.parse(json.screen), { remove: [{ name: 'tool' }] });

  const piped = f.run(['install', 'tool']);
  t.equal(piped.code, 0);
  t.equal(piped.stderr, '', 'piped: nothing on stderr');

  const spec = writeSpec(join(f.dir, 'img.yaml'), { name: 'img', arch: 'x86_64', repositories: [{ path: f.repo, keys: [f.pub] }], packages: ['hello'] });
  const build = onTerminal(['build', spec, '-o', join(f.dir, 'img')]);
  t.equal(build.code, 0, build.screen);
  t.match(build.screen, /\r\x1b\[Kresolved 2 packages; fetching and unpacking/);
  t.match(build.screen, /\r\x1b\[K\[\d\/2\] \S+ 1\.0, \d+ B/, 'build steps count bytes');
  t.match(build.screen, /\r\x1b\[Kwriting dir\r\x1b\[K\S+img: dir image of 2 packages/);
  const buildPiped = minos(['build', spec, '-o', join(f.dir, 'img2')]);
  t.equal(buildPiped.code, 0, buildPiped.stderr);
  t.equal(buildPiped.stderr, '', 'build piped: nothing on stderr');
});
