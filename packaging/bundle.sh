#!/usr/bin/env bash
# Builds the release JavaScript bundle: one minified file holding openseg, the production npm code
# it imports (graphql, graphql-yoga, graphql-jit, mqtt, pg) and the built dashboard, so it runs
# from an empty directory and serves the same pages as the source tree. OUT.js.map beside it maps
# a release stack trace back to the sources; it is not loaded at run time.
#
# The sources are staged in a temporary directory with src/web_assets.ts replaced by the generated
# module holding dist/web/ (packaging/embed_web.ts); esbuild (deno bundle) takes only what is
# imported, so no devDependency can reach the output. The staged node_modules links every package
# of ours but one: fast-json-stringify is replaced by packaging/stubs/ (graphql-jit loads it but
# openseg never calls it), which keeps it, ajv and fast-uri out of the bundle.
#
# Why minified and ASCII-only: V8 keeps a script's whole source in its heap for as long as the
# script runs, and one character outside Latin-1 (a dash in a comment) makes that a two-byte
# string. Unminified, the 4.6 MB bundle held 9.2 MB; minified, 1.7 MB (see docs/packaging.md).
#
# Usage: packaging/bundle.sh OUT.js
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: packaging/bundle.sh OUT.js}"
deno="$PWD/node_modules/.bin/deno"

"$deno" task --quiet build:web >/dev/null
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -r main.ts src ffi schema package.json deno.json "$stage/"
mkdir "$stage/node_modules"
for package in node_modules/* node_modules/.[!.]*; do
  ln -s "$PWD/$package" "$stage/node_modules/$(basename "$package")"
done
# graphql-jit is copied, not linked: a linked package resolves its own requires from the real
# node_modules, where the stub is not.
rm "$stage/node_modules/graphql-jit" "$stage/node_modules/fast-json-stringify"
cp -r node_modules/graphql-jit "$stage/node_modules/"
cp -r packaging/stubs/fast-json-stringify "$stage/node_modules/"
"$deno" run --allow-read=dist/web --allow-write="$stage/src" packaging/embed_web.ts \
  dist/web "$stage/src/web_assets.ts"
mkdir -p "$(dirname "$out")"
"$deno" bundle --quiet --minify --sourcemap=external --platform deno \
  --config "$stage/deno.json" -o "$out" "$stage/main.ts"
# The map names files by their staged paths; name them as in the repository instead.
"$deno" eval --quiet '
  const [mapPath, stageName] = Deno.args;
  const map = JSON.parse(Deno.readTextFileSync(mapPath));
  const staged = `${stageName}/`;
  map.sources = map.sources.map((source) =>
    source.includes(staged)
      ? source.slice(source.indexOf(staged) + staged.length)
      : source.replace(/^.*?\/node_modules\//, "node_modules/")
  );
  Deno.writeTextFileSync(mapPath, JSON.stringify(map));
' "$out.map" "$(basename "$stage")"
if LC_ALL=C grep -q -P '[^\x00-\x7F]' "$out"; then
  echo "bundle.sh: $out holds characters outside ASCII; V8 would keep it as a two-byte string" >&2
  exit 1
fi
