# shellcheck shell=bash
# Sourced where a QEMU built with ASan and UBSan (make QEMU_ASAN=1) runs:
# scripts/boot.sh and qemu-device/tests/run-qtest.sh.  QEMU stops at its
# first report (SIGABRT; guest-report.py prints the report's frames from
# qemu.log, ASan leaves no core); QEMU's exit-time leaks are not judged.
# Options of the caller's own ASAN_OPTIONS/UBSAN_OPTIONS come after these
# (the later one wins).
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
