#!/bin/bash
# Build a libFuzzer harness over the svmgpu core (clang,
# -fsanitize=fuzzer,address,undefined) and run it for SECONDS.
# Prints one TAP line; exits non-zero on a crash, leak, hang, divergence or
# build error.
#
#   qemu-device/tests/fuzz/run-fuzz.sh SECONDS [core|isa-diff]
#
# core (default): fuzz-core.c, registers, page tables, rings, commands.
# isa-diff: fuzz-isa-diff.c, random kernels on the reference and the fast
# compute engine, which must agree.
# Artifacts (crashes) and the corpus stay under $SVMGPU_CACHE/fuzz (core)
# or $SVMGPU_CACHE/fuzz/isa-diff; replay one with the binary there:
#   $SVMGPU_CACHE/fuzz/isa-diff/fuzz-isa-diff ARTIFACT
set -uo pipefail

SECONDS_TO_RUN=${1:-60}
TARGET=${2:-core}
HERE=$(cd "$(dirname "$0")" && pwd)
DEV=$(cd "$HERE/../.." && pwd)
REPO=$(cd "$DEV/.." && pwd)
CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
case $TARGET in
core)
	OUT=$CACHE/fuzz
	NAME=fuzz ;;
isa-diff)
	OUT=$CACHE/fuzz/isa-diff
	NAME=fuzz-isa-diff ;;
*)
	echo "run-fuzz.sh: unknown target '$TARGET' (core, isa-diff)" >&2
	exit 2 ;;
esac
BIN=$OUT/fuzz-$TARGET
CORPUS=$OUT/corpus
LOG=$OUT/fuzz.log
mkdir -p "$OUT/artifacts" "$CORPUS"

SRCS=("$DEV"/core/*.c "$HERE/fuzz-$TARGET.c")
if [ ! -x "$BIN" ] || [ -n "$(find "${SRCS[@]}" "$DEV/core" "$REPO/include/svmgpu" \
		-newer "$BIN" 2>/dev/null | head -n 1)" ]; then
	if ! clang -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -Wall -Wextra -Wno-unused-parameter \
		-I"$REPO/include" -I"$DEV/core" "${SRCS[@]}" -o "$BIN.tmp" \
		-lpthread -lm >"$OUT/build.log" 2>&1; then
		echo "not ok 1 - $NAME: build failed"
		sed 's/^/# /' "$OUT/build.log" | tail -n 30
		exit 1
	fi
	mv "$BIN.tmp" "$BIN"
fi
if [ -z "$(ls -A "$CORPUS")" ]; then
	if [ "$TARGET" = core ]; then
		python3 "$HERE/gen-seeds.py" "$CORPUS"
	else
		# any bytes make a kernel: fixed pseudo-random seeds
		python3 -c 'import random, sys
r = random.Random(13)
for i in range(16):
    open("%s/seed-%02d" % (sys.argv[1], i), "wb").write(
        bytes(r.randrange(256) for _ in range(64 + 120 * i)))' "$CORPUS"
	fi
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
	echo "ok 1 - $NAME: ${execs:-0} execs, cov ${cov:-0}, ft ${ft:-0} in ${SECONDS_TO_RUN}s"
	exit 0
fi
echo "not ok 1 - $NAME: failed (rc $rc) after ${execs:-?} execs, cov ${cov:-?}; log $LOG"
grep -E 'ERROR|SUMMARY|runtime error|artifact|isa-diff:' "$LOG" | head -n 20 | sed 's/^/# /'
exit 1
