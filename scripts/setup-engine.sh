#!/usr/bin/env bash
# Sets up Roster's development/test database engine: FerretDB v2 (MongoDB wire protocol) on
# PostgreSQL 15 with the DocumentDB extension. src/devdb/postgresEngine.ts starts it; `npm test` runs this
# script first (package.json "pretest"), and so does .ci/run.
#
#   bash scripts/setup-engine.sh [--no-chromium]
#   bash scripts/setup-engine.sh --distributed
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
#
# --distributed builds, instead, the distributed engine src/devdb/distributedEngine.ts starts (a
# coordinator and workers on loopback) into .tools/dist/, a separate private copy of PostgreSQL's
# install tree: Citus 12.1.7, libbson, pgvector, pg_cron, DocumentDB 0.108 (b2e220c) with
# pg_documentdb_distributed, patched with scripts/patches/documentdb-0.108-*.patch, and FerretDB
# v2.7.0 in .tools/dist/bin/ferretdb; steps are skipped when done, .tools/dist/engine.stamp records
# what was built. It leaves the single-node engine (and chromium) alone.
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

# The distributed engine (--distributed), in .tools/dist.
CITUS_VERSION=12.1.7
DIST_DOCUMENTDB_VERSION=0.108.0-b2e220c
DIST_DOCUMENTDB_COMMIT=b2e220c47d85ec6fed1651f03968da2317f71c10
DIST_FERRETDB_VERSION=v2.7.0 # builds with Go 1.25 or newer; GOTOOLCHAIN=auto fetches go.mod's when older
DIST_PATCHES=("$root/scripts/patches/documentdb-0.108-null-arguments.patch")
DIST_RECIPE=1 # bump when the distributed steps change in a way that needs a rebuild

ENGINE_PACKAGES=("postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" "postgresql-$PG_MAJOR-postgis-3"
  "postgresql-$PG_MAJOR-rum" libpcre2-dev libintelrdfpmath-dev libkrb5-dev cmake pkg-config clang)
# Citus links libcurl, lz4 and zstd; the DocumentDB patches need patch.
DIST_PACKAGES=("${ENGINE_PACKAGES[@]}" libcurl4-openssl-dev liblz4-dev libzstd-dev patch)

chromium=1
[ "${ROSTER_SETUP_CHROMIUM:-1}" = 0 ] && chromium=0
distributed=0
for arg in "$@"; do
  case "$arg" in
    --no-chromium) chromium=0 ;;
    --distributed) distributed=1 ;;
    -h | --help)
      sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'
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

