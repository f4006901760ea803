#!/usr/bin/env bash
# Builds the release JavaScript bundle: one file holding openseg, the production npm code it
# imports (graphql, graphql-yoga, graphql-jit, mqtt) and the built dashboard, so it runs from an
# empty directory and serves the same pages as the source tree.
#
# The sources are staged in dist/stage with src/web_assets.ts replaced by the generated module
# holding dist/web/ (packaging/embed_web.ts); esbuild (deno bundle) takes only what is imported,
# so no devDependency can reach the output.
#
# Usage: packaging/bundle.sh OUT.js
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: packaging/bundle.sh OUT.js}"
deno="$PWD/node_modules/.bin/deno"

"$deno" task --quiet build:web >/dev/null
stage=dist/stage
rm -rf "$stage"
mkdir -p "$stage"
cp -r main.ts src ffi schema package.json deno.json "$stage/"
ln -s "$PWD/node_modules" "$stage/node_modules"
"$deno" run --allow-read=dist/web --allow-write="$stage/src" packaging/embed_web.ts \
  dist/web "$stage/src/web_assets.ts"
mkdir -p "$(dirname "$out")"
"$deno" bundle --quiet --platform deno --config "$stage/deno.json" -o "$out" "$stage/main.ts"
rm -rf "$stage"
