/**
 * Versions and dependency strings. compareVersions is checked against
 * `dpkg --compare-versions` (the oracle) on thousands of generated pairs, run
 * in two batched shell loops; then the laws of a total order; then parsing.
 */
import { spawn, spawnSync } from 'node:child_process';
import t from 'tap';
import { isMinosError } from '../src/errors.js';
import { formatDependency, parseDependency, parseDescriptor, parseProvide, satisfies } from '../src/depend.js';
import { compareVersions, parseVersion, versionError } from '../src/version.js';
import { debCompare } from './lib/checksolution.js';
import { prng } from './lib/prng.js';

const rnd = prng(20260101);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];

/** Random valid versions, biased towards the tricky parts (~, zeros, letters, epochs). */
function version(): string {
  const atoms = ['0', '00', '1', '01', '2', '9', '10', '010', '123', 'a', 'b', 'z', 'A', 'Z', '~', '~~', '~rc1', '+', '.', '+dfsg', '.0', 'rc', 'beta', '~beta2', 'p1'];
  let up = pick(['0', '1', '2', '10', '1.0', '1.2', '2.0', '0.9', '00', '1.00']);
  const n = Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) up += pick(atoms);
  const epoch = rnd() < 0.15 ? `${pick(['0', '1', '2', '10', '01'])}:` : '';
  if (epoch && rnd() < 0.2) up += `:${pick(['1', 'a'])}`;
  let rev = '';
  if (rnd() < 0.4) {
    rev = pick(['0', '1', '2', '1ubuntu1', '0+deb12u1', '1~bpo1', 'a', '~', '1.1', '10']);
    if (rnd() < 0.2) up += `-${pick(['1', 'x'])}`; // hyphen inside upstream (allowed with a revision)
  }
  return `${epoch}${up}${rev ? `-${rev}` : ''}`;
}

function mutate(v: string): string {
  const r = rnd();
  if (r < 0.25) return v.replace(/(\d+)/, (d) => `0${d}`); // leading zero: equal
  if (r < 0.4) return v.includes(':') ? v : `0:${v}`; // explicit zero epoch: equal
  if (r < 0.6) return `${v}~`; // just before
  if (r < 0.8) return `${v}.0`;
  return v.replace(/\d(?!.*\d)/, (d) => String((Number(d) + 1) % 10));
}

const haveDpkg = spawnSync('dpkg', ['--version']).error === undefined;
t.ok(haveDpkg, 'dpkg is installed (make test installs it)');

t.test('compareVersions agrees with dpkg --compare-versions', { skip: haveDpkg ? false : 'dpkg not installed' }, async (t) => {
  const pairs: [string, string][] = [];
  while (pairs.length < 3000) {
    const a = version();
    const b = rnd() < 0.35 ? mutate(a) : version();
    if (versionError(a) || versionError(b)) continue;
    pairs.push([a, b]);
  }
  // One shell per half, each running dpkg per pair: `lt` first, then `eq` only when needed.
  const script = 'while read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo -1; elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done';
  const run = (chunk: [string, string][]): Promise<number[]> => new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', script]);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', () => resolve(out.trim().split('\n').map(Number)));
    p.stdin.end(chunk.map(([a, b]) => `${a} ${b}`).join('\n') + '\n');
  });
  const half = pairs.length >> 1;
  const [r1, r2] = await Promise.all([run(pairs.slice(0, half)), run(pairs.slice(half))]);
  const oracle = [...r1, ...r2];
  t.equal(oracle.length, pairs.length, 'dpkg answered every pair');
  let bad = 0;
  let equal = 0;
  for (let i = 0; i < pairs.length; i++) {
    const [a, b] = pairs[i];
    const ours = Math.sign(compareVersions(a, b));
    if (oracle[i] === 0) equal++;
    if (ours !== oracle[i]) {
      if (bad++ < 10) t.fail(`${a} vs ${b}: minos ${ours}, dpkg ${oracle[i]}`);
    }
    if (Math.sign(debCompare(a, b)) !== oracle[i] && bad++ < 10) t.fail(`checker's debCompare disagrees on ${a} vs ${b}`);
  }
  t.equal(bad, 0, `${pairs.length} pairs (${equal} equal by dpkg)`);
  t.ok(equal > 100, 'the generator produces equal-but-different spellings');
});

t.test('total order laws', async (t) => {
  const sample: string[] = [];
  while (sample.length < 400) {
    const v = version();
    if (!versionError(v)) sample.push(v, mutate(v));
  }
  const vs = sample.filter((v) => !versionError(v));
  let failures = 0;
  for (const a of vs) {
    if (compareVersions(a, a) !== 0) failures++;
    for (const b of vs) {
      const ab = Math.sign(compareVersions(a, b));
      if (ab !== -Math.sign(compareVersions(b, a))) failures++;
    }
  }
  t.equal(failures, 0, 'reflexive and antisymmetric');
  const sorted = [...vs].sort(compareVersions);
  let order = 0;
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) if (compareVersions(sorted[i], sorted[j]) > 0) order++;
  }
  t.equal(order, 0, 'sorting yields a chain (transitivity)');
  // Equal versions are interchangeable: same relation to every other version.
  let eq = 0;
  for (let i = 0; i + 1 < sorted.length; i++) {
    if (compareVersions(sorted[i], sorted[i + 1]) === 0) {
      for (const c of vs) if (Math.sign(compareVersions(sorted[i], c)) !== Math.sign(compareVersions(sorted[i + 1], c))) eq++;
    }
  }
  t.equal(eq, 0, 'equality is a congruence');
});

