/**
 * The live commands that change a root: init, install, remove, upgrade,
 * rollback, cache clean, repo add|list|remove and key add|list|remove, and
 * plan install|remove|…. They act on the root given by the global --root
 * (default /). Events are rendered here; the library never prints. The
 * read-only questions are in query.ts.
 */
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { confine } from '../confine.js';
import { MinosError, quote } from '../errors.js';
import { repoNameError } from '../names.js';
import type { Locator } from '../solve/solver.js';
import type { LiveEvent } from '../live/events.js';
import type { Action } from '../live/resolve.js';
import { addRepo, removeRepo, trustKeys, untrustKey } from '../live/config.js';
import { CACHE_DIR, initRoot, listKeys, loadDb, readRepoConfig } from '../live/root.js';
import { loadPgpKeys } from '../debian/release.js';
import { openForQuery, planLive, runLive, withWriteLock, type LiveResult } from '../live/transaction.js';
import { rootOf } from './common.js';
import { createProgress, type Progress } from './progress.js';
import { archOption } from './plan.js';
import { collect, type Io } from './io.js';

/**
 * How the live engine's events look: notices on stderr, one line each; with
 * `progress`, the resolved/package/committing steps on its line (a terminal).
 */
export function onEvent(io: Io, progress?: Progress) {
  return (e: LiveEvent) => {
    if (e.type !== 'resolved' && e.type !== 'package' && e.type !== 'committing') progress?.clear();
    switch (e.type) {
      case 'recovered':
        io.err(`minos: recovered an interrupted transaction ${e.txn} (\`minos ${e.command}\`, pid ${e.pid}): ${e.action === 'rolled back' ? 'rolled back to the state before it' : e.action === 'discarded' ? 'it had changed nothing; its staged files are removed' : 'completed it'}`);
        break;
      case 'stale-lock':
        io.err(`minos: took over the lock of pid ${e.pid} (\`minos ${e.command}\`, since ${e.since}), which is no longer running`);
        break;
      case 'waiting':
        io.err(`minos: waiting for pid ${e.pid} (\`minos ${e.command}\`, since ${e.since}) to release the lock`);
        break;
      case 'config-new':
        io.err(`minos: ${e.path} was changed locally and kept; the version from ${e.package} is in ${e.path}.minos-new`);
        break;
      case 'config-save':
        io.err(`minos: ${e.path} was changed locally; kept as ${e.path}.minos-save`);
        break;
      case 'warning':
        io.err(`minos: warning: ${e.message}`);
        break;
      case 'resolved': {
        const n = e.install + e.upgrade;
        progress?.phase(`resolved: ${e.install} to install, ${e.upgrade} to upgrade, ${e.remove} to remove${n ? `; fetching and unpacking ${n} package${n === 1 ? '' : 's'}` : ''}`);
        break;
      }
      case 'package':
        progress?.step({ done: e.index, total: e.total, bytes: e.bytes, label: `${e.name} ${e.version}` });
        break;
      case 'committing':
        progress?.phase(`committing ${e.operations} operations`);
        break;
      default:
        break;
    }
  };
}

const l = (x: Locator) => `${x.name} ${x.version}`;

function printChanges(io: Io, r: { install: Locator[]; upgrade: { from: Locator; to: Locator }[]; remove: Locator[] }, verbs = ['install', 'upgrade', 'remove']): void {
  for (const x of r.install) io.out(`${verbs[0]} ${l(x)} (${x.repo})`);
  for (const u of r.upgrade) io.out(`${verbs[1]} ${u.from.name} ${u.from.version} -> ${u.to.version} (${u.to.repo})`);
  for (const x of r.remove) io.out(`${verbs[2]} ${l(x)}`);
}

function printResult(io: Io, r: LiveResult, json: boolean): void {
  if (json) {
    io.out(JSON.stringify(r));
    return;
  }
  if (!r.install.length && !r.upgrade.length && !r.remove.length) {
    io.out('nothing to do');
    return;
  }
  printChanges(io, r, ['installed', 'upgraded', 'removed']);
  for (const p of r.configNew) io.out(`kept ${p} (changed locally); new version in ${p}.minos-new`);
  for (const p of r.configSave) io.out(`saved ${p} (changed locally) as ${p}.minos-save`);
  if (r.generation !== undefined) io.out(`generation ${r.generation}`);
}

interface WriteOpts {
  wait?: boolean;
  allowExpired?: boolean;
  forceOverwrite: string[];
  json?: boolean;
  interactive?: boolean;
  repair?: boolean;
}

