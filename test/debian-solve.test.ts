/**
 * Debian's dependency language against apt as the oracle: for the essential
 * set minos chooses exactly what `apt-get -s` chooses from an empty status,
 * and for large requests apt, given minos's exact choices (NAME=VERSION for
 * every package), installs exactly those and nothing else: the answer is
 * complete and consistent by apt's own rules (Depends, Pre-Depends,
 * versioned Provides, Conflicts, Breaks, Multi-Arch qualifiers).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { minos, tempDir } from './lib/cli.js';
import { debianMirror, KEYRING } from './lib/debmirror.js';
import { writeSpec } from './lib/repo.js';

const mirror = debianMirror(['busybox-static']);
const DEB_ARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64' };

interface Chosen { name: string; version: string }

function plan(t: Parameters<typeof tempDir>[0], arch: string, packages: string[], sets: string[]): Chosen[] {
  const dir = tempDir(t, 'minos-debsolve-');
  const spec = writeSpec(join(dir, 'image.yaml'), {
    name: 'solve', arch, repositories: [{ debian: mirror, suite: 'bookworm', keys: [KEYRING] }], packages, sets,
  });
  const r = minos(['plan', spec, '--json']);
  if (r.code !== 0) throw new Error(`minos plan: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { install: Chosen[] }).install;
}

/**
 * apt with a private state reading only the mirror (file: URI, its own
 * signature check by the same keyring): the lists minos reads, no others.
 */
const aptDir = mkdtempSync(join(tmpdir(), 'minos-apt-'));
t.teardown(() => rmSync(aptDir, { recursive: true, force: true }));
for (const d of ['lists/partial', 'cache/archives/partial', 'parts']) mkdirSync(join(aptDir, d), { recursive: true });
writeFileSync(join(aptDir, 'status'), '');
writeFileSync(join(aptDir, 'sources.list'), `deb [arch=amd64,arm64 signed-by=${KEYRING}] file:${mirror} bookworm main\n`);
function apt(arch: string, args: string[]): string {
  const r = spawnSync('apt-get', [
    '-o', `Dir::State::Lists=${aptDir}/lists`, '-o', `Dir::State::status=${aptDir}/status`, '-o', `Dir::Cache=${aptDir}/cache`,
    '-o', `Dir::Etc::SourceList=${aptDir}/sources.list`, '-o', `Dir::Etc::SourceParts=${aptDir}/parts`,
    '-o', `APT::Architecture=${DEB_ARCH[arch]}`, '-o', 'APT::Architectures::=amd64', '-o', 'APT::Architectures::=arm64',
    '-o', 'Debug::NoLocking=1', '-o', 'APT::Sandbox::User=root', '-o', 'APT::Install-Recommends=false', ...args,
  ], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`apt-get ${args[0]}: ${r.stderr || r.stdout}`);
  return r.stdout;
}
// The mirror holds the plain Packages only (their sha256 is in InRelease).
apt('x86_64', [...['xz', 'gz', 'lz4', 'bz2', 'lzma', 'zst'].flatMap((c) => ['-o', `Acquire::CompressionTypes::${c}=false`]), 'update']);

/** What `apt-get -s install ARGS` would unpack from an empty status: name -> version. */
function aptInstalls(arch: string, args: string[]): Map<string, string> {
  const r = { stdout: apt(arch, ['-s', 'install', ...args]) };
  const out = new Map<string, string>();
  for (const m of r.stdout.matchAll(/^Inst (\S+) \((\S+) /gm)) out.set(m[1].replace(/:\S+$/, ''), m[2]);
  return out;
}

function essentialNames(arch: string): string[] {
  const text = readFileSync(join(mirror, `dists/bookworm/main/binary-${DEB_ARCH[arch]}/Packages`), 'utf8');
  const names = new Set<string>();
  for (const stanza of text.split('\n\n')) if (/^Essential: yes$/m.test(stanza)) names.add(/^Package: (\S+)$/m.exec(stanza)![1]);
  return [...names];
}

const asMap = (c: Chosen[]) => new Map(c.map((p) => [p.name, p.version]));

for (const arch of ['x86_64', 'aarch64']) {
  t.test(`${arch}: the essential set is what apt chooses, name for name and version for version`, async (t) => {
    const ours = asMap(plan(t, arch, [], ['essential']));
    const apts = aptInstalls(arch, essentialNames(arch));
    t.ok(apts.size > 50, `apt installs ${apts.size} packages`);
    t.same(Object.fromEntries([...ours].sort()), Object.fromEntries([...apts].sort()));
    // awk is virtual (mawk, gawk, original-awk provide it): apt takes the
    // provider of highest Priority, mawk (required), not the first by name.
    t.equal(ours.get('mawk'), apts.get('mawk'));
    t.notOk(ours.has('gawk'));
  });
}

t.test('large requests: apt, given exactly minos\'s choices, installs those and nothing else', async (t) => {
  const requests = ['task-xfce-desktop', 'build-essential', 'python3-full', 'libreoffice-writer', 'gimp'];
  for (const arch of ['x86_64', 'aarch64']) {
    const ours = plan(t, arch, requests, ['essential']);
    t.ok(ours.length > 500, `${arch}: minos chose ${ours.length} packages`);
    const apts = aptInstalls(arch, ours.map((p) => `${p.name}=${p.version}`));
    t.same(Object.fromEntries([...apts].sort()), Object.fromEntries([...asMap(ours)].sort()), `${arch}: apt's answer is minos's`);
  }
});