t.test('known orderings', async (t) => {
  const chain = ['0~', '0', '0.1', '1.0~rc1', '1.0', '1.0-0.1', '1.0-1', '1.0-1ubuntu1', '1.0a', '1.0+dfsg', '1.0.1', '1.2', '1.10', '2', '1:0.1', '2:0'];
  for (let i = 0; i + 1 < chain.length; i++) t.ok(compareVersions(chain[i], chain[i + 1]) < 0, `${chain[i]} < ${chain[i + 1]}`);
  t.equal(compareVersions('1.0', '1.00'), 0);
  t.equal(compareVersions('0:1.0', '1.0'), 0);
  t.equal(compareVersions('1.0-0', '1.0'), 0, 'revision 0 equals none');
  t.ok(compareVersions('1.0~~', '1.0~') < 0);
  t.ok(compareVersions('1.0~', '1.0') < 0);
});

t.test('version validation', async (t) => {
  for (const v of ['1', '0', '1.0', '1:1.0-1', '1.0~rc1', '1.0+dfsg-2ubuntu1', '2.30-0+deb12u1', '1:2:3-4', '1.0-1-2', '0:0']) {
    t.equal(versionError(v), undefined, `valid ${v}`);
    t.same(parseVersion(v).epoch >= 0, true);
  }
  const bad: [string, RegExp][] = [
    ['', /empty/], ['a1', /must start with a digit/], ['1.0-', /bad revision/], ['-1', /empty upstream/],
    ['x:1', /bad epoch/], ['1_0', /must start with a digit and use only/], ['1 0', /use only/], ['1.0-a_b', /bad revision/],
    ['9999999999:1', /bad epoch/], [':1', /bad epoch/], ['1:', /empty upstream/], ['1'.repeat(129), /longer than 128/],
  ];
  for (const [v, why] of bad) {
    t.match(versionError(v) ?? '', why, `invalid ${JSON.stringify(v)}`);
    t.throws(() => parseVersion(v), { code: 'MN0106' });
  }
});

t.test('dependency strings', async (t) => {
  t.same(parseDescriptor('a'), { name: 'a' });
  t.same(parseDescriptor('  lib-x.y+z_1  '), { name: 'lib-x.y+z_1' });
  t.same(parseDescriptor('a >= 1.2'), { name: 'a', constraint: { op: '>=', version: '1.2' } });
  t.same(parseDescriptor('a>=1.2'), { name: 'a', constraint: { op: '>=', version: '1.2' } });
  t.same(parseDescriptor('a<1'), { name: 'a', constraint: { op: '<', version: '1' } });
  t.same(parseDescriptor('a = 1:2.0-3'), { name: 'a', constraint: { op: '=', version: '1:2.0-3' } });
  for (const op of ['=', '<', '<=', '>', '>=']) t.equal(parseDescriptor(`x ${op} 1`).constraint?.op, op);
  t.same(parseDependency('mawk | gawk >= 5'), [{ name: 'mawk' }, { name: 'gawk', constraint: { op: '>=', version: '5' } }]);
  t.equal(formatDependency(parseDependency('a|b>=2 |c<3')), 'a | b >= 2 | c < 3');
  t.same(parseProvide('sh = 1'), { name: 'sh', constraint: { op: '=', version: '1' } });
  const bad: [string, RegExp][] = [
    ['', /empty/], ['A', /must match/], ['-a', /must match/], ['a >> 1', /unknown operator ">>"/], ['a << 1', /unknown operator "<<"/],
    ['a == 1', /unknown operator "=="/], ['a != 1', /unknown operator "!="/], ['a >=', /expected/], ['a >= x1', /must start with a digit/],
    ['|', /empty alternative/], ['a |', /empty alternative/], ['a b', /expected/], ['a >= 1 2', /expected/], ['a (>= 1)', /expected|must match/],
    ['a >= 1-', /bad revision/], ['a@b', /must match/],
  ];
  for (const [s, why] of bad) {
    try {
      parseDependency(s);
      t.fail(`accepted ${JSON.stringify(s)}`);
    } catch (e) {
      t.ok(isMinosError(e) && e.code === 'MN0107', `MN0107 for ${JSON.stringify(s)}`);
      t.match((e as Error).message, why, `reason for ${JSON.stringify(s)}`);
    }
  }
  t.throws(() => parseProvide('sh >= 1'), { code: 'MN0107', message: /may only use "="/ });
  t.ok(satisfies('2.0', { op: '>=', version: '1.9' }));
  t.notOk(satisfies('2.0', { op: '<', version: '2.0' }));
  t.ok(satisfies('2.0', undefined));
  t.ok(satisfies('2.0', { op: '=', version: '2.00' }), '= uses version equality, not string equality');
});
