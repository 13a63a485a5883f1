// xz decompression: our decoder (dist/unpack/xz.js, liblzma in WebAssembly) against native `xz -dc`,
// on the same inputs, medians of interleaved runs. Goal (issue 17): >= 0.8x
// native throughput.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { xzDecompress } from '../dist/unpack/xz.js';

const RUNS = Number(process.env.BENCH_XZ_RUNS ?? 5);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function inputs() {
  const out = [];
  // Real Debian data: the largest data.tar.xz of the test mirror, if it was made.
  const pool = new URL('../.cache/debian-mirror/pool/', import.meta.url).pathname;
  const debs = [];
  const walk = (d) => {
    let names = [];
    try {
      names = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const n of names) (n.isDirectory() ? walk(join(d, n.name)) : n.name.endsWith('.deb') && debs.push(join(d, n.name)));
  };
  walk(pool);
  debs.sort((a, b) => readFileSync(b).length - readFileSync(a).length);
  for (const deb of debs.slice(0, 1)) {
    const r = spawnSync('sh', ['-c', `ar p '${deb}' data.tar.xz`], { maxBuffer: 1 << 30 });
    if (r.status === 0 && r.stdout.length) out.push({ name: deb.split('/').pop().slice(0, 40), xz: r.stdout });
  }
  // Synthetic: executables of this machine, xz -6.
  const raw = spawnSync('sh', ['-c', 'cat /usr/bin/* 2>/dev/null | head -c 40000000'], { maxBuffer: 1 << 30 }).stdout;
  out.push({ name: '40 MB of /usr/bin, xz -6', xz: spawnSync('xz', ['-T1', '-6', '-c'], { input: raw, maxBuffer: 1 << 30 }).stdout });
  return out;
}

export function runXzBench() {
  const rows = [];
  for (const { name, xz } of inputs()) {
    const ours = [];
    const native = [];
    let size = 0;
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now();
      size = xzDecompress(xz, { limit: 2 ** 31, onChunk: () => {} });
      ours.push(performance.now() - t);
      t = performance.now();
      spawnSync('xz', ['-dc'], { input: xz, maxBuffer: 2 ** 31 });
      native.push(performance.now() - t);
    }
    const o = median(ours);
    const n = median(native);
    rows.push([name, `${(size / 1048576).toFixed(1)} MiB`, `${(size / 1048576 / (o / 1000)).toFixed(0)} MiB/s`, `${(size / 1048576 / (n / 1000)).toFixed(0)} MiB/s`, `${(n / o).toFixed(2)}x`]);
  }
  return { title: 'xz decompression: minos (liblzma in WebAssembly) vs native xz -dc (goal >= 0.8x)', columns: ['input', 'output', 'minos', 'xz -dc', 'minos/native throughput'], rows };
}
