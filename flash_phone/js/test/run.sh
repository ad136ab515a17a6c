#!/bin/sh
# Runs the web phone SDK's tests with node's built-in test runner: unit tests
# (AMF0, chunking, handshake, audio) and the end-to-end tests against the real
# gateway binary over TCP and over a WebSocket bridge.
#   RTMP2SIP_BIN  the gateway binary (default: target/debug/rtmp2sip of this repository)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
RTMP2SIP_BIN=${RTMP2SIP_BIN:-$root/target/debug/rtmp2sip}
if [ ! -x "$RTMP2SIP_BIN" ]; then
    echo "run.sh: gateway binary $RTMP2SIP_BIN not found or not executable (build it, or set RTMP2SIP_BIN)" >&2
    exit 1
fi
export RTMP2SIP_BIN
command -v node >/dev/null || { echo "run.sh: node (v20 or later) is required" >&2; exit 1; }
# node 20 has a WebSocket client behind a flag (ws.test.js uses it, as a browser would)
if ! node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)'; then
    NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--experimental-websocket"
    export NODE_OPTIONS
fi
cd "$here"
exec node --test "$@" .
