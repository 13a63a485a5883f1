/**
 * The read-only commands on a live root: list, info, search, files, owner,
 * why, history and verify (of installed packages). They take no lock and
 * write nothing, but for `files` of a package only an http repository has,
 * which is downloaded to the root's cache first.
 */
import type { Command } from 'commander';
import { MinosError } from '../errors.js';
import type { InstalledDb } from '../db/installed.js';
import { readHistory } from '../live/history.js';
import { why } from '../live/needs.js';
import { bestCandidate, findRecord, noSuchPackage, owners, repoManifest, search, verifyInstalled, type RepoPackage } from '../live/query.js';
import { openLiveRepos } from '../live/resolve.js';
import { loadDb, rootArch } from '../live/root.js';
import { openForQuery } from '../live/transaction.js';
import { solve } from '../solve/solver.js';
import { fieldLine, formatEntry, rootOf } from './common.js';
import { escapeControls, type Io } from './io.js';
import { onEvent } from './live.js';

const DEP_FIELDS = ['depends', 'optional', 'provides', 'conflicts', 'replaces'] as const;

/** `minos verify [NAME...]` on a live root (pack.ts routes here when the arguments are not .mpk files). */
export async function liveVerify(io: Io, cmd: Command, names: string[], json: boolean): Promise<void> {
  const root = await openForQuery(rootOf(cmd), onEvent(io));
  const db = loadDb(root);
  const r = verifyInstalled(db, root, names);
  if (json) io.out(JSON.stringify({ ok: r.problems.length === 0, ...r }));
  else {
    for (const p of r.problems) io.out(`${p.package}: ${p.path}: ${p.kind}${p.expected !== undefined ? ` (expected ${p.expected}${p.actual !== undefined ? `, found ${p.actual}` : ''})` : ''}`);
    for (const c of r.modifiedConfig) io.out(`${c.package}: ${c.path}: config file changed locally (kept)`);
    if (!r.problems.length) io.out(`ok: ${r.packages} packages, ${r.entries} entries match the database`);
  }
  if (r.problems.length) {
    throw new MinosError('MN0215', `${r.problems.length} ${r.problems.length === 1 ? 'entry differs' : 'entries differ'} from the database (first: ${r.problems[0].path}: ${r.problems[0].kind})`, { data: { problems: r.problems.length } });
  }
}

/** The installed record of `name`, else the best package of the configured repositories, else MN0302. */
async function lookUp(root: string, db: InstalledDb, name: string, allowExpired?: boolean): Promise<{ installed: true } | ({ installed: false } & RepoPackage)> {
  if (db.packages.some((p) => p.name === name)) return { installed: true };
  const repos = await openLiveRepos({ root, allowExpired });
  const best = bestCandidate(repos, name, rootArch(root, db));
  if (!best) throw noSuchPackage(db, repos, name);
  return { installed: false, ...best };
}

