#!/usr/bin/env bash
# Builds rtmp2sip (release) and runs it with config/gateway.toml, or with
# the configuration file given as the first argument.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-build-deps.sh
exec cargo run --release -- --config "${1:-config/gateway.toml}"
