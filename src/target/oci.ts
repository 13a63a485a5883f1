/**
 * OCI image layouts (image-spec 1.0): `oci-layout`, `index.json` and
 * `blobs/sha256/`, as a folder or as one tar of that folder (an oci-archive).
 *
 * Each architecture's image is one layer, the pax tar writeTar makes of the
 * stage (so the same bytes as a `tar` build), compressed with gzip (Node's
 * zlib, header mtime 0) or zstd (our encoder); its config carries the
 * architecture, the spec's `config:` block, `created` = the build's mtime and
 * the layer's diff_id. Every JSON document is canonical (sorted keys, no
 * whitespace), so the same stages give the same bytes whoever builds them.
 *
 * `index.json` holds one descriptor, named `latest`
 * (org.opencontainers.image.ref.name): the image manifest for one
 * architecture, or for several an image index listing one manifest per
 * architecture with its platform, as `skopeo copy --all` lays it out.
 */
import { createHash, type Hash } from 'node:crypto';
import { chmodSync, closeSync, createReadStream, createWriteStream, fsyncSync, lutimesSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { canonicalBytes } from '../canonical.js';
import { ioError, MinosError } from '../errors.js';
import { writeAll } from '../fsutil.js';
import type { Arch } from '../depend.js';
import type { ImageConfig, ImageSpec, LayerCompression } from '../spec/image.js';
import { yamlError } from '../spec/yaml.js';
import { encodeHeader, padLength, TAR_END } from '../unpack/tarwrite.js';
import type { Stage } from '../engine/stage.js';
import { createZstdEncoder } from '../unpack/zstd.js';
import type { Accounts } from './accounts.js';
import { writeTar, type OutputOptions, type Resolved } from './output.js';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

/** The name `index.json` gives the image (what `oci:DIR:latest` and `umoci --image DIR:latest` select). */
export const REF_NAME = 'latest';

/** minos architecture → OCI platform (Go's GOARCH names). */
export const PLATFORM: Record<Exclude<Arch, 'noarch'>, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armv7: { architecture: 'arm', variant: 'v7' },
  riscv64: { architecture: 'riscv64' },
};

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

/** An OCI layout being written into a temporary folder: images are added one architecture at a time. */
export interface OciLayout {
  dir: string;
  compression: LayerCompression;
  /** zstd level (1-19) or gzip level (1-9) of the layer. */
  level: number;
  spec: ImageSpec;
  /** Tool name and version for the config's history. */
  tool: string;
  manifests: Descriptor[];
  /** The newest image mtime: the layout's own files get it. */
  mtime: number;
}

const blobDir = (l: OciLayout) => join(l.dir, 'blobs', 'sha256');

export function createLayout(dir: string, opts: { compression: LayerCompression; level: number; spec: ImageSpec; tool: string }): OciLayout {
  try {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true, mode: 0o755 });
  } catch (e) {
    throw ioError(e, dir);
  }
  return { dir, ...opts, manifests: [], mtime: 0 };
}

function syncFile(file: string): void {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Store `data` as a blob; its descriptor. */
function putBlob(l: OciLayout, mediaType: string, data: Buffer): Descriptor {
  const hex = createHash('sha256').update(data).digest('hex');
  const file = join(blobDir(l), hex);
  try {
    writeFileSync(file, data, { mode: 0o644 });
    syncFile(file);
  } catch (e) {
    throw ioError(e, file);
  }
  return { mediaType, digest: `sha256:${hex}`, size: data.length };
}

/** A pass-through stream that hashes and counts what flows by. */
function tap(hash: Hash, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

/** zstd-compress `tarFile` into `tmp` with our synchronous encoder, hashing both sides. */
function zstdInto(tarFile: string, tmp: string, level: number, diff: Hash, comp: Hash, size: { n: number }): void {
  const enc = createZstdEncoder({ level });
  const inFd = openSync(tarFile, 'r');
  const outFd = openSync(tmp, 'w', 0o644);
  const out = (b: Uint8Array) => {
    comp.update(b);
    size.n += b.length;
    writeAll(outFd, b);
  };
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let got; (got = readSync(inFd, buf, 0, buf.length, null)) > 0;) {
      diff.update(buf.subarray(0, got));
      enc.push(buf.subarray(0, got), out);
    }
    enc.end(out);
  } finally {
    enc.free();
    closeSync(inFd);
    closeSync(outFd);
  }
}

/** Compress the uncompressed layer `tarFile` into a blob: its descriptor and diff_id. */
async function putLayer(l: OciLayout, tarFile: string): Promise<{ desc: Descriptor; diffId: string }> {
  const diff = createHash('sha256');
  const comp = createHash('sha256');
  const size = { n: 0 };
  const tmp = join(blobDir(l), '.layer');
  try {
    if (l.compression === 'zstd') zstdInto(tarFile, tmp, l.level, diff, comp, size);
    else await pipeline(createReadStream(tarFile, { highWaterMark: 1 << 20 }), tap(diff, { n: 0 }), createGzip({ level: l.level }), tap(comp, size), createWriteStream(tmp, { mode: 0o644 }));
    syncFile(tmp);
    const hex = comp.digest('hex');
    renameSync(tmp, join(blobDir(l), hex));
    return { desc: { mediaType: MEDIA[l.compression], digest: `sha256:${hex}`, size: size.n }, diffId: `sha256:${diff.digest('hex')}` };
  } catch (e) {
    throw e instanceof MinosError ? e : ioError(e, tmp);
  }
}

