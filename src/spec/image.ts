/**
 * Image specs: the YAML that `minos plan` and `minos build` read. Relative
 * paths resolve against the spec's folder. Errors name file, line and field.
 */
import { dirname, resolve } from 'node:path';
import { MinosError } from '../errors.js';
import { ARCHES, isArch, parseRequest, type Arch } from '../depend.js';
import type { GroupDecl, UserDecl } from '../types.js';
import { FORMATS, type OutputFormat } from '../formats.js';
import { ACCOUNT_NAME, repoNameError } from '../names.js';
import { loadGroups, loadUsers } from './recipe.js';
import { bool, field, int, list, mapping, readYamlFile, scalarString, str, strList, yamlError, type YamlSource } from './yaml.js';

export { FORMATS, type OutputFormat } from '../formats.js';

/** OCI image layouts: a folder, or the same folder as one tar (an oci-archive). */
export function isOci(f: OutputFormat): f is 'oci' | 'oci.tar' {
  return f === 'oci' || f === 'oci.tar';
}

export const COMPRESSIONS = ['gzip', 'zstd'] as const;
/** How an OCI image's layer is compressed. */
export type LayerCompression = (typeof COMPRESSIONS)[number];

export const SETS = ['essential', 'required', 'important', 'standard'] as const;
export type DebianSet = (typeof SETS)[number];

/**
 * Output path endings and the format each implies, longest first. A path
 * whose file name has another extension is refused unless a format is given,
 * so that `-o x.tar.gz` does not silently become a folder.
 */
export const OUTPUT_EXTENSIONS: readonly (readonly [string, OutputFormat])[] = [
  ['.oci.tar', 'oci.tar'],
  ['.tar.zst', 'tar.zst'],
  ['.tzst', 'tar.zst'],
  ['.tar.gz', 'tar.gz'],
  ['.tgz', 'tar.gz'],
  ['.tar.xz', 'tar.xz'],
  ['.txz', 'tar.xz'],
  ['.tar', 'tar'],
  ['.oci', 'oci'],
  ['.cpio', 'cpio'],
  ['.squashfs', 'squashfs'],
  ['.sqfs', 'squashfs'],
  ['.erofs', 'erofs'],
];

/** The format an output path's extension implies; undefined for a name without extension; MN0002 for an unknown one. */
export function formatOfPath(path: string): OutputFormat | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  for (const [ext, f] of OUTPUT_EXTENSIONS) if (name.length > ext.length && name.endsWith(ext)) return f;
  const dot = name.indexOf('.', 1);
  if (dot < 0) return undefined;
  throw new MinosError('MN0002', `${path}: unknown output extension "${name.slice(dot)}"`, {
    hint: `use ${OUTPUT_EXTENSIONS.map(([e]) => e).join(', ')} or a name without extension for a folder, or give --format (${FORMATS.join(', ')})`,
    data: { file: path },
  });
}

export interface RepoSpec {
  /** Absolute folder, or undefined for a URL repository. */
  path?: string;
  url?: string;
  /** Absolute paths of trusted public keys (files or folders of *.pub). */
  keys: string[];
  /** Higher wins, even over a newer version elsewhere. Default 0. */
  priority: number;
  /** Expected repository name (the index must carry it); default: whatever the index says. */
  name?: string;
  /** A Debian repository (`debian: FOLDER-or-URL`): `keys` are OpenPGP keyrings. */
  debian?: { suite: string; components: string[] };
  /**
   * Where the built image's live commands find this repository (`device:`): an
   * http(s) URL, or a path on the device (absolute, or relative to
   * /etc/minos). Default: the URL of an http repository; none for a folder.
   */
  device?: { url: string } | { path: string };
}

