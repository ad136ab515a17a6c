#!/usr/bin/env bash
# The standard load matrix (issue 10): builds release binaries, then for each codec path and each
# number of calls starts a fresh gateway and a sipp UAS that echoes RTP (-rtp_echo), runs
# rtmp2sip-load against them and prints a markdown table. With --write it also replaces the section
# of BENCHMARKS.md between <!-- bench-load:begin --> and <!-- bench-load:end -->.
#
#   scripts/bench-load.sh                          # ladder 20 50 100, 30 s windows, every path
#   scripts/bench-load.sh --calls "10 20" --duration 10 --paths transcoded,passthrough --write
#   scripts/bench-load.sh --no-build               # use the release binaries already built
#   scripts/bench-load.sh --paths pcmu --calls 20 --setup-calls 300 --setup-ramp 400   # + call setups per core-second
#   scripts/bench-load.sh --pin --calls "50 100 150 300" --write   # the gateway alone on one CPU (workers = 1),
#                                                                  # the generator and sipp on the other(s)
#
# Paths: transcoded (Speex WB <-> PCMU), passthrough (Speex, far end takes speex/16000),
# nellymoser (Nellymoser 8k <-> PCMU), pcmu (G.711 passthrough), opus (E-RTMP Opus <-> PCMU). The C ceiling column comes from
# `cargo run --release -p rtmp2sip-codecs --example ceiling -- --json` when that example exists.
# Needs sipp (Debian sip-tester) and python3. Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
args=()
for a in "$@"; do
    case "$a" in
        --no-build) build=0 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) args+=("$a") ;;
    esac
done

if [ "$build" = 1 ]; then
    echo "==> cargo build --release -p rtmp2sip -p rtmp2sip-load" >&2
    nice -n 10 cargo build --release -p rtmp2sip -p rtmp2sip-load >&2
fi
command -v sipp >/dev/null || { echo "bench-load.sh: sipp not found (apt-get install sip-tester)" >&2; exit 1; }
exec python3 scripts/bench_load.py ${args[@]+"${args[@]}"}
