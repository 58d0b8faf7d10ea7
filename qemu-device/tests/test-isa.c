/*
 * svmgpu core: the compute ISA — every instruction class, divergence and
 * reconvergence, loops, barriers across waves, special registers, memory
 * widths, atomics, and every way a kernel can fail.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>

#include "test-env.h"

#define I(op, rd, ra, rb, imm) SVMGPU_ISA_ENCODE(SVMGPU_OP_##op, rd, ra, rb, imm)
#define IMM 0xff
#define CODE    0x10000ull
#define ARGS    0x20000ull
#define OUT     0x30000ull      /* 64 KiB */

static void setup(TestDev *t)
{
    td_init(t);
    ctx_create(t, 0);
    queue_setup(t, 0, 0, 64);
    map_range(t, 0, CODE, 0x4000, 0);
    map_range(t, 0, ARGS, 0x1000, SVMGPU_PTE_WRITABLE);
    map_range(t, 0, OUT, 0x10000, SVMGPU_PTE_WRITABLE);
}

static uint64_t *va64(TestDev *t, uint64_t va)
{
    return va_ptr(t, 0, va);
}

/* Load a program, launch it, return the completion error code. */
static uint32_t launch(TestDev *t, const uint64_t *prog, size_t n,
                       uint32_t gx, uint32_t gy, uint32_t gz, uint32_t wg,
                       uint64_t budget)
{
    struct svmgpu_cmd c;
    size_t i;

    for (i = 0; i < n; i++) {
        *va64(t, CODE + i * 8) = prog[i];
    }
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_LAUNCH;
    c.launch.code_va = CODE;
    c.launch.args_va = ARGS;
    c.launch.grid_x = gx;
    c.launch.grid_y = gy;
    c.launch.grid_z = gz;
    c.launch.wg_size = wg;
    c.launch.budget = budget;
    submit(t, 0, &c);
    if (compl(t, 0)->seq != c.hdr.seq) {
        return ~0u;
    }
    if (compl(t, 0)->err_code) {
        clear_error(t, 0);
    }
    return compl(t, 0)->err_seq == c.hdr.seq ? compl(t, 0)->err_code : 0;
}

#define LAUNCH(t, prog, gx, gy, gz, wg) \
    launch(t, prog, sizeof(prog) / sizeof(prog[0]), gx, gy, gz, wg, 0)

/* r3 = args[0] OP args[1] -> args[2], one lane. */
static uint64_t binop(TestDev *t, uint8_t op, uint64_t a, uint64_t b)
{
    uint64_t prog[] = {
        I(S2R, 9, 0, 0, SVMGPU_SR_ARGS),
        I(LD64, 1, 9, 0, 0),
        I(LD64, 2, 9, 0, 8),
        SVMGPU_ISA_ENCODE(op, 3, 1, 2, 0),
        I(ST64, 0, 9, 3, 16),
        I(EXIT, 0, 0, 0, 0),
    };

    va64(t, ARGS)[0] = a;
    va64(t, ARGS)[1] = b;
    va64(t, ARGS)[2] = 0xbadbadbadull;
    if (LAUNCH(t, prog, 1, 1, 1, 1)) {
        return 0xdeadull;
    }
    return va64(t, ARGS)[2];
}

static uint64_t f2b(float f)
{
    uint32_t u;

    memcpy(&u, &f, 4);
    return u;
}

static float u2f_bits(uint32_t u)
{
    float f;

    memcpy(&f, &u, 4);
    return f;
}

static uint64_t d2b(double d)
{
    uint64_t u;

    memcpy(&u, &d, 8);
    return u;
}

/*
 * A synchronous device whose kernels run on the reference engine
 * (@reference) or the fast one, with context 0 and its queue 0 set up.
 */
static void td_init_engine(TestDev *t, bool reference)
{
    SvmgpuCoreConfig cfg;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.engine = reference ? SVMGPU_ENGINE_REFERENCE : SVMGPU_ENGINE_FAST;
    td_init_cfg(t, &cfg);
    ctx_create(t, 0);
    queue_setup(t, 0, 0, 64);
}

/*
 * A kernel's stores into 40 pages, every other RAM page, are reported as
 * those pages (qemu-device/README.md, "Written memory"), on both engines:
 * the gangs' contiguous stores and the reference's lane by lane.  Each
 * lane also adds 1 to a counter in another page, so the writes take turns
 * between two places: the report (its runs go back to the waiting one)
 * stays a few calls, not one per store.
 */
TEST(kernel_stores_report_the_pages_written)
{
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_GLOBAL_ID),
        I(S2R, 9, 0, 0, SVMGPU_SR_ARGS),
        I(SHL, 2, 1, IMM, 3),
        I(ADD, 2, 2, IMM, 0x100000),
        I(ST64, 0, 2, 1, 0),
        I(MOV, 3, 0, IMM, 1),
        I(ATOM64, 4, 9, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)),
        I(EXIT, 0, 0, 0, 0),
    };
    const uint64_t pg0 = 0x800;         /* RAM pages 0x800.. are unused */
    unsigned e, k;
    uint64_t pg;

    for (e = 0; e < 2; e++) {
        TestDev t;

        td_init_engine(&t, e);
        map_range(&t, 0, CODE, 0x4000, 0);
        map_range(&t, 0, ARGS, 0x1000, SVMGPU_PTE_WRITABLE);
        for (k = 0; k < 40; k++) {
            map_leaf(&t, 0, 0x100000 + k * 0x1000ull,
                     RAM_BASE + (pg0 + k * 2) * 0x1000, 1, SVMGPU_PTE_WRITABLE);
        }
        *va64(&t, ARGS) = 0;
        ASSERT_EQ(LAUNCH(&t, prog, 40 * 512 / 256, 1, 1, 256), 0);
        for (k = 0; k < 40 * 512; k++) {
            ASSERT_EQ(*va64(&t, 0x100000 + k * 8ull), k);
        }
        ASSERT_EQ(*va64(&t, ARGS), 40 * 512);
        for (pg = pg0 - 4; pg < pg0 + 40 * 2 + 4; pg++) {
            ASSERT_EQ(t.written[pg], pg >= pg0 && (pg - pg0) % 2 == 0 &&
                      pg < pg0 + 40 * 2);
        }
        ASSERT_EQ(t.written[((uint8_t *)va64(&t, ARGS) - t.ram) >> 12], 1);
        TH_LOG("%s engine: %u dirty() calls", e ? "reference" : "fast",
               atomic_load(&t.dirties));
        ASSERT_LT(atomic_load(&t.dirties), 100);  /* 160 without the swap */
        td_fini(&t);
    }
}

