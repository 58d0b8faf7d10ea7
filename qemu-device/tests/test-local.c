/*
 * svmgpu core: device-local memory and the link (docs/hw-spec.md §5a) —
 * aperture-1 walks and every BAD_PTE case, COPY/FILL/ATOMIC/SIGNAL/WAIT/
 * TIMESTAMP and kernels on local memory and across apertures with exact
 * data and byte counters, contents kept across reset, dirty reporting,
 * and the link model's arithmetic and pacing.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <time.h>
#include <unistd.h>

#include "test-env.h"
#include "internal.h"

#define I(op, rd, ra, rb, imm) SVMGPU_ISA_ENCODE(SVMGPU_OP_##op, rd, ra, rb, imm)
#define IMM 0xff

#define LOCAL_SIZE  (64ull << 20)
#define AP_LOCAL    (SVMGPU_APERTURE_LOCAL << SVMGPU_PTE_APERTURE_SHIFT)
#define VA_SYS      0x100000000ull      /* system memory buffers */
#define VA_LOC      0x200000000ull      /* local memory, 4K leaves */
#define VA_LOC2M    0x300000000ull      /* local memory, 2M leaves */

static void setup_ops(TestDev *t, uint64_t local_size, uint32_t engine,
                      const SvmgpuCoreOps *ops)
{
    SvmgpuCoreConfig cfg;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.local_mem_size = local_size;
    cfg.engine = engine;
    td_init_ops(t, &cfg, ops);
    ctx_create(t, 0);
    queue_setup(t, 0, 0, 64);
}

static void setup(TestDev *t, uint64_t local_size)
{
    setup_ops(t, local_size, SVMGPU_ENGINE_FAST, &td_ops);
}

static SvmgpuXlateStatus walk(TestDev *t, uint64_t va, unsigned acc,
                              SvmgpuXlate *x)
{
    return svmgpu_mmu_walk(t->core, t->roots[0], va, acc, x);
}

/* Map [va, va + size) to local offsets [off, off + size), 4K leaves. */
static void map_local(TestDev *t, uint64_t va, uint64_t off, uint64_t size)
{
    uint64_t o;

    for (o = 0; o < size; o += 4096) {
        map_leaf(t, 0, va + o, off + o, 1, SVMGPU_PTE_WRITABLE | AP_LOCAL);
    }
}

static void counters(TestDev *t, uint64_t *c)
{
    c[0] = rd(t, SVMGPU_REG_CNT_LINK_READ_BYTES);
    c[1] = rd(t, SVMGPU_REG_CNT_LINK_WRITE_BYTES);
    c[2] = rd(t, SVMGPU_REG_CNT_LOCAL_READ_BYTES);
    c[3] = rd(t, SVMGPU_REG_CNT_LOCAL_WRITE_BYTES);
}

#define ASSERT_COUNTERS(t, lr, lw, or, ow) do { \
    uint64_t c_[4]; \
    counters(t, c_); \
    ASSERT_EQ(c_[0], (uint64_t)(lr)); \
    ASSERT_EQ(c_[1], (uint64_t)(lw)); \
    ASSERT_EQ(c_[2], (uint64_t)(or)); \
    ASSERT_EQ(c_[3], (uint64_t)(ow)); \
} while (0)

/* The command at the queue's last completion succeeded. */
static void assert_ok(TestDev *t, uint64_t seq)
{
    ASSERT_EQ(compl(t, 0)->seq, seq);
    ASSERT_EQ(compl(t, 0)->err_code, 0);
    ASSERT_EQ(qstatus(t, 0) & SVMGPU_Q_STATUS_ERROR, 0);
}

/* Aperture 1 without local memory: BAD_PTE (and CAPS bit 4 clear). */
TEST(aperture_1_without_local_memory_is_bad_pte)
{
    TestDev t;
    SvmgpuXlate x;

    setup(&t, 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CAPS) & SVMGPU_CAPS_LOCAL_MEM, 0);
    map_leaf(&t, 0, VA_LOC, 0, 1, AP_LOCAL);
    ASSERT_EQ(walk(&t, VA_LOC, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
    ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);
    td_fini(&t);
}

