#!/usr/bin/env bash
# Runs every cargo-fuzz target briefly from its committed seed corpus, so that a
# crash found once stays found (issue 9). Stable toolchain, no sanitizer.
#
#   scripts/fuzz-smoke.sh            # every target, FUZZ_SECONDS (default 5) each
#   scripts/fuzz-smoke.sh rtp sdp    # only these targets
#
# Seeds live in fuzz/corpus/<target>/ (small files, committed). New inputs found
# during the run go to a scratch directory, never into the repository. A crash
# leaves its input in fuzz/artifacts/<target>/ and fails the script: add that
# file to the target's corpus together with the fix.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

seconds="${FUZZ_SECONDS:-5}"
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

echo "==> cargo fuzz build -s none -O (${#targets[@]} targets)"
cargo fuzz build -s none -O

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
  seeds="corpus/$t"
  if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
    echo "fuzz-smoke: $t has no seed corpus in fuzz/$seeds" >&2
    failed+=("$t (no seeds)")
    continue
  fi
  mkdir -p "$scratch/$t" "artifacts/$t"
  echo "==> $t: ${seconds}s from $(ls "$seeds" | wc -l) seeds"
  if ! cargo fuzz run -s none -O "$t" "$scratch/$t" "$seeds" -- \
      -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="artifacts/$t/" >"$scratch/$t.log" 2>&1; then
    tail -40 "$scratch/$t.log" >&2
    failed+=("$t")
  else
    grep -E '^(stat::number_of_executed_units|Done )' "$scratch/$t.log" | tail -1 || true
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-smoke: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz-smoke: ${#targets[@]} targets ran without a crash"
