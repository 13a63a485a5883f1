/**
 * Building packages by hand for hostile tests: every part (manifest bytes,
 * signature, tar headers, compression) can be replaced or broken.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { canonicalBytes } from '../../src/canonical.js';
import { keyId, signBytes, type SecretKey } from '../../src/repo/keys.js';
import type { FileEntry, Manifest } from '../../src/types.js';
import type { TarHeader } from '../../src/unpack/tar.js';
import { encodeHeader, padLength, TAR_END } from '../../src/unpack/tarwrite.js';
import { zstdCompress } from '../../src/unpack/zstd.js';

export function makeKey(file = 'test.pub'): SecretKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { id: keyId(publicKey), key: publicKey, secret: privateKey, file };
}

export const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface Member {
  h: Partial<TarHeader> & { name: string };
  data?: Buffer;
}

/** The parts of a small valid package, to be changed by a test. */
export function goodParts(key: SecretKey): { manifest: Manifest; contents: Map<string, Buffer> } {
  const hello = Buffer.from('#!/bin/sh\necho hello\n');
  const conf = Buffer.from('x=1\n');
  const files: FileEntry[] = [
    { path: 'etc', type: 'dir', mode: 0o755, owner: 'root', group: 'root', size: 0 },
    { path: 'etc/hello.conf', type: 'file', mode: 0o644, owner: 'root', group: 'root', size: conf.length, sha256: sha(conf) },
    { path: 'usr', type: 'dir', mode: 0o755, owner: 'root', group: 'root', size: 0 },
    { path: 'usr/bin', type: 'dir', mode: 0o755, owner: 'root', group: 'root', size: 0 },
    { path: 'usr/bin/hello', type: 'file', mode: 0o4755, owner: 'root', group: 'root', size: hello.length, sha256: sha(hello) },
    { path: 'usr/bin/hi', type: 'symlink', mode: 0o777, owner: 'root', group: 'root', size: 0, target: 'hello' },
    { path: 'usr/bin/hl', type: 'hardlink', mode: 0o4755, owner: 'root', group: 'root', size: 0, target: 'usr/bin/hello' },
  ];
  const manifest: Manifest = {
    format: 1, name: 'evil', version: '1.0-1', arch: 'x86_64', summary: 'test', license: 'MIT',
    depends: [], provides: [], conflicts: [], replaces: [], optional: [], builddate: 1700000000,
    installedSize: hello.length + conf.length, signer: key.id, config: ['/etc/hello.conf'], users: [], groups: [], files,
  };
  return { manifest, contents: new Map([['etc/hello.conf', conf], ['usr/bin/hello', hello]]) };
}

/** Tar members for a manifest's files, with contents from the map. */
export function payloadMembers(m: Manifest, contents: Map<string, Buffer>): Member[] {
  return m.files.map((e) => ({
    h: { name: e.path, type: e.type, mode: e.mode, uname: e.owner, gname: e.group, linkname: e.target ?? '', devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0 },
    data: e.type === 'file' ? contents.get(e.path) : undefined,
  }));
}

const base: TarHeader = { name: '', type: 'file', mode: 0o644, uid: 0, gid: 0, uname: 'root', gname: 'root', size: 0, mtime: 1700000000, linkname: '', devmajor: 0, devminor: 0 };

export function tarOf(members: Member[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const size = m.h.size ?? m.data?.length ?? 0;
    parts.push(encodeHeader({ ...base, ...m.h, size }));
    if (m.data) parts.push(m.data, Buffer.alloc(padLength(m.data.length)));
  }
  if (end) parts.push(TAR_END);
  return Buffer.concat(parts);
}

export interface Build {
  manifestBytes?: Buffer;
  signature?: Buffer | null;
  members?: Member[];
  /** Called on the uncompressed tar. */
  tar?: (tar: Buffer) => Buffer;
}

/** Assemble a package: manifest, signature, payload; each part overridable. */
export function buildPackage(key: SecretKey, manifest: Manifest, contents: Map<string, Buffer>, b: Build = {}): Buffer {
  const mbytes = b.manifestBytes ?? canonicalBytes(manifest);
  const sig = b.signature === undefined ? signBytes(mbytes, key) : b.signature;
  const head: Member[] = [{ h: { name: '.MANIFEST' }, data: mbytes }];
  if (sig) head.push({ h: { name: '.SIGNATURE' }, data: sig });
  let tar = tarOf([...head, ...(b.members ?? payloadMembers(manifest, contents))]);
  if (b.tar) tar = b.tar(tar);
  return zstdCompress(tar, { level: 3 });
}
