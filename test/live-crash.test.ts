/**
 * Crash injection: minos is killed (SIGKILL) at random journal steps, at
 * random times and, under strace, at the Nth call of a system call (rename,
 * unlink, link, mkdir, rmdir, openat, write, fsync, chmod) during install,
 * upgrade, remove and rollback of a few dozen packages and during key and
 * repository changes, and sometimes the recovery after it is killed too;
 * after the next minos command the whole root must be exactly the old or the
 * new state with nothing left over. ENOSPC and EROFS injected at such calls
 * must end in a one-line typed error and the old state. Also: a disk that
 * fills mid-transaction, and the lock.
 * MINOS_FULL=1 (`make test-crash`) runs several hundred trials; the default a handful of each kind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN, minos, sh, tempDir } from './lib/cli.js';
import { CODES } from '../src/errors.js';
import { injectRun, points, rootState, sameTree, treeDiff, type Point, type RootState } from './lib/crash.js';
import { installed, liveFixture, snapshot } from './lib/live.js';
import { makeKey, makeRepo, type PkgDef } from './lib/repo.js';

const FULL = process.env.MINOS_FULL === '1';
const N = 30;

/** A deterministic pseudo-random generator (the seed is printed so a failure can be replayed). */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function pkgs(version: '1.0' | '2.0'): PkgDef[] {
  const out: PkgDef[] = [];
  for (let i = 0; i < N; i++) {
    const name = `p${String(i).padStart(2, '0')}`;
    const files: Record<string, string> = {
      [`usr/bin/${name}`]: `#!/bin/sh\necho ${name} ${version}\n`,
      [`usr/share/${name}/a.txt`]: `${name} a ${version}\n`.repeat(20),
      [`etc/${name}.conf`]: `conf ${version}\n`,
    };
    // 2.0 drops a file and adds another; the shared usr/share/common folder stays shared.
    if (version === '1.0') files[`usr/share/${name}/old.txt`] = 'old\n';
    else files[`usr/share/${name}/new/b.txt`] = 'new\n';
    files[`usr/share/common/${name}`] = version;
    const overrides: Record<string, object> = { [`/usr/bin/${name}`]: { mode: i % 5 === 0 ? '4755' : '0755' } };
    overrides[`/usr/lib/${name}.so`] = { type: 'symlink', target: version === '1.0' ? `${name}.so.1` : `${name}.so.2` };
    out.push({ name, version, depends: i ? [`p${String(Math.floor(i / 2)).padStart(2, '0')}`] : [], config: [`/etc/${name}.conf`], files, overrides });
  }
  return out;
}

interface Scenario {
  name: string;
  /** Root before, as a template folder. */
  template: string;
  args: string[];
  old: RootState;
  new: RootState;
  /** Disk-changing steps (MINOS_CRASH_AFTER) of the command. */
  steps: number;
  /** The main thread's calls that change the root, for strace injection. */
  points: Point[];
  /** Calls of the recovery (`minos list`) after a crash halfway. */
  recovery: Point[];
}

function copyRoot(from: string, to: string): void {
  sh(`rm -rf '${to}' && cp -a '${from}' '${to}'`);
}

function runWith(root: string, args: string[], env: Record<string, string> = {}) {
  return minos(['--root', root, ...args], { env });
}

function must(root: string, args: string[]): void {
  const r = runWith(root, args);
  if (r.code !== 0) throw new Error(`minos ${args.join(' ')}: ${r.stderr}`);
}

/**
 * The scenarios, each a template root and a command: install into an empty
 * root, upgrade 1.0 → 2.0, remove everything, rollback of the upgrade, and
 * the configuration changes (two keys added at once, a key removed, a
 * repository added with its key, one removed).
 */
