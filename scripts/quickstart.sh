#!/usr/bin/env bash
# From a fresh clone to a first run on the embedded default: installs the
# Node modules, builds, obtains the Temporal CLI (built once with Go, then
# cached under ~/.cache/dibctl), checks the host, and runs the main job — image
# lifecycles — against an ephemeral Temporal dev server and the bundled
# OpenStack emulator.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build
node scripts/temporal-cli.js >/dev/null

node bin/dibctl.js doctor
exec node bin/dibctl.js demo "$@"
