/*
 * Differential fuzzer of the svmgpu compute engines: the input becomes a
 * random but mostly valid kernel (ALU, moves, loads/stores/atomics of
 * every width into a window of pages some of which are read-only or not
 * present, structured IF/ELSE and LOOP/BREAK, barriers, jumps, exits, and
 * now and then an illegal word), random memory, a launch shape and
 * budget, and a plan for the faults (map the page, make it writable,
 * rewrite a code word while the kernel is stalled, or cancel).  The same
 * launch runs on the reference interpreter and on the fast engine; every
 * byte of guest RAM afterwards (data, a dump of every lane's registers
 * that the kernel's epilogue stores, page tables, fault records,
 * completion record), the fault sequence, the queue's error registers and
 * the executed-instruction counter must be identical.  A difference
 * aborts with a description.  Guest RAM is a memfd that map() maps and
 * unmap() unmaps for real, so a pointer used after its map window was
 * released crashes (map_window 0 with 16 data pages evicts windows).
 *
 * Built two ways: with -fsanitize=fuzzer (clang, run-fuzz.sh isa-diff),
 * or with -DSVMGPU_DIFF_MAIN as a deterministic host test that runs a
 * fixed number of inputs from a fixed PRNG seed (meson test
 * device-core-isa-diff), or replays the files named on its command line.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "svmgpu_core.h"

#define RAM_BASE    0x40000000ull
#define RAM_SIZE    (1u << 20)
#define CTX_TABLE   (RAM_BASE + 0x0000)
#define FAULT_RING  (RAM_BASE + 0x1000)
#define ROOT        (RAM_BASE + 0x2000)
#define L3          (RAM_BASE + 0x3000)
#define L2          (RAM_BASE + 0x4000)
#define L1          (RAM_BASE + 0x5000)
#define RING        (RAM_BASE + 0x6000)
#define COMPL       (RAM_BASE + 0x7000)
#define CODE_PA     (RAM_BASE + 0x8000)    /* 2 pages */
#define ARGS_PA     (RAM_BASE + 0xa000)
#define DATA_PA     (RAM_BASE + 0x10000)   /* 16 pages */
#define DUMP_PA     (RAM_BASE + 0x20000)   /* 16 pages: 256 lanes x 256 B */

#define CODE_VA     0x10000ull
#define ARGS_VA     0x30000ull
#define DATA_VA     0x100000ull             /* 64 KiB window */
#define DUMP_VA     0x80000ull
#define DATA_PAGES  16
#define CODE_PAGES  2
#define MAX_INSNS   (CODE_PAGES * 512 - 40)
#define MAX_FAULTS  24

#define I(op, rd, ra, rb, imm) SVMGPU_ISA_ENCODE(SVMGPU_OP_##op, rd, ra, rb, imm)
#define IMM         0xff

enum { PG_RW, PG_RO, PG_ABSENT, PG_ABSENT_RO };

typedef struct Input {
    const uint8_t *p;
    size_t n;
} Input;

static uint64_t take(Input *in, unsigned bytes)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < bytes && in->n; i++, in->n--) {
        v |= (uint64_t)*in->p++ << (8 * i);
    }
    return v;
}

/*
 * A MOVI or MOVHI immediate: random bits, or one time in four a float
 * whose handling is a corner (signed zeros, infinities, NaNs with
 * payloads, the smallest subnormal, one): MOVI gives an f32 in the low
 * half, MOVHI the high half of an f64 (with MOVI 0 before it, -0.0).
 */
static int32_t take_imm(Input *in, bool high)
{
    static const uint32_t lo[] = {
        0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
        0xffc01234, 0x7f800001, 0x00000001, 0x3f800000,
    };
    static const uint32_t hi[] = {
        0x00000000, 0x80000000, 0x7ff00000, 0xfff00000, 0x7ff80000,
        0xfff80123, 0x7ff00001, 0x3ff00000,
    };
    const uint32_t v = (uint32_t)take(in, 4);

    if ((v & 3) != 0) {
        return (int32_t)v;
    }
    return high ? (int32_t)hi[(v >> 2) % 8] : (int32_t)lo[(v >> 2) % 9];
}

/* What the input describes; identical for both engines. */
typedef struct Plan {
    uint64_t code[CODE_PAGES * 512];
    unsigned ninsns;
    uint8_t data_mode[DATA_PAGES];
    bool code_writable, code1_absent;
    uint64_t seed;              /* data contents */
    uint32_t wg_size, grid_x, grid_y;
    uint64_t budget;
    uint8_t fix[MAX_FAULTS];    /* per fault: < 60 fix (& 4: poke), else cancel */
    uint64_t poke[MAX_FAULTS];  /* code word rewritten while stalled */
    uint32_t tlb_sets, tlb_ways;
    bool use_map;
    uint64_t map_window;
} Plan;

