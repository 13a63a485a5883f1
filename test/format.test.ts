// Third-party check of docs/FORMAT.md: build a key, a package and a
// repository with external tools only (openssl, GNU tar, zstd, sha256sum,
// python3/jq, sh) exactly as the document describes, then check that the
// minos CLI accepts them and rejects tampered variants. No minos library
// code is imported here: the document alone is the specification.
import t from 'tap'
import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BIN = path.join(ROOT, 'bin', 'minos.js')

// bin/minos.js runs the compiled dist/: `make test` builds it first.

// --- helpers: external tools only ---
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'minos-format-'))
t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))

function run(cmd: string, args: string[], opts: { input?: Buffer | string; cwd?: string } = {}): SpawnSyncReturns<Buffer> {
  return spawnSync(cmd, args, { cwd: opts.cwd ?? work, input: opts.input, maxBuffer: 64 << 20 })
}
function must(cmd: string, args: string[], opts: { input?: Buffer | string; cwd?: string } = {}): Buffer {
  const r = run(cmd, args, opts)
  if (r.error) throw r.error
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`)
  }
  return r.stdout
}
/** Run a POSIX sh script in the work dir; extra args become "$1"... */
const sh = (script: string, ...args: string[]): Buffer => must('sh', ['-ec', script, 'sh', ...args])
type Result = { status: number | null; stdout: string; stderr: string }
/** Run the minos CLI (asynchronously, so the independent runs overlap). */
const minos = (...args: string[]): Promise<Result> =>
  new Promise(resolve => {
    execFile(process.execPath, [BIN, ...args], { cwd: work, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      resolve({ status: code, stdout, stderr })
    })
  })
/** diagnostics shown by tap when an assertion fails */
const show = (r: Result) => ({ stdout: r.stdout, stderr: r.stderr })

const PY_CANON =
  'import json,sys; sys.stdout.write(json.dumps(json.load(sys.stdin), sort_keys=True, separators=(",", ":"), ensure_ascii=False))'
/** Canonical JSON (§1) made by python3; jq must agree byte for byte. */
function canonical(value: unknown): Buffer {
  const loose = JSON.stringify(value, null, 2) + '\n' // deliberately non-canonical input
  const py = must('python3', ['-c', PY_CANON], { input: loose })
  const jq = must('jq', ['-cSj', '.'], { input: loose })
  if (!py.equals(jq)) throw new Error(`python3 and jq disagree:\n${py}\n${jq}`)
  return py
}
const sha256File = (file: string): string => must('sha256sum', ['--', file]).toString().slice(0, 64)
const sign = (key: string, file: string, out: string) =>
  must('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', key, '-in', file, '-out', out])

// --- 1. keys (§2) ---
sh('openssl genpkey -algorithm ed25519 -out demo.key; chmod 0600 demo.key; openssl pkey -in demo.key -pubout -out demo.pub')
sh('openssl genpkey -algorithm ed25519 -out other.key; chmod 0600 other.key; openssl pkey -in other.key -pubout -out other.pub')
const KEYID = sh('openssl pkey -pubin -in demo.pub -outform DER | sha256sum | cut -c1-16').toString().trim()

// --- 2. payload tree ---
const LONGDIR = 'usr/share/doc/hello/' + 'a'.repeat(60)
const LONGFILE = LONGDIR + '/' + 'b'.repeat(50) + '.txt' // 135 bytes > 100: pax `path`
const UNICODE = 'usr/share/caf\u00e9-\u00fcber-\u65e5\u672c.txt' // NFC, non-ASCII
const hello = '#!/bin/sh\necho hello\n'
sh(
  `umask 022
  mkdir -p tree/etc tree/usr/bin tree/usr/share/empty "tree/$1"
  printf 'greeting=hi\\n' > tree/etc/hello.conf
  printf '%s' "$3" > tree/usr/bin/hello
  ln tree/usr/bin/hello tree/usr/bin/hello2
  ln -s hello tree/usr/bin/hi
  printf 'suid\\n' > tree/usr/bin/suid
  printf 'long\\n' > "tree/$2"
  printf 'unicode\\n' > "tree/$4"
  mkfifo tree/usr/share/fifo
  find tree -type d -exec chmod 0755 {} +
  chmod 0644 tree/etc/hello.conf "tree/$2" "tree/$4"
  chmod 0644 tree/usr/share/fifo
  chmod 0755 tree/usr/bin/hello
  chmod 4755 tree/usr/bin/suid`,
  LONGDIR, LONGFILE, hello, UNICODE,
)

type Entry = Record<string, string | number>
const file = (p: string, mode: number): Entry => {
  const f = path.join(work, 'tree', p)
  return { path: p, type: 'file', mode, owner: 'root', group: 'root', size: fs.statSync(f).size, sha256: sha256File(f) }
}
const dir = (p: string): Entry => ({ path: p, type: 'dir', mode: 0o755, owner: 'root', group: 'root', size: 0 })
const files: Entry[] = [
  dir('etc'),
  file('etc/hello.conf', 0o644),
  dir('usr'),
  dir('usr/bin'),
  file('usr/bin/hello', 0o755),
  { path: 'usr/bin/hello2', type: 'hardlink', target: 'usr/bin/hello', mode: 0o755, owner: 'root', group: 'root', size: 0 },
  { path: 'usr/bin/hi', type: 'symlink', target: 'hello', mode: 0o777, owner: 'root', group: 'root', size: 0 },
  file('usr/bin/suid', 0o4755),
  dir('usr/share'),
  file(UNICODE, 0o644),
  dir('usr/share/doc'),
  dir('usr/share/doc/hello'),
  dir(LONGDIR),
  file(LONGFILE, 0o644),
  dir('usr/share/empty'),
  { path: 'usr/share/fifo', type: 'fifo', mode: 0o644, owner: 'root', group: 'root', size: 0 },
].sort((a, b) => Buffer.compare(Buffer.from(a.path as string), Buffer.from(b.path as string)))

const manifest = {
  format: 1,
  name: 'hello',
  version: '1:1.0~rc1-1',
  arch: 'x86_64',
  summary: 'greets the world \u2014 "quoted"\tand \u00fcn\u00efc\u00f6d\u00e9 \u{1f600}',
  license: 'MIT OR Apache-2.0',
  depends: ['libc >= 2.0', 'mawk | gawk >= 1.4', 'sh'],
  optional: ['bash'],
  provides: ['greeter = 1.0', 'hello-bin'],
  conflicts: ['oldhello < 1.0'],
  replaces: ['oldhello'],
  builddate: 1700000000,
  installedSize: files.filter(f => f.type === 'file').reduce((n, f) => n + (f.size as number), 0),
  signer: KEYID,
  config: ['/etc/hello.conf'],
  users: [{ name: 'hello', uid: 990, group: 'hello', home: '/var/lib/hello', shell: '/sbin/nologin', gecos: 'Hello daemon' }],
  groups: [{ name: 'hello', gid: 990, members: ['hello'] }],
  files,
}
const MPK = 'hello-1%3a1.0~rc1-1-x86_64.mpk'

/** §6: sign .MANIFEST, then tar + zstd with the members in manifest order. */
function buildPackage(
  out: string,
  manifestBytes: Buffer,
  opts: { tarOptions?: string; compress?: string } = {},
) {
  const tarOptions = opts.tarOptions ??
    '--owner=root:0 --group=root:0 --pax-option=delete=atime,delete=ctime --mtime=@0'
  const compress = opts.compress ?? 'zstd -19 -q -o "$out"'
  fs.writeFileSync(path.join(work, '.MANIFEST'), manifestBytes)
  sign('demo.key', '.MANIFEST', '.SIGNATURE')
  fs.rmSync(path.join(work, out), { force: true })
  // tar's own errors go to stderr; check the stream was complete afterwards
  const r = run('sh', ['-ec', `out=$1; shift
    tar --format=pax --no-recursion ${tarOptions} \\
        -cf - .MANIFEST .SIGNATURE -C tree "$@" \\
      | ${compress}`, 'sh', out, ...files.map(f => f.path as string)])
  if (r.status !== 0 || r.stderr.length > 0) throw new Error(`building ${out}: ${r.stderr}`)
  must('zstd', ['-tq', out])
}
const manifestBytes = canonical(manifest)
buildPackage(MPK, manifestBytes)

// --- 3. repository (§5) ---
const indexOf = (mpkPath: string) => ({
  format: 1,
  name: 'demo',
  serial: 1,
  created: '2024-01-01T00:00:00Z',
  expires: null,
  signer: KEYID,
  packages: [{
    name: manifest.name, version: manifest.version, arch: manifest.arch,
    summary: manifest.summary, license: manifest.license,
    depends: manifest.depends, optional: manifest.optional, provides: manifest.provides,
    conflicts: manifest.conflicts, replaces: manifest.replaces,
    builddate: manifest.builddate, installedSize: manifest.installedSize,
    file: MPK, size: fs.statSync(mpkPath).size, sha256: sha256File(mpkPath),
  }],
})
function makeRepo(name: string, indexBytes: Buffer, key = 'demo.key'): string {
  const repo = path.join(work, name)
  fs.mkdirSync(repo)
  fs.copyFileSync(path.join(work, MPK), path.join(repo, MPK))
  fs.writeFileSync(path.join(repo, 'index.json'), indexBytes)
  sign(key, path.join(repo, 'index.json'), path.join(repo, 'index.sig'))
  return repo
}
const index = indexOf(path.join(work, MPK))
const repo = makeRepo('repo', canonical(index))

// --- variants (built now, checked below): one more the document allows, four it refuses ---
const SIG_SIZE = fs.statSync(path.join(work, '.SIGNATURE')).size
const LISTING = sh(`zstd -dc "$1" | tar -tf - --quoting-style=literal`, MPK).toString()
const LISTING_V = sh(`zstd -dc "$1" | tar -tvf - --numeric-owner --quoting-style=literal`, MPK).toString()
const RAW_TAR = must('zstd', ['-dc', MPK])

// a payload byte changed (same size, same inode so the hardlink stays), old manifest and signature
{
  const f = path.join(work, 'tree', 'usr/bin/hello')
  fs.writeFileSync(f, hello.replace('hello\n', 'hellO\n'))
  try {
    buildPackage('bad.mpk', manifestBytes)
  } finally {
    fs.writeFileSync(f, hello)
  }
}
// the same manifest pretty-printed (non-canonical) but correctly signed
buildPackage('pretty.mpk', must('jq', ['.'], { input: manifestBytes }))
// §4 allows any pax records, any zstd level and more than one frame: GNU tar's
// default pax output (atime/ctime records, real mtimes) split over two frames
buildPackage('variant.mpk', manifestBytes, {
  tarOptions: '--owner=root:0 --group=root:0',
  compress: '(cat > "$out.tar"; head -c 3072 "$out.tar" | zstd -1 -q -c; tail -c +3073 "$out.tar" | zstd -3 -q -c; rm -f "$out.tar") > "$out"',
})
const repoOtherKey = makeRepo('repo-other-key', canonical(index), 'other.key')
const repoPretty = makeRepo('repo-pretty', must('jq', ['.'], { input: canonical(index) }))

// Start every CLI run at once; the subtests below only await their result.
const runs = {
  keyId: minos('key', 'id', 'demo.pub'),
  verify: minos('verify', MPK, '--key', 'demo.pub'),
  verifyVariant: minos('verify', 'variant.mpk', '--key', 'demo.pub'),
  repoVerify: minos('repo', 'verify', repo, '--key', 'demo.pub'),
  inspect: minos('inspect', MPK, '--key', 'demo.pub', '--json'),
  verifyBad: minos('verify', 'bad.mpk', '--key', 'demo.pub'),
  verifyPretty: minos('verify', 'pretty.mpk', '--key', 'demo.pub'),
  repoOtherKey: minos('repo', 'verify', repoOtherKey, '--key', 'demo.pub'),
  repoPretty: minos('repo', 'verify', repoPretty, '--key', 'demo.pub'),
}

// --- 4. minos accepts what the document describes ---
t.test('the hand-made files are what §2 and §4 describe', async t => {
  t.comment(LISTING_V)
  const names = LISTING.split('\n').filter(Boolean)
  t.same(names.map(n => n.replace(/\/$/, '')), ['.MANIFEST', '.SIGNATURE', ...files.map(f => f.path)])
  t.equal(SIG_SIZE, 64)
  // the tree really exercises what it is meant to
  t.ok(RAW_TAR.includes(Buffer.from(` path=${LONGFILE}\n`)), 'long path carried by a pax header')
  t.ok(RAW_TAR.includes(Buffer.from(` path=${UNICODE}\n`)), 'non-ASCII path carried by a pax header')
  t.match(LISTING_V, /^hrwxr-xr-x .* usr\/bin\/hello2 link to usr\/bin\/hello$/m, 'hardlink member')
  t.match(LISTING_V, /^lrwxrwxrwx .* usr\/bin\/hi -> hello$/m, 'symlink member')
  t.match(LISTING_V, /^-rwsr-xr-x .* usr\/bin\/suid$/m, 'setuid member')
  t.match(LISTING_V, /^prw-r--r-- .* usr\/share\/fifo$/m, 'fifo member')
  t.equal(0o4755, 2541, '§4.2 example')
  t.equal(fs.readFileSync(path.join(work, 'demo.key'), 'latin1').split('\n')[0], '-----BEGIN PRIVATE KEY-----')
  t.equal(fs.readFileSync(path.join(work, 'demo.pub'), 'latin1').split('\n')[0], '-----BEGIN PUBLIC KEY-----')
  t.match(KEYID, /^[0-9a-f]{16}$/)
  t.equal(manifestBytes[manifestBytes.length - 1], 0x7d, 'no trailing newline')
})

t.test('minos key id prints the openssl-derived key id', async t => {
  const r = await runs.keyId
  t.equal(r.status, 0, 'exits 0', show(r))
  // it prints "KEYID  FILE"
  t.equal(r.stdout.trim().split(/\s+/)[0], KEYID)
})

t.test('minos verify accepts the hand-made package', async t => {
  const r = await runs.verify
  t.equal(r.status, 0, 'exits 0', show(r))
})

t.test('minos verify accepts GNU tar default pax records and two zstd frames', async t => {
  const r = await runs.verifyVariant
  t.equal(r.status, 0, 'exits 0', show(r))
})

t.test('minos repo verify accepts the hand-made repository', async t => {
  const r = await runs.repoVerify
  t.equal(r.status, 0, 'exits 0', show(r))
})

t.test('minos inspect --json shows the manifest', async t => {
  const r = await runs.inspect
  t.equal(r.status, 0, 'exits 0', show(r))
  t.match(JSON.parse(r.stdout), manifest)
})

// --- 5. the checks can fail ---
t.test('a changed payload byte under the old manifest fails with 4', async t => {
  const r = await runs.verifyBad
  t.equal(r.status, 4, 'exits 4 (verification failed)', show(r))
})

t.test('an index signed by an untrusted key fails with 4', async t => {
  const r = await runs.repoOtherKey
  t.equal(r.status, 4, 'exits 4 (verification failed)', show(r))
})

t.test('a pretty-printed (non-canonical) index is refused', async t => {
  const r = await runs.repoPretty
  t.not(r.status, 0, 'exits non-zero', show(r))
  t.comment(`exit ${r.status}: ${r.stderr.trim()}`)
})

t.test('a pretty-printed (non-canonical) manifest is refused', async t => {
  const r = await runs.verifyPretty
  t.not(r.status, 0, 'exits non-zero', show(r))
  t.comment(`exit ${r.status}: ${r.stderr.trim()}`)
})