/*
 * Every leaf size at the start and at the very end of local memory
 * translates; a page that is not wholly inside, a misaligned offset and
 * apertures 2 and 3 are BAD_PTE; write protection applies as in system
 * memory.
 */
TEST(aperture_1_walk_rules)
{
    static const struct {
        int lvl;
        uint64_t off;
        bool ok;
    } cases[] = {
        { 1, 0, true },
        { 1, LOCAL_SIZE - 4096, true },         /* last 4K page */
        { 1, LOCAL_SIZE, false },               /* just outside */
        { 1, LOCAL_SIZE + (1ull << 40), false },
        { 1, 0xffffffffff000ull, false },       /* largest ADDR */
        { 2, 0, true },
        { 2, LOCAL_SIZE - (2ull << 20), true }, /* last 2M page */
        { 2, LOCAL_SIZE, false },
        { 2, 0x1000, false },                   /* misaligned 2M leaf */
        { 3, 0, false },                        /* 1G > 64 MiB */
        { 3, 0x200000, false },                 /* misaligned 1G leaf */
    };
    TestDev t;
    unsigned i;

    setup(&t, LOCAL_SIZE);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CAPS), 0x7f);
    ASSERT_EQ(rd(&t, SVMGPU_REG_LOCAL_MEM_SIZE), LOCAL_SIZE);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t va = 0x8000000000ull + i * (1ull << 30);
        uint64_t size = 1ull << SVMGPU_PT_LEVEL_SHIFT(cases[i].lvl);
        uint64_t off = cases[i].lvl == 1 ? 0x238 : size - 8;
        SvmgpuXlate x;
        SvmgpuXlateStatus st;

        map_leaf(&t, 0, va, cases[i].off, cases[i].lvl,
                 SVMGPU_PTE_WRITABLE | AP_LOCAL);
        st = walk(&t, va + off, SVMGPU_ACCESS_WRITE, &x);
        if (!cases[i].ok) {
            ASSERT_EQ(st | i << 8, SVMGPU_XLATE_FAULT | i << 8);
            ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);
            continue;
        }
        ASSERT_EQ(st, SVMGPU_XLATE_OK);
        ASSERT_TRUE(svmgpu_pa_local(x.pa));
        ASSERT_EQ(x.pa & ~SVMGPU_PA_LOCAL, cases[i].off + off);
        ASSERT_EQ(x.len, size - off);
        ASSERT_EQ(x.shift, SVMGPU_PT_LEVEL_SHIFT(cases[i].lvl));
    }
    /* apertures 2 and 3, reserved bits with aperture 1 */
    {
        uint64_t va = VA_LOC, *p;
        SvmgpuXlate x;

        map_leaf(&t, 0, va, 0x5000, 1, AP_LOCAL);
        p = leaf_pte(&t, 0, va);
        ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_OK);
        /* read-only leaf: WRITE and ATOMIC are WRITE_PROTECT */
        ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_WRITE, &x), SVMGPU_XLATE_FAULT);
        ASSERT_EQ(x.reason, SVMGPU_FAULT_WRITE_PROTECT);
        ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_ATOMIC, &x), SVMGPU_XLATE_FAULT);
        ASSERT_EQ(x.reason, SVMGPU_FAULT_WRITE_PROTECT);
        *p = (*p & ~SVMGPU_PTE_APERTURE_MASK) |
             (2ull << SVMGPU_PTE_APERTURE_SHIFT);
        ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
        ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);
        *p |= SVMGPU_PTE_APERTURE_MASK;
        ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
        ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);
        *p = (*p & ~SVMGPU_PTE_APERTURE_MASK) | AP_LOCAL | (1ull << 55);
        ASSERT_EQ(walk(&t, va, SVMGPU_ACCESS_READ, &x), SVMGPU_XLATE_FAULT);
        ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);
    }
    td_fini(&t);
}

