// Deterministic benchmark payload trees mixing binaries (copied from the host's
// /usr/bin and /usr/lib, sorted, so the same machine gives the same tree) and
// generated text. Cached under bench/.work/.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WORK = join(dirname(fileURLToPath(import.meta.url)), '.work');

/** Host binaries of 4 KiB..maxSize, in a fixed order (sorted folders and names). */
export function* hostBinaries(maxSize = 16 << 20) {
  for (const d of ['/usr/bin', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/libexec']) {
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isFile() && st.size >= 4096 && st.size <= maxSize) yield { path: p, size: st.size, name };
    }
  }
}

function text(seed, size) {
  const words = ['package', 'minos', 'root', 'image', 'zstd', 'verify', 'signature', 'the', 'of', 'and', 'install', 'config', 'usr', 'lib', 'share', 'doc', '=', '{', '}', 'return', 'function'];
  let h = createHash('sha256').update(seed).digest();
  const out = [];
  let n = 0;
  let i = 0;
  while (n < size) {
    if (i === h.length) {
      h = createHash('sha256').update(h).digest();
      i = 0;
    }
    const w = words[h[i++] % words.length];
    out.push(w);
    n += w.length + 1;
    if (h[i % h.length] % 9 === 0) {
      out.push('\n');
      n++;
    }
  }
  return out.join(' ').slice(0, size);
}

/**
 * A tree of about `mib` MiB: half host binaries, half text files of 1–64 KiB.
 * Returns its folder.
 */
export function payloadTree(mib, name = `payload-${mib}`) {
  const dir = join(WORK, name);
  if (existsSync(join(dir, '.done'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  const budget = mib << 20;
  let bin = 0;
  let k = 0;
  for (const b of hostBinaries()) {
    if (bin + b.size > budget / 2) continue;
    const dest = join(tmp, 'usr/lib/bench', `d${k % 16}`, `${k}-${b.path.split('/').pop()}`);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(b.path, dest);
    bin += b.size;
    k++;
  }
  let txt = 0;
  for (let j = 0; bin + txt < budget; j++) {
    const size = 1024 * (1 + ((j * 7919) % 64));
    const dest = join(tmp, 'usr/share/bench', `t${j % 32}`, `f${j}.txt`);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, text(`f${j}`, size));
    txt += size;
  }
  writeFileSync(join(tmp, '.done'), '');
  renameSync(tmp, dir);
  return dir;
}