function scenarios(t: Tap.Test): Scenario[] {
  const dir = tempDir(t, 'minos-crash-');
  const key = makeKey(join(dir, 'keys'));
  makeKey(join(dir, 'keys'), 'second');
  makeKey(join(dir, 'keys'), 'third');
  const keyId = sh(`node '${BIN}' key id '${join(dir, 'keys/test.pub')}'`).split(' ')[0];
  const repo = makeRepo(join(dir, 'repo'), key, pkgs('1.0'));
  const empty = join(dir, 'empty');
  must(empty, ['init', '--arch', 'x86_64']);
  must(empty, ['repo', 'add', 'main', repo, '--key', join(dir, 'keys/test.pub')]);
  const all = pkgs('1.0').map((p) => p.name);
  const v1 = join(dir, 'v1');
  copyRoot(empty, v1);
  must(v1, ['install', ...all]);
  makeRepo(repo, key, pkgs('2.0'));
  // Serials: the templates must accept the new index (serial 2); seen-serial 1 is fine.
  const v2 = join(dir, 'v2');
  copyRoot(v1, v2);
  must(v2, ['upgrade']);

  const mk = (name: string, template: string, args: string[]): Scenario => {
    const probe = join(dir, `after-${name}`);
    copyRoot(template, probe);
    const found = points(probe, args, { MINOS_CRASH_COUNT: '1' });
    if (!found.length) throw new Error(`minos ${args.join(' ')}: no call changing the root was seen`);
    const steps = Number(/minos-crash-steps: (\d+)/.exec(found.stderr ?? '')![1]);
    const count = join(dir, 'count');
    // Where the recovery of a crash halfway writes.
    let recovery: Point[] = [];
    if (steps > 1) {
      copyRoot(template, count);
      runWith(count, args, { MINOS_CRASH_AFTER: String(Math.ceil(steps / 2)) });
      recovery = points(count, ['recover']);
    }
    return { name, template, args, old: rootState(template), new: rootState(probe), steps, points: found, recovery };
  };
  return [
    mk('install', empty, ['install', ...all]),
    mk('upgrade', v1, ['upgrade']),
    mk('remove', v1, ['remove', '--cascade', 'p00']),
    mk('rollback', v2, ['rollback']),
    mk('key-add', v1, ['key', 'add', join(dir, 'keys/second.pub'), join(dir, 'keys/third.pub')]),
    mk('key-remove', v1, ['key', 'remove', keyId]),
    mk('repo-add', v1, ['repo', 'add', 'extra', repo, '--key', join(dir, 'keys/second.pub')]),
    mk('repo-remove', v1, ['repo', 'remove', 'main']),
  ];
}

/**
 * The checks after the next command (queries never write: `minos recover`, as
 * any writing command would): exactly the old or the new state, nothing left
 * over, verify clean.
 */
function checkOutcome(t: Tap.Test, root: string, sc: Scenario, what: string, allowed: ('old' | 'new')[] = ['old', 'new']): 'old' | 'new' | undefined {
  const q = runWith(root, ['recover']);
  if (q.code !== 0) {
    t.fail(`${what}: recover after the crash failed: ${q.stderr}`);
    return undefined;
  }
  const st = rootState(root);
  const is = sameTree(st.tree, sc.old.tree) ? 'old' : sameTree(st.tree, sc.new.tree) ? 'new' : undefined;
  t.ok(is && allowed.includes(is), `${what}: ${allowed.join(' or ')} state${is ? ` (${is})` : ''}`, is ? undefined : { vsOld: treeDiff(st.tree, sc.old.tree), vsNew: treeDiff(st.tree, sc.new.tree) });
  t.same(st.litter, [], `${what}: nothing left over`);
  const v = runWith(root, ['verify']);
  t.equal(v.code, 0, `${what}: verify clean ${v.stdout.slice(0, 300)} ${v.stderr.slice(0, 300)}`);
  return is;
}

/** Kill minos by its own hook (step) or from outside after `delayMs`; resolves when it is gone. */
function crashRun(root: string, args: string[], how: { step?: number; delayMs?: number }): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    const env = { ...process.env, ...(how.step ? { MINOS_CRASH_AFTER: String(how.step) } : {}) };
    const child = spawn(process.execPath, [BIN, '--root', root, ...args], { env, stdio: 'ignore' });
    let timer: NodeJS.Timeout | undefined;
    if (how.delayMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), how.delayMs);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

const seed = Number(process.env.MINOS_SEED ?? Date.now() % 100000);
t.comment(`seed ${seed} (MINOS_SEED to replay)`);
const rand = rng(seed);
const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
/** A call: first a class (rename, mkdir, write…) so that rare ones are hit as often as common ones, then one of its calls. */
const pickPoint = (list: readonly Point[]): Point => {
  const cls = pick([...new Set(list.map((p) => p.cls))]);
  return pick(list.filter((p) => p.cls === cls));
};
const list = scenarios(t);
const work = tempDir(t, 'minos-crash-trial-');
const tally = { trials: 0, old: 0, new: 0 };
let trialNo = 0;

