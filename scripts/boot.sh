#!/bin/bash
# Boot a svmgpu guest.
#
#   boot.sh MODE            MODE: shell | exec | check | demo | bench | torture |
#                                 stress | fuzz
#
# Environment (the Makefile sets these):
#   QEMU KERNEL_IMAGE INITRD   what to boot
#   KERNEL_FLAVOR              debian | debug (adds the debug checkers' options)
#   ACCEL                      auto | kvm | tcg  (auto: KVM only if it really works)
#   IOMMU                      1: q35 + intel-iommu, guest intel_iommu=on
#   MACHINE MEM SMP            q35, 2G, 2 by default
#   LOCAL_MEM                  the svmgpu's local-mem-size (256M; 0 = none,
#                              docs/hw-spec.md §5a)
#   NUMA                       guest NUMA nodes (1); N > 1 splits MEM and the CPUs
#                              evenly into N nodes and turns on numa_balancing
#   QEMU_EXTRA                 extra QEMU arguments
#   GUEST_APPEND               extra guest kernel command-line words
#   LOGDIR                     console.log and results.log go here (non-shell)
#   BOOT_TIMEOUT               seconds before a non-interactive boot is killed
#   TEST_TIMEOUT TESTS         per-test limit and test selection for check mode
#   BENCH                      quick | full, for bench mode
#   TORTURE_SECONDS            how long torture mode runs
#   STRESS_SECONDS             how long stress mode runs
#   FUZZ_OPS FUZZ_SEED FUZZ_LIMIT FUZZ_ARGS
#                              fuzz mode: svmgpu-fuzz operations, seed (empty:
#                              the guest picks one), time limit in seconds,
#                              extra options (commas for spaces)
#   SHARE                      a host directory the guest mounts read-write on
#                              /share (virtio-9p), in any mode
#   EXEC_CMD                   exec mode: the shell command the guest runs (in
#                              /share when SHARE is set); its output streams to
#                              stdout, "SVMGPU-DONE <exit status>" ends it in
#                              results.log
set -euo pipefail

MODE=${1:-shell}
HERE=$(cd "$(dirname "$0")" && pwd)
: "${QEMU:?}" "${KERNEL_IMAGE:?}" "${INITRD:?}"
ACCEL=${ACCEL:-auto}
MACHINE=${MACHINE:-q35}
MEM=${MEM:-2G}
SMP=${SMP:-2}
IOMMU=${IOMMU:-0}
KERNEL_FLAVOR=${KERNEL_FLAVOR:-debian}
LOGDIR=${LOGDIR:-.}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
TESTS=${TESTS:-}
BENCH=${BENCH:-full}
NUMA=${NUMA:-1}
LOCAL_MEM=${LOCAL_MEM:-256M}

if [ "$ACCEL" = auto ]; then
	ACCEL=$(bash "$HERE/accel.sh" "$QEMU" "$KERNEL_IMAGE")
fi
case "$ACCEL" in
kvm) cpu=host ;;
tcg) cpu=max; ACCEL=tcg,thread=multi ;;
*) echo "boot: ACCEL must be auto, kvm or tcg" >&2; exit 2 ;;
esac

append="console=ttyS0 panic=-1 svmgpu.mode=$MODE svmgpu.test_timeout=$TEST_TIMEOUT"
[ -n "$TESTS" ] && append="$append svmgpu.tests=$TESTS"
[ "$MODE" = bench ] && append="$append svmgpu.bench=$BENCH"
[ -n "${GUEST_APPEND:-}" ] && append="$append $GUEST_APPEND"
[ "$MODE" = torture ] && append="$append svmgpu.torture_seconds=${TORTURE_SECONDS:-1800}"
[ "$MODE" = stress ] && append="$append svmgpu.stress_seconds=${STRESS_SECONDS:-1800}"
if [ "$MODE" = fuzz ]; then
	append="$append svmgpu.fuzz_ops=${FUZZ_OPS:-1000000} svmgpu.fuzz_limit=${FUZZ_LIMIT:-10800}"
	[ -n "${FUZZ_SEED:-}" ] && append="$append svmgpu.fuzz_seed=$FUZZ_SEED"
	[ -n "${FUZZ_ARGS:-}" ] && append="$append svmgpu.fuzz_args=$(echo "$FUZZ_ARGS" | tr ' ' ,)"
fi
if [ "$MODE" = exec ]; then
	if [ -z "${EXEC_CMD:-}" ]; then
		echo "boot: exec mode needs EXEC_CMD" >&2
		exit 2
	fi
	append="$append svmgpu.exec=$(printf '%s' "$EXEC_CMD" | base64 -w 0)"