/* A 1 GiB leaf at the end of 2 GiB of local memory; one past it faults. */
TEST(huge_1g_leaf_at_the_end_of_local_memory)
{
    TestDev t;
    SvmgpuXlate x;
    struct svmgpu_cmd c;
    uint64_t seq, src, *s;

    setup(&t, 2ull << 30);
    map_leaf(&t, 0, 0x4000000000ull, 1ull << 30, 3,
             SVMGPU_PTE_WRITABLE | AP_LOCAL);
    map_leaf(&t, 0, 0x8000000000ull, 2ull << 30, 3,
             SVMGPU_PTE_WRITABLE | AP_LOCAL);
    ASSERT_EQ(walk(&t, 0x4000000000ull + (1ull << 30) - 8,
                   SVMGPU_ACCESS_WRITE, &x), SVMGPU_XLATE_OK);
    ASSERT_EQ(x.pa & ~SVMGPU_PA_LOCAL, (2ull << 30) - 8);
    ASSERT_EQ(walk(&t, 0x8000000000ull, SVMGPU_ACCESS_READ, &x),
              SVMGPU_XLATE_FAULT);
    ASSERT_EQ(x.reason, SVMGPU_FAULT_BAD_PTE);
    /* a COPY into the last bytes lands there */
    src = VA_SYS;
    map_range(&t, 0, src, 4096, SVMGPU_PTE_WRITABLE);
    s = va_ptr(&t, 0, src);
    s[0] = 0x1122334455667788ull;
    s[1] = 0x99aabbccddeeff00ull;
    c = cmd_copy(0x4000000000ull + (1ull << 30) - 16, src, 16);
    seq = submit(&t, 0, &c);
    assert_ok(&t, seq);
    ASSERT_EQ(memcmp(t.local + (2ull << 30) - 16, s, 16), 0);
    ASSERT_COUNTERS(&t, 16, 0, 0, 16);
    td_fini(&t);
}

/*
 * COPY system -> local -> system (4K and 2M leaves, unaligned ends) with
 * exact data, counters and dirty reporting; then local -> local.
 */
static void copy_round_trip(const SvmgpuCoreOps *ops)
{
    const uint64_t n = 3 * 4096 + 1000, soff = 0x123;
    TestDev t;
    struct svmgpu_cmd c;
    uint8_t *a, *b;
    uint64_t seq, i;

    setup_ops(&t, LOCAL_SIZE, SVMGPU_ENGINE_FAST, ops);
    map_range(&t, 0, VA_SYS, 0x8000, SVMGPU_PTE_WRITABLE);
    map_range(&t, 0, VA_SYS + 0x10000, 0x8000, SVMGPU_PTE_WRITABLE);
    map_local(&t, VA_LOC, 0x100000, 0x8000);
    map_leaf(&t, 0, VA_LOC2M, 4ull << 20, 2, SVMGPU_PTE_WRITABLE | AP_LOCAL);
    for (i = 0; i < n; i++) {
        *(uint8_t *)va_ptr(&t, 0, VA_SYS + soff + i) = (uint8_t)(i * 7 + 3);
    }

    c = cmd_copy(VA_LOC + 0x10, VA_SYS + soff, n);
    seq = submit(&t, 0, &c);
    assert_ok(&t, seq);
    a = t.local + 0x100000 + 0x10;
    for (i = 0; i < n; i++) {
        ASSERT_EQ(a[i], (uint8_t)(i * 7 + 3));
    }
    ASSERT_EQ(a[-1], 0);
    ASSERT_EQ(a[n], 0);
    ASSERT_COUNTERS(&t, n, 0, 0, n);
    /* the written local bytes were reported (QEMU: migration dirty log) */
    ASSERT_GT(atomic_load(&t.local_dirties), 0);
    ASSERT_EQ(t.local_dirty_lo, 0x100000 + 0x10);
    ASSERT_EQ(t.local_dirty_hi, 0x100000 + 0x10 + n);

    /* local (4K) -> local (2M) */
    c = cmd_copy(VA_LOC2M + 0x1fff00 - n, VA_LOC + 0x10, n);
    seq = submit(&t, 0, &c);
    assert_ok(&t, seq);
    ASSERT_EQ(memcmp(t.local + (4ull << 20) + 0x1fff00 - n, a, n), 0);
    ASSERT_COUNTERS(&t, n, 0, n, 2 * n);

    /* local (2M) -> system */
    c = cmd_copy(VA_SYS + 0x10000 + 1, VA_LOC2M + 0x1fff00 - n, n);
    seq = submit(&t, 0, &c);
    assert_ok(&t, seq);
    b = va_ptr(&t, 0, VA_SYS + 0x10000 + 1);
    for (i = 0; i < n; i++) {
        ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, VA_SYS + 0x10000 + 1 + i),
                  (uint8_t)(i * 7 + 3));
    }
    ASSERT_EQ(b[-1], 0);
    ASSERT_COUNTERS(&t, n, n, 2 * n, 2 * n);
    td_fini(&t);
}

