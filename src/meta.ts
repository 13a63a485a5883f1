/**
 * The package metadata shared by manifests and index entries (types.ts
 * PackageMeta), checked field by field: names, versions, architectures and
 * dependency strings in the dependency language (depend.ts), and the optional
 * `debian` field of a package imported from a .deb (`minos import deb`),
 * which keeps its Debian control fields so the solver, the live commands and
 * the SBOM treat it as the Debian package it is (docs/FORMAT.md §4.2).
 */
import { isArch, isSimpleDependency, nameError, parseDependency, parseDescriptor, parseProvide } from './depend.js';
import { exactKeys, fieldError, getInt, getStr, strings, type Ctx } from './jsonfields.js';
import type { DebianMeta, PackageMeta } from './types.js';
import { versionError } from './version.js';

/** parseDependency's verdict, without building the parse for the common forms. */
function checkDependency(s: string): void {
  if (!isSimpleDependency(s)) parseDependency(s);
}

/** parseDescriptor's verdict, without building the parse for the common forms. */
function checkDescriptor(s: string): void {
  if (s.indexOf('|') >= 0 || !isSimpleDependency(s)) parseDescriptor(s);
}

export const META_FIELDS = ['name', 'version', 'arch', 'summary', 'license', 'depends', 'provides', 'conflicts', 'replaces', 'optional', 'builddate', 'installedSize'] as const;

/** Validate the package metadata fields shared by manifests and index entries. */
export function checkMeta(o: Record<string, unknown>, ctx: Ctx): PackageMeta {
  const name = getStr(o, 'name', ctx, 'name', 128);
  const nerr = nameError(name);
  if (nerr) throw fieldError(ctx, 'name', nerr);
  const version = getStr(o, 'version', ctx, 'version', 128);
  const verr = versionError(version);
  if (verr) throw fieldError(ctx, 'version', verr);
  if (!isArch(o.arch)) throw fieldError(ctx, 'arch', `unknown architecture ${JSON.stringify(o.arch)}`);
  return {
    name,
    version,
    arch: o.arch,
    summary: getStr(o, 'summary', ctx, 'summary', 1024),
    license: getStr(o, 'license', ctx, 'license', 1024),
    depends: strings(o, 'depends', ctx, checkDependency),
    provides: strings(o, 'provides', ctx, parseProvide),
    conflicts: strings(o, 'conflicts', ctx, checkDescriptor),
    replaces: strings(o, 'replaces', ctx, checkDescriptor),
    optional: strings(o, 'optional', ctx, checkDependency),
    builddate: getInt(o, 'builddate', ctx, 'builddate'),
    installedSize: getInt(o, 'installedSize', ctx, 'installedSize'),
  };
}

const DEBIAN_KEYS = ['preDepends', 'breaks', 'recommends', 'essential', 'priority', 'multiArch', 'debArch', 'section', 'source'] as const;

/** Validate `v` as the `debian` field (`field` names it in messages) and return it. */
export function checkDebianMeta(v: unknown, ctx: Ctx, field = 'debian'): DebianMeta {
  const o = exactKeys(v, ctx, field, DEBIAN_KEYS);
  const sub: Ctx = { where: ctx.where, code: ctx.code };
  const str = (k: string, max: number) => getStr(o, k, sub, `${field}.${k}`, max);
  if (typeof o.essential !== 'boolean') throw fieldError(ctx, `${field}.essential`, 'expected true or false');
  return {
    preDepends: strings(o, 'preDepends', sub, parseDependency, `${field}.preDepends`),
    breaks: strings(o, 'breaks', sub, parseDescriptor, `${field}.breaks`),
    recommends: strings(o, 'recommends', sub, parseDependency, `${field}.recommends`),
    essential: o.essential,
    priority: str('priority', 64),
    multiArch: str('multiArch', 64),
    debArch: str('debArch', 64),
    section: str('section', 128),
    source: str('source', 128),
  };
}