/** `device: URL-or-path`: kept as written (a path is the device's, never resolved here). */
function deviceOf(src: YamlSource, p: (string | number)[], v: unknown): RepoSpec['device'] {
  if (v === undefined) return undefined;
  const d = str(src, [...p, 'device'], v);
  if (/^https?:\/\//.test(d)) {
    if (!/^https?:\/\/[^\s]+$/.test(d)) throw yamlError(src, [...p, 'device'], `"${d}" is not an http(s) URL`);
    return { url: d.replace(/\/+$/, '') };
  }
  if (d === '' || /[\0\n]/.test(d) || d.split('/').includes('..')) throw yamlError(src, [...p, 'device'], `"${d}" is not a URL or a path on the device`);
  return { path: d };
}

/** The `config:` block: what an OCI image runs (ignored by the other formats). */
export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  /** NAME, value pairs in the spec's order. */
  env?: [string, string][];
  workdir?: string;
  /** `NAME`, `UID`, or either followed by `:GROUP` or `:GID`; names must be accounts of the image. */
  user?: string;
}

export interface ImageSpec {
  file: string;
  src: YamlSource;
  name: string;
  /** The first of `arches`. */
  arch: Arch;
  /** `arch:` as written: one architecture, or several for one OCI index. */
  arches: Arch[];
  repositories: RepoSpec[];
  /** Request strings: `name`, `name >= 1.2`, `a | b`, `name@repo`. */
  packages: string[];
  /** Debian package sets requested as a whole: essential (every `Essential: yes`), required, important, standard (by Priority). */
  sets: DebianSet[];
  optional: boolean;
  users: UserDecl[];
  groups: GroupDecl[];
  /** A folder copied over the result; its entries are owned by `owner`:`group` (root unless stated). */
  overlay?: { path: string; owner: string; group: string };
  output?: { path?: string; format?: OutputFormat; compression?: LayerCompression };
  config?: ImageConfig;
}

/** `{debian: FOLDER-or-URL, suite, components: [main], keys: [KEYRING...], priority, name}`. */
function loadDebianRepo(src: YamlSource, p: (string | number)[], o: Record<string, unknown>, base: string): RepoSpec {
  const where = str(src, [...p, 'debian'], o.debian);
  const suite = str(src, [...p, 'suite'], o.suite);
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(suite) || suite.split('/').includes('..')) throw yamlError(src, [...p, 'suite'], `"${suite}" is not a suite name`);
  const components = o.components === undefined ? ['main'] : strList(src, [...p, 'components'], o.components);
  components.forEach((c, k) => {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(c)) throw yamlError(src, [...p, 'components', k], `"${c}" is not a component name`);
  });
  if (components.length === 0) throw yamlError(src, [...p, 'components'], 'at least one component is required', 'MN0105');
  const keys = strList(src, [...p, 'keys'], o.keys).map((k) => resolve(base, k));
  if (keys.length === 0) throw yamlError(src, [...p, 'keys'], 'at least one OpenPGP keyring is required', 'MN0105');
  const spec: RepoSpec = { keys, priority: o.priority === undefined ? 0 : int(src, [...p, 'priority'], o.priority, -1000, 1000), debian: { suite, components } };
  if (/^https?:\/\//.test(where)) {
    if (!/^https?:\/\/[^\s]+$/.test(where)) throw yamlError(src, [...p, 'debian'], `"${where}" is not an http(s) URL`);
    spec.url = where.replace(/\/+$/, '');
  } else spec.path = resolve(base, where);
  spec.name = o.name === undefined ? `debian-${suite.replace(/\//g, '-')}` : str(src, [...p, 'name'], o.name);
  const err = repoNameError(spec.name);
  if (err) throw yamlError(src, [...p, o.name === undefined ? 'suite' : 'name'], err);
  return spec;
}

