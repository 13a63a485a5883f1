/**
 * The install engine on its in-memory twin (src/engine/memory.ts): install,
 * upgrade, replace, config protection and rollback, checked without a file
 * system. After every transaction the twin must hold exactly what the new
 * records list, and nothing may have been written or removed outside it.
 * The last test runs random transactions on the twin and, side by side, on a
 * real root through the live journal: the two trees must stay equal.
 */
import t from 'tap';
import type { InstalledDb } from '../src/db/installed.js';
import { isMinosError } from '../src/errors.js';
import { createMemoryTarget, transact, type MemoryTarget } from '../src/engine/memory.js';
import { sameEntry } from '../src/engine/owners.js';
import type { PlanEvent } from '../src/engine/plan.js';
import type { FileEntry, Manifest } from '../src/types.js';

const dir = (path: string): FileEntry => ({ path, type: 'dir', mode: 0o755, owner: 'root', group: 'root', size: 0 });
const file = (path: string, content: string, mode = 0o644): FileEntry => ({ path, type: 'file', mode, owner: 'root', group: 'root', size: content.length, sha256: `sha-${content}` });
const link = (path: string, target: string): FileEntry => ({ path, type: 'symlink', mode: 0o777, owner: 'root', group: 'root', size: 0, target });

function pkg(name: string, version: string, files: FileEntry[], extra: Partial<Manifest> = {}): Manifest {
  return {
    format: 1, signer: 'k', name, version, arch: 'noarch', summary: '', license: 'MIT', depends: [], provides: [], conflicts: [],
    replaces: [], optional: [], installedSize: 0, builddate: 0, config: [], users: [], groups: [], files, ...extra,
  };
}

const empty = (): InstalledDb => ({ format: 1, world: [], packages: [], deferred: [] });

/** Every record's files are on the twin as recorded, nothing reached outside, no staged node is left behind. */
function clean(tt: Tap.Test, twin: MemoryTarget, db: InstalledDb, what: string): void {
  tt.same(twin.check(db.packages.flatMap((r) => r.files)), [], `${what}: every recorded file is there`);
  tt.same(twin.outside, [], `${what}: nothing outside the target was touched`);
}

/** The twin's nodes as a sorted list, for comparing whole states. */
const state = (twin: MemoryTarget) => [...twin.nodes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, n]) => `${p}:${n.kind}:${n.content ?? n.target ?? ''}:${n.mode.toString(8)}`);

/** Install `v1`, upgrade to `v2`, roll back to `v1`; the twin is checked at each step and ends as it was after v1. */
function roundTrip(tt: Tap.Test, v1: Manifest[], v2: Manifest[], check?: (twin: MemoryTarget) => void) {
  const twin = createMemoryTarget();
  const a = transact(twin, empty(), { keep: [], install: v1 });
  clean(tt, twin, a.db, 'v1');
  const afterV1 = state(twin);
  const b = transact(twin, a.db, { keep: [], install: v2 });
  clean(tt, twin, b.db, 'upgrade');
  check?.(twin);
  const c = transact(twin, b.db, { keep: [], install: v1 });
  clean(tt, twin, c.db, 'rollback');
  tt.same(state(twin), afterV1, 'rollback: the target is as v1 left it');
  return { twin, plans: [a.plan, b.plan, c.plan] };
}

t.test('a file unchanged between versions is neither staged nor put', async (tt) => {
  const { plans } = roundTrip(tt,
    [pkg('a', '1', [dir('etc'), file('etc/same', 'x'), file('etc/changed', '1')])],
    [pkg('a', '2', [dir('etc'), file('etc/same', 'x'), file('etc/changed', '2')])]);
  tt.same(plans[1].pre.filter((o) => o.op === 'put').map((o) => o.path), ['etc/changed']);
  tt.same(plans[1].post, []);
});

t.test('a file becomes a folder and back', async (tt) => {
  roundTrip(tt,
    [pkg('a', '1', [dir('opt'), file('opt/x', 'f')])],
    [pkg('a', '2', [dir('opt'), dir('opt/x'), file('opt/x/inner', 'i')])],
    (twin) => tt.equal(twin.kind('opt/x'), 'dir'));
});