TEST(integer_ops)
{
    static const struct { uint8_t op; uint64_t a, b, r; } cases[] = {
        { SVMGPU_OP_ADD, ~0ull, 2, 1 },
        { SVMGPU_OP_SUB, 1, 2, ~0ull },
        { SVMGPU_OP_MUL, 1ull << 40, 1ull << 30, 0 },
        { SVMGPU_OP_MUL, 7, -3ll, -21ll },
        { SVMGPU_OP_MULHU, 1ull << 40, 1ull << 30, 1ull << 6 },
        { SVMGPU_OP_DIVU, 100, 7, 14 },
        { SVMGPU_OP_DIVU, 100, 0, ~0ull },
        { SVMGPU_OP_DIVS, -100ll, 7, -14ll },
        { SVMGPU_OP_DIVS, INT64_MIN, -1ll, INT64_MIN },
        { SVMGPU_OP_DIVS, 5, 0, ~0ull },
        { SVMGPU_OP_REMU, 100, 7, 2 },
        { SVMGPU_OP_REMU, 100, 0, 100 },
        { SVMGPU_OP_REMS, -100ll, 7, -2ll },
        { SVMGPU_OP_REMS, INT64_MIN, -1ll, 0 },
        { SVMGPU_OP_AND, 0xff00, 0x0ff0, 0x0f00 },
        { SVMGPU_OP_OR, 0xff00, 0x0ff0, 0xfff0 },
        { SVMGPU_OP_XOR, 0xff00, 0x0ff0, 0xf0f0 },
        { SVMGPU_OP_SHL, 1, 65, 2 },
        { SVMGPU_OP_SHR, 1ull << 63, 63, 1 },
        { SVMGPU_OP_SAR, 1ull << 63, 63, ~0ull },
        { SVMGPU_OP_MINU, -1ll, 1, 1 },
        { SVMGPU_OP_MAXU, -1ll, 1, ~0ull },
        { SVMGPU_OP_MINS, -1ll, 1, ~0ull },
        { SVMGPU_OP_MAXS, -1ll, 1, 1 },
        { SVMGPU_OP_SEQ, 5, 5, 1 },
        { SVMGPU_OP_SNE, 5, 5, 0 },
        { SVMGPU_OP_SLTU, -1ll, 1, 0 },
        { SVMGPU_OP_SLTS, -1ll, 1, 1 },
        { SVMGPU_OP_SLEU, 3, 3, 1 },
        { SVMGPU_OP_SLES, 4, 3, 0 },
    };
    TestDev t;
    unsigned i;

    setup(&t);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t r = binop(&t, cases[i].op, cases[i].a, cases[i].b);

        if (r != cases[i].r) {
            TH_LOG("op 0x%x a 0x%llx b 0x%llx", cases[i].op,
                   (unsigned long long)cases[i].a,
                   (unsigned long long)cases[i].b);
        }
        ASSERT_EQ(r, cases[i].r);
    }
    td_fini(&t);
}

TEST(float_ops)
{
    TestDev t;

    setup(&t);
    ASSERT_EQ(binop(&t, SVMGPU_OP_FADD, f2b(1.5f), f2b(2.25f)), f2b(3.75f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FSUB, f2b(1.5f), f2b(2.25f)), f2b(-0.75f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FMUL, f2b(1.5f), f2b(-2.0f)), f2b(-3.0f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FDIV, f2b(1.0f), f2b(4.0f)), f2b(0.25f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FDIV, f2b(1.0f), f2b(0.0f)), f2b(INFINITY));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FMIN, f2b(NAN), f2b(2.0f)), f2b(2.0f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FMAX, f2b(-1.0f), f2b(2.0f)), f2b(2.0f));
    /* of two zeros -0 is the smaller, in either order */
    ASSERT_EQ(binop(&t, SVMGPU_OP_FMIN, f2b(0.0f), f2b(-0.0f)), f2b(-0.0f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FMIN, f2b(-0.0f), f2b(0.0f)), f2b(-0.0f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FMAX, f2b(0.0f), f2b(-0.0f)), f2b(0.0f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FMAX, f2b(-0.0f), f2b(0.0f)), f2b(0.0f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FSLT, f2b(-1.0f), f2b(2.0f)), 1);
    ASSERT_EQ(binop(&t, SVMGPU_OP_FSEQ, f2b(NAN), f2b(NAN)), 0);
    ASSERT_EQ(binop(&t, SVMGPU_OP_FSLE, f2b(2.0f), f2b(2.0f)), 1);
    ASSERT_EQ(binop(&t, SVMGPU_OP_FSQRT, f2b(9.0f), 0), f2b(3.0f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_I2F, -7ll, 0), f2b(-7.0f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_F2I, f2b(-7.9f), 0), (uint64_t)-7ll);
    ASSERT_EQ(binop(&t, SVMGPU_OP_F2I, f2b(1e30f), 0), (uint64_t)INT64_MAX);
    ASSERT_EQ(binop(&t, SVMGPU_OP_F2I, f2b(-1e30f), 0), (uint64_t)INT64_MIN);
    ASSERT_EQ(binop(&t, SVMGPU_OP_F2I, f2b(NAN), 0), 0);
    /* the high half of an f32 operand is ignored, of a result zero */
    ASSERT_EQ(binop(&t, SVMGPU_OP_FADD, f2b(1.0f) | 0xffffffff00000000ull,
                    f2b(1.0f)), f2b(2.0f));

    ASSERT_EQ(binop(&t, SVMGPU_OP_DADD, d2b(0.1), d2b(0.2)), d2b(0.1 + 0.2));
    ASSERT_EQ(binop(&t, SVMGPU_OP_DSUB, d2b(1.0), d2b(3.0)), d2b(-2.0));
    ASSERT_EQ(binop(&t, SVMGPU_OP_DMUL, d2b(1e200), d2b(1e200)), d2b(INFINITY));
    ASSERT_EQ(binop(&t, SVMGPU_OP_DDIV, d2b(1.0), d2b(3.0)), d2b(1.0 / 3.0));
    ASSERT_EQ(binop(&t, SVMGPU_OP_DMIN, d2b(-0.5), d2b(2.0)), d2b(-0.5));
    ASSERT_EQ(binop(&t, SVMGPU_OP_DMAX, d2b(-0.5), d2b(NAN)), d2b(-0.5));
    ASSERT_EQ(binop(&t, SVMGPU_OP_DMIN, d2b(0.0), d2b(-0.0)), d2b(-0.0));
    ASSERT_EQ(binop(&t, SVMGPU_OP_DMIN, d2b(-0.0), d2b(0.0)), d2b(-0.0));
    ASSERT_EQ(binop(&t, SVMGPU_OP_DMAX, d2b(0.0), d2b(-0.0)), d2b(0.0));
    ASSERT_EQ(binop(&t, SVMGPU_OP_DMAX, d2b(-0.0), d2b(0.0)), d2b(0.0));
    ASSERT_EQ(binop(&t, SVMGPU_OP_DSLT, d2b(3.0), d2b(2.0)), 0);
    ASSERT_EQ(binop(&t, SVMGPU_OP_DSEQ, d2b(2.0), d2b(2.0)), 1);
    ASSERT_EQ(binop(&t, SVMGPU_OP_DSLE, d2b(1.0), d2b(2.0)), 1);
    ASSERT_EQ(binop(&t, SVMGPU_OP_DSQRT, d2b(2.0), 0), d2b(sqrt(2.0)));
    ASSERT_EQ(binop(&t, SVMGPU_OP_I2D, 1ull << 53, 0), d2b(9007199254740992.0));
    ASSERT_EQ(binop(&t, SVMGPU_OP_D2I, d2b(-2.5), 0), (uint64_t)-2ll);
    ASSERT_EQ(binop(&t, SVMGPU_OP_D2I, d2b(1e300), 0), (uint64_t)INT64_MAX);
    ASSERT_EQ(binop(&t, SVMGPU_OP_F2D, f2b(0.5f), 0), d2b(0.5));
    ASSERT_EQ(binop(&t, SVMGPU_OP_D2F, d2b(0.25), 0), f2b(0.25f));
    td_fini(&t);
}