TEST(copy_between_apertures)
{
    copy_round_trip(&td_ops);
}

/* The same without the map() fast path: local memory is never a DMA. */
TEST(copy_between_apertures_without_map)
{
    copy_round_trip(&td_ops_nomap);
}

/* FILL of every width on local memory, exact pattern and bounds. */
TEST(fill_local_memory)
{
    static const unsigned widths[] = { 1, 2, 4, 8 };
    TestDev t;
    unsigned k;
    uint64_t total = 0;

    setup(&t, LOCAL_SIZE);
    map_local(&t, VA_LOC, 0, 0x10000);
    for (k = 0; k < 4; k++) {
        const unsigned w = widths[k];
        const uint64_t dst = VA_LOC + 0x1000 * k * 3 + 8;
        const uint64_t size = 0x1800 + 8 * w;
        const uint64_t val = 0x0102030405060708ull;
        struct svmgpu_cmd c = cmd_fill(dst, size, val, w);
        uint8_t *p = t.local + (dst - VA_LOC);
        uint64_t seq, i;

        seq = submit(&t, 0, &c);
        assert_ok(&t, seq);
        for (i = 0; i < size; i++) {
            ASSERT_EQ(p[i], ((const uint8_t *)&val)[i % w]);
        }
        ASSERT_EQ(p[-1], 0);
        ASSERT_EQ(p[size], 0);
        total += size;
        ASSERT_COUNTERS(&t, 0, 0, 0, total);
    }
    td_fini(&t);
}

/*
 * ATOMIC on local memory with the old value to system memory and the
 * reverse; SIGNAL, WAIT and TIMESTAMP on local memory.
 */
TEST(atomic_signal_wait_timestamp_on_local_memory)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t seq, *loc, *sys;

    setup(&t, LOCAL_SIZE);
    map_local(&t, VA_LOC, 0x3000, 0x1000);
    map_range(&t, 0, VA_SYS, 0x1000, SVMGPU_PTE_WRITABLE);
    loc = (uint64_t *)(t.local + 0x3000);
    sys = va_ptr(&t, 0, VA_SYS);
    loc[0] = 40;
    sys[0] = 7;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_ATOMIC;
    c.atomic.va = VA_LOC;
    c.atomic.operand = 2;
    c.atomic.result_va = VA_SYS + 8;
    c.atomic.op = SVMGPU_ATOMIC_ADD;
    c.atomic.size = 8;
    seq = submit(&t, 0, &c);
    assert_ok(&t, seq);
    ASSERT_EQ(loc[0], 42);
    ASSERT_EQ(sys[1], 40);
    ASSERT_COUNTERS(&t, 0, 8, 8, 8);

    /* 32-bit CMPXCHG on system memory, old value into local memory */
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_ATOMIC;
    c.atomic.va = VA_SYS;
    c.atomic.operand = 9;
    c.atomic.compare = 7;
    c.atomic.result_va = VA_LOC + 16;
    c.atomic.op = SVMGPU_ATOMIC_CMPXCHG;
    c.atomic.size = 4;
    seq = submit(&t, 0, &c);
    assert_ok(&t, seq);
    ASSERT_EQ(sys[0], 9);
    ASSERT_EQ(loc[2], 7);
    ASSERT_COUNTERS(&t, 4, 12, 8, 12);

    c = cmd_signal(VA_LOC + 24, 0xfeedull);
    seq = submit(&t, 0, &c);
    assert_ok(&t, seq);
    ASSERT_EQ(loc[3], 0xfeedull);
    ASSERT_COUNTERS(&t, 4, 12, 8, 20);

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_WAIT;
    c.wait.va = VA_LOC + 24;
    c.wait.value = 0xfeedull;
    c.wait.mask = ~0ull;
    c.wait.cond = SVMGPU_WAIT_EQ;
    seq = submit(&t, 0, &c);
    assert_ok(&t, seq);
    ASSERT_COUNTERS(&t, 4, 12, 16, 20);

    t.now = 123456789;
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_TIMESTAMP;
    c.timestamp.va = VA_LOC + 32;
    seq = submit(&t, 0, &c);
    assert_ok(&t, seq);
    ASSERT_EQ(loc[4], 123456789);
    ASSERT_COUNTERS(&t, 4, 12, 16, 28);
    td_fini(&t);
}

