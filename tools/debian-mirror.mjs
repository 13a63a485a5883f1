#!/usr/bin/env node
// Assemble a local Debian mirror folder from apt's own signed lists and
// `apt-get download`, usable offline afterwards:
//   node tools/debian-mirror.mjs --out DIR PKG...
// writes DIR/dists/bookworm/InRelease exactly as Debian signed it,
// DIR/dists/bookworm/main/binary-amd64/Packages (the bytes InRelease lists) and
// DIR/pool/... for each package (and, with --with-deps, what it depends on).
// It uses the host's apt lists for the host's architecture (apt-get update
// runs when they are missing) and never changes the host's dpkg state.
// Files already in DIR are reused: a second run makes no request.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const LISTS = '/var/lib/apt/lists';

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
  return r.stdout;
}

function listFile(suffix) {
  const n = existsSync(LISTS) ? readdirSync(LISTS).find((f) => f.endsWith(suffix)) : undefined;
  return n && join(LISTS, n);
}

/** The fields of `name`'s stanza in a Packages text. */
export function stanzaOf(packages, name) {
  const at = packages.indexOf(`Package: ${name}\n`);
  if (at < 0) throw new Error(`${name} is not in Packages`);
  const end = packages.indexOf('\n\n', at);
  const out = {};
  for (const line of packages.slice(at, end < 0 ? undefined : end).split('\n')) {
    const m = /^([A-Za-z0-9-]+): (.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** Names `name` depends on (first alternative of each Depends/Pre-Depends clause). */
function depsOf(s) {
  return [s['Pre-Depends'], s.Depends].filter(Boolean).join(',').split(',').map((c) => c.trim().split('|')[0].trim().split(/[\s(:]/)[0]).filter(Boolean);
}

export function debianMirror({ out, packages: want, withDeps = false, suite = 'bookworm' }) {
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch];
  if (!arch) throw new Error(`no Debian architecture for ${process.arch}`);
  const dist = join(out, 'dists', suite);
  const packagesFile = join(dist, `main/binary-${arch}/Packages`);
  if (!existsSync(packagesFile)) {
    const name = `_debian_dists_${suite}_InRelease`;
    if (!listFile(name)) run('apt-get', ['update', '-qq']);
    const inrelease = listFile(name);
    const lz4 = listFile(`_debian_dists_${suite}_main_binary-${arch}_Packages.lz4`);
    const plain = listFile(`_debian_dists_${suite}_main_binary-${arch}_Packages`);
    if (!inrelease || (!lz4 && !plain)) throw new Error(`apt has no ${suite} main ${arch} lists in ${LISTS}`);
    mkdirSync(dirname(packagesFile), { recursive: true });
    copyFileSync(inrelease, join(dist, 'InRelease'));
    const text = plain ? readFileSync(plain) : Buffer.from(run('lz4', ['-dc', lz4]), 'utf8');
    const sum = createHash('sha256').update(text).digest('hex');
    if (!readFileSync(inrelease, 'utf8').includes(sum)) throw new Error('apt\'s Packages list does not match its InRelease (run apt-get update)');
    writeFileSync(`${packagesFile}.tmp`, text);
    renameSync(`${packagesFile}.tmp`, packagesFile);
  }
  const packages = readFileSync(packagesFile, 'utf8');
  const todo = [...want];
  const seen = new Set();
  while (todo.length) {
    const name = todo.shift();
    if (seen.has(name)) continue;
    seen.add(name);
    const s = stanzaOf(packages, name);
    if (withDeps) for (const d of depsOf(s)) if (packages.includes(`Package: ${d}\n`)) todo.push(d);
    const dest = join(out, s.Filename);
    if (existsSync(dest)) continue;
    const tmp = join(out, '.download');
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    run('apt-get', ['download', '-qq', `${name}=${s.Version}`], tmp);
    const got = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!got) throw new Error(`apt-get download ${name} left no .deb`);
    mkdirSync(dirname(dest), { recursive: true });
    renameSync(join(tmp, got), dest);
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const o = args.indexOf('--out');
  const withDeps = args.includes('--with-deps');
  if (o < 0 || !args[o + 1]) {
    console.error('usage: node tools/debian-mirror.mjs --out DIR [--with-deps] PKG...');
    process.exit(2);
  }
  const out = resolve(args[o + 1]);
  const pkgs = args.filter((a, i) => i !== o && i !== o + 1 && a !== '--with-deps');
  debianMirror({ out, packages: pkgs, withDeps });
  console.log(`${out}: ${pkgs.join(' ')}`);
}
