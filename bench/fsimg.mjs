// Filesystem images: minos's squashfs and erofs writers (dist/target/*.js) against
// mksquashfs and mkfs.erofs on the same folder, medians of interleaved runs.
// The folder: BENCH_FSIMG_DIR, else this machine's /usr/lib/python3.11 (~50 MiB,
// 1,500 entries), else /usr/lib/python3, else /usr/lib. mksquashfs runs on one core
// (-processors 1), as minos does. zstd -15 (mksquashfs's default level) only with
// BENCH_FSIMG_SLOW=1: a minute a run.
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeErofs } from '../dist/target/erofs.js';
import { writeSquashfs } from '../dist/target/squashfs.js';

const RUNS = Number(process.env.BENCH_FSIMG_RUNS ?? 3);
const MTIME = 1700000000;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** A folder as a stage: its files are the content, the nodes what lstat says (hardlinks by inode). */
export function stageOf(root) {
  const nodes = [];
  const seen = new Map();
  const walk = (rel) => {
    for (const name of readdirSync(rel ? join(root, rel) : root).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path));
      const base = { path, mode: st.mode & 0o7777, owner: 'root', group: 'root', size: 0, pkg: '' };
      let node;
      if (st.isDirectory()) node = { ...base, type: 'dir' };
      else if (st.isSymbolicLink()) node = { ...base, type: 'symlink', target: readlinkSync(join(root, path)) };
      else if (st.isFile() && st.nlink > 1 && seen.has(st.ino)) node = { ...base, type: 'hardlink', target: seen.get(st.ino) };
      else if (st.isFile()) {
        node = { ...base, type: 'file', size: st.size };
        if (st.nlink > 1) seen.set(st.ino, path);
      } else continue;
      nodes.push({ node, uid: st.uid, gid: st.gid });
      if (st.isDirectory()) walk(path);
    }
  };
  walk('');
  nodes.sort((a, b) => Buffer.compare(Buffer.from(a.node.path), Buffer.from(b.node.path)));
  return { stage: { root, nodes: new Map(nodes.map((r) => [r.node.path, r.node])), versions: new Map() }, nodes };
}

function folder() {
  if (process.env.BENCH_FSIMG_DIR) return process.env.BENCH_FSIMG_DIR;
  for (const d of ['/usr/lib/python3.11', '/usr/lib/python3', '/usr/lib']) {
    try {
      if (statSync(d).isDirectory()) return d;
    } catch {
      // next
    }
  }
  throw new Error('no folder to image');
}

export function runFsimgBench() {
  const dir = folder();
  const { stage, nodes } = stageOf(dir);
  const bytes = nodes.reduce((n, r) => n + r.node.size, 0);
  const out = join(tmpdir(), `minos-bench-fsimg-${process.pid}`);
  const cases = [
    { name: 'squashfs zstd -3', ours: () => writeSquashfs(stage, nodes, out, { mtime: MTIME, compression: 'zstd', level: 3 }), tool: ['mksquashfs', dir, out, '-noappend', '-quiet', '-no-progress', '-processors', '1', '-comp', 'zstd', '-Xcompression-level', '3', '-mkfs-time', String(MTIME), '-all-time', String(MTIME), '-no-xattrs'] },
    { name: 'squashfs zstd -15', ours: () => writeSquashfs(stage, nodes, out, { mtime: MTIME, compression: 'zstd', level: 15 }), tool: ['mksquashfs', dir, out, '-noappend', '-quiet', '-no-progress', '-processors', '1', '-comp', 'zstd', '-mkfs-time', String(MTIME), '-all-time', String(MTIME), '-no-xattrs'] },
    { name: 'squashfs gzip -9', ours: () => writeSquashfs(stage, nodes, out, { mtime: MTIME, compression: 'gzip' }), tool: ['mksquashfs', dir, out, '-noappend', '-quiet', '-no-progress', '-processors', '1', '-comp', 'gzip', '-mkfs-time', String(MTIME), '-all-time', String(MTIME), '-no-xattrs'] },
    { name: 'erofs uncompressed', ours: () => writeErofs(stage, nodes, out, { mtime: MTIME }), tool: ['mkfs.erofs', '--quiet', '-x', '-1', '-T', String(MTIME), out, dir] },
  ];
  const rows = [];
  for (const c of cases) {
    if (c.name.endsWith('-15') && !process.env.BENCH_FSIMG_SLOW) continue;
    const ours = [];
    const tool = [];
    let oursSize = 0;
    let toolSize = 0;
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now();
      c.ours();
      ours.push(performance.now() - t);
      oursSize = statSync(out).size;
      rmSync(out, { force: true });
      t = performance.now();
      const r = spawnSync(c.tool[0], c.tool.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
      tool.push(performance.now() - t);
      if (r.status !== 0) throw new Error(`${c.tool[0]}: ${r.stderr}`);
      toolSize = statSync(out).size;
      rmSync(out, { force: true });
    }
    const o = median(ours);
    const n = median(tool);
    const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;
    rows.push([c.name, `${o.toFixed(0)} ms`, `${n.toFixed(0)} ms`, `${(n / o).toFixed(2)}x`, mib(oursSize), mib(toolSize)]);
  }
  return {
    title: `filesystem images of ${dir} (${nodes.length} entries, ${(bytes / 1048576).toFixed(0)} MiB): minos vs mksquashfs -processors 1 / mkfs.erofs`,
    columns: ['image', 'minos', 'native tool', 'minos speed vs tool', 'minos size', 'tool size'],
    rows,
  };
}
