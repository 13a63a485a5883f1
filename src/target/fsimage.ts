/** The filesystem image targets, by format: squashfs (squashfs.ts) and erofs (erofs.ts). */
import type { Stage } from '../engine/stage.js';
import { writeErofs } from './erofs.js';
import type { Resolved } from './output.js';
import { writeSquashfs, type SquashfsCompression } from './squashfs.js';

export interface FsImageOptions {
  mtime: number;
  /** squashfs only; default zstd. */
  compression?: SquashfsCompression;
  /** zstd level for squashfs; default 3. */
  level?: number;
}

export function writeFsImage(format: 'squashfs' | 'erofs', stage: Stage, nodes: readonly Resolved[], file: string, opts: FsImageOptions): void {
  if (format === 'squashfs') writeSquashfs(stage, nodes, file, opts);
  else writeErofs(stage, nodes, file, { mtime: opts.mtime });
}