function writeOptions(c: Command): Command {
  return c
    .option('--wait', 'wait for another minos to finish instead of failing (exit 5)')
    .option('--allow-expired', 'accept repository indexes past their expiry time')
    .option('--force-overwrite <path>', 'replace this file even though no package owns it (repeatable)', collect, [])
    .option('--interactive', 'show the plan and ask before changing anything')
    .option('--repair', 'replace a corrupt installed database (kept beside it) by an empty one')
    .option('--json', 'print the result as JSON');
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((res) => rl.question(`${question} [y/N] `, res));
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

async function runWrite(io: Io, cmd: Command, action: Action, command: string, opts: WriteOpts): Promise<void> {
  const progress = createProgress(io, { enabled: io.isTTY && !opts.json });
  const base = { root: rootOf(cmd), command, wait: opts.wait, allowExpired: opts.allowExpired, forceOverwrite: opts.forceOverwrite, repair: opts.repair, onEvent: onEvent(io, progress) };
  if (opts.interactive) {
    const plan = await planLive(action, base);
    if (!plan.install.length && !plan.upgrade.length && !plan.remove.length) {
      io.out('nothing to do');
      return;
    }
    printChanges(io, plan);
    if (!(await confirm('proceed?'))) throw new MinosError('MN0002', 'cancelled');
  }
  let r: LiveResult;
  try {
    r = await runLive(action, base);
  } finally {
    progress.clear();
  }
  printResult(io, r, !!opts.json);
}

function parseGeneration(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d{1,9}$/.test(s)) throw new MinosError('MN0002', `generation ${quote(s)}: expected a number (see \`minos history\`)`);
  return Number(s);
}

function actionOf(kind: string, args: string[], opts: { cascade?: boolean; allowEssential?: boolean; orphans?: boolean }): Action {
  switch (kind) {
    case 'install': {
      if (!args.length) throw new MinosError('MN0002', 'install what? give package names or .mpk files');
      const files = args.filter((a) => a.endsWith('.mpk'));
      return { kind: 'install', files, requests: args.filter((a) => !a.endsWith('.mpk')) };
    }
    case 'remove':
      if (!args.length && !opts.orphans) throw new MinosError('MN0002', 'remove what? give package names, or --orphans');
      return { kind: 'remove', names: args, cascade: opts.cascade, allowEssential: opts.allowEssential, orphans: opts.orphans };
    case 'upgrade':
      return { kind: 'upgrade', names: args };
    case 'rollback':
      if (args.length > 1) throw new MinosError('MN0002', 'rollback takes at most one generation');
      return { kind: 'rollback', generation: parseGeneration(args[0]) };
    default:
      throw new MinosError('MN0002', `plan ${quote(kind)}: expected install, remove, upgrade or rollback`);
  }
}

