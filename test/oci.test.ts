/**
 * OCI images through the CLI: skopeo and umoci (Debian packages) read them
 * back; the unpacked root equals the directory build of the same spec, the
 * layer equals the tar build, and the bytes do not depend on who builds.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { minos, sh, tempDir } from './lib/cli.js';
import { debianMirror, KEYRING } from './lib/debmirror.js';
import { makeKey, makeRepo, writeSpec, type PkgDef } from './lib/repo.js';

const SDE = { SOURCE_DATE_EPOCH: '1700000000' };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const json = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
const blob = (layout: string, digest: string) => readFileSync(join(layout, 'blobs/sha256', digest.replace(/^sha256:/, '')));
const blobJson = (layout: string, digest: string) => JSON.parse(blob(layout, digest).toString('utf8'));

const base: PkgDef = {
  name: 'base', version: '1.0-1', arch: 'noarch',
  users: [{ name: 'root', uid: 0, group: 'root', home: '/root', shell: '/bin/sh' }],
  groups: [{ name: 'root', gid: 0 }, { name: 'tty', gid: 5 }],
  files: { 'etc/os-release': 'ID=minos\n' },
  overrides: {
    '/dev/null': { type: 'char', major: 1, minor: 3, mode: '0666' },
    '/dev/console': { type: 'char', major: 5, minor: 1, mode: '0620', group: 'tty' },
    '/tmp': { type: 'dir', mode: '1777' },
  },
};
const hello: PkgDef = {
  name: 'hello', version: '2.0-1', depends: ['base'],
  users: [{ name: 'hello', uid: 100, group: 'hello', home: '/var/lib/hello', shell: '/sbin/nologin' }],
  groups: [{ name: 'hello', gid: 100 }],
  files: { 'usr/bin/hello': '#!/bin/sh\necho hello\n', 'usr/bin/passwd': 'pw\n' },
  overrides: {
    '/usr/bin/hello': { mode: '4755' },
    '/usr/bin/passwd': { mode: '2755', group: 'hello' },
    '/usr/bin/hi': { type: 'symlink', target: 'hello' },
    '/var/lib/hello': { type: 'dir', owner: 'hello', group: 'hello', mode: '0750' },
  },
};
const helloArm: PkgDef = { ...hello, arch: 'aarch64', files: { 'usr/bin/hello': '#!/bin/sh\necho hello from arm\n', 'usr/bin/passwd': 'pw\n' } };
const CONFIG = { entrypoint: ['/usr/bin/hello'], cmd: ['--loud'], env: { PATH: '/usr/bin:/bin', PORT: 8080 }, workdir: '/var/lib/hello', user: 'hello:hello' };

function setup(t: Tap.Test, extra: Record<string, unknown> = {}, pkgs: PkgDef[] = []) {
  const dir = tempDir(t, 'minos-oci-');
  chmodSync(dir, 0o755);
  const key = makeKey(join(dir, 'keys'));
  makeRepo(join(dir, 'repo'), key, [base, hello, helloArm, ...pkgs]);
  const spec = writeSpec(join(dir, 'image.yaml'), {
    name: 'app', arch: 'x86_64', repositories: [{ path: 'repo', keys: ['keys/test.pub'] }], packages: ['hello'],
    users: [{ name: 'admin', uid: 1000, group: 'admin', home: '/home/admin', shell: '/bin/sh' }], groups: [{ name: 'admin', gid: 1000 }],
    config: CONFIG, ...extra,
  });
  const out = join(dir, 'out');
  mkdirSync(out, { mode: 0o777 });
  chmodSync(out, 0o777);
  sh(`chmod -R a+rX '${dir}'`);
  return { dir, spec, out };
}

function build(args: string[], opts: { user?: string; env?: Record<string, string> } = {}) {
  const r = minos(['build', ...args], { ...opts, env: { ...SDE, ...opts.env } });
  if (r.code !== 0) throw new Error(`minos build ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r;
}

/**
 * A root as comparable lines: path, type, permission bits, size, sha256 and
 * link target. A device node becomes "dev": umoci --rootless unpacks one as
 * an empty file, which is read as "dev" too.
 */
