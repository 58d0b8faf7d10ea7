#!/bin/sh
# SPDX-License-Identifier: MIT
# svmgpu-as as a user runs it: the disassembly of every ready kernel and of
# random binaries assembles back to the same bytes; every error of a
# source is printed as FILE:LINE:COLUMN: message; --json.  TAP output.
# usage: test_asm_tool.sh SVMGPU_AS
as=$1
. "$(dirname "$0")/tap.sh"
echo "TAP version 13"
echo "1..8"

check "every ready kernel: -d output assembles to the same binary, with no .word" sh -c '
	for k in $('"$as"' -k list); do
		'"$as"' -k $k > '"$t"'/$k.s && '"$as"' '"$t"'/$k.s -o '"$t"'/$k.bin &&
		'"$as"' -d '"$t"'/$k.bin > '"$t"'/$k.dis.s && '"$as"' '"$t"'/$k.dis.s -o '"$t"'/$k.2.bin &&
		cmp '"$t"'/$k.bin '"$t"'/$k.2.bin && ! grep -q "\.word" '"$t"'/$k.dis.s || { echo "$k"; exit 1; }
	done'

# 4 x 64 KiB of random words, and words with a control opcode in the low
# byte (IF..ENDLOOP, mostly unbalanced), so every .word fallback is used
check "random binaries: -d output assembles to the same binary" sh -c '
	for i in 1 2 3 4; do
		head -c 65536 /dev/urandom > '"$t"'/r.bin &&
		'"$as"' -d '"$t"'/r.bin > '"$t"'/r.s && '"$as"' '"$t"'/r.s -o '"$t"'/r2.bin &&
		cmp '"$t"'/r.bin '"$t"'/r2.bin || exit 1
	done
	python3 -c "import os, struct, sys
r = os.urandom(8192)
sys.stdout.buffer.write(b\"\".join(struct.pack(\"<Q\", 4 + r[i] % 6 | (r[i + 1] % 4) << 16) for i in range(0, 8192, 2)))" > '"$t"'/c.bin &&
	'"$as"' -d '"$t"'/c.bin > '"$t"'/c.s && '"$as"' '"$t"'/c.s -o '"$t"'/c2.bin &&
	cmp '"$t"'/c.bin '"$t"'/c2.bin && grep -q "(unbalanced)" '"$t"'/c.s && grep -q "^    IF r" '"$t"'/c.s'

printf 'FOO\n  ADD r1, r2\nNOP\nMOV r40, r1\n.equ N, 1 /\n  IF r1\n' > "$t/bad.s"
cat > "$t/want" <<W
$t/bad.s:1:1: unknown instruction 'FOO'
$t/bad.s:2:7: ADD takes operands 'rD, rA, rB|imm', got 2 operands
$t/bad.s:4:5: register 'r40' out of range (r0..r31)
$t/bad.s:5:12: expected a value
$t/bad.s:6:3: IF is never closed by ENDIF
W
check "every error of a source as FILE:LINE:COLUMN: message, exit 1, no output file" sh -c \
	"'$as' '$t/bad.s' 2> '$t/err'; test \$? = 1 && diff -u '$t/want' '$t/err' && test ! -e '$t/bad.s.bin'"

check "--json lists the errors with line and column" sh -c \
	"'$as' --json '$t/bad.s' 2>/dev/null | python3 -c 'import json, sys; d = json.load(sys.stdin); e = d[\"errors\"]; assert len(e) == 5, e; assert e[1] == {\"line\": 2, \"column\": 7, \"message\": \"ADD takes operands \\x27rD, rA, rB|imm\\x27, got 2 operands\"}, e[1]'"

printf '.struct args\n  .field a, 8\n  .field n, 4\n.ends\n.equ ONE, 1\nS2R r2, ARGS\nLD32 r3, [r2+args.n]\nMOVI r4, sizeof(args) + ONE\nEXIT\n' > "$t/s.s"
check "--json of a program: its words, offsets and texts" sh -c \
	"'$as' --json -o '$t/s.bin' '$t/s.s' | python3 -c 'import json, sys; d = json.load(sys.stdin); w = d[\"words\"]; assert [x[\"text\"] for x in w] == [\"S2R r2, ARGS\", \"LD32 r3, [r2+8]\", \"MOVI r4, #17\", \"EXIT\"], w; assert w[1][\"offset\"] == 8 and w[1][\"encoding\"] == \"0x800020362\", w[1]' && test \$(stat -c %s '$t/s.bin') = 32"

check "-d of a file that is not a multiple of 8 bytes: exit 1 and why" sh -c \
	"printf 'abc' > '$t/odd.bin'; '$as' -d '$t/odd.bin' 2> '$t/err'; test \$? = 1 && grep -qx \"svmgpu-as: $t/odd.bin: size 3 is not a non-zero multiple of 8\" '$t/err'"

check "-k with an unknown kernel and -k with -d are usage errors (exit 2)" sh -c \
	"'$as' -k nope 2> '$t/err'; test \$? = 2 && grep -qx \"svmgpu-as: no ready kernel 'nope' (-k list prints their names)\" '$t/err' &&
	 '$as' -k vecadd -d x 2> '$t/err'; test \$? = 2 && grep -qx 'svmgpu-as: -k and -d exclude each other' '$t/err'"
# NAME.bin longer than PATH_MAX - 1 would be cut short, down to NAME itself
check "a source whose NAME.bin is too long is refused (exit 1), the source kept" python3 -c "
import os, subprocess, sys
top = '$t/long'
d = top
while len(d) + 210 < 4090:
    d += '/' + 'd' * 200
os.makedirs(d)
src = d + '/' + 'k' * (4094 - len(d) - 1)
assert len(src) == 4094, len(src)
open(src, 'w').write('EXIT\\n')
r = subprocess.run(['$as', src], capture_output=True, text=True)
assert r.returncode == 1, r
assert 'output name too long' in r.stderr, r.stderr
assert open(src).read() == 'EXIT\\n'
"
exit $fail