export function registerLive(program: Command, io: Io): void {
  program
    .command('init')
    .description('make the root (--root) a minos root: empty database and configuration')
    .option('--arch <arch>', 'architecture of the root (default: the host\'s)')
    .option('--json', 'print JSON')
    .action((opts: { arch?: string; json?: boolean }, cmd: Command) => {
      const r = initRoot(rootOf(cmd), { arch: archOption(opts.arch) });
      if (opts.json) io.out(JSON.stringify(r));
      else io.out(r.created ? `${r.root}: initialised` : `${r.root}: already a minos root`);
    });

  writeOptions(program.command('install').description('install packages by name (NAME, "NAME >= 1.2") or from package files (FILE.mpk), with their dependencies'))
    .argument('<packages...>', 'names, constraints or .mpk files')
    .action((args: string[], opts: WriteOpts, cmd: Command) => runWrite(io, cmd, actionOf('install', args, {}), `install ${args.join(' ')}`, opts));

  writeOptions(program.command('remove').description('remove packages; refuses to break packages that depend on them unless --cascade'))
    .argument('[names...]', 'installed package names')
    .option('--cascade', 'also remove the packages that depend on them')
    .option('--orphans', 'also remove the packages no request needs any more (installed as dependencies of what is gone)')
    .option('--allow-essential', 'allow removing Debian packages marked Essential')
    .action((args: string[], opts: WriteOpts & { cascade?: boolean; allowEssential?: boolean; orphans?: boolean }, cmd: Command) =>
      runWrite(io, cmd, actionOf('remove', args, opts), `remove ${[...args, ...(opts.orphans ? ['--orphans'] : [])].join(' ')}`, opts));

  writeOptions(program.command('upgrade').description('upgrade every installed package, or the named ones'))
    .argument('[names...]', 'installed package names')
    .action((args: string[], opts: WriteOpts, cmd: Command) => runWrite(io, cmd, actionOf('upgrade', args, {}), `upgrade ${args.join(' ')}`.trim(), opts));

  writeOptions(program.command('rollback').description('return to the packages of a generation (default: undo the last transaction), from the cache'))
    .argument('[generation]', 'generation number (see `minos history`); 0 is the state before the first')
    .action((gen: string | undefined, opts: WriteOpts, cmd: Command) => runWrite(io, cmd, actionOf('rollback', gen === undefined ? [] : [gen], {}), `rollback ${gen ?? ''}`.trim(), opts));

  const cache = program.command('cache').description('the package cache of the root (ROOT/var/cache/minos)');
  cache
    .command('clean')
    .description('remove cached packages that are not installed (--all: every cached package; rollback then needs the repositories)')
    .option('--all', 'remove every cached package')
    .option('--wait', 'wait for another minos to finish instead of failing (exit 5)')
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; wait?: boolean; json?: boolean }, cmd: Command) => {
      const r = await withWriteLock({ root: rootOf(cmd), command: 'cache clean', wait: opts.wait, onEvent: onEvent(io) }, (root) => {
        // Through the confined root: never following a link, any depth.
        const c = confine(root);
        const keep = new Set(opts.all ? [] : loadDb(root).packages.flatMap((p) => [`${p.sha256}.mpk`, `${p.sha256}.deb`]));
        let removed = 0;
        let kept = 0;
        for (const name of c.lstat(CACHE_DIR)?.isDirectory() ? c.readdir(CACHE_DIR) : []) {
          if (keep.has(name)) {
            kept++;
            continue;
          }
          c.rmTree(`${CACHE_DIR}/${name}`);
          removed++;
        }
        return { removed, kept };
      });
      if (opts.json) io.out(JSON.stringify(r));
      else io.out(`removed ${r.removed} cached files, kept ${r.kept}`);
    });
}

/** repo add|list|remove: the repositories of the root (ROOT/etc/minos/repositories.json). */
export function registerLiveRepo(repo: Command, io: Io): void {
  repo
    .command('add')
    .description('add a repository to the root: a folder or an http(s) URL')
    .argument('<name>', 'repository name (the index must carry it)')
    .argument('<location>', 'folder or http(s) URL')
    .option('--priority <n>', 'higher wins over newer versions elsewhere', '0')
    .option('--key <file>', 'trust this public key for it (copied to ROOT/etc/minos/keys; repeatable)', collect, [])
    .option('--suite <suite>', 'a Debian repository: its suite (e.g. bookworm); needs --keyring')
    .option('--component <name>', 'Debian component (repeatable; default main)', collect, [])
    .option('--keyring <file>', 'OpenPGP keyring trusted for the Debian repository (copied to ROOT/etc/minos/keyrings; repeatable)', collect, [])
    .option('--wait', 'wait for another minos to finish instead of failing (exit 5)')
    .action(async (name: string, location: string, opts: { priority: string; key: string[]; suite?: string; component: string[]; keyring: string[]; wait?: boolean }, cmd: Command) => {
      const err = repoNameError(name);
      if (err) throw new MinosError('MN0002', err);
      if (!/^-?\d{1,4}$/.test(opts.priority)) throw new MinosError('MN0002', `--priority ${opts.priority}: expected an integer`);
      const command = `repo add ${name}`;
      await withWriteLock({ root: rootOf(cmd), command, wait: opts.wait, onEvent: onEvent(io) }, async (root) => {
        const at = /^https?:\/\//.test(location) ? { url: location.replace(/\/+$/, '') } : { path: resolve(location) };
        if (opts.suite !== undefined) {
          if (opts.key.length) throw new MinosError('MN0002', '--key is for minos repositories; a Debian repository (--suite) takes --keyring');
          if (!opts.keyring.length) throw new MinosError('MN0002', '--suite needs at least one --keyring (e.g. /usr/share/keyrings/debian-archive-keyring.gpg)');
          const components = opts.component.length ? opts.component : ['main'];
          const keys = await loadPgpKeys(opts.keyring.map((f) => resolve(f)));
          const keyring = Buffer.concat(keys.map((k) => Buffer.from(k.write())));
          const entry = addRepo(root, { name, priority: Number(opts.priority), keys: [], debian: { suite: opts.suite, components, keyrings: [] }, ...at }, { keyring }, command, onEvent(io));
          io.out(`added Debian repository ${name} (${entry.url ?? entry.path}, suite ${opts.suite}, ${components.join(' ')}, priority ${entry.priority}, ${keys.length} keys)`);
          return;
        }
        const entry = addRepo(root, { name, priority: Number(opts.priority), keys: [], ...at }, { keyFiles: opts.key.map((f) => resolve(f)) }, command, onEvent(io));
        io.out(`added repository ${name} (${entry.url ?? entry.path}, priority ${entry.priority}${entry.keys.length ? `, keys ${entry.keys.join(' ')}` : ', any trusted key'})`);
      });
    });
  repo
    .command('list')
    .description('list the repositories of the root')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const root = await openForQuery(rootOf(cmd), onEvent(io));
      const repos = readRepoConfig(root);
      if (opts.json) io.out(JSON.stringify(repos));
      else for (const r of repos) io.out(`${r.name}  ${r.url ?? r.path ?? '(no location on this device: minos repo add it again)'}  priority ${r.priority}  ${r.debian ? `debian ${r.debian.suite} ${r.debian.components.join(' ')}` : `keys ${r.keys.length ? r.keys.join(' ') : 'any trusted'}`}`);
    });
  repo
    .command('remove')
    .description('remove a repository from the root (installed packages stay)')
    .argument('<name>', 'repository name')
    .option('--wait', 'wait for another minos to finish instead of failing (exit 5)')
    .action(async (name: string, opts: { wait?: boolean }, cmd: Command) => {
      const command = `repo remove ${name}`;
      await withWriteLock({ root: rootOf(cmd), command, wait: opts.wait, onEvent: onEvent(io) }, (root) => {
        removeRepo(root, name, command, onEvent(io));
        io.out(`removed repository ${name}`);
      });
    });
}