t.test('merged-/usr: folders become links into /usr; nothing is lost through the new links', async (tt) => {
  const v1 = [
    pkg('libc', '1', [dir('lib'), file('lib/libc.so', 'libc1'), dir('usr'), dir('usr/lib')]),
    pkg('sh', '1', [dir('bin'), file('bin/sh', 'sh1')]),
  ];
  const v2 = [
    pkg('libc', '2', [dir('usr'), dir('usr/lib'), file('usr/lib/libc.so', 'libc2'), link('lib', 'usr/lib')]),
    pkg('sh', '2', [dir('usr'), dir('usr/bin'), file('usr/bin/sh', 'sh2'), link('bin', 'usr/bin')]),
  ];
  roundTrip(tt, v1, v2, (twin) => {
    tt.equal(twin.kind('lib'), 'symlink');
    tt.equal(twin.hash('lib/libc.so'), 'sha-libc2', '/lib/libc.so reaches the new library through the link');
    tt.equal(twin.hash('usr/bin/sh'), 'sha-sh2');
  });
});

t.test('a folder becomes a link outside the root: the old files are not removed through it', async (tt) => {
  const twin = createMemoryTarget();
  const a = transact(twin, empty(), { keep: [], install: [pkg('a', '1', [dir('d'), file('d/passwd', 'p')])] });
  const events: PlanEvent[] = [];
  const b = transact(twin, a.db, { keep: [], install: [pkg('a', '2', [link('d', '/etc')])] }, { onEvent: (e) => events.push(e) });
  clean(tt, twin, b.db, 'upgrade');
  tt.ok(b.plan.pre.some((o) => o.op === 'moveout' && o.path === 'd'), 'the old folder is moved out whole, before the link is put');
  tt.notOk(b.plan.post.some((o) => o.path.startsWith('d/')), 'no removal below the new link');
  const c = transact(twin, b.db, { keep: [], install: [pkg('a', '1', [dir('d'), file('d/passwd', 'p')])] });
  clean(tt, twin, c.db, 'rollback');
  tt.equal(twin.kind('d'), 'dir');
});

t.test('a link planted on the target where a package needs a folder is refused', async (tt) => {
  const twin = createMemoryTarget();
  twin.nodes.set('etc', { kind: 'symlink', mode: 0o777, uid: 0, gid: 0, target: '/etc' });
  const err = (() => {
    try {
      transact(twin, empty(), { keep: [], install: [pkg('a', '1', [dir('etc'), file('etc/x', 'x')])] });
    } catch (e) {
      return e;
    }
  })();
  tt.ok(isMinosError(err) && err.code === 'MN0601' && /\/etc exists on the root \(symlink\)/.test(err.message), 'MN0601 names /etc');
  tt.same(twin.outside, []);
  const forced = transact(twin, empty(), { keep: [], install: [pkg('a', '1', [dir('etc'), file('etc/x', 'x')])] }, { force: ['etc'] });
  clean(tt, twin, forced.db, '--force-overwrite');
  tt.equal(twin.kind('etc'), 'dir', 'forced: the link is moved out and a folder made');
});

t.test('a file moves between packages with replaces, and back', async (tt) => {
  const v1 = [pkg('a', '1', [dir('bin'), file('bin/tool', 'a1')]), pkg('b', '1', [dir('bin'), file('bin/other', 'b1')])];
  const v2 = [pkg('a', '2', [dir('bin')]), pkg('b', '2', [dir('bin'), file('bin/other', 'b1'), file('bin/tool', 'b2')], { replaces: ['a'] })];
  roundTrip(tt, v1, v2, (twin) => tt.equal(twin.hash('bin/tool'), 'sha-b2'));
  // Both shipping it at once: the replacing package keeps it, the other's record loses it.
  const twin = createMemoryTarget();
  const both = transact(twin, empty(), { keep: [], install: [pkg('a', '1', [dir('bin'), file('bin/tool', 'a1')]), v2[1]] });
  tt.equal(twin.hash('bin/tool'), 'sha-b2');
  tt.same(both.db.packages.find((r) => r.name === 'a')!.files.map((f) => f.path), ['bin'], 'a no longer lists bin/tool');
  tt.throws(() => transact(createMemoryTarget(), empty(), { keep: [], install: [pkg('a', '1', [dir('bin'), file('bin/tool', 'a1')]), pkg('c', '1', [dir('bin'), file('bin/tool', 'c1')])] }),
    { code: 'MN0601', message: /file conflict: \/bin\/tool is in both a 1 \(file\) and c 1 \(file\)/ });
});