/* r3 = args[2]; OP r3, r1 (args[0]), args[1] or imm -> args[3], one lane. */
static uint64_t fmaop(TestDev *t, uint8_t op, uint64_t a, uint64_t b,
                      uint64_t c, bool b_imm)
{
    uint64_t prog[] = {
        I(S2R, 9, 0, 0, SVMGPU_SR_ARGS),
        I(LD64, 1, 9, 0, 0),
        I(LD64, 2, 9, 0, 8),
        I(LD64, 3, 9, 0, 16),
        b_imm ? SVMGPU_ISA_ENCODE(op, 3, 1, IMM, (int32_t)b) :
                SVMGPU_ISA_ENCODE(op, 3, 1, 2, 0),
        I(ST64, 0, 9, 3, 24),
        I(EXIT, 0, 0, 0, 0),
    };

    va64(t, ARGS)[0] = a;
    va64(t, ARGS)[1] = b;
    va64(t, ARGS)[2] = c;
    va64(t, ARGS)[3] = 0xbadbadbadull;
    if (LAUNCH(t, prog, 1, 1, 1, 1)) {
        return 0xdeadull;
    }
    return va64(t, ARGS)[3];
}

/*
 * FFMA/DFMA: rd = ra * B + rd with one rounding.  (1 + 2^-12)^2 is
 * 1 + 2^-11 + 2^-24, which f32 rounds to 1 + 2^-11: minus that, a separate
 * FMUL and FADD give 0 and the fused operation 2^-24.  The same in f64
 * with 2^-27.  The immediate form takes f32 bits, as FMUL's does.
 */
TEST(fused_multiply_add)
{
    const float x = 1.0f + 0x1p-12f, y = -(1.0f + 0x1p-11f);
    const double dx = 1.0 + 0x1p-27, dy = -(1.0 + 0x1p-26);
    TestDev t;

    setup(&t);
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_FFMA, f2b(1.5f), f2b(-2.0f), f2b(0.5f),
                    false), f2b(-2.5f));
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_FFMA, f2b(x), f2b(x), f2b(y), false),
              f2b(0x1p-24f));
    ASSERT_EQ(binop(&t, SVMGPU_OP_FADD,
                    binop(&t, SVMGPU_OP_FMUL, f2b(x), f2b(x)), f2b(y)), 0);
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_FFMA, f2b(3.0f), f2b(-0.5f), f2b(1.0f),
                    true), f2b(-0.5f));
    /* high halves of f32 operands are ignored, the result's is zero */
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_FFMA, f2b(2.0f) | 0xdead000000000000ull,
                    f2b(3.0f), f2b(1.0f) | 0xffffffff00000000ull, false),
              f2b(7.0f));
    /* NaNs: the first NaN of ra, B, rd quieted; from numbers the default */
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_FFMA, f2b(INFINITY), f2b(0.0f), f2b(1.0f),
                    false), 0xffc00000u);
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_FFMA, 0x7f800001, 0x7fc00002, 0x7fc00003,
                    false), 0x7fc00001);
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_FFMA, f2b(1.0f), 0xffc00002, 0x7fc00003,
                    false), 0xffc00002);
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_FFMA, f2b(INFINITY), f2b(0.0f), 0x7fc00003,
                    false), 0x7fc00003);
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_DFMA, d2b(1.0), 0x7ff0000000000005ull,
                    0x7ff8000000000006ull, false), 0x7ff8000000000005ull);
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_DFMA, d2b(dx), d2b(dx), d2b(dy), false),
              d2b(0x1p-54));
    ASSERT_EQ(fmaop(&t, SVMGPU_OP_DFMA, d2b(0.5), d2b(4.0), d2b(-1.0), false),
              d2b(1.0));
    td_fini(&t);
}

/*
 * FFMA/DFMA as docs/isa.md defines them, on register bits: the first NaN
 * operand of ra, B, rd quieted; else C's fmaf/fma, whose NaN (from inf * 0
 * or inf - inf) is the default NaN.
 */
static uint64_t want_fma(uint8_t op, uint64_t a, uint64_t b, uint64_t c)
{
    const uint64_t x[3] = { a, b, c };
    unsigned i;

    if (op == SVMGPU_OP_FFMA) {
        float f[3], r;

        for (i = 0; i < 3; i++) {
            uint32_t u = (uint32_t)x[i];

            if (isnan(u2f_bits(u))) {
                return u | 0x00400000u;
            }
            f[i] = u2f_bits(u);
        }
        r = fmaf(f[0], f[1], f[2]);
        return isnan(r) ? 0xffc00000u : f2b(r);
    } else {
        double d[3], r;
        uint64_t u;

        for (i = 0; i < 3; i++) {
            memcpy(&d[i], &x[i], 8);
            if (isnan(d[i])) {
                return x[i] | (1ull << 51);
            }
        }
        r = fma(d[0], d[1], d[2]);
        if (isnan(r)) {
            return 0xfff8000000000000ull;
        }
        memcpy(&u, &r, 8);
        return u;
    }
}

/*
 * A whole workgroup of FFMA and DFMA (the fast engine's vector path),
 * including rd == ra, NaN operands (payloads), infinities and zeros, against
 * C's fmaf/fma lane by lane.
 */
TEST(fused_multiply_add_in_every_lane)
{
    enum { N = 256 };
    static const uint64_t f32s[] = {
        0x3f800800, 0xbf801000, 0x7fc01234, 0x7f800001, 0xffc00000,
        0x7f800000, 0xff800000, 0x00000000, 0x80000000, 0x00000001,
        0x7f7fffff, 0x3eaaaaab, 0xc0490fdb,
    };
    static const uint64_t f64s[] = {
        0x3ff0000008000000ull, 0xbff0000010000000ull, 0x7ff8000000001234ull,
        0x7ff0000000000001ull, 0x7ff0000000000000ull, 0x0000000000000000ull,
        0x8000000000000001ull, 0x7fefffffffffffffull, 0x3fd5555555555555ull,
    };
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_GLOBAL_ID),
        I(SHL, 1, 1, IMM, 3),
        I(MOVI, 9, 0, 0, OUT),
        I(ADD, 9, 9, 1, 0),
        I(LD64, 2, 9, 0, 0),            /* a */
        I(LD64, 3, 9, 0, N * 8),        /* b */
        I(LD64, 4, 9, 0, 2 * N * 8),    /* c */
        I(MOV, 5, 0, 4, 0),
        I(MOV, 6, 0, 2, 0),
        I(FFMA, 5, 2, 3, 0),            /* c + a * b */
        I(FFMA, 6, 6, 3, 0),            /* a + a * b: rd == ra */
        I(ST64, 0, 9, 5, 3 * N * 8),
        I(ST64, 0, 9, 6, 4 * N * 8),
        I(MOV, 5, 0, 4, 0),
        I(DFMA, 5, 2, 3, 0),
        I(ST64, 0, 9, 5, 5 * N * 8),
        I(EXIT, 0, 0, 0, 0),
    };
    uint64_t *in, *out;
    TestDev t;
    unsigned i;

    setup(&t);
    in = va64(&t, OUT);
    out = in + 3 * N;
    for (i = 0; i < N; i++) {
        in[i] = f32s[i % 13] | (uint64_t)f64s[(i / 13) % 9] << 32;
        in[N + i] = f32s[(i * 7 + 3) % 13];
        in[2 * N + i] = f32s[(i * 5 + 1) % 13];
        if (i % 2) {
            in[N + i] = f64s[(i * 3) % 9];
            in[2 * N + i] = f64s[(i * 5 + 2) % 9];
        }
    }
    ASSERT_EQ(LAUNCH(&t, prog, 1, 1, 1, N), 0);
    for (i = 0; i < N; i++) {
        ASSERT_EQ(out[i], want_fma(SVMGPU_OP_FFMA, in[i], in[N + i],
                                   in[2 * N + i]));
        ASSERT_EQ(out[N + i], want_fma(SVMGPU_OP_FFMA, in[i], in[N + i], in[i]));
        ASSERT_EQ(out[2 * N + i],
                  want_fma(SVMGPU_OP_DFMA, in[i], in[N + i], in[2 * N + i]));
    }
    td_fini(&t);
}

