#!/bin/sh
# Builds flash_phone/phone.swf from flash_phone/src with Debian's haxe (4.2.5; the Flash externs ship
# in its std library, no haxelib needed). Target: Flash Player 11 (-swf-version 11, written as SWF file
# version 13), which has SoundCodec.SPEEX, framesPerPacket, the enhanced (echo-cancelling) microphone
# and G.711. The stage is 320x240; the SDK embeds it at 1x1 and hides its UI (flashvar ui=0).
#   OUT  the SWF to write (default flash_phone/phone.swf)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$here/phone.swf}
command -v haxe >/dev/null || { echo "build.sh: haxe is required (scripts/install-test-deps.sh installs it)" >&2; exit 1; }
cd "$here"
haxe -cp src -main rtmp2sip.Main \
    -swf "$OUT" -swf-version 11 -swf-header 320:240:30:f4f4f4 \
    -D no-traces -dce std
echo "build.sh: wrote $OUT ($(wc -c < "$OUT") bytes)"