t.test('config files: unchanged, changed by the user, by the package, by both; then removed', async (tt) => {
  const conf = (v: string, content: string) => pkg('c', v, [dir('etc'), file('etc/c.conf', content)], { config: ['/etc/c.conf'] });
  const run = (userEdit: boolean, pkgChange: boolean) => {
    const twin = createMemoryTarget();
    const a = transact(twin, empty(), { keep: [], install: [conf('1', 'v1')] });
    if (userEdit) twin.nodes.get('etc/c.conf')!.content = 'mine';
    const events: PlanEvent[] = [];
    const b = transact(twin, a.db, { keep: [], install: [conf('2', pkgChange ? 'v2' : 'v1')] }, { onEvent: (e) => events.push(e) });
    return { twin, b, events };
  };
  let r = run(false, false);
  tt.equal(r.twin.hash('etc/c.conf'), 'sha-v1', 'neither changed: stays');
  r = run(false, true);
  tt.equal(r.twin.hash('etc/c.conf'), 'sha-v2', 'package changed, user did not: replaced');
  r = run(true, false);
  tt.equal(r.twin.hash('etc/c.conf'), 'mine', 'user changed, package did not: the user\'s stays');
  tt.equal(r.twin.kind('etc/c.conf.minos-new'), undefined, 'and nothing is put beside it (the packaged version did not change)');
  r = run(true, true);
  tt.equal(r.twin.hash('etc/c.conf'), 'mine', 'both changed: the user\'s stays');
  tt.equal(r.twin.hash('etc/c.conf.minos-new'), 'sha-v2');
  tt.same(r.events.map((e) => e.type), ['config-new']);
  // Removing the package keeps the edited file under a new name.
  const gone = transact(r.twin, r.b.db, { keep: [], install: [] });
  tt.same(gone.plan.configSave, ['/etc/c.conf']);
  tt.equal(r.twin.hash('etc/c.conf.minos-save'), 'mine');
  tt.equal(r.twin.kind('etc/c.conf'), undefined);
});

t.test('undoing the pre operations (a crash before the commit) restores the old state exactly', async (tt) => {
  const twin = createMemoryTarget();
  const v1 = [pkg('libc', '1', [dir('lib'), file('lib/libc.so', 'libc1'), dir('usr'), dir('usr/lib')])];
  const a = transact(twin, empty(), { keep: [], install: v1 });
  const before = state(twin);
  const installed = new Map(a.db.packages.flatMap((r) => r.files.map((e) => [e.path, e] as const)));
  const v2 = pkg('libc', '2', [dir('usr'), dir('usr/lib'), file('usr/lib/libc.so', 'libc2'), link('lib', 'usr/lib')]);
  const { planChanges } = await import('../src/engine/plan.js');
  const plan = planChanges(twin, {
    db: a.db, kept: new Set(), explicit: new Map(), force: new Set(), ids: () => ({ uid: 0, gid: 0 }), onEvent: () => {},
    staged: [{ manifest: v2, staged: twin.stage(v2.files, installed), repo: 'memory', sha256: '', explicit: true }],
  });
  twin.applyPre(plan.pre);
  tt.not(state(twin), before, 'the pre operations changed the target');
  twin.undoPre(plan.pre);
  tt.same(state(twin), before, 'undone: exactly the old state');
  tt.same(twin.outside, []);
});

t.test('removing every package leaves only the root folder', async (tt) => {
  const twin = createMemoryTarget();
  const a = transact(twin, empty(), { keep: [], install: [pkg('a', '1', [dir('usr'), dir('usr/share'), file('usr/share/a', 'a'), link('usr/share/l', 'a')])] });
  transact(twin, a.db, { keep: [], install: [] });
  tt.same(state(twin), [':dir::755']);
});

