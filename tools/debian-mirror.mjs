#!/usr/bin/env node
// Assemble a local Debian mirror folder from Debian's signed lists and
// `apt-get download`, usable offline afterwards:
//   node tools/debian-mirror.mjs --out DIR [--arch amd64,arm64] [--with-deps] PKG...
// writes DIR/dists/bookworm/InRelease exactly as Debian signed it,
// DIR/dists/bookworm/main/binary-ARCH/Packages (the bytes InRelease lists) and
// DIR/pool/... for each package of each architecture (and, with --with-deps,
// what it depends on; with --kernels, each architecture's linux-image-ARCH
// and the kernel package it names). apt runs with a private state under DIR/.apt (its own
// lists, cache and an empty dpkg status; the host's sources), so the host's
// apt and dpkg are never changed. Files already in DIR are reused: a second
// run with the same arguments makes no request.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
  return r.stdout;
}

/** apt options for a private state under `dir` serving `arches`. */
function aptOptions(dir, arches) {
  return [
    '-o', `Dir::State::Lists=${dir}/lists`, '-o', `Dir::State::status=${dir}/status`, '-o', `Dir::Cache=${dir}/cache`,
    '-o', `APT::Architecture=${arches[0]}`, ...arches.flatMap((a) => ['-o', `APT::Architectures::=${a}`]), '-o', 'Debug::NoLocking=1', '-qq',
  ];
}

function listFile(lists, suffix) {
  const n = existsSync(lists) ? readdirSync(lists).find((f) => f.endsWith(suffix)) : undefined;
  return n && join(lists, n);
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

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * Run `fn` holding OUT/.lock: test files run in parallel and may fill the
 * same mirror at once (two `apt-get download` into one folder lost a .deb on
 * a fresh clone). A lock whose holder died is taken over.
 */
function withLock(out, fn) {
  mkdirSync(out, { recursive: true });
  const lock = join(out, '.lock');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let pid;
      try {
        pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // not written yet: its holder is starting
      }
      if (pid && !alive(pid)) rmSync(lock, { recursive: true, force: true });
      else Atomics.wait(pause, 0, 0, 300);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export function debianMirror(opts) {
  return withLock(opts.out, () => fill(opts));
}

function fill({ out, packages: want, withDeps = false, kernels = false, suite = 'bookworm', arches = ['amd64'] }) {
  const dist = join(out, 'dists', suite);
  const apt = join(out, '.apt');
  const opts = aptOptions(apt, arches);
  const file = (arch) => join(dist, `main/binary-${arch}/Packages`);
  if (!arches.every((a) => existsSync(file(a)))) {
    for (const d of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(apt, d), { recursive: true });
    writeFileSync(join(apt, 'status'), '');
    run('apt-get', [...opts, 'update']);
    const lists = join(apt, 'lists');
    const inrelease = listFile(lists, `_debian_dists_${suite}_InRelease`);
    if (!inrelease) throw new Error(`apt fetched no ${suite} InRelease (is ${suite} in /etc/apt/sources.list?)`);
    const signed = readFileSync(inrelease, 'utf8');
    mkdirSync(dist, { recursive: true });
    copyFileSync(inrelease, join(dist, 'InRelease'));
    for (const arch of arches) {
      const lz4 = listFile(lists, `_debian_dists_${suite}_main_binary-${arch}_Packages.lz4`);
      const plain = listFile(lists, `_debian_dists_${suite}_main_binary-${arch}_Packages`);
      if (!lz4 && !plain) throw new Error(`apt fetched no ${suite} main ${arch} Packages`);
      const text = plain ? readFileSync(plain) : Buffer.from(run('lz4', ['-dc', lz4]), 'utf8');
      if (!signed.includes(createHash('sha256').update(text).digest('hex'))) throw new Error(`the ${arch} Packages list does not match InRelease`);
      mkdirSync(dirname(file(arch)), { recursive: true });
      writeFileSync(`${file(arch)}.tmp`, text);
      renameSync(`${file(arch)}.tmp`, file(arch));
    }
  }
  const texts = arches.map((arch) => readFileSync(file(arch), 'utf8'));
  for (const name of want) if (!texts.some((t) => t.includes(`Package: ${name}\n`))) throw new Error(`${name} is in no ${arches.join(' or ')} Packages list`);
  for (const [k, arch] of arches.entries()) {
    const packages = texts[k];
    // A name another architecture has (linux-image-arm64) is simply not fetched for this one.
    const todo = want.filter((n) => packages.includes(`Package: ${n}\n`));
    if (kernels) {
      // The kernel `minos boot --spec` takes: linux-image-ARCH and the package it depends on.
      const meta = `linux-image-${arch}`;
      todo.push(meta, depsOf(stanzaOf(packages, meta))[0]);
    }
    const seen = new Set();
    while (todo.length) {
      const name = todo.shift();
      if (seen.has(name)) continue;
      seen.add(name);
      const s = stanzaOf(packages, name);
      if (withDeps) for (const d of depsOf(s)) if (packages.includes(`Package: ${d}\n`)) todo.push(d);
      const dest = join(out, s.Filename);
      if (existsSync(dest)) continue;
      const tmp = join(apt, 'download');
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      run('apt-get', [...opts, 'download', `${name}:${s.Architecture}=${s.Version}`], tmp);
      const got = readdirSync(tmp).find((f) => f.endsWith('.deb'));
      if (!got) throw new Error(`apt-get download ${name} left no .deb`);
      mkdirSync(dirname(dest), { recursive: true });
      renameSync(join(tmp, got), dest);
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const o = args.indexOf('--out');
  const a = args.indexOf('--arch');
  const withDeps = args.includes('--with-deps');
  const kernels = args.includes('--kernels');
  if (o < 0 || !args[o + 1] || (a >= 0 && !args[a + 1])) {
    console.error('usage: node tools/debian-mirror.mjs --out DIR [--arch amd64,arm64] [--with-deps] [--kernels] PKG...');
    process.exit(2);
  }
  const out = resolve(args[o + 1]);
  const arches = a >= 0 ? args[a + 1].split(',') : [{ x64: 'amd64', arm64: 'arm64' }[process.arch]];
  const pkgs = args.filter((x, i) => i !== o && i !== o + 1 && i !== a && i !== a + 1 && x !== '--with-deps' && x !== '--kernels');
  debianMirror({ out, packages: pkgs, withDeps, kernels, arches });
  console.log(`${out}: ${pkgs.join(' ')}`);
}
