# ClamAV's clamd for scan/clamav: Debian's clamav-daemon, run in the
# foreground under $CI_TMP/clamd with a signature database written here that
# holds only the EICAR test signature (freshclam is never run: no network),
# listening on a free loopback port and a unix socket. Exports
# ATTACH_CLAMD_ADDR=tcp://127.0.0.1:PORT,
# ATTACH_CLAMD_UNIX_ADDR=unix://$CI_TMP/clamd/clamd.sock and
# ATTACH_CLAMD_STREAM_MAX_LENGTH (clamd's StreamMaxLength, in bytes).

CI_CLAMD_BIN=${ATTACH_CLAMD_BIN:-/usr/sbin/clamd}

# ci_clamd_ping PORT: print clamd's answer to PING on 127.0.0.1:PORT (in a
# subshell, so that a refused connection cannot end the calling shell).
ci_clamd_ping() (
  reply=""
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf 'zPING\0' >&3
  IFS= read -r -d '' -t 5 reply <&3 || true
  printf '%s' "$reply"
)

start_clamd() {
  [ -x "$CI_CLAMD_BIN" ] || ci_apt clamav-daemon
  local dir="$CI_TMP/clamd" port pid max=$((10 << 20)) i
  port=$(ci_free_port)
  mkdir -p "$dir/db" "$dir/tmp"

  # The EICAR test file is 68 bytes of public ASCII; the signature matches
  # it anywhere in the content (an .ndb body signature, hex-encoded).
  local eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
  printf 'Eicar-Test-Signature:0:*:%s\n' "$(printf '%s' "$eicar" | od -An -v -tx1 | tr -d ' \n')" \
    >"$dir/db/eicar.ndb"

  cat >"$dir/clamd.conf" <<EOF
Foreground yes
LogFile $dir/clamd.log
LogTime yes
PidFile $dir/clamd.pid
DatabaseDirectory $dir/db
TemporaryDirectory $dir/tmp
TCPSocket $port
TCPAddr 127.0.0.1
LocalSocket $dir/clamd.sock
StreamMaxLength $max
MaxThreads 8
ReadTimeout 30
CommandReadTimeout 10
Bytecode no
EOF
  # clamd runs as the invoking user (User is unset): root in CI is fine.
  "$CI_CLAMD_BIN" --config-file="$dir/clamd.conf" >>"$dir/clamd.out" 2>&1 </dev/null &
  pid=$!
  ci_track "$pid"

  for ((i = 0; i < 600; i++)); do
    if [ "$(ci_clamd_ping "$port" 2>/dev/null)" = PONG ]; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$dir/clamd.out" "$dir/clamd.log" >&2 2>/dev/null || true
      echo "clamd exited during startup" >&2
      return 1
    fi
    sleep 0.1
  done
  if [ "$(ci_clamd_ping "$port" 2>/dev/null)" != PONG ]; then
    cat "$dir/clamd.log" >&2 2>/dev/null || true
    echo "clamd did not answer PING on 127.0.0.1:$port within 60s" >&2
    return 1
  fi

  export ATTACH_CLAMD_ADDR="tcp://127.0.0.1:$port"
  export ATTACH_CLAMD_UNIX_ADDR="unix://$dir/clamd.sock"
  export ATTACH_CLAMD_STREAM_MAX_LENGTH=$max
  echo "$("$CI_CLAMD_BIN" --version) on 127.0.0.1:$port and $dir/clamd.sock (EICAR signature only)"
}