/** key add|list|remove: the keys the root trusts (ROOT/etc/minos/keys/ID.pub). */
export function registerLiveKey(key: Command, io: Io): void {
  key
    .command('add')
    .description('trust a public key on the root (copied to ROOT/etc/minos/keys/ID.pub)')
    .argument('<files...>', 'public key files (PEM)')
    .option('--wait', 'wait for another minos to finish instead of failing (exit 5)')
    .option('--json', 'print JSON')
    .action(async (files: string[], opts: { wait?: boolean; json?: boolean }, cmd: Command) => {
      const added = await withWriteLock({ root: rootOf(cmd), command: 'key add', wait: opts.wait, onEvent: onEvent(io) }, (root) =>
        trustKeys(root, files.map((f) => resolve(f)), 'key add', onEvent(io)).map((k, i) => ({ id: k.id, file: files[i] })));
      if (opts.json) io.out(JSON.stringify(added));
      else for (const k of added) io.out(`trusted ${k.id}  ${k.file}`);
    });
  key
    .command('list')
    .description('list the keys the root trusts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const root = await openForQuery(rootOf(cmd), onEvent(io));
      const keys = listKeys(root);
      if (opts.json) io.out(JSON.stringify(keys.map((k) => ({ id: k.id, file: k.file }))));
      else for (const k of keys) io.out(`${k.id}  ${k.file}`);
    });
  key
    .command('remove')
    .description('stop trusting a key')
    .argument('<id>', 'key id (or a unique prefix)')
    .option('--wait', 'wait for another minos to finish instead of failing (exit 5)')
    .action(async (id: string, opts: { wait?: boolean }, cmd: Command) => {
      await withWriteLock({ root: rootOf(cmd), command: `key remove ${id}`, wait: opts.wait, onEvent: onEvent(io) }, (root) => {
        untrustKey(root, id, `key remove ${id}`, onEvent(io));
        io.out(`removed key ${id}`);
      });
    });
}

export const LIVE_ACTIONS = ['install', 'remove', 'upgrade', 'rollback'];

/** `minos plan install|remove|upgrade|rollback …`: what the live command would do, on the root of `cmd`. */
export async function runLivePlan(io: Io, kind: string, args: string[], opts: { cascade?: boolean; allowExpired?: boolean; json?: boolean }, cmd: Command): Promise<void> {
  const res = await planLive(actionOf(kind, args, opts), { root: rootOf(cmd), command: `plan ${kind}`, allowExpired: opts.allowExpired, onEvent: onEvent(io) });
  if (opts.json) io.out(JSON.stringify({ install: res.install, upgrade: res.upgrade, remove: res.remove }));
  else if (!res.install.length && !res.upgrade.length && !res.remove.length) io.out('nothing to do');
  else printChanges(io, res);
}
