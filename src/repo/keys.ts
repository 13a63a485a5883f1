/**
 * Ed25519 keys. Secret keys are PKCS#8 PEM, public keys SPKI PEM: exactly what
 * `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write. A key id
 * is the first 16 hex digits of SHA-256 over the public key's SPKI DER bytes.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ioError, MinosError, quote } from '../errors.js';
import { CAP, readInput } from '../input.js';

export interface PublicKey {
  id: string;
  key: KeyObject;
  /** Where the key was read from, for messages. */
  file: string;
}

export interface SecretKey extends PublicKey {
  secret: KeyObject;
}

/** Trusted public keys by key id. */
export type Keyring = Map<string, PublicKey>;

export function keyId(pub: KeyObject): string {
  const der = pub.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

function readKeyFile(file: string): Buffer {
  return readInput(file, CAP.key, { tooLarge: 'MN0108' });
}

function notEd25519(file: string, what: string, cause?: unknown): MinosError {
  return new MinosError('MN0108', `${file}: not an Ed25519 ${what} key in PEM form`, {
    cause,
    hint: 'make one with `minos key generate NAME` or `openssl genpkey -algorithm ed25519`',
    data: { file },
  });
}

export function loadSecretKey(file: string): SecretKey {
  const pem = readKeyFile(file);
  let secret: KeyObject;
  try {
    secret = createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw notEd25519(file, 'secret', e);
  }
  if (secret.asymmetricKeyType !== 'ed25519') throw notEd25519(file, 'secret');
  const key = createPublicKey(secret);
  return { id: keyId(key), key, secret, file };
}

export function loadPublicKey(file: string): PublicKey {
  const pem = readKeyFile(file);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw notEd25519(file, 'public', e);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw notEd25519(file, 'public');
  return { id: keyId(key), key, file };
}

/**
 * Build a keyring from public key files and folders (every `*.pub` inside).
 * A secret key file is accepted too: its public half is trusted.
 */
export function loadKeyring(paths: readonly string[]): Keyring {
  const ring: Keyring = new Map();
  const add = (file: string) => {
    const text = readKeyFile(file).toString('latin1');
    const k = text.includes('PRIVATE KEY') ? loadSecretKey(file) : loadPublicKey(file);
    ring.set(k.id, { id: k.id, key: k.key, file });
  };
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      throw ioError(e, p, 'MN0101');
    }
    if (!isDir) {
      add(p);
      continue;
    }
    for (const name of readdirSync(p).sort()) if (name.endsWith('.pub')) add(join(p, name));
  }
  return ring;
}

export function signBytes(data: Uint8Array, key: SecretKey): Buffer {
  return sign(null, data, key.secret);
}

export function verifyBytes(data: Uint8Array, signature: Uint8Array, key: PublicKey): boolean {
  if (signature.length !== 64) return false;
  return verify(null, data, key.key, signature);
}

/** Write a file that must not exist yet, with the given mode, durably. */
function writeNew(file: string, data: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new MinosError('MN0109', `${file}: already exists, not overwriting a key`, { data: { file } });
    }
    throw ioError(e, file);
  }
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Create NAME.key (mode 0600) and NAME.pub in `dir` (made, mode 0700, if missing); refuses to overwrite. */
export function generateKey(dir: string, name: string): { id: string; secretFile: string; publicFile: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new MinosError('MN0002', `invalid key name ${quote(name)}: use letters, digits, ".", "_" and "-"`);
  }
  // A folder made here holds a secret key: private, as ssh-keygen makes ~/.ssh.
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw ioError(e, dir);
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const secretFile = join(dir, `${name}.key`);
  const publicFile = join(dir, `${name}.pub`);
  for (const f of [secretFile, publicFile]) {
    try {
      statSync(f);
      throw new MinosError('MN0109', `${f}: already exists, not overwriting a key`, { data: { file: f } });
    } catch (e) {
      if (e instanceof MinosError) throw e;
    }
  }
  writeNew(secretFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  writeNew(publicFile, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  return { id: keyId(publicKey), secretFile, publicFile };
}