/*
 * The fast engine keeps a value loaded from one address by every lane (or
 * set by MOVI) as one value, and its floating-point operations read it
 * without writing a row (SGEMM's A element, saxpy's a): FFMA, DFMA and FMUL
 * with such an ra, in every lane and behind a branch that leaves half the
 * lanes out, with a NaN (payload kept), an infinity, a zero and numbers as
 * that value.
 */
TEST(uniform_multiplier_in_every_lane)
{
    enum { N = 256 };
    static const uint64_t uni[] = {
        0x3fc00000, 0x7f800001, 0xffc01234, 0x7f800000, 0x80000000,
        0x3f800800, 0x7ff0000000000005ull, 0x3ff0000008000000ull,
        0x00000000, 0x8000000000000000ull,
    };
    static const uint64_t vals[] = {
        0x3f800800, 0xbf801000, 0x7fc01234, 0x7f800001, 0xffc00000,
        0x7f800000, 0x00000000, 0x3eaaaaab, 0xc0490fdb,
        0x3ff0000008000000ull, 0xbff0000010000000ull, 0x7ff8000000001234ull,
        0x7ff0000000000000ull, 0x8000000000000001ull, 0x80000000,
        0x8000000000000000ull,
    };
    static const uint8_t minmax[] = {
        SVMGPU_OP_FMIN, SVMGPU_OP_FMAX, SVMGPU_OP_DMIN, SVMGPU_OP_DMAX,
    };
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_GLOBAL_ID),
        I(SHL, 1, 1, IMM, 3),
        I(MOVI, 9, 0, 0, OUT),
        I(ADD, 9, 9, 1, 0),
        I(S2R, 8, 0, 0, SVMGPU_SR_ARGS),
        I(LD64, 2, 8, 0, 0),            /* a: one address, every lane */
        I(LD64, 3, 9, 0, 0),            /* b */
        I(LD64, 4, 9, 0, N * 8),        /* c */
        I(MOV, 5, 0, 4, 0),
        I(FFMA, 5, 2, 3, 0),
        I(ST64, 0, 9, 5, 2 * N * 8),
        I(MOV, 5, 0, 4, 0),
        I(DFMA, 5, 2, 3, 0),
        I(ST64, 0, 9, 5, 3 * N * 8),
        I(FMUL, 5, 2, 3, 0),
        I(ST64, 0, 9, 5, 4 * N * 8),
        I(MOV, 5, 0, 4, 0),
        I(FFMA, 5, 2, IMM, 0x40400000), /* c + a * 3.0f */
        I(ST64, 0, 9, 5, 5 * N * 8),
        I(FMIN, 5, 2, 3, 0),
        I(ST64, 0, 9, 5, 7 * N * 8),
        I(FMAX, 5, 2, 3, 0),
        I(ST64, 0, 9, 5, 8 * N * 8),
        I(DMIN, 5, 2, 3, 0),
        I(ST64, 0, 9, 5, 9 * N * 8),
        I(DMAX, 5, 2, 3, 0),
        I(ST64, 0, 9, 5, 10 * N * 8),
        I(S2R, 6, 0, 0, SVMGPU_SR_LANE_ID),
        I(AND, 6, 6, IMM, 1),
        I(MOV, 5, 0, 4, 0),
        I(IF, 0, 6, 0, 0),              /* odd lanes */
        I(FFMA, 5, 2, 3, 0),
        I(ENDIF, 0, 0, 0, 0),
        I(ST64, 0, 9, 5, 6 * N * 8),
        I(EXIT, 0, 0, 0, 0),
    };
    uint64_t *in, *out, a;
    TestDev t;
    unsigned i, u;

    setup(&t);
    in = va64(&t, OUT);
    out = in + 2 * N;
    for (i = 0; i < N; i++) {
        in[i] = vals[i % 16];
        in[N + i] = vals[(i * 5 + 3) % 16];
    }
    for (u = 0; u < sizeof(uni) / sizeof(uni[0]); u++) {
        a = uni[u];
        va64(&t, ARGS)[0] = a;
        ASSERT_EQ(LAUNCH(&t, prog, 1, 1, 1, N), 0);
        for (i = 0; i < N; i++) {
            const uint64_t b = in[i], c = in[N + i];
            const uint64_t ffma = want_fma(SVMGPU_OP_FFMA, a, b, c);

            ASSERT_EQ(out[i], ffma);
            ASSERT_EQ(out[N + i], want_fma(SVMGPU_OP_DFMA, a, b, c));
            ASSERT_EQ(out[3 * N + i],
                      want_fma(SVMGPU_OP_FFMA, a, 0x40400000, c));
            ASSERT_EQ(out[4 * N + i], i % 2 ? ffma : c);
        }
        /*
         * FMUL and the min/max: as one lane computes them (FMUL's NaN is
         * the host's; of two zeros -0 is the smaller)
         */
        for (i = 0; i < N; i += 37) {
            const uint64_t b = in[i];

            ASSERT_EQ(binop(&t, SVMGPU_OP_FMUL, a, b), out[2 * N + i]);
        }
        for (i = 0; i < 16; i++) {
            const uint64_t b = in[i];
            unsigned k;

            for (k = 0; k < 4; k++) {
                ASSERT_EQ(binop(&t, minmax[k], a, b), out[(5 + k) * N + i]);
            }
        }
    }
    td_fini(&t);
}

