#!/usr/bin/env bash
# Builds FerretDB 1.24.2 (MongoDB wire protocol over SQLite) into the git-ignored .tools/bin.
# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` does not work as-is: the proxy here
# refuses the module-list lookup it makes, and a module-cache build panics at start-up without the
# generated build/version/version.txt. So: download the pinned module, copy its source, write
# version.txt, build from that copy (its own go.sum pins every dependency).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=v1.24.2
out="$root/.tools/bin/ferretdb"
if [ -x "$out" ] && "$out" --version >/dev/null 2>&1; then exit 0; fi
mkdir -p "$root/.tools/bin" "$root/.tools/src"
echo "building FerretDB $version into .tools/bin (a few minutes the first time)" >&2
dir=$(cd "$(mktemp -d)" && go mod download -json "github.com/FerretDB/FerretDB@$version" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
src="$root/.tools/src/ferretdb-$version"
rm -rf "$src"
cp -r "$dir" "$src"
chmod -R u+w "$src"
echo "$version" >"$src/build/version/version.txt"
(cd "$src" && go build -trimpath -o "$out" ./cmd/ferretdb)
"$out" --version | sed -n 1p >&2
