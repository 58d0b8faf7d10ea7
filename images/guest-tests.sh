#!/bin/sh
# In-guest test runner: run every test program under
# /usr/libexec/svmgpu/tests (or those named in $2, comma separated) with a
# per-test timeout of $1 seconds, copy their TAP output, and report how each
# program ended.  The host (scripts/guest-report.py) checks the kernel log.
timeout_s=${1:-120}
only=$2
dir=${SVMGPU_TEST_DIR:-/usr/libexec/svmgpu/tests}
# tests/host/guest_runner_test.py runs the runner on the host: no unload,
# and directories of its own for the module parameters and debugfs
unload=${SVMGPU_UNLOAD:-1}
params=${SVMGPU_PARAMS_DIR:-/sys/module/svmgpu/parameters}
dri_debugfs=${SVMGPU_DRI_DEBUGFS:-/sys/kernel/debug/dri}

# The driver's writable module parameters as loaded: put back before every
# program, so that one killed by the timeout (its teardown never ran) cannot
# leave a test setting such as devmem_limit_mb behind for the next ones.
# (root may write any file: the mode tells the writable ones, 0644).  A
# program that unloads the driver reloads it with these values.
saved=
for p in $(find "$params" -maxdepth 1 -type f -perm -200 2>/dev/null); do
	saved="$saved ${p##*/}=$(cat "$p")"
done
# The driver's debugfs test hooks (svmgpu_inject_*_delay, _inval_timeout,
# _unbind_busy) are disarmed too: a program killed half-way may have left
# one armed for the next.  (svmgpu_inject, the device's registers, takes
# "name value" lines: the tests that use it reset it themselves.)
restore_params() {
	local h
	for kv in $saved; do
		[ -e "$params/${kv%%=*}" ] || continue
		echo "${kv#*=}" 2>/dev/null > "$params/${kv%%=*}" ||
			echo "# could not restore svmgpu.${kv%%=*}"
	done
	for h in "$dri_debugfs"/*/svmgpu_inject_*; do
		# the copy delay of a device without local memory is -ENODEV
		[ -f "$h" ] && echo 0 2>/dev/null > "$h"
	done
	return 0
}

# Each program runs in the background in a session of its own (setsid),
# with a watchdog that SIGKILLs the session after the timeout (one sleep,
# not busybox timeout's 1 s steps, which run late on a loaded guest).  The
# session, not the process group: the test harness runs each test in a
# process group of its own (setpgid), and a test's children stay in the
# session whatever group they are in.  Whatever of the session outlives
# the program (a test's or a fuzzer's worker process, stuck in the kernel
# or not) is named and killed when it ends.  A process of the session
# still there a grace period after its SIGKILL is stuck in the kernel: its
# tasks' kernel stacks go to the results, sysrq-t and sysrq-d (every task,
# the locks held) to the kernel log, and the suite goes on without it (the
# trap ends the wait).
set +m	# no job control: a background job is no group leader, setsid execs
grace=30
stuck=
trap 'stuck=1' USR1
# "pid state ppid pgrp session" of every live process; the command name,
# which may hold spaces and parentheses, is skipped.  A process whose main
# thread exited (Z) lives while another of its threads does: a fuzzer's
# worker killed with a thread stuck in the kernel is just that.
procs() {
	local s l t st p
	for s in /proc/[0-9]*/stat; do
		read -r l 2>/dev/null < "$s" || continue
		set -- ${l##*) }
		st=$1
		if [ "$st" = Z ]; then
			for t in "${s%/stat}"/task/*/stat; do
				read -r l 2>/dev/null < "$t" || continue
				case "${l##*) }" in Z*) ;; *) st=R; break ;; esac
			done
		fi
		# group or session 0 or 1 would be the kernel's or init's: never
		# ours (a command name holding a newline cuts the line short)
		p=${s#/proc/}
		[ "$st" != Z ] && [ "${3:-0}" -gt 1 ] && [ "${4:-0}" -gt 1 ] &&
			echo "${p%/stat} $st $2 $3 $4"
	done
}
children() {	# busybox has no pgrep
	procs | while read -r p _ pp _ _; do [ "$pp" = "$1" ] && echo "$p"; done
}
session() {	# the live processes of session $1
	procs | while read -r p _ _ _ sid; do [ "$sid" = "$1" ] && echo "$p"; done
}
kill_session() {	# SIGKILL every process group of session $1
	local pg
	for pg in $(procs | while read -r _ _ _ pg sid; do
		[ "$sid" = "$1" ] && echo "$pg"; done | sort -u); do
		kill -KILL -"$pg" 2>/dev/null
	done
}
# SIGKILL session $1 again each second (a process forking or changing its
# group, as the harness's setpgid does, may escape one pass) until it is
# empty or the grace ends; fails if something of it is still there
kill_session_wait() {
	local i=0
	while [ -n "$(session "$1")" ] && [ $i -lt $grace ]; do
		kill_session "$1"
		sleep 1
		i=$((i + 1))
	done
	[ -z "$(session "$1")" ]
}
dump_stuck() {
	local p t
	echo "# SVMGPU-STUCK $1: still there ${grace}s after its SIGKILL"
	for p in $(session "$2"); do
		for t in /proc/"$p"/task/*; do
			[ -r "$t/stack" ] || continue
			echo "# task ${t##*/} ($(cat "$t/comm" 2>/dev/null)) state $(cut -d' ' -f3 "$t/stat" 2>/dev/null):"
			sed 's/^/#   /' "$t/stack" 2>/dev/null
		done
	done
	# the guest's kernel log; not the host's (tests/host/guest_runner_test.py)
	[ "$unload" = 1 ] &&
		{ echo t > /proc/sysrq-trigger; echo d > /proc/sysrq-trigger; } 2>/dev/null
}

