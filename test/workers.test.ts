/**
 * WorkerPool.offer (workers.ts) and UnpackPool.readShared, on the built
 * unpack pool with one worker thread: an offered job runs on the worker
 * alone, `withdraw` takes back one not begun (it never runs) and not one
 * begun, and closing the pool with offers outstanding does not hang; a
 * shared read gives the file's bytes and sha256. The build's use of both
 * is tested end to end in debian.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, tempDir } from './lib/cli.js';

type Pool = typeof import('../src/unpack/pool.js');

t.test('an offered job runs on a worker unless withdrawn first', async (t) => {
  const { createUnpackPool } = (await import(join(ROOT, 'dist/unpack/pool.js'))) as Pool;
  const dir = tempDir(t, 'minos-offer-');
  const job = (name: string) => ({ file: join(dir, `${name}.mpk`), keyring: new Map(), expect: { size: 1, sha256: '0'.repeat(64) }, dest: join(dir, name) });
  const pool = createUnpackPool(2);
  t.ok(pool.parallel, 'a pool with a worker thread');
  // The worker is not running yet: what is withdrawn in the same turn was not begun.
  const a = pool.offer(job('a'));
  const b = pool.offer(job('b'));
  if (!a || !b) throw new Error('nothing offered');
  let bSettled = false;
  b.result.then(() => (bSettled = true), () => (bSettled = true));
  t.equal(b.withdraw(), true, 'withdrawn before a worker took it');
  t.equal(b.withdraw(), false, 'not twice');
  await t.rejects(a.result, { code: 'MN0101', message: /a\.mpk/ }, 'the other ran, on the worker, and its failure came back');
  t.equal(a.withdraw(), false, 'a job begun cannot be withdrawn');
  // The worker reads its messages in order: once a later offer's answer is back, it has passed the withdrawn one.
  const c = pool.offer(job('c'));
  if (!c) throw new Error('nothing offered');
  await t.rejects(c.result, { code: 'MN0101', message: /c\.mpk/ });
  t.equal(bSettled, false, 'the withdrawn job never ran');
  const d = pool.offer(job('d'));
  if (!d) throw new Error('nothing offered');
  const settled = d.result.then(() => 'ran', (e: { code?: string }) => e.code);
  await pool.close();
  t.match(await settled, /^MN0(101|001)$/, 'closing with an offer outstanding: it failed or was cancelled, and close did not hang');
  t.equal(pool.offer(job('e')), false, 'a closed pool takes no offer');
  t.equal(createUnpackPool(1).offer(job('f')), false, 'a pool without worker threads takes none');
});

t.test('readShared: a file read whole on a worker, into memory this thread reads, with its sha256', async (t) => {
  const { createUnpackPool } = (await import(join(ROOT, 'dist/unpack/pool.js'))) as Pool;
  const dir = tempDir(t, 'minos-shared-');
  const bytes = randomBytes(3 << 20);
  writeFileSync(join(dir, 'f'), bytes);
  const pool = createUnpackPool(2);
  try {
    const read = pool.readShared(join(dir, 'f'), 4 << 20);
    if (!read) throw new Error('no worker');
    const r = await read.result;
    t.equal(read.withdraw(), false, 'begun: not withdrawn');
    t.equal(r.size, bytes.length);
    t.ok(r.bytes instanceof SharedArrayBuffer, 'shared memory');
    t.ok(Buffer.from(r.bytes, 0, r.size).equals(bytes), 'the same bytes');
    t.equal(r.sha256, createHash('sha256').update(bytes).digest('hex'), 'their sha256');
    const result = (file: string, max: number) => {
      const x = pool.readShared(file, max);
      if (!x) throw new Error('no worker');
      return x.result;
    };
    await t.rejects(result(join(dir, 'f'), 1 << 20), { code: 'MN0101', message: /larger than the 1048576 bytes accepted/ });
    await t.rejects(result(join(dir, 'none'), 1 << 20), { code: 'MN0101', message: /none/ });
  } finally {
    await pool.close();
  }
  t.equal(createUnpackPool(1).readShared(join(dir, 'f'), 4 << 20), false, 'not on this thread');
});
