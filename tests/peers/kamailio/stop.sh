#!/bin/bash
# Stops a registrar started with start.sh RUNDIR: SIGTERM to the main process (-DD keeps it in the
# foreground), which stops all its children.
set -u
P=$(cat "$1/kamailio.bgpid" 2>/dev/null) && kill "$P" && rm -f "$1/kamailio.bgpid"
