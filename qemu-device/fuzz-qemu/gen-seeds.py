#!/usr/bin/env python3
"""Write seed inputs for QEMU's generic-fuzz target into a corpus directory.

An input is a list of operations separated by b"FUZZ"; the first byte of
each is the opcode (modulo 10), the rest its little-endian operands, laid
out as the structs in tests/qtest/fuzz/generic_fuzz.c (with their padding):

  OP_READ   2: u8 size, u8 region, u16 pad, u32 offset
  OP_WRITE  3: u8 size, u8 region, u16 pad, u32 offset, u64 value
  OP_PCI_READ 4 / OP_PCI_WRITE 5: u8 size, u8 dev, u8 offset[, u8 pad, u32 value]
  OP_ADD_DMA_PATTERN 7: u8 index, u8 stride, pattern bytes
  OP_CLEAR_DMA_PATTERNS 8 (the next read uses the next pattern added)
  OP_CLOCK_STEP 9

Sizes: 0 byte, 1 word, 2 long, 3 quad (config space: 0..2).  Regions are
the matched MemoryRegions in address order: 0 svmgpu-regs (BAR0), 1 the
MSI-X table, 2 the PBA.  Every device read of guest RAM is filled with the
next DMA pattern, in turn; RAM is otherwise zero.  The fuzzer maps BAR0 at
0xe0000000 (libqos' PCI allocator), which the MSI-X seeds rely on.

  gen-seeds.py CORPUS_DIR
"""
import os
import struct
import sys

SEP = b"FUZZ"
BAR0 = 0xE0000000
MSIX_CAP = 0x40          # first capability: MSI-X (PCIe is at 0x80)

# BAR0 registers (include/svmgpu/svmgpu_hw.h)
CONTROL, ERROR_STATUS, INTR_STATUS, INTR_MASK = 0x30, 0x38, 0x50, 0x54
CTX_TABLE_BASE, CTX_TABLE_ENTRIES, CTX_ENABLE, CTX_DISABLE = 0x60, 0x68, 0x6C, 0x70
TLB_INV_CTX, TLB_INV_FLAGS, TLB_INV_START, TLB_INV_SIZE = 0x80, 0x84, 0x88, 0x90
TLB_INV_SUBMIT, TLB_INV_DONE_ADDR = 0x98, 0xA8
FAULT_RING_BASE, FAULT_GET, FAULT_REPLY = 0xC0, 0xCC, 0xD0


def Q(q, reg):
    return 0x1000 + q * 0x80 + reg


Q_BASE, Q_SIZE, Q_CTX, Q_COMPL, Q_CONTROL, Q_TAIL = 0x00, 0x08, 0x0C, 0x10, 0x18, 0x24
Q_SAVE, Q_PRIORITY, Q_START = 0x48, 0x50, 0x54          # hw-spec 16
ENABLE, PREEMPT, RESUME = 1, 4, 8
INJ_IRQ_DELAY_US, INJ_INVAL_DELAY_US, INJ_STALL_FAULT_RING = 0x220, 0x224, 0x228
INJ_ENABLE_REFUSE = 0x22C
SAVE = 0x4040000

CTX_TABLE, FAULT_RING, RING, COMPL, PT_ROOT = 0x4000000, 0x4010000, 0x4030000, 0x4031000, 0x4100000


def wr(off, val, size=2, region=0):
    return bytes([3, size, region, 0, 0]) + struct.pack("<IQ", off, val)


def wr64(off, val):
    return wr(off, val, 3)


def rd(off, size=2, region=0):
    return bytes([2, size, region, 0, 0]) + struct.pack("<I", off)


def pci_wr(off, val, size=2):
    return bytes([5, size, 0, off, 0]) + struct.pack("<I", val)


def pattern(data, index=0, stride=0):
    return bytes([7, index, stride]) + data


def clock():
    return bytes([9])


def seq(*ops):
    return SEP.join(ops)


def cmd(opcode, seqno, body, flags=1):
    raw = struct.pack("<BBHIQ", opcode, flags, 0, 0, seqno) + body
    return raw + bytes(64 - len(raw))


ctx_entry = struct.pack("<QI", PT_ROOT, 1) + bytes(20)
# one PTE for every level: VALID | WRITABLE, pointing back at the root
pte = struct.pack("<Q", PT_ROOT | 3)

bringup = [
    wr64(CTX_TABLE_BASE, CTX_TABLE), wr(CTX_TABLE_ENTRIES, 16),
    wr64(FAULT_RING_BASE, FAULT_RING), wr(CONTROL, 1),
    pattern(ctx_entry), wr(CTX_ENABLE, 0),
    wr64(Q(0, Q_BASE), RING), wr(Q(0, Q_SIZE), 16), wr(Q(0, Q_CTX), 0),
    wr64(Q(0, Q_COMPL), COMPL), wr(Q(0, Q_CONTROL), 1),
]


