/**
 * The local Debian mirror the tests use: tools/debian-mirror.mjs run into
 * .cache/debian-mirror, reused across runs.
 */
import { join } from 'node:path';
import { ROOT } from './cli.js';
import { debianMirror as make } from '../../tools/debian-mirror.mjs';

export { stanzaOf } from '../../tools/debian-mirror.mjs';
export const CACHE = join(ROOT, '.cache');
export const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** Make (or reuse) the mirror folder holding `pkgs` of bookworm main for amd64 and arm64 (and, with `kernels`, their kernels). */
export function debianMirror(pkgs: string[], kernels = false): string {
  return make({ out: join(CACHE, 'debian-mirror'), packages: pkgs, kernels, arches: ['amd64', 'arm64'] });
}
