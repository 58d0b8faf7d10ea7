#!/bin/bash
# Build the libFuzzer harness over the svmgpu core (clang,
# -fsanitize=fuzzer,address,undefined) and run it for SECONDS.
# Prints one TAP line; exits non-zero on a crash, leak, hang or build error.
#
#   qemu-device/tests/fuzz/run-fuzz.sh SECONDS
# Artifacts (crashes) and the corpus stay under $SVMGPU_CACHE/fuzz.
set -uo pipefail

SECONDS_TO_RUN=${1:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
DEV=$(cd "$HERE/../.." && pwd)
REPO=$(cd "$DEV/.." && pwd)
CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
OUT=$CACHE/fuzz
BIN=$OUT/fuzz-core
CORPUS=$OUT/corpus
LOG=$OUT/fuzz.log
mkdir -p "$OUT/artifacts" "$CORPUS"

SRCS=("$DEV"/core/*.c "$HERE/fuzz-core.c")
if [ ! -x "$BIN" ] || [ -n "$(find "${SRCS[@]}" "$DEV/core" "$REPO/include/svmgpu" \
		-newer "$BIN" 2>/dev/null | head -n 1)" ]; then
	if ! clang -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -Wall -Wextra -Wno-unused-parameter \
		-I"$REPO/include" -I"$DEV/core" "${SRCS[@]}" -o "$BIN.tmp" \
		-lpthread -lm >"$OUT/build.log" 2>&1; then
		echo "not ok 1 - fuzz: build failed"
		sed 's/^/# /' "$OUT/build.log" | tail -n 30
		exit 1
	fi
	mv "$BIN.tmp" "$BIN"
fi
if [ -z "$(ls -A "$CORPUS")" ]; then
	python3 "$HERE/gen-seeds.py" "$CORPUS"
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$BIN" -max_total_time="$SECONDS_TO_RUN" -timeout=20 -rss_limit_mb=2048 \
	-max_len=4096 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/" \
	"$CORPUS" >"$LOG" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -n 1)
cov=$(grep -o 'cov: [0-9]*' "$LOG" | tail -n 1 | cut -d' ' -f2)
ft=$(grep -o 'ft: [0-9]*' "$LOG" | tail -n 1 | cut -d' ' -f2)
if [ $rc -eq 0 ]; then
	echo "ok 1 - fuzz: ${execs:-0} execs, cov ${cov:-0}, ft ${ft:-0} in ${SECONDS_TO_RUN}s"
	exit 0
fi
echo "not ok 1 - fuzz: failed (rc $rc) after ${execs:-?} execs, cov ${cov:-?}; log $LOG"
grep -E 'ERROR|SUMMARY|runtime error|artifact' "$LOG" | head -n 20 | sed 's/^/# /'
exit 1
