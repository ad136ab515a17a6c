#!/usr/bin/env bash
# Builds the Debian package with cargo-deb ([package.metadata.deb] in Cargo.toml) and prints
# its path (target/debian/rtmp2sip_<version>-1_<arch>.deb).
#
#   scripts/build-deb.sh          the real package: a release build (cargo build --release),
#                                 then cargo deb (stripped binary, 3.9 MB .deb; symbols in a
#                                 -dbgsym .ddeb). From scratch on a 2-core machine shared with
#                                 other builds (load 6-9): 10 min 23 s of compiling, 11 min 23 s
#                                 in all; on an idle machine expect about half.
#   scripts/build-deb.sh --ci     packages the debug binary already built by `cargo build`
#                                 (cargo deb --no-build --profile dev, fast compression): the
#                                 package's layout, scripts and unit are the same; for the
#                                 install test (tests/package/test_deb.sh), not for release.
#
# Installs cargo-deb (pinned) with `cargo install --locked` when it is missing or another
# version: about 2 min 10 s of compiling on a 2-core machine, once.
# Needs dpkg-dev (dpkg-shlibdeps computes Depends from the binary: `$auto`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CARGO_DEB_VERSION=3.8.0

ci=0
case "${1:-}" in
  --ci) ci=1 ;;
  "") ;;
  *) echo "usage: scripts/build-deb.sh [--ci]" >&2; exit 2 ;;
esac

if ! cargo deb --version 2>/dev/null | grep -qF "$CARGO_DEB_VERSION"; then
  echo "==> cargo install cargo-deb --locked --version $CARGO_DEB_VERSION" >&2
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" >&2
fi

out="${CARGO_TARGET_DIR:-target}/debian"
mkdir -p "$out"
if [ "$ci" = 1 ]; then
  bin="${CARGO_TARGET_DIR:-target}/debug/rtmp2sip"
  [ -x "$bin" ] || cargo build --bin rtmp2sip >&2
  # cargo-deb warns that the dev profile is for tests only: that is what this is. Its
  # stderr is shown only when it fails.
  err=$(mktemp)
  if ! cargo deb --no-build --profile dev --fast --output "$out" 2>"$err" | tail -n 1; then
    cat "$err" >&2; rm -f "$err"; exit 1
  fi
  rm -f "$err"
else
  # The binary is stripped; its line tables ([profile.release] debug) go to
  # rtmp2sip-dbgsym_<version>_<arch>.ddeb beside it (Debian's dbgsym convention).
  cargo deb --dbgsym --output "$out" | tail -n 1
fi
