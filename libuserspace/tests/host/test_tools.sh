#!/bin/bash
# SPDX-License-Identifier: MIT
# Host checks of the tools that need no device, and of the generated
# pkg-config file.  TAP output.
#
# The conventions (libuserspace/common/cli.h) are checked on EVERY program
# meson installs into bindir, read from meson's introspection data, so a new
# tool is covered without editing this file:
#   --help     exit 0, "usage: TOOL ..." on stdout, nothing on stderr
#   --version  exit 0, "TOOL (svmgpu) VERSION" (the meson project version)
#   --frobnicate        exit 2, getopt's message and the --help hint
#   every numeric option its --help lists (metavariable N, SECS or SIZE):
#              1e6, -1, 12abc, 1.5 and 2^64 refused with exit 2 and the
#              exact message, before any device is touched
#   -d/--device (when listed): a malformed selection is exit 2, a device
#              that is not there (index 7) exit 3 "no svmgpu device 7"
#   --json (when listed): stdout is empty or parses as JSON
#   its man page (MAN_DIR/TOOL.1) lists every long option of --help, and its
#   EXIT STATUS section the same exit codes as the --help text
# The device parts (-d index/path/PCI, --json of real data) are in the
# guest test libuserspace/tests/guest/lib_tools.c.
#
# usage: test_tools.sh BUILD_ROOT MAN_DIR
b=$1
man=$2
as=$b/libuserspace/tools/svmgpu-as
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
n=0
fail=0
# Tools that have not adopted common/cli.h yet: their convention checks are
# reported as SKIP (remove a tool from here when it adopts the conventions).
PENDING=${SVMGPU_CLI_PENDING-""}

ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { # description, then lines of detail
	n=$((n + 1))
	echo "not ok $n $1"
	shift
	for l in "$@"; do echo "# $l"; done
	[ -s "$t/out" ] && sed 's/^/# stdout: /' "$t/out" | head -n 20
	[ -s "$t/err" ] && sed 's/^/# stderr: /' "$t/err" | head -n 20
	fail=1
}
check() { # description, then a command that must succeed
	d=$1
	shift
	if "$@" >"$t/out" 2>"$t/err"; then ok "$d"; else notok "$d"; fi
}
# expect DESCRIPTION STATUS STDERR_FIRST_LINE -- COMMAND...: the exit
# status and the first line of stderr exactly (STDERR "" = stderr empty).
expect() {
	d=$1 want_rc=$2 want_err=$3
	shift 4
	"$@" >"$t/out" 2>"$t/err" </dev/null
	rc=$?
	got_err=$(head -n 1 "$t/err")
	if [ "$rc" != "$want_rc" ]; then
		notok "$d" "exit $rc, expected $want_rc"
	elif [ -z "$want_err" ] && [ -s "$t/err" ]; then
		notok "$d" "stderr should be empty"
	elif [ -n "$want_err" ] && [ "$got_err" != "$want_err" ]; then
		notok "$d" "stderr: '$got_err'" "wanted: '$want_err'"
	else
		ok "$d"
	fi
}

version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' \
	"$b/meson-info/intro-projectinfo.json")
# NAME PATH of each installed program of bindir
python3 - "$b/meson-info/intro-targets.json" > "$t/tools" <<'EOF'
import json, sys
for x in json.load(open(sys.argv[1])):
    if x["type"] == "executable" and x.get("installed") and \
            any("/bin/" in f for f in x.get("install_filename", [])):
        print(x["name"], x["filename"][0])
EOF

echo "TAP version 13"
if [ "$(wc -l < "$t/tools")" -lt 8 ]; then
	notok "meson installs at least the 8 tools into bindir" "$(cat "$t/tools")"
fi