t.test('SIGKILL at random journal steps and times: recovery leaves exactly the old or the new state', async (t) => {
  const trials = FULL ? 120 : 4;
  for (let i = 0; i < trials; i++) {
    const sc = list[i % 4];
    const root = join(work, `r${trialNo++}`);
    copyRoot(sc.template, root);
    // Two thirds by the library's own hook at a random step, one third by a random-time kill.
    const how = i % 3 === 2 ? { delayMs: Math.floor(100 + rand() * 1400) } : { step: 1 + Math.floor(rand() * sc.steps) };
    const res = await crashRun(root, sc.args, how);
    // In the full run, sometimes crash the recovery as well, then recover again.
    if (FULL && rand() < 0.25) await crashRun(root, ['recover'], { step: 1 + Math.floor(rand() * 20) });
    const is = checkOutcome(t, root, sc, `${sc.name} ${JSON.stringify(how)} (${res.signal ?? `exit ${res.code}`})`);
    tally.trials++;
    if (is) tally[is]++;
    sh(`rm -rf '${root}'`);
  }
});

t.test('SIGKILL at a system call of every writing command, and of the recovery after it', async (t) => {
  const perScenario = FULL ? 20 : 1;
  for (let i = 0; i < perScenario * list.length; i++) {
    const sc = list[i % list.length];
    const root = join(work, `r${trialNo++}`);
    copyRoot(sc.template, root);
    const p = pickPoint(sc.points);
    const r = injectRun(root, sc.args, p.syscall, p.n, 'signal=KILL');
    let what = `${sc.name}: SIGKILL at ${p.syscall} #${p.n} (${r.injected ?? 'not reached'})`;
    // Every other trial also kills the recovery, at one of its own calls.
    if (sc.recovery.length && i % 2 === 0) {
      const q = pickPoint(sc.recovery);
      const rr = injectRun(root, ['recover'], q.syscall, q.n, 'signal=KILL');
      what += `, then recovery killed at ${q.syscall} #${q.n} (${rr.injected ?? 'not reached'})`;
    }
    const is = checkOutcome(t, root, sc, what);
    tally.trials++;
    if (is) tally[is]++;
    sh(`rm -rf '${root}'`);
  }
});

const ERRNO_CLASSES: Record<string, string[]> = {
  ENOSPC: ['write', 'openat', 'rename', 'mkdir', 'link', 'fsync'],
  EROFS: ['openat', 'rename', 'mkdir', 'unlink', 'link', 'rmdir', 'chmod'],
};
const ERRNO_TEXT: Record<string, RegExp> = { ENOSPC: /no space left on device/, EROFS: /read-only file system/ };

t.test('ENOSPC and EROFS at a system call of every writing command: a one-line error, the old state, no litter', async (t) => {
  const perScenario = FULL ? 15 : 1;
  let offRoot = 0;
  for (let i = 0; i < perScenario * list.length; i++) {
    const sc = list[i % list.length];
    // Alternate within a round and between rounds, so that every scenario meets both.
    const errno = (i + Math.floor(i / list.length)) % 2 === 0 ? 'ENOSPC' : 'EROFS';
    const candidates = sc.points.filter((p) => ERRNO_CLASSES[errno].includes(p.cls));
    if (!candidates.length) continue;
    const root = join(work, `r${trialNo++}`);
    copyRoot(sc.template, root);
    // The first trial always fails the first fsync (of the new lock file: its error was once lost to a second close).
    const p = (i === 0 && candidates.find((c) => c.cls === 'fsync')) || pickPoint(candidates);
    const r = injectRun(root, sc.args, p.syscall, p.n, `error=${errno}`);
    const what = `${sc.name}: ${errno} at ${p.syscall} #${p.n} (${r.injected ?? 'not reached'})`;
    tally.trials++;
    if (!r.injected?.includes('ROOT')) {
      // Another thread reached its own Nth call first (a wakeup, the terminal): only the state is judged.
      offRoot++;
      checkOutcome(t, root, sc, what);
      sh(`rm -rf '${root}'`);
      continue;
    }
    const lines = r.stderr.split('\n').filter((l) => l && !/^minos: (warning|recovered|took over)/.test(l));
    const committed = /committed/.test(r.stderr);
    if (r.code === 0) {
      t.same(lines, [], `${what}: succeeded despite the fault, silently`);
      t.equal(checkOutcome(t, root, sc, what, ['new']), 'new');
      tally.new++;
    } else {
      t.equal(lines.length, 1, `${what}: one line of error: ${r.stderr.slice(0, 600)}`);
      const m = /^minos: .*\[(MN\d{4})\]/.exec(lines[0] ?? '');
      t.ok(m && !/internal error/.test(lines[0]), `${what}: a typed error: ${lines[0]}`);
      if (m) t.equal(r.code, CODES[m[1] as keyof typeof CODES][0], `${what}: exit status of ${m[1]}`);
      t.match(r.stderr, ERRNO_TEXT[errno], `${what}: says why`);
      // Before the commit: the old state. After it: the next command completes it. Either way nothing is left after the next command.
      const is = checkOutcome(t, root, sc, what, committed ? ['new'] : ['old']);
      if (is) tally[is]++;
    }
    sh(`rm -rf '${root}'`);
  }
  t.comment(`${offRoot} faults hit another thread's call first`);
});

