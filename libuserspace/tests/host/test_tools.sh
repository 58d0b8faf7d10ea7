#!/bin/sh
# SPDX-License-Identifier: MIT
# Host checks of the tools that need no device, and of the generated
# pkg-config file.  TAP output.
# usage: test_tools.sh BUILD_ROOT
b=$1
as=$b/libuserspace/tools/svmgpu-as
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
n=0
fail=0
check() { # description, then a command that must succeed
	n=$((n + 1))
	d=$1
	shift
	if "$@" >"$t/out" 2>&1; then
		echo "ok $n $d"
	else
		echo "not ok $n $d"
		sed 's/^/# /' "$t/out"
		fail=1
	fi
}
echo "TAP version 13"
echo "1..9"
check "every tool has --help" sh -c "for x in svmgpu-as svmgpu-run svmgpu-reg svmgpu-info svmgpu-demo svmgpu-torture; do $b/libuserspace/tools/\$x --help | grep -q \"usage: \$x\" || exit 1; done"
check "svmgpu-as lists the ready kernels" sh -c "$as -k list | grep -qx tree_lookup"
check "svmgpu-as assembles and disassembles a ready kernel" sh -c \
	"$as -k sgemm > $t/k.s && $as $t/k.s -o $t/k.bin && test \$(stat -c %s $t/k.bin) -gt 0 && $as -d $t/k.bin | grep -q 'FMUL r18, r18, r19'"
check "disassembly re-assembles to the same binary" sh -c \
	"$as -d $t/k.bin > $t/k2.s && $as $t/k2.s -o $t/k2.bin && cmp $t/k.bin $t/k2.bin"
check "svmgpu-as reports file:line:column: message" sh -c \
	"printf 'NOP\nADD r1, r2\n' > $t/bad.s; ! $as $t/bad.s 2> $t/err; grep -qx \"$t/bad.s:2:5: ADD takes operands 'rD, rA, rB|imm', got 2 operands\" $t/err"
check "svmgpu-as reads standard input and writes standard output" sh -c \
	"printf 'EXIT\n' | $as -o - - | od -An -tx8 | grep -q 0000000000000001"
check "svmgpu-reg refuses an unknown command" sh -c "! $b/libuserspace/tools/svmgpu-reg frobnicate 2>/dev/null"
check "svmgpu-torture rejects bad options" sh -c "$b/libuserspace/tools/svmgpu-torture --pages 2 >/dev/null 2>&1; test \$? = 2"
check "pkg-config svmgpu links -lsvmgpu" sh -c \
	"PKG_CONFIG_PATH=$b/meson-private pkg-config --libs svmgpu | grep -q -- -lsvmgpu && PKG_CONFIG_PATH=$b/meson-private pkg-config --modversion svmgpu | grep -q ."
exit $fail
