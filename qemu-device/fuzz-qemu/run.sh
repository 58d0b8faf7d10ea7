#!/bin/bash
# QEMU's own device fuzzer (qemu-fuzz-x86_64 --fuzz-target=generic-fuzz)
# against svmgpu's BARs and config space, in two machine configurations:
#
#   plain  -machine q35 -device svmgpu,local-mem-size=6M
#   iommu  -machine q35 -device intel-iommu -device svmgpu,local-mem-size=6M
#          (DMA remapping stays off, as with a guest in iommu=pt: BAR0 then
#          runs without QEMU's re-entrancy guard and DMA takes the BQL)
#
#   qemu-device/fuzz-qemu/run.sh SECONDS [CONFIG...]
#   qemu-device/fuzz-qemu/run.sh --reproduce CONFIG INPUT
#
# SECONDS is split between the configurations, which run side by side (one
# core each: SECONDS / 2 of wall time for the two).  Before fuzzing, every input
# in qemu-device/fuzz-qemu/regressions/ (CONFIG-*) and every crash kept in
# the cache is replayed and must not crash any more.  Prints TAP (one line
# per configuration and per replayed input) with executions and coverage;
# exits non-zero on a crash, leak, timeout or build failure.
#
# Under $SVMGPU_CACHE/fuzz-qemu/CONFIG: corpus/ (grows across runs),
# crashes/ (libFuzzer artifacts, each with .qtest, .sh and .c reproducers
# made by --reproduce), fuzz.log (the last run).
#
# The device runs with its synchronous test mode on: generic-fuzz runs each
# input in a fork()ed child, which has no engine threads, so the threaded
# device would never execute a command there.
#
# Environment: QEMU_FUZZ_CMD_TIMEOUT, seconds one input may take (30);
# QEMU_FUZZ_MERGE_AT, corpus size above which a long run (300 s or more per
# configuration) ends with a merge (400); QEMU_FUZZ_SAMPLE, corpus inputs a
# short run starts from besides the seeds (100).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DEV=$(cd "$HERE/.." && pwd)
CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
OUT=$CACHE/fuzz-qemu
BIN=$CACHE/qemu-fuzz-build/qemu-fuzz-x86_64
SRC=$CACHE/qemu-src
QEMU_SYSTEM=$CACHE/qemu-build/qemu-system-x86_64
INPUT_TIMEOUT=${QEMU_FUZZ_CMD_TIMEOUT:-30}
MERGE_AT=${QEMU_FUZZ_MERGE_AT:-400}
SAMPLE=${QEMU_FUZZ_SAMPLE:-100}
LONG_RUN=300            # seconds per configuration from which a run is long
# What in a log is a failure (a slow-unit artifact is not).
REPORT='==[0-9]+== ?ERROR|^SUMMARY: |runtime error:|Test unit written to .*/(crash|leak|timeout|oom)-'
ALL_CONFIGS=(plain iommu)

# The synchronous test mode's property: "x-sync" (issue 10), "sync" before.
sync_prop() {
	if grep -q '"x-sync"' "$DEV/svmgpu-pci.c"; then
		echo x-sync
	else
		echo sync
	fi
}

# config_args CONFIG: QEMU_FUZZ_ARGS for it.
config_args() {
	# 6 MiB of device-local memory: BAR4 is 8 MiB, RAM plus an MMIO tail
	local dev="-device svmgpu,addr=04.0,$(sync_prop)=on,local-mem-size=6M"

	case $1 in
	plain) echo "-machine q35 -nodefaults $dev" ;;
	iommu) echo "-machine q35 -nodefaults -device intel-iommu $dev" ;;
	*) return 1 ;;
	esac
}

fuzz_env() {
	export QEMU_FUZZ_ARGS
	QEMU_FUZZ_ARGS=$(config_args "$1")
	export QEMU_FUZZ_OBJECTS=svmgpu
	# No per-command timeout inside the child (it exits 0 silently); a
	# hang is caught by libFuzzer's -timeout instead and fails the run.
	export QEMU_FUZZ_TIMEOUT=0
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_abort=1:detect_stack_use_after_return=0
	export LSAN_OPTIONS=suppressions=$HERE/lsan.supp:print_suppressions=0
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$HERE/ubsan.supp
	export LD_PRELOAD=$CACHE/qemu-fuzz-build/fork-kick.so
}