t.test('generated nodes: replaced, removed and config-protected like a package\'s files; a package may not take them', async (tt) => {
  const twin = createMemoryTarget();
  const base = [pkg('base', '1', [dir('etc'), dir('var'), dir('usr'), dir('usr/bin'), file('usr/bin/mawk', 'mawk')])];
  const gen1 = [file('etc/shells', 'sh'), link('usr/bin/awk', 'mawk'), file('var/status', 's1'), link('bin', 'usr/bin')];
  const a = transact(twin, empty(), { keep: [], install: base, generated: gen1 });
  clean(tt, twin, { ...a.db, packages: [...a.db.packages, { ...a.db.packages[0], name: 'g', files: a.db.generated! }] }, 'first');
  tt.same(a.db.generated!.map((e) => e.path), ['etc/shells', 'usr/bin/awk', 'var/status', 'bin']);
  // A root made before the set was recorded: what is there is replaced without --force-overwrite.
  const old = createMemoryTarget();
  old.nodes.set('bin', { kind: 'symlink', mode: 0o777, uid: 0, gid: 0, target: 'usr/bin' });
  tt.doesNotThrow(() => transact(old, empty(), { keep: [], install: base, generated: gen1 }), 'unrecorded generated nodes are adopted');
  // The user edits /etc/shells; the next set changes it, drops a link and changes the status.
  twin.nodes.get('etc/shells')!.content = 'mine';
  const gen2 = [file('etc/shells', 'sh+bash'), file('var/status', 's2'), link('bin', 'usr/bin')];
  const b = transact(twin, a.db, { keep: ['base'], install: [], generated: gen2 });
  tt.equal(twin.hash('etc/shells'), 'mine', 'an edited generated file under etc/ is kept');
  tt.equal(twin.hash('etc/shells.minos-new'), 'sha-sh+bash', 'the new one beside it');
  tt.equal(twin.kind('usr/bin/awk'), undefined, 'a node no longer generated is removed');
  tt.equal(twin.hash('var/status'), 'sha-s2');
  tt.same(twin.outside, []);
  // Without a new set the installed one stays as it is.
  const c = transact(twin, b.db, { keep: ['base'], install: [] });
  tt.same(c.db.generated, b.db.generated);
  tt.same(c.plan.pre, []);
  tt.throws(() => transact(twin, c.db, { keep: ['base'], install: [pkg('x', '1', [dir('var'), file('var/status', 'x')])] }),
    { code: 'MN0601', message: /\/var\/status is in both .*the image/ }, 'a package may not take a generated node');
});

/** A small deterministic generator (the seed is printed; MINOS_SEED replays it). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random package over a small shared tree: top-level folders, files and
 * links (some leading outside the root), folders holding files, links and a
 * subfolder, so that versions turn files into folders, folders into links
 * and back, and packages overlap.
 */
function randomPkg(rand: () => number, name: string, version: string): Manifest {
  const files: FileEntry[] = [];
  const targets = ['a', 'b/x', '/etc', '../../outside', 'c'];
  const leaf = (path: string) => {
    const r = rand();
    if (r < 0.7) files.push(file(path, `${name}${version}${Math.floor(rand() * 3)}`));
    else files.push(link(path, targets[Math.floor(rand() * targets.length)]));
  };
  for (const top of ['a', 'b', 'c', `own-${name}`]) {
    const r = rand();
    if (r < 0.2) continue;
    if (r < 0.75) {
      files.push(dir(top));
      for (const c of ['x', 'y']) if (rand() < 0.7) leaf(`${top}/${c}`);
      if (rand() < 0.4) {
        files.push(dir(`${top}/z`));
        leaf(`${top}/z/w`);
      }
    } else leaf(top);
  }
  return pkg(name, version, files);
}

t.test('random transactions on the twin: refused whole or applied exactly; rolling back returns the same tree', async (tt) => {
  const seed = Number(process.env.MINOS_SEED ?? Date.now() % 100000);
  tt.comment(`seed ${seed} (MINOS_SEED to replay)`);
  const rand = rng(seed);
  const rounds = process.env.MINOS_FULL === '1' ? 3000 : 300;
  let applied = 0;
  let refused = 0;
  let twin = createMemoryTarget();
  let db = empty();
  const seen: { db: InstalledDb; tree: string[]; set: Manifest[] }[] = [{ db, tree: state(twin), set: [] }];
  for (let i = 0; i < rounds; i++) {
    if (i % 40 === 0) {
      twin = createMemoryTarget();
      db = empty();
      seen.length = 0;
      seen.push({ db, tree: state(twin), set: [] });
    }
    const back = seen.length > 1 && rand() < 0.25;
    const set = back ? seen[Math.floor(rand() * seen.length)].set : ['p', 'q', 'r'].filter(() => rand() < 0.7).map((n) => randomPkg(rand, n, String(i)));
    const before = state(twin);
    let next;
    try {
      next = transact(twin, db, { keep: [], install: set });
    } catch (e) {
      if (!isMinosError(e) || !['MN0601', 'MN0207'].includes(e.code)) throw e;
      refused++;
      tt.same(state(twin), before, `round ${i}: refused (${e.code}) before anything changed`);
      continue;
    }
    applied++;
    db = next.db;
    const problems = twin.check(db.packages.flatMap((r) => r.files));
    if (problems.length || twin.outside.length) tt.fail(`round ${i}: ${[...problems, ...twin.outside].slice(0, 5).join('; ')}`);
    if (back) {
      const was = seen.find((s) => s.set === set)!;
      tt.same(state(twin), was.tree, `round ${i}: back to an earlier set, the same tree`);
    }
    seen.push({ db, tree: state(twin), set });
  }
  tt.ok(applied > rounds / 4 && refused > 0, `${applied} transactions applied, ${refused} refused`);
});

