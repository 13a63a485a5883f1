/** Helpers for the live-root tests: a signed repository, an initialised root, and a snapshot of a root's state. */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { minos, tempDir, type Run } from './cli.js';
import { makeKey, makeRepo, type PkgDef } from './repo.js';
import type { SecretKey } from '../../src/repo/keys.js';

export interface LiveFixture {
  dir: string;
  key: SecretKey;
  pub: string;
  root: string;
  repo: string;
  /** Run minos on the root. */
  run(args: string[], env?: Record<string, string>): Run;
}

/** A temp folder with a key, a repository of `pkgs` named "main", and an initialised root that trusts both. */
export function liveFixture(t: Tap.Test, pkgs: PkgDef[], opts: { repoName?: string; expires?: number | null } = {}): LiveFixture {
  const dir = tempDir(t, 'minos-live-');
  const key = makeKey(join(dir, 'keys'));
  const pub = join(dir, 'keys/test.pub');
  const repo = makeRepo(join(dir, 'repo'), key, pkgs, { name: opts.repoName ?? 'main', expires: opts.expires });
  const root = join(dir, 'root');
  const run = (args: string[], env?: Record<string, string>) => minos(['--root', root, ...args], { env });
  const init = run(['init', '--arch', 'x86_64']);
  if (init.code !== 0) throw new Error(init.stderr);
  const add = run(['repo', 'add', opts.repoName ?? 'main', repo, '--key', pub]);
  if (add.code !== 0) throw new Error(add.stderr);
  return { dir, key, pub, root, repo, run };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Every node under `root` except minos's own state (db folder, cache): path →
 * type, mode, owner, content hash or link target.
 */
export function snapshot(root: string, skip = ['var/lib/minos', 'var/cache/minos', 'etc/minos']): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip.some((s) => r === s || r.startsWith(`${s}/`))) continue;
      const p = join(root, r);
      const st = lstatSync(p);
      const base = `${st.mode.toString(8)} ${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        out.set(r, `${base} dir`);
        walk(r);
      } else if (st.isSymbolicLink()) out.set(r, `${base} -> ${readlinkSync(p)}`);
      else if (st.isFile()) out.set(r, `${base} ${sha(readFileSync(p))}`);
      else out.set(r, base);
    }
  };
  if (existsSync(root)) walk('');
  return out;
}

/** Installed name → version from the database. */
export function installed(root: string): Record<string, string> {
  const db = JSON.parse(readFileSync(join(root, 'var/lib/minos/installed.json'), 'utf8')) as { packages: { name: string; version: string }[] };
  return Object.fromEntries(db.packages.map((p) => [p.name, p.version]));
}