# Run a command in its own process group, bounded, and kill whatever of
# that group outlives it (a fork()ed child left behind by a timeout).
bounded() {
	local limit=$1 pid rc
	shift
	timeout -k 10 "$limit" "$@" &
	pid=$!
	wait "$pid"
	rc=$?
	kill -KILL -- "-$pid" 2>/dev/null
	return "$rc"
}

# reproduce CONFIG INPUT: a qtest command sequence (INPUT.qtest), a bash
# reproducer against the main build's qemu-system-x86_64 (INPUT.sh) and a
# C qtest function (INPUT.c).  Prints where they are.
reproduce() {
	local config=$1 input=$2 args name tmp
	fuzz_env "$config"
	args="-display none -machine accel=qtest -m 512M $QEMU_FUZZ_ARGS"
	tmp=$(mktemp -d)
	QTEST_LOG=1 FUZZ_SERIALIZE_QTEST=1 bounded 120 nice -n 10 "$BIN" \
		--fuzz-target=generic-fuzz -artifact_prefix="$tmp/" "$input" \
		>"$input.trace" 2>&1
	rm -rf "$tmp"
	# The forked child logs a GLib warning (qtest's start timer is unset)
	# after every command, between a fill's "[DMA] " tag and its write:
	# drop the warnings and give the tag back to the write, or the reorder
	# leaves every fill after the command that made it.
	awk '/GLib: g_timer_elapsed: assertion/ {
		tag = $0; sub(/x86_64: GLib: .*/, "", tag); next }
		{ print tag $0; tag = "" }' "$input.trace" >"$input.trace.fixed"
	python3 "$SRC/scripts/oss-fuzz/reorder_fuzzer_qtest_trace.py" \
		"$input.trace.fixed" >"$input.qtest" 2>/dev/null
	rm -f "$input.trace.fixed"
	name=test_fuzz_${config}_$(basename "$input" | tr -c 'a-zA-Z0-9\n' _ | cut -c1-40)
	# QEMU keeps running after the last qtest command: stop it after 30 s
	# (exit 124: it survived; 134 or 139: it crashed).
	cat >"$input.sh" <<SH
#!/bin/sh
# Replay $(basename "$input") ($config) on the main build's QEMU.
timeout 30 "\${QEMU:-$QEMU_SYSTEM}" $args -qtest stdio < "$input.qtest"
SH
	QEMU_PATH=$QEMU_SYSTEM QEMU_ARGS="$args" python3 \
		"$SRC/scripts/oss-fuzz/output_reproducer.py" -c -no_comment \
		-name "$name" "$input.qtest" >"$input.c" 2>/dev/null
	echo "$input.qtest"
}

# replay CONFIG INPUT: 0 if INPUT runs to its end without a report.
replay() {
	local config=$1 input=$2 log=$3
	local art=$OUT/$config/replay-artifacts rc=0
	fuzz_env "$config"
	rm -rf "$art"
	mkdir -p "$art"
	bounded $((INPUT_TIMEOUT + 60)) nice -n 10 "$BIN" --fuzz-target=generic-fuzz \
		-timeout="$INPUT_TIMEOUT" -runs=1 -artifact_prefix="$art/" "$input" \
		>"$log" 2>&1 || rc=1
	rm -rf "$art"
	[ "$rc" -eq 0 ] &&
		! grep -aqE "$REPORT" "$log"
}

