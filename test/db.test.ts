/**
 * The installed database's bytes: the fast path that copies each manifest's
 * own "files" text (dbBytes with manifestFilesJson, used by minos build) must
 * give exactly the bytes of serialising the records again, for manifests
 * whose strings try to look like the markers it cuts at.
 */
import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalBytes } from '../src/canonical.js';
import { dbBytes, type InstalledDb, type InstalledRecord } from '../src/db/installed.js';
import { manifestFilesJson } from '../src/pkg/manifest.js';
import { readPackage } from '../src/pkg/read.js';
import { tempDir } from './lib/cli.js';
import { makeKey, makeRepo } from './lib/repo.js';

t.test('dbBytes with the manifests\' own file lists equals dbBytes serialising them', async (t) => {
  const dir = tempDir(t);
  const key = makeKey(join(dir, 'keys'));
  const tricky = '"files":[],"format":1,"packages":[] \\ é ✓';
  const repo = makeRepo(join(dir, 'repo'), key, [
    { name: 'plain' },
    {
      name: 'tricky',
      files: { [`usr/share/tricky/a "files":[`]: tricky, 'usr/share/tricky/b\\c': 'x', 'etc/tricky.conf': 'y' },
      users: [{ name: 'tricky', uid: 300, group: 'tricky', home: '/var/empty', shell: '/sbin/nologin' }],
      groups: [{ name: 'tricky', gid: 300 }],
      config: ['/etc/tricky.conf'],
      overrides: { '/usr/share/tricky/link': { type: 'symlink', target: 'b\\c' } },
    },
    { name: 'lone', files: { z: 'z' } },
  ]);
  const keyring = new Map([[key.id, { id: key.id, key: key.key, file: 'k' }]]);
  const records: InstalledRecord[] = [];
  const files = new Map<InstalledRecord, Uint8Array>();
  for (const f of readdirSync(repo).filter((n) => n.endsWith('.mpk')).sort()) {
    const r = readPackage(join(repo, f), { keyring });
    const json = manifestFilesJson(r.manifestBytes);
    t.ok(json, `${f}: the file list is found`);
    t.same(JSON.parse(Buffer.from(json!).toString()), r.manifest.files, `${f}: it parses to the manifest's files`);
    t.ok(canonicalBytes(r.manifest.files).equals(Buffer.from(json!)), `${f}: and is their canonical form`);
    const { format: _f, signer: _s, ...rest } = r.manifest;
    const rec: InstalledRecord = { ...rest, repo: 'main', sha256: r.sha256, explicit: f.startsWith('tricky') };
    records.push(rec);
    files.set(rec, json!);
  }
  t.equal(records.length, 3);
  const db: InstalledDb = { format: 1, world: ['tricky', '"packages":[]'], packages: records.reverse(), deferred: [{ path: 'a "packages":[]', uid: 1, gid: 2, mode: 0o644 }] };
  const slow = dbBytes(db);
  t.ok(dbBytes(db, (r) => files.get(r)).equals(slow), 'every record spliced');
  t.ok(dbBytes(db, (r) => (r.name === 'tricky' ? files.get(r) : undefined)).equals(slow), 'some spliced, some serialised');
  t.ok(canonicalBytes(JSON.parse(slow.toString())).equals(slow), 'the database is canonical JSON');
  t.same(JSON.parse(slow.toString()).packages.map((p: { name: string }) => p.name), ['lone', 'plain', 'tricky'], 'packages by name');
});

t.test('manifestFilesJson finds nothing in what is not a manifest\'s text', async (t) => {
  t.equal(manifestFilesJson(Buffer.from('{"a":1}')), undefined);
  t.equal(manifestFilesJson(Buffer.from('{"files":[],"groups":[]}')), undefined);
});