/* Everything observable after the launch. */
typedef struct Outcome {
    uint8_t *ram;
    uint64_t instructions, error_status;
    uint32_t qstatus, err_code, err_info;
    uint64_t err_va, err_seq;
    unsigned nfaults;
    struct { uint64_t va; uint8_t access, reason; } faults[MAX_FAULTS + 1];
} Outcome;

static const uint8_t alu_ops[] = {
    SVMGPU_OP_MOV,
    SVMGPU_OP_ADD, SVMGPU_OP_SUB, SVMGPU_OP_MUL, SVMGPU_OP_MULHU,
    SVMGPU_OP_DIVU, SVMGPU_OP_DIVS, SVMGPU_OP_REMU, SVMGPU_OP_REMS,
    SVMGPU_OP_AND, SVMGPU_OP_OR, SVMGPU_OP_XOR, SVMGPU_OP_SHL, SVMGPU_OP_SHR,
    SVMGPU_OP_SAR, SVMGPU_OP_MINU, SVMGPU_OP_MAXU, SVMGPU_OP_MINS,
    SVMGPU_OP_MAXS, SVMGPU_OP_SEQ, SVMGPU_OP_SNE, SVMGPU_OP_SLTU,
    SVMGPU_OP_SLTS, SVMGPU_OP_SLEU, SVMGPU_OP_SLES,
    SVMGPU_OP_FADD, SVMGPU_OP_FSUB, SVMGPU_OP_FMUL, SVMGPU_OP_FDIV,
    SVMGPU_OP_FMIN, SVMGPU_OP_FMAX, SVMGPU_OP_FSLT, SVMGPU_OP_FSEQ,
    SVMGPU_OP_FSLE, SVMGPU_OP_FSQRT, SVMGPU_OP_I2F, SVMGPU_OP_F2I,
    SVMGPU_OP_DADD, SVMGPU_OP_DSUB, SVMGPU_OP_DMUL, SVMGPU_OP_DDIV,
    SVMGPU_OP_DMIN, SVMGPU_OP_DMAX, SVMGPU_OP_DSLT, SVMGPU_OP_DSEQ,
    SVMGPU_OP_DSLE, SVMGPU_OP_DSQRT, SVMGPU_OP_I2D, SVMGPU_OP_D2I,
    SVMGPU_OP_F2D, SVMGPU_OP_D2F, SVMGPU_OP_FFMA, SVMGPU_OP_DFMA,
};

static const uint8_t mem_ops[] = {
    SVMGPU_OP_LD8, SVMGPU_OP_LD16, SVMGPU_OP_LD32, SVMGPU_OP_LD64,
    SVMGPU_OP_LDS8, SVMGPU_OP_LDS16, SVMGPU_OP_LDS32,
    SVMGPU_OP_ST8, SVMGPU_OP_ST16, SVMGPU_OP_ST32, SVMGPU_OP_ST64,
    SVMGPU_OP_ATOM32, SVMGPU_OP_ATOM64,
};

static unsigned mem_size(uint8_t op)
{
    if (op == SVMGPU_OP_ATOM32) {
        return 4;
    }
    if (op == SVMGPU_OP_ATOM64) {
        return 8;
    }
    if (op >= SVMGPU_OP_ST8) {
        return 1u << (op - SVMGPU_OP_ST8);
    }
    return 1u << ((op - SVMGPU_OP_LD8) & 3);
}

static void emit(Plan *p, uint64_t insn)
{
    if (p->ninsns < MAX_INSNS) {
        p->code[p->ninsns++] = insn;
    }
}

/* A register the body computes with: mostly r1..r22, now and then any. */
static uint8_t reg(Input *in)
{
    uint8_t r = take(in, 1);

    return r < 240 ? 1 + r % 22 : r % 32;
}

