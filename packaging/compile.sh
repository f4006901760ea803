#!/usr/bin/env bash
# Compiles the release bundle (packaging/bundle.sh) into one executable for TARGET, with the
# permissions a gateway box needs baked in. Compiling the bundle instead of main.ts keeps
# node_modules out of the binary: the embedded payload is the bundle alone (about 4 MB), not the
# whole npm tree with its development packages (130 MB).
#
# deno compile downloads its runtime (denort) for the target; where it cannot (an offline CI
# machine), set DENORT_BIN to a stub ELF: everything but the runtime is then built and measured,
# and the output says so, but it cannot run.
#
# Usage: packaging/compile.sh TARGET OUT   (TARGET: x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: packaging/compile.sh TARGET OUT}"
out="${2:?usage: packaging/compile.sh TARGET OUT}"
deno="$PWD/node_modules/.bin/deno"

bundle="$(mktemp -d)/openseg.js"
trap 'rm -rf "$(dirname "$bundle")"' EXIT
packaging/bundle.sh "$bundle"
mkdir -p "$(dirname "$out")"
# Listen address, broker and file paths come from the configuration at run time, so the net and
# file permissions cannot be narrowed here: the systemd unit's sandbox is the outer wall
# (read-only system, /var/lib/openseg writable, serial devices only).
# The V8 memory flags are baked in as src/cli/v8_flags.ts lists them (a test keeps them equal).
"$deno" compile --quiet --no-config --target "$target" \
  --allow-ffi --allow-env --allow-read --allow-write --allow-net \
  --v8-flags=--max-semi-space-size=1,--optimize-for-size,--expose-gc,--no-sparkplug \
  -o "$out" "$bundle"

size_bytes=$(stat -c %s "$out")
if [ -n "${DENORT_BIN:-}" ]; then
  runtime_bytes=$(stat -L -c %s "$DENORT_BIN")
  echo "compile $target: $out is $size_bytes bytes with the STUB runtime $DENORT_BIN" \
    "($runtime_bytes bytes): not runnable; embedded payload $((size_bytes - runtime_bytes)) bytes" \
    "($(awk "BEGIN{printf \"%.2f\", ($size_bytes - $runtime_bytes)/1048576}") MB)"
else
  echo "compile $target: $out is $size_bytes bytes ($(awk "BEGIN{printf \"%.1f\", $size_bytes/1048576}") MB)"
fi
