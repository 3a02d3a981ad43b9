#!/usr/bin/env bash
# Sets up Roster's development/test database engine: FerretDB v2 (MongoDB wire protocol) on
# PostgreSQL 15 with the DocumentDB extension. src/devdb/postgresEngine.ts starts it; `npm test` runs this
# script first (package.json "pretest"), and so does .ci/run.
#
#   bash scripts/setup-engine.sh [--no-chromium]
#
# What it does (each step is skipped when already done; a warm run takes a fraction of a second):
#   1. Debian packages, through apt-get (as root, or with sudo): PostgreSQL 15 and its server
#      headers, PostGIS, RUM, and what the builds need.
#   2. A private copy of PostgreSQL's install tree in .tools/pg (Debian's layout kept, so the copy
#      finds its share and lib folders relative to its own binaries); the extensions below are
#      installed into that copy, never into the system folders.
#   3. libbson 1.28.0 (static, private prefix), pgvector 0.8.0, pg_cron 1.6.3 and DocumentDB
#      v0.106.0-ferretdb-2.5.0 (pg_documentdb_core and pg_documentdb only, not the distributed
#      part), from ../shared/vendor (or $ROSTER_VENDOR_DIR, or ../shared/vendor beside the checkout
#      this one was cloned from) when present, else from the projects' GitHub tag archives.
#   4. FerretDB v2.5.0 (Go module, built with the Go toolchain it names) into .tools/bin/ferretdb.
#   5. Optional, on by default (--no-chromium or ROSTER_SETUP_CHROMIUM=0 to skip): Debian's
#      chromium, for the headless activation-page tests.
# Everything built lives in the git-ignored .tools/; .tools/engine.stamp records what was built.
set -euo pipefail
umask 022
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
# The source archives: $ROSTER_VENDOR_DIR, else shared/vendor beside this checkout, else beside the
# checkout this one was cloned from (a clean clone made elsewhere, as CI makes one).
vendor_dir() {
  [ -n "${ROSTER_VENDOR_DIR:-}" ] && {
    echo "$ROSTER_VENDOR_DIR"
    return
  }
  local origin
  origin=$(git -C "$root" remote get-url origin 2>/dev/null || true)
  for candidate in "$root/../shared/vendor" "${origin:+$origin/../shared/vendor}"; do
    [ -n "$candidate" ] && [ -d "$candidate" ] && {
      (cd "$candidate" && pwd)
      return
    }
  done
  echo "$root/../shared/vendor"
}
vendor=$(vendor_dir)

PG_MAJOR=15
LIBBSON_VERSION=1.28.0
PGVECTOR_VERSION=0.8.0
PGCRON_VERSION=1.6.3
DOCUMENTDB_TAG=v0.106.0-ferretdb-2.5.0
FERRETDB_VERSION=v2.5.0
FERRETDB_GOTOOLCHAIN=go1.24.6 # v2.5.0's cmd/ferretdb does not compile with Go 1.25+
RECIPE=1                      # bump when the steps below change in a way that needs a rebuild

ENGINE_PACKAGES=("postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" "postgresql-$PG_MAJOR-postgis-3"
  "postgresql-$PG_MAJOR-rum" libpcre2-dev libintelrdfpmath-dev libkrb5-dev cmake pkg-config clang)

chromium=1
[ "${ROSTER_SETUP_CHROMIUM:-1}" = 0 ] && chromium=0
for arg in "$@"; do
  case "$arg" in
    --no-chromium) chromium=0 ;;
    -h | --help)
      sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup-engine: unknown option $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

say() { echo "[setup-engine] $*" >&2; }
die() {
  say "error: $*"
  exit 1
}
now() { date +%s.%N; }
step_started=
step() {
  step_started=$(now)
  say "$*"
}
step_done() { say "  done in $(awk -v a="$step_started" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }')"; }