static void gen_program(Plan *p, Input *in)
{
    uint8_t stack[SVMGPU_ISA_MAX_NEST + 2];     /* 'I' IF, 'E' ELSE, 'L' LOOP */
    unsigned sp = 0, loops = 0, n = 0, len, i;

    /* prologue: lane ids and a few useful values */
    emit(p, I(S2R, 1, 0, 0, SVMGPU_SR_LANE_ID));
    emit(p, I(S2R, 2, 0, 0, SVMGPU_SR_GLOBAL_ID));
    emit(p, I(S2R, 3, 0, 0, SVMGPU_SR_ARGS));
    emit(p, I(S2R, 4, 0, 0, SVMGPU_SR_WAVE_ID));
    emit(p, I(SHL, 5, 1, IMM, 3));
    len = take(in, 1) + (take(in, 1) & 1 ? take(in, 1) * 2 : 0);

    while (n++ < len && in->n && p->ninsns < MAX_INSNS - 40) {
        uint8_t kind = take(in, 1) % 32;
        uint8_t rd = reg(in), ra = reg(in), rb = reg(in);
        int32_t imm = (int32_t)take(in, 1) - 64;

        switch (kind) {
        case 0 ... 7:
            if (take(in, 1) & 1) {
                rb = IMM;
                if (kind & 1) {
                    imm = (int32_t)take(in, 4);
                }
            }
            emit(p, SVMGPU_ISA_ENCODE(alu_ops[take(in, 1) % sizeof(alu_ops)],
                                      rd, ra, rb, imm));
            break;
        case 8:
            emit(p, I(MOVI, rd, 0, 0, take_imm(in, false)));
            break;
        case 9:
            emit(p, I(MOVHI, rd, 0, 0, take_imm(in, true)));
            break;
        case 10:
            i = take(in, 1);        /* 255: not a special register */
            emit(p, I(S2R, rd, 0, 0, i == 255 ? SVMGPU_SR_NUM : i % SVMGPU_SR_NUM));
            break;
        case 11:
            emit(p, I(SEL, rd, ra, rb, reg(in)));
            break;
        case 12 ... 17: {
            /* r31 = region base | (reg & mask), aligned; then the access */
            uint8_t op = mem_ops[take(in, 1) % sizeof(mem_ops)];
            unsigned size = mem_size(op), sel = take(in, 1);
            uint64_t base = DATA_VA, mask = 0xffff;
            int32_t off = 0;

            if (sel >= 250) {
                base = CODE_VA;         /* loads and stores into the code */
                mask = 0x1fff;
            } else if (sel >= 240) {
                base = ARGS_VA;
                mask = 0xfff;
            }
            if (sel % 8 == 1) {
                mask &= 0xff;           /* a few words: lanes collide */
            } else if (sel % 8 == 2) {
                mask = 0;               /* one word for every lane */
            }
            if (sel % 16 == 4) {
                /*
                 * lane id * size + an offset: the lanes of a wave and of
                 * the whole workgroup contiguous, within a page or across
                 * the next one (the fast engine's whole-gang copies)
                 */
                emit(p, I(S2R, 31, 0, 0, SVMGPU_SR_LANE_ID));
                emit(p, I(SHL, 31, 31, IMM, __builtin_ctz(size)));
                emit(p, I(ADD, 31, 31, IMM,
                          (int32_t)(base + ((take(in, 2) & mask) &
                                            ~(uint64_t)(size - 1)))));
            } else {
                emit(p, I(AND, 31, ra, IMM,
                          (int32_t)(mask & ~(uint64_t)(sel == 7 ? 0 :
                                                       size - 1))));
                emit(p, I(OR, 31, 31, IMM, (int32_t)base));
            }
            if (op < SVMGPU_OP_ATOM32 && sel % 16 == 3) {
                off = (int32_t)(take(in, 1) % 16) * (int32_t)size;
            }
            if (op >= SVMGPU_OP_ATOM32) {
                off = SVMGPU_ISA_ATOM_IMM(take(in, 1) % (SVMGPU_ATOMIC_NUM_OPS +
                                                         (sel == 5)),
                                          reg(in));
            }
            emit(p, SVMGPU_ISA_ENCODE(op, rd, 31, rb, off));
            break;
        }
        case 18 ... 19:
            if (sp < SVMGPU_ISA_MAX_NEST + (take(in, 1) == 7)) {
                emit(p, I(IF, 0, ra, 0, 0));
                stack[sp++] = 'I';
            }
            break;
        case 20:
            if (sp && stack[sp - 1] == 'I') {
                emit(p, I(ELSE, 0, 0, 0, 0));
                stack[sp - 1] = 'E';
            }
            break;
        case 21 ... 22:
            if (sp && stack[sp - 1] != 'L') {
                emit(p, I(ENDIF, 0, 0, 0, 0));
                sp--;
            }
            break;
        case 23:
            if (sp < SVMGPU_ISA_MAX_NEST && loops < 4) {
                /* r24+depth counts iterations down */
                emit(p, I(MOVI, 24 + loops, 0, 0, 1 + take(in, 1) % 4));
                emit(p, I(LOOP, 0, 0, 0, 0));
                stack[sp++] = 'L';
                loops++;
            }
            break;
        case 24:
            if (sp && stack[sp - 1] == 'L') {
                loops--;
                emit(p, I(SUB, 24 + loops, 24 + loops, IMM, 1));
                emit(p, I(SEQ, 23, 24 + loops, IMM, 0));
                emit(p, I(BREAK, 0, 23, 0, 0));
                emit(p, I(ENDLOOP, 0, 0, 0, 0));
                sp--;
            }
            break;
        case 25:
            if (loops || take(in, 1) == 9) {
                emit(p, I(BREAK, 0, ra, 0, 0));
            }
            break;
        case 26:
            emit(p, I(BAR, 0, 0, 0, 0));
            break;
        case 27:
            if (take(in, 1) < 16) {
                emit(p, I(EXIT, 0, 0, 0, 0));
            }
            break;
        case 28:
            i = take(in, 1);
            if (i < 16 && p->ninsns + 24 < 512) {
                /*
                 * Load from 8 present data pages (filling the map
                 * windows when map_window is 0), jump to the next code
                 * page (its fetch replaces a window), and store to the
                 * writable ones of them again.
                 */
                unsigned pg = take(in, 1), k, m = 0, sw[8];

                for (k = 0; k < DATA_PAGES && m < 8; k++) {
                    unsigned d = (pg + k) % DATA_PAGES;

                    if (p->data_mode[d] < PG_ABSENT) {
                        sw[m++] = d;
                        emit(p, I(MOVI, 31, 0, 0,
                                  (int32_t)(DATA_VA + d * 4096ull)));
                        emit(p, I(LD64, rd, 31, 0, 8 * m));
                    }
                }
                emit(p, I(JMP, 0, 0, 0, (int32_t)(512 - p->ninsns)));
                while (p->ninsns < 512) {
                    emit(p, I(NOP, 0, 0, 0, 0));
                }
                for (k = 0; k < m; k++) {
                    if (p->data_mode[sw[k]] == PG_RW) {
                        emit(p, I(MOVI, 31, 0, 0,
                                  (int32_t)(DATA_VA + sw[k] * 4096ull)));
                        emit(p, I(ST64, 0, 31, rb, 8 * k));
                    }
                }
                break;
            }
            /* forward mostly; backward ones end at the budget */
            if (i >= 64) {
                break;
            }
            emit(p, I(JMP, 0, 0, 0, take(in, 1) < 8 ?
                      -(int32_t)(take(in, 1) % 8) :
                      1 + (int32_t)(take(in, 1) % 4)));
            break;
        case 29:
            if (take(in, 1) < 24) {
                emit(p, take(in, 8));   /* anything, mostly illegal */
            }
            break;
        case 30:
            /* a register the loops count with, or r31 */
            emit(p, I(ADD, 23 + take(in, 1) % 9, ra, IMM, imm));
            break;
        default:
            emit(p, I(NOP, 0, 0, 0, 0));
            break;
        }
    }
    /* close what is open (unless the input says otherwise) */
    if (take(in, 1) != 3) {
        while (sp) {
            if (stack[--sp] == 'L') {
                loops--;
                emit(p, I(SUB, 24 + loops, 24 + loops, IMM, 1));
                emit(p, I(SEQ, 23, 24 + loops, IMM, 0));
                emit(p, I(BREAK, 0, 23, 0, 0));
                emit(p, I(ENDLOOP, 0, 0, 0, 0));
            } else {
                emit(p, I(ENDIF, 0, 0, 0, 0));
            }
        }
    }
    /* epilogue: every lane's r0..r30 to DUMP + global id * 256 */
    emit(p, I(S2R, 31, 0, 0, SVMGPU_SR_GLOBAL_ID));
    emit(p, I(SHL, 31, 31, IMM, 8));
    emit(p, I(ADD, 31, 31, IMM, (int32_t)DUMP_VA));
    for (i = 0; i < 31; i++) {
        emit(p, I(ST64, 0, 31, i, (int32_t)(i * 8)));
    }
    emit(p, I(EXIT, 0, 0, 0, 0));
}