export function registerQueries(program: Command, io: Io): void {
  program.command('why')
    .description('which requests of the world pull an installed package in, through which dependencies')
    .argument('<name>', 'installed package name')
    .option('--json', 'print {"name": N, "chains": [{"request": R, "path": [R\'s package, ..., N]}]}')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const root = await openForQuery(rootOf(cmd), onEvent(io));
      const r = why(loadDb(root), name);
      if (opts.json) io.out(JSON.stringify(r));
      else if (!r.chains.length) io.out(`${name}: no request needs it (minos remove --orphans removes it)`);
      else for (const c of r.chains) io.out(`${c.request}: ${c.path.join(' -> ')}`);
    });

  program
    .command('list')
    .description('list installed packages')
    .option('--upgradable', 'only packages with a newer version in the repositories')
    .option('--allow-expired', 'accept repository indexes past their expiry time')
    .option('--json', 'print JSON')
    .action(async (opts: { upgradable?: boolean; allowExpired?: boolean; json?: boolean }, cmd: Command) => {
      const root = await openForQuery(rootOf(cmd), onEvent(io));
      const db = loadDb(root);
      if (opts.upgradable) {
        const repos = await openLiveRepos({ root, allowExpired: opts.allowExpired });
        const candidates = repos.flatMap((r) => r.loaded.index.packages.map((meta) => ({ meta, repo: r.name, priority: r.priority })));
        const cs = solve({ candidates, arch: rootArch(root, db), requests: [], installed: db.packages.map((r) => ({ name: r.name, version: r.version, arch: r.arch, repo: r.repo, meta: r })), upgrade: true });
        const ups = cs.upgrade.map((u) => ({ name: u.from.name, version: u.from.version, available: u.to.version, repo: u.to.repo }));
        if (opts.json) io.out(JSON.stringify(ups));
        else for (const u of ups) io.out(`${u.name} ${u.version} -> ${u.available} (${u.repo})`);
        return;
      }
      const rows = [...db.packages].sort((a, b) => (a.name < b.name ? -1 : 1)).map((p) => ({ name: p.name, version: p.version, arch: p.arch, repo: p.repo, explicit: p.explicit }));
      if (opts.json) io.out(JSON.stringify(rows));
      else for (const p of rows) io.out(`${p.name} ${p.version} ${p.arch} (${p.repo})${p.explicit ? '' : ' [dependency]'}`);
    });

  program
    .command('info')
    .description('show a package\'s metadata: the installed one, else the one the configured repositories would install')
    .argument('<name>', 'package name')
    .option('--allow-expired', 'accept repository indexes past their expiry time')
    .option('--json', 'print JSON ("installed": true or false)')
    .action(async (name: string, opts: { allowExpired?: boolean; json?: boolean }, cmd: Command) => {
      const root = await openForQuery(rootOf(cmd), onEvent(io));
      const db = loadDb(root);
      const found = await lookUp(root, db, name, opts.allowExpired);
      const line = (k: string, v: string) => io.out(fieldLine(k, v));
      if (!found.installed) {
        const e = found.entry;
        if (opts.json) {
          io.out(JSON.stringify({ ...e, repo: found.repo.name, installed: false }));
          return;
        }
        io.out(`${e.name} ${e.version} (${e.arch})`);
        line('summary', e.summary);
        line('license', e.license);
        line('repository', `${found.repo.name} (${found.repo.location})`);
        line('status', 'not installed');
        line('size', `${e.size} bytes, ${e.installedSize} bytes installed`);
        line('sha256', e.sha256);
        for (const k of DEP_FIELDS) if (e[k].length) line(k, e[k].join(', '));
        return;
      }
      const { files, ...meta } = findRecord(db, name);
      if (opts.json) {
        io.out(JSON.stringify({ ...meta, files: files.length, installed: true }));
        return;
      }
      io.out(`${meta.name} ${meta.version} (${meta.arch})`);
      line('summary', meta.summary);
      line('license', meta.license);
      line('repository', meta.repo);
      line('reason', meta.explicit ? 'explicitly installed' : 'dependency');
      line('installed', `${meta.installedSize} bytes in ${files.length} entries`);
      line('sha256', meta.sha256);
      for (const k of [...DEP_FIELDS, 'config'] as const) if (meta[k].length) line(k, meta[k].join(', '));
    });

  program
    .command('search')
    .description('search the repositories (and installed packages) by name and summary')
    .argument('<term>', 'text to look for')
    .option('--allow-expired', 'accept repository indexes past their expiry time')
    .option('--json', 'print JSON')
    .action(async (term: string, opts: { allowExpired?: boolean; json?: boolean }, cmd: Command) => {
      const root = await openForQuery(rootOf(cmd), onEvent(io));
      const db = loadDb(root);
      const repos = await openLiveRepos({ root, allowExpired: opts.allowExpired });
      const hits = search(db, repos, term);
      if (opts.json) io.out(JSON.stringify(hits));
      else for (const h of hits) io.out(`${h.name} ${h.version} ${h.arch} (${h.repo})${h.installed ? ` [installed${h.installed !== h.version ? ` ${h.installed}` : ''}]` : ''}  ${escapeControls(h.summary)}`);
    });

  program
    .command('files')
    .description('list the files of a package: the installed one, else the one the configured repositories would install (read and verified as install does)')
    .argument('<name>', 'package name')
    .option('--allow-expired', 'accept repository indexes past their expiry time')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { allowExpired?: boolean; json?: boolean }, cmd: Command) => {
      const root = await openForQuery(rootOf(cmd), onEvent(io));
      const db = loadDb(root);
      const found = await lookUp(root, db, name, opts.allowExpired);
      let files;
      if (found.installed) files = findRecord(db, name).files;
      else {
        files = (await repoManifest(root, found)).files;
        if (!opts.json) io.err(`minos: ${name} is not installed; the files of ${found.entry.name} ${found.entry.version} from ${found.repo.name}:`);
      }
      if (opts.json) io.out(JSON.stringify(files.map((e) => ({ ...e, path: `/${e.path}` }))));
      else for (const e of files) io.out(formatEntry({ ...e, path: `/${e.path}` }));
    });

  program
    .command('owner')
    .description('which installed package owns a path')
    .argument('<path>', 'absolute path on the root')
    .option('--json', 'print JSON')
    .action(async (path: string, opts: { json?: boolean }, cmd: Command) => {
      const root = await openForQuery(rootOf(cmd), onEvent(io));
      const o = owners(loadDb(root), root, path);
      if (opts.json) io.out(JSON.stringify({ path: o.path, packages: o.packages.map((p) => ({ name: p.name, version: p.version, type: p.entry.type })) }));
      else for (const p of o.packages) io.out(`${o.path} is owned by ${p.name} ${p.version}`);
    });

  program
    .command('history')
    .description('list the generations (transactions) of the root')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const root = await openForQuery(rootOf(cmd), onEvent(io));
      const h = readHistory(root);
      if (opts.json) {
        io.out(JSON.stringify(h.generations));
        return;
      }
      for (const g of h.generations) {
        const before = new Map(g.before.map((p) => [p.name, p.version]));
        const after = new Map(g.after.map((p) => [p.name, p.version]));
        const changes = [
          ...g.after.filter((p) => !before.has(p.name)).map((p) => `+${p.name} ${p.version}`),
          ...g.after.filter((p) => before.has(p.name) && before.get(p.name) !== p.version).map((p) => `${p.name} ${before.get(p.name)} -> ${p.version}`),
          ...g.before.filter((p) => !after.has(p.name)).map((p) => `-${p.name} ${p.version}`),
        ];
        io.out(`${String(g.id).padStart(4)}  ${g.time}  minos ${g.command}  (${g.after.length} packages)${changes.length ? `: ${changes.join(', ')}` : ''}`);
      }
    });
}