for t in "$dir"/*; do
	[ -x "$t" ] || continue
	name=${t##*/}
	if [ -n "$only" ]; then
		case ",$only," in *",$name,"*) ;; *) continue ;; esac
	fi
	restore_params
	echo "# SVMGPU-PROGRAM $name"
	start=$(cut -d' ' -f1 /proc/uptime)
	stuck=
	setsid "$t" 2>&1 &
	pid=$!
	(
		sleep "$timeout_s"
		kill_session_wait "$pid" || kill -USR1 $$
	) &
	wd=$!
	wait "$pid"
	rc=$?
	left=$(session "$pid")
	if [ -z "$stuck" ] && [ -n "$left" ]; then
		echo "# SVMGPU-LEFTOVER $name: process(es)" $left "of its session left, killed"
		kill_session_wait "$pid" || stuck=1
	fi
	if [ -n "$stuck" ]; then
		dump_stuck "$name" "$pid"
		rc=254
	fi
	kill "$wd" $(children "$wd") 2>/dev/null
	end=$(cut -d' ' -f1 /proc/uptime)
	echo "# SVMGPU-EXIT $name $rc $start $end"
done
# A program asked for by name that is not there ran no test: a failure,
# not silence (a rename that left a TESTS list behind).
for name in $(echo "$only" | tr ',' ' '); do
	[ -x "$dir/$name" ] && continue
	echo "# SVMGPU-PROGRAM $name"
	echo "not ok 1 $name is in $dir"
	echo "# SVMGPU-EXIT $name 1 0 0"
done
restore_params
if [ "$unload" != 1 ]; then
	echo "SVMGPU-DONE 0"
	exit 0
fi