static void gen_plan(Plan *p, const uint8_t *data, size_t size)
{
    Input in = { data, size };
    static const uint32_t wgs[] = { 1, 7, 32, 33, 64, 96, 256, 255 };
    uint64_t shape = take(&in, 2);
    unsigned i;

    memset(p, 0, sizeof(*p));
    p->wg_size = shape & 8 ? 1 + (shape >> 8) % 256 : wgs[shape & 7];
    p->grid_x = 1 + (shape >> 4) % (p->wg_size <= 64 ? 3 : 1);
    p->grid_y = p->wg_size * p->grid_x * 2 <= 256 && (shape & 0x10) ? 2 : 1;
    p->budget = 200 + take(&in, 2) % 16384;
    p->seed = take(&in, 8) | 1;
    for (i = 0; i < DATA_PAGES; i++) {
        uint8_t b = take(&in, 1);

        p->data_mode[i] = b < 128 ? PG_RW : b < 180 ? PG_RO :
                          b < 230 ? PG_ABSENT : PG_ABSENT_RO;
    }
    i = take(&in, 1);
    p->code_writable = i & 1;
    p->code1_absent = i & 2;
    p->use_map = !(i & 4);
    p->map_window = i & 8 ? 0 : i & 16 ? 4096 : 64ull << 20;
    p->tlb_sets = i & 32 ? 1 : 16;
    p->tlb_ways = i & 64 ? 1 : 4;
    for (i = 0; i < MAX_FAULTS; i++) {
        p->fix[i] = take(&in, 1) % 64;  /* >= 60: cancel; & 4: poke */
        if (p->fix[i] & 4) {
            p->poke[i] = take(&in, 2);
        }
    }
    gen_program(p, &in);
}

