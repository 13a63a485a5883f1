#!/usr/bin/env bash
# The Debian packages `make test` needs, installed on demand: as root on Debian
# or Ubuntu with apt-get; anywhere else it stops at once, printing the one
# command that installs them. A stamp under node_modules/ skips the dpkg query
# while this file is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(
  # archive and hash tools the tests compare against
  zstd tar openssl cpio libarchive-tools xz-utils lz4 util-linux strace
  # oracles: dpkg --compare-versions, apt-get -s, libsolv's testsolv
  dpkg apt libsolv-tools
  # Debian repositories: the archive keyring and gpgv as an independent verifier
  debian-archive-keyring gpgv
  # booting images: minos boot and test/boot.test.ts; aarch64 roots probed in a chroot
  qemu-system-x86 qemu-system-arm qemu-user-static
  # the peer make bench compares Debian root builds with
  mmdebstrap
  # readers of minos's squashfs and erofs images (test/fsimg.test.ts), and the peers make bench times
  squashfs-tools erofs-utils
  # reading OCI images back: skopeo inspect/copy, umoci unpack (test/oci.test.ts)
  skopeo umoci
  # rebuilding our WebAssembly (the rebuild test compares with the committed .wasm)
  clang lld wasi-libc libclang-rt-14-dev-wasm32
)

stamp=node_modules/.minos-test-deps
if [ -f "$stamp" ] && [ "$stamp" -nt "$0" ]; then exit 0; fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "make test: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "make test: missing packages; install them first with:" >&2
    echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi
mkdir -p node_modules && touch "$stamp"
