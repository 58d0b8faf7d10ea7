# Progress of a long build whose output goes to a log file, for
# qemu-device/qemu-build.sh and images/kernel/build-kernel.sh (sourced).
#
#   progress_start LABEL LOG ninja|kbuild    watch LOG in the background
#   progress_stop                            stop watching, print the last state
#
# Every PROGRESS_INTERVAL seconds (60 by default; 0 turns it off) one line
# goes to stderr, and only when the build has moved on: for ninja the last
# "[n/m]" step as a percentage, for kbuild the number of files compiled so far
# and the last one.  A CI log of a cold QEMU build (about 2000 steps) gets a
# line a minute, never one per file.

PROGRESS_PID=

# progress_line LOG KIND: the build's state in a few words, or nothing.
progress_line() {
	local log=$1 kind=$2 last n m
	case "$kind" in
	ninja)
		last=$(grep -o '^\[[0-9]*/[0-9]*\]' "$log" 2>/dev/null | tail -n 1)
		[ -n "$last" ] || return 0
		n=${last#[}; n=${n%/*}; m=${last#*/}; m=${m%]}
		echo "step $n of $m ($((100 * n / m))%)"
		;;
	kbuild)
		n=$(grep -c -E '^  (CC|AS|LD|AR)( \[M\])? ' "$log" 2>/dev/null || true)
		[ "${n:-0}" -gt 0 ] || return 0
		last=$(grep -E '^  (CC|AS)( \[M\])? ' "$log" | tail -n 1 | awk '{ print $NF }')
		echo "$n files compiled or linked${last:+, now $last}"
		;;
	esac
}

progress_start() {
	local label=$1 log=$2 kind=$3 interval=${PROGRESS_INTERVAL:-60}
	[ "$interval" -gt 0 ] || return 0
	(
		# progress_stop's SIGTERM ends the sleep too: one left behind
		# held every descriptor the build inherited (a build lock, the
		# make's stdout) for up to a minute after the build, and each
		# reader of that output (a pipe, a $(...)) waited for it
		# (the live children only: no window in which it misses the
		# sleep or kills a pid reaped meanwhile)
		trap 'kill $(jobs -p) 2>/dev/null || :; exit 0' TERM
		start=$(date +%s)
		prev=
		while :; do
			sleep "$interval" &
			wait $!
			line=$(progress_line "$log" "$kind")
			[ -n "$line" ] && [ "$line" != "$prev" ] || continue
			prev=$line
			echo "$label: $line, $(( ($(date +%s) - start) / 60 )) min" >&2
		done
	# without the callers' lock descriptors, should a sleep outlive it
	) 8>&- 9>&- &
	PROGRESS_PID=$!
}

progress_stop() {
	[ -n "$PROGRESS_PID" ] || return 0
	# the watcher's status is that of a killed shell: never a failure of
	# the build (the callers run under set -e)
	kill "$PROGRESS_PID" 2>/dev/null || true
	wait "$PROGRESS_PID" 2>/dev/null || true
	PROGRESS_PID=
}