/* ---- one engine ---- */

/*
 * Guest RAM is a memfd; map() returns a fresh mapping of it (coherent with
 * RAM, as QEMU's), and unmap() really unmaps it: an engine that uses a
 * pointer after its map-cache window was released crashes here instead of
 * silently writing RAM.
 */
#define ENV_MAPS 32

typedef struct Env {
    uint8_t *ram;
    int fd;
    int maps;
    struct {
        uint8_t *p;
        size_t len;
    } m[ENV_MAPS];
} Env;

static int e_read(void *o, uint64_t a, void *buf, uint64_t len)
{
    Env *e = o;

    if (a < RAM_BASE || len > RAM_SIZE || a - RAM_BASE > RAM_SIZE - len) {
        return -1;
    }
    memcpy(buf, e->ram + (a - RAM_BASE), len);
    return 0;
}

static int e_write(void *o, uint64_t a, const void *buf, uint64_t len)
{
    Env *e = o;

    if (a < RAM_BASE || len > RAM_SIZE || a - RAM_BASE > RAM_SIZE - len) {
        return -1;
    }
    memcpy(e->ram + (a - RAM_BASE), buf, len);
    return 0;
}

static void *e_map(void *o, uint64_t a, uint64_t *len, bool is_write)
{
    Env *e = o;
    uint64_t off, l;
    uint8_t *p;
    unsigned i;

    if (a < RAM_BASE || a - RAM_BASE >= RAM_SIZE) {
        return NULL;
    }
    if (*len > RAM_SIZE - (a - RAM_BASE)) {
        *len = RAM_SIZE - (a - RAM_BASE);
    }
    off = (a - RAM_BASE) & ~4095ull;
    l = ((a - RAM_BASE) - off + *len + 4095) & ~4095ull;
    for (i = 0; i < ENV_MAPS && e->m[i].p; i++) {
    }
    if (i == ENV_MAPS) {
        abort();            /* the core holds at most 8 windows */
    }
    p = mmap(NULL, l, PROT_READ | PROT_WRITE, MAP_SHARED, e->fd, off);
    if (p == MAP_FAILED) {
        abort();
    }
    e->m[i].p = p;
    e->m[i].len = l;
    e->maps++;
    return p + ((a - RAM_BASE) - off);
}

static void e_unmap(void *o, void *ptr, uint64_t len, bool is_write)
{
    Env *e = o;
    uint8_t *q = ptr;
    unsigned i;

    for (i = 0; i < ENV_MAPS; i++) {
        if (e->m[i].p && q >= e->m[i].p && q < e->m[i].p + e->m[i].len) {
            munmap(e->m[i].p, e->m[i].len);
            e->m[i].p = NULL;
            e->maps--;
            return;
        }
    }
    abort();                /* not a mapping of ours */
}

static void e_irq(void *o, unsigned v)
{
}

static uint64_t e_now(void *o)
{
    return 12345;
}

static const SvmgpuCoreOps ops_dma = {
    .dma_read = e_read, .dma_write = e_write, .irq = e_irq, .now_ns = e_now,
};

static const SvmgpuCoreOps ops_map = {
    .dma_read = e_read, .dma_write = e_write, .map = e_map, .unmap = e_unmap,
    .irq = e_irq, .now_ns = e_now,
};

static void put64(Env *e, uint64_t pa, uint64_t v)
{
    memcpy(e->ram + (pa - RAM_BASE), &v, 8);
}

static void get(Env *e, uint64_t pa, void *buf, size_t n)
{
    memcpy(buf, e->ram + (pa - RAM_BASE), n);
}

static void pte(Env *e, uint64_t va, uint64_t pa, bool present, bool rw)
{
    put64(e, L1 + ((va >> 12) & 511) * 8,
          present ? pa | SVMGPU_PTE_VALID | (rw ? SVMGPU_PTE_WRITABLE : 0) : 0);
}

static void wr32(SvmgpuCore *c, uint64_t off, uint32_t v)
{
    svmgpu_core_mmio_write(c, off, v, 4);
}

static void wr64(SvmgpuCore *c, uint64_t off, uint64_t v)
{
    svmgpu_core_mmio_write(c, off, v, 8);
}

static uint64_t rd(SvmgpuCore *c, uint64_t off, unsigned size)
{
    return svmgpu_core_mmio_read(c, off, size);
}

