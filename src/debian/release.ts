/**
 * A Debian repository's signed entry point: `InRelease` (clear-signed) or
 * `Release` + `Release.gpg` (detached), verified with OpenPGP keyrings by the
 * openpgp library (RSA and Ed25519; armored or binary keyrings), never by
 * running gpg. Then the Release fields minos relies on: Date, Valid-Until and
 * the SHA256 list of index files.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type * as openpgp from 'openpgp';
import { loadOpenpgp } from './pgplib.js';
import { MinosError } from '../errors.js';
import { readInput } from '../input.js';
import { fieldOf, parseStanzas, type Stanza } from './control.js';

export interface Release {
  /** Seconds since the epoch. */
  date: number;
  /** Seconds since the epoch, or undefined when the Release sets none. */
  validUntil?: number;
  suite: string;
  codename: string;
  /** Index file path (e.g. main/binary-amd64/Packages.xz) → size and sha256. */
  files: Map<string, { size: number; sha256: string }>;
  /** The fingerprint (hex) of the key whose signature verified. */
  signer: string;
}

const MAX_KEYRING = 16 << 20;

/** Every OpenPGP public key in the given keyring files or folders (*.gpg, *.asc, *.pgp). */
export async function loadPgpKeys(paths: readonly string[]): Promise<openpgp.PublicKey[]> {
  const files: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      throw new MinosError('MN0108', `${p}: no such keyring`, { data: { file: p } });
    }
    if (!isDir) files.push(p);
    else for (const n of readdirSync(p).sort()) if (/\.(gpg|asc|pgp)$/.test(n)) files.push(join(p, n));
  }
  const keys: openpgp.PublicKey[] = [];
  for (const f of files) {
    const bytes = readInput(f, MAX_KEYRING);
    const text = bytes.subarray(0, 64).toString('latin1');
    try {
      const got = text.includes('-----BEGIN PGP')
        ? await loadOpenpgp().readKeys({ armoredKeys: bytes.toString('utf8') })
        : await loadOpenpgp().readKeys({ binaryKeys: bytes });
      keys.push(...got);
    } catch (e) {
      throw new MinosError('MN0108', `${f}: not an OpenPGP keyring: ${(e as Error).message}`, { data: { file: f } });
    }
  }
  if (keys.length === 0) throw new MinosError('MN0108', `${paths.join(', ')}: no OpenPGP keys found`);
  return keys;
}

/** Seconds since the epoch of an RFC 2822 date as Release files write it. */
function releaseTime(v: string, label: string, field: string): number {
  const t = Date.parse(v.replace(/ UTC$/, ' GMT'));
  if (!Number.isFinite(t)) throw new MinosError('MN0216', `${label}: ${field} "${v}" is not a date`, { data: { file: label, field } });
  return Math.floor(t / 1000);
}

/**
 * Verify `signed` (the InRelease text) or `detached` (Release.gpg over
 * `signed`, the Release text) with `keys`: at least one valid signature by a
 * trusted key. Returns the signed text and the signer's fingerprint.
 */
export async function verifyRelease(signed: Buffer, label: string, keys: openpgp.PublicKey[], detached?: Buffer): Promise<{ text: string; signer: string }> {
  let text: string;
  let sigs: Awaited<ReturnType<typeof openpgp.verify>>['signatures'];
  try {
    if (detached) {
      const armored = detached.subarray(0, 64).toString('latin1').includes('-----BEGIN PGP');
      const signature = armored ? await loadOpenpgp().readSignature({ armoredSignature: detached.toString('utf8') }) : await loadOpenpgp().readSignature({ binarySignature: detached });
      const message = await loadOpenpgp().createMessage({ binary: signed });
      sigs = (await loadOpenpgp().verify({ message, signature, verificationKeys: keys, format: 'binary' })).signatures;
      text = signed.toString('utf8');
    } else {
      const message = await loadOpenpgp().readCleartextMessage({ cleartextMessage: signed.toString('utf8') });
      const r = await loadOpenpgp().verify({ message, verificationKeys: keys });
      sigs = r.signatures;
      text = String(r.data);
    }
  } catch (e) {
    throw new MinosError('MN0201', `${label}: not a valid OpenPGP signed file: ${(e as Error).message}`, { data: { file: label } });
  }
  const problems: string[] = [];
  for (const s of sigs) {
    try {
      await s.verified;
      const key = keys.find((k) => k.getKeys(s.keyID).length > 0);
      return { text, signer: key ? key.getFingerprint() : s.keyID.toHex() };
    } catch (e) {
      problems.push(`${s.keyID.toHex()}: ${(e as Error).message}`);
    }
  }
  if (sigs.length === 0) throw new MinosError('MN0202', `${label}: no signature`, { data: { file: label } });
  const unknown = problems.every((p) => /Could not find signing key/i.test(p));
  throw new MinosError(unknown ? 'MN0203' : 'MN0201', `${label}: no good signature by a trusted key (${problems.join('; ')})`, {
    data: { file: label },
    hint: unknown ? 'name the keyring that signs this repository under keys:, e.g. /usr/share/keyrings/debian-archive-keyring.gpg' : undefined,
  });
}

/** Parse verified Release text. */
export function parseRelease(text: string, label: string, signer: string): Release {
  const stanzas: Stanza[] = [];
  parseStanzas(text, label, (s) => stanzas.push(s));
  if (stanzas.length !== 1) throw new MinosError('MN0216', `${label}: expected one Release stanza, found ${stanzas.length}`, { data: { file: label } });
  const s = stanzas[0];
  const date = fieldOf(s, 'Date');
  if (date === undefined) throw new MinosError('MN0216', `${label}: no Date field`, { data: { file: label } });
  const until = fieldOf(s, 'Valid-Until');
  const files = new Map<string, { size: number; sha256: string }>();
  const list = fieldOf(s, 'SHA256');
  if (list === undefined) throw new MinosError('MN0216', `${label}: no SHA256 field (MD5Sum and SHA1 alone are not trusted)`, { data: { file: label } });
  for (const line of list.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^\s*([0-9a-f]{64})\s+(\d+)\s+(\S+)\s*$/.exec(line);
    if (!m) throw new MinosError('MN0216', `${label}: malformed SHA256 line "${line.trim().slice(0, 80)}"`, { data: { file: label } });
    files.set(m[3], { size: Number(m[2]), sha256: m[1] });
  }
  return {
    date: releaseTime(date, label, 'Date'),
    validUntil: until === undefined ? undefined : releaseTime(until, label, 'Valid-Until'),
    suite: fieldOf(s, 'Suite') ?? '',
    codename: fieldOf(s, 'Codename') ?? '',
    files,
    signer,
  };
}
