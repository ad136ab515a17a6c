#!/usr/bin/env bash
# Installs the Debian packages the build and the end-to-end tests need, and
# Playwright for Python (pip, into Debian's /usr/bin/python3) for the browser
# tests (tests/e2e/test_browser.py). Playwright drives Debian's chromium: no
# browser is ever downloaded (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1).
# Idempotent: does nothing when everything is already installed.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  sip-tester        # sipp 3.6: SIP far end (UAS), plays RTP from pcap
  kamailio          # registrar + proxy with digest auth (tests/peers/kamailio, test_register.py)
  baresip-core      # softphone far end, headless over ctrl_tcp (tests/e2e/helpers/baresip.py, test_far_ends.py)
  linphone-cli      # softphone far end, linphonec on stdin (tests/e2e/helpers/linphone.py, test_far_ends.py)
  ffmpeg            # RTMP publisher/player, Speex encode/decode, audio decode
  python3-librtmp   # RTMP client that can invoke dial/hangup and read onStatus
  tshark            # captures the RTP that sipp receives
  sox               # audio tooling
  python3-numpy     # tonecheck / rtp2wav helpers
  python3-scipy
  python3-pytest    # e2e test runner (run with /usr/bin/python3)
  python3-pytest-xdist  # runs the e2e modules on two pytest workers (scripts/test.sh: -n 2 --dist loadfile)
  python3-jwt       # mints JSON Web Tokens in test_auth.py
  python3-cryptography  # ES256 / EdDSA keys in test_auth.py
  openssl               # test certificates for wss:// and rtmps:// (test_http_ws.py, test_rtmps.py)
  cmake             # bundled libopus build
  pkg-config
  libspeex-dev      # the Speex codec (codecs/src/speex/ffi.rs links libspeex, with its SSE code)
  libspeexdsp-dev   # the resampler (codecs/src/resample/ffi.rs links libspeexdsp)
  espeak-ng         # speech for PESQ (tests/peers/tools/pesq_path.py)
  chromium          # headless browser of the web phone tests (driven by Playwright, test_browser.py)
  fonts-dejavu-core # text in the page screenshot (docs/web-phone.png)
  python3-pip       # installs Playwright for Python into /usr/bin/python3
  haxe              # 4.2.5: compiles flash_phone/src to flash_phone/phone.swf (flash_phone/build.sh; Flash externs in its std)
  dpkg-dev          # dpkg-shlibdeps: cargo-deb's `$auto` Depends (scripts/build-deb.sh)
  adduser           # the package's postinst creates the rtmp2sip user (tests/package/test_deb.sh)
  systemd           # systemd-analyze verify of contrib/rtmp2sip.service (tests/package/test_deb.sh)
)

# Playwright for Python: 1.65.2 supports Python 3.9+ (Debian 12's python3 is 3.11) and drives
# Chromium over CDP, so the system chromium (156) works with executable_path="/usr/bin/chromium".
PLAYWRIGHT_VERSION=1.65.2
# PESQ (ITU-T P.862) MOS-LQO for tests/peers/tools/pesq_path.py.
PESQ_VERSION=0.0.4

SUDO=()
need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
      echo "install-test-deps: need root to install: $*" >&2; exit 1
    fi
  fi
}

install_playwright() {
  if /usr/bin/python3 -c "import sys, importlib.metadata as m; sys.exit(m.version('playwright') != '$PLAYWRIGHT_VERSION')" 2>/dev/null; then
    echo "install-test-deps: playwright $PLAYWRIGHT_VERSION present"
    return
  fi
  need_root "playwright==$PLAYWRIGHT_VERSION (pip)"
  echo "install-test-deps: pip installing playwright==$PLAYWRIGHT_VERSION (no browser download)"
  # Debian marks its python3 externally managed (PEP 668); Playwright is not packaged in Debian 12.
  "${SUDO[@]}" env PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    /usr/bin/python3 -m pip install --break-system-packages --no-input "playwright==$PLAYWRIGHT_VERSION"
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-test-deps: installing ${missing[*]}"
  need_root "${missing[*]}"
  "${SUDO[@]}" apt-get update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
install_pesq() {
  if /usr/bin/python3 -c "import sys, importlib.metadata as m; sys.exit(m.version('pesq') != '$PESQ_VERSION')" 2>/dev/null; then
    echo "install-test-deps: pesq $PESQ_VERSION present"
    return
  fi
  need_root "pesq==$PESQ_VERSION (pip)"
  echo "install-test-deps: pip installing pesq==$PESQ_VERSION"
  "${SUDO[@]}" env PIP_DISABLE_PIP_VERSION_CHECK=1 \
    /usr/bin/python3 -m pip install --break-system-packages --no-input "pesq==$PESQ_VERSION"
}

install_playwright
install_pesq

# Ruffle (npm @ruffle-rs/ruffle, the Flash Player emulator's self-hosted web build: JavaScript + WebAssembly
# inside the package) runs flash_phone/phone.swf in headless Chromium for tests/e2e/test_flash_ruffle.py.
# Ruffle has no RTMP or microphone: the test covers the SWF's ExternalInterface surface and its UI.
RUFFLE_VERSION=0.6.0
RUFFLE_PREFIX=${RUFFLE_PREFIX:-/usr/local/lib/rtmp2sip-test-node}
install_ruffle() {
  local pkg="$RUFFLE_PREFIX/node_modules/@ruffle-rs/ruffle/package.json"
  if [ -f "$pkg" ] && grep -Eq "\"version\": *\"$RUFFLE_VERSION\"" "$pkg"; then
    echo "install-test-deps: ruffle $RUFFLE_VERSION present"
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    # not fatal: the other tests still run, and test_flash_ruffle.py fails saying what is missing
    echo "install-test-deps: npm missing: cannot install Ruffle for test_flash_ruffle.py" >&2
    return 0
  fi
  need_root "@ruffle-rs/ruffle@$RUFFLE_VERSION (npm)"
  echo "install-test-deps: npm installing @ruffle-rs/ruffle@$RUFFLE_VERSION into $RUFFLE_PREFIX"
  "${SUDO[@]}" mkdir -p "$RUFFLE_PREFIX"
  "${SUDO[@]}" npm install --prefix "$RUFFLE_PREFIX" --no-audit --no-fund --no-save "@ruffle-rs/ruffle@$RUFFLE_VERSION"
}
install_ruffle
