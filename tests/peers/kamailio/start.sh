#!/bin/bash
# Starts the test registrar by hand (the e2e tests use tests/e2e/helpers/kamailio.py instead).
#   start.sh RUNDIR [PORT=5060] [ALGORITHM=MD5|SHA-256] [MIN_EXPIRES=5] [MAX_EXPIRES=3600]
# Writes RUNDIR/kamailio.cfg from the template beside this script, runs kamailio in the
# foreground mode (-DD) in the background, logs to RUNDIR/kamailio.log, and waits until it listens.
# Stop it with stop.sh RUNDIR. Bindings: kamcmd -s unix:RUNDIR/kamailio_ctl ul.dump
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RUN=$(mkdir -p "$1" && cd "$1" && pwd)
PORT=${2:-5060}; ALG=${3:-MD5}; MIN=${4:-5}; MAX=${5:-3600}
sed -e "s|@RUNDIR@|$RUN|g" -e "s|@PORT@|$PORT|g" -e "s|@ALGORITHM@|$ALG|g" \
    -e "s|@MIN_EXPIRES@|$MIN|g" -e "s|@MAX_EXPIRES@|$MAX|g" -e "s|@DEFAULT_EXPIRES@|$MAX|g" \
    "$HERE/kamailio.cfg" > "$RUN/kamailio.cfg"
kamailio -f "$RUN/kamailio.cfg" -DD -E -Y "$RUN" > "$RUN/kamailio.log" 2>&1 &
echo $! > "$RUN/kamailio.bgpid"
for _ in $(seq 100); do
  if ss -lun | grep -q "127.0.0.1:$PORT " && [ -S "$RUN/kamailio_ctl" ]; then exit 0; fi
  sleep 0.1
done
echo "kamailio did not start; log $RUN/kamailio.log:" >&2; tail -20 "$RUN/kamailio.log" >&2; exit 1
