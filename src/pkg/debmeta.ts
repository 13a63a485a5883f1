/**
 * The optional `debian` field of a manifest or index entry: the Debian
 * control fields of a package imported from a .deb (`minos import deb`),
 * kept so the solver, the live commands and the SBOM treat it as the Debian
 * package it is. Exactly the DebianMeta keys; docs/FORMAT.md §4.2.
 */
import { MinosError } from '../errors.js';
import { parseDependency, parseDescriptor } from '../depend.js';
import type { DebianMeta } from '../types.js';
import { exactKeys, getStr, strings, type Ctx } from './manifest.js';

const KEYS = ['preDepends', 'breaks', 'recommends', 'essential', 'priority', 'multiArch', 'debArch', 'section', 'source'] as const;

/** Validate `v` as the `debian` field (`field` names it in messages) and return it. */
export function checkDebianMeta(v: unknown, ctx: Ctx, field = 'debian'): DebianMeta {
  const o = exactKeys(v, ctx, field, KEYS);
  const sub: Ctx = { where: ctx.where, code: ctx.code };
  const str = (k: string, max: number) => getStr(o, k, sub, `${field}.${k}`, max);
  if (typeof o.essential !== 'boolean') throw new MinosError(ctx.code, `${ctx.where}: field "${field}.essential": expected true or false`, { data: { file: ctx.where, field: `${field}.essential` } });
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