function tree(root: string, devices: Set<string>): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = lstatSync(p);
      if (st.isCharacterDevice() || st.isBlockDevice() || devices.has(r)) out.push(`${r} dev`);
      else if (st.isDirectory()) out.push(`${r} dir ${(st.mode & 0o7777).toString(8)}`);
      else if (st.isSymbolicLink()) out.push(`${r} link -> ${readlinkSync(p)}`);
      else if (st.isFIFO()) out.push(`${r} fifo ${(st.mode & 0o7777).toString(8)}`);
      else out.push(`${r} file ${(st.mode & 0o7777).toString(8)} ${st.size} ${sha(readFileSync(p))}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** Owners as the layer records them: path → "uid/gid" (the tar's numeric owners). */
function layerOwners(layer: Buffer): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of sh('tar --numeric-owner -tvf -', { input: layer }).split('\n')) {
    const f = line.split(/\s+/);
    if (f.length >= 6) m.set(f.slice(5).join(' ').replace(/ (->|link to) .*$/, '').replace(/\/$/, ''), f[1]);
  }
  return m;
}

/** Owners in a directory build as root: path → "uid/gid". */
function dirOwners(root: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of sh(`cd '${root}' && find . -mindepth 1 -printf '%P %U/%G\\n'`).split('\n')) {
    const at = line.lastIndexOf(' ');
    if (at > 0) m.set(line.slice(0, at), line.slice(at + 1));
  }
  return m;
}

/** The one image manifest of a single-architecture layout, with its config and uncompressed layer. */
function image(layout: string) {
  const index = json(join(layout, 'index.json'));
  const desc = index.manifests[0];
  const manifest = blobJson(layout, desc.digest);
  const config = blobJson(layout, manifest.config.digest);
  return { index, desc, manifest, config, layer: blob(layout, manifest.layers[0].digest) };
}

function umociUnpack(t: Tap.Test, layout: string, bundle: string): string {
  sh(`umoci unpack --rootless --image '${layout}:latest' '${bundle}' 2>/dev/null`);
  t.ok(existsSync(join(bundle, 'rootfs')), 'umoci unpacked the image');
  return join(bundle, 'rootfs');
}

t.test('a minos image as .oci and .oci.tar: skopeo reads the config, umoci unpacks the directory build, the layer is the tar build', async (t) => {
  const { spec, out } = setup(t);
  const oci = join(out, 'app.oci');
  const archive = join(out, 'app.oci.tar');
  const r = build([spec, '-o', oci, '--json']);
  t.match(JSON.parse(r.stdout), { format: 'oci', arch: 'x86_64', arches: ['x86_64'] });
  build([spec, '-o', archive]);
  build([spec, '-o', join(out, 'app.tar')]);
  build([spec, '-o', join(out, 'app')]);

  t.equal(readFileSync(join(oci, 'oci-layout'), 'utf8'), '{"imageLayoutVersion":"1.0.0"}');
  const img = image(oci);
  t.match(img.desc, { mediaType: 'application/vnd.oci.image.manifest.v1+json', platform: { architecture: 'amd64', os: 'linux' }, annotations: { 'org.opencontainers.image.ref.name': 'latest' } });
  t.equal(img.manifest.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  const tarBytes = gunzipSync(img.layer);
  t.equal(sha(tarBytes), sha(readFileSync(join(out, 'app.tar'))), 'the layer is the tar build, byte for byte');
  t.equal(img.config.rootfs.diff_ids[0], `sha256:${sha(tarBytes)}`, 'diff_id: sha256 of the uncompressed layer');
  t.equal(img.config.created, '2023-11-14T22:13:20Z', 'created: SOURCE_DATE_EPOCH');
  t.equal(img.layer.readUInt32LE(4), 0, 'gzip header without a time');

  const inspect = JSON.parse(sh(`skopeo inspect 'oci:${oci}'`));
  t.match(inspect, { Architecture: 'amd64', Os: 'linux', Created: '2023-11-14T22:13:20Z', Env: ['PATH=/usr/bin:/bin', 'PORT=8080'] });
  const config = JSON.parse(sh(`skopeo inspect --config 'oci:${oci}:latest'`));
  t.same(config.config, { Entrypoint: ['/usr/bin/hello'], Cmd: ['--loud'], Env: ['PATH=/usr/bin:/bin', 'PORT=8080'], WorkingDir: '/var/lib/hello', User: 'hello:hello' });
  t.same(JSON.parse(sh(`skopeo inspect 'oci-archive:${archive}'`)), inspect, 'the oci-archive is the same image');
  writeFileSync(join(out, 'policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}');
  sh(`skopeo --policy '${join(out, 'policy.json')}' copy -q 'oci-archive:${archive}' 'oci:${join(out, 'copied')}:v1'`);
  t.equal(json(join(out, 'copied/index.json')).manifests[0].digest, img.desc.digest, 'skopeo copies the oci-archive to the same manifest');
  const x = join(out, 'x');
  sh(`mkdir '${x}' && tar -xf '${archive}' -C '${x}'`);
  t.same(tree(x, new Set()), tree(oci, new Set()), 'the oci-archive holds the layout folder');
  t.match(sh(`tar -tvf '${archive}'`), /^drwxr-xr-x root\/root\s+0 2023-11-14 22:13 blobs\/\n/);

  const rootfs = umociUnpack(t, oci, join(out, 'bundle'));
  const devices = new Set(['dev/null', 'dev/console']);
  t.same(tree(rootfs, devices), tree(join(out, 'app'), devices), 'umoci\'s root equals the directory build: paths, modes, sizes, hashes, links');
  t.ok(tree(rootfs, devices).some((l) => l.startsWith('usr/bin/hello file 4755 21 ')), 'setuid kept');
  const runtime = json(join(out, 'bundle/config.json'));
  t.same(runtime.process.args, ['/usr/bin/hello', '--loud']);
  t.same(runtime.process.user, { uid: 100, gid: 100 }, 'umoci resolves hello:hello in the image\'s /etc/passwd');
  t.equal(runtime.process.cwd, '/var/lib/hello');
  const owners = layerOwners(tarBytes);
  t.same(owners, dirOwners(join(out, 'app')), 'owners in the layer are those of the root directory build');
  t.equal(owners.get('var/lib/hello'), '100/100');
});

t.test('reproducible: two builds, and root against nobody, give identical bytes', async (t) => {
  const { spec, out } = setup(t);
  build([spec, '-o', join(out, 'a.oci.tar')]);
  build([spec, '-o', join(out, 'b.oci.tar')], { user: 'nobody' });
  build([spec, '-o', join(out, 'c.oci.tar')], { env: { MINOS_UNPACK_WORKERS: '2' } });
  const a = sha(readFileSync(join(out, 'a.oci.tar')));
  t.equal(sha(readFileSync(join(out, 'b.oci.tar'))), a, 'root and nobody');
  t.equal(sha(readFileSync(join(out, 'c.oci.tar'))), a, 'with worker threads');
  build([spec, '-o', join(out, 'a.oci')]);
  build([spec, '-o', join(out, 'b.oci')], { user: 'nobody' });
  t.same(tree(join(out, 'b.oci'), new Set()), tree(join(out, 'a.oci'), new Set()), 'layout folders: the same files');
  t.equal(readFileSync(join(out, 'a.oci.lock.json'), 'utf8'), readFileSync(join(out, 'a.oci.tar.lock.json'), 'utf8').replace(/a\.oci\.tar/g, 'a.oci'));
  // A second build replaces the layout folder.
  build([spec, '-o', join(out, 'a.oci')]);
  t.same(tree(join(out, 'a.oci'), new Set()), tree(join(out, 'b.oci'), new Set()));
  t.same(readdirSync(out).filter((f) => f.includes('.minos-')), [], 'no temporary files left');
});

t.test('zstd layers on request: the same uncompressed layer and config', async (t) => {
  const { spec, out } = setup(t, { output: { compression: 'zstd' } });
  build([spec, '-o', join(out, 'z.oci')]);
  build([spec, '-o', join(out, 'g.oci'), '--compression', 'gzip']);
  build([spec, '-o', join(out, 'z.tar.zst')]);
  const z = image(join(out, 'z.oci'));
  const g = image(join(out, 'g.oci'));
  t.equal(z.manifest.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  t.equal(sha(z.layer), sha(readFileSync(join(out, 'z.tar.zst'))), 'the zstd layer is the tar.zst build, byte for byte');
  const unz = sh(`zstd -dc '${join(out, 'z.oci/blobs/sha256', z.manifest.layers[0].digest.slice(7))}' | sha256sum`).split(' ')[0];
  t.equal(`sha256:${unz}`, g.config.rootfs.diff_ids[0], 'zstd -dc of the layer is the gzip layer\'s tar');
  t.equal(z.manifest.config.digest, g.manifest.config.digest, 'one config: the same diff_id');
  writeFileSync(join(out, 'policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}');
  sh(`skopeo --policy '${join(out, 'policy.json')}' copy -q 'oci:${join(out, 'z.oci')}' 'dir:${join(out, 'copy')}'`);
  t.ok(existsSync(join(out, 'copy', z.manifest.layers[0].digest.slice(7))), 'skopeo copies the zstd image');
});

t.test('several architectures: one index, a manifest per architecture, one lockfile and SBOM', async (t) => {
  const { spec, out } = setup(t, { arch: ['x86_64', 'aarch64'] });
  const oci = join(out, 'multi.oci');
  // A lockfile of x86_64 alone, from an earlier build: the aarch64 image resolves afresh.
  build([spec, '-o', oci, '--arch', 'x86_64']);
  const frozenArm = minos(['build', spec, '-o', join(out, 'arm.oci'), '--arch', 'aarch64', '--lock', `${oci}.lock.json`, '--frozen'], { env: SDE });
  t.equal(frozenArm.code, 4, frozenArm.stderr);
  t.match(frozenArm.stderr, /multi\.oci\.lock\.json: locks x86_64, not aarch64 \[MN0214\]/);
  const r = build([spec, '-o', oci, '--json']);
  t.same(JSON.parse(r.stdout).arches, ['x86_64', 'aarch64']);
  const index = json(join(oci, 'index.json'));
  t.equal(index.manifests.length, 1);
  t.equal(index.manifests[0].mediaType, 'application/vnd.oci.image.index.v1+json');
  const inner = blobJson(oci, index.manifests[0].digest);
  t.same(inner.manifests.map((m: { platform: object }) => m.platform), [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux' }]);
  for (const [arch, goarch] of [['x86_64', 'amd64'], ['aarch64', 'arm64']]) {
    const m = inner.manifests.find((d: { platform: { architecture: string } }) => d.platform.architecture === goarch);
    const manifest = blobJson(oci, m.digest);
    build([spec, '-o', join(out, `${arch}.tar`), '--arch', arch]);
    t.equal(sha(gunzipSync(blob(oci, manifest.layers[0].digest))), sha(readFileSync(join(out, `${arch}.tar`))), `${arch}: the layer is that architecture's tar build`);
    t.match(JSON.parse(sh(`skopeo inspect --override-arch ${goarch} 'oci:${oci}:latest'`)), { Architecture: goarch });
  }
  const lock = json(`${oci}.lock.json`);
  t.same(lock.arch, ['x86_64', 'aarch64']);
  t.same(lock.packages.map((p: { name: string; arch: string; images: string[] }) => `${p.name} ${p.arch} ${p.images.join(',')}`), [
    'base noarch x86_64,aarch64', 'hello aarch64 aarch64', 'hello x86_64 x86_64',
  ]);
  const sbom = json(`${oci}.spdx.json`);
  t.same(sbom.packages.map((p: { name: string; externalRefs: { referenceLocator: string }[] }) => p.externalRefs[0].referenceLocator).sort(), [
    'pkg:generic/base@1.0-1?arch=noarch', 'pkg:generic/hello@2.0-1?arch=aarch64', 'pkg:generic/hello@2.0-1?arch=x86_64',
  ]);
  t.equal(sbom.relationships.filter((x: { relationshipType: string }) => x.relationshipType === 'DEPENDS_ON').length, 2, 'each hello depends on base');
  // --frozen builds each architecture from its own part of the lockfile.
  const first = sha(readFileSync(join(oci, 'index.json')));
  build([spec, '-o', oci, '--frozen']);
  t.equal(sha(readFileSync(join(oci, 'index.json'))), first, 'a --frozen rebuild gives the same index');
  t.equal(readFileSync(`${oci}.lock.json`, 'utf8'), `${JSON.stringify(lock, null, 2)}\n`, 'and the same lockfile');
  build([spec, '-o', join(out, 'arm.oci'), '--arch', 'aarch64', '--lock', `${oci}.lock.json`, '--frozen']);
  t.equal(image(join(out, 'arm.oci')).config.architecture, 'arm64', '--arch picks one architecture of the list');
});

