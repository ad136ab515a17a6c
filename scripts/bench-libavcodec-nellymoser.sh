#!/usr/bin/env bash
# Cost of libavcodec's Nellymoser encoder and decoder per 256-sample block
# (64 bytes) on this machine, for comparison with our codec
# (`cargo bench -p rtmp2sip-codecs --bench nellymoser`).
#
# For each rate: a vowel-like signal (150 Hz and 19 harmonics at 1/h, the
# signal of codecs/benches/nellymoser.rs), 10 s generated and looped to the
# wanted length; then, with `ffmpeg -benchmark` (user CPU time, best of N
# runs), each codec run minus a PCM run through the same pipeline with the
# same 256-sample frames and packets:
#   encode = (f32le -> 256-sample frames -> nellymoser -> null)
#          - (f32le -> 256-sample frames -> pcm_f32le  -> null)
#   decode = (FLV of nellymoser blocks -> decode -> pcm_f32le -> null)
#          - (FLV of 256-sample pcm_s16le packets -> decode -> pcm_s16le -> null)
# so reading, framing, filtering and muxing cancel out and only the codec
# remains (no run converts sample formats: the Nellymoser encoder takes and
# its decoder gives float). Prints µs per block.
#
# Usage: scripts/bench-libavcodec-nellymoser.sh [minutes at 44.1 kHz (10)] [runs (3)]
# Needs ffmpeg. 8 kHz gets 5x the minutes, so both rates have ~100k blocks.
set -euo pipefail

minutes="${1:-10}"
runs="${2:-3}"
ffmpeg="${FFMPEG:-ffmpeg}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Best user time in seconds of `ffmpeg -benchmark ARGS` over $runs runs.
utime() {
  local best="" t
  for _ in $(seq "$runs"); do
    t="$("$ffmpeg" -hide_banner -nostdin -benchmark "$@" 2>&1 |
      sed -n 's/^bench: utime=\([0-9.]*\)s.*/\1/p' | tail -1)"
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best="$t"
    fi
  done
  echo "$best"
}

# µs per block from two user times (s) and a block count.
per_block() {
  awk -v codec="$1" -v base="$2" -v blocks="$3" 'BEGIN { printf "%.2f", (codec - base) * 1e6 / blocks }'
}

expr="0"
for h in $(seq 1 20); do
  expr="$expr+sin(2*PI*150*$h*t)/$h"
done
expr="($expr)*4000/32768"

echo "libavcodec Nellymoser cost per 256-sample block ($("$ffmpeg" -version | head -1))"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
for rate in 8000 44100; do
  if [ "$rate" = 8000 ]; then seconds=$((minutes * 60 * 5)); else seconds=$((minutes * 60)); fi
  chunk="$work/chunk-$rate.f32"
  flv="$work/nelly-$rate.flv"
  pcm_flv="$work/pcm-$rate.flv"
  "$ffmpeg" -hide_banner -loglevel error -nostdin -y -f lavfi \
    -i "aevalsrc=exprs='$expr':sample_rate=$rate:duration=10" -ac 1 -f f32le "$chunk"
  input=(-stream_loop $((seconds / 10 - 1)) -f f32le -ar "$rate" -ac 1 -i "$chunk")
  frames=(-af asetnsamples=n=256:p=0)
  "$ffmpeg" -hide_banner -loglevel error -nostdin -y "${input[@]}" "${frames[@]}" \
    -c:a nellymoser -f flv "$flv"
  "$ffmpeg" -hide_banner -loglevel error -nostdin -y "${input[@]}" "${frames[@]}" \
    -c:a pcm_s16le -f flv "$pcm_flv"
  blocks=$((rate * seconds / 256))

  enc=$(utime "${input[@]}" "${frames[@]}" -c:a nellymoser -f null -)
  enc_base=$(utime "${input[@]}" "${frames[@]}" -c:a pcm_f32le -f null -)
  dec=$(utime -i "$flv" -c:a pcm_f32le -f null -)
  dec_base=$(utime -i "$pcm_flv" -c:a pcm_s16le -f null -)

  echo "$rate Hz, $blocks blocks: encode $(per_block "$enc" "$enc_base" "$blocks") µs/block" \
    "(utime ${enc}s - ${enc_base}s), decode $(per_block "$dec" "$dec_base" "$blocks") µs/block" \
    "(utime ${dec}s - ${dec_base}s)"
done