if [ "$(id -u)" = 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=()
fi

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

apt_install() {
  local packages=("$@") extra=()
  if ! command -v apt-get >/dev/null 2>&1; then
    die "apt-get not found: this script supports Debian 12 (and alike). Elsewhere set MONGODB_URI, e.g. to \`docker compose --profile postgres up -d ferretdb\` (docker-compose.yml)."
  fi
  if [ "$(id -u)" != 0 ] && [ ${#SUDO[@]} = 0 ]; then
    die "installing ${packages[*]} needs root or sudo: run \`sudo apt-get install ${packages[*]}\`, then this script again"
  fi
  [ "${1:-}" = chromium ] || extra=(--no-install-recommends)
  say "  apt-get update, then apt-get install ${packages[*]}${SUDO:+ (with sudo)}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${extra[@]}" "${packages[@]}" >/dev/null
}

install_chromium() {
  [ "$chromium" = 1 ] || return 0
  if [ -x /usr/bin/chromium ]; then return 0; fi
  step "chromium: installing Debian's chromium for the headless browser tests (--no-chromium skips this)"
  apt_install chromium
  /usr/bin/chromium --version >&2 || true
  step_done
}

pg_package_versions() {
  dpkg-query -W -f='${Package}=${Version} ' "postgresql-$PG_MAJOR" "postgresql-$PG_MAJOR-postgis-3" \
    "postgresql-$PG_MAJOR-rum" 2>/dev/null || true
}

# What a finished build was made from; a different key means rebuild (the builds link absolute
# paths into the copy, hence the folder).
engine_key() {
  echo "recipe=$RECIPE root=$tools $(pg_package_versions)libbson=$LIBBSON_VERSION pgvector=$PGVECTOR_VERSION" \
    "pg_cron=$PGCRON_VERSION documentdb=$DOCUMENTDB_TAG ferretdb=$FERRETDB_VERSION/$FERRETDB_GOTOOLCHAIN"
}

pgcopy="$tools/pg"
pgbin="$pgcopy/usr/lib/postgresql/$PG_MAJOR/bin"
ferretdb="$tools/bin/ferretdb"
stamp="$tools/engine.stamp"

# ---- warm path: everything in place, nothing to do ------------------------------------------
if [ -z "$(missing_packages "${ENGINE_PACKAGES[@]}")" ] && [ -f "$stamp" ] &&
  [ "$(cat "$stamp")" = "$(engine_key)" ] && [ -x "$pgbin/postgres" ] && [ -x "$ferretdb" ]; then
  say "engine up to date: PostgreSQL $PG_MAJOR + DocumentDB ${DOCUMENTDB_TAG#v} + FerretDB $FERRETDB_VERSION in .tools"
  install_chromium
  exit 0
fi

total_started=$(now)
say "setting up the database engine in $tools (a few minutes the first time)"

# ---- 1. Debian packages ---------------------------------------------------------------------
step "packages: ${ENGINE_PACKAGES[*]}"
read -r -a missing <<<"$(missing_packages "${ENGINE_PACKAGES[@]}" | tr '\n' ' ')"
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
else
  say "  all installed"
fi
step_done

key=$(engine_key)
mkdir -p "$tools/bin" "$tools/src" "$tools/stamps"
# Steps done for another key are stale.
if [ -f "$tools/stamps/key" ] && [ "$(cat "$tools/stamps/key")" != "$key" ]; then
  say "the packages or versions changed since the last build: rebuilding"
  rm -f "$tools/stamps"/*
fi
echo "$key" >"$tools/stamps/key"
rm -f "$stamp"
done_step() { [ -f "$tools/stamps/$1" ]; }
mark_step() { touch "$tools/stamps/$1"; }

# Source archive: the shared vendor folder, else the project's GitHub tag archive (same content).
# $1 archive name, $2 download URL; prints the extracted folder (fresh copy under .tools/src).
source_tree() {
  local name=$1 url=$2 archive
  if [ -f "$vendor/$name" ]; then
    archive="$vendor/$name"
  else
    archive="$tools/downloads/$name"
    if [ ! -f "$archive" ]; then
      say "  $vendor/$name not found: downloading $url"
      mkdir -p "$tools/downloads"
      curl -fsSL --retry 3 -o "$archive.part" "$url" || die "download failed: $url"
      mv "$archive.part" "$archive"
    fi
  fi
  local dir="$tools/src/${name%.tar.gz}"
  rm -rf "$dir"
  tar -xzf "$archive" -C "$tools/src"
  [ -d "$dir" ] || die "$archive did not contain ${name%.tar.gz}/"
  echo "$dir"
}

jobs=$(nproc 2>/dev/null || echo 2)

# ---- 2. private copy of PostgreSQL's install tree ---------------------------------------------
if ! done_step pgcopy; then
  step "PostgreSQL $PG_MAJOR: copying Debian's install tree to .tools/pg"
  rm -rf "$pgcopy" "$pgcopy.tmp"
  mkdir -p "$pgcopy.tmp/usr/lib/postgresql" "$pgcopy.tmp/usr/share/postgresql" "$pgcopy.tmp/usr/include"
  cp -a "/usr/lib/postgresql/$PG_MAJOR" "$pgcopy.tmp/usr/lib/postgresql/"
  cp -a "/usr/share/postgresql/$PG_MAJOR" "$pgcopy.tmp/usr/share/postgresql/"
  cp -a /usr/include/postgresql "$pgcopy.tmp/usr/include/"
  # make install must never write through a link into the system folders.
  find "$pgcopy.tmp" -type l -xtype d -print | while read -r link; do
    target=$(readlink -f "$link")
    rm "$link"
    cp -a "$target" "$link"
  done
  mv "$pgcopy.tmp" "$pgcopy"
  "$pgbin/pg_config" --sharedir | grep -q "^$pgcopy/" ||
    die "the copy does not find its own share folder ($("$pgbin/pg_config" --sharedir))"
  mark_step pgcopy
  step_done
fi
export PG_CONFIG="$pgbin/pg_config"

# ---- 3. libbson, pgvector, pg_cron, DocumentDB ------------------------------------------------
deps="$tools/deps"
export PKG_CONFIG_PATH="$deps/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

if ! done_step libbson; then
  step "libbson $LIBBSON_VERSION: static build into .tools/deps"
  src=$(source_tree "mongo-c-driver-$LIBBSON_VERSION.tar.gz" \
    "https://github.com/mongodb/mongo-c-driver/archive/refs/tags/$LIBBSON_VERSION.tar.gz")
  rm -rf "$deps"
  {
    cmake -S "$src" -B "$src/cmake-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$deps" \
      -DCMAKE_INSTALL_LIBDIR=lib -DENABLE_MONGOC=OFF -DENABLE_TESTS=OFF -DENABLE_EXAMPLES=OFF \
      -DENABLE_STATIC=ON -DBUILD_VERSION="$LIBBSON_VERSION" -DCMAKE_POSITION_INDEPENDENT_CODE=ON &&
      cmake --build "$src/cmake-build" --parallel "$jobs" &&
      cmake --install "$src/cmake-build"
  } >"$tools/src/libbson.log" 2>&1 || {
    tail -30 "$tools/src/libbson.log" >&2
    die "libbson build failed (log: $tools/src/libbson.log)"
  }
  # DocumentDB's Makefiles ask pkg-config for intelmathlib, which Debian does not describe.
  cat >"$deps/lib/pkgconfig/intelmathlib.pc" <<'EOF'
Name: intelmathlib
Description: Intel Decimal Floating-Point Math Library (Debian libintelrdfpmath-dev)
Version: 2.0u2
Cflags: -I/usr/include
Libs: -lbidgcc000
EOF
  pkg-config --exists libbson-static-1.0 intelmathlib || die "pkg-config does not find libbson-static-1.0"
  rm -rf "$src"
  mark_step libbson
  step_done
fi

pgxs_build() { # $1 label, $2 folder, then make arguments
  local label=$1 dir=$2
  shift 2
  make -C "$dir" -j"$jobs" PG_CONFIG="$PG_CONFIG" "$@" >"$tools/src/$label.log" 2>&1 ||
    {
      tail -30 "$tools/src/$label.log" >&2
      die "$label build failed (log: $tools/src/$label.log)"
    }
}

# A PGXS extension from its release archive: build, install into .tools/pg, mark done.
pgxs_extension() {
  local name=$1 version=$2 archive=$3 url=$4
  done_step "$name" && return 0
  step "$name $version: build and install into .tools/pg"
  src=$(source_tree "$archive" "$url")
  pgxs_build "$name" "$src"
  pgxs_build "$name-install" "$src" install
  rm -rf "$src"
  mark_step "$name"
  step_done
}
pgxs_extension pgvector "$PGVECTOR_VERSION" "pgvector-$PGVECTOR_VERSION.tar.gz" \
  "https://github.com/pgvector/pgvector/archive/refs/tags/v$PGVECTOR_VERSION.tar.gz"
pgxs_extension pg_cron "$PGCRON_VERSION" "pg_cron-$PGCRON_VERSION.tar.gz" \
  "https://github.com/citusdata/pg_cron/archive/refs/tags/v$PGCRON_VERSION.tar.gz"

if ! done_step documentdb; then
  step "DocumentDB ${DOCUMENTDB_TAG#v}: build pg_documentdb_core and pg_documentdb, install into .tools/pg"
  src=$(source_tree "documentdb-${DOCUMENTDB_TAG#v}.tar.gz" \
    "https://github.com/FerretDB/documentdb/archive/refs/tags/$DOCUMENTDB_TAG.tar.gz")
  pgxs_build documentdb_core "$src/pg_documentdb_core"
  pgxs_build documentdb_core-install "$src/pg_documentdb_core" install
  pgxs_build documentdb "$src/pg_documentdb"
  pgxs_build documentdb-install "$src/pg_documentdb" install
  rm -rf "$src"
  mark_step documentdb
  step_done
fi

# ---- 4. FerretDB v2 ---------------------------------------------------------------------------
if ! done_step ferretdb || [ ! -x "$ferretdb" ]; then
  step "FerretDB $FERRETDB_VERSION: go build with $FERRETDB_GOTOOLCHAIN into .tools/bin/ferretdb"
  go=$(command -v go || true)
  [ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; }
  [ -n "$go" ] || die "Go 1.21 or newer is needed to build FerretDB (https://go.dev/dl/); it fetches $FERRETDB_GOTOOLCHAIN itself"
  # `go install ...@version` would work from the module cache only with the generated
  # build/version/version.txt, so: download the pinned module, copy it, write version.txt, build
  # from the copy (its go.sum pins every dependency).
  module=github.com/FerretDB/FerretDB/v2
  empty=$(mktemp -d)
  dir=$(cd "$empty" && GOTOOLCHAIN=$FERRETDB_GOTOOLCHAIN "$go" mod download -json "$module@$FERRETDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  rmdir "$empty"
  [ -d "$dir" ] || die "go mod download $module@$FERRETDB_VERSION failed"
  src="$tools/src/ferretdb-$FERRETDB_VERSION"
  rm -rf "$src"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  (cd "$src" && GOTOOLCHAIN=$FERRETDB_GOTOOLCHAIN "$go" build -trimpath -o "$ferretdb.tmp" ./cmd/ferretdb)
  mv "$ferretdb.tmp" "$ferretdb"
  rm -rf "$src"
  "$ferretdb" --version 2>&1 | sed -n 1p | sed 's/^/  /' >&2
  mark_step ferretdb
  step_done
fi

echo "$key" >"$stamp"
say "engine ready in $(awk -v a="$total_started" -v b="$(now)" 'BEGIN { printf "%.0f s", b - a }'):" \
  "PostgreSQL $("$pgbin/postgres" --version | awk '{ print $3 }') + DocumentDB ${DOCUMENTDB_TAG#v} + FerretDB $FERRETDB_VERSION"
install_chromium
