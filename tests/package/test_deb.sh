#!/usr/bin/env bash
# The Debian package on this machine (needs root; called by scripts/test.sh, ~10 s after
# `cargo build`): build it from the debug binary (scripts/build-deb.sh --ci), install it with
# dpkg -i, and check
#   - the `rtmp2sip` system user exists, with no login shell and no home;
#   - /etc/rtmp2sip/gateway.toml is a conffile, root:rtmp2sip 0640;
#   - `rtmp2sip check-config /etc/rtmp2sip/gateway.toml` passes as that user (runuser);
#   - Depends carries libspeexdsp1 (from $auto);
#   - `systemd-analyze verify` accepts the unit, which runs as that user, reloads with SIGHUP
#     and keeps the hardening options;
# then purge it: the binary, the config and the user are gone.
# A machine that already has rtmp2sip installed from elsewhere is left alone (the test fails).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

fail() { echo "test_deb: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
if dpkg-query -W -f='${Status}' rtmp2sip 2>/dev/null | grep -q "installed"; then
  fail "a rtmp2sip package is already installed here; not touching it"
fi

t0=$(date +%s)
deb=$(scripts/build-deb.sh --ci)
[ -f "$deb" ] || fail "no package built ($deb)"
echo "test_deb: built $deb in $(( $(date +%s) - t0 )) s"

purge() { dpkg --purge rtmp2sip >/dev/null 2>&1 || true; }
trap purge EXIT
dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb"

getent passwd rtmp2sip >/dev/null || fail "no rtmp2sip user after install"
shell=$(getent passwd rtmp2sip | cut -d: -f7)
case "$shell" in */nologin|*/false) ;; *) fail "rtmp2sip user has a login shell: $shell" ;; esac
[ "$(stat -c '%U:%G %a' /etc/rtmp2sip/gateway.toml)" = "root:rtmp2sip 640" ] \
  || fail "gateway.toml is $(stat -c '%U:%G %a' /etc/rtmp2sip/gateway.toml), want root:rtmp2sip 640"
dpkg-query -W -f='${Conffiles}\n' rtmp2sip | grep -q "/etc/rtmp2sip/gateway.toml" \
  || fail "/etc/rtmp2sip/gateway.toml is not a conffile"
dpkg-query -W -f='${Depends}\n' rtmp2sip | grep -q "libspeexdsp1" \
  || fail "Depends lacks libspeexdsp1: $(dpkg-query -W -f='${Depends}' rtmp2sip)"

runuser -u rtmp2sip -- /usr/bin/rtmp2sip check-config /etc/rtmp2sip/gateway.toml \
  || fail "check-config as rtmp2sip"
/usr/bin/rtmp2sip --version | grep -q "^rtmp2sip " || fail "--version"

unit=$(dpkg -L rtmp2sip | grep '/systemd/system/rtmp2sip.service$') || fail "no unit installed"
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (scripts/install-test-deps.sh)"
out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit:\n$out"
# verify prints warnings it does not fail on: none may name our unit.
if echo "$out" | grep -q "rtmp2sip.service"; then fail "systemd-analyze verify warns:\n$out"; fi
for line in "User=rtmp2sip" "ExecReload=/bin/kill -HUP \$MAINPID" "NoNewPrivileges=yes" \
            "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" "CapabilityBoundingSet=" \
            "MemoryDenyWriteExecute=yes" "SystemCallFilter=@system-service" "RestrictAddressFamilies="; do
  grep -q "^$line" "$unit" || fail "$unit lacks $line"
done

dpkg --purge rtmp2sip >/dev/null || fail "dpkg --purge"
trap - EXIT
[ ! -e /usr/bin/rtmp2sip ] || fail "/usr/bin/rtmp2sip left after purge"
[ ! -e /etc/rtmp2sip/gateway.toml ] || fail "/etc/rtmp2sip/gateway.toml left after purge"
! getent passwd rtmp2sip >/dev/null || fail "rtmp2sip user left after purge"
echo "test_deb: ok ($(( $(date +%s) - t0 )) s)"