# merge_corpus CONFIG: the corpus reduced to the inputs that keep its
# coverage (libFuzzer -merge=1); left alone if that fails or takes too long.
merge_corpus() {
	local dir=$OUT/$1
	fuzz_env "$1"
	rm -rf "$dir/corpus.merge" "$dir/merge.ctl"
	mkdir -p "$dir/corpus.merge"
	if bounded 900 nice -n 10 "$BIN" --fuzz-target=generic-fuzz -merge=1 \
			-timeout="$INPUT_TIMEOUT" -artifact_prefix="$dir/crashes/merge-" \
			-merge_control_file="$dir/merge.ctl" "$dir/corpus.merge" \
			"$dir/corpus" >"$dir/merge.log" 2>&1 &&
			[ -n "$(ls "$dir/corpus.merge")" ]; then
		rm -rf "$dir/corpus.old"
		mv "$dir/corpus" "$dir/corpus.old"
		mv "$dir/corpus.merge" "$dir/corpus"
		rm -rf "$dir/corpus.old"
	fi
	rm -rf "$dir/corpus.merge" "$dir/merge.ctl"
}

# Lines of a report worth showing, as TAP comments.
report_lines() {
	grep -aE '== ?ERROR|SUMMARY|runtime error|ALARM|Test unit written|^ *#[0-9]+ .* in ' "$1" |
		grep -vE 'libfuzzer|libFuzzer|fuzzer::|__sanitizer|__asan|__interceptor' |
		head -n 25 | sed 's/^/# /'
}

n=0
fail=0

tap() {
	n=$((n + 1))
	echo "$1 $n - $2"
	[ "$1" = ok ] || fail=1
}