TEST(moves_immediates_and_special_registers)
{
    TestDev t;
    /* per lane: out[gid*8 + k] = sreg k */
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_GLOBAL_ID),
        I(SHL, 2, 1, IMM, 6),
        I(ADD, 2, 2, IMM, OUT),
        I(S2R, 3, 0, 0, SVMGPU_SR_LANE_ID),     I(ST64, 0, 2, 3, 0),
        I(S2R, 3, 0, 0, SVMGPU_SR_WG_ID_X),     I(ST64, 0, 2, 3, 8),
        I(S2R, 3, 0, 0, SVMGPU_SR_WG_ID_Y),     I(ST64, 0, 2, 3, 16),
        I(S2R, 3, 0, 0, SVMGPU_SR_WG_ID_Z),     I(ST64, 0, 2, 3, 24),
        I(S2R, 3, 0, 0, SVMGPU_SR_WAVE_ID),     I(ST32, 0, 2, 3, 32),
        I(S2R, 3, 0, 0, SVMGPU_SR_WG_SIZE),     I(ST32, 0, 2, 3, 36),
        I(S2R, 3, 0, 0, SVMGPU_SR_GRID_Y),      I(ST8, 0, 2, 3, 40),
        I(S2R, 3, 0, 0, SVMGPU_SR_GRID_Z),      I(ST8, 0, 2, 3, 41),
        I(S2R, 3, 0, 0, SVMGPU_SR_GRID_X),      I(ST16, 0, 2, 3, 42),
        I(S2R, 3, 0, 0, SVMGPU_SR_QUEUE),       I(ST16, 0, 2, 3, 44),
        I(MOVI, 4, 0, 0, -2),                   /* sign-extended */
        I(MOVHI, 4, 0, 0, 0x12345678),
        I(MOV, 5, 0, 4, 0),
        I(MOV, 6, 0, IMM, 3),
        I(SEL, 7, 5, 6, 3),                     /* r3 (queue = 0) -> r6 */
        I(ST64, 0, 2, 7, 48),
        I(ST64, 0, 2, 5, 56),
        I(EXIT, 0, 0, 0, 0),
    };
    unsigned x, y, z, l;

    setup(&t);
    ASSERT_EQ(LAUNCH(&t, prog, 2, 3, 2, 40), 0);
    for (z = 0; z < 2; z++) {
        for (y = 0; y < 3; y++) {
            for (x = 0; x < 2; x++) {
                for (l = 0; l < 40; l++) {
                    uint64_t gid = ((z * 3 + y) * 2 + x) * 40 + l;
                    uint64_t *o = va64(&t, OUT + gid * 64);

                    ASSERT_EQ(o[0], l);
                    ASSERT_EQ(o[1], x);
                    ASSERT_EQ(o[2], y);
                    ASSERT_EQ(o[3], z);
                    ASSERT_EQ(o[4], (40ull << 32) | (l / 32));
                    ASSERT_EQ(o[5], 0x2ull << 16 | 0x2 << 8 | 3);
                    ASSERT_EQ(o[6], 3);
                    ASSERT_EQ(o[7], 0x12345678fffffffeull);
                }
            }
        }
    }
    td_fini(&t);
}

TEST(loads_stores_every_width)
{
    TestDev t;
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_ARGS),
        I(LD8, 2, 1, 0, 7),  I(ST64, 0, 1, 2, 64),
        I(LD16, 2, 1, 0, 6), I(ST64, 0, 1, 2, 72),
        I(LD32, 2, 1, 0, 4), I(ST64, 0, 1, 2, 80),
        I(LD64, 2, 1, 0, 0), I(ST64, 0, 1, 2, 88),
        I(LDS8, 2, 1, 0, 7), I(ST64, 0, 1, 2, 96),
        I(LDS16, 2, 1, 0, 6), I(ST64, 0, 1, 2, 104),
        I(LDS32, 2, 1, 0, 4), I(ST64, 0, 1, 2, 112),
        I(MOVI, 3, 0, 0, -1),
        I(ST8, 0, 1, 3, 120), I(ST16, 0, 1, 3, 122), I(ST32, 0, 1, 3, 124),
        I(MOVI, 4, 0, 0, 136),
        I(ADD, 4, 4, 1, 0),
        I(ST64, 0, 4, 3, -8),                    /* negative offset */
        I(EXIT, 0, 0, 0, 0),
    };
    uint64_t *a;

    setup(&t);
    a = va64(&t, ARGS);
    a[0] = 0x8182838485868788ull;
    ASSERT_EQ(LAUNCH(&t, prog, 1, 1, 1, 1), 0);
    ASSERT_EQ(a[8], 0x81);
    ASSERT_EQ(a[9], 0x8182);
    ASSERT_EQ(a[10], 0x81828384);
    ASSERT_EQ(a[11], 0x8182838485868788ull);
    ASSERT_EQ(a[12], 0xffffffffffffff81ull);
    ASSERT_EQ(a[13], 0xffffffffffff8182ull);
    ASSERT_EQ(a[14], 0xffffffff81828384ull);
    ASSERT_EQ(a[15], 0xffffffffffff00ffull);
    ASSERT_EQ(a[16], ~0ull);
    td_fini(&t);
}

TEST(atomics_from_many_lanes)
{
    TestDev t;
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_ARGS),
        I(S2R, 2, 0, 0, SVMGPU_SR_GLOBAL_ID),
        I(MOVI, 3, 0, 0, 1),
        I(ATOM64, 4, 1, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)),
        I(ADD, 5, 1, IMM, 8),
        I(ATOM32, 6, 5, 2, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_UMAX, 0)),
        I(ADD, 5, 1, IMM, 16),
        I(ATOM64, 6, 5, 2, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_SMIN, 0)),
        /* CAS: only the lane that sees 0 installs its id+1 */
        I(ADD, 5, 1, IMM, 24),
        I(ADD, 7, 2, IMM, 1),
        I(MOVI, 8, 0, 0, 0),
        I(ATOM64, 9, 5, 7, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_CMPXCHG, 8)),
        I(SEQ, 10, 9, IMM, 0),
        I(ADD, 5, 1, IMM, 32),
        I(ATOM64, 11, 5, 10, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)),
        I(ADD, 5, 1, IMM, 40),
        I(ATOM64, 11, 5, 2, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_XCHG, 0)),
        I(EXIT, 0, 0, 0, 0),
    };
    uint64_t *a;

    setup(&t);
    a = va64(&t, ARGS);
    a[2] = 1000;
    ASSERT_EQ(LAUNCH(&t, prog, 3, 1, 1, 100), 0);
    ASSERT_EQ(a[0], 300);
    ASSERT_EQ(a[1], 299);
    ASSERT_EQ(a[2], 0);
    ASSERT_EQ(a[3], 1);          /* lane 0 went first */
    ASSERT_EQ(a[4], 1);          /* exactly one CAS won */
    ASSERT_LT(a[5], 300);
    td_fini(&t);
}

/*
 * Every instruction fetch and every lane access is one TLB lookup (hit or
 * miss), whether the engine reuses its copy of the entry or not; the
 * results are the same with and without the map() fast path.
 */
