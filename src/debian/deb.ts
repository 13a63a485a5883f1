/**
 * Reading a Debian binary package (`.deb`): an `ar` archive whose members are
 * `debian-binary` ("2.0\n"), `control.tar[.gz|.xz|.zst]` and
 * `data.tar[.gz|.xz|.zst]`, in that order.
 *
 * Contract: `readDeb(file, opts)` first checks the whole file against the
 * size and sha256 the signed Packages list (`opts.expect`), before a byte is
 * parsed; then checks that the control file names the package, version and
 * architecture of `opts.entry`; then hands every data.tar entry to
 * `opts.sink` (begin, data, end: the PackageSink of .mpk packages), each file's
 * sha256 computed on the way. Paths are normalised (`./usr/bin/x` →
 * `usr/bin/x`) and confined exactly as manifest paths are: no `..`, absolute
 * or reserved paths, each entry's folder listed before it as a folder of this
 * package, no duplicates, hardlinks only to earlier files. The result carries
 * a Manifest made from the control data and the entries (conffiles as
 * `config`), and the names of the maintainer scripts, which minos never runs.
 *
 * Without `opts.expect` and `opts.entry` (a file taken as it is, for `minos
 * import deb`) nothing is compared: the metadata is the control file's, by
 * packages.ts's stanzaMeta, with the license of its machine-readable
 * copyright file, installedSize the sum of file sizes and builddate the
 * newest data.tar mtime. Either way the result names that license, read
 * while the entries pass (copyright.ts).
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { MinosError, type ErrorCode } from '../errors.js';
import { readInput } from '../input.js';
import { pathError } from '../names.js';
import type { PackageSink, ReadResult } from '../pkg/read.js';
import type { FileEntry, IndexPackage, Manifest } from '../types.js';
import { createTarReader, type TarHeader } from '../unpack/tar.js';
import { xzDecompress } from '../unpack/xz.js';
import { createZstdDecoder } from '../unpack/zstd.js';
import { fieldOf, parseStanzas, type Stanza } from './control.js';
import { SCRIPT_NAMES } from './effects/types.js';
import { copyrightLicense } from './copyright.js';
import { archOfDeb, stanzaMeta } from './relations.js';

export const SCRIPTS = ['preinst', 'postinst', 'prerm', 'postrm', 'config', 'triggers'] as const;

export interface DebResult extends ReadResult {
  /** The control stanza. */
  control: Stanza;
  /** Maintainer scripts the package carries (never run). */
  scripts: string[];
  /** Text of the control members the effects layer reads (SCRIPT_NAMES: scripts, triggers, shlibs, ...), by name. */
  members: Record<string, string>;
  /** The newest mtime of a data.tar entry, seconds since the epoch (0 for an empty archive). */
  newest: number;
  /**
   * The license `usr/share/doc/NAME/copyright` declares when it is
   * machine-readable (see copyright.ts); undefined when it is not, or absent.
   */
  license?: string;
}

export interface DebOptions {
  /**
   * Size and sha256 the signed Packages list gives the file. With `entry`;
   * both are absent for a file taken as it is (`minos import deb`), whose
   * metadata then comes from its own control file alone.
   */
  expect?: { size: number; sha256: string };
  /** The signed Packages entry this file must be. */
  entry?: IndexPackage;
  sink?: PackageSink;
  /** Key fingerprint of the Release signature, recorded as the manifest's signer. */
  signer: string;
  /** Code for a file that is not a well-formed .deb; default MN0216 (inconsistent repository data). */
  malformed?: ErrorCode;
}

/** Largest .deb read without a Packages entry to bound it. */
const MAX_DEB = 4 * 2 ** 30;
/** Largest copyright file examined for its license. */
const MAX_COPYRIGHT = 1 << 20;

const MAX_CONTROL = 64 << 20;

interface Member {
  name: string;
  data: Buffer;
}

function readAr(buf: Buffer, fail: (msg: string) => never): Member[] {
  if (buf.length < 8 || buf.toString('latin1', 0, 8) !== '!<arch>\n') fail('not a Debian package (no ar header)');
  const out: Member[] = [];
  let pos = 8;
  while (pos < buf.length) {
    if (pos + 60 > buf.length) fail('truncated ar member header');
    const h = buf.toString('latin1', pos, pos + 60);
    if (h.slice(58, 60) !== '`\n') fail(`bad ar member header at offset ${pos}`);
    const name = h.slice(0, 16).trimEnd().replace(/\/$/, '');
    const sizeText = h.slice(48, 58).trim();
    if (!/^\d+$/.test(sizeText)) fail(`bad ar member size at offset ${pos}`);
    const size = Number(sizeText);
    const start = pos + 60;
    if (start + size > buf.length) fail(`ar member ${name} is truncated`);
    out.push({ name, data: buf.subarray(start, start + size) });
    pos = start + size + (size & 1);
  }
  return out;
}

