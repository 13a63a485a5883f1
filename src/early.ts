/**
 * Unpacking ahead of the resolution. A resolving build of a Debian root
 * reads the Packages file, builds the solver's catalog and solves on this
 * thread (~0.6 s for bookworm main) while its unpack thread has nothing to
 * do; yet part of the answer is known while the packages are read: each
 * member of the spec's Debian sets, and each package it names alone, is
 * installed whatever else is chosen, and so is every package of a lockfile
 * the build takes as it is. The best entry read so far of each such name
 * (as the resolver prefers: repository priority, then the newest version)
 * is offered to the worker threads (WorkerPool.offer), never to this
 * thread, which goes on reading; an offer a better entry supersedes is
 * withdrawn if not begun.
 *
 * Contract: `offer` is given entries of a Packages file already checked
 * against its signed Release (source.ts onPackage): no package is parsed
 * whose hash is not signed. `take` gives the early job of a chosen package
 * when one was offered for the same repository, entry (name, version,
 * architecture, file, sha256) and `finish`, and that job has begun; one not
 * begun is withdrawn (undefined: the caller runs it with the rest, on
 * whichever thread is free). `settle` withdraws or waits out every job not
 * taken: until it resolves a worker may still write under `dir`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DebianPackage } from './debian/packages.js';
import { inSet } from './debian/source.js';
import { localFile, whole } from './repo/source.js';
import { parseRequest } from './solve/solver.js';
import { compareVersions } from './version.js';
import type { ImageSpec } from './spec/image.js';
import type { IndexPackage } from './types.js';
import type { UnpackJob, UnpackResult } from './unpack/extract.js';
import type { UnpackPool } from './unpack/pool.js';

export interface EarlyUnpack {
  /** For openRepositories' onPackage; `locked`: `p` is one of the lockfile's packages (read with `only`). */
  offer(repo: string, p: DebianPackage, signer: string, locked?: boolean): void;
  take(repo: string, entry: IndexPackage, finish: UnpackJob['finish']): { dest: string; result: Promise<UnpackResult> } | undefined;
  /** The pool's readShared, for openRepositories: Packages files are read on the worker while this thread verifies. */
  readShared: UnpackPool['readShared'];
  settle(): Promise<void>;
}

interface Offered {
  finish: UnpackJob['finish'];
  dest: string;
  result: Promise<UnpackResult>;
  withdraw(): boolean;
}

/** Offers at most: a Packages file marking every stanza Essential is not unpacked twice over before its resolution fails. */
const MAX_OFFERS = 512;

const keyOf = (repo: string, p: IndexPackage) => `${repo}\0${p.name}\0${p.version}\0${p.arch}\0${p.file}\0${p.sha256}`;

/**
 * Early unpacking into `dir` (which must exist) through `pool`'s worker
 * threads; undefined when the pool has none. `files`: where a repository's
 * package is, if it is there already (a mirror folder, or the download
 * cache); `finish`: the job's finish for a package of this build date.
 */
export function earlyUnpack(pool: UnpackPool, spec: ImageSpec, dir: string, opts: {
  files: (repo: string, p: IndexPackage) => string | undefined;
  finish: (builddate: number) => UnpackJob['finish'];
}): EarlyUnpack | undefined {
  if (!pool.parallel) return undefined;
  const named = new Set<string>();
  for (const r of spec.packages) {
    const alts = parseRequest(r).alts;
    if (alts.length === 1) named.add(alts[0].desc.name);
  }
  const priority = new Map(spec.repositories.map((r) => [r.name!, r.priority]));
  /** Per name, the entry offered and its repository (the key into `offered`). */
  const best = new Map<string, { repo: string; p: IndexPackage; key: string }>();
  const better = (repo: string, p: IndexPackage, than: { repo: string; p: IndexPackage }) => {
    const a = priority.get(repo) ?? 0;
    const b = priority.get(than.repo) ?? 0;
    return a !== b ? a > b : compareVersions(p.version, than.p.version) > 0;
  };
  let count = 0;
  const offered = new Map<string, Offered>();
  return {
    readShared: pool.readShared,
    offer(repo, p, signer, locked) {
      if (count >= MAX_OFFERS || !(locked || named.has(p.name) || spec.sets.some((s) => inSet(p.debian, s)))) return;
      const was = best.get(p.name);
      if (was && !better(repo, p, was)) return;
      // Taken back if not begun (a begun one runs on, and may still be taken).
      if (was && offered.get(was.key)?.withdraw()) offered.delete(was.key);
      best.set(p.name, { repo, p, key: keyOf(repo, p) });
      const file = opts.files(repo, p);
      if (file === undefined) return;
      const finish = opts.finish(p.builddate);
      const dest = join(dir, `early-${count++}-${p.name}`);
      const entry = whole(p);
      const job: UnpackJob = { file, keyring: new Map(), expect: { size: p.size, sha256: p.sha256 }, dest, finish, deb: { entry, signer } };
      const o = pool.offer(job);
      if (!o) return;
      o.result.catch(() => {});
      offered.set(keyOf(repo, p), { finish, dest, ...o });
    },
    take(repo, entry, finish) {
      const key = keyOf(repo, entry);
      const o = offered.get(key);
      if (!o || o.finish?.mtime !== finish?.mtime || o.finish?.umask !== finish?.umask) return undefined;
      offered.delete(key);
      return o.withdraw() ? undefined : o;
    },
    async settle() {
      const running = [...offered.values()].filter((o) => !o.withdraw()).map((o) => o.result);
      offered.clear();
      await Promise.allSettled(running);
    },
  };
}

/** Where a repository's package already is: its mirror folder's file, or the download cache's copy; else undefined. */
export function presentFile(spec: ImageSpec, cacheDir: string): (repo: string, p: IndexPackage) => string | undefined {
  return (repo, p) => {
    const r = spec.repositories.find((x) => x.name === repo);
    const f = r && localFile(r, p, cacheDir);
    return f !== undefined && existsSync(f) ? f : undefined;
  };
}
