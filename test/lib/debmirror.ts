/**
 * The local Debian mirror the tests use: tools/debian-mirror.mjs run into
 * .cache/debian-mirror, reused across runs.
 */
import { join } from 'node:path';
import { minos, ROOT } from './cli.js';
import { debianMirror as make } from '../../tools/debian-mirror.mjs';

export { stanzaOf } from '../../tools/debian-mirror.mjs';
export const CACHE = join(ROOT, '.cache');
export const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** Make (or reuse) the mirror folder holding `pkgs` of bookworm main for amd64 and arm64 (and, with `kernels`, their kernels). */
export function debianMirror(pkgs: string[], kernels = false): string {
  return make({ out: join(CACHE, 'debian-mirror'), packages: pkgs, kernels, arches: ['amd64', 'arm64'] });
}

/**
 * The mirror holding, for amd64 and arm64, every package of the essential
 * set of images/debian-minimal.yaml as minos plans it (and busybox-static).
 * Test files that build that image call it: run in parallel on a fresh
 * clone, none may rely on another having filled the mirror first.
 */
export function essentialMirror(): string {
  const out = debianMirror(['busybox-static']);
  const names = new Set<string>(['busybox-static']);
  for (const arch of ['x86_64', 'aarch64']) {
    const r = minos(['plan', join(ROOT, 'images/debian-minimal.yaml'), '--arch', arch, '--json']);
    if (r.code !== 0) throw new Error(r.stderr);
    for (const p of (JSON.parse(r.stdout) as { install: { name: string }[] }).install) names.add(p.name);
  }
  debianMirror([...names].sort());
  return out;
}
