/**
 * The merged-/usr layout of bookworm: the top-level program and library
 * folders are symlinks into /usr, made before the first package is unpacked
 * (as debootstrap's setup_merged_usr does), so a package's "/bin/ls" lands
 * in /usr/bin/ls. The engine maps every entry path through canonicalPath;
 * the dpkg database keeps the paths the packages ship (dpkg -S /bin/ls).
 */
import type { EffectOp } from './types.js';

/** Per Debian architecture, the lib folders beyond bin, sbin and lib (debootstrap's table). */
const ARCH_LIB_DIRS: Record<string, readonly string[]> = {
  amd64: ['lib32', 'lib64', 'libx32'],
  i386: ['lib64', 'libx32'],
  x32: ['lib32', 'lib64', 'libx32'],
  mips: ['lib32', 'lib64'],
  mipsel: ['lib32', 'lib64'],
  mips64el: ['lib32', 'lib64', 'libo32'],
  powerpc: ['lib64'],
  ppc64: ['lib32', 'lib64'],
  ppc64el: ['lib64'],
  s390x: ['lib32'],
  sparc: ['lib64'],
  sparc64: ['lib32', 'lib64'],
  loong64: ['lib64'],
};

/** The top-level folders that are links into /usr on a merged root of ARCH, in creation order. */
export function mergedDirs(arch: string): string[] {
  return ['bin', 'sbin', 'lib', ...(ARCH_LIB_DIRS[arch] ?? [])];
}

/**
 * The path an entry really occupies on a merged root: "/bin/ls" ->
 * "/usr/bin/ls", "/lib64" -> "/usr/lib64"; any other path unchanged. PATH
 * must be absolute and normalized (no "//", ".", ".." or trailing "/").
 */
export function canonicalPath(path: string, arch: string): string {
  const slash = path.indexOf('/', 1);
  const top = slash < 0 ? path.slice(1) : path.slice(1, slash);
  return mergedDirs(arch).includes(top) ? `/usr${path}` : path;
}

/** The folders in /usr and the links to them, as debootstrap leaves them before unpacking. */
export function mergedUsrOps(arch: string): EffectOp[] {
  const ops: EffectOp[] = [{ op: 'mkdir', path: '/usr', mode: 0o755, uid: 0, gid: 0 }];
  for (const d of mergedDirs(arch)) {
    ops.push({ op: 'mkdir', path: `/usr/${d}`, mode: 0o755, uid: 0, gid: 0 });
    ops.push({ op: 'symlink', path: `/${d}`, target: `usr/${d}` });
  }
  return ops;
}