/*
 * A kernel per engine: out[gid] = src[gid] + gid with src in local memory
 * and out in system memory, plus an atomic count in local memory; args
 * (two pointers per lane) in system memory.  Then the same code run from
 * local memory.  Instruction fetches are not counted.
 */
static void kernel_across_apertures(uint32_t engine)
{
    const uint64_t threads = 256, code_sys = VA_SYS, args = VA_SYS + 0x1000;
    const uint64_t out = VA_SYS + 0x2000, code_loc = VA_LOC + 0x8000;
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_ARGS),
        I(S2R, 2, 0, 0, SVMGPU_SR_GLOBAL_ID),
        I(LD64, 3, 1, 0, 0),                /* src */
        I(LD64, 4, 1, 0, 8),                /* out */
        I(SHL, 5, 2, IMM, 3),
        I(ADD, 3, 3, 5, 0),
        I(ADD, 4, 4, 5, 0),
        I(LD64, 6, 3, 0, 0),
        I(ADD, 6, 6, 2, 0),
        I(ST64, 0, 4, 6, 0),
        I(MOVI, 7, 0, 0, 1),
        I(LD64, 8, 1, 0, 16),               /* counter */
        I(ATOM64, 9, 8, 7, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)),
        I(EXIT, 0, 0, 0, 0),
    };
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t *src, *o, *a, seq, i, run;

    setup_ops(&t, LOCAL_SIZE, engine, &td_ops);
    map_range(&t, 0, VA_SYS, 0x4000, SVMGPU_PTE_WRITABLE);
    map_local(&t, VA_LOC, 0x200000, 0x10000);
    src = (uint64_t *)(t.local + 0x200000);
    for (i = 0; i < threads; i++) {
        src[i] = 1000 * i;
    }
    memcpy(va_ptr(&t, 0, code_sys), prog, sizeof(prog));
    memcpy(t.local + 0x200000 + 0x8000, prog, sizeof(prog));
    a = va_ptr(&t, 0, args);
    a[0] = VA_LOC;
    a[1] = out;
    a[2] = VA_LOC + 0x4000;
    o = va_ptr(&t, 0, out);

    for (run = 1; run <= 2; run++) {
        memset(o, 0, threads * 8);
        memset(&c, 0, sizeof(c));
        c.hdr.opcode = SVMGPU_CMD_LAUNCH;
        c.launch.code_va = run == 1 ? code_sys : code_loc;
        c.launch.args_va = args;
        c.launch.grid_x = threads / 64;
        c.launch.grid_y = 1;
        c.launch.grid_z = 1;
        c.launch.wg_size = 64;
        seq = submit(&t, 0, &c);
        assert_ok(&t, seq);
        for (i = 0; i < threads; i++) {
            ASSERT_EQ(o[i], 1000 * i + i);
        }
        ASSERT_EQ(*(uint64_t *)(t.local + 0x200000 + 0x4000), threads * run);
        /* per lane: 24 B of args + 8 B src + 8 B out + 8 B atomic (r+w) */
        ASSERT_COUNTERS(&t, run * threads * 24, run * threads * 8,
                        run * threads * 16, run * threads * 8);
    }
    td_fini(&t);
}