/**
 * The twin against a real root: the same random transactions planned over
 * the disk (live/rootview.ts) and applied by the live journal
 * (live/journal.ts) leave the same tree as on the twin. Links that lead
 * outside point at a canary folder beside the root, which must stay as it was.
 */
t.test('the twin and a real root, transaction for transaction', async (tt) => {
  const { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, chmodSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { planChanges } = await import('../src/engine/plan.js');
  const { rootView } = await import('../src/live/rootview.js');
  const { createTxn, runJournal } = await import('../src/live/journal.js');
  const { dbBytes } = await import('../src/db/installed.js');
  const dir = mkdtempSync(join(tmpdir(), 'minos-twin-'));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'canary'), 'canary');
  const seed = Number(process.env.MINOS_SEED ?? Date.now() % 100000);
  tt.comment(`seed ${seed} (MINOS_SEED to replay)`);
  const rand = rng(seed);
  // The outside targets of randomPkg lead into the canary folder on disk.
  const localize = (m: Manifest): Manifest => ({ ...m, files: m.files.map((e) => (e.target === '/etc' ? { ...e, target: outside } : e)) });
  /** The disk's tree in the twin's notation, minos's own folders left out. */
  const diskState = (): string[] => {
    const out: string[] = [':dir::755'];
    const walk = (rel: string) => {
      for (const name of readdirSync(join(root, rel)).sort()) {
        const r = rel ? `${rel}/${name}` : name;
        if (r === 'var') continue;
        const st = lstatSync(join(root, r));
        const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
        const what = kind === 'file' ? readFileSync(join(root, r), 'utf8') : kind === 'symlink' ? readlinkSync(join(root, r)) : '';
        out.push(`${r}:${kind}:${what}:${(st.mode & 0o7777).toString(8)}`);
        if (kind === 'dir') walk(r);
      }
    };
    walk('');
    return out.sort();
  };
  const twinState = (twin: MemoryTarget) => state(twin).filter((l) => !l.startsWith('var')).sort();
  const twin = createMemoryTarget();
  let db = empty();
  mkdirSync(join(root, 'var/lib/minos'), { recursive: true });
  writeFileSync(join(root, 'var/lib/minos/installed.json'), dbBytes(db));
  let applied = 0;
  const rounds = process.env.MINOS_FULL === '1' ? 400 : 40;
  for (let i = 0; i < rounds; i++) {
    const set = ['p', 'q'].filter(() => rand() < 0.8).map((n) => localize(randomPkg(rand, n, String(i))));
    const before = twinState(twin);
    let twinNext;
    try {
      twinNext = transact(twin, db, { keep: [], install: set });
    } catch (e) {
      if (!isMinosError(e)) throw e;
      tt.same(diskState(), before, `round ${i}: refused on the twin (${e.code}), the disk as it was`);
      continue;
    }
    // The same on disk: stage each changed entry into the transaction's new/, plan over the disk, journal.
    const txn = createTxn(root);
    const installed = new Map(db.packages.flatMap((r) => r.files.map((e) => [e.path, e] as const)));
    let n = 0;
    const staged = set.map((m) => {
      const names = new Map<string, string>();
      for (const e of m.files) {
        if (e.type === 'dir' || (installed.has(e.path) && sameEntry(installed.get(e.path)!, e))) continue;
        const name = String(n++);
        if (e.type === 'file') {
          writeFileSync(join(txn.newDir, name), e.sha256!);
          chmodSync(join(txn.newDir, name), e.mode);
        } else symlinkSync(e.target!, join(txn.newDir, name));
        names.set(e.path, name);
      }
      return { manifest: m, staged: names, repo: 'disk', sha256: '', explicit: true };
    });
    const plan = planChanges(rootView(root), { db, kept: new Set(), staged, explicit: new Map(), force: new Set(), ids: () => ({ uid: process.getuid!(), gid: process.getgid!() }), onEvent: () => {} });
    const next: InstalledDb = { ...db, packages: plan.records };
    runJournal(txn, { format: 1, id: txn.id, pid: process.pid, command: 'twin', chown: false, pre: plan.pre, post: plan.post }, dbBytes(next), undefined, () => {});
    db = twinNext.db;
    applied++;
    tt.same(diskState(), twinState(twin), `round ${i}: the disk and the twin hold the same tree`);
  }
  tt.equal(readFileSync(join(outside, 'canary'), 'utf8'), 'canary');
  tt.same(readdirSync(outside), ['canary'], 'nothing was written through a link out of the root');
  tt.ok(applied > rounds / 5, `${applied} of ${rounds} transactions applied on both`);
});
