#!/usr/bin/env bash
# The project's single test command:
#   test dependencies (Debian packages) -> cargo build -> cargo test (unit + scenario tests)
#   -> end-to-end tests (tests/e2e: the built rtmp2sip against sipp, ffmpeg, python3-librtmp, tshark)
#   -> the Debian package (tests/package/test_deb.sh: built from the debug binary, installed, purged)
#   -> the web phone SDK's tests (flash_phone/js/test/run.sh: node's test runner, against the binary)
#   -> fuzz smoke (every cargo-fuzz target for a few seconds from its committed seed corpus;
#      set SKIP_FUZZ=1 to leave it out while iterating locally).
# Extra arguments go to pytest, e.g. `scripts/test.sh -k echo`.
# Exits non-zero if any stage fails; a failed build stops at once.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-test-deps.sh || { echo "test.sh: installing test dependencies failed" >&2; exit 1; }

echo "==> cargo build --workspace"
cargo build --workspace || { echo "test.sh: cargo build failed" >&2; exit 1; }

failed=()
# phone.swf is built here, not committed: tests/e2e/test_flash_swf.py reads it
echo "==> flash_phone/build.sh  (haxe $(haxe --version 2>/dev/null || echo missing))"
flash_phone/build.sh || failed+=("flash_phone build")

echo "==> cargo test --workspace"
cargo test --workspace || failed+=("cargo test")

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
export RTMP2SIP_BIN="${RTMP2SIP_BIN:-$target_dir/debug/rtmp2sip}"
export PYTHONDONTWRITEBYTECODE=1
# The e2e tests mostly wait on real time (calls, timers, audio): two pytest-xdist workers, each
# module whole on one worker (its gateway is module-scoped), halve the wall time.
# E2E_WORKERS=1 runs them in one process.
workers="${E2E_WORKERS:-2}"
xdist=()
[ "$workers" -gt 1 ] && xdist=(-n "$workers" --dist loadfile)
echo "==> /usr/bin/python3 -m pytest -v ${xdist[*]} tests/e2e  (RTMP2SIP_BIN=$RTMP2SIP_BIN)"
/usr/bin/python3 -m pytest -v "${xdist[@]}" --durations=15 tests/e2e "$@" || failed+=("e2e tests")

echo "==> tests/package/test_deb.sh  (the .deb: dpkg -i, check-config as its user, systemd-analyze verify, purge)"
tests/package/test_deb.sh || failed+=("Debian package test")

echo "==> flash_phone/js/test/run.sh  (web phone SDK, node $(node --version 2>/dev/null || echo missing))"
flash_phone/js/test/run.sh || failed+=("SDK tests")

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  echo "==> scripts/fuzz-smoke.sh"
  scripts/fuzz-smoke.sh || failed+=("fuzz smoke")
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test.sh: all stages passed"