function isoTime(t: number): string {
  return new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The config block as OCI writes it. A user or group given by name must be
 * an account of the image: else an error naming the spec's `config.user`.
 */
function runConfig(spec: ImageSpec, c: ImageConfig | undefined, accounts: Accounts): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!c) return out;
  if (c.entrypoint) out.Entrypoint = c.entrypoint;
  if (c.cmd) out.Cmd = c.cmd;
  if (c.env) out.Env = c.env.map(([k, v]) => `${k}=${v}`);
  if (c.workdir) out.WorkingDir = c.workdir;
  if (c.user !== undefined) {
    const [user, group] = c.user.split(':');
    const named = (s: string | undefined) => s !== undefined && !/^[0-9]+$/.test(s);
    if (named(user) && !accounts.users.has(user)) {
      throw yamlError(spec.src, ['config', 'user'], `user "${user}" is not an account of the image (declare it under users:, or give a number)`);
    }
    if (named(group) && !accounts.groups.has(group!)) {
      throw yamlError(spec.src, ['config', 'user'], `group "${group}" is not a group of the image (declare it under groups:, or give a number)`);
    }
    out.User = c.user;
  }
  return out;
}

/** Refuse a path OCI tools would read as a whiteout (`.wh.NAME`): the layer could not hold it. */
function checkPaths(nodes: readonly Resolved[]): void {
  for (const { node } of nodes) {
    if (/(^|\/)\.wh\./.test(node.path)) {
      throw new MinosError('MN0118', `/${node.path}${node.pkg ? ` (package ${node.pkg})` : ''}: an OCI layer cannot hold a name starting with ".wh." (it means a deletion)`, { data: { path: node.path } });
    }
  }
}

/**
 * Add the image of one architecture: its layer (the stage's tar, written
 * uncompressed to `scratch` first), config and manifest.
 */
export async function addOciImage(l: OciLayout, stage: Stage, nodes: readonly Resolved[], opts: OutputOptions & { arch: Arch; scratch: string }): Promise<void> {
  checkPaths(nodes);
  const config = runConfig(l.spec, l.spec.config, opts.accounts);
  writeTar(stage, nodes, opts.scratch, opts);
  let layer: Awaited<ReturnType<typeof putLayer>>;
  try {
    layer = await putLayer(l, opts.scratch);
  } finally {
    rmSync(opts.scratch, { force: true });
  }
  const platform = { ...PLATFORM[opts.arch as Exclude<Arch, 'noarch'>], os: 'linux' };
  const created = isoTime(opts.mtime);
  const cfg = putBlob(l, MEDIA.config, canonicalBytes({
    ...platform,
    created,
    config,
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [{ created, created_by: `${l.tool} build`, comment: l.spec.name }],
  }));
  const manifest = putBlob(l, MEDIA.manifest, canonicalBytes({ schemaVersion: 2, mediaType: MEDIA.manifest, config: cfg, layers: [layer.desc] }));
  l.manifests.push({ ...manifest, platform });
  l.mtime = Math.max(l.mtime, opts.mtime);
}

/** Write `index.json` and `oci-layout`, and give every file and folder of the layout fixed modes and times. */
export function finishLayout(l: OciLayout): void {
  const ref = { 'org.opencontainers.image.ref.name': REF_NAME };
  let top: Descriptor;
  if (l.manifests.length === 1) {
    top = { ...l.manifests[0], annotations: ref };
  } else {
    top = { ...putBlob(l, MEDIA.index, canonicalBytes({ schemaVersion: 2, mediaType: MEDIA.index, manifests: l.manifests })), annotations: ref };
  }
  const write = (name: string, data: Buffer) => {
    const file = join(l.dir, name);
    try {
      writeFileSync(file, data, { mode: 0o644 });
      syncFile(file);
    } catch (e) {
      throw ioError(e, file);
    }
  };
  write('oci-layout', canonicalBytes({ imageLayoutVersion: '1.0.0' }));
  write('index.json', canonicalBytes({ schemaVersion: 2, mediaType: MEDIA.index, manifests: [top] }));
  for (const e of layoutEntries(l.dir)) {
    chmodSync(join(l.dir, e.rel), e.dir ? 0o755 : 0o644);
    lutimesSync(join(l.dir, e.rel), l.mtime, l.mtime);
  }
  chmodSync(l.dir, 0o755);
  lutimesSync(l.dir, l.mtime, l.mtime);
}

/** The layout's folders and files in path order (parents first). */
function layoutEntries(dir: string): { rel: string; dir: boolean; size: number }[] {
  const out: { rel: string; dir: boolean; size: number }[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(join(dir, r));
      out.push({ rel: r, dir: st.isDirectory(), size: st.size });
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** The finished layout as one pax tar at `file` (an oci-archive): root-owned entries, fixed modes, the layout's mtime. */
export function writeLayoutTar(l: OciLayout, file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'w', 0o644);
  } catch (e) {
    throw ioError(e, file);
  }
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (const e of layoutEntries(l.dir)) {
      writeAll(fd, encodeHeader({
        name: e.rel, type: e.dir ? 'dir' : 'file', mode: e.dir ? 0o755 : 0o644, uid: 0, gid: 0, uname: 'root', gname: 'root',
        size: e.dir ? 0 : e.size, mtime: l.mtime, linkname: '', devmajor: 0, devminor: 0,
      }));
      if (e.dir) continue;
      const src = openSync(join(l.dir, e.rel), 'r');
      try {
        let total = 0;
        for (let got; (got = readSync(src, buf, 0, buf.length, null)) > 0; total += got) writeAll(fd, buf.subarray(0, got));
        if (total !== e.size) throw new MinosError('MN0003', `${join(l.dir, e.rel)}: changed while being archived`);
      } finally {
        closeSync(src);
      }
      writeAll(fd, Buffer.alloc(padLength(e.size)));
    }
    writeAll(fd, TAR_END);
    fsyncSync(fd);
  } catch (e) {
    throw e instanceof MinosError ? e : ioError(e, file);
  } finally {
    closeSync(fd);
  }
}