/** Decompress a whole member (control.tar is small), at most `max` bytes. */
function decompressAll(m: Member, max: number, label: string, fail: (msg: string) => never): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  streamMember(m, max, `${label}: ${m.name}`, fail, (c) => {
    parts.push(Buffer.from(c));
    n += c.length;
  });
  return Buffer.concat(parts, n);
}

function streamMember(m: Member, max: number, label: string, fail: (msg: string) => never, onChunk: (c: Uint8Array) => void): void {
  const ext = m.name.replace(/^(control|data)\.tar/, '');
  if (ext === '') {
    if (m.data.length > max) fail(`${m.name} is larger than ${max} bytes`);
    onChunk(m.data);
  } else if (ext === '.xz') {
    xzDecompress(m.data, { limit: max, onChunk, label });
  } else if (ext === '.gz') {
    let out: Buffer;
    try {
      out = gunzipSync(m.data, { maxOutputLength: max });
    } catch (e) {
      throw new MinosError('MN0208', `${label}: corrupt gzip data: ${(e as Error).message}`);
    }
    onChunk(out);
  } else if (ext === '.zst') {
    const d = createZstdDecoder({ limit: max });
    try {
      d.push(m.data, onChunk);
      d.end();
    } finally {
      d.free();
    }
  } else fail(`${m.name}: unknown compression (gzip, xz, zstd or none)`);
}

