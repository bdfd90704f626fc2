# Shared helpers for .ci/run and the backend scripts in .ci/lib.
# Each backend script defines start_<name>, which installs the server into
# $CI_CACHE when it is missing (built or downloaded once per machine),
# starts it on 127.0.0.1 with its data under $CI_TMP, registers its PID with
# ci_track (or, for a server that daemonizes, a stop command with
# ci_on_cleanup), waits until it answers, and exports the variables the tests read.

CI_CACHE=${ATTACH_CI_CACHE:-$HOME/.cache/attachkit-ci}
mkdir -p "$CI_CACHE/bin"
CI_TMP=$(mktemp -d "${TMPDIR:-/tmp}/attachkit-ci.XXXXXX")
CI_PIDS=()
CI_STOPS=()

ci_track() { CI_PIDS+=("$1"); }

# ci_on_cleanup COMMAND: run COMMAND (a string for eval) at exit, before the
# tracked PIDs are killed: for servers that daemonize and stop themselves.
ci_on_cleanup() { CI_STOPS+=("$1"); }

ci_cleanup() {
  local cmd
  for cmd in "${CI_STOPS[@]:-}"; do
    [ -n "$cmd" ] && { eval "$cmd" || true; }
  done
  for pid in "${CI_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${CI_PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  rm -rf "$CI_TMP"
}
trap ci_cleanup EXIT

# ci_free_port prints a TCP port that is free on 127.0.0.1 right now.
ci_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
    echo $(( 20000 + RANDOM % 20000 ))
}

# ci_wait_port HOST PORT SECONDS NAME: wait until HOST:PORT accepts connections.
ci_wait_port() {
  local host=$1 port=$2 secs=$3 name=$4 i
  for ((i = 0; i < secs * 10; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$name did not start on $host:$port within ${secs}s" >&2
  return 1
}

# ci_apt PACKAGE...: install Debian packages that are missing.
ci_apt() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# ci_go_install MODULE@VERSION BINARY: build a Go program into $CI_CACHE/bin
# once per machine and version.
# A binary already in $CI_CACHE/bin without a stamp (placed there by hand or
# by an older script) is adopted when `go version -m` shows it was built
# from MODULE@VERSION.
ci_go_install() {
  local mod=$1 bin=$2 stamp="$CI_CACHE/bin/.$2.version"
  if [ -x "$CI_CACHE/bin/$bin" ] && [ ! -e "$stamp" ] &&
    go version -m "$CI_CACHE/bin/$bin" 2>/dev/null | awk -v m="${mod%@*}" -v v="${mod##*@}" '$1 == "mod" && $2 == m && $3 == v { found = 1 } END { exit !found }'; then
    echo "$mod" >"$stamp"
  fi
  if [ -x "$CI_CACHE/bin/$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$mod" ]; then return 0; fi
  echo "building $mod (once per machine)"
  (cd "$CI_TMP" && GOBIN="$CI_CACHE/bin" GOFLAGS=-mod=mod go install "$mod") </dev/null
  echo "$mod" >"$stamp"
}

# ci_wait_http URL SECONDS NAME [PID]: wait until URL answers with a 2xx
# status; give up early when PID (the server) has exited, showing its log
# $CI_TMP/NAME.log if there is one.
ci_wait_http() {
  local url=$1 secs=$2 name=$3 pid=${4:-} i
  for ((i = 0; i < secs * 10; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited before answering on $url" >&2
      [ -f "$CI_TMP/$name.log" ] && tail -n 30 "$CI_TMP/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$name did not answer on $url within ${secs}s" >&2
  [ -f "$CI_TMP/$name.log" ] && tail -n 30 "$CI_TMP/$name.log" >&2
  return 1
}
