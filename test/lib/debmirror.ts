/**
 * A small local Debian mirror for tests, made from apt's own signed lists and
 * `apt-get download`: dists/bookworm/InRelease exactly as Debian signed it,
 * main/binary-amd64/Packages (the bytes InRelease lists) and pool/ files of
 * the requested packages. Kept under .cache/ and reused across runs; the only
 * network use is apt fetching Debian's files.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from './cli.js';

const LISTS = '/var/lib/apt/lists';
export const CACHE = join(ROOT, '.cache/debian-test');
export const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
  return r.stdout;
}

function listFile(suffix: string): string | undefined {
  const n = existsSync(LISTS) ? readdirSync(LISTS).find((f) => f.endsWith(suffix)) : undefined;
  return n && join(LISTS, n);
}

/** The package stanza fields of `name` in a Packages text. */
export function stanzaOf(packages: string, name: string): Record<string, string> {
  const at = packages.indexOf(`Package: ${name}\n`);
  if (at < 0) throw new Error(`${name} is not in Packages`);
  const end = packages.indexOf('\n\n', at);
  const out: Record<string, string> = {};
  for (const line of packages.slice(at, end < 0 ? undefined : end).split('\n')) {
    const m = /^([A-Za-z0-9-]+): (.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** Make (or reuse) a mirror folder holding `pkgs` (amd64 or all) of bookworm main. */
export function debianMirror(pkgs: string[]): string {
  const mirror = join(CACHE, 'mirror');
  const dist = join(mirror, 'dists/bookworm');
  const packagesFile = join(dist, 'main/binary-amd64/Packages');
  if (!existsSync(packagesFile)) {
    if (!listFile('_debian_dists_bookworm_InRelease')) run('apt-get', ['update', '-qq']);
    const inrelease = listFile('_debian_dists_bookworm_InRelease');
    const lz4 = listFile('_debian_dists_bookworm_main_binary-amd64_Packages.lz4');
    const plain = listFile('_debian_dists_bookworm_main_binary-amd64_Packages');
    if (!inrelease || (!lz4 && !plain)) throw new Error(`apt has no bookworm main amd64 lists in ${LISTS}`);
    mkdirSync(dirname(packagesFile), { recursive: true });
    copyFileSync(inrelease, join(dist, 'InRelease'));
    const text = plain ? readFileSync(plain) : Buffer.from(run('lz4', ['-dc', lz4!]), 'utf8');
    const sum = createHash('sha256').update(text).digest('hex');
    if (!readFileSync(inrelease, 'utf8').includes(sum)) throw new Error('apt\'s Packages list does not match its InRelease (run apt-get update)');
    writeFileSync(`${packagesFile}.tmp`, text);
    renameSync(`${packagesFile}.tmp`, packagesFile);
  }
  const packages = readFileSync(packagesFile, 'utf8');
  for (const name of pkgs) {
    const s = stanzaOf(packages, name);
    const dest = join(mirror, s.Filename);
    if (existsSync(dest)) continue;
    const tmp = join(CACHE, 'download');
    mkdirSync(tmp, { recursive: true });
    run('apt-get', ['download', '-qq', `${name}=${s.Version}`], tmp);
    const got = readdirSync(tmp).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
    if (!got) throw new Error(`apt-get download ${name} left no .deb`);
    mkdirSync(dirname(dest), { recursive: true });
    renameSync(join(tmp, got), dest);
  }
  return mirror;
}
