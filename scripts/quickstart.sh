#!/usr/bin/env bash
# From a fresh clone to a first run on the embedded default: installs the
# Node modules, builds, obtains the Temporal CLI (built once with Go, then
# cached under ~/.cache/dibctl), and runs the main job against a local
# Temporal dev server and the bundled OpenStack emulator.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
node scripts/temporal-cli.js >/dev/null

exec node bin/dibctl.js doctor "$@"
