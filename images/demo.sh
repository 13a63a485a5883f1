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

# On Debian 12 (bookworm): real software in, a booting image out. A local
# mirror is assembled from apt's own signed lists and downloads, the
# initramfs is built from Debian's static busybox, and booted under qemu with
# Debian's kernel, taken and verified from the same mirror.
if grep -qs '^VERSION_CODENAME=bookworm' /etc/os-release && command -v apt-get >/dev/null; then
  if ! command -v qemu-system-x86_64 >/dev/null; then
    if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
    else echo "(to boot it: sudo apt-get install qemu-system-x86)"; fi
  fi
  echo
  echo "== Debian: mirror from apt's signed lists (.cache/debian-mirror)"
  node tools/debian-mirror.mjs --out .cache/debian-mirror --arch amd64,arm64 --kernels busybox-static
  echo "== build images/debian-initramfs.yaml"
  minos build images/debian-initramfs.yaml -o "$out/debian-initramfs.cpio"
  if command -v qemu-system-x86_64 >/dev/null; then
    echo "== boot (the first run extracts the kernel from its .deb)"
    minos boot "$out/debian-initramfs.cpio" --spec images/debian-initramfs.yaml --append quiet --timeout 300 | grep -ao 'minos-initramfs:.*'
  fi
fi
