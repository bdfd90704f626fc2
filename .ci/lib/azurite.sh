# Azurite, the Azure Blob Storage emulator the azblob:// storage tests run
# against. Sourced by .ci/run after common.sh; start_azurite exports
#   ATTACH_AZURE_URL       azblob://attachkit?domain=127.0.0.1:<port>&protocol=http&localemu=true
#   AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY   Azurite's well-known development
#                          account (read by gocloud's Azure credential chain)

CI_AZURITE_VERSION=3.35.0
# Azurite's documented development account; not a secret.
CI_AZURITE_ACCOUNT=devstoreaccount1
CI_AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

start_azurite() {
  local npmdir="$CI_CACHE/npm" bin port pid
  bin="$npmdir/node_modules/.bin/azurite-blob"
  if [ ! -x "$bin" ] || [ "$(node -p "require('$npmdir/node_modules/azurite/package.json').version" 2>/dev/null)" != "$CI_AZURITE_VERSION" ]; then
    command -v npm >/dev/null 2>&1 || ci_apt nodejs npm
    echo "installing azurite@$CI_AZURITE_VERSION (once per machine)"
    mkdir -p "$npmdir"
    npm install --prefix "$npmdir" --no-audit --no-fund --loglevel=error "azurite@$CI_AZURITE_VERSION" </dev/null
  fi
  port=$(ci_free_port)
  mkdir -p "$CI_TMP/azurite"
  "$bin" --blobHost 127.0.0.1 --blobPort "$port" --location "$CI_TMP/azurite" \
    --skipApiVersionCheck --disableTelemetry --silent >"$CI_TMP/azurite.log" 2>&1 </dev/null &
  pid=$!
  ci_track "$pid"
  ci_wait_port 127.0.0.1 "$port" 60 azurite
  kill -0 "$pid" 2>/dev/null || { tail -n 30 "$CI_TMP/azurite.log" >&2; return 1; }

  # The container ATTACH_AZURE_URL names; tests create their own fresh
  # containers too. Create Container needs a SharedKey-signed request.
  python3 - "$port" "$CI_AZURITE_ACCOUNT" "$CI_AZURITE_KEY" attachkit <<'EOF'
import base64, hashlib, hmac, sys, urllib.request
from email.utils import formatdate
port, account, key, container = sys.argv[1:]
headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
canonical_headers = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()))
resource = f"/{account}/{account}/{container}\nrestype:container"
to_sign = "PUT\n" + "\n" * 11 + canonical_headers + resource
sig = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
req = urllib.request.Request(f"http://127.0.0.1:{port}/{account}/{container}?restype=container", method="PUT",
                             headers={**headers, "Authorization": f"SharedKey {account}:{sig}", "Content-Length": "0"})
urllib.request.urlopen(req, timeout=10).close()
EOF

  export AZURE_STORAGE_ACCOUNT=$CI_AZURITE_ACCOUNT AZURE_STORAGE_KEY=$CI_AZURITE_KEY
  export ATTACH_AZURE_URL="azblob://attachkit?domain=127.0.0.1:$port&protocol=http&localemu=true"
  echo "azurite on 127.0.0.1:$port"
}