/** `./a/b` → `a/b`; `./` → '' (the root, skipped). */
function normal(name: string): string {
  let p = name.startsWith('./') ? name.slice(2) : name === '.' ? '' : name;
  if (p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

function owner(name: string, id: number): string {
  if (name) return name;
  if (id === 0) return 'root';
  return String(id);
}

export function readDeb(file: string, opts: DebOptions): DebResult {
  const label = file.split('/').pop()!;
  const fail = (msg: string): never => {
    throw new MinosError(opts.malformed ?? 'MN0216', `${label}: ${msg}`, { data: { file } });
  };
  const expect = opts.expect;
  const buf = readInput(file, expect?.size ?? MAX_DEB);
  if (expect && buf.length !== expect.size) {
    throw new MinosError('MN0206', `${label}: file is ${buf.length} bytes, Packages says ${expect.size}`, { data: { file, expected: expect.size, actual: buf.length } });
  }
  const sha256 = createHash('sha256').update(buf).digest('hex');
  if (expect && sha256 !== expect.sha256) {
    throw new MinosError('MN0205', `${label}: file sha256 is ${sha256}, Packages says ${expect.sha256}`, { data: { file, expected: expect.sha256, actual: sha256 } });
  }
  const members = readAr(buf, fail);
  const names = members.map((m) => m.name);
  if (names[0] !== 'debian-binary' || !/^control\.tar(\.\w+)?$/.test(names[1] ?? '') || !/^data\.tar(\.\w+)?$/.test(names[2] ?? '')) {
    fail(`ar members are ${names.join(', ')}; expected debian-binary, control.tar*, data.tar* in that order`);
  }
  if (!/^2\.\d+\n/.test(members[0].data.toString('latin1'))) fail('unsupported debian-binary version');
  for (const extra of names.slice(3)) if (!extra.startsWith('_')) fail(`unexpected ar member ${extra}`);

  // control.tar: the control stanza, conffiles, and which scripts exist.
  const control = decompressAll(members[1], MAX_CONTROL, label, fail);
  const texts = new Map<string, string>();
  const tr = createTarReader({
    entry(h) {
      cur = h.type === 'file' ? normal(h.name) : undefined;
      chunks = [];
    },
    data(c) {
      chunks.push(Buffer.from(c));
    },
    entryEnd() {
      if (cur !== undefined) texts.set(cur, Buffer.concat(chunks).toString('utf8'));
    },
  }, { gnu: true });
  let cur: string | undefined;
  let chunks: Buffer[] = [];
  tr.push(control);
  tr.end();
  const ctext = texts.get('control');
  if (ctext === undefined) fail('control.tar has no control file');
  const stanzas: Stanza[] = [];
  parseStanzas(ctext!, `${label}: control`, (s) => stanzas.push(s));
  if (stanzas.length !== 1) fail(`control file has ${stanzas.length} stanzas`);
  const st = stanzas[0];
  let e: Omit<IndexPackage, 'file' | 'size' | 'sha256'>;
  if (opts.entry) {
    e = opts.entry;
    const debArch = e.debian?.debArch;
    for (const [k, want] of [['Package', e.name], ['Version', e.version], ['Architecture', debArch]] as const) {
      if (want !== undefined && fieldOf(st, k) !== want) fail(`control says ${k} ${fieldOf(st, k) ?? '(none)'}, Packages says ${want}`);
    }
  } else {
    const debArch = fieldOf(st, 'Architecture') ?? '';
    const arch = archOfDeb(debArch);
    if (arch === undefined) fail(`control says Architecture ${debArch || '(none)'}, which minos does not support`);
    try {
      e = stanzaMeta(st, `${label}: control`, arch!);
    } catch (err) {
      throw err instanceof MinosError && opts.malformed ? new MinosError(opts.malformed, err.message, { data: { file } }) : err;
    }
  }
  const copyright = `usr/share/doc/${e.name}/copyright`;
  let collecting: Buffer[] | undefined;
  let copyrightText: Buffer | undefined;
  let newest = 0;
  const conffiles = (texts.get('conffiles') ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('remove-on-upgrade '));
  const scripts = SCRIPTS.filter((s) => texts.has(s));

  // data.tar: every entry, confined, hashed.
  const files: FileEntry[] = [];
  const seen = new Map<string, FileEntry['type']>();
  let entry: FileEntry | undefined;
  let hash: ReturnType<typeof createHash> | undefined;
  const sink = opts.sink;
  const data = createTarReader({
    entry(h: TarHeader) {
      const p = normal(h.name);
      entry = undefined;
      newest = Math.max(newest, h.mtime);
      if (p === '') {
        if (h.type !== 'dir') fail(`the root entry ${JSON.stringify(h.name)} is not a folder`);
        return;
      }
      const why = pathError(p);
      if (why) throw new MinosError('MN0207', `${label}: entry ${JSON.stringify(h.name)}: ${why}`, { data: { file, path: p } });
      if (seen.has(p)) fail(`entry ${JSON.stringify(p)} appears twice`);
      const slash = p.lastIndexOf('/');
      if (slash > 0 && seen.get(p.slice(0, slash)) !== 'dir') {
        throw new MinosError('MN0207', `${label}: entry ${JSON.stringify(p)} comes before its folder, or its folder is not a folder`, { data: { file, path: p } });
      }
      collecting = p === copyright && h.type === 'file' && h.size <= MAX_COPYRIGHT ? [] : undefined;
      const fe: FileEntry = { path: p, type: h.type, mode: h.mode, owner: owner(h.uname, h.uid), group: owner(h.gname, h.gid), size: h.type === 'file' ? h.size : 0 };
      if (h.type === 'symlink') fe.target = h.linkname;
      if (h.type === 'hardlink') {
        const t = normal(h.linkname);
        if (seen.get(t) !== 'file') throw new MinosError('MN0207', `${label}: hardlink ${JSON.stringify(p)} to ${JSON.stringify(h.linkname)}, which is not an earlier file of the package`, { data: { file, path: p } });
        fe.target = t;
      }
      if (h.type === 'char' || h.type === 'block') {
        fe.devmajor = h.devmajor;
        fe.devminor = h.devminor;
      }
      seen.set(p, h.type);
      entry = fe;
      hash = h.type === 'file' ? createHash('sha256') : undefined;
      sink?.begin(fe);
    },
    data(c) {
      if (!entry) return;
      hash!.update(c);
      collecting?.push(Buffer.from(c));
      sink?.data(c);
    },
    entryEnd() {
      if (!entry) return;
      if (hash) entry.sha256 = hash.digest('hex');
      if (collecting) copyrightText = Buffer.concat(collecting);
      collecting = undefined;
      files.push(entry);
      sink?.end(entry);
      entry = undefined;
    },
  }, { gnu: true });
  const limit = Math.max(64 << 20, 4 * (e.installedSize || 0) + (64 << 20));
  streamMember(members[2], limit, `${label}: ${members[2].name}`, fail, (c) => data.push(c));
  data.end();

  const license = copyrightText ? copyrightLicense(copyrightText.toString('utf8')) : undefined;
  // A file taken as it is: its metadata is what the package itself says.
  const own = !opts.entry;
  const manifest: Manifest = {
    format: 1, signer: opts.signer,
    name: e.name, version: e.version, arch: e.arch, summary: e.summary, license: own ? (license ?? '') : e.license,
    depends: e.depends, provides: e.provides, conflicts: e.conflicts, replaces: e.replaces, optional: e.optional,
    builddate: own ? newest : e.builddate, installedSize: own ? files.reduce((n, f) => n + f.size, 0) : e.installedSize,
    config: conffiles.map((c) => (c.startsWith('/') ? c : `/${c}`)), users: [], groups: [], files,
    ...(e.debian ? { debian: e.debian } : {}),
  };
  const kept: Record<string, string> = {};
  for (const n of SCRIPT_NAMES) if (texts.has(n)) kept[n] = texts.get(n)!;
  return { manifest, manifestBytes: Buffer.from(ctext!), size: buf.length, sha256, control: st, scripts, members: kept, newest, ...(license === undefined ? {} : { license }) };
}