static void setup_memory(Env *e, const Plan *p)
{
    uint64_t x = p->seed;
    unsigned i;

    put64(e, CTX_TABLE, ROOT);
    put64(e, CTX_TABLE + 8, SVMGPU_CTX_VALID);
    put64(e, ROOT, L3 | SVMGPU_PTE_VALID);
    put64(e, L3, L2 | SVMGPU_PTE_VALID);
    put64(e, L2, L1 | SVMGPU_PTE_VALID);
    for (i = 0; i < CODE_PAGES; i++) {
        pte(e, CODE_VA + i * 4096ull, CODE_PA + i * 4096ull,
            !(i == 1 && p->code1_absent), p->code_writable);
    }
    memcpy(e->ram + (CODE_PA - RAM_BASE), p->code, sizeof(p->code));
    pte(e, ARGS_VA, ARGS_PA, true, true);
    for (i = 0; i < DATA_PAGES; i++) {
        pte(e, DATA_VA + i * 4096ull, DATA_PA + i * 4096ull,
            p->data_mode[i] < PG_ABSENT, p->data_mode[i] == PG_RW);
    }
    for (i = 0; i < 16; i++) {
        pte(e, DUMP_VA + i * 4096ull, DUMP_PA + i * 4096ull, true, true);
    }
    /*
     * data and args: xorshift from the seed, with runs of small values,
     * 1.0f, and float corners (signed zeros, infinities, NaNs, in f32 and
     * f64)
     */
    static const uint64_t corner[] = {
        0x80000000, 0x8000000000000000ull, 0x7f800000, 0xff800000ull,
        0x7fc00001, 0x7f800001, 0x7ff0000000000000ull, 0xfff8000000000123ull,
    };

    for (i = 0; i < DATA_PAGES * 4096 / 8; i++) {
        uint64_t v;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v = (x & 7) < 2 ? (x >> 8) % 64 : (x & 7) < 4 ? 0x3f800000 :
            (x & 7) == 4 ? corner[(x >> 8) % 8] : x;
        put64(e, DATA_PA + i * 8ull, v);
        if (i < 512) {
            put64(e, ARGS_PA + i * 8ull, x >> 3);
        }
    }
}

static void invalidate_page(SvmgpuCore *c, uint64_t va)
{
    wr32(c, SVMGPU_REG_TLB_INV_CTX, 0);
    wr32(c, SVMGPU_REG_TLB_INV_FLAGS, 0);
    wr64(c, SVMGPU_REG_TLB_INV_START, va & ~4095ull);
    wr64(c, SVMGPU_REG_TLB_INV_SIZE, 4096);
    wr32(c, SVMGPU_REG_TLB_INV_SUBMIT, 1);
}

/* Service fault @k (record at ring slot): fix the page, or cancel. */
static void service(SvmgpuCore *c, Env *e, const Plan *p, Outcome *out,
                    const struct svmgpu_fault_record *f, unsigned k)
{
    uint8_t fix = p->fix[k];
    uint64_t page = f->va & ~4095ull;
    bool ok = false;

    if (fix < 60 && page >= DATA_VA && page < DATA_VA + DATA_PAGES * 4096) {
        unsigned i = (page - DATA_VA) / 4096;
        uint64_t pte_now;

        get(e, L1 + ((page >> 12) & 511) * 8, &pte_now, 8);
        if (!(pte_now & SVMGPU_PTE_VALID)) {
            /* map it; read-only first if the plan says so */
            pte(e, page, DATA_PA + i * 4096ull, true,
                p->data_mode[i] != PG_ABSENT_RO || (fix & 1));
            ok = true;
        } else if (!(pte_now & SVMGPU_PTE_WRITABLE) &&
                   f->access != SVMGPU_ACCESS_READ && (fix & 3) != 3) {
            pte(e, page, DATA_PA + i * 4096ull, true, true);
            ok = true;
        }
    } else if (fix < 60 && page == CODE_VA + 4096) {
        pte(e, page, CODE_PA + 4096, true, p->code_writable);
        ok = true;
    } else if (fix < 60 && page == CODE_VA && f->access != SVMGPU_ACCESS_READ) {
        pte(e, page, CODE_PA, true, true);
        ok = true;
    }
    if (ok && (fix & 4)) {
        /* the CPU rewrites a code word while the kernel is stalled */
        unsigned idx = (p->poke[k] >> 5) % (p->ninsns ? p->ninsns : 1);

        put64(e, CODE_PA + idx * 8ull, p->code[(p->poke[k] & 31) %
                                               (p->ninsns ? p->ninsns : 1)]);
    }
    wr32(c, SVMGPU_REG_FAULT_GET, k + 1);
    if (ok) {
        invalidate_page(c, page);
        svmgpu_core_run_sync(c);
        wr64(c, SVMGPU_REG_FAULT_REPLY, SVMGPU_FAULT_REPLY_REPLAY);
    } else {
        wr64(c, SVMGPU_REG_FAULT_REPLY,
             SVMGPU_FAULT_REPLY_CANCEL_VAL(f->queue, f->seq));
    }
    (void)out;
}

