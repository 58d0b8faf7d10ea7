#!/bin/bash
# `make check`: every test of the project, in stages, each one's TAP kept in
# build/check/<stage>.tap, and one closing line "N passed, N failed".
#
# Stages: build (debian kernel), host unit tests (meson), device qtest,
# device fuzzing (bounded), the in-guest suite on Debian's kernel, the
# tutorial's commands (docs/tutorial.md, three boots), the debug
# kernel build, checkpatch --strict on the driver, the Debian packages
# (make deb, lintian) in a guest on Debian's kernel with svmgpu.ko built by
# DKMS (make deb-test), the in-guest suite on the
# debug kernel with the vIOMMU on (it includes syscall_fuzz, svmgpu-fuzz for
# 40 s), svm_aer, svm_multi and svm_unplug in a boot with three devices (two in
# hotplug slots) after each in-guest suite,
# then svmgpu-torture and svmgpu-fuzz under stress-ng for
# CHECK_STRESS_SECONDS on the debug kernel, vIOMMU, two NUMA nodes, swap on
# zram (make stress).  A stage that cannot
# run (a build error, a boot that never finishes) counts as a failure.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
BUILD=${BUILD:-$TOP/build}
OUT=$BUILD/check
CHECK_FUZZ_SECONDS=${CHECK_FUZZ_SECONDS:-30}
CHECK_STRESS_SECONDS=${CHECK_STRESS_SECONDS:-60}
mkdir -p "$OUT"
rm -f "$OUT"/*.failed

total_pass=0
total_fail=0
total_skip=0
check_start=$(date +%s)

# count FILE: "passed failed skipped" from a SVMGPU-COUNTS line, else from the
# top-level TAP lines.
count() {
	local c
	c=$(grep '^SVMGPU-COUNTS ' "$1" | tail -n 1 | cut -d' ' -f2-)
	if [ -n "$c" ]; then
		echo "$c"
		return
	fi
	awk '/^ok .*# *[Ss][Kk][Ii][Pp]/ { s++; next } /^ok / { p++ } /^not ok / { f++ }
		END { printf "%d %d %d\n", p, f, s }' "$1"
}

# stage_run NAME COMMAND...: run it, its output in $OUT/NAME.tap, its exit
# status and seconds in $OUT/NAME.rc.
stage_run() {
	local name=$1 start rc
	shift
	rm -f "$OUT/$name.rc"
	start=$(date +%s)
	"$@" > "$OUT/$name.tap" 2>&1
	rc=$?
	echo "$rc $(( $(date +%s) - start ))" > "$OUT/$name.rc"
}

# stage NAME COMMAND...: run it, keep its output, add up its results.
stage() {
	echo "== $1"
	stage_run "$@"
	stage_report "$1"
}

# stages_side_by_side "NAME COMMAND..." ...: the stages at the same time,
# reported in order (each string split at blanks: no quoting inside).
# For single-process stages (a fuzzer) on this 2-core machine: never for a
# guest stage, whose timing tests need the cores.
stages_side_by_side() {
	local st pids=() names=()
	for st in "$@"; do
		names+=("${st%% *}")
	done
	echo "== ${names[*]} (side by side)"
	for st in "$@"; do
		read -r -a st <<< "$st"
		stage_run "${st[@]}" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for st in "${names[@]}"; do
		stage_report "$st"
	done
}

# stage_report NAME: judge $OUT/NAME.tap, add up its results.
stage_report() {
	local name=$1 log=$OUT/$1.tap rc secs p f s
	read -r rc secs < "$OUT/$name.rc" || { rc=1; secs=0; }
	read -r p f s < <(count "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name: stage failed (exit $rc)" >> "$log"
	fi
	if [ $((p + f + s)) -eq 0 ]; then
		f=1
		echo "not ok - $name: stage ran no test" >> "$log"
	fi
	# Each failed test with the diagnostics it printed before its result
	# (the indented "# file:line: ..." lines: the failed EXPECT's values),
	# at most 12 of them: CI keeps this output, not the logs.
	awk '/^[ \t]+#/ { buf[n++ % 12] = $0; next }
		/^not ok/ { for (i = (n > 12 ? n - 12 : 0); i < n; i++) print buf[i % 12]
			    print; n = 0; next }
		/^ok/ { n = 0; next }
		/^#/ && !/^# SVMGPU/ { print }' "$log" | head -n 150 | tee "$OUT/$name.failed"
	grep -q '^not ok' "$OUT/$name.failed" || rm -f "$OUT/$name.failed"
	[ "$f" -gt 0 ] && tail -n 15 "$log" | grep -v -E '^(ok|not ok|[[:space:]]*#)' | sed 's/^/    /'
	echo "   $name: $p passed, $f failed, $s skipped ($secs s; $log)"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
}

build_stage() {
	make -s image KERNEL="$1" && echo "ok 1 - build: QEMU, svmgpu.ko, userspace and image for the $1 kernel"
}

stage build-debian build_stage debian
stage host make -s host-test
stage qtest bash qemu-device/tests/run-qtest.sh
# two single-process fuzzers, their own caches: one on each core
stages_side_by_side \
	"fuzz bash qemu-device/tests/fuzz/run-fuzz.sh $CHECK_FUZZ_SECONDS" \
	"fuzz-isa-diff bash qemu-device/tests/fuzz/run-fuzz.sh ${CHECK_ISA_DIFF_SECONDS:-30} isa-diff"
stage fuzz-qemu bash qemu-device/fuzz-qemu/run.sh $((2 * ${CHECK_QEMU_FUZZ_SECONDS:-60}))
stage guest-debian make -s guest-test KERNEL=debian IOMMU=0
# Several devices in one guest (svm_multi, docs/driver.md "Two devices"): a
# boot of its own, so that no other program sees a second render node.  The
# second and third sit in PCIe hotplug slots (the Makefile's MULTI_EXTRA),
# which svm_unplug powers off under load after svm_aer injected PCIe errors
# into the first and svm_multi ran on two.  (`make guest-test-multi` without
# TESTS runs the whole suite so.)
stage guest-debian-multi make -s guest-test-multi KERNEL=debian IOMMU=0 \
	TESTS=svm_aer,svm_multi,svm_unplug
stage tutorial make -s tutorial-test KERNEL=debian
stage build-debug build_stage debug
stage checkpatch bash scripts/checkpatch.sh
stage deb make -s deb-test
stage guest-debug-iommu make -s guest-test KERNEL=debug IOMMU=1
stage guest-debug-iommu-multi make -s guest-test-multi KERNEL=debug IOMMU=1 \
	TESTS=svm_aer,svm_multi,svm_unplug
stage stress-debug-iommu make -s stress KERNEL=debug IOMMU=1 STRESS_SECONDS="$CHECK_STRESS_SECONDS"

# The failures again at the end, where a truncated CI log still shows them.
for f in "$OUT"/*.failed; do
	[ -e "$f" ] || continue
	echo "== failed in $(basename "$f" .failed):"
	grep -v '^# .* took ' "$f" | head -n 40
done
echo "check took $(( $(date +%s) - check_start )) s; logs under $BUILD/logs and $OUT"
if [ "$total_skip" -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
