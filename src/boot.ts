/**
 * Booting an initramfs image under qemu, as `mkosi vm` does for its images.
 *
 * Contract: `kernelFromSpec` finds the kernel in the spec's Debian sources
 * (linux-image-ARCH → the linux-image-* package it depends on), fetches and
 * verifies that package like any other and returns its `boot/vmlinuz-*`,
 * cached by the package's sha256. `bootImage` runs the right qemu-system-*
 * with the image as initramfs and a serial console; it resolves when the
 * guest powers off and rejects with MN0012 when the guest kernel panics, qemu
 * fails, or the timeout passes (qemu is then killed). The console output is
 * handed to `onOutput` as it comes; keyboard input is this process's stdin.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDeb } from './debian/deb.js';
import { MinosError } from './errors.js';
import { openRepositories } from './plan.js';
import { packageFile, type Repository } from './repo/source.js';
import type { Arch } from './depend.js';
import type { ImageSpec } from './spec/image.js';
import type { IndexPackage } from './types.js';

interface Machine {
  qemu: string;
  args: string[];
  console: string;
}

const MACHINES: Partial<Record<Arch, Machine>> = {
  x86_64: { qemu: 'qemu-system-x86_64', args: [], console: 'ttyS0' },
  aarch64: { qemu: 'qemu-system-aarch64', args: ['-M', 'virt', '-cpu', 'cortex-a57'], console: 'ttyAMA0' },
};

const META: Partial<Record<Arch, string>> = { x86_64: 'linux-image-amd64', aarch64: 'linux-image-arm64' };

export function bootableArches(): Arch[] {
  return Object.keys(MACHINES) as Arch[];
}

/** `name` from the Debian repository of highest priority that has it. */
function newest(repos: Repository[], name: string): { repo: Repository; entry: IndexPackage } | undefined {
  let best: { repo: Repository; entry: IndexPackage } | undefined;
  for (const repo of repos) {
    if (!repo.debian) continue;
    for (const entry of repo.loaded.index.packages) if (entry.name === name && (!best || best.repo.priority < repo.priority)) best = { repo, entry };
  }
  return best;
}

/** Path of the verified kernel for `arch` from the spec's Debian repositories, cached in `cacheDir`. */
export async function kernelFromSpec(spec: ImageSpec, arch: Arch, cacheDir: string): Promise<string> {
  const meta = META[arch];
  if (!meta) throw new MinosError('MN0002', `minos boot: no kernel package known for ${arch}`);
  const repos = await openRepositories(spec, { arch, allowExpired: true });
  const m = newest(repos, meta);
  if (!m) throw new MinosError('MN0302', `${spec.file}: no Debian repository of the spec has ${meta}`, { hint: 'give the kernel with --kernel FILE' });
  const real = m.entry.depends.map((d) => d.split(/[ |]/)[0]).find((n) => n.startsWith('linux-image-'));
  const k = real && newest(repos, real);
  if (!k) throw new MinosError('MN0302', `${spec.file}: ${meta} depends on no linux-image package the repositories have`);
  const dest = join(cacheDir, `${k.entry.sha256}.vmlinuz`);
  if (existsSync(dest)) return dest;
  const file = await packageFile(k.repo, k.entry, join(cacheDir, 'packages'));
  const parts: Buffer[] = [];
  let inKernel = false;
  readDeb(file, {
    expect: { size: k.entry.size, sha256: k.entry.sha256 }, entry: k.entry, signer: k.repo.debian!.release.signer,
    sink: {
      begin: (e) => (inKernel = e.type === 'file' && /^boot\/vmlinuz-/.test(e.path)),
      data: (c) => {
        if (inKernel) parts.push(Buffer.from(c));
      },
      end: () => (inKernel = false),
    },
  });
  if (parts.length === 0) throw new MinosError('MN0216', `${file}: ${k.entry.name} holds no boot/vmlinuz-*`);
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(`${dest}.part-${process.pid}`, Buffer.concat(parts));
  renameSync(`${dest}.part-${process.pid}`, dest);
  return dest;
}

export interface BootOptions {
  image: string;
  kernel: string;
  arch: Arch;
  /** Seconds before the guest is killed. */
  timeout: number;
  /** Extra kernel command line. */
  append?: string;
  memoryMiB?: number;
  /** qemu's standard input: the terminal ('inherit') or nothing ('ignore'). */
  stdin: 'inherit' | 'ignore';
  /** The console output, as it comes. */
  onOutput: (chunk: Buffer) => void;
}

export function bootImage(opts: BootOptions): Promise<void> {
  const m = MACHINES[opts.arch];
  if (!m) throw new MinosError('MN0002', `minos boot: cannot boot ${opts.arch} (one of ${bootableArches().join(', ')})`);
  const args = [
    ...m.args, '-m', String(opts.memoryMiB ?? 256), '-nographic', '-no-reboot',
    '-kernel', opts.kernel, '-initrd', opts.image,
    '-append', `console=${m.console} panic=-1 ${opts.append ?? ''}`.trim(),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(m.qemu, args, { stdio: [opts.stdin, 'pipe', 'pipe'] });
    // With -no-reboot a panic (panic=-1 reboots) also ends qemu with status 0: tell them apart.
    let tail = '';
    let panicked = false;
    const seen = (d: Buffer) => {
      tail = (tail + d.toString('latin1')).slice(-4096);
      if (tail.includes('Kernel panic - not syncing')) panicked = true;
      opts.onOutput(d);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new MinosError('MN0012', `${opts.image}: the guest did not power off within ${opts.timeout} s`, { hint: 'the image\'s /init should end with `poweroff -f`; or raise --timeout' }));
    }, opts.timeout * 1000);
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new MinosError('MN0012', `${m.qemu}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : e.message}`, { hint: `install it (Debian: apt-get install ${opts.arch === 'x86_64' ? 'qemu-system-x86' : 'qemu-system-arm'})` }));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && panicked) reject(new MinosError('MN0012', `${opts.image}: the guest kernel panicked`, { hint: 'see the console output above; an initramfs needs an executable /init' }));
      else if (code === 0) resolve();
      else if (signal !== 'SIGKILL') reject(new MinosError('MN0012', `${m.qemu} exited with ${signal ?? `status ${code}`}`));
    });
  });
}
