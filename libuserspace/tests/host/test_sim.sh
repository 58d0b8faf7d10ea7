#!/bin/sh
# SPDX-License-Identifier: MIT
# svmgpu-sim as a user runs it: a kernel's output bytes, exactly; a fault on
# an address the process does not have is reported (page, access, count)
# and fails the run; instruction counts; the usage errors and their exit
# codes (man page svmgpu-sim.1).  TAP output.
# usage: test_sim.sh SVMGPU_SIM SVMGPU_AS
sim=$1
as=$2
. "$(dirname "$0")/tap.sh"
echo "TAP version 13"
echo "1..10"

# vecadd on 1000 floats: out[i] = 2 i, every byte; a 4th page of the output untouched
check "vecadd: the output buffer holds exactly a[i] + b[i]" sh -c "
	'$sim' -k vecadd -b 4K:f32seq -b 4K:f32seq -b 4K:value=0x5a5a5a5a5a5a5a5a -a 1000 -n 1000 -w 256 \
		-o 2:'$t/out.bin' > '$t/log' &&
	python3 -c 'import struct, sys
d = open(sys.argv[1], \"rb\").read()
want = b\"\".join(struct.pack(\"<f\", 2.0 * i) for i in range(1000)) + b\"\\x5a\" * 96
assert d == want, [i for i in range(0, 4096, 4) if d[i:i + 4] != want[i:i + 4]][:5]' '$t/out.bin' &&
	grep -qx completed '$t/log'"

# a kernel of our own, with .struct offsets: out[i] = in[i] * 3 + i, u64
cat > "$t/k.s" <<'K'
	.struct args
	  .field in, 8
	  .field out, 8
	  .field n, 8
	.ends
	S2R   r1, GLOBAL_ID
	S2R   r2, ARGS
	LD64  r3, [r2+args.n]
	SLTU  r4, r1, r3
	IF    r4
	  SHL   r5, r1, #3
	  LD64  r6, [r2+args.in]
	  ADD   r6, r6, r5
	  LD64  r7, [r6]
	  MUL   r7, r7, #3
	  ADD   r7, r7, r1
	  LD64  r6, [r2+args.out]
	  ADD   r6, r6, r5
	  ST64  [r6], r7
	ENDIF
	EXIT
K
check "an assembly file: exact u64 results, from source and from its .bin" sh -c "
	'$sim' '$t/k.s' -b 8K:seq64 -b 8K -a 1000 -n 1000 -w 64 -o 1:'$t/o1.bin' > /dev/null &&
	'$as' '$t/k.s' -o '$t/k.bin' &&
	'$sim' '$t/k.bin' -b 8K:seq64 -b 8K -a 1000 -n 1000 -w 64 -o 1:'$t/o2.bin' > /dev/null &&
	cmp '$t/o1.bin' '$t/o2.bin' &&
	python3 -c 'import struct, sys
d = open(sys.argv[1], \"rb\").read()
v = struct.unpack(\"<1024Q\", d)
assert list(v[:1000]) == [4 * i for i in range(1000)] and v[1000:] == (0,) * 24, v[:4]' '$t/o1.bin'"

# one lane, 6 instructions executed once each: the count is exact
check "instruction count of a one-lane kernel, and its result" sh -c "
	printf 'S2R r1, ARGS\nLD64 r2, [r1]\nLD64 r3, [r2]\nADD r3, r3, #1\nST64 [r2], r3\nEXIT\n' > '$t/inc.s' &&
	'$sim' '$t/inc.s' -b 8:value=41 -p 0:u64:1 > '$t/log' &&
	grep -q '^executed: 6 wave-instructions, ' '$t/log' &&
	grep -A1 '^buffer 0 (u64):' '$t/log' | grep -q '^  \[   0\] 42$'"

# --arg in any spelling of hex, negative hex, a float: the words the kernel reads
check "--arg: 0X1F, -0x2 and 1.5f reach the kernel as 31, 2^64 - 2 and 0x3fc00000" sh -c "
	printf 'S2R r1, ARGS\nLD64 r2, [r1]\nLD64 r3, [r1+8]\nST64 [r2], r3\nLD64 r3, [r1+16]\nST64 [r2+8], r3\nLD64 r3, [r1+24]\nST64 [r2+16], r3\nEXIT\n' > '$t/args.s' &&
	'$sim' '$t/args.s' -b 24 -a 0X1F -a -0x2 -a 1.5f -p 0:u64:3 > '$t/log' &&
	grep -A1 '^buffer 0 (u64):' '$t/log' | grep -qx '  \[   0\] 31 18446744073709551614 1069547520'"

# a store to 0x10000, which this process does not have: cancelled, exit 1
check "a fault on an address the process does not have: reported, exit 1" sh -c "
	printf 'S2R r1, ARGS\nLD64 r2, [r1]\nST64 [r2+8], r1\nEXIT\n' > '$t/f.s'
	'$sim' '$t/f.s' -a 0x10000 > '$t/log'; test \$? = 1 &&
	grep -Eq '^  0x0000000000010000  write   1  cancelled: not accessible$' '$t/log' &&
	grep -qx 'FAILED: fault cancelled at 0x10008 (write access)' '$t/log'"

check "--json: status, error, faults with page, access, count" sh -c "
	'$sim' --json '$t/f.s' -a 0x10000 > '$t/j'; test \$? = 1 &&
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d[\"status\"] == \"failed\" and d[\"error_va\"] == \"0x10008\" and d[\"error_access\"] == \"write\", d
f = [x for x in d[\"faults\"] if x[\"page\"] == \"0x10000\"]
assert f == [{\"page\": \"0x10000\", \"access\": \"write\", \"count\": 1, \"resolved\": False}], d[\"faults\"]
assert d[\"wave_instructions\"] == 2, d  # S2R, LD64; the ST64 never completes' '$t/j'"

check "assembler errors: KERNEL:LINE:COLUMN: message, exit 1" sh -c "
	printf 'NOP\nADD r1, r2\nMOV r40, r1\n' > '$t/bad.s'
	'$sim' '$t/bad.s' 2> '$t/err'; test \$? = 1 &&
	printf '%s\n' \"$t/bad.s:2:5: ADD takes operands 'rD, rA, rB|imm', got 2 operands\" \
		\"$t/bad.s:3:5: register 'r40' out of range (r0..r31)\" | diff - '$t/err'"

check "bad numbers and options: exit 2 with the message" sh -c "
	'$sim' -k vecadd -n 1e6 2> '$t/err'; test \$? = 2 &&
	grep -qx \"svmgpu-sim: --items: '1e6' is not a number (digits or 0x hex, with an optional k/M/G/T unit)\" '$t/err' &&
	'$sim' -k vecadd -b 64Q 2> '$t/err'; test \$? = 2 &&
	grep -qx \"svmgpu-sim: --buffer: '64Q' is not a size (digits or 0x hex, with an optional k/M/G/T unit)\" '$t/err' &&
	'$sim' -k nope 2> '$t/err'; test \$? = 2 &&
	grep -qx \"svmgpu-sim: no ready kernel 'nope' (svmgpu-as -k list)\" '$t/err' &&
	'$sim' -k vecadd -p 3 -b 64 2> '$t/err'; test \$? = 2 &&
	grep -qx 'svmgpu-sim: --print: no buffer 3 (1 given)' '$t/err' &&
	'$sim' 2> '$t/err'; test \$? = 2 && grep -qx 'svmgpu-sim: KERNEL is missing' '$t/err' &&
	'$sim' -w 300 -k vecadd 2> '$t/err'; test \$? = 2 &&
	grep -qx 'svmgpu-sim: --wg-size: 300 is out of range (1..256)' '$t/err'"

check "a missing kernel file: exit 1 and why" sh -c "
	'$sim' '$t/none.s' 2> '$t/err'; test \$? = 1 && grep -qx 'svmgpu-sim: $t/none.s: No such file or directory' '$t/err'"

check "--memory too small for the kernel's pages: exit 3 and why" sh -c "
	'$sim' -k vecadd -b 8M:f32seq -b 8M:f32seq -b 8M -a 2097152 -n 2097152 -w 256 -m 4M > /dev/null 2> '$t/err'
	test \$? = 3 && grep -q '^svmgpu-sim: the simulated device.s memory ran out (--memory 4M, ' '$t/err'"
exit $fail
