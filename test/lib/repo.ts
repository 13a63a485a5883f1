/** Build keys, packages and signed repositories for tests with minos's own library. */
import { linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { generateKey, loadSecretKey, type SecretKey } from '../../src/repo/keys.js';
import { writeIndex } from '../../src/repo/index.js';
import { packPackage } from '../../src/pkg/write.js';
import { loadRecipe } from '../../src/spec/recipe.js';
import { writeTree } from './cli.js';

export interface PkgDef {
  name: string;
  version?: string;
  arch?: string;
  depends?: string[];
  provides?: string[];
  conflicts?: string[];
  replaces?: string[];
  optional?: string[];
  license?: string;
  users?: object[];
  groups?: object[];
  config?: string[];
  /** Payload: relative path → content. */
  files?: Record<string, string | Buffer>;
  /** Hardlinks in the payload: new relative path → a path of `files`. */
  links?: Record<string, string>;
  overrides?: Record<string, object>;
}

export function makeKey(dir: string, name = 'test'): SecretKey {
  mkdirSync(dir, { recursive: true });
  generateKey(dir, name);
  return loadSecretKey(join(dir, `${name}.key`));
}

/** Pack each definition into `repo` and sign an index. Returns the repo folder. */
export function makeRepo(repo: string, key: SecretKey, pkgs: PkgDef[], opts: { name?: string; expires?: number | null; created?: number } = {}): string {
  mkdirSync(repo, { recursive: true });
  const work = join(repo, '..', `.src-${opts.name ?? 'repo'}-${Math.random().toString(36).slice(2)}`);
  for (const p of pkgs) {
    const d = join(work, `${p.name}-${p.arch ?? 'x86_64'}-${p.version ?? '1.0'}`);
    const recipe: Record<string, unknown> = {
      name: p.name, version: p.version ?? '1.0', arch: p.arch ?? 'x86_64', summary: `${p.name} for tests`, license: p.license ?? 'MIT',
      depends: p.depends ?? [], provides: p.provides ?? [], conflicts: p.conflicts ?? [], replaces: p.replaces ?? [], optional: p.optional ?? [],
      users: p.users ?? [], groups: p.groups ?? [], config: p.config ?? [], files: 'tree',
    };
    if (p.overrides) recipe.overrides = p.overrides;
    writeTree(join(d, 'tree'), p.files ?? { [`usr/share/${p.name}/README`]: `${p.name} ${p.version ?? '1.0'}\n` });
    for (const [link, file] of Object.entries(p.links ?? {})) {
      mkdirSync(dirname(join(d, 'tree', link)), { recursive: true });
      linkSync(join(d, 'tree', file), join(d, 'tree', link));
    }
    writeFileSync(join(d, 'recipe.yaml'), stringify(recipe));
    packPackage({ recipe: loadRecipe(join(d, 'recipe.yaml')), key, outDir: repo, level: 1, sourceDateEpoch: 1700000000 });
  }
  writeIndex({ dir: repo, key, name: opts.name ?? 'main', expires: opts.expires, created: opts.created });
  return repo;
}

/** Write an image spec; repositories are [path, pub key] pairs. */
export function writeSpec(file: string, spec: Record<string, unknown>): string {
  writeFileSync(file, stringify(spec));
  return file;
}
