/**
 * Planning an image: open and verify every repository of a spec, turn their
 * indexes into solver candidates and resolve the requested packages. Writes
 * nothing and fetches no payloads.
 */
import { MinosError } from './errors.js';
import type { Arch } from './solve/depend.js';
import { solve, type Candidate, type Changeset } from './solve/solver.js';
import type { ImageSpec } from './spec/image.js';
import { openRepository, type OpenOptions, type Repository } from './repo/source.js';

export interface PlanOptions extends OpenOptions {
  /** Overrides the spec's architecture. */
  arch?: Arch;
}

export interface Plan {
  arch: Arch;
  repositories: Repository[];
  candidates: Candidate[];
  changeset: Changeset;
}

/** Open every repository of the spec; two with the same name are an error. */
export async function openRepositories(spec: ImageSpec, opts: OpenOptions): Promise<Repository[]> {
  const repos: Repository[] = [];
  for (const r of spec.repositories) {
    const repo = await openRepository(r, opts);
    const twin = repos.find((x) => x.name === repo.name);
    if (twin) {
      throw new MinosError('MN0104', `${spec.file}: repositories ${twin.location} and ${repo.location} are both named "${repo.name}"`, { data: { file: spec.file } });
    }
    repos.push(repo);
  }
  return repos;
}

export function candidatesOf(repos: readonly Repository[]): Candidate[] {
  return repos.flatMap((r) => r.loaded.index.packages.map((meta) => ({ meta, repo: r.name, priority: r.priority })));
}

export async function planImage(spec: ImageSpec, opts: PlanOptions = {}): Promise<Plan> {
  const arch = opts.arch ?? spec.arch;
  const repositories = await openRepositories(spec, opts);
  const candidates = candidatesOf(repositories);
  const changeset = solve({ candidates, arch, requests: spec.packages, optional: spec.optional });
  return { arch, repositories, candidates, changeset };
}
