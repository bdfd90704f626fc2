# fake-gcs-server, the Google Cloud Storage emulator the gs:// storage tests
# run against. Sourced by .ci/run after common.sh; start_fakegcs exports
#   ATTACH_GCS_URL          gs://attachkit
#   STORAGE_EMULATOR_HOST   127.0.0.1:<port>, no scheme (read by the GCS SDK)

CI_FAKEGCS_MODULE=github.com/fsouza/fake-gcs-server@v1.56.1

start_fakegcs() {
  ci_go_install "$CI_FAKEGCS_MODULE" fake-gcs-server
  local port pid
  port=$(ci_free_port)
  mkdir -p "$CI_TMP/fakegcs"
  "$CI_CACHE/bin/fake-gcs-server" -scheme http -host 127.0.0.1 -port "$port" \
    -external-url "http://127.0.0.1:$port" -public-host "127.0.0.1:$port" -backend filesystem -filesystem-root "$CI_TMP/fakegcs" \
    -log-level warn >"$CI_TMP/fakegcs.log" 2>&1 </dev/null &
  pid=$!
  ci_track "$pid"
  ci_wait_http "http://127.0.0.1:$port/storage/v1/b" 30 fakegcs "$pid"

  # The bucket ATTACH_GCS_URL names; tests create their own fresh buckets too.
  curl -fsS -X POST -H 'Content-Type: application/json' -d '{"name":"attachkit"}' \
    "http://127.0.0.1:$port/storage/v1/b?project=attachkit-ci" >/dev/null

  export STORAGE_EMULATOR_HOST="127.0.0.1:$port"
  export ATTACH_GCS_URL="gs://attachkit"
  echo "fake-gcs-server on 127.0.0.1:$port"
}