function loadRepo(src: YamlSource, i: number, v: unknown, base: string): RepoSpec {
  const p = ['repositories', i];
  if (v !== null && typeof v === 'object' && 'debian' in v) {
    const d = mapping(src, p, v, { required: ['debian', 'suite', 'keys'], optional: ['components', 'priority', 'name', 'device'] });
    return { ...loadDebianRepo(src, p, d, base), ...(d.device === undefined ? {} : { device: deviceOf(src, p, d.device) }) };
  }
  const o = mapping(src, p, v, { required: ['keys'], optional: ['path', 'url', 'priority', 'name', 'device'] });
  if ((o.path === undefined) === (o.url === undefined)) throw yamlError(src, p, 'give exactly one of "path" or "url"', 'MN0105');
  const keys = strList(src, [...p, 'keys'], o.keys).map((k) => resolve(base, k));
  if (keys.length === 0) throw yamlError(src, [...p, 'keys'], 'at least one trusted key is required', 'MN0105');
  const spec: RepoSpec = { keys, priority: o.priority === undefined ? 0 : int(src, [...p, 'priority'], o.priority, -1000, 1000) };
  if (o.path !== undefined) spec.path = resolve(base, str(src, [...p, 'path'], o.path));
  if (o.url !== undefined) {
    const url = str(src, [...p, 'url'], o.url);
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw yamlError(src, [...p, 'url'], `"${url}" is not an http(s) URL`);
    spec.url = url.replace(/\/+$/, '');
  }
  if (o.name !== undefined) {
    spec.name = str(src, [...p, 'name'], o.name);
    const err = repoNameError(spec.name);
    if (err) throw yamlError(src, [...p, 'name'], err);
  }
  if (o.device !== undefined) spec.device = deviceOf(src, p, o.device);
  return spec;
}

/** `overlay: DIR` or `overlay: {path: DIR, owner: NAME, group: NAME}`. */
function loadOverlay(src: YamlSource, v: unknown, base: string): ImageSpec['overlay'] {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return { path: resolve(base, v), owner: 'root', group: 'root' };
  const o = mapping(src, ['overlay'], v, { required: ['path'], optional: ['owner', 'group'] });
  const name = (k: 'owner' | 'group') => {
    if (o[k] === undefined) return 'root';
    const s = str(src, ['overlay', k], o[k]);
    if (!ACCOUNT_NAME.test(s)) throw yamlError(src, ['overlay', k], `invalid ${k === 'owner' ? 'user' : 'group'} name "${s}"`);
    return s;
  };
  return { path: resolve(base, str(src, ['overlay', 'path'], o.path)), owner: name('owner'), group: name('group') };
}

function loadArch(src: YamlSource, path: (string | number)[], v: unknown): Arch {
  const arch = str(src, path, v);
  if (!isArch(arch) || arch === 'noarch') {
    throw yamlError(src, path, `unknown target architecture "${arch}" (one of ${ARCHES.filter((a) => a !== 'noarch').join(', ')})`, 'MN0106');
  }
  return arch;
}

/** `arch: A` or `arch: [A, B, ...]` (distinct). */
function loadArches(src: YamlSource, v: unknown): Arch[] {
  if (!Array.isArray(v)) return [loadArch(src, ['arch'], v)];
  if (v.length === 0) throw yamlError(src, ['arch'], 'at least one architecture is required', 'MN0105');
  const arches = v.map((a, i) => loadArch(src, ['arch', i], a));
  arches.forEach((a, i) => {
    if (arches.indexOf(a) !== i) throw yamlError(src, ['arch', i], `"${a}" is listed twice`);
  });
  return arches;
}

const USER_PART = /^(?:[0-9]+|[A-Za-z_][A-Za-z0-9_.-]*)$/;

