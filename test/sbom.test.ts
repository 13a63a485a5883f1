/** sbom.ts: DEPENDS_ON relationships from each package to the installed packages that satisfy its dependencies. */
import t from 'tap';
import { makeSbom, type SbomPackage } from '../src/sbom.js';
import type { PackageMeta } from '../src/types.js';

function pkg(name: string, version: string, depends: string[] = [], provides: string[] = []): SbomPackage {
  const meta = { name, version, arch: 'x86_64', summary: '', license: 'MIT', depends, provides, conflicts: [], replaces: [], optional: [], builddate: 0, installedSize: 0 } as PackageMeta;
  return { meta, repo: 'r', sha256: '0'.repeat(64), location: `${name}.mpk` };
}

/** `from -> to` for every DEPENDS_ON, by package name. */
function edges(pkgs: SbomPackage[]): string[] {
  const doc = makeSbom({ image: 'x', created: 0, tool: 't', packages: pkgs }) as { packages: { SPDXID: string; name: string }[]; relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[] };
  const name = new Map(doc.packages.map((p) => [p.SPDXID, p.name]));
  return doc.relationships.filter((r) => r.relationshipType === 'DEPENDS_ON').map((r) => `${name.get(r.spdxElementId)} -> ${name.get(r.relatedSpdxElement)}`);
}

t.test('names, versions, provides and alternatives', async (t) => {
  const pkgs = [
    pkg('app', '1', ['libc >= 2', 'sh', 'awk | gawk', 'mail-agent >= 3', 'editor >= 1', 'missing']),
    pkg('libc', '2.36'),
    pkg('old', '1', ['libc >= 3']),
    pkg('dash', '0.5', [], ['sh']),
    pkg('busybox', '1.36', [], ['sh = 1.36']),
    pkg('mawk', '1.3', [], ['awk']),
    pkg('gawk', '5.2'),
    pkg('exim', '4', ['exim'], ['mail-agent = 4']),
    pkg('postfix', '3', [], ['mail-agent = 2']),
    pkg('nano', '7', [], ['editor']),
  ];
  t.same(edges(pkgs), [
    'app -> busybox', 'app -> dash', 'app -> exim', 'app -> gawk', 'app -> libc', 'app -> mawk',
  ], 'a versioned dependency takes a matching versioned provide only; an unsatisfied one and a package itself add nothing');
});