fi
# The whole kernel log goes to console.log: warnings must be seen there.
# No KASLR: the RIPs in qemu-hang.txt are System.map addresses (named there
# from the debug kernel's map; Debian's real one is in its -dbg package).
[ "$MODE" = shell ] || append="$append loglevel=7 nokaslr"
if [ "$KERNEL_FLAVOR" = debug ]; then
	append="$append kasan_multi_shot hung_task_panic=0 softlockup_panic=0"
	# every CPU's backtrace with a hung task or soft lockup
	append="$append sysctl.kernel.hung_task_all_cpu_backtrace=1"
	append="$append softlockup_all_cpu_backtrace=1"
fi

smp=$SMP
# one socket per CPU, so that NUMA=N can deal the CPUs out to the nodes
[ "$NUMA" -gt 1 ] && smp="$SMP,sockets=$SMP,cores=1,threads=1"
# debug-threads: QEMU's threads carry their names (CPU 0/TCG, svmgpu-engine,
# ...) in ps, top and the hang dump's backtraces
args=(-accel "$ACCEL" -cpu "$cpu" -m "$MEM" -smp "$smp" -name svmgpu,debug-threads=on
	-nodefaults -no-user-config -display none -no-reboot
	-kernel "$KERNEL_IMAGE" -initrd "$INITRD")
if [ "$IOMMU" = 1 ]; then
	# intel-iommu must exist before the devices it translates for
	args+=(-M q35 -device intel-iommu,intremap=off)
	append="$append intel_iommu=on iommu.strict=1"
else
	args+=(-M "$MACHINE")
fi
args+=(-device "svmgpu,local-mem-size=$LOCAL_MEM")

# SHARE=DIR: QEMU's virtio-9p serves DIR; security_model=none leaves files
# owned by whoever runs QEMU, so the host user can edit what the guest wrote.
if [ -n "${SHARE:-}" ]; then
	if [ ! -d "$SHARE" ]; then
		echo "boot: SHARE=$SHARE is not a directory" >&2
		exit 2
	fi
	share=$(cd "$SHARE" && pwd)
	args+=(-fsdev "local,id=svmgpu-share,path=${share//,/,,},security_model=none"
		-device virtio-9p-pci,fsdev=svmgpu-share,mount_tag=svmgpu-share)
	append="$append svmgpu.share=svmgpu-share"
fi
# x86's kernel command line holds 2047 bytes; a longer one is cut silently.
if [ ${#append} -gt 2000 ]; then
	echo "boot: the guest command line is ${#append} bytes, more than 2000 (a long EXEC_CMD?)" >&2
	exit 2
fi

# NUMA=N: N nodes, each with its own RAM backend, the CPUs dealt out in turn.
if [ "$NUMA" -gt 1 ]; then
	case "$MEM" in
	*G) mem_mb=$(( ${MEM%G} * 1024 )) ;;
	*M) mem_mb=${MEM%M} ;;
	*) mem_mb=$MEM ;;
	esac
	if [ "$SMP" -lt "$NUMA" ] || [ $((mem_mb % NUMA)) -ne 0 ]; then
		echo "boot: NUMA=$NUMA needs at least $NUMA CPUs and MEM divisible by $NUMA" >&2
		exit 2
	fi
	for ((n = 0; n < NUMA; n++)); do
		args+=(-object "memory-backend-ram,id=ram$n,size=$((mem_mb / NUMA))M"
			-numa "node,nodeid=$n,memdev=ram$n")
	done
	for ((c = 0; c < SMP; c++)); do
		args+=(-numa "cpu,node-id=$((c % NUMA)),socket-id=$c")
	done
	append="$append numa_balancing=enable"
fi

if [ "$MODE" = shell ]; then
	echo "boot: $ACCEL, $MEM, $SMP CPUs, IOMMU=$IOMMU; Ctrl-a x quits QEMU" >&2
	# shellcheck disable=SC2086
	exec "$QEMU" "${args[@]}" -append "$append" -serial mon:stdio -serial null ${QEMU_EXTRA:-}
fi