/** `config: {entrypoint: [...], cmd: [...], env: {K: V}, workdir: /path, user: NAME-or-UID[:GROUP-or-GID]}`. */
function loadConfig(src: YamlSource, v: unknown): ImageConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const o = mapping(src, ['config'], v, { optional: ['entrypoint', 'cmd', 'env', 'workdir', 'user'] });
  const c: ImageConfig = {};
  const args = (k: 'entrypoint' | 'cmd') => list(src, ['config', k], o[k]).map((x, i) => str(src, ['config', k, i], x));
  if (o.entrypoint !== undefined) c.entrypoint = args('entrypoint');
  if (o.cmd !== undefined) c.cmd = args('cmd');
  if (o.env !== undefined) {
    const env = o.env;
    if (env === null || typeof env !== 'object' || Array.isArray(env)) throw yamlError(src, ['config', 'env'], 'expected a mapping of NAME: value');
    c.env = Object.entries(env).map(([k, x]) => {
      if (!/^[^=\0]+$/.test(k)) throw yamlError(src, ['config', 'env', k], 'an environment name may hold neither "=" nor NUL');
      const val = scalarString(src, ['config', 'env', k], x);
      if (val.includes('\0')) throw yamlError(src, ['config', 'env', k], 'NUL in a value');
      return [k, val];
    });
  }
  if (o.workdir !== undefined) {
    c.workdir = str(src, ['config', 'workdir'], o.workdir);
    if (!c.workdir.startsWith('/') || c.workdir.includes('\0')) throw yamlError(src, ['config', 'workdir'], `"${c.workdir}" is not an absolute path`);
  }
  if (o.user !== undefined) {
    c.user = scalarString(src, ['config', 'user'], o.user);
    const parts = c.user.split(':');
    if (parts.length > 2 || !parts.every((p) => USER_PART.test(p))) throw yamlError(src, ['config', 'user'], `"${c.user}" is not NAME, UID, NAME:GROUP or UID:GID`);
  }
  return c;
}

/** Load and validate an image spec. Throws MinosError (exit 2) naming file, line and field. */
export function loadImageSpec(file: string): ImageSpec {
  const src = readYamlFile(file);
  const base = dirname(file);
  const o = mapping(src, [], src.data, {
    required: ['name', 'arch', 'repositories', 'packages'],
    optional: ['optional', 'users', 'groups', 'overlay', 'output', 'sets', 'config'],
  });
  const arches = loadArches(src, o.arch);
  const repositories = list(src, ['repositories'], o.repositories).map((r, i) => loadRepo(src, i, r, base));
  if (repositories.length === 0) throw yamlError(src, ['repositories'], 'at least one repository is required', 'MN0105');
  const packages = strList(src, ['packages'], o.packages);
  const sets = o.sets === undefined ? [] : strList(src, ['sets'], o.sets);
  sets.forEach((x, k) => {
    if (!(SETS as readonly string[]).includes(x)) throw yamlError(src, ['sets', k], `unknown package set "${x}" (one of ${SETS.join(', ')})`);
  });
  if (sets.length && !repositories.some((r) => r.debian)) throw yamlError(src, ['sets'], 'package sets need a Debian repository', 'MN0104');
  packages.forEach((s, i) => field(src, ['packages', i], () => parseRequest(s)));
  let output: ImageSpec['output'];
  if (o.output !== undefined && o.output !== null) {
    const out = mapping(src, ['output'], o.output, { optional: ['path', 'format', 'compression'] });
    output = {};
    if (out.path !== undefined) output.path = resolve(base, str(src, ['output', 'path'], out.path));
    if (out.format !== undefined) {
      const f = str(src, ['output', 'format'], out.format);
      if (!(FORMATS as readonly string[]).includes(f)) throw yamlError(src, ['output', 'format'], `unsupported format "${f}" (one of ${FORMATS.join(', ')})`);
      output.format = f as OutputFormat;
    }
    if (out.compression !== undefined) {
      const c = str(src, ['output', 'compression'], out.compression);
      if (!(COMPRESSIONS as readonly string[]).includes(c)) throw yamlError(src, ['output', 'compression'], `unsupported layer compression "${c}" (one of ${COMPRESSIONS.join(', ')})`);
      output.compression = c as LayerCompression;
    }
  }
  return {
    file,
    src,
    name: str(src, ['name'], o.name),
    arch: arches[0],
    arches,
    repositories,
    packages,
    sets: sets as DebianSet[],
    optional: o.optional === undefined ? false : bool(src, ['optional'], o.optional),
    users: loadUsers(src, ['users'], o.users),
    groups: loadGroups(src, ['groups'], o.groups),
    overlay: loadOverlay(src, o.overlay, base),
    output,
    config: loadConfig(src, o.config),
  };
}
