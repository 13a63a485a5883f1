/**
 * Changing what a root trusts: keys (ROOT/etc/minos/keys), Debian keyrings
 * and the repository list. Each command is one transaction (configtxn.ts):
 * `repo add --key K` writes the key and the list together or not at all.
 * Call with the write lock held.
 */
import { basename } from 'node:path';
import { MinosError } from '../errors.js';
import type { PublicKey } from '../repo/keys.js';
import { changeFiles, type FileChange } from './configtxn.js';
import type { Emit } from './events.js';
import { findKey, keyFile, KEYRINGS_DIR, KEYS_DIR, parseRepoConfig, readRepoConfig, repoConfigBytes, REPOS_FILE, type RepoConfig } from './root.js';

/** Trust the public keys in `files` (copied to ROOT/etc/minos/keys/ID.pub). */
export function trustKeys(root: string, files: readonly string[], command: string, emit?: Emit): PublicKey[] {
  const keys = files.map((f) => keyFile(f));
  changeFiles(root, keys.map((k) => ({ path: k.path, data: k.data })), command, emit);
  return keys.map((k) => k.key);
}

/** Stop trusting the key with id (or unique id prefix) `id`. */
export function untrustKey(root: string, id: string, command: string, emit?: Emit): PublicKey {
  const k = findKey(root, id);
  changeFiles(root, [{ path: `${KEYS_DIR}/${basename(k.file)}` }], command, emit);
  return k;
}

/**
 * Add repository `entry`. `keyFiles` (a minos repository) are trusted with
 * it and become its keys; `keyring` (a Debian repository) is written as
 * ROOT/etc/minos/keyrings/NAME.gpg.
 */
export function addRepo(root: string, entry: RepoConfig, extra: { keyFiles?: readonly string[]; keyring?: Buffer }, command: string, emit?: Emit): RepoConfig {
  const repos = readRepoConfig(root);
  if (repos.some((r) => r.name === entry.name)) {
    throw new MinosError('MN0002', `repository "${entry.name}" is already configured`, { hint: 'remove it first with `minos repo remove NAME`' });
  }
  const changes: FileChange[] = [];
  let added = entry;
  if (extra.keyFiles?.length) {
    const keys = extra.keyFiles.map((f) => keyFile(f));
    for (const k of keys) changes.push({ path: k.path, data: k.data });
    added = { ...entry, keys: [...new Set(keys.map((k) => k.key.id))].sort() };
  }
  if (extra.keyring) {
    const name = `${entry.name}.gpg`;
    changes.push({ path: `${KEYRINGS_DIR}/${name}`, data: extra.keyring });
    added = { ...added, debian: { ...added.debian!, keyrings: [name] } };
  }
  const bytes = repoConfigBytes([...repos, added]);
  parseRepoConfig(root, JSON.parse(bytes.toString())); // what is written must read back
  changes.push({ path: REPOS_FILE, data: bytes });
  changeFiles(root, changes, command, emit);
  return added;
}

/** Remove repository `name` from the list (installed packages stay). */
export function removeRepo(root: string, name: string, command: string, emit?: Emit): void {
  const repos = readRepoConfig(root);
  if (!repos.some((r) => r.name === name)) throw new MinosError('MN0002', `no repository "${name}" is configured`);
  changeFiles(root, [{ path: REPOS_FILE, data: repoConfigBytes(repos.filter((r) => r.name !== name)) }], command, emit);
}