# The step that installs whichever of these Debian packages are missing.
packages_step() {
  local missing
  step "packages: $*"
  read -r -a missing <<<"$(missing_packages "$@" | tr '\n' ' ')"
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
  else
    say "  all installed"
  fi
  step_done
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

# ---- shared by both engines ------------------------------------------------------------------
# $work holds a build's sources, logs and step stamps: .tools, or .tools/dist (--distributed).
work=$tools
done_step() { [ -f "$work/stamps/$1" ]; }
mark_step() { touch "$work/stamps/$1"; }

# Steps done for another key are stale; $1 the key of this build.
start_build() {
  local key=$1
  mkdir -p "$work/bin" "$work/src" "$work/stamps"
  if [ -f "$work/stamps/key" ] && [ "$(cat "$work/stamps/key")" != "$key" ]; then
    say "the packages or versions changed since the last build: rebuilding"
    rm -f "$work/stamps"/*
  fi
  echo "$key" >"$work/stamps/key"
}

# Source archive: the shared vendor folder, else the project's GitHub archive (same content).
# $1 archive name, $2 download URL; prints the extracted folder (fresh copy under $work/src).
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
  local dir="$work/src/${name%.tar.gz}"
  rm -rf "$dir"
  tar -xzf "$archive" -C "$work/src"
  if [ ! -d "$dir" ]; then
    # A GitHub archive of a commit names its folder after the full commit id.
    local top
    top=$(tar -tzf "$archive" | sed -n '1s|/.*||p')
    [ -n "$top" ] && [ -d "$work/src/$top" ] && mv "$work/src/$top" "$dir"
  fi
  [ -d "$dir" ] || die "$archive did not contain ${name%.tar.gz}/"
  echo "$dir"
}

jobs=$(nproc 2>/dev/null || echo 2)

# A private copy of Debian's PostgreSQL install tree at $1 (its bin folder $2).
copy_pg_tree() {
  local copy=$1 bin=$2
  rm -rf "$copy" "$copy.tmp"
  mkdir -p "$copy.tmp/usr/lib/postgresql" "$copy.tmp/usr/share/postgresql" "$copy.tmp/usr/include"
  cp -a "/usr/lib/postgresql/$PG_MAJOR" "$copy.tmp/usr/lib/postgresql/"
  cp -a "/usr/share/postgresql/$PG_MAJOR" "$copy.tmp/usr/share/postgresql/"
  cp -a /usr/include/postgresql "$copy.tmp/usr/include/"
  # make install must never write through a link into the system folders.
  find "$copy.tmp" -type l -xtype d -print | while read -r link; do
    target=$(readlink -f "$link")
    rm "$link"
    cp -a "$target" "$link"
  done
  mv "$copy.tmp" "$copy"
  "$bin/pg_config" --sharedir | grep -q "^$copy/" ||
    die "the copy does not find its own share folder ($("$bin/pg_config" --sharedir))"
}

# libbson, static, into the prefix $1 (with the intelmathlib.pc DocumentDB's Makefiles ask for).
build_libbson() {
  local prefix=$1 src
  src=$(source_tree "mongo-c-driver-$LIBBSON_VERSION.tar.gz" \
    "https://github.com/mongodb/mongo-c-driver/archive/refs/tags/$LIBBSON_VERSION.tar.gz")
  rm -rf "$prefix"
  {
    cmake -S "$src" -B "$src/cmake-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
      -DCMAKE_INSTALL_LIBDIR=lib -DENABLE_MONGOC=OFF -DENABLE_TESTS=OFF -DENABLE_EXAMPLES=OFF \
      -DENABLE_STATIC=ON -DBUILD_VERSION="$LIBBSON_VERSION" -DCMAKE_POSITION_INDEPENDENT_CODE=ON &&
      cmake --build "$src/cmake-build" --parallel "$jobs" &&
      cmake --install "$src/cmake-build"
  } >"$work/src/libbson.log" 2>&1 || {
    tail -30 "$work/src/libbson.log" >&2
    die "libbson build failed (log: $work/src/libbson.log)"
  }
  # DocumentDB's Makefiles ask pkg-config for intelmathlib, which Debian does not describe.
  cat >"$prefix/lib/pkgconfig/intelmathlib.pc" <<'PC'
Name: intelmathlib
Description: Intel Decimal Floating-Point Math Library (Debian libintelrdfpmath-dev)
Version: 2.0u2
Cflags: -I/usr/include
Libs: -lbidgcc000
PC
  pkg-config --exists libbson-static-1.0 intelmathlib || die "pkg-config does not find libbson-static-1.0"
  rm -rf "$src"
}

pgxs_build() { # $1 label, $2 folder, then make arguments
  local label=$1 dir=$2
  shift 2
  make -C "$dir" -j"$jobs" PG_CONFIG="$PG_CONFIG" "$@" >"$work/src/$label.log" 2>&1 ||
    {
      tail -30 "$work/src/$label.log" >&2
      die "$label build failed (log: $work/src/$label.log)"
    }
}

# A PGXS extension from its release archive: build, install into the copy ($copy_label), mark done.
copy_label=.tools/pg
pgxs_extension() {
  local name=$1 version=$2 archive=$3 url=$4
  done_step "$name" && return 0
  step "$name $version: build and install into $copy_label"
  src=$(source_tree "$archive" "$url")
  pgxs_build "$name" "$src"
  pgxs_build "$name-install" "$src" install
  rm -rf "$src"
  mark_step "$name"
  step_done
}

# FerretDB $1 (a version of the Go module), built with GOTOOLCHAIN=$2, into $3.
build_ferretdb() {
  local version=$1 toolchain=$2 out=$3 go module empty dir src
  go=$(command -v go || true)
  [ -n "$go" ] || { [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go; }
  [ -n "$go" ] || die "Go 1.21 or newer is needed to build FerretDB (https://go.dev/dl/); it fetches the toolchain FerretDB names itself"
  # `go install ...@version` would work from the module cache only with the generated
  # build/version/version.txt, so: download the pinned module, copy it, write version.txt, build
  # from the copy (its go.sum pins every dependency).
  module=github.com/FerretDB/FerretDB/v2
  empty=$(mktemp -d)
  dir=$(cd "$empty" && GOTOOLCHAIN=$toolchain "$go" mod download -json "$module@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  rmdir "$empty"
  [ -d "$dir" ] || die "go mod download $module@$version failed"
  src="$work/src/ferretdb-$version"
  rm -rf "$src"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  echo "$version" >"$src/build/version/version.txt"
  (cd "$src" && GOTOOLCHAIN=$toolchain "$go" build -trimpath -o "$out.tmp" ./cmd/ferretdb)
  mv "$out.tmp" "$out"
  rm -rf "$src"
  "$out" --version 2>&1 | sed -n 1p | sed 's/^/  /' >&2
}

# ---- the distributed engine (--distributed) ----------------------------------------------------
dist_key() {
  local patches
  patches=$(cat "${DIST_PATCHES[@]}" | sha256sum | cut -c1-12)
  echo "recipe=$DIST_RECIPE root=$tools/dist $(pg_package_versions)libbson=$LIBBSON_VERSION" \
    "pgvector=$PGVECTOR_VERSION pg_cron=$PGCRON_VERSION citus=$CITUS_VERSION" \
    "documentdb=$DIST_DOCUMENTDB_VERSION patches=$patches ferretdb=$DIST_FERRETDB_VERSION"
}

setup_distributed() {
  local dist="$tools/dist"
  local distpg="$dist/pg"
  local distbin="$distpg/usr/lib/postgresql/$PG_MAJOR/bin"
  local distferretdb="$dist/bin/ferretdb"
  local diststamp="$dist/engine.stamp"
  local pkglib="$distpg/usr/lib/postgresql/$PG_MAJOR/lib"
  local p key src
  for p in "${DIST_PATCHES[@]}"; do [ -f "$p" ] || die "missing patch $p"; done

  if [ -z "$(missing_packages "${DIST_PACKAGES[@]}")" ] && [ -f "$diststamp" ] &&
    [ "$(cat "$diststamp")" = "$(dist_key)" ] && [ -x "$distbin/postgres" ] && [ -x "$distferretdb" ] &&
    [ -f "$pkglib/citus.so" ] && [ -f "$pkglib/pg_documentdb_distributed.so" ]; then
    say "distributed engine up to date: PostgreSQL $PG_MAJOR + Citus $CITUS_VERSION + DocumentDB" \
      "$DIST_DOCUMENTDB_VERSION (distributed) + FerretDB $DIST_FERRETDB_VERSION in .tools/dist"
    return 0
  fi

  total_started=$(now)
  say "setting up the distributed engine in $dist (a few minutes the first time)"

  packages_step "${DIST_PACKAGES[@]}"

  work=$dist
  key=$(dist_key)
  start_build "$key"
  rm -f "$diststamp"
  # The builds read their own version from git when inside a work tree: not from Roster's.
  export GIT_CEILING_DIRECTORIES="$dist/src"

  if ! done_step pgcopy; then
    step "PostgreSQL $PG_MAJOR: copying Debian's install tree to .tools/dist/pg"
    copy_pg_tree "$distpg" "$distbin"
    mark_step pgcopy
    step_done
  fi
  export PG_CONFIG="$distbin/pg_config"

  local deps="$dist/deps"
  export PKG_CONFIG_PATH="$deps/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  if ! done_step libbson; then
    step "libbson $LIBBSON_VERSION: static build into .tools/dist/deps"
    build_libbson "$deps"
    mark_step libbson
    step_done
  fi

  if ! done_step citus; then
    step "Citus $CITUS_VERSION: configure, build and install into .tools/dist/pg"
    src=$(source_tree "citus-$CITUS_VERSION.tar.gz" \
      "https://github.com/citusdata/citus/archive/refs/tags/v$CITUS_VERSION.tar.gz")
    (cd "$src" && ./configure PG_CONFIG="$PG_CONFIG") >"$work/src/citus-configure.log" 2>&1 || {
      tail -30 "$work/src/citus-configure.log" >&2
      die "Citus configure failed (log: $work/src/citus-configure.log)"
    }
    pgxs_build citus "$src"
    pgxs_build citus-install "$src" install
    rm -rf "$src"
    mark_step citus
    step_done
  fi

  copy_label=.tools/dist/pg
  pgxs_extension pgvector "$PGVECTOR_VERSION" "pgvector-$PGVECTOR_VERSION.tar.gz" \
    "https://github.com/pgvector/pgvector/archive/refs/tags/v$PGVECTOR_VERSION.tar.gz"
  pgxs_extension pg_cron "$PGCRON_VERSION" "pg_cron-$PGCRON_VERSION.tar.gz" \
    "https://github.com/citusdata/pg_cron/archive/refs/tags/v$PGCRON_VERSION.tar.gz"

  if ! done_step documentdb; then
    step "DocumentDB $DIST_DOCUMENTDB_VERSION: patch, build pg_documentdb_core, pg_documentdb and" \
      "pg_documentdb_distributed, install into .tools/dist/pg"
    src=$(source_tree "documentdb-$DIST_DOCUMENTDB_VERSION.tar.gz" \
      "https://github.com/documentdb/documentdb/archive/$DIST_DOCUMENTDB_COMMIT.tar.gz")
    for p in "${DIST_PATCHES[@]}"; do
      say "  applying ${p#"$root"/}"
      patch -d "$src" -p1 --forward --silent -i "$p" || die "$p does not apply to DocumentDB $DIST_DOCUMENTDB_VERSION"
    done
    pgxs_build documentdb_core "$src/pg_documentdb_core"
    pgxs_build documentdb_core-install "$src/pg_documentdb_core" install
    pgxs_build documentdb "$src/pg_documentdb"
    pgxs_build documentdb-install "$src/pg_documentdb" install
    pgxs_build documentdb_distributed "$src/internal/pg_documentdb_distributed"
    pgxs_build documentdb_distributed-install "$src/internal/pg_documentdb_distributed" install
    rm -rf "$src"
    mark_step documentdb
    step_done
  fi

  if ! done_step ferretdb || [ ! -x "$distferretdb" ]; then
    step "FerretDB $DIST_FERRETDB_VERSION: go build into .tools/dist/bin/ferretdb"
    build_ferretdb "$DIST_FERRETDB_VERSION" auto "$distferretdb"
    mark_step ferretdb
    step_done
  fi

  echo "$key" >"$diststamp"
  say "distributed engine ready in $(awk -v a="$total_started" -v b="$(now)" 'BEGIN { printf "%.0f s", b - a }'):" \
    "PostgreSQL $("$distbin/postgres" --version | awk '{ print $3 }') + Citus $CITUS_VERSION + DocumentDB" \
    "$DIST_DOCUMENTDB_VERSION (distributed) + FerretDB $DIST_FERRETDB_VERSION"
}

if [ "$distributed" = 1 ]; then
  setup_distributed
  exit 0
fi

# ---- the single-node engine -------------------------------------------------------------------
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
packages_step "${ENGINE_PACKAGES[@]}"

key=$(engine_key)
start_build "$key"
rm -f "$stamp"

# ---- 2. private copy of PostgreSQL's install tree ---------------------------------------------
if ! done_step pgcopy; then
  step "PostgreSQL $PG_MAJOR: copying Debian's install tree to .tools/pg"
  copy_pg_tree "$pgcopy" "$pgbin"
  mark_step pgcopy
  step_done
fi
export PG_CONFIG="$pgbin/pg_config"

# ---- 3. libbson, pgvector, pg_cron, DocumentDB ------------------------------------------------
deps="$tools/deps"
export PKG_CONFIG_PATH="$deps/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

if ! done_step libbson; then
  step "libbson $LIBBSON_VERSION: static build into .tools/deps"
  build_libbson "$deps"
  mark_step libbson
  step_done
fi

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
  build_ferretdb "$FERRETDB_VERSION" "$FERRETDB_GOTOOLCHAIN" "$ferretdb"
  mark_step ferretdb
  step_done
fi

echo "$key" >"$stamp"
say "engine ready in $(awk -v a="$total_started" -v b="$(now)" 'BEGIN { printf "%.0f s", b - a }'):" \
  "PostgreSQL $("$pgbin/postgres" --version | awk '{ print $3 }') + DocumentDB ${DOCUMENTDB_TAG#v} + FerretDB $FERRETDB_VERSION"
install_chromium
