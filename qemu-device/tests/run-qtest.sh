#!/bin/bash
# Build QEMU with the svmgpu device and its qtest (qemu-device/qemu-build.sh)
# and run the qtest.  TAP on stdout; exit status non-zero on failure.
#
#   qemu-device/tests/run-qtest.sh [gtest args, e.g. -p /svmgpu/copy]
#
# SVMGPU_QEMU_ASAN=1 runs it on the ASan/UBSan build (qemu-build.sh):
# a sanitizer report aborts QEMU, and the test then fails.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${SVMGPU_CACHE:-$HOME/.cache/svmgpu}
BUILD=$CACHE/qemu-build
LOG=$CACHE/qtest-build.log
TIMEOUT=120
if [ "${SVMGPU_QEMU_ASAN:-0}" = 1 ]; then
	BUILD=$CACHE/qemu-asan-build
	LOG=$CACHE/qtest-asan-build.log
	TIMEOUT=600
	# shellcheck source=scripts/asan-env.sh
	. "$HERE/../../scripts/asan-env.sh"
fi

if ! bash "$HERE/../qemu-build.sh" qemu-system-x86_64 tests/qtest/svmgpu-test \
	>"$LOG" 2>&1; then
	echo "not ok 1 - build QEMU and svmgpu-test (see $LOG)"
	tail -n 40 "$LOG" | sed 's/^/# /'
	exit 1
fi

cd "$BUILD"
export QTEST_QEMU_BINARY=./qemu-system-x86_64
export QTEST_QEMU_STORAGE_DAEMON_BINARY=/bin/false
export G_TEST_DBUS_DAEMON=/bin/true
export MALLOC_PERTURB_=$((RANDOM % 255 + 1))
exec timeout "$TIMEOUT" ./tests/qtest/svmgpu-test --tap -k "$@"
