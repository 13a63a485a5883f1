/**
 * Package recipes: the YAML a packager writes for `minos pack`. Loading checks
 * every field and reports `FILE:LINE: field "X": problem`.
 */
import { dirname, resolve } from 'node:path';
import { ARCHES, isArch, nameError, parseDependency, parseDescriptor, parseProvide } from '../depend.js';
import { versionError } from '../version.js';
import type { GroupDecl, PackageMeta, UserDecl } from '../types.js';
import { ACCOUNT_NAME, pathError } from '../names.js';
import { field, int, list, mapping, readYamlFile, scalarString, str, strList, yamlError, type Path, type YamlSource } from './yaml.js';

export type OverrideType = 'char' | 'block' | 'fifo' | 'dir' | 'symlink';

/** Per-path changes to what the files folder says, or entries it cannot hold. */
export interface Override {
  mode?: number;
  owner?: string;
  group?: string;
  /** Create an entry absent from the folder (devices and FIFOs can only come this way). */
  type?: OverrideType;
  major?: number;
  minor?: number;
  target?: string;
}

/** A recipe: package metadata (build date and size come from packing) plus what to pack. */
export interface Recipe extends Omit<PackageMeta, 'builddate' | 'installedSize'> {
  file: string;
  /** The parsed YAML, for errors found later that should name a line. */
  src: YamlSource;
  config: string[];
  users: UserDecl[];
  groups: GroupDecl[];
  /** Absolute path of the payload folder, or undefined for a package without files. */
  files?: string;
  /** Keyed by package-relative path (no leading slash). */
  overrides: Map<string, Override>;
}


function account(src: YamlSource, path: Path, v: unknown): string {
  const s = str(src, path, v);
  if (!ACCOUNT_NAME.test(s)) throw yamlError(src, path, `invalid user or group name "${s}"`);
  return s;
}

function textField(src: YamlSource, path: Path, v: unknown): string {
  const s = str(src, path, v);
  if (/[:\n\0]/.test(s)) throw yamlError(src, path, 'may not contain ":" or a newline');
  return s;
}

export function parseMode(src: YamlSource, path: Path, v: unknown): number {
  const s = scalarString(src, path, v);
  if (!/^0?[0-7]{3,4}$/.test(s)) throw yamlError(src, path, `mode "${s}" must be 3 or 4 octal digits, e.g. "0755" or "4755"`);
  return parseInt(s, 8);
}

export function loadUsers(src: YamlSource, path: Path, v: unknown): UserDecl[] {
  if (v === undefined || v === null) return [];
  return list(src, path, v).map((u, i) => {
    const p = [...path, i];
    const o = mapping(src, p, u, { required: ['name', 'uid', 'group'], optional: ['home', 'shell', 'gecos'] });
    const decl: UserDecl = { name: account(src, [...p, 'name'], o.name), uid: int(src, [...p, 'uid'], o.uid), group: account(src, [...p, 'group'], o.group) };
    for (const k of ['home', 'shell', 'gecos'] as const) if (o[k] !== undefined) decl[k] = textField(src, [...p, k], o[k]);
    return decl;
  });
}

export function loadGroups(src: YamlSource, path: Path, v: unknown): GroupDecl[] {
  if (v === undefined || v === null) return [];
  return list(src, path, v).map((g, i) => {
    const p = [...path, i];
    const o = mapping(src, p, g, { required: ['name', 'gid'], optional: ['members'] });
    const decl: GroupDecl = { name: account(src, [...p, 'name'], o.name), gid: int(src, [...p, 'gid'], o.gid) };
    if (o.members !== undefined) decl.members = list(src, [...p, 'members'], o.members).map((m, j) => account(src, [...p, 'members', j], m));
    return decl;
  });
}

function absPath(src: YamlSource, path: Path, v: unknown): string {
  const s = str(src, path, v);
  if (!s.startsWith('/')) throw yamlError(src, path, `"${s}" must be an absolute path inside the package, like /etc/foo.conf`);
  const rel = s.replace(/^\/+/, '');
  const err = pathError(rel);
  if (err) throw yamlError(src, path, `${err}: "${s}"`);
  return rel;
}