static void run_engine(const Plan *p, uint32_t engine, uint8_t *ram,
                       int fd, Outcome *out)
{
    SvmgpuCoreConfig cfg;
    struct svmgpu_cmd cmd;
    SvmgpuCore *c;
    Env e = { .ram = ram, .fd = fd };
    unsigned rounds;

    memset(out, 0, sizeof(*out));
    memset(ram, 0, RAM_SIZE);
    out->ram = ram;
    setup_memory(&e, p);
    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.num_queues = 1;
    cfg.tlb_sets = p->tlb_sets;
    cfg.tlb_ways = p->tlb_ways;
    cfg.fault_ring_entries = 32;
    cfg.map_window = p->map_window;
    cfg.engine = engine;
    c = svmgpu_core_new(&cfg, p->use_map ? &ops_map : &ops_dma, &e, NULL);
    if (!c) {
        abort();
    }
    wr64(c, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE);
    wr32(c, SVMGPU_REG_CTX_TABLE_ENTRIES, 4);
    wr64(c, SVMGPU_REG_FAULT_RING_BASE, FAULT_RING);
    wr32(c, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    wr32(c, SVMGPU_REG_CTX_ENABLE, 0);
    wr64(c, SVMGPU_REG_Q(0, SVMGPU_Q_BASE), RING);
    wr32(c, SVMGPU_REG_Q(0, SVMGPU_Q_SIZE), 16);
    wr64(c, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_ADDR), COMPL);
    wr32(c, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);

    memset(&cmd, 0, sizeof(cmd));
    cmd.hdr.opcode = SVMGPU_CMD_LAUNCH;
    cmd.hdr.seq = 1;
    cmd.launch.code_va = CODE_VA;
    cmd.launch.args_va = ARGS_VA;
    cmd.launch.grid_x = p->grid_x;
    cmd.launch.grid_y = p->grid_y;
    cmd.launch.grid_z = 1;
    cmd.launch.wg_size = p->wg_size;
    cmd.launch.budget = p->budget;
    memcpy(ram + (RING - RAM_BASE), &cmd, sizeof(cmd));
    wr32(c, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 1);

    for (rounds = 0; rounds < 4 * MAX_FAULTS; rounds++) {
        uint32_t put, get_idx;
        struct svmgpu_fault_record f;

        svmgpu_core_run_sync(c);
        put = rd(c, SVMGPU_REG_FAULT_PUT, 4);
        get_idx = rd(c, SVMGPU_REG_FAULT_GET, 4);
        if (put == get_idx) {
            break;
        }
        get(&e, FAULT_RING + (get_idx % 32) * 32ull, &f, sizeof(f));
        if (out->nfaults <= MAX_FAULTS) {
            out->faults[out->nfaults].va = f.va;
            out->faults[out->nfaults].access = f.access;
            out->faults[out->nfaults].reason = f.reason;
        }
        out->nfaults++;
        if (get_idx >= MAX_FAULTS) {
            wr32(c, SVMGPU_REG_FAULT_GET, get_idx + 1);
            wr64(c, SVMGPU_REG_FAULT_REPLY,
                 SVMGPU_FAULT_REPLY_CANCEL_VAL(f.queue, f.seq));
            continue;
        }
        service(c, &e, p, out, &f, get_idx);
    }
    out->instructions = rd(c, SVMGPU_REG_CNT_INSTRUCTIONS, 8);
    out->error_status = rd(c, SVMGPU_REG_ERROR_STATUS, 4);
    out->qstatus = rd(c, SVMGPU_REG_Q(0, SVMGPU_Q_STATUS), 4);
    out->err_code = rd(c, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE), 4);
    out->err_info = rd(c, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_INFO), 4);
    out->err_va = rd(c, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_VA), 8);
    out->err_seq = rd(c, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_SEQ), 8);
    svmgpu_core_free(c);
    if (e.maps) {
        fprintf(stderr, "isa-diff: %d map() calls without unmap()\n", e.maps);
        abort();
    }
}

static void diverged(const char *what, uint64_t ref, uint64_t fast)
{
    fprintf(stderr, "isa-diff: engines diverge: %s: reference 0x%llx, "
            "fast 0x%llx\n", what, (unsigned long long)ref,
            (unsigned long long)fast);
    abort();
}

