#!/usr/bin/env bash
# The web console's part of the bring-up (scripts/bringup.sh runs it; safe to run again):
#  1. Node.js and npm: the machine's; Debian's `nodejs` and `npm` installed when missing and root
#  2. Chromium for the browser tests: Debian's `chromium`, installed when missing and root
#  3. web/node_modules from the lockfile (`npm ci`) when package-lock.json changed
#  4. web/dist (`npm run build`) when the console's sources changed
# Without Node it says so and leaves the console out: the API works the same without it.
# `--deps-only`: steps 1 and 3 only (scripts/web_types.sh needs web/node_modules on a fresh clone).
set -euo pipefail
cd "$(dirname "$0")/.."
DEPS_ONLY=$([ "${1:-}" = --deps-only ] && echo 1 || true)
WEB=$PWD/web
say() { printf '\033[1m[web]\033[0m %s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  is_root && command -v apt-get >/dev/null || { say "cannot install $* (not root or no apt-get)"; return 1; }
  [ -n "${APT_UPDATED:-}" ] || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing Node.js and npm from Debian's packages"
  apt_install nodejs npm || { say "no Node.js: the console is not built (the API works without it)"; exit 0; }
fi
[ -n "$DEPS_ONLY" ] || [ -x /usr/bin/chromium ] || command -v chromium >/dev/null || { say "installing chromium (browser tests)"; \
  apt_install chromium fonts-dejavu-core || say "chromium unavailable: the browser tests will fail"; }

lock_stamp=$(sha256sum "$WEB/package-lock.json" | cut -c1-16)
if [ ! -d "$WEB/node_modules" ] || [ "$(cat "$WEB/node_modules/.stamp" 2>/dev/null)" != "$lock_stamp" ]; then
  say "npm ci (web/package-lock.json changed)"
  (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_stamp" > "$WEB/node_modules/.stamp"
fi
[ -z "$DEPS_ONLY" ] || exit 0

src_stamp=$( (cd "$WEB" && find src index.html vite.config.ts tsconfig.json package-lock.json -type f -print0 \
  | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
if [ ! -f "$WEB/dist/index.html" ] || [ "$(cat "$WEB/dist/.stamp" 2>/dev/null)" != "$src_stamp" ]; then
  say "building the console (web/dist)"
  (cd "$WEB" && npm run build --silent >/dev/null)
  echo "$src_stamp" > "$WEB/dist/.stamp"
fi