function loadOverride(src: YamlSource, path: Path, v: unknown): Override {
  const o = mapping(src, path, v, { optional: ['mode', 'owner', 'group', 'type', 'major', 'minor', 'target'] });
  const ov: Override = {};
  if (o.mode !== undefined) ov.mode = parseMode(src, [...path, 'mode'], o.mode);
  if (o.owner !== undefined) ov.owner = account(src, [...path, 'owner'], o.owner);
  if (o.group !== undefined) ov.group = account(src, [...path, 'group'], o.group);
  if (o.type !== undefined) {
    const t = str(src, [...path, 'type'], o.type);
    if (!['char', 'block', 'fifo', 'dir', 'symlink'].includes(t)) throw yamlError(src, [...path, 'type'], `type "${t}" must be one of char, block, fifo, dir, symlink`);
    ov.type = t as OverrideType;
  }
  const dev = ov.type === 'char' || ov.type === 'block';
  for (const k of ['major', 'minor'] as const) {
    if (dev && o[k] === undefined) throw yamlError(src, [...path, k], `is required for a ${ov.type} device`, 'MN0105');
    if (!dev && o[k] !== undefined) throw yamlError(src, [...path, k], 'is only allowed with type char or block');
    if (dev) ov[k] = int(src, [...path, k], o[k], 0, 0o7777777);
  }
  if (ov.type === 'symlink' && o.target === undefined) throw yamlError(src, [...path, 'target'], 'is required for a symlink', 'MN0105');
  if (ov.type !== 'symlink' && o.target !== undefined) throw yamlError(src, [...path, 'target'], 'is only allowed with type symlink');
  if (o.target !== undefined) {
    ov.target = str(src, [...path, 'target'], o.target);
    if (ov.target === '' || ov.target.includes('\0')) throw yamlError(src, [...path, 'target'], 'must be a non-empty path');
  }
  return ov;
}

function deps(src: YamlSource, key: string, v: unknown, parse: (s: string) => unknown): string[] {
  return strList(src, [key], v).map((s, i) => field(src, [key, i], () => (parse(s), s.trim())));
}

/** Load and validate a recipe file. Throws MinosError (exit 2) naming file, line and field. */
export function loadRecipe(file: string): Recipe {
  const src = readYamlFile(file);
  const o = mapping(src, [], src.data, {
    required: ['name', 'version', 'arch'],
    optional: ['summary', 'license', 'depends', 'provides', 'conflicts', 'replaces', 'optional', 'config', 'users', 'groups', 'files', 'overrides'],
  });
  const name = str(src, ['name'], o.name);
  const nerr = nameError(name);
  if (nerr) throw yamlError(src, ['name'], nerr, 'MN0106');
  const version = scalarString(src, ['version'], o.version);
  const verr = versionError(version);
  if (verr) throw yamlError(src, ['version'], `invalid version "${version}": ${verr}`, 'MN0106');
  const arch = str(src, ['arch'], o.arch);
  if (!isArch(arch)) throw yamlError(src, ['arch'], `unknown architecture "${arch}" (one of ${ARCHES.join(', ')})`, 'MN0106');
  const overrides = new Map<string, Override>();
  if (o.overrides !== undefined && o.overrides !== null) {
    const ovs = mapping(src, ['overrides'], o.overrides, { optional: Object.keys(o.overrides as object) });
    for (const [p, v] of Object.entries(ovs)) {
      const rel = absPath(src, ['overrides', p], p);
      if (overrides.has(rel)) throw yamlError(src, ['overrides', p], 'path given twice');
      overrides.set(rel, loadOverride(src, ['overrides', p], v));
    }
  }
  const config = strList(src, ['config'], o.config).map((s, i) => `/${absPath(src, ['config', i], s)}`);
  return {
    file,
    src,
    name,
    version,
    arch,
    summary: o.summary === undefined ? '' : str(src, ['summary'], o.summary),
    license: o.license === undefined ? '' : str(src, ['license'], o.license),
    depends: deps(src, 'depends', o.depends, parseDependency),
    provides: deps(src, 'provides', o.provides, parseProvide),
    conflicts: deps(src, 'conflicts', o.conflicts, parseDescriptor),
    replaces: deps(src, 'replaces', o.replaces, parseDescriptor),
    optional: deps(src, 'optional', o.optional, parseDependency),
    config,
    users: loadUsers(src, ['users'], o.users),
    groups: loadGroups(src, ['groups'], o.groups),
    files: o.files === undefined || o.files === null ? undefined : resolve(dirname(file), str(src, ['files'], o.files)),
    overrides,
  };
}
