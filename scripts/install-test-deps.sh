#!/usr/bin/env bash
# Installs the Debian packages the build and the end-to-end tests need.
# Idempotent: does nothing when every package is already installed.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  sip-tester        # sipp 3.6: SIP far end (UAS), plays RTP from pcap
  kamailio          # registrar + proxy with digest auth (tests/peers/kamailio, test_register.py)
  ffmpeg            # RTMP publisher/player, Speex encode/decode, audio decode
  python3-librtmp   # RTMP client that can invoke dial/hangup and read onStatus
  tshark            # captures the RTP that sipp receives
  sox               # audio tooling
  python3-numpy     # tonecheck / rtp2wav helpers
  python3-scipy
  python3-pytest    # e2e test runner (run with /usr/bin/python3)
  python3-jwt       # mints JSON Web Tokens in test_auth.py
  python3-cryptography  # ES256 / EdDSA keys in test_auth.py
  openssl               # test certificates for wss:// and rtmps:// (test_http_ws.py, test_rtmps.py)
  libclang-dev      # speex-sys bindgen
  cmake             # bundled libopus build
  pkg-config
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-test-deps: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
    echo "install-test-deps: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
