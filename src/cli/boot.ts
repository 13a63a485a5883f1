/** `minos boot IMAGE.cpio`: run an initramfs image under qemu (src/boot.ts). */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { bootImage, kernelFromSpec } from '../boot.js';
import { MinosError } from '../errors.js';
import type { Arch } from '../depend.js';
import { loadImageSpec } from '../spec/image.js';
import { cacheBase } from './build.js';
import type { Io } from './io.js';
import { archOption } from './plan.js';

const HOST: Record<string, Arch> = { x64: 'x86_64', arm64: 'aarch64' };

export function registerBoot(program: Command, io: Io): void {
  program
    .command('boot')
    .description('boot an initramfs image (a .cpio made by minos build) under qemu, console on this terminal')
    .argument('<image>', 'the .cpio image')
    .option('--arch <arch>', 'architecture to emulate (default: the spec\'s, else this machine\'s)')
    .option('--kernel <file>', 'the kernel to boot')
    .option('--spec <file>', 'take the kernel from this image spec\'s Debian repositories (linux-image-ARCH)')
    .option('--timeout <seconds>', 'kill the guest after this long (exit 1)', '120')
    .option('--append <args>', 'extra kernel command line')
    .action(async (image: string, opts: { arch?: string; kernel?: string; spec?: string; timeout: string; append?: string }) => {
      const img = resolve(image);
      if (!existsSync(img) || !statSync(img).isFile()) throw new MinosError('MN0101', `${img}: no such image file`, { data: { file: img } });
      if (!/^\d{1,5}$/.test(opts.timeout) || Number(opts.timeout) === 0) throw new MinosError('MN0002', `--timeout ${opts.timeout}: expected seconds`);
      const spec = opts.spec === undefined ? undefined : loadImageSpec(resolve(opts.spec));
      const arch = archOption(opts.arch) ?? spec?.arch ?? HOST[process.arch];
      if (!arch) throw new MinosError('MN0002', 'give --arch');
      let kernel = opts.kernel === undefined ? undefined : resolve(opts.kernel);
      if (kernel === undefined) {
        if (!spec) throw new MinosError('MN0002', 'give --kernel FILE or --spec SPEC (a spec with a Debian repository)');
        kernel = await kernelFromSpec(spec, arch, resolve(cacheBase(), 'kernels'));
        io.err(`minos: kernel ${kernel}`);
      }
      await bootImage({
        image: img, kernel, arch, timeout: Number(opts.timeout), append: opts.append,
        stdin: process.stdin.isTTY ? 'inherit' : 'ignore', // The guest's console is a terminal session of its own: passed through unescaped.
        onOutput: (d) => process.stdout.write(d),
      });
    });
}
