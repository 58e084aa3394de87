#!/usr/bin/env bash
# The mixed-traffic soak, short form (tests/soak/soak_mix.sh): thousands of
# connections of every live and dead kind at once for two minutes (in an
# emulated guest, SR_TIME_SCALE > 1: 100 s and about a third of the
# connections, every grace and wait scaled); zero false reaps, zero misses,
# and every daemon's tracked count back to the live sockets, or it fails. `make soak-mix` runs the long form.
if [ "${SR_TIME_SCALE:-1}" = 1 ]; then
	export SOAK_SECONDS=${SOAK_SECONDS:-120} SOAK_COUNT=${SOAK_COUNT:-1}
else
	export SOAK_SECONDS=${SOAK_SECONDS:-100} SOAK_COUNT=${SOAK_COUNT:-0.3}
fi
exec bash "$(dirname "$0")/../soak/soak_mix.sh"