TEST(kernel_across_apertures_fast)
{
    kernel_across_apertures(SVMGPU_ENGINE_FAST);
}

TEST(kernel_across_apertures_reference)
{
    kernel_across_apertures(SVMGPU_ENGINE_REFERENCE);
}

/* Every reset zeroes the counters and keeps local memory (§12). */
TEST(reset_keeps_local_memory)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t seq, i;

    setup(&t, LOCAL_SIZE);
    map_local(&t, VA_LOC, 0, 0x2000);
    c = cmd_fill(VA_LOC, 0x2000, 0xa5, 1);
    seq = submit(&t, 0, &c);
    assert_ok(&t, seq);
    ASSERT_COUNTERS(&t, 0, 0, 0, 0x2000);
    svmgpu_core_reset(t.core);
    ASSERT_COUNTERS(&t, 0, 0, 0, 0);
    for (i = 0; i < 0x2000; i++) {
        ASSERT_EQ(t.local[i], 0xa5);
    }
    ASSERT_EQ(t.local[0x2000], 0);
    /* CONTROL.RESET as well */
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    ASSERT_EQ(t.local[0x1fff], 0xa5);
    td_fini(&t);
}

/* A reservation by a step of the device's current generation. */
static uint64_t reserve(SvmgpuCore *core, uint64_t now, uint64_t bytes,
                        uint64_t bursts)
{
    return svmgpu_link_reserve_locked(core, core->gen, now, bytes, bursts);
}

/* The link model's arithmetic, on a fake clock (hw-spec §5a). */
TEST(link_reservation_arithmetic)
{
    TestDev t;
    SvmgpuCoreConfig cfg;
    SvmgpuCore *core;

    svmgpu_core_default_config(&cfg);
    cfg.link_bandwidth = 1000;      /* 1000 MB/s: 1 byte per ns */
    cfg.link_latency = 500;
    td_init_cfg(&t, &cfg);
    core = t.core;
    pthread_mutex_lock(&core->lock);
    /* idle link: starts now; 2 bursts of 2048 B = 2 * 500 + 4096 ns */
    ASSERT_EQ(reserve(core, 10000, 4096, 2), 15096);
    /* busy link: queued behind the first */
    ASSERT_EQ(reserve(core, 11000, 1000, 1), 16596);
    /* idle again later: from now */
    ASSERT_EQ(reserve(core, 100000, 3, 3), 101503);
    /* no bursts: nothing */
    ASSERT_EQ(reserve(core, 200000, 0, 0), 0);
    /* a step that began before a reset: nothing */
    ASSERT_EQ(svmgpu_link_reserve_locked(core, core->gen - 1, 200000, 8, 1),
              0);
    ASSERT_EQ(reserve(core, 200000, 8, 1), 200508);
    pthread_mutex_unlock(&core->lock);
    td_fini(&t);

    /* bandwidth 0: never paced; sync mode: never paced */
    svmgpu_core_default_config(&cfg);
    cfg.link_latency = 500;
    td_init_cfg(&t, &cfg);
    pthread_mutex_lock(&t.core->lock);
    ASSERT_EQ(reserve(t.core, 10000, 4096, 2), 0);
    pthread_mutex_unlock(&t.core->lock);
    td_fini(&t);
    svmgpu_core_default_config(&cfg);
    cfg.link_bandwidth = 1000;
    cfg.sync = true;
    td_init_cfg(&t, &cfg);
    pthread_mutex_lock(&t.core->lock);
    ASSERT_EQ(reserve(t.core, 10000, 4096, 2), 0);
    pthread_mutex_unlock(&t.core->lock);
    td_fini(&t);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Wait (real time) for the queue's completion of seq. */
static bool wait_seq(TestDev *t, uint64_t seq, uint64_t timeout_ns)
{
    uint64_t end = mono_ns() + timeout_ns;

    while (__atomic_load_n(&compl(t, 0)->seq, __ATOMIC_ACQUIRE) != seq) {
        if (mono_ns() > end) {
            return false;
        }
        usleep(1000);
    }
    return true;
}

/*
 * Engine threads pace system-memory data: a 256 KiB system -> system COPY
 * at 100 MB/s holds its engine for at least 2 * 256 KiB / 100 MB/s
 * (5.2 ms) before the next command runs; local -> local is not paced.
 * (A lower bound only: the test never asserts speed.)
 */
TEST(engines_pace_link_traffic)
{
    TestDev t;
    SvmgpuCoreConfig cfg;
    struct svmgpu_cmd c;
    uint64_t seq, t0, dt;

    svmgpu_core_default_config(&cfg);
    cfg.local_mem_size = LOCAL_SIZE;
    cfg.link_bandwidth = 100;
    td_init_cfg(&t, &cfg);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 64);
    map_range(&t, 0, VA_SYS, 0x80000, SVMGPU_PTE_WRITABLE);
    map_local(&t, VA_LOC, 0, 0x80000);
    td_start_threads(&t, cfg.num_engines);

    t0 = mono_ns();
    c = cmd_copy(VA_SYS + 0x40000, VA_SYS, 0x40000);
    push(&t, 0, &c);
    c = cmd_signal(VA_SYS + 0x7fff8, 1);
    seq = push(&t, 0, &c);
    doorbell(&t, 0);
    ASSERT_TRUE(wait_seq(&t, seq, 20000000000ull));
    dt = mono_ns() - t0;
    ASSERT_GE(dt, 2 * 0x40000 * 1000ull / 100);
    ASSERT_COUNTERS(&t, 0x40000, 0x40000 + 8, 0, 0);
    td_fini(&t);
}