TEST(tlb_counts_every_access)
{
    static const struct {
        const SvmgpuCoreOps *ops;
        uint64_t map_window;
    } envs[] = {
        { &td_ops, 64ull << 20 },
        { &td_ops, 0 },             /* map only what is accessed */
        { &td_ops_nomap, 0 },
    };
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_ARGS),
        I(S2R, 2, 0, 0, SVMGPU_SR_LANE_ID),
        I(SHL, 3, 2, IMM, 3),
        I(ADD, 3, 3, 1, 0),
        I(LD64, 4, 3, 0, 0x808),        /* first touch mid-page */
        I(ADD, 4, 4, 2, 0),
        I(ST64, 0, 3, 4, 0x1008),       /* OUT page */
        I(EXIT, 0, 0, 0, 0),
    };
    unsigned e, i;

    for (e = 0; e < 3; e++) {
        SvmgpuCoreConfig cfg;
        TestDev t;
        uint64_t before, after, *in, *out;

        svmgpu_core_default_config(&cfg);
        cfg.sync = true;
        cfg.map_window = envs[e].map_window;
        td_init_ops(&t, &cfg, envs[e].ops);
        ctx_create(&t, 0);
        queue_setup(&t, 0, 0, 64);
        map_range(&t, 0, CODE, 0x1000, 0);
        map_range(&t, 0, ARGS, 0x3000, SVMGPU_PTE_WRITABLE);
        in = va64(&t, ARGS + 0x808);
        out = va64(&t, ARGS + 0x1008);
        for (i = 0; i < 32; i++) {
            in[i] = 100 * i;
        }
        before = rd(&t, SVMGPU_REG_CNT_TLB_HITS) +
                 rd(&t, SVMGPU_REG_CNT_TLB_MISSES);
        ASSERT_EQ(LAUNCH(&t, prog, 1, 1, 1, 32), 0);
        after = rd(&t, SVMGPU_REG_CNT_TLB_HITS) +
                rd(&t, SVMGPU_REG_CNT_TLB_MISSES);
        ASSERT_EQ(after - before, 8 + 32 + 32);
        for (i = 0; i < 32; i++) {
            ASSERT_EQ(out[i], 101 * i);
        }
        td_fini(&t);
    }
}

/* Nested IF/ELSE with divergent lanes, then reconvergence. */
TEST(divergence_and_reconvergence)
{
    TestDev t;
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_LANE_ID),
        I(SHL, 2, 1, IMM, 3),
        I(ADD, 2, 2, IMM, OUT),
        I(AND, 3, 1, IMM, 1),               /* odd */
        I(AND, 4, 1, IMM, 2),               /* bit 1 */
        I(MOVI, 5, 0, 0, 0),
        I(IF, 0, 3, 0, 0),
            I(ADD, 5, 5, IMM, 10),
            I(IF, 0, 4, 0, 0),
                I(ADD, 5, 5, IMM, 100),
            I(ELSE, 0, 0, 0, 0),
                I(ADD, 5, 5, IMM, 200),
            I(ENDIF, 0, 0, 0, 0),
        I(ELSE, 0, 0, 0, 0),
            I(ADD, 5, 5, IMM, 20),
            I(SLTU, 6, 1, IMM, 8),
            I(IF, 0, 6, 0, 0),
                I(EXIT, 0, 0, 0, 0),        /* lanes 0,2,4,6 leave */
            I(ENDIF, 0, 0, 0, 0),
        I(ENDIF, 0, 0, 0, 0),
        I(ADD, 5, 5, IMM, 1000),            /* everyone still alive */
        I(ST64, 0, 2, 5, 0),
        I(EXIT, 0, 0, 0, 0),
    };
    unsigned l;

    setup(&t);
    ASSERT_EQ(LAUNCH(&t, prog, 1, 1, 1, 48), 0);
    for (l = 0; l < 48; l++) {
        uint64_t want;

        if (l & 1) {
            want = 1000 + 10 + (l & 2 ? 100 : 200);
        } else {
            want = l < 8 ? 0 : 1000 + 20;
        }
        ASSERT_EQ(*va64(&t, OUT + l * 8), want);
    }
    td_fini(&t);
}

/* Per-lane trip counts: lane l loops l times; BREAK inside an IF. */
TEST(loops_with_divergent_break)
{
    TestDev t;
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_LANE_ID),
        I(SHL, 2, 1, IMM, 3),
        I(ADD, 2, 2, IMM, OUT),
        I(MOVI, 3, 0, 0, 0),                /* i */
        I(MOVI, 7, 0, 0, 0),                /* sum */
        I(LOOP, 0, 0, 0, 0),
            I(SLEU, 4, 1, 3, 0),            /* lane <= i: done */
            I(BREAK, 0, 4, 0, 0),
            I(ADD, 7, 7, 3, 0),
            I(ADD, 3, 3, IMM, 1),
            I(SEQ, 5, 3, IMM, 20),          /* hard stop at 20 */
            I(IF, 0, 5, 0, 0),
                I(BREAK, 0, 5, 0, 0),
                I(ADD, 7, 7, IMM, 1000000),  /* never reached */
            I(ENDIF, 0, 0, 0, 0),
        I(ENDLOOP, 0, 0, 0, 0),
        I(ST64, 0, 2, 7, 0),
        I(ST64, 0, 2, 3, 512),
        I(EXIT, 0, 0, 0, 0),
    };
    unsigned l;

    setup(&t);
    ASSERT_EQ(LAUNCH(&t, prog, 1, 1, 1, 40), 0);
    for (l = 0; l < 40; l++) {
        unsigned n = l < 20 ? l : 20;

        /* sum of 0..n-1 */
        ASSERT_EQ(*va64(&t, OUT + l * 8), n ? n * (n - 1) / 2 : 0);
        ASSERT_EQ(*va64(&t, OUT + 512 + l * 8), n);
    }
    td_fini(&t);
}

/* Wave 1 reads what wave 0 wrote before the barrier, and vice versa. */
TEST(barrier_orders_waves)
{
    TestDev t;
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_LANE_ID),
        I(SHL, 2, 1, IMM, 3),
        I(ADD, 2, 2, IMM, OUT),
        I(ADD, 3, 1, IMM, 1000),
        I(ST64, 0, 2, 3, 0),                /* out[l] = l + 1000 */
        I(BAR, 0, 0, 0, 0),
        I(XOR, 4, 1, IMM, 32),              /* partner in the other wave */
        I(SHL, 4, 4, IMM, 3),
        I(ADD, 4, 4, IMM, OUT),
        I(LD64, 5, 4, 0, 0),
        I(BAR, 0, 0, 0, 0),
        I(ST64, 0, 2, 5, 1024),             /* out[128 + l] = partner */
        I(EXIT, 0, 0, 0, 0),
    };
    unsigned l;

    setup(&t);
    /* a long-running first wave would race without the barrier */
    ASSERT_EQ(LAUNCH(&t, prog, 2, 1, 1, 64), 0);
    for (l = 0; l < 64; l++) {
        ASSERT_EQ(*va64(&t, OUT + 1024 + l * 8), (l ^ 32) + 1000);
    }
    td_fini(&t);
}

/* A barrier after some waves exited does not deadlock. */
TEST(barrier_with_exited_waves)
{
    TestDev t;
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_WAVE_ID),
        I(IF, 0, 1, 0, 0),
            I(EXIT, 0, 0, 0, 0),            /* waves 1.. leave */
        I(ENDIF, 0, 0, 0, 0),
        I(BAR, 0, 0, 0, 0),
        I(MOVI, 2, 0, 0, OUT),
        I(MOVI, 3, 0, 0, 1),
        I(ATOM64, 4, 2, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)),
        I(EXIT, 0, 0, 0, 0),
    };

    setup(&t);
    ASSERT_EQ(LAUNCH(&t, prog, 1, 1, 1, 256), 0);
    ASSERT_EQ(*va64(&t, OUT), 32);
    td_fini(&t);
}