def clear():
    return bytes([8])


def submit(command):
    # Patterns restart at the first: the ring fetch reads the command, then
    # the walk reads four PTEs (and the completion record is mapped).
    return [clear(), pattern(command), pattern(pte), pattern(pte), pattern(pte),
            pattern(pte), pattern(pte), wr(Q(0, Q_TAIL), 1), rd(Q(0, 0x1C)),
            rd(Q(0, 0x28), 3)]


def msix_vector(v, addr, data):
    e = v * 16
    return [wr(e, addr & 0xFFFFFFFF, 2, 1), wr(e + 4, addr >> 32, 2, 1),
            wr(e + 8, data, 2, 1), wr(e + 12, 0, 2, 1)]


msix_on = pci_wr(MSIX_CAP + 2, 0x8000, 1)

seeds = {
    "ident": seq(*[rd(o) for o in (0, 4, 8, 0xC, 0x10, 0x14, 0x18, 0x1C, 0x28, 0x34)]),
    "bringup": seq(*bringup, rd(0x34), rd(ERROR_STATUS)),
    "nop": seq(*bringup, *submit(cmd(0, 1, b""))),
    "fill": seq(*bringup, *submit(cmd(2, 1, struct.pack("<QQQI", 0x1000, 0x100, 0xAB, 4)))),
    "copy": seq(*bringup, *submit(cmd(1, 1, struct.pack("<QQQ", 0x2000, 0x1000, 0x200)))),
    # ADD 5 to the u64 at 0x1000 (op 0, size 8)
    "atomic": seq(*bringup, *submit(cmd(3, 1, struct.pack("<QQQQBB", 0x1000, 5, 0, 0, 0, 8)))),
    "timestamp": seq(*bringup, *submit(cmd(7, 1, struct.pack("<Q", 0x1000))), clock()),
    "wait": seq(*bringup, *submit(cmd(5, 1, struct.pack("<QQQ", 0x1000, 1, 100))),
                clock(), clock()),
    "inval": seq(*bringup, wr(TLB_INV_CTX, 0), wr(TLB_INV_FLAGS, 0),
                 wr64(TLB_INV_START, 0), wr64(TLB_INV_SIZE, 0x10000),
                 wr64(TLB_INV_DONE_ADDR, 0x4033000), wr(TLB_INV_SUBMIT, 1)),
    "fault-reply": seq(*bringup, pattern(struct.pack("<Q", 0)), wr(FAULT_GET, 0),
                       wr64(FAULT_REPLY, 0)),
    "reset": seq(*bringup, wr(CONTROL, 2), rd(0x34), wr(CONTROL, 1)),
    "flr": seq(*bringup, pci_wr(0x80 + 8, 0x8000, 1), rd(0x34)),
    "bus-master-off": seq(*bringup, pci_wr(4, 0x2, 1),
                          *submit(cmd(2, 1, struct.pack("<QQQI", 0x1000, 0x40, 1, 4)))),
    # MSI-X vectors aimed at RAM, then a queue error (vector 0) and a
    # completion with IRQ (vector 3).
    "msix": seq(msix_on, *msix_vector(0, 0xFEE00000, 0x30),
                *msix_vector(3, 0xFEE00000, 0x33), *bringup,
                *submit(cmd(0xEE, 1, b""))),
    # The error vector aimed at the device's own CTX_ENABLE register, then a
    # rejected CTX_ENABLE: every error raises the vector that writes it
    # again (issue 10, case 3).
    "msix-self": seq(msix_on, *msix_vector(0, BAR0 + CTX_ENABLE, 4095),
                     wr(CONTROL, 1), wr(CTX_ENABLE, 4095)),
}


def preempt_resume(save):
    # ring 0 with a save area at @save and priority 2; a WAIT that stalls,
    # PREEMPT, then the ring RESUMEd on queue 1 at its saved head
    head = [wr64(Q(0, Q_SAVE), save), wr(Q(0, Q_PRIORITY), 2)] + bringup
    return head + submit(cmd(5, 1, struct.pack("<QQQ", 0x1000, 1, 100))) + [
        clock(), wr(Q(0, Q_CONTROL), ENABLE | PREEMPT), rd(Q(0, 0x1C)),
        wr64(Q(1, Q_BASE), RING), wr(Q(1, Q_SIZE), 16), wr(Q(1, Q_CTX), 0),
        wr64(Q(1, Q_COMPL), COMPL), wr64(Q(1, Q_SAVE), save),
        wr(Q(1, Q_START), 0), clear(),
        pattern(struct.pack("<IHHII", 0x41535653, 1, 1, 0, 0)),
        pattern(cmd(5, 1, struct.pack("<QQQ", 0x1000, 1, 100))),
        wr(Q(1, Q_CONTROL), ENABLE | RESUME), wr(Q(1, Q_TAIL), 1),
        rd(Q(1, 0x1C)), rd(Q(1, 0x30)), rd(0x170, 3)]


