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
#
# Every run first replays each input that ever failed: the cache's
# artifacts/ and the repository's regressions/TARGET/ (a failing input
# worth keeping is copied there and committed with its fix).  A failure
# prints the input in base64 in the TAP output.  The fuzzing itself starts
# from the seeds, the 300 newest and 300 random inputs of the cache's
# corpus (loading all of a corpus that only grows would spend the run on
# replaying it); what it finds is added to the corpus, which keeps its
# 5000 newest inputs.
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
SEEDS=$OUT/seeds
rm -rf "$SEEDS" && mkdir -p "$SEEDS"
if [ "$TARGET" = core ]; then
	python3 "$HERE/gen-seeds.py" "$SEEDS"
else
	# any bytes make a kernel: fixed pseudo-random seeds
	python3 -c 'import random, sys
r = random.Random(13)
for i in range(16):
    open("%s/seed-%02d" % (sys.argv[1], i), "wb").write(
        bytes(r.randrange(256) for _ in range(64 + 120 * i)))' "$SEEDS"
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The TAP lines of a failed input: its name, the sanitizer's or the
# harness's report, and its bytes in base64 (inputs are at most 4 KiB).
report_input() {
	grep -E 'ERROR|SUMMARY|runtime error|isa-diff:' "$2" | head -n 20 | sed 's/^/# /'
	echo "# input $1 (base64; decode it to a file and run $BIN FILE):"
	base64 -w 76 "$1" | sed 's/^/#   /'
}

# Past failures first, each on its own: one still failing fails the stage.
# Not slow-unit-* artifacts: libFuzzer notes those, they did not fail.
replayed=0
for f in "$REPO/qemu-device/tests/fuzz/regressions/$TARGET"/* "$OUT"/artifacts/*; do
	[ -f "$f" ] || continue
	case ${f##*/} in slow-unit-*) continue ;; esac
	replayed=$((replayed + 1))
	if ! timeout -k 5 60 "$BIN" -runs=1 -timeout=20 -rss_limit_mb=2048 "$f" \
			>"$OUT/replay.log" 2>&1; then
		echo "not ok 1 - $NAME: a past failure fails again: $f"
		report_input "$f" "$OUT/replay.log"
		exit 1
	fi
done

# A sample of the corpus, as links, and an empty directory for new finds.
SAMPLE=$OUT/sample
NEW=$OUT/new
rm -rf "$SAMPLE" "$NEW" && mkdir -p "$SAMPLE" "$NEW"
{ ls -t "$CORPUS" | head -n 300; ls "$CORPUS" | shuf -n 300; } |
	sort -u | while read -r f; do ln -s "$CORPUS/$f" "$SAMPLE/$f"; done

timeout -k 10 $((SECONDS_TO_RUN + 120)) \
	"$BIN" -max_total_time="$SECONDS_TO_RUN" -timeout=20 -rss_limit_mb=2048 \
	-max_len=4096 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/" \
	"$NEW" "$SEEDS" "$SAMPLE" >"$LOG" 2>&1
rc=$?
mv -f "$NEW"/* "$CORPUS"/ 2>/dev/null
# Bounded: the oldest inputs beyond 5000 go (a sample is all a run loads).
ls -t "$CORPUS" | tail -n +5001 | (cd "$CORPUS" && xargs -r rm -f)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -n 1)
cov=$(grep -o 'cov: [0-9]*' "$LOG" | tail -n 1 | cut -d' ' -f2)
ft=$(grep -o 'ft: [0-9]*' "$LOG" | tail -n 1 | cut -d' ' -f2)
if [ $rc -eq 0 ]; then
	echo "ok 1 - $NAME: ${execs:-0} execs, cov ${cov:-0}, ft ${ft:-0} in ${SECONDS_TO_RUN}s" \
		"($replayed past failures replayed, corpus $(ls "$CORPUS" | wc -l))"
	exit 0
fi
echo "not ok 1 - $NAME: failed (rc $rc) after ${execs:-?} execs, cov ${cov:-?}; log $LOG"
artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$LOG" | tail -n 1)
if [ -n "$artifact" ] && [ -f "$artifact" ]; then
	report_input "$artifact" "$LOG"
else
	grep -E 'ERROR|SUMMARY|runtime error|artifact|isa-diff:' "$LOG" | head -n 20 | sed 's/^/# /'
fi
exit 1
