#!/bin/bash
# Kernel style of kernel-driver/: checkpatch.pl --strict from Debian's
# linux-source-6.1 (unpacked by the debug kernel build).  One TAP line per
# file; errors and warnings fail, CHECKs are reported but pass.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
CP=$CACHE/linux-src/scripts/checkpatch.pl
if [ ! -f "$CP" ]; then
	echo "not ok 1 - checkpatch: $CP missing (build the debug kernel first)"
	exit 1
fi
cd "$TOP"
files=$(git ls-files 'kernel-driver/*.c' 'kernel-driver/*.h' 2>/dev/null)
[ -n "$files" ] || files=$(ls kernel-driver/*.c kernel-driver/*.h kernel-driver/include/uapi/drm/*.h)
n=0
bad=0
for f in $files; do
	n=$((n + 1))
	all=$(perl "$CP" --no-tree --strict --terse --show-types -f "$f" 2>&1)
	rc=$?
	out=$(printf '%s\n' "$all" | grep -E ': (ERROR|WARNING|CHECK):')
	hard=$(printf '%s\n' "$out" | grep -cE ': (ERROR|WARNING):')
	soft=$(printf '%s\n' "$out" | grep -cE ': CHECK:')
	# 0 clean, 1 reports: anything else is checkpatch.pl itself failing
	if [ "$rc" -gt 1 ]; then
		echo "not ok $n - checkpatch --strict: $f (checkpatch.pl exit $rc)"
		printf '%s\n' "$all" | head -n 5 | sed 's/^/# /'
		bad=1
		continue
	fi
	if [ "$hard" -eq 0 ]; then
		echo "ok $n - checkpatch --strict: $f${soft:+ ($soft checks)}"
	else
		echo "not ok $n - checkpatch --strict: $f"
		bad=1
	fi
	printf '%s\n' "$out" | grep . | head -n 10 | sed 's/^/# /'
done
exit $bad
