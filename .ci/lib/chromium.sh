# Debian's Chromium for the browser tests (examples/server's page and
# httpadapter's attach.js), driven headless through chromedp. Nothing to
# start: each test launches its own browser with a fresh profile. Exports
# ATTACH_CHROMIUM=/usr/bin/chromium.

start_chromium() {
  local bin=${ATTACH_CHROMIUM:-/usr/bin/chromium}
  [ -x "$bin" ] || ci_apt chromium
  [ -x "$bin" ] || { echo "$bin is missing after installing chromium" >&2; return 1; }
  export ATTACH_CHROMIUM=$bin
  echo "$("$bin" --version 2>/dev/null | head -n1) at $bin"
}