/*
 * A long link wait (512 bursts of 20 ms after a 1 MiB COPY: ~10 s) ends at
 * once on reset, and the engine thread stops at once: the next commands
 * after the reset complete, and stopping joins, long before the link
 * would be free.
 */
TEST(link_wait_ends_on_reset_and_stop)
{
    TestDev t;
    SvmgpuCoreConfig cfg;
    struct svmgpu_cmd c;
    uint64_t seq, t0;

    svmgpu_core_default_config(&cfg);
    cfg.num_engines = 1;
    cfg.link_bandwidth = 1000;
    cfg.link_latency = 20000000;
    td_init_cfg(&t, &cfg);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 64);
    map_range(&t, 0, VA_SYS, 0x200000, SVMGPU_PTE_WRITABLE);
    td_start_threads(&t, cfg.num_engines);

    t0 = mono_ns();
    c = cmd_copy(VA_SYS + 0x100000, VA_SYS, 0x100000);
    seq = push(&t, 0, &c);
    doorbell(&t, 0);
    ASSERT_TRUE(wait_seq(&t, seq, 20000000000ull));
    /* the engine now waits for the link; reset and start over */
    svmgpu_core_reset(t.core);
    wr(&t, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE_PA);
    wr32(&t, SVMGPU_REG_CTX_TABLE_ENTRIES, 1024);
    wr(&t, SVMGPU_REG_FAULT_RING_BASE, FAULT_RING_PA);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 0);
    queue_setup(&t, 0, 0, 64);
    /*
     * The reset freed the link too: a one-burst COPY (20 ms) and the NOP
     * behind it do not wait for the old backlog.
     */
    c = cmd_copy(VA_SYS + 0x1000, VA_SYS, 0x1000);
    push(&t, 0, &c);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_NOP;
    seq = push(&t, 0, &c);
    doorbell(&t, 0);
    ASSERT_TRUE(wait_seq(&t, seq, 5000000000ull));
    ASSERT_LT(mono_ns() - t0, 8000000000ull);
    /* a second long wait, ended by stop (unrealize) */
    c = cmd_copy(VA_SYS + 0x100000, VA_SYS, 0x100000);
    seq = push(&t, 0, &c);
    doorbell(&t, 0);
    ASSERT_TRUE(wait_seq(&t, seq, 20000000000ull));
    t0 = mono_ns();
    td_fini(&t);
    ASSERT_LT(mono_ns() - t0, 5000000000ull);
}

TEST_HARNESS_MAIN
