#!/usr/bin/env bash
# One self-contained binary: unpacks the release tarball (made by scripts/package.sh unless one is given),
# copies the binary alone into an empty folder, serves /, /docs and the page's files from there, and checks
# that ldd lists nothing beyond glibc, libstdc++ and libgcc_s.
# Usage: scripts/standalone-test.sh [TARBALL]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
tarball="${1:-}"
if [ -z "$tarball" ]; then tarball="$(bash scripts/package.sh "$root/.build")"; fi

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "standalone-test: $*" >&2; exit 1; }

mkdir "$work/unpacked" "$work/alone"
tar -C "$work/unpacked" -xzf "$tarball"
package="$work/unpacked/lychee-rerank-linux-x86_64"
for file in lychee-rerank README.md THIRD-PARTY-NOTICES.txt; do
  [ -s "$package/$file" ] || fail "the tarball lacks $file"
done
cp "$package/lychee-rerank" "$work/alone/"

# Shared libraries: glibc's (libc, libm, libdl, libpthread, librt, libutil, the loader), libstdc++, libgcc_s.
allowed='^(linux-vdso\.so|ld-linux-x86-64\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libutil\.so|libstdc\+\+\.so|libgcc_s\.so)'
libraries="$(ldd "$work/alone/lychee-rerank" | awk '{print $1}' | sed 's#.*/##')"
extra="$(echo "$libraries" | grep -Ev "$allowed" || true)"
[ -z "$extra" ] || fail "the binary needs shared libraries beyond glibc/libstdc++/libgcc_s: $(echo $extra)"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
(cd "$work/alone" && exec ./lychee-rerank serve --model "$root/Fixtures/checkpoints/tiny-untied-legacy" \
  --backend cpu --host 127.0.0.1 --port "$port") >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
  curl -fs --max-time 5 "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; fail "serve exited before it was ready"; }
  sleep 0.2
done
curl -fs --max-time 5 "http://127.0.0.1:$port/ready" >/dev/null || { cat "$work/serve.log" >&2; fail "serve not ready in 60 s"; }
check() {
  local path="$1" needle="$2"
  local body
  body="$(curl -fs --max-time 10 "http://127.0.0.1:$port$path")" || fail "GET $path failed"
  grep -qF -- "$needle" <<<"$body" || fail "GET $path did not answer with $needle"
}
check / "<html"
check /docs "<html"
check /static/app.js "use strict"
check /static/style.css "{"
check /openapi.json '"openapi"'
[ "$(ls -A "$work/alone")" = "lychee-rerank" ] || fail "serve wrote files beside the binary: $(ls -A "$work/alone")"
echo "standalone-test: ok ($(du -h "$work/alone/lychee-rerank" | cut -f1) binary; shared libraries: $(echo $libraries))"