seeds["preempt-resume"] = seq(*preempt_resume(SAVE))
# the save area in BAR0: the save is a DMA to MMIO, which fails
seeds["preempt-save-to-bar0"] = seq(*preempt_resume(BAR0))
seeds["inject-delays"] = seq(
    wr(INJ_IRQ_DELAY_US, 5), wr(INJ_INVAL_DELAY_US, 3),
    wr(INJ_STALL_FAULT_RING, 1), msix_on, *msix_vector(3, 0xFEE00000, 0x33),
    *bringup, *submit(cmd(2, 1, struct.pack("<QQQI", 0x1000, 0x100, 0xAB, 4))),
    wr(TLB_INV_SUBMIT, 1), clock(), rd(0xA0), wr(INJ_STALL_FAULT_RING, 0),
    clock(), rd(0x34))

# a reset that does not bring the device back, then one that does
seeds["inject-enable-refuse"] = seq(
    *bringup, wr(INJ_ENABLE_REFUSE, 1), wr(CONTROL, 2), *bringup,
    *submit(cmd(2, 1, struct.pack("<QQQI", 0x1000, 0x100, 0xAB, 4))), rd(0x34),
    wr(CONTROL, 2), *bringup, rd(0x34))

def isa(op, rd=0, ra=0, rb=0, imm=0):
    # SVMGPU_ISA_ENCODE (docs/isa.md): opcode, rd, ra, rb, signed imm
    return struct.pack("<BBBBi", op, rd, ra, rb, imm)


IMM = 0xFF
S2R, MOVI, ADD, SHL, LD64, ST64, ATOM64, EXIT = 0x12, 0x10, 0x20, 0x2B, 0x63, 0x6B, 0x71, 0x01
SR_GLOBAL_ID, SR_ARGS = 8, 9


def va(l4, l3, l2, l1):
    return (l4 << 39) | (l3 << 30) | (l2 << 21) | (l1 << 12)


CODE_VA, ARGS_VA = va(1, 2, 3, 4), va(1, 2, 3, 5)
CODE_PA = 0x4200000
# Every thread loads the u64 at args + 0x30 (CONTROL, when args is BAR0),
# stores its global id at args + 0x100 + 8 * gid, and atomically adds the
# loaded value to the u64 at args.  Eight instructions: one ring entry.
kernel = b"".join([
    isa(S2R, 1, imm=SR_ARGS), isa(S2R, 2, imm=SR_GLOBAL_ID),
    isa(SHL, 3, 2, IMM, 3), isa(ADD, 3, 1, 3),
    isa(LD64, 4, 1, imm=0x30), isa(ST64, 0, 3, 2, 0x100),
    isa(ATOM64, 6, 1, 4, 0), isa(EXIT)])
assert len(kernel) == 64


def launch(args_pa):
    """LAUNCH of 2 workgroups of 40 lanes (two waves each).

    Every read and every new mapping of guest RAM takes the next pattern.
    The kernel is put in RAM by one: queue 1's ring is the code page, and
    its fetch of entry 0 (an illegal command) fills it.  Then, in the order
    the launch takes them (found with -trace 'svmgpu_*'): the command, the
    code page's walk (three table entries pointing back at the root, then
    its leaf), one mapping, the args page's walk (the same, with its own
    leaf).  Every table is the root page, and each VA has a different
    index at every level, so a walk's four reads are at four addresses.
    """
    command = cmd(6, 1, struct.pack("<QQIIIIQ", CODE_VA, ARGS_VA, 2, 1, 1, 40, 4096))
    return bringup + [
        clear(), pattern(kernel),
        wr64(Q(1, Q_BASE), CODE_PA), wr(Q(1, Q_SIZE), 16), wr(Q(1, Q_CTX), 0),
        wr64(Q(1, Q_COMPL), COMPL + 0x800), wr(Q(1, Q_CONTROL), 1), wr(Q(1, Q_TAIL), 1),
        clear(), pattern(command), pattern(pte), pattern(pte), pattern(pte),
        pattern(struct.pack("<Q", CODE_PA | 3)), pattern(pte),
        pattern(pte), pattern(pte), pattern(pte), pattern(struct.pack("<Q", args_pa | 3)),
        wr(Q(0, Q_TAIL), 1), rd(Q(0, 0x1C)), rd(Q(0, 0x28), 3),
        rd(ERROR_STATUS), rd(0x34)]


# a kernel in RAM with its arguments in RAM, then with its arguments in
# BAR0: its first load, aimed at the device's own CONTROL register, is a
# failed DMA (ERR_DMA), not a register access; mutations go on from there
seeds["launch"] = seq(*launch(CODE_PA + 0x1000))
seeds["launch-args-in-bar0"] = seq(*launch(BAR0))

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, "seed-" + name), "wb") as f:
        f.write(data)