static void compare(const Outcome *r, const Outcome *f)
{
    unsigned i;

    for (i = 0; i < r->nfaults && i < f->nfaults && i <= MAX_FAULTS; i++) {
        if (r->faults[i].va != f->faults[i].va ||
            r->faults[i].access != f->faults[i].access ||
            r->faults[i].reason != f->faults[i].reason) {
            unsigned j;

            for (j = 0; j < r->nfaults && j < f->nfaults && j <= MAX_FAULTS;
                 j++) {
                fprintf(stderr, "isa-diff: fault %u: reference 0x%llx %u/%u, "
                        "fast 0x%llx %u/%u\n", j,
                        (unsigned long long)r->faults[j].va,
                        r->faults[j].access, r->faults[j].reason,
                        (unsigned long long)f->faults[j].va,
                        f->faults[j].access, f->faults[j].reason);
            }
            diverged("fault va", r->faults[i].va, f->faults[i].va);
        }
    }
    if (r->nfaults != f->nfaults) {
        diverged("number of faults", r->nfaults, f->nfaults);
    }
    if (r->err_code != f->err_code) {
        diverged("error code", r->err_code, f->err_code);
    }
    if (r->err_va != f->err_va) {
        diverged("error va", r->err_va, f->err_va);
    }
    if (r->err_info != f->err_info) {
        diverged("error info", r->err_info, f->err_info);
    }
    if (r->err_seq != f->err_seq) {
        diverged("error seq", r->err_seq, f->err_seq);
    }
    if (r->qstatus != f->qstatus) {
        diverged("queue status", r->qstatus, f->qstatus);
    }
    if (r->error_status != f->error_status) {
        diverged("ERROR_STATUS", r->error_status, f->error_status);
    }
    if (r->instructions != f->instructions) {
        diverged("executed wave-instructions", r->instructions,
                 f->instructions);
    }
    for (i = 0; i < RAM_SIZE; i += 8) {
        uint64_t a, b;

        memcpy(&a, r->ram + i, 8);
        memcpy(&b, f->ram + i, 8);
        if (a != b) {
            uint64_t pa = RAM_BASE + i;

            if (pa >= DUMP_PA && pa < DUMP_PA + 0x10000) {
                fprintf(stderr, "isa-diff: global lane %llu, r%llu\n",
                        (unsigned long long)(pa - DUMP_PA) / 256,
                        (unsigned long long)((pa - DUMP_PA) % 256) / 8);
            }
            fprintf(stderr, "isa-diff: guest RAM at 0x%llx\n",
                    (unsigned long long)pa);
            diverged("memory", a, b);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *ram[2];
    static int fd[2];
    static Plan plan;
    Outcome ref, fast;
    unsigned i;

    for (i = 0; i < 2 && !ram[i]; i++) {
        fd[i] = memfd_create("isa-diff-ram", 0);
        if (fd[i] < 0 || ftruncate(fd[i], RAM_SIZE)) {
            abort();
        }
        ram[i] = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                      fd[i], 0);
        if (ram[i] == MAP_FAILED) {
            abort();
        }
    }
    gen_plan(&plan, data, size);
    run_engine(&plan, SVMGPU_ENGINE_REFERENCE, ram[0], fd[0], &ref);
    run_engine(&plan, SVMGPU_ENGINE_FAST, ram[1], fd[1], &fast);
    compare(&ref, &fast);
    if (getenv("ISA_DIFF_VERBOSE")) {
        printf("# %u insns, wg %u x %u x %u, budget %llu: error %u at 0x%llx, "
               "%u faults, %llu wave-instructions\n", plan.ninsns,
               plan.wg_size, plan.grid_x, plan.grid_y,
               (unsigned long long)plan.budget, ref.err_code,
               (unsigned long long)ref.err_va, ref.nfaults,
               (unsigned long long)ref.instructions);
        if (ref.err_code == SVMGPU_ERR_ILLEGAL_INSTRUCTION &&
            ref.err_va >= CODE_VA && ref.err_va < CODE_VA + 8192) {
            printf("# illegal: %016llx\n", (unsigned long long)
                   plan.code[(ref.err_va - CODE_VA) / 8]);
        }
    }
    return 0;
}

#ifdef SVMGPU_DIFF_MAIN
/*
 * Host test: isa-diff [-n COUNT] [FILE...]: replay FILEs, or COUNT inputs
 * from a fixed PRNG (default 400).  TAP output.
 */
int main(int argc, char **argv)
{
    unsigned count = 400, i, k;
    uint64_t x = 0x5eed5eed12345678ull;
    uint8_t buf[2048];

    if (argc > 2 && !strcmp(argv[1], "-n")) {
        count = (unsigned)atoi(argv[2]);
        argc -= 2;
        argv += 2;
    }
    printf("TAP version 13\n1..1\n");
    if (argc > 1) {
        for (i = 1; i < (unsigned)argc; i++) {
            FILE *f = fopen(argv[i], "rb");
            size_t n;

            if (!f) {
                printf("not ok 1 - cannot open %s\n", argv[i]);
                return 1;
            }
            n = fread(buf, 1, sizeof(buf), f);
            fclose(f);
            LLVMFuzzerTestOneInput(buf, n);
        }
        printf("ok 1 - %d inputs replayed, engines agree\n", argc - 1);
        return 0;
    }
    for (i = 0; i < count; i++) {
        size_t n;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        n = 64 + x % (sizeof(buf) - 64);
        for (k = 0; k < n; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[k] = x >> 24;
        }
        if (getenv("ISA_DIFF_SAVE")) {
            /* the input about to run, to replay it after a divergence */
            FILE *f = fopen(getenv("ISA_DIFF_SAVE"), "wb");

            if (f) {
                fwrite(buf, 1, n, f);
                fclose(f);
            }
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("ok 1 - %u random kernels, engines agree\n", count);
    return 0;
}
#endif
