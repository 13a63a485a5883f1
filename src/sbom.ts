/**
 * SPDX 2.3 JSON software bill of materials for a built image: one SPDX
 * package per installed package (version, license, sha256 of the package
 * file, supplier = repository) and DEPENDS_ON relationships from each
 * package to the installed packages that satisfy its dependencies.
 * licenseDeclared is the package's own license field, else the license its
 * machine-readable Debian copyright file declares (debian/copyright.ts),
 * else NOASSERTION.
 */
import { createHash } from 'node:crypto';
import { parseDependency, parseProvide, satisfies } from './depend.js';
import type { PackageMeta } from './types.js';

export interface SbomPackage {
  meta: PackageMeta;
  repo: string;
  sha256: string;
  /** Where the package came from: a URL or a file name. */
  location: string;
  /** The license found in the package's files, used when its metadata declares none. */
  license?: string;
  /** In the SBOM of several architectures: the image architectures that install it (dependencies stay within them). */
  images?: readonly string[];
}

function spdxId(name: string, used: Set<string>): string {
  const base = `SPDXRef-Package-${name.replace(/[^A-Za-z0-9.-]/g, '-')}`;
  let id = base;
  for (let i = 2; used.has(id); i++) id = `${base}-${i}`;
  used.add(id);
  return id;
}

/** What a name stands for: a package of that name (`version` its own), or one providing it (`version` the provided one, if any). */
interface Holder {
  p: SbomPackage;
  version: string | undefined;
  provided: boolean;
}

/** The holders of every name, each package's provides parsed once (a scan per dependency made the SBOM of n packages take n² steps). */
function holdersOf(pkgs: readonly SbomPackage[]): Map<string, Holder[]> {
  const m = new Map<string, Holder[]>();
  const add = (name: string, h: Holder) => {
    const l = m.get(name);
    if (l) l.push(h);
    else m.set(name, [h]);
  };
  for (const p of pkgs) {
    add(p.meta.name, { p, version: p.meta.version, provided: false });
    for (const prov of p.meta.provides) {
      const d = parseProvide(prov);
      add(d.name, { p, version: d.constraint?.version, provided: true });
    }
  }
  return m;
}

/** Installed packages that satisfy `dep` (any alternative). */
function satisfiers(dep: string, holders: Map<string, Holder[]>): SbomPackage[] {
  const out = new Set<SbomPackage>();
  for (const alt of parseDependency(dep)) {
    for (const h of holders.get(alt.name) ?? []) {
      // A versioned dependency takes only a versioned provide.
      const ok = !h.provided ? satisfies(h.version!, alt.constraint) : !alt.constraint || (h.version !== undefined && satisfies(h.version, alt.constraint));
      if (ok) out.add(h.p);
    }
  }
  return [...out];
}

export function makeSbom(opts: { image: string; created: number; tool: string; packages: readonly SbomPackage[] }): object {
  const pkgs = [...opts.packages].sort((a, b) => (a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : a.meta.arch < b.meta.arch ? -1 : 1));
  const together = (a: SbomPackage, b: SbomPackage) => !a.images || !b.images || a.images.some((x) => b.images!.includes(x));
  const used = new Set<string>();
  const ids = new Map(pkgs.map((p) => [p, spdxId(p.meta.name, used)]));
  const digest = createHash('sha256').update(pkgs.map((p) => `${p.meta.name} ${p.meta.version} ${p.sha256}`).join('\n')).digest('hex');
  const relationships: object[] = pkgs.map((p) => ({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: ids.get(p) }));
  const holders = holdersOf(pkgs);
  for (const p of pkgs) {
    const deps = new Set<SbomPackage>();
    for (const d of p.meta.depends) for (const s of satisfiers(d, holders)) if (s !== p && together(p, s)) deps.add(s);
    for (const s of [...deps].sort((a, b) => (a.meta.name < b.meta.name ? -1 : 1))) {
      relationships.push({ spdxElementId: ids.get(p), relationshipType: 'DEPENDS_ON', relatedSpdxElement: ids.get(s) });
    }
  }
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: opts.image,
    documentNamespace: `https://spdx.minos.invalid/${encodeURIComponent(opts.image)}-${digest}`,
    creationInfo: { created: new Date(opts.created * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'), creators: [`Tool: ${opts.tool}`] },
    packages: pkgs.map((p) => ({
      SPDXID: ids.get(p),
      name: p.meta.name,
      versionInfo: p.meta.version,
      supplier: `Organization: ${p.repo}`,
      downloadLocation: /^https?:/.test(p.location) ? p.location : 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: p.meta.license.trim() || p.license || 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      summary: p.meta.summary,
      checksums: [{ algorithm: 'SHA256', checksumValue: p.sha256 }],
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purlOf(p.meta) }],
    })),
    relationships,
  };
}

/** Package URL: `pkg:deb/debian/NAME@VERSION?arch=amd64` for Debian packages, `pkg:generic/...` for minos packages. */
export function purlOf(m: PackageMeta): string {
  const v = encodeURIComponent(m.version);
  if (m.debian) return `pkg:deb/debian/${encodeURIComponent(m.name)}@${v}?arch=${m.debian.debArch}`;
  return `pkg:generic/${encodeURIComponent(m.name)}@${v}?arch=${m.arch}`;
}
