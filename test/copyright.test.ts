/**
 * Licenses from Debian copyright files: the DEP-5 rule on small texts, then
 * the SBOM of an image built from the Debian mirror (ncurses-base's
 * copyright is machine-readable, busybox-static's is not) and the license
 * `minos import deb` writes into a manifest.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { minos, sh, tempDir } from './lib/cli.js';
import { debianMirror, KEYRING, stanzaOf } from './lib/debmirror.js';
import { writeSpec } from './lib/repo.js';
import { copyrightLicense } from '../src/debian/copyright.js';

const FORMAT = 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/';

t.test('the DEP-5 rule', async (t) => {
  const text = (...stanzas: string[]) => stanzas.join('\n\n');
  t.equal(copyrightLicense(text(FORMAT, 'Files: *\nCopyright: x\nLicense: Zlib\n text of it')), 'Zlib', 'Files: * alone');
  t.equal(copyrightLicense(text(FORMAT.replace('https', 'http'), 'Files: *\nLicense: Zlib')), 'Zlib', 'the http URL too');
  t.equal(copyrightLicense(text(`${FORMAT}\nUpstream-Name: x`, 'Files: *\nLicense: GPL-2+', 'Files: debian/*\nLicense: gpl-2+', 'Files: a.c\nLicense: BSD-3-clause', 'License: BSD-3-clause\n text')),
    'GPL-2+ AND BSD-3-clause', 'every Files stanza once, in order, standalone License stanzas ignored');
  t.equal(copyrightLicense(text(FORMAT, 'Files: *\nLicense: GPL-1+ or Artistic', 'Files: x\nLicense: GPL-2+ with OpenSSL exception')),
    '(GPL-1+ OR Artistic) AND (GPL-2+ WITH OpenSSL exception)', 'or/with as OR/WITH, compound names in parentheses');
  t.equal(copyrightLicense(text(FORMAT, 'Files: *\nLicense: GPL-1+ or Artistic')), 'GPL-1+ OR Artistic', 'one compound name needs no parentheses');
  t.equal(copyrightLicense('This package was debianized by someone.\n\nCopyright: 1999\n'), undefined, 'free text is not machine-readable');
  t.equal(copyrightLicense(text('Format: http://dep.debian.net/deps/dep5', 'Files: *\nLicense: MIT')), undefined, 'another Format is not this one');
  t.equal(copyrightLicense(text(FORMAT, 'Files: *\nCopyright: x')), undefined, 'a Files stanza without License');
  t.equal(copyrightLicense(text(FORMAT, 'Upstream-Name: x')), undefined, 'no Files stanza');
  t.equal(copyrightLicense(`${FORMAT}\nnot a field line\n`), undefined, 'not deb822');
});

t.test('an image from the Debian mirror: licenseDeclared from DEP-5 copyright files, NOASSERTION otherwise', async (t) => {
  const mirror = debianMirror(['busybox-static', 'ncurses-base']);
  const dir = tempDir(t, 'minos-copyright-');
  const spec = writeSpec(join(dir, 'image.yaml'), {
    name: 'lic', arch: 'x86_64', repositories: [{ debian: mirror, suite: 'bookworm', keys: [KEYRING] }], packages: ['busybox-static', 'ncurses-base'],
  });
  const out = join(dir, 'img.tar');
  const license = (file: string, name: string) =>
    JSON.parse(readFileSync(file, 'utf8')).packages.find((p: { name: string }) => p.name === name).licenseDeclared;
  // The oracle: the License lines of ncurses-base's copyright as dpkg-deb extracts it.
  const packages = readFileSync(join(mirror, 'dists/bookworm/main/binary-amd64/Packages'), 'utf8');
  const deb = join(mirror, stanzaOf(packages, 'ncurses-base').Filename);
  const copyright = sh(`dpkg-deb --fsys-tarfile '${deb}' | tar -xOf - ./usr/share/doc/ncurses-base/copyright`);
  t.match(copyright, /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\//);
  const names = [...copyright.matchAll(/^Files:.*\n(?:(?!License:).*\n)*License: (.*)$/gm)].map((m) => m[1]);
  const want = [...new Set(names)].join(' AND ');
  t.equal(want, 'MIT/X11 AND X11 AND BSD-3-clause');
  for (const frozen of [false, true]) {
    const r = minos(['build', spec, '-o', out, ...(frozen ? ['--frozen'] : [])]);
    t.equal(r.code, 0, r.stderr);
    t.equal(license(`${out}.spdx.json`, 'ncurses-base'), want, `ncurses-base${frozen ? ' (--frozen)' : ''}`);
    t.equal(license(`${out}.spdx.json`, 'busybox-static'), 'NOASSERTION', 'busybox-static\'s copyright is free text');
  }
  // Imported, the license is the manifest's own, signed.
  t.equal(minos(['key', 'generate', 'k', '-d', join(dir, 'keys')]).code, 0);
  const r = minos(['import', 'deb', deb, '-k', join(dir, 'keys/k.key'), '-o', join(dir, 'repo'), '--level', '1']);
  t.equal(r.code, 0, r.stderr);
  const m = JSON.parse(minos(['inspect', r.stdout.trim(), '--json']).stdout);
  t.equal(m.license, want, 'the imported manifest carries it');
});
