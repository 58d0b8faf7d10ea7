#!/usr/bin/env python3
"""Write a few seed inputs for fuzz-core.c into the corpus directory."""
import os
import struct
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def cmd(q, opcode, flags, raw0, raw1, raw2, raw3, raw4, extra=b""):
    return (bytes([3, q, opcode, flags, 1]) + struct.pack("<Q", raw0) +
            bytes([1]) + struct.pack("<Q", raw1) + struct.pack("<I", raw2)[:3] +
            struct.pack("<H", raw3) + bytes([1]) + struct.pack("<Q", raw4) + extra)


def insn(op, rd, ra, rb, imm):
    return struct.pack("<BBBBi", op, rd, ra, rb, imm)


run = bytes([5])
seeds = {
    "copy": cmd(0, 1, 1, 0x10000, 0x20000, 0x3000, 0, 0) + run,
    "fill": cmd(1, 2, 0, 0x30000, 0x1000, 0xab, 0, 0) + run,
    "atomic": cmd(2, 3, 0, 0x40000, 5, 0, 0, 0x40008) + run,
    "fault": cmd(0, 1, 0, 0x64000, 0x64000, 64, 0, 0) + run + bytes([8, 0]) + run,
    "signal-wait": cmd(0, 5, 0, 0x50000, 1, 0, 0, 0, struct.pack("<H", 100)) +
                   cmd(1, 4, 0, 0x50000, 1, 0, 0, 0) + run,
}
# a kernel at VA 0x60000 storing lane ids, with an IF and a barrier
prog = b"".join([
    insn(0x12, 1, 0, 0, 8), insn(0x2b, 2, 1, 0xff, 3), insn(0x20, 2, 2, 0xff, 0x70000),
    insn(0x32, 3, 1, 0xff, 5), insn(0x04, 0, 3, 0, 0), insn(0x6b, 0, 2, 1, 0),
    insn(0x05, 0, 0, 0, 0), insn(0x02, 0, 0, 0, 0), insn(0x06, 0, 0, 0, 0),
    insn(0x01, 0, 0, 0, 0)])
poke = b"".join(bytes([2]) + struct.pack("<I", 0x60000 + i)[:3] + prog[i:i + 8]
                for i in range(0, len(prog), 8))
seeds["launch"] = poke + cmd(3, 6, 1, 0x60000, 0, 0, 0, 0,
                             bytes([1, 1]) + struct.pack("<H", 64) +
                             struct.pack("<H", 500)) + run
# PREEMPT (op 9, bit 5 clear) of a long copy, then RESUME (bit 5) on
# queue 6 as saved (bits 7:6 = 0), with bits flipped (1), from the input (3)
copy = cmd(1, 1, 0, 0x10000, 0x80000, 0x60000, 0, 0)
seeds["preempt-resume"] = (copy + bytes([9, 0x01, 1, 9, 0x39, 0, 8]) +
                           run)
seeds["preempt-flip"] = (copy + bytes([9, 0x01, 1, 9, 0x79, 3]) +
                         struct.pack("<I", 0x12345)[:3] * 3 + bytes([0, 8]) + run)
seeds["preempt-launch"] = (seeds["launch"] + bytes([9, 0x03, 1, 9, 0xfb]) +
                           struct.pack("<H", 200) + bytes(range(200)) +
                           bytes([0, 8]) + run)
for name, data in seeds.items():
    with open(os.path.join(out, "seed-" + name), "wb") as f:
        f.write(data)