TEST(jmp_uniform_branch)
{
    TestDev t;
    uint64_t prog[] = {
        I(MOVI, 1, 0, 0, OUT),
        I(MOVI, 2, 0, 0, 5),
        I(JMP, 0, 0, 0, 3),                 /* skip the next two */
        I(MOVI, 2, 0, 0, 6),
        I(EXIT, 0, 0, 0, 0),
        I(ST64, 0, 1, 2, 0),
        I(EXIT, 0, 0, 0, 0),
    };

    setup(&t);
    ASSERT_EQ(LAUNCH(&t, prog, 1, 1, 1, 1), 0);
    ASSERT_EQ(*va64(&t, OUT), 5);
    td_fini(&t);
}

TEST(kernel_errors)
{
    TestDev t;
    uint64_t endless[] = { I(JMP, 0, 0, 0, 0) };
    uint64_t bad_op[] = { I(NOP, 0, 0, 0, 0), SVMGPU_ISA_ENCODE(0xee, 0, 0, 0, 0) };
    uint64_t bad_reg[] = { I(ADD, 32, 0, 0, 0) };
    uint64_t bad_rb[] = { I(ADD, 1, 0, 40, 0) };
    uint64_t bad_sreg[] = { I(S2R, 1, 0, 0, SVMGPU_SR_NUM) };
    uint64_t bad_atom[] = { I(ATOM64, 1, 2, 3, SVMGPU_ISA_ATOM_IMM(9, 0)) };
    uint64_t underflow[] = { I(ENDIF, 0, 0, 0, 0) };
    uint64_t else_in_loop[] = { I(LOOP, 0, 0, 0, 0), I(ELSE, 0, 0, 0, 0) };
    uint64_t break_outside[] = { I(BREAK, 0, 0, 0, 0) };
    uint64_t misaligned[] = { I(MOVI, 1, 0, 0, OUT + 4), I(LD64, 2, 1, 0, 0) };
    uint64_t wide_va[] = { I(MOVI, 1, 0, 0, 0), I(MOVHI, 1, 0, 0, 0x10000),
                           I(ST8, 0, 1, 0, 0) };
    uint64_t dma[] = { I(MOVI, 1, 0, 0, 0x50000), I(LD8, 2, 1, 0, 0) };
    uint64_t overflow[SVMGPU_ISA_MAX_NEST + 1];
    uint64_t runaway[] = { I(NOP, 0, 0, 0, 0) };    /* falls off the page */
    unsigned i;

    setup(&t);
    map_leaf(&t, 0, 0x50000, 0x2000, 1, 0);
    ASSERT_EQ(launch(&t, endless, 1, 1, 1, 1, 64, 1000),
              SVMGPU_ERR_WATCHDOG);
    ASSERT_EQ(compl(&t, 0)->err_va, CODE);
    ASSERT_EQ(LAUNCH(&t, bad_op, 1, 1, 1, 1), SVMGPU_ERR_ILLEGAL_INSTRUCTION);
    ASSERT_EQ(compl(&t, 0)->err_va, CODE + 8);
    ASSERT_EQ(LAUNCH(&t, bad_reg, 1, 1, 1, 1), SVMGPU_ERR_ILLEGAL_INSTRUCTION);
    ASSERT_EQ(LAUNCH(&t, bad_rb, 1, 1, 1, 1), SVMGPU_ERR_ILLEGAL_INSTRUCTION);
    ASSERT_EQ(LAUNCH(&t, bad_sreg, 1, 1, 1, 1), SVMGPU_ERR_ILLEGAL_INSTRUCTION);
    ASSERT_EQ(LAUNCH(&t, bad_atom, 1, 1, 1, 1), SVMGPU_ERR_ILLEGAL_INSTRUCTION);
    ASSERT_EQ(LAUNCH(&t, underflow, 1, 1, 1, 1),
              SVMGPU_ERR_ILLEGAL_INSTRUCTION);
    ASSERT_EQ(LAUNCH(&t, else_in_loop, 1, 1, 1, 1),
              SVMGPU_ERR_ILLEGAL_INSTRUCTION);
    ASSERT_EQ(LAUNCH(&t, break_outside, 1, 1, 1, 1),
              SVMGPU_ERR_ILLEGAL_INSTRUCTION);
    for (i = 0; i <= SVMGPU_ISA_MAX_NEST; i++) {
        overflow[i] = I(LOOP, 0, 0, 0, 0);
    }
    ASSERT_EQ(LAUNCH(&t, overflow, 1, 1, 1, 1),
              SVMGPU_ERR_ILLEGAL_INSTRUCTION);
    ASSERT_EQ(compl(&t, 0)->err_va, CODE + SVMGPU_ISA_MAX_NEST * 8);
    ASSERT_EQ(LAUNCH(&t, misaligned, 1, 1, 1, 1), SVMGPU_ERR_MISALIGNED);
    ASSERT_EQ(compl(&t, 0)->err_va, OUT + 4);
    ASSERT_EQ(LAUNCH(&t, wide_va, 1, 1, 1, 1), SVMGPU_ERR_INVALID_VA);
    ASSERT_EQ(LAUNCH(&t, dma, 1, 1, 1, 1), SVMGPU_ERR_DMA);
    /* the code page ends at CODE + 0x4000: the fetch there faults */
    for (i = 0; i < 4; i++) {
        memset(va_ptr(&t, 0, CODE + i * 0x1000), 0, 0x1000);
    }
    ASSERT_EQ(LAUNCH(&t, runaway, 1, 1, 1, 1), ~0u);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);
    ASSERT_EQ(fault_rec(&t, 0)->va, CODE + 0x4000);
    ASSERT_EQ(fault_rec(&t, 0)->access, SVMGPU_ACCESS_READ);
    td_fini(&t);
}

/*
 * map() that hands out a copy of guest RAM (as QEMU's bounce buffer):
 * bytes written through it reach RAM only at unmap().  A released copy
 * stays allocated (so a stale access cannot crash the test) but what is
 * written to it afterwards is lost, so a write through a window the map
 * cache already released shows as a missing store.
 */
#define BOUNCE_MAX 64
static struct {
    uint8_t *p;
    uint64_t pa, len;
    bool live;
} bounce[BOUNCE_MAX];

static void *bounce_map(void *opaque, uint64_t addr, uint64_t *len,
                        bool is_write)
{
    TestDev *t = opaque;
    unsigned i;

    if (addr < RAM_BASE || addr - RAM_BASE >= t->ram_size) {
        return NULL;
    }
    if (*len > t->ram_size - (addr - RAM_BASE)) {
        *len = t->ram_size - (addr - RAM_BASE);
    }
    for (i = 0; i < BOUNCE_MAX && bounce[i].p; i++) {
    }
    ASSERT_LT(i, BOUNCE_MAX);
    bounce[i].p = malloc(*len);
    ASSERT_NOT_NULL(bounce[i].p);
    memcpy(bounce[i].p, pa_ptr(t, addr), *len);
    bounce[i].pa = addr;
    bounce[i].len = *len;
    bounce[i].live = true;
    atomic_fetch_add(&t->maps, 1);
    return bounce[i].p;
}

static void bounce_unmap(void *opaque, void *ptr, uint64_t len, bool is_write)
{
    TestDev *t = opaque;
    uint8_t *q = ptr;
    unsigned i;

    for (i = 0; i < BOUNCE_MAX; i++) {
        if (bounce[i].live && q >= bounce[i].p &&
            q < bounce[i].p + bounce[i].len) {
            break;
        }
    }
    ASSERT_LT(i, BOUNCE_MAX);
    if (is_write) {
        memcpy(pa_ptr(t, bounce[i].pa + (q - bounce[i].p)), q, len);
    }
    bounce[i].live = false;
    atomic_fetch_sub(&t->maps, 1);
}

