#!/usr/bin/env bash
# make demo: pack the example packages with a throwaway key, index and verify
# the repository, and show what is in it.
set -euo pipefail
cd "$(dirname "$0")/.."
minos() { node bin/minos.js "$@"; }
out=${DEMO_OUT:-out/demo}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600}

rm -rf "$out"
mkdir -p "$out/keys" "$out/repo"
echo "== key"
minos key generate demo --dir "$out/keys"
echo "== packages"
for recipe in images/packages/*/recipe.yaml; do
  minos pack "$recipe" --key "$out/keys/demo.key" --out "$out/repo"
done
echo "== repository"
minos repo index "$out/repo" --key "$out/keys/demo.key" --name demo --expires 365d
minos repo verify "$out/repo" --keyring "$out/keys"
echo "== plan (images/demo.yaml)"
minos plan images/demo.yaml
echo "== build"
minos build images/demo.yaml -o "$out/rootfs"
minos build images/demo.yaml -o "$out/rootfs.tar.zst"
echo
echo "Image in $out/rootfs (also $out/rootfs.tar.zst), lockfile and SBOM beside it."
echo "Packages: $(node -e 'for (const p of JSON.parse(require("fs").readFileSync(process.argv[1])).packages) process.stdout.write(`${p.name} ${p.version}  `)' "$out/rootfs.lock.json")"
echo "Entries:  $(tar --zstd -tf "$out/rootfs.tar.zst" | wc -l), $(du -sh --apparent-size "$out/rootfs" | cut -f1) unpacked"
echo "Try:      tar --zstd -tvf $out/rootfs.tar.zst | head; cat $out/rootfs/etc/passwd"
