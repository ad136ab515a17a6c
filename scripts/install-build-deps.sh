#!/usr/bin/env bash
# Installs the Debian packages the build needs (libclang for speex-sys's
# bindgen, cmake for the bundled C libraries, libspeexdsp-dev for the
# resampler, linked from the system; its runtime is libspeexdsp1). Idempotent; skips apt when
# everything is present.
set -euo pipefail
PKGS=(libclang-dev cmake pkg-config libspeexdsp-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
