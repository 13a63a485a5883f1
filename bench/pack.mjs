// minos pack / verify throughput on a >= 200 MiB payload, against the native
// floor: `tar -c | zstd -3` and `zstd -dc | tar -t` plus sha256sum of the same tree.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { payloadTree, WORK } from './payload.mjs';

const MINOS = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../bin/minos.js');

function time(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function du(dir) {
  return Number(execFileSync('du', ['-sb', '--apparent-size', dir]).toString().split('\t')[0]);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

export function runPackBench({ mib = Number(process.env.BENCH_MIB ?? 208), level = 3 } = {}) {
  const tree = payloadTree(mib);
  const bytes = du(tree);
  const dir = join(WORK, 'pack');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  run(process.execPath, [MINOS, 'key', 'generate', 'bench', '--dir', dir]);
  writeFileSync(join(dir, 'recipe.yaml'), `name: bench\nversion: 1.0\narch: noarch\nfiles: ${tree}\n`);
  const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };
  const pack = time(() => run(process.execPath, [MINOS, 'pack', join(dir, 'recipe.yaml'), '--key', join(dir, 'bench.key'), '--out', dir, '--level', String(level)], { env }));
  const file = join(dir, 'bench-1.0-noarch.mpk');
  const size = statSync(file).size;
  const verify = time(() => run(process.execPath, [MINOS, 'verify', file, '--key', join(dir, 'bench.pub')]));
  const nativePack = time(() => run('sh', ['-c', `tar -C ${tree} -cf - . | zstd -q -${level} -c > ${join(dir, 'native.tar.zst')}`]));
  const nativeVerify = time(() => run('sh', ['-c', `zstd -dc ${join(dir, 'native.tar.zst')} | tar -tf - > /dev/null && find ${tree} -type f -print0 | xargs -0 cat | sha256sum > /dev/null`]));
  const mbs = (s) => (bytes / s / 1e6).toFixed(0);
  rmSync(dir, { recursive: true, force: true });
  return {
    title: `pack/verify: ${(bytes / 2 ** 20).toFixed(0)} MiB payload, zstd -${level} (package ${(size / 2 ** 20).toFixed(0)} MiB)`,
    columns: ['operation', 'minos s', 'minos MB/s', 'native s', 'native MB/s', 'minos/native time'],
    rows: [
      ['pack (hash, tar, zstd, sign)', pack.toFixed(2), mbs(pack), nativePack.toFixed(2), mbs(nativePack), (pack / nativePack).toFixed(2)],
      ['verify (zstd, tar, sha256 each file)', verify.toFixed(2), mbs(verify), nativeVerify.toFixed(2), mbs(nativeVerify), (verify / nativeVerify).toFixed(2)],
    ],
    notes: ['native pack: tar -c | zstd; native verify: zstd -dc | tar -t, then sha256sum of every file'],
  };
}
