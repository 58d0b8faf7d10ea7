# SPDX-License-Identifier: MIT
# Sourced by the host tool tests (test_asm_tool.sh, test_sim.sh): a scratch
# directory $t removed at exit, and check DESCRIPTION COMMAND... which runs
# COMMAND and prints one TAP line (with its output as diagnostics when it
# fails).  The script ends with `exit $fail`.
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
		sed 's/^/# /' "$t/out" | head -n 30
		fail=1
	fi
}