t.test('Debian busybox-static as OCI: skopeo, umoci, the directory build, both architectures', async (t) => {
  const mirror = debianMirror(['busybox-static']);
  const dir = tempDir(t, 'minos-oci-deb-');
  chmodSync(dir, 0o777);
  const spec = writeSpec(join(dir, 'bb.yaml'), {
    name: 'bb', arch: 'x86_64', repositories: [{ debian: mirror, suite: 'bookworm', keys: [KEYRING] }], packages: ['busybox-static'],
    config: { entrypoint: ['/bin/busybox'], cmd: ['sh'], user: '65534:65534' },
  });
  build([spec, '-o', join(dir, 'bb.oci')]);
  build([spec, '-o', join(dir, 'bb.oci.tar')]);
  build([spec, '-o', join(dir, 'bb')]);
  t.match(JSON.parse(sh(`skopeo inspect 'oci-archive:${join(dir, 'bb.oci.tar')}'`)), { Architecture: 'amd64' });
  t.match(JSON.parse(sh(`skopeo inspect --config 'oci:${join(dir, 'bb.oci')}'`)).config, { Entrypoint: ['/bin/busybox'], Cmd: ['sh'], User: '65534:65534' });
  const rootfs = umociUnpack(t, join(dir, 'bb.oci'), join(dir, 'bundle'));
  const devices = new Set(readdirSync(join(dir, 'bb/dev')).filter((n) => lstatSync(join(dir, 'bb/dev', n)).isCharacterDevice()).map((n) => `dev/${n}`));
  t.ok(devices.size > 0, 'the directory build has device nodes');
  t.same(tree(rootfs, devices), tree(join(dir, 'bb'), devices), 'umoci\'s root equals the directory build');
  t.same(layerOwners(gunzipSync(image(join(dir, 'bb.oci')).layer)), dirOwners(join(dir, 'bb')), 'owners');
  t.equal(sh(`'${join(rootfs, 'bin/busybox')}' echo from the OCI image`), 'from the OCI image\n');

  writeSpec(spec, { name: 'bb', arch: ['x86_64', 'aarch64'], repositories: [{ debian: mirror, suite: 'bookworm', keys: [KEYRING] }], packages: ['busybox-static'] });
  build([spec, '-o', join(dir, 'multi.oci.tar')]);
  build([spec, '-o', join(dir, 'multi2.oci.tar')], { user: 'nobody' });
  t.equal(sha(readFileSync(join(dir, 'multi2.oci.tar'))), sha(readFileSync(join(dir, 'multi.oci.tar'))), 'root and nobody: identical');
  for (const goarch of ['amd64', 'arm64']) {
    t.match(JSON.parse(sh(`skopeo inspect --override-arch ${goarch} 'oci-archive:${join(dir, 'multi.oci.tar')}'`)), { Architecture: goarch });
  }
  const lock = json(join(dir, 'multi.oci.tar.lock.json'));
  t.same(lock.packages.map((p: { arch: string; images: string[] }) => `${p.arch} ${p.images}`), ['aarch64 aarch64', 'x86_64 x86_64']);
});