# fuzz_one CONFIG SECONDS
fuzz_one() {
	local config=$1 secs=$2 dir=$OUT/$1 rc execs cov ft corpus before after new a
	mkdir -p "$dir/corpus" "$dir/crashes"
	fuzz_env "$config"
	before=$(ls "$dir/crashes" | grep -E '^(crash|leak|timeout|oom)-[0-9a-f]+$' | sort)
	# libFuzzer first executes every input it is given, at about 5-10 a
	# second here.  A short run (make check) starts from the seeds and the
	# SAMPLE newest corpus inputs, and adds what it finds to the corpus; a
	# long one works on the whole corpus.  New inputs go to the first
	# directory; the others are read only.
	local first=$dir/corpus extra=()
	if [ "$secs" -lt "$LONG_RUN" ]; then
		first=$dir/new.$$
		rm -rf "$first" "$dir/sample.$$"
		mkdir -p "$first" "$dir/sample.$$"
		ls -t "$dir/corpus" | head -n "$SAMPLE" | sed "s|^|$dir/corpus/|" |
			xargs -r cp -t "$dir/sample.$$"
		extra=("$dir/sample.$$")
	fi
	bounded $((secs + INPUT_TIMEOUT + 300)) nice -n 10 "$BIN" --fuzz-target=generic-fuzz \
		-max_total_time="$secs" -timeout="$INPUT_TIMEOUT" -rss_limit_mb=4096 \
		-report_slow_units="$INPUT_TIMEOUT" \
		-max_len=4096 -use_value_profile=1 -print_final_stats=1 \
		-artifact_prefix="$dir/crashes/" "$first" "${extra[@]}" "$OUT/seeds" \
		>"$dir/fuzz.log.$$" 2>&1
	rc=$?
	if [ "$first" != "$dir/corpus" ]; then
		cp -n "$first"/* "$dir/corpus/" 2>/dev/null
		rm -rf "$first" "$dir/sample.$$"
	fi
	# Runs of one configuration may overlap (make check during a long
	# make fuzz-qemu): each writes its own log, the last one ends as fuzz.log.
	mv "$dir/fuzz.log.$$" "$dir/fuzz.log"
	execs=$(grep -a '^stat::number_of_executed_units:' "$dir/fuzz.log" | tail -n 1 | tr -dc 0-9)
	cov=$(grep -ao 'cov: [0-9]*' "$dir/fuzz.log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -ao 'ft: [0-9]*' "$dir/fuzz.log" | tail -n 1 | cut -d' ' -f2)
	corpus=$(ls "$dir/corpus" | wc -l)
	# A long run starts by executing the whole corpus: keep it in bounds.
	if [ "$secs" -ge "$LONG_RUN" ] && [ "$corpus" -gt "$MERGE_AT" ]; then
		merge_corpus "$config"
		corpus="$(ls "$dir/corpus" | wc -l) (merged from $corpus)"
	fi
	after=$(ls "$dir/crashes" | grep -E '^(crash|leak|timeout|oom)-[0-9a-f]+$' | sort)
	new=$(comm -13 <(echo "$before") <(echo "$after") | grep . || true)
	# A crash in the fork()ed child leaves an artifact and a report but
	# does not stop the parent: judge by both, and by the exit status.
	if [ "$rc" -eq 0 ] && [ -z "$new" ] &&
			! grep -aqE "$REPORT" "$dir/fuzz.log"; then
		tap ok "fuzz-qemu[$config]: ${execs:-0} execs, cov ${cov:-0}, ft ${ft:-0}, corpus $corpus in ${secs}s"
		return
	fi
	tap "not ok" "fuzz-qemu[$config]: failed (rc $rc) after ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}; log $dir/fuzz.log"
	report_lines "$dir/fuzz.log"
	for a in $new; do
		echo "# input $dir/crashes/$a"
		echo "# qtest reproducer $(reproduce "$config" "$dir/crashes/$a")"
	done
}

main() {
	local c input per
	if [ "${1:-}" = --reproduce ]; then
		[ $# -eq 3 ] || { echo "usage: $0 --reproduce CONFIG INPUT" >&2; exit 2; }
		reproduce "$2" "$3"
		exit 0
	fi

	TOTAL=${1:-120}
	shift || true
	CONFIGS=("$@")
	[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=("${ALL_CONFIGS[@]}")
	for c in "${CONFIGS[@]}"; do
		config_args "$c" >/dev/null || { echo "unknown configuration $c" >&2; exit 2; }
	done

	if ! bash "$HERE/build.sh" >"$OUT.build.log" 2>&1; then
		echo "not ok 1 - fuzz-qemu: build of qemu-fuzz-x86_64 failed"
		tail -n 30 "$OUT.build.log" | sed 's/^/# /'
		exit 1
	fi

	for c in "${CONFIGS[@]}"; do
		mkdir -p "$OUT/$c/crashes"
		for input in "$HERE"/regressions/"$c"-* "$OUT/$c"/crashes/*; do
			[ -f "$input" ] || continue
			case $input in *.trace|*.qtest|*.sh|*.c|*.log|*/slow-unit-*) continue ;; esac
			if replay "$c" "$input" "$OUT/$c/replay.log"; then
				tap ok "fuzz-qemu[$c]: $(basename "$input") replays without a report"
				# A cached crash that is fixed is kept, but replayed no more.
				case $input in "$OUT"/*)
					mkdir -p "$OUT/$c/crashes/fixed"
					mv "$input" "$input".* "$OUT/$c/crashes/fixed/" 2>/dev/null ;;
				esac
			else
				tap "not ok" "fuzz-qemu[$c]: $(basename "$input") still fails; log $OUT/$c/replay.log"
				report_lines "$OUT/$c/replay.log"
			fi
		done
	done

	per=$((TOTAL / ${#CONFIGS[@]}))
	[ "$per" -ge 1 ] || per=1
	mkdir -p "$OUT/seeds"
	python3 "$HERE/gen-seeds.py" "$OUT/seeds"
	# The configurations side by side: generic-fuzz runs one input at a
	# time (in a fork()ed child), so each keeps one core busy, and this
	# takes SECONDS / 2 with two.  Their TAP is numbered here, in order.
	local pids=() line
	for c in "${CONFIGS[@]}"; do
		fuzz_one "$c" "$per" >"$OUT/$c/result.$$" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	for c in "${CONFIGS[@]}"; do
		local lines=0
		while IFS= read -r line; do
			if [[ $line =~ ^(ok|not\ ok)\ [0-9]+\ -\ (.*)$ ]]; then
				tap "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
				lines=$((lines + 1))
			else
				printf '%s\n' "$line"
			fi
		done <"$OUT/$c/result.$$"
		rm -f "$OUT/$c/result.$$"
		[ "$lines" -gt 0 ] || tap "not ok" "fuzz-qemu[$c]: the run printed no result"
	done
	return "$fail"
}

# Parsed whole before it runs: editing this file cannot disturb a run.
main "$@"; exit $?
