/**
 * Planning an image: open and verify every repository of a spec, turn their
 * indexes into solver candidates and resolve the requested packages. Writes
 * nothing and fetches no payloads.
 */
import { MinosError } from './errors.js';
import type { Arch } from './depend.js';
import { solve, type Candidate, type Changeset } from './solve/solver.js';
import type { ImageSpec } from './spec/image.js';
import { openRepository, type OpenOptions, type Repository } from './repo/source.js';
import { openDebianRepository, setMembers } from './debian/source.js';

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
export async function openRepositories(spec: ImageSpec, opts: OpenOptions & { arch?: Arch }): Promise<Repository[]> {
  const repos: Repository[] = [];
  for (const r of spec.repositories) {
    const repo = r.debian ? await openDebianRepository(r, { arch: opts.arch ?? spec.arch }) : await openRepository(r, opts);
    const twin = repos.find((x) => x.name === repo.name);
    if (twin) {
      throw new MinosError('MN0104', `${spec.file}: repositories ${twin.location} and ${repo.location} are both named "${repo.name}"`, { data: { file: spec.file } });
    }
    repos.push(repo);
  }
  return repos;
}

/** The spec's requests, with every member of its Debian `sets:` added. */
export function requestsOf(spec: ImageSpec, repos: readonly Repository[]): string[] {
  if (spec.sets.length === 0) return spec.packages;
  const pkgs = repos.flatMap((r) => (r.debian ? r.loaded.index.packages : []));
  const names = new Set(spec.packages);
  for (const set of spec.sets) for (const n of setMembers(pkgs, set)) names.add(n);
  return [...names];
}

export function candidatesOf(repos: readonly Repository[]): Candidate[] {
  return repos.flatMap((r) => r.loaded.index.packages.map((meta) => ({ meta, repo: r.name, priority: r.priority })));
}

export async function planImage(spec: ImageSpec, opts: PlanOptions = {}): Promise<Plan> {
  const arch = opts.arch ?? spec.arch;
  const repositories = await openRepositories(spec, { ...opts, arch });
  const candidates = candidatesOf(repositories);
  const changeset = solve({ candidates, arch, requests: requestsOf(spec, repositories), optional: spec.optional });
  return { arch, repositories, candidates, changeset };
}