t.test('an unreadable journal: queries answer, writes stop (MN0004), recover --abort, killed and rerun, rolls back', async (t) => {
  const sc = list[1]; // upgrade
  /** Crash the upgrade at step k and garble both copies of its journal; returns whether it had reached its commit. */
  const broken = (root: string, k: number): { journal: boolean; committed: boolean } => {
    copyRoot(sc.template, root);
    runWith(root, sc.args, { MINOS_CRASH_AFTER: String(k) });
    const txn = join(root, 'var/lib/minos/txn');
    // A folder marked done is over: nothing to garble.
    const ids = existsSync(txn) ? readdirSync(txn).filter((id) => !id.endsWith('.done')) : [];
    let journal = false;
    for (const id of ids) {
      for (const f of ['journal.json', 'journal.copy.json']) {
        if (!existsSync(join(txn, id, f))) continue;
        writeFileSync(join(txn, id, f), '{"format":1,"pre":[{"op"');
        journal = true;
      }
    }
    return { journal, committed: ids.length > 0 && !ids.some((id) => existsSync(join(txn, id, 'installed.json'))) };
  };
  const probe = join(work, 'abort-probe');
  broken(probe, Math.ceil(sc.steps / 2));
  const abortPoints = points(probe, ['recover', '--abort']);
  t.ok(abortPoints.length > 10, `recover --abort changes the root in ${abortPoints.length} calls`);
  const trials = FULL ? 20 : 2;
  for (let i = 0; i < trials; i++) {
    const root = join(work, `r${trialNo++}`);
    const k = i < 2 ? Math.ceil(sc.steps / (i + 2)) : 1 + Math.floor(rand() * sc.steps);
    const b = broken(root, k);
    let what = `upgrade killed at step ${k}, journal garbled`;
    if (b.journal) {
      const q = runWith(root, ['list', '--json']);
      t.equal(q.code, 0, `${what}: queries answer`);
      t.match(q.stderr, /unreadable journal.*minos recover --abort/, `${what}: and say why the root is not recovered`);
      const w = runWith(root, ['install', 'p00']);
      t.equal(w.code, 1, `${what}: a write stops`);
      t.match(w.stderr, /\[MN0004\] \(hint: run `minos recover --abort`/);
      const p = pickPoint(abortPoints);
      const r = injectRun(root, ['recover', '--abort'], p.syscall, p.n, 'signal=KILL');
      what += `, recover --abort killed at ${p.syscall} #${p.n} (${r.injected ?? 'not reached'})`;
      const again = runWith(root, ['recover', '--abort']);
      t.equal(again.code, 0, `${what}: recover --abort again: ${again.stderr}`);
    }
    const is = checkOutcome(t, root, sc, what, b.journal && !b.committed ? ['old'] : ['old', 'new']);
    tally.trials++;
    if (is) tally[is]++;
    sh(`rm -rf '${root}'`);
  }
});

t.test('counts', async (t) => {
  t.comment(`${tally.trials} trials over ${list.length} scenarios (${list.map((s) => `${s.name}: ${s.points.length} calls`).join(', ')}); ${tally.old} ended in the old state, ${tally.new} in the new`);
  t.ok(tally.trials > 0);
});

t.test('a disk that fills mid-transaction ends in the old state with a clear error', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to mount a tmpfs');
    return;
  }
  const dir = tempDir(t, 'minos-enospc-');
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) {
    t.skip(`cannot mount a tmpfs here: ${(m.stderr || String(m.error)).trim()}`);
    return;
  }
  t.teardown(() => {
    spawnSync('umount', [mnt]);
  });
  const key = makeKey(join(dir, 'keys'));
  const big = Buffer.alloc(3 << 20, 0x61); // compresses to almost nothing, unpacks to 3 MiB
  const repo = makeRepo(join(dir, 'repo'), key, [
    { name: 'small', files: { 'usr/share/small/x': 'x\n' } },
    { name: 'big', files: { 'usr/share/big/blob': big, 'usr/share/big/z': 'z\n' } },
  ]);
  const root = join(mnt, 'root');
  for (const a of [['init', '--arch', 'x86_64'], ['repo', 'add', 'main', repo, '--key', join(dir, 'keys/test.pub')], ['install', 'small']]) {
    const r = runWith(root, a);
    t.equal(r.code, 0, r.stderr);
  }
  const before = snapshot(root);
  const r = runWith(root, ['install', 'big']);
  t.equal(r.code, 1, 'I/O error: exit 1');
  t.match(r.stderr, /no space left on device/);
  t.match(r.stderr, /var\/lib\/minos\/txn\//, 'names the path');
  t.same(installed(root), { small: '1.0' });
  t.ok(sameTree(snapshot(root), before), 'root unchanged');
  t.same(readdirSync(join(root, 'var/lib/minos/txn')), [], 'staging removed');
  t.equal(runWith(root, ['verify']).code, 0);
});

