#!/usr/bin/env bash
# Independent SCIM conformance check: runs the public scim2-tester suite (PyPI) against Roster.
#
# Creates (or reuses) a Python venv in the git-ignored .tools/venv with pinned versions, starts
# Roster on a free port with a fresh temporary data dir (so a fresh embedded database) and
# generated tokens, waits for /readyz, runs scripts/scim2_tester_run.py, and always stops the
# server. Exits 1 when any check is ERROR or CRITICAL.
#
#   bash scripts/scim2-tester.sh            # summary of every check
#   SCIM_TESTER_VERBOSE=1 bash scripts/...  # also the data of every check
#   MONGODB_URI=... bash scripts/...        # against an external database instead of the embedded one
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# Pinned: bump deliberately, then re-run and review the summary.
SCIM2_TESTER_VERSION=0.5.2
SCIM2_CLIENT_VERSION=0.13.2
SCIM2_MODELS_VERSION=0.12.3
HTTPX2_VERSION=2.16.2
PINS=(
  "scim2-tester[httpx2]==$SCIM2_TESTER_VERSION"
  "scim2-client[httpx2]==$SCIM2_CLIENT_VERSION"
  "scim2-models==$SCIM2_MODELS_VERSION"
  "httpx2==$HTTPX2_VERSION"
)

VENV=$ROOT/.tools/venv
STAMP=$VENV/.scim2-tester-pins
# Time bounds: the whole script stays under TOTAL seconds (default 280); every step gets at most
# its own limit and never more than what is left.
TOTAL=${SCIM_TESTER_TOTAL_TIMEOUT:-280}
left() { # left LIMIT -> min(LIMIT, seconds left of TOTAL), at least 1
  local rest=$((TOTAL - SECONDS))
  ((rest < 1)) && rest=1
  echo $((rest < $1 ? rest : $1))
}

log() { printf '== scim2-tester: %s\n' "$*"; }

# --- venv (cached under the git-ignored .tools/, reused while the pins are unchanged)
PY=${PYTHON:-python3}
if [[ -x $VENV/bin/python ]] && ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  log "removing a broken venv at $VENV"
  rm -rf "$VENV"
fi
if [[ ! -x $VENV/bin/python ]]; then
  log "creating $VENV"
  timeout "$(left 60)" "$PY" -m venv "$VENV"
fi
if [[ ! -f $STAMP ]] || [[ "$(cat "$STAMP")" != "${PINS[*]}" ]]; then
  log "installing ${PINS[*]}"
  timeout "$(left 150)" "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --timeout 30 "${PINS[@]}"
  printf '%s' "${PINS[*]}" >"$STAMP"
fi

# --- start Roster on a fresh data dir
DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/roster-scim2-tester.XXXXXX")
SERVER_LOG=$DATA_DIR/server.log
SERVER_PID=
port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
token() { "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))'; }
SCIM_TOKEN=$(token)
ADMIN_TOKEN=$(token)
# The checks run with a token whose source is "integration", as an identity provider's would: its
# users are created ACTIVE (users.defaultState.integration), so "active" round-trips as plain SCIM
# expects. With the "manual" source (ROSTER_SCIM_TOKEN) they would be STAGED, and by design
# (README "States and sources") active:true leaves a STAGED user STAGED, which the tester cannot know.
TESTER_TOKEN=$(token)
printf '{"auth": {"scimTokens": [{"name": "scim2-tester", "source": "integration", "token": "%s"}]}}\n' \
  "$TESTER_TOKEN" >"$DATA_DIR/roster-config.json"

stop_server() {
  local status=$?
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    # Roster runs in its own process group (setsid), with its embedded FerretDB: SIGTERM lets it
    # shut the database down; whatever is left after the grace period is killed by group id.
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -s $SERVER_LOG ]]; then
    echo "-- last lines of the server log ($SERVER_LOG):"
    tail -n 40 "$SERVER_LOG" || true
  fi
  rm -rf "$DATA_DIR"
  exit "$status"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

log "starting Roster on 127.0.0.1:$port (data dir $DATA_DIR)"
ROSTER_CONFIG=$DATA_DIR/roster-config.json PORT=$port HOST=127.0.0.1 ROSTER_PUBLIC_URL="http://127.0.0.1:$port" ROSTER_DATA_DIR=$DATA_DIR \
  ROSTER_SCIM_TOKEN=$SCIM_TOKEN ROSTER_ADMIN_TOKEN=$ADMIN_TOKEN LOG_LEVEL=${LOG_LEVEL:-warn} \
  setsid node --import tsx src/main.ts >"$SERVER_LOG" 2>&1 </dev/null &
SERVER_PID=$!

START_TIMEOUT=$(left 60) # seconds for Roster and its embedded database to be ready
deadline=$((SECONDS + START_TIMEOUT))
until curl -fsS --max-time 2 "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "Roster exited before it was ready"
    exit 2
  fi
  if ((SECONDS >= deadline)); then
    log "Roster was not ready within ${START_TIMEOUT}s"
    exit 2
  fi
  sleep 0.5
done
log "Roster ready; running the checks"

SCIM_BASE_URL="http://127.0.0.1:$port/scim/v2" SCIM_TOKEN=$TESTER_TOKEN \
  SCIM_TIMEOUT=15 timeout --kill-after=5 "$(left 150)" "$VENV/bin/python" scripts/scim2_tester_run.py