mkdir -p "$LOGDIR"
console=$LOGDIR/console.log
results=$LOGDIR/results.log
: > "$console"
: > "$results"
echo "boot: $MODE, kernel $KERNEL_FLAVOR, $ACCEL, IOMMU=$IOMMU, logs in $LOGDIR" >&2
start=$(date +%s.%N)
# exec mode: the command's output as it comes, without the protocol lines
# (by name: a boot again after an early stall renames the first one's file)
tailpid=
if [ "$MODE" = exec ]; then
	tail -n +1 -F "$results" 2>/dev/null > >(grep --line-buffered -v '^SVMGPU-') &
	tailpid=$!
fi
# A hung run is caught before it is cut: qemu-hang.txt gets where the vCPUs
# were (twice, to tell spinning from halted) and every QEMU thread's
# backtrace (scripts/qemu-hang-dump.py), through a monitor socket (a short
# path of its own: sun_path holds 108 bytes).  In check mode the guest's
# init logs a heartbeat every 30 s (images/init), so a guest that has
# written neither a result nor a heartbeat (while it boots: nothing to its
# kernel log) for STALL_SECONDS is frozen, even if its kernel log still
# grows with lockup reports (a stuck program is the
# in-guest runner's business: it kills it after TEST_TIMEOUT and gives up
# on one that outlives it by 30 s); it is dumped and stopped then.  Other
# modes (fuzz, torture, stress, ...) write no heartbeat: only their boot is
# watched so, until the kernel runs /init.  Any run is dumped a minute
# before BOOT_TIMEOUT kills it.
STALL_SECONDS=${STALL_SECONDS:-180}
init_line='Run /init as init process'
mondir=$(mktemp -d /tmp/svmgpu-mon.XXXXXX)
monitor=$mondir/hmp.sock
rm -f "$LOGDIR/qemu-hang.txt" "$LOGDIR"/*-early-stall.*
watch_qemu() {
	local tpid=$1 dump i qpid size last_size=-1 last_change=0 why='' booted=''
	dump=$((BOOT_TIMEOUT > 120 ? BOOT_TIMEOUT - 60 : BOOT_TIMEOUT / 2))
	for ((i = 0; ; i++)); do
		sleep 1
		kill -0 "$tpid" 2>/dev/null || return 0
		if [ "$MODE" = check ] || [ -z "$booted" ]; then
			# the kernel log while it boots; then results or
			# heartbeats: a guest whose one live CPU only reports
			# soft lockups is frozen too.  Other modes have no
			# heartbeat: they are watched until /init runs.
			if [ -s "$results" ]; then
				size="$(stat -c %s "$results") $(grep -c 'svmgpu-init: heartbeat' "$console" || true)"
			else
				size=$(stat -c %s "$console" 2>/dev/null || true)
			fi
			if [ "$MODE" != check ] && grep -q "$init_line" "$console" 2>/dev/null; then
				booted=1
				continue
			fi
			if [ "$size" != "$last_size" ]; then
				last_size=$size
				last_change=$i
			elif [ $((i - last_change)) -ge "$STALL_SECONDS" ]; then
				why="no guest output for ${STALL_SECONDS}s"
				break
			fi
		fi
		if [ "$i" -ge "$dump" ]; then
			why="still running after ${dump}s of ${BOOT_TIMEOUT}s"
			break
		fi
	done
	qpid=$(pgrep -P "$tpid" | head -n 1)
	[ -n "$qpid" ] || return 0
	echo "boot: $why; the guest's state is in $LOGDIR/qemu-hang.txt" >&3
	echo "# $why" > "$LOGDIR/qemu-hang.txt"
	python3 "$HERE/qemu-hang-dump.py" "$monitor" "$qpid" "$LOGDIR/qemu-hang.txt" \
		"${SYSTEM_MAP:-}" "$results" || true
	case $why in
	no\ guest\ output*)
		# a QEMU whose main loop is stuck ignores SIGTERM
		kill "$qpid" 2>/dev/null || return 0
		for ((i = 0; i < 10; i++)); do
			sleep 1
			kill -0 "$qpid" 2>/dev/null || return 0
		done
		kill -KILL "$qpid" 2>/dev/null || true
		;;
	esac
	return 0
}
# For a QEMU built with ASan and UBSan (make QEMU_ASAN=1); harmless otherwise.
# shellcheck source=scripts/asan-env.sh
. "$HERE/asan-env.sh"
run_qemu() {
	# a crash leaves ./core for crash_report()
	: > "$LOGDIR/.qemu-start"
	# shellcheck disable=SC2086
	(ulimit -c unlimited 2>/dev/null || true
	timeout -k 10 "$BOOT_TIMEOUT" "$QEMU" "${args[@]}" -append "$append" \
		-serial "file:$console" -serial "file:$results" \
		-monitor "unix:$monitor,server=on,wait=off" ${QEMU_EXTRA:-} \
		</dev/null >"$LOGDIR/qemu.log" 2>&1 3>&- &
		tpid=$!
		watch_qemu "$tpid" >/dev/null &
		wpid=$!
		wait "$tpid"
		echo $?
		wait "$wpid" || true) 2>/dev/null
}
exec 3>&2
rc=$(run_qemu)
# A guest kernel that stopped before it ran /init, every vCPU idle (halted
# in at least one of the two register samples: one may be taking a timer
# interrupt in the other), QEMU's monitor answering and no warning in the
# kernel log, is stuck before the svmgpu driver is even loaded (init loads
# it): the debug kernel under TCG stopped 0.8 s into boot, once with both
# vCPUs halted on a loaded host, once for 12 minutes in the RCU-tasks self
# tests with the boot vCPU taking only timer interrupts and the other never
# started (a wait in the guest kernel that never ended; not understood).
# That boot is kept (*-early-stall.*, reported by guest-report.py, its
# kernel log judged with the next one's) and booted again once; a second
# stall is reported as any other.  Every mode: all are watched until /init.
all_vcpus_idle() {
	awk -v smp="$SMP" '/^CPU#[0-9]+$/ { cpu = $1; seen[cpu] = 1 }
		/^###/ { cpu = "" }
		cpu != "" && /^[RE]IP=.* HLT=1$/ { idle[cpu] = 1 }
		END { n = 0; for (c in seen) { if (!(c in idle)) exit 1; n++ }
		      exit (n < smp) }' "$1"
}
early_stall() {
	local hang=$LOGDIR/qemu-hang.txt
	[ -s "$hang" ] && grep -q '^# no guest output' "$hang" &&
		! grep -q '^monitor:' "$hang" && all_vcpus_idle "$hang" &&
		! grep -q "$init_line" "$console" &&
		python3 "$HERE/guest-report.py" --splats "$console"
}
if early_stall; then
	echo "boot: the guest kernel stopped before it ran /init; its logs are" \
		"$LOGDIR/*-early-stall.*; booting again (once)" >&2
	echo "qemu-exit $rc" >> "$LOGDIR/qemu.log"
	for f in console.log results.log qemu.log qemu-hang.txt; do
		mv -f "$LOGDIR/$f" "$LOGDIR/${f%.*}-early-stall.${f##*.}" || true
	done
	: > "$console"
	: > "$results"
	start=$(date +%s.%N)
	rc=$(run_qemu)
fi
exec 3>&-
rm -rf "$mondir"
end=$(date +%s.%N)
# QEMU killed by a signal of its own (SIGSEGV, SIGABRT, SIGBUS...; not the
# watch's or timeout's TERM/KILL): the backtraces of its threads from the
# core (core_pattern "core": the working directory) go to
# $LOGDIR/qemu-crash.txt, the crashing thread's also to stderr (the CI
# log); the core goes.  Without gdb or a core, only the signal is said.
crash_report() {
	local sig=$((rc - 128)) out=$LOGDIR/qemu-crash.txt
	echo "boot: QEMU died of signal $sig" >&2
	if [ -f core ] && [ core -nt "$LOGDIR/.qemu-start" ] && command -v gdb >/dev/null; then
		timeout 300 gdb -batch -nx -ex 'echo == crashing thread\n' -ex bt \
			-ex 'echo == all threads\n' -ex 'thread apply all bt' \
			"$QEMU" core >"$out" 2>&1 || true
		echo "boot: backtraces in $out; the crashing thread:" >&2
		sed -n '/^== crashing thread/,/^== all threads/p' "$out" | head -n 40 |
			sed 's/^/# /' >&2
	fi
	rm -f core
}
case $rc in
132 | 133 | 134 | 135 | 136 | 139) crash_report ;;
esac
rm -f "$LOGDIR/.qemu-start"
if [ -n "$tailpid" ]; then
	sleep 1
	kill "$tailpid" 2>/dev/null || true
	wait "$tailpid" 2>/dev/null || true
fi
echo "qemu-exit $rc" >> "$LOGDIR/qemu.log"
echo "accel $ACCEL" >> "$LOGDIR/qemu.log"
printf 'boot: QEMU ran %.1f s, exit %d\n' "$(echo "$end - $start" | bc)" "$rc" >&2
[ $rc -eq 124 ] && echo "boot: timed out after ${BOOT_TIMEOUT}s" >&2
exit 0