t.test('bad input: exit 2, one line naming file, line and field, nothing written', async (t) => {
  const { dir, out } = setup(t, {}, [{ name: 'whiteout', files: { 'etc/.wh.motd': 'hidden\n' } }]);
  const specBase = { name: 'app', arch: 'x86_64', repositories: [{ path: 'repo', keys: ['keys/test.pub'] }], packages: ['hello'] };
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ config: { entrypoint: '/usr/bin/hello' } }, 'a.oci', /bad\.yaml:\d+: field "config\.entrypoint": expected a list, got string/],
    [{ config: { cmd: [1] } }, 'a.oci', /bad\.yaml:\d+: field "config\.cmd\[0\]": expected a string, got number 1/],
    [{ config: { env: ['A=B'] } }, 'a.oci', /bad\.yaml:\d+: field "config\.env": expected a mapping/],
    [{ config: { env: { A: true } } }, 'a.oci', /bad\.yaml:\d+: field "config\.env\.A": expected a string, got boolean true/],
    [{ config: { workdir: 'var' } }, 'a.oci', /bad\.yaml:\d+: field "config\.workdir": "var" is not an absolute path/],
    [{ config: { user: 'a:b:c' } }, 'a.oci', /bad\.yaml:\d+: field "config\.user": "a:b:c" is not NAME/],
    [{ config: { ports: [80] } }, 'a.oci', /bad\.yaml:\d+: field "config\.ports": unknown field/],
    [{ config: { user: 'ghost' } }, 'a.oci', /bad\.yaml:\d+: field "config\.user": user "ghost" is not an account of the image/],
    [{ config: { user: 'hello:ghosts' } }, 'a.oci.tar', /bad\.yaml:\d+: field "config\.user": group "ghosts" is not a group of the image/],
    [{ arch: ['x86_64', 'aarch64'] }, 'a.tar', /bad\.yaml:\d+: field "arch": several architectures make one OCI image index/],
    [{ arch: ['x86_64', 'aarch64'] }, 'a', /bad\.yaml:\d+: field "arch": several architectures/],
    [{ arch: ['x86_64', 'x86_64'] }, 'a.oci', /bad\.yaml:\d+: field "arch\[1\]": "x86_64" is listed twice/],
    [{ arch: ['x86_64', 'sparc'] }, 'a.oci', /bad\.yaml:\d+: field "arch\[1\]": unknown target architecture "sparc"/],
    [{ output: { format: 'docker' } }, 'a', /bad\.yaml:\d+: field "output\.format": unsupported format "docker"/],
    [{ output: { compression: 'xz' } }, 'a.oci', /bad\.yaml:\d+: field "output\.compression": unsupported layer compression "xz"/],
    [{ packages: ['whiteout'] }, 'a.oci', /\/etc\/\.wh\.motd \(package whiteout\): an OCI layer cannot hold a name starting with "\.wh\." .*\[MN0118\]/],
  ];
  for (const [extra, name, want] of cases) {
    const spec = writeSpec(join(dir, 'bad.yaml'), { ...specBase, ...extra });
    const r = minos(['build', spec, '-o', join(out, name)], { env: SDE });
    t.equal(r.code, 2, `${want}: ${r.stderr}`);
    t.match(r.stderr, want);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.same(readdirSync(out), [], 'nothing written');
  }
  const spec = writeSpec(join(dir, 'good.yaml'), specBase);
  for (const [args, want] of [
    [['--format', 'docker'], /--format docker: expected one of dir, tar, tar\.zst, tar\.gz, tar\.xz, cpio, squashfs, erofs, oci, oci\.tar/],
    [['-o', join(out, 'a.oci.gz')], /a\.oci\.gz: unknown output extension "\.oci\.gz"/],
    [['-o', join(out, 'a.tar'), '--compression', 'zstd'], /--compression applies to squashfs, oci and oci\.tar output, not tar/],
    [['-o', join(out, 'a.oci'), '--compression', 'lz4'], /--compression lz4: expected one of zstd, gzip/],
  ] as [string[], RegExp][]) {
    const r = minos(['build', spec, ...(args[0] === '--format' ? ['-o', join(out, 'a'), ...args] : args)], { env: SDE });
    t.equal(r.code, 2, `${want}: ${r.stderr}`);
    t.match(r.stderr, want);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    t.same(readdirSync(out), [], 'nothing written');
  }
});