t.test('one writer at a time: exit 5 naming the holder, --wait, queries meanwhile, stale locks', async (t) => {
  const f = liveFixture(t, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  const holder = spawn(process.execPath, [BIN, '--root', f.root, 'install', 'a'], { env: { ...process.env, MINOS_HOLD_LOCK_MS: '8000' }, stdio: 'ignore' });
  const done = new Promise<number | null>((resolve) => holder.on('exit', (code) => resolve(code)));
  const lock = join(f.root, 'var/lib/minos/lock');
  for (let i = 0; i < 100 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(existsSync(lock), 'the first minos holds the lock');
  let r = f.run(['install', 'b']);
  t.equal(r.code, 5, 'second writer: exit 5');
  t.match(r.stderr, new RegExp(`locked by another minos \\(pid ${holder.pid}, \`minos install a\`, since .*MN0501`));
  r = f.run(['list', '--json']);
  t.equal(r.code, 0, 'queries work during a write');
  r = f.run(['install', 'b', '--wait']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /waiting for pid/);
  t.equal(await done, 0);
  t.same(installed(f.root), { a: '1.0', b: '1.0' });

  // A lock left by a dead process is taken over.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(lock, JSON.stringify({ pid: Number(dead.stdout), start: 1, command: 'install x', since: '2020-01-01T00:00:00.000Z' }));
  r = f.run(['install', 'c']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /took over the lock of pid \d+/);
  t.notOk(existsSync(lock));

  // A lock of a zombie (killed, not yet reaped by its parent) is taken over too: the child ends after the shell became
  // `sleep`, which never reaps it (a child ending before that exec may be reaped by the shell itself).
  const parent = spawn('sh', ['-c', '(sleep 0.3) & echo $!; exec sleep 10'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(String(d).trim()))));
  for (let i = 0; i < 150 && !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${zombie}/stat`, 'utf8')); i++) await new Promise((ok) => setTimeout(ok, 20));
  const start = Number(readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1].split(' ')[19]);
  writeFileSync(lock, JSON.stringify({ pid: zombie, start, command: 'install x', since: '2020-01-01T00:00:00.000Z' }));
  r = f.run(['remove', 'c']);
  parent.kill();
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, new RegExp(`took over the lock of pid ${zombie}`), 'a zombie holds no lock');
});
