#!/usr/bin/env bash
# Installs the Debian packages the build needs: cmake for the bundled libopus,
# libspeex-dev (the Speex codec, codecs/src/speex/ffi.rs) and libspeexdsp-dev
# (the resampler, codecs/src/resample/ffi.rs), both linked from the system;
# their runtimes are libspeex1 and libspeexdsp1. Idempotent; skips apt when
# everything is present.
set -euo pipefail
PKGS=(cmake pkg-config libspeex-dev libspeexdsp-dev)
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
