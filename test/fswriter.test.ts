/**
 * The two FsWriters (unpack/fswriter.ts) make the same nodes from the same
 * calls: the direct one on this thread, the queued one on a worker. Both
 * faces' unpack sink (unpack/sink.ts) uses every call: the build's through
 * the queued writer, a live transaction's (owners, device nodes) directly.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { ROOT, tempDir } from './lib/cli.js';
import { directWriter, queuedWriter, type FsWriter } from '../src/unpack/fswriter.js';
import { nodeSink } from '../src/unpack/sink.js';
import type { FileEntry } from '../src/types.js';

const root = process.geteuid?.() === 0;

/** Every node under `dir`: type, mode, owner, and content or link target. */
function listing(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(dir).sort()) {
    const st = lstatSync(join(dir, n));
    const what = st.isFile() ? readFileSync(join(dir, n), 'utf8') : st.isSymbolicLink() ? `-> ${readlinkSync(join(dir, n))}` : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? `char ${st.rdev}` : 'other';
    out[n] = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`;
  }
  return out;
}

const entry = (path: string, type: FileEntry['type'], mode: number, more: Partial<FileEntry> = {}): FileEntry => ({ path, type, mode, owner: 'u', group: 'g', size: 0, ...more });

/** A package's entries through the sink with a live-like layout: flat names, owners 1234:4321 when root, nodes made. */
function unpack(w: FsWriter, dir: string): void {
  let n = 0;
  const sink = nodeSink(w, {
    place: (e) => (e.type === 'dir' ? undefined : join(dir, String(n++))),
    fileMode: () => ({ mode: 0o600, final: false }),
    mtime: 1000000000,
    ids: root ? () => ({ uid: 1234, gid: 4321 }) : undefined,
    nodes: true,
    skipped: () => {},
  }, 'test.mpk');
  const file = (e: FileEntry, body: string) => {
    sink.begin(e);
    sink.data(Buffer.from(body));
    sink.end(e);
  };
  file(entry('a', 'file', 0o4755, { size: 3 }), 'abc');
  file(entry('b', 'file', 0o644, { size: 2 }), 'hi');
  for (const e of [entry('d', 'dir', 0o755), entry('l', 'symlink', 0o777, { target: 'a' }), entry('h', 'hardlink', 0o4755, { target: 'a' }), entry('p', 'fifo', 0o640), entry('z', 'char', 0o666, { devmajor: 1, devminor: 3 })]) {
    sink.begin(e);
    sink.end(e);
  }
  w.sync();
}

t.test('the direct and the queued writer make the same nodes through the unpack sink', async (t) => {
  const dir = tempDir(t, 'minos-fswriter-');
  const direct = join(dir, 'direct');
  const queued = join(dir, 'queued');
  const d = directWriter();
  d.mkdir(direct, 0o700);
  unpack(d, direct);
  const worker = new Worker(join(ROOT, 'dist/unpack/worker.js'));
  const q = queuedWriter(worker);
  q.mkdir(queued, 0o700);
  unpack(q, queued);
  await q.close();
  const a = listing(direct);
  t.same(listing(queued), a, 'the same nodes');
  const owner = root ? '1234:4321' : `${process.getuid!()}:${process.getgid!()}`;
  t.equal(a['0'], `4755 ${owner} abc`, 'a setuid file: owned, then its mode');
  t.equal(a['1'], `644 ${owner} hi`);
  t.match(a['2'], /^777 .* -> a$/);
  t.equal(a['3'], `4755 ${owner} abc`, 'a hardlink to the first file');
  t.equal(a['4'], `640 ${owner} fifo`);
  if (root) t.equal(a['5'], `666 ${owner} char ${(1 << 8) | 3}`, 'a device, as root');
  else t.notOk('5' in a, 'no device when not root');
});