static void bounce_free(void)
{
    unsigned i;

    for (i = 0; i < BOUNCE_MAX; i++) {
        free(bounce[i].p);
        bounce[i].p = NULL;
        bounce[i].live = false;
    }
}

/*
 * Finding 1 of the fast engine's review: with map_window 0 (QEMU behind a
 * vIOMMU) eight data pages fill the map cache; the fetch from the next
 * code page replaces the window of the first data page.  The store to it
 * must map it again, not write through the released window.
 */
TEST(store_after_fetch_replaced_its_window)
{
    uint64_t data = OUT, prog[16];     /* 8: SVMGPU_MAP_WINDOWS (internal.h) */
    SvmgpuCoreOps ops = td_ops;
    SvmgpuCoreConfig cfg;
    struct svmgpu_cmd c;
    unsigned i, n;
    TestDev t;

    ops.map = bounce_map;
    ops.unmap = bounce_unmap;
    ops.dirty = NULL;                   /* unmap() copies the written span */
    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.map_window = 0;
    td_init_ops(&t, &cfg, &ops);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 64);
    map_range(&t, 0, CODE, 0x2000, 0);
    map_range(&t, 0, data, 0x8000, SVMGPU_PTE_WRITABLE);
    n = 0;
    prog[n++] = I(MOVI, 1, 0, 0, (int32_t)data);
    for (i = 0; i < 8; i++) {
        prog[n++] = I(LD64, 2, 1, 0, i * 0x1000);
    }
    prog[n] = I(JMP, 0, 0, 0, (int32_t)(512 - n));
    n++;
    for (i = 0; i < n; i++) {
        *va64(&t, CODE + i * 8) = prog[i];
    }
    *va64(&t, CODE + 0x1000) = I(ST64, 0, 1, 1, 0);
    *va64(&t, CODE + 0x1008) = I(EXIT, 0, 0, 0, 0);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_LAUNCH;
    c.launch.code_va = CODE;
    c.launch.grid_x = c.launch.grid_y = c.launch.grid_z = 1;
    c.launch.wg_size = 1;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    ASSERT_EQ(compl(&t, 0)->err_code, 0);
    ASSERT_EQ(*va64(&t, data), data);
    for (i = 1; i < 8; i++) {
        ASSERT_EQ(*va64(&t, data + i * 0x1000), 0);
    }
    td_fini(&t);
    bounce_free();
}

/*
 * Finding 2: a register is fresh (0) in every workgroup.  Workgroup 1's
 * load into r7 faults; while it is stalled the CPU rewrites the load into
 * a store of r7.  Workgroup 0 set r7 = 0x1234 on the other branch: that
 * value must not reach workgroup 1.
 */
TEST(stalled_load_rewritten_sees_fresh_register)
{
    uint64_t prog[] = {
        I(S2R, 3, 0, 0, SVMGPU_SR_WG_ID_X),
        I(MOVI, 1, 0, 0, OUT),
        I(IF, 0, 3, 0, 0),
        I(LD64, 7, 1, 0, 0x1000),
        I(ELSE, 0, 0, 0, 0),
        I(MOVI, 7, 0, 0, 0x1234),
        I(ENDIF, 0, 0, 0, 0),
        I(EXIT, 0, 0, 0, 0),
    };
    SvmgpuCoreConfig cfg;
    struct svmgpu_cmd c;
    unsigned i;
    TestDev t;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    td_init_ops(&t, &cfg, &td_ops);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 64);
    map_range(&t, 0, CODE, 0x1000, 0);
    map_range(&t, 0, OUT, 0x1000, SVMGPU_PTE_WRITABLE);
    for (i = 0; i < sizeof(prog) / sizeof(prog[0]); i++) {
        *va64(&t, CODE + i * 8) = prog[i];
    }
    *va64(&t, OUT) = 0x5555;
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_LAUNCH;
    c.launch.code_va = CODE;
    c.launch.grid_x = 2;
    c.launch.grid_y = c.launch.grid_z = 1;
    c.launch.wg_size = 32;
    submit(&t, 0, &c);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);
    ASSERT_EQ(fault_rec(&t, 0)->va, OUT + 0x1000);
    /* the CPU rewrites the stalled load, the driver maps and replays */
    *va64(&t, CODE + 3 * 8) = I(ST64, 0, 1, 7, 0);
    map_range(&t, 0, OUT + 0x1000, 0x1000, SVMGPU_PTE_WRITABLE);
    reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    ASSERT_EQ(compl(&t, 0)->err_code, 0);
    ASSERT_EQ(*va64(&t, OUT), 0);
    td_fini(&t);
}

/*
 * Lanes that completed a faulted load skip only that load when it is
 * replayed: here lanes 0-3 loaded before lane 4 faulted, and while the
 * queue stalls the CPU rewrites the load into a NOP.  The store after it
 * then runs for all 32 lanes, on both engines.  Before, the lanes done
 * stayed marked past the NOP and lanes 0-3 skipped the store.
 */
TEST(faulted_load_rewritten_to_a_nop_leaves_no_lane_behind)
{
    const uint64_t in = 0x40000;
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_LANE_ID),
        I(SHL, 2, 1, IMM, 12),
        I(ADD, 2, 2, IMM, (int32_t)in),
        I(LD64, 3, 2, 0, 0),
        I(SHL, 4, 1, IMM, 3),
        I(ADD, 4, 4, IMM, (int32_t)OUT),
        I(ST64, 0, 4, 1, 0),
        I(EXIT, 0, 0, 0, 0),
    };
    unsigned e, i;

    for (e = 0; e < 2; e++) {
        struct svmgpu_cmd c;
        TestDev t;

        td_init_engine(&t, e);
        map_range(&t, 0, CODE, 0x1000, 0);
        map_range(&t, 0, in, 4 * 0x1000, 0);        /* lanes 0-3's pages */
        map_range(&t, 0, OUT, 0x1000, SVMGPU_PTE_WRITABLE);
        for (i = 0; i < sizeof(prog) / sizeof(prog[0]); i++) {
            *va64(&t, CODE + i * 8) = prog[i];
        }
        for (i = 0; i < 32; i++) {
            *va64(&t, OUT + i * 8) = 0xaaaa;
        }
        memset(&c, 0, sizeof(c));
        c.hdr.opcode = SVMGPU_CMD_LAUNCH;
        c.launch.code_va = CODE;
        c.launch.grid_x = c.launch.grid_y = c.launch.grid_z = 1;
        c.launch.wg_size = 32;
        submit(&t, 0, &c);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);
        ASSERT_EQ(fault_rec(&t, 0)->va, in + 4 * 0x1000);
        *va64(&t, CODE + 3 * 8) = I(NOP, 0, 0, 0, 0);
        reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
        ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        for (i = 0; i < 32; i++) {
            EXPECT_EQ(*va64(&t, OUT + i * 8), i);
        }
        TH_LOG("%s engine: every lane stored", e ? "reference" : "fast");
        td_fini(&t);
    }
}

TEST_HARNESS_MAIN