# After the suite: the driver must unload cleanly and leave no leak that
# kmemleak can pin on it.  Two scans after the unload (each ~20 s under TCG
# with KASAN): kmemleak reports an object only once its contents did not
# change since the previous scan, and with no automatic scan the first one
# only takes every object's checksum.  Backtraces are symbolised when the
# report is read, after the unload: frames in the driver are then bare
# addresses, matched against its core's range taken from /proc/modules
# before.  A few canary objects the driver leaks on purpose
# (svmgpu_inject_leak) show that the check finds what it looks for.
echo "# SVMGPU-PROGRAM module_unload"
start=$(cut -d' ' -f1 /proc/uptime)
rc=0
leaks=/sys/kernel/debug/kmemleak
mod=
canaries=0
if [ -w "$leaks" ]; then
	mod=$(awk '$1 == "svmgpu" { print $6, $2 }' /proc/modules)
	for c in /sys/kernel/debug/dri/*/svmgpu_inject_leak; do
		[ -w "$c" ] && echo 4 > "$c" && canaries=4
		break
	done
fi
if rmmod svmgpu; then
	echo "ok 1 rmmod svmgpu"
else
	echo "not ok 1 rmmod svmgpu"
	rc=1
fi
if [ -w "$leaks" ]; then
	if echo scan > "$leaks" && sleep 5 && echo scan > "$leaks"; then
		# "C <object>": a canary the check attributes to the driver;
		# "c <object>": a canary it does not (the check is broken);
		# "L <object>": any other object with the driver in its
		# backtrace.  Only backtrace lines count ("comm" may name a tool
		# "svmgpu-..."), and a bare frame by the module's range, compared
		# as two 32-bit halves (busybox awk's printf %x casts to int).
		found=$(awk -v mod="$mod" '
		function hexval(s,   i, v) {
			v = 0
			for (i = 1; i <= length(s); i++)
				v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return v
		}
		function pad16(s) {
			s = tolower(s)
			sub(/^0x/, "", s)
			while (length(s) < 16)
				s = "0" s
			return s
		}
		function flush() {
			if (obj != "" && (canary || ours))
				print (canary ? (ours ? "C " : "c ") : "L ") obj
			obj = ""; canary = 0; ours = 0; trace = 0
		}
		BEGIN {
			split(mod, m, " ")
			size = 0
			if (m[1] != "" && m[2] > 0) {
				b = pad16(m[1])
				bhi = hexval(substr(b, 1, 8))
				blo = hexval(substr(b, 9, 8))
				size = m[2] + 0
			}
		}
		/^unreferenced object/ { flush(); obj = $0; next }
		/^  backtrace:/ { trace = 1; next }
		!trace && /svmgpu-kmemleak-/ { canary = 1 }
		trace && /svmgpu/ { ours = 1 }
		trace && size && /\] 0x[0-9a-f]+$/ {
			a = pad16($NF)
			off = (hexval(substr(a, 1, 8)) - bhi) * 4294967296 +
			      hexval(substr(a, 9, 8)) - blo
			if (off >= 0 && off < size)
				ours = 1
		}
		END { flush() }' "$leaks")
		leaked=$(echo "$found" | grep '^L ' | sed 's/^L //')
		echo "$found" | grep '^c ' | sed 's/^c /# canary not attributed to svmgpu: /'
		if [ "$canaries" = 0 ]; then
			echo "ok 2 kmemleak finds the canaries leaked on purpose # SKIP no svmgpu_inject_leak"
		elif echo "$found" | grep -q '^C '; then
			echo "ok 2 kmemleak finds the canaries leaked on purpose"
		else
			echo "not ok 2 kmemleak finds the canaries leaked on purpose"
			rc=1
		fi
		if [ -z "$leaked" ]; then
			echo "ok 3 kmemleak finds no other svmgpu object"
		else
			echo "not ok 3 kmemleak finds no other svmgpu object"
			echo "$leaked" | sed 's/^/# /'
			rc=1
		fi
	else
		echo "not ok 2 kmemleak scans"
		rc=1
	fi
else
	echo "ok 2 kmemleak finds no svmgpu object # SKIP kernel has no kmemleak"
fi
end=$(cut -d' ' -f1 /proc/uptime)
echo "# SVMGPU-EXIT module_unload $rc $start $end"
echo "SVMGPU-DONE 0"
