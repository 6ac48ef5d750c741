#!/usr/bin/env bash
# Builds the self-contained release binary (Swift runtime and Foundation linked in; codecs, zlib and
# OpenBLAS from Debian's static archives; web page compiled in) and packs
# lychee-rerank-linux-x86_64.tar.gz: the binary, README.md and THIRD-PARTY-NOTICES.txt.
# Usage: scripts/package.sh [OUTPUT_FOLDER]   (default: the repository root); prints the tarball's path.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-$PWD}"
mkdir -p "$out"
# Dependencies ask for zlib as plain -lz (swift-nio-extras' compression); a search folder of our own that holds
# only static archives comes before the system's, so that -lz, too, picks libz.a.
static_libs="$PWD/.build/static-libs"
mkdir -p "$static_libs"
for archive in libz.a; do
  found="$(gcc -print-file-name="$archive")"
  [ -f "$found" ] || { echo "package.sh: $archive not found; run scripts/install-deps.sh" >&2; exit 1; }
  ln -sf "$found" "$static_libs/$archive"
done
build=(swift build -c release --static-swift-stdlib --product lychee-rerank -Xlinker -L"$static_libs")
"${build[@]}" >&2
bin="$("${build[@]}" --show-bin-path)/lychee-rerank"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
name=lychee-rerank-linux-x86_64
mkdir -p "$stage/$name"
cp "$bin" "$stage/$name/lychee-rerank"
# Debug info off (about 60 MB); the symbol table stays, so crash backtraces keep their function names.
strip --strip-debug "$stage/$name/lychee-rerank"
cp README.md "$stage/$name/README.md"

# The licences of what the binary carries: the Swift runtime and Foundation, the Swift packages it is
# built from, and the Debian libraries linked in statically (their copyright files).
notices="$stage/$name/THIRD-PARTY-NOTICES.txt"
section() { printf '\n==============================================================================\n%s\n' "$1" >>"$notices"; }
echo "lychee-rerank links the following software into its binary. Their licences follow." >"$notices"
section "Swift runtime and standard libraries (swift.org)"
cat /opt/swift/usr/share/swift/LICENSE.txt >>"$notices" 2>/dev/null \
  || cat "$(dirname "$(command -v swift)")/../share/swift/LICENSE.txt" >>"$notices"
for checkout in .build/checkouts/*; do
  licence="$(ls "$checkout"/LICENSE* "$checkout"/LICENCE* 2>/dev/null | head -n 1 || true)"
  [ -n "$licence" ] || continue
  section "Swift package $(basename "$checkout")"
  cat "$licence" >>"$notices"
done
for package in libjpeg62-turbo libpng16-16 libwebp7 libgif7 zlib1g libopenblas0-pthread libopenblas0; do
  copyright="/usr/share/doc/$package/copyright"
  [ -f "$copyright" ] || continue
  section "Debian package $package (linked statically)"
  cat "$copyright" >>"$notices"
done

tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