while read -r tool path; do
	case " $PENDING " in
	*" $tool "*)
		ok "$tool: conventions # SKIP $tool has not adopted common/cli.h yet"
		continue ;;
	esac
	hint="Try '$tool --help' for more information."
	expect "$tool --help: exit 0, nothing on stderr" 0 "" -- "$path" --help
	if head -n 1 "$t/out" | grep -q "^usage: $tool "; then
		ok "$tool --help: 'usage: $tool' on stdout"
	else
		notok "$tool --help: 'usage: $tool' on stdout"
	fi
	cp "$t/out" "$t/help"
	expect "$tool --version: exit 0" 0 "" -- "$path" --version
	if [ "$(cat "$t/out")" = "$tool (svmgpu) $version" ]; then
		ok "$tool --version prints '$tool (svmgpu) $version'"
	else
		notok "$tool --version prints '$tool (svmgpu) $version'"
	fi
	expect "$tool --frobnicate: exit 2, getopt's message" 2 \
		"$tool: unrecognized option '--frobnicate'" -- "$path" --frobnicate
	if [ "$(sed -n 2p "$t/err")" = "$hint" ]; then
		ok "$tool --frobnicate: the --help hint"
	else
		notok "$tool --frobnicate: the --help hint"
	fi
	# numeric options: "  -n, --ops N", "      --progress SECS", "  -b, --buffer SIZE[:PATTERN]"
	sed -n 's/^ \{2,\}\(-[[:alnum:]], \)\{0,1\}\(--[a-z-]*\) \(N\|SECS\|SIZE\)\b.*/\2 \3/p' \
		"$t/help" > "$t/numeric"
	if [ ! -s "$t/numeric" ]; then
		ok "$tool: no numeric option in --help"
	fi
	while read -r opt meta; do
		what=number
		[ "$meta" = SIZE ] && what=size
		for bad in 1e6 -1 12abc 1.5; do
			expect "$tool $opt $bad: refused" 2 \
				"$tool: $opt: '$bad' is not a $what (digits or 0x hex, with an optional k/M/G/T unit)" \
				-- "$path" "$opt" "$bad"
		done
		if [ "$what" = number ]; then
			expect "$tool $opt 18446744073709551616: too large" 2 \
				"$tool: $opt: '18446744073709551616' is too large" \
				-- "$path" "$opt" 18446744073709551616
		fi
	done < "$t/numeric"
	if grep -q -- '--device DEVICE' "$t/help"; then
		expect "$tool -d renderD128: not a device selection" 2 \
			"$tool: --device: 'renderD128' is not a device index (0..63), render node path (/dev/dri/renderD128) or PCI address (0000:00:04.0)" \
			-- "$path" -d renderD128
		expect "$tool --device 1e6: not a device selection" 2 \
			"$tool: --device: '1e6' is not a device index (0..63), render node path (/dev/dri/renderD128) or PCI address (0000:00:04.0)" \
			-- "$path" --device 1e6
		# svmgpu-reg and svmgpu-run need a command or a kernel first
		extra=
		case $tool in
		svmgpu-reg) extra=dump ;;
		svmgpu-run) extra="-k vecadd" ;;
		esac
		# shellcheck disable=SC2086
		expect "$tool -d 7: no such device, exit 3" 3 \
			"$tool: no svmgpu device 7: No such device" -- "$path" -d 7 $extra
	fi
	: > "$t/out"; : > "$t/err"
	page=$man/$tool.1
	if [ ! -f "$page" ]; then
		notok "$tool: a man page $tool.1"
	else
		missing=
		for opt in $(grep -o -- '--[a-z][a-z-]*' "$t/help" | sort -u); do
			grep -q -- "$(echo "$opt" | sed 's/-/\\\\-/g')" "$page" || missing="$missing $opt"
		done
		if [ -z "$missing" ]; then
			ok "$tool.1 documents every option of --help"
		else
			notok "$tool.1 documents every option of --help" "missing:$missing"
		fi
		help_codes=$(python3 -c 'import re, sys
t = open(sys.argv[1]).read()
t = " ".join(t[t.index("Exit status:"):].split()) if "Exit status:" in t else ""
print(" ".join(sorted(set(re.findall(r"(?:^|[:,] )(\d) ", t)))))' "$t/help")
		man_codes=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH/s/^\.B \([0-9]\)$/\1/p' "$page" | sort -u | tr '\n' ' ')
		if [ -n "$help_codes" ] && [ "$help_codes " = "$man_codes" ]; then
			ok "$tool: exit codes $help_codes in --help and $tool.1"
		else
			notok "$tool: the same exit codes in --help and $tool.1" \
				"--help: '$help_codes', man: '$man_codes'"
		fi
	fi
	if grep -q -- '--json' "$t/help"; then
		"$path" --json > "$t/out" 2> "$t/err" < /dev/null
		if [ ! -s "$t/out" ] || python3 -m json.tool "$t/out" > /dev/null 2>&1; then
			ok "$tool --json: stdout empty or JSON"
		else
			notok "$tool --json: stdout empty or JSON"
		fi
	fi
done < "$t/tools"

tools=$b/libuserspace/tools
# units: the size reaches the device step (exit 3 on a host without a device)
expect "svmgpu-run -b 64M: accepted (fails later: no device)" 3 \
	"svmgpu-run: no svmgpu device 0: No such device" -- "$tools/svmgpu-run" -b 64M -k vecadd
expect "svmgpu-run -b 0x1000 -b 4k -n 4K: accepted" 3 \
	"svmgpu-run: no svmgpu device 0: No such device" \
	-- "$tools/svmgpu-run" -b 0x1000 -b 4k -n 4K -w 256 -k vecadd
expect "svmgpu-run -a 1M -a -3 -a 0x10 -a 1.5f: accepted" 3 \
	"svmgpu-run: no svmgpu device 0: No such device" \
	-- "$tools/svmgpu-run" -a 1M -a -3 -a 0x10 -a 1.5f -k vecadd
expect "svmgpu-run -a 1e6: refused" 2 \
	"svmgpu-run: --arg: '1e6' is not an integer or a float with an 'f' suffix" \
	-- "$tools/svmgpu-run" -a 1e6 -k vecadd
expect "svmgpu-run -b 65G: out of range" 2 \
	"svmgpu-run: --buffer: 65G is out of range (1..64G)" -- "$tools/svmgpu-run" -b 65G -k vecadd
expect "svmgpu-run -b 4k:frob: unknown pattern" 2 \
	"svmgpu-run: --buffer: unknown pattern 'frob'" -- "$tools/svmgpu-run" -b 4k:frob -k vecadd
expect "svmgpu-run -g 1,,2: bad grid" 2 "svmgpu-run: --grid: '1,,2' is not X[,Y[,Z]]" \
	-- "$tools/svmgpu-run" -g 1,,2 -k vecadd
expect "svmgpu-run -p 0:f33: unknown type" 2 \
	"svmgpu-run: --print: unknown type 'f33' (u8, u32, u64, i64, f32, hex64)" \
	-- "$tools/svmgpu-run" -b 4k -p 0:f33 -k vecadd
expect "svmgpu-run -p 1 with one buffer: no buffer 1" 2 "svmgpu-run: --print: no buffer 1 (1 given)" \
	-- "$tools/svmgpu-run" -b 4k -p 1 -k vecadd
expect "svmgpu-run -o 0: not IDX:FILE" 2 "svmgpu-run: --output: '0' is not IDX:FILE" \
	-- "$tools/svmgpu-run" -b 4k -o 0 -k vecadd
expect "svmgpu-run without KERNEL" 2 "svmgpu-run: KERNEL is missing" -- "$tools/svmgpu-run"
expect "svmgpu-run -k nope" 2 "svmgpu-run: no ready kernel 'nope' (svmgpu-as -k list)" \
	-- "$tools/svmgpu-run" -k nope
expect "svmgpu-run --arg 1.5 (a float needs the f suffix)" 2 \
	"svmgpu-run: --arg: '1.5' is not an integer or a float with an 'f' suffix" \
	-- "$tools/svmgpu-run" -a 1.5 -k vecadd
expect "svmgpu-torture -s 64M -n 4k: accepted (fails later: no device)" 3 \
	"svmgpu-torture: no svmgpu device 0: No such device" -- "$tools/svmgpu-torture" -s 64M -n 4k -d 0
expect "svmgpu-torture --pages 2: out of range" 2 "svmgpu-torture: --pages: 2 is out of range (4..65536)" \
	-- "$tools/svmgpu-torture" --pages 2
expect "svmgpu-torture --replay without --only" 2 "svmgpu-torture: --replay needs --only" \
	-- "$tools/svmgpu-torture" --replay 1,2
expect "svmgpu-torture --replay 3,2: not ascending" 2 \
	"svmgpu-torture: --replay: '3,2' is not an ascending list of operation numbers (a,b,c) or 'none'" \
	-- "$tools/svmgpu-torture" --only 0 --replay 3,2
expect "svmgpu-torture --evict-size 5000: not whole pages" 2 \
	"svmgpu-torture: --evict-size: 5000 is not a multiple of 4096" \
	-- "$tools/svmgpu-torture" --evict-size 5000
expect "svmgpu-torture --evict-size 2G: out of range" 2 \
	"svmgpu-torture: --evict-size: 2G is out of range (4096..1073741824)" \
	-- "$tools/svmgpu-torture" -E 2G
expect "svmgpu-demo -s 65: out of range" 2 "svmgpu-demo: --scale: 65 is out of range (1..64)" \
	-- "$tools/svmgpu-demo" -s 65
expect "svmgpu-demo with an argument" 2 "svmgpu-demo: unexpected argument 'x'" -- "$tools/svmgpu-demo" x
if [ -x "$b/bench/svmgpu-bench" ]; then
	expect "svmgpu-bench frob: unknown mode" 2 "svmgpu-bench: unknown mode 'frob' (quick or full)" \
		-- "$b/bench/svmgpu-bench" frob
	expect "svmgpu-bench full quick: one mode only" 2 "svmgpu-bench: unexpected argument 'quick'" \
		-- "$b/bench/svmgpu-bench" full quick
	expect "svmgpu-bench full: accepted (fails later: no device)" 3 \
		"svmgpu-bench: no svmgpu device 0: No such device" -- "$b/bench/svmgpu-bench" full
fi
expect "svmgpu-info --count without --watch" 2 "svmgpu-info: --count needs --watch" \
	-- "$tools/svmgpu-info" -c 3
expect "svmgpu-info --watch 0: out of range" 2 "svmgpu-info: --watch: 0 is out of range (1..86400)" \
	-- "$tools/svmgpu-info" -w 0
expect "svmgpu-reg frobnicate: unknown command" 2 "svmgpu-reg: unknown command 'frobnicate'" \
	-- "$tools/svmgpu-reg" frobnicate
expect "svmgpu-reg without a command" 2 \
	"svmgpu-reg: a command is missing: list, dump, read, write or inject" -- "$tools/svmgpu-reg"
expect "svmgpu-reg inject frob: unknown failure" 2 \
	"svmgpu-reg: unknown failure 'frob' (hang_queues, drop_irqs, inval_refuse, corrupt_compl, fatal, stall_fault_ring, enable_refuse, irq_delay_us, inval_delay_us)" \
	-- "$tools/svmgpu-reg" inject frob
expect "svmgpu-reg inject injected: CNT_INJECTED is no failure" 2 \
	"svmgpu-reg: unknown failure 'injected' (hang_queues, drop_irqs, inval_refuse, corrupt_compl, fatal, stall_fault_ring, enable_refuse, irq_delay_us, inval_delay_us)" \
	-- "$tools/svmgpu-reg" inject injected
expect "svmgpu-reg inject fatal 1e3: bad value" 2 \
	"svmgpu-reg: VALUE: '1e3' is not a number (decimal or 0x hex)" -- "$tools/svmgpu-reg" inject fatal 1e3
expect "svmgpu-reg inject drop-irqs 2^32: too wide" 2 \
	"svmgpu-reg: VALUE: 0x100000000 does not fit the 32-bit INJ_DROP_IRQS" \
	-- "$tools/svmgpu-reg" inject drop-irqs 0x100000000
expect "svmgpu-reg inject with three arguments" 2 "svmgpu-reg: inject takes [FAILURE [VALUE]]" \
	-- "$tools/svmgpu-reg" inject fatal 1 2
expect "svmgpu-reg -d 0000:00:1f.7 inject fatal: no such device" 3 \
	"svmgpu-reg: no svmgpu device 0000:00:1f.7: No such device" \
	-- "$tools/svmgpu-reg" -d 0000:00:1f.7 inject fatal
expect "svmgpu-reg write REG 1e6: bad value" 2 \
	"svmgpu-reg: VALUE: '1e6' is not a number (decimal or 0x hex)" -- "$tools/svmgpu-reg" write CONTROL 1e6
expect "svmgpu-reg --slot 3: not a PCI address" 2 \
	"svmgpu-reg: --slot: '3' is not a PCI address (DDDD:BB:DD.F)" -- "$tools/svmgpu-reg" --slot 3 dump
expect "svmgpu-reg -d 0000:00:1f.7: no such device" 3 \
	"svmgpu-reg: no svmgpu device 0000:00:1f.7: No such device" -- "$tools/svmgpu-reg" -d 0000:00:1f.7 dump
expect "svmgpu-reg list needs no device" 0 "" -- "$tools/svmgpu-reg" list
# Output that cannot be written fails the tool (exit 1, a message), as
# gnulib's close_stdout(): the listing, a JSON report, --version.
for cmd in "svmgpu-as -k vecadd" "svmgpu-as --json -k vecadd" "svmgpu-reg list" \
	"svmgpu-sim --version"; do
	# shellcheck disable=SC2086
	set -- $cmd
	name=$1
	shift
	"$tools/$name" "$@" >/dev/full 2>"$t/err" </dev/null
	rc=$?
	got_err=$(head -n 1 "$t/err")
	if [ "$rc" = 1 ] && [ "$got_err" = "$name: write error: No space left on device" ]; then
		ok "$cmd >/dev/full: exit 1, write error"
	else
		notok "$cmd >/dev/full: exit 1, write error" "exit $rc, stderr '$got_err'"
	fi
done
for a in 0000:-1:04.0 "0000: 0:04.0" +0:04.0; do
	expect "svmgpu-reg -d '$a': not a PCI address" 2 \
		"svmgpu-reg: --device: '$a' is not a device index (0..63), render node path (/dev/dri/renderD128) or PCI address (0000:00:04.0)" \
		-- "$tools/svmgpu-reg" -d "$a" dump
done
# the register table has the §16 queue registers and every INJ_*
"$tools/svmgpu-reg" list >"$t/regs" 2>&1
missing=
for r in 'Q<n>_SAVE_ADDR' 'Q<n>_PRIORITY' 'Q<n>_START' CNT_PREEMPTIONS \
	INJ_HANG_QUEUES INJ_DROP_IRQS INJ_INVAL_REFUSE INJ_CORRUPT_COMPL INJ_FATAL \
	CNT_INJECTED INJ_IRQ_DELAY_US INJ_INVAL_DELAY_US INJ_STALL_FAULT_RING \
	INJ_ENABLE_REFUSE; do
	grep -qF "$r" "$t/regs" || missing="$missing $r"
done
if [ -z "$missing" ]; then
	ok "svmgpu-reg list names Q_SAVE_ADDR/PRIORITY/START, CNT_PREEMPTIONS, every INJ_*"
else
	notok "svmgpu-reg list names Q_SAVE_ADDR/PRIORITY/START, CNT_PREEMPTIONS, every INJ_*" \
		"missing:$missing"
fi
expect "svmgpu-fuzz --threads 40 --procs 40: too many workers" 2 \
	"svmgpu-fuzz: --threads x --procs is 1600, more than 64 workers" -- "$tools/svmgpu-fuzz" -j 40 -p 40
expect "svmgpu-fuzz --tap --json" 2 "svmgpu-fuzz: --tap and --json exclude each other" \
	-- "$tools/svmgpu-fuzz" --tap --json
expect "svmgpu-fuzz -d /dev/null: not an svmgpu node" 3 \
	"svmgpu-fuzz: no svmgpu device /dev/null: No such device" -- "$tools/svmgpu-fuzz" -d /dev/null
expect "svmgpu-identify -d 0000:00:04.0: no such device" 3 \
	"svmgpu-identify: no svmgpu device 0000:00:04.0: No such device" \
	-- "$tools/svmgpu-identify" -d 0000:00:04.0
# A path to another device is refused before it is opened (a watchdog
# would start, another DRM driver would get svmgpu's ioctl).
expect "svmgpu-identify -d /dev/null: not a DRM node" 3 \
	"svmgpu-identify: no svmgpu device /dev/null: No such device" \
	-- "$tools/svmgpu-identify" -d /dev/null
expect "svmgpu-identify -d /nonexistent: no such file" 3 \
	"svmgpu-identify: no svmgpu device /nonexistent: No such file or directory" \
	-- "$tools/svmgpu-identify" -d /nonexistent

check "svmgpu-as lists the ready kernels" sh -c "$as -k list | grep -qx tree_lookup"
check "svmgpu-as assembles and disassembles a ready kernel" sh -c \
	"$as -k sgemm > $t/k.s && $as $t/k.s -o $t/k.bin && test \$(stat -c %s $t/k.bin) -gt 0 && $as -d $t/k.bin | grep -q 'FFMA r15, r31, r13'"
check "svmgpu-as reports file:line" sh -c \
	"printf 'NOP\nADD r1, r2\n' > $t/bad.s; ! $as $t/bad.s 2> $t/err; grep -q \"^$t/bad.s:2:\" $t/err"
check "svmgpu-as reads standard input and writes standard output" sh -c \
	"printf 'EXIT\n' | $as -o - - | od -An -tx8 | grep -q 0000000000000001"
check "pkg-config svmgpu links -lsvmgpu" sh -c \
	"PKG_CONFIG_PATH=$b/meson-private pkg-config --libs svmgpu | grep -q -- -lsvmgpu && PKG_CONFIG_PATH=$b/meson-private pkg-config --modversion svmgpu | grep -q ."
echo "1..$n"
exit $fail
