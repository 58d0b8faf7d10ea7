/*
 * svmgpu core: every command (NOP, COPY, FILL, ATOMIC, SIGNAL, WAIT,
 * LAUNCH, TIMESTAMP), completion records and interrupts, and each kind of
 * malformed command.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "test-env.h"

static void setup(TestDev *t)
{
    td_init(t);
    ctx_create(t, 0);
    queue_setup(t, 0, 0, 64);
    queue_setup(t, 1, 0, 64);
    map_range(t, 0, 0x10000, 0x10000, SVMGPU_PTE_WRITABLE);
    map_range(t, 0, 0x40000, 0x1000, 0);    /* read-only */
}

static uint64_t *u64p(TestDev *t, uint64_t va)
{
    return va_ptr(t, 0, va);
}

TEST(nop_completion_and_irq_flag)
{
    TestDev t;
    struct svmgpu_cmd c;
    struct svmgpu_completion *cp;

    setup(&t);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_NOP;
    c.hdr.seq = 0x1234567890ull;
    submit(&t, 0, &c);
    cp = compl(&t, 0);
    ASSERT_EQ(cp->seq, 0x1234567890ull);
    ASSERT_EQ(cp->err_code, 0);
    ASSERT_EQ(cp->head, 1);
    ASSERT_EQ(cp->status, SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE);
    ASSERT_EQ(cp->timestamp, 1000);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_SEQ)), 0x1234567890ull);
    c.hdr.seq = 0;
    c.hdr.flags = SVMGPU_CMD_FLAG_IRQ;
    submit(&t, 0, &c);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 1);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_INTR_STATUS) & SVMGPU_INTR_QUEUE(0));
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_COMMANDS), 2);
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_IDLE);
    td_fini(&t);
}

TEST(copy_sizes_and_alignments)
{
    TestDev t;
    struct svmgpu_cmd c;
    static const uint64_t sizes[] = { 0, 1, 7, 4095, 4096, 4097, 12345 };
    unsigned i, j;
    uint8_t *src, *dst;

    setup(&t);
    for (i = 0; i < 0x8000; i++) {
        *(uint8_t *)va_ptr(&t, 0, 0x10000 + i) = i * 31 + 7;
    }
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t so = 3 + i * 5, d = 0x18000 + 11 * i;

        memset(va_ptr(&t, 0, 0x18000), 0, 0x1000);
        memset(va_ptr(&t, 0, 0x19000), 0, 0x1000);
        memset(va_ptr(&t, 0, 0x1a000), 0, 0x1000);
        memset(va_ptr(&t, 0, 0x1b000), 0, 0x1000);
        c = cmd_copy(d, 0x10000 + so, sizes[i]);
        submit(&t, 0, &c);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
        for (j = 0; j < sizes[i]; j++) {
            src = va_ptr(&t, 0, 0x10000 + so + j);
            dst = va_ptr(&t, 0, d + j);
            ASSERT_EQ(*dst, *src);
        }
        ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, d + sizes[i]), 0);
    }
    /* a copy bigger than one step (slice) still completes in one run */
    {
        uint64_t pa = alloc_pa(&t, 4 << 20, 2 << 20);
        uint64_t pb = alloc_pa(&t, 4 << 20, 2 << 20);

        map_leaf(&t, 0, 0x200000, pa, 2, 0);
        map_leaf(&t, 0, 0x400000, pa + (2 << 20), 2, 0);
        map_leaf(&t, 0, 0x100000 * 8, pb, 2, SVMGPU_PTE_WRITABLE);
        map_leaf(&t, 0, 0x100000 * 10, pb + (2 << 20), 2, SVMGPU_PTE_WRITABLE);
        memset(pa_ptr(&t, pa), 0x5a, 3 << 20);
        c = cmd_copy(0x800000, 0x200000, 3 << 20);
        submit(&t, 0, &c);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        ASSERT_EQ(((uint8_t *)pa_ptr(&t, pb))[(3 << 20) - 1], 0x5a);
        ASSERT_EQ(((uint8_t *)pa_ptr(&t, pb))[3 << 20], 0);
    }
    td_fini(&t);
}

/*
 * hw-spec §8: a COPY of overlapping ranges behaves as if copied in 4
 * KiB-aligned forward chunks, on 2 MiB leaves as on 4 KiB ones, mapped or
 * through the bounce buffer.  Before,
 * a 2 MiB leaf on both sides was one memmove() (backwards where dst is
 * above src) and gave other bytes than 4 KiB pages did.
 */
static void ref_overlap_copy(uint8_t *m, uint64_t d, uint64_t s, uint64_t n)
{
    uint64_t done = 0, k;

    while (done < n) {
        k = n - done;
        if (k > 4096 - ((d + done) & 4095)) {
            k = 4096 - ((d + done) & 4095);
        }
        if (k > 4096 - ((s + done) & 4095)) {
            k = 4096 - ((s + done) & 4095);
        }
        memmove(m + d + done, m + s + done, k);
        done += k;
    }
}

TEST(overlapping_copy_is_the_same_on_huge_and_small_pages)
{
    static const struct { uint64_t s, d, n; } cases[] = {
        { 0x123, 0x123 + 1000, 20000 },     /* dst above src */
        { 0x2000, 0x2000 + 4096, 16384 },   /* a page apart */
        { 0x1500, 0x25, 12000 },            /* dst below src */
    };
    const uint64_t small = 0x10000, huge = 0x200000;
    static uint8_t ref[0x8000];
    SvmgpuCoreConfig cfg;
    TestDev t, nm;
    struct svmgpu_cmd c;
    unsigned i, j;

    setup(&t);
    map_leaf(&t, 0, huge, alloc_pa(&t, 2 << 20, 2 << 20), 2,
             SVMGPU_PTE_WRITABLE);
    /* and through the bounce buffer (memory that cannot be mapped) */
    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    td_init_ops(&nm, &cfg, &td_ops_nomap);
    ctx_create(&nm, 0);
    queue_setup(&nm, 0, 0, 16);
    map_leaf(&nm, 0, huge, alloc_pa(&nm, 2 << 20, 2 << 20), 2,
             SVMGPU_PTE_WRITABLE);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (j = 0; j < sizeof(ref); j++) {
            ref[j] = j * 31 + i;
            *(uint8_t *)va_ptr(&t, 0, small + j) = ref[j];
            *(uint8_t *)va_ptr(&t, 0, huge + j) = ref[j];
            *(uint8_t *)va_ptr(&nm, 0, huge + j) = ref[j];
        }
        ref_overlap_copy(ref, cases[i].d, cases[i].s, cases[i].n);
        c = cmd_copy(small + cases[i].d, small + cases[i].s, cases[i].n);
        submit(&t, 0, &c);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        c = cmd_copy(huge + cases[i].d, huge + cases[i].s, cases[i].n);
        submit(&t, 0, &c);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        submit(&nm, 0, &c);
        ASSERT_EQ(compl(&nm, 0)->err_code, 0);
        for (j = 0; j < sizeof(ref); j++) {
            ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, small + j), ref[j]);
            ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, huge + j), ref[j]);
            ASSERT_EQ(*(uint8_t *)va_ptr(&nm, 0, huge + j), ref[j]);
        }
    }
    td_fini(&nm);
    td_fini(&t);
}

/*
 * A FILL of npages pages at va, page k at RAM page pg0 + k * stride
 * (stride may be negative), with ops; returns the TestDev for checks.
 */
static void fill_scattered(TestDev *t, const SvmgpuCoreOps *ops,
                           uint64_t pg0, int stride, unsigned npages)
{
    SvmgpuCoreConfig cfg;
    struct svmgpu_cmd c;
    unsigned k;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;                    /* one 64 MiB window over the RAM */
    td_init_ops(t, &cfg, ops);
    ctx_create(t, 0);
    queue_setup(t, 0, 0, 16);
    for (k = 0; k < npages; k++) {
        map_leaf(t, 0, 0x100000 + k * 0x1000ull,
                 RAM_BASE + (pg0 + (int64_t)k * stride) * 0x1000, 1,
                 SVMGPU_PTE_WRITABLE);
    }
    /* starts and ends mid-page */
    c = cmd_fill(0x100010, npages * 0x1000ull - 0x20, 0x5a, 1);
    submit(t, 0, &c);
    ASSERT_EQ(compl(t, 0)->err_code, 0);
    for (k = 0; k < npages; k++) {
        ASSERT_EQ(*(uint8_t *)va_ptr(t, 0, 0x100010 + k * 0x1000ull), 0x5a);
    }
}

/*
 * What the engines wrote through a 64 MiB window is reported as the pages
 * written, not as the span from the first to the last (under TCG, QEMU
 * drops the translated code of every page reported).  40 pages, every
 * other RAM page (a merge of pages two apart would show): more runs than a
 * window keeps, so some are reported before the release.
 */
TEST(fill_reports_the_pages_written_not_the_span)
{
    const uint64_t pg0 = 0x800;         /* RAM pages 0x800.. are unused */
    TestDev t;
    uint64_t pg;

    fill_scattered(&t, &td_ops, pg0, 2, 40);
    for (pg = pg0 - 4; pg < pg0 + 40 * 2 + 4; pg++) {
        ASSERT_EQ(t.written[pg], pg >= pg0 && (pg - pg0) % 2 == 0 &&
                  pg < pg0 + 40 * 2);
    }
    ASSERT_GE(atomic_load(&t.dirties), 40);
    ASSERT_EQ(atomic_load(&t.maps), 0);
    td_fini(&t);

    /* pages in descending order, next to each other: one run */
    fill_scattered(&t, &td_ops, pg0 + 100, -1, 40);
    for (pg = pg0 + 50; pg < pg0 + 110; pg++) {
        ASSERT_EQ(t.written[pg], pg > pg0 + 60 && pg <= pg0 + 100);
    }
    ASSERT_EQ(atomic_load(&t.dirties), 1);
    td_fini(&t);
}

/* Without ops->dirty, unmap() reports the span: every written page in it. */
TEST(fill_without_dirty_op_reports_the_span)
{
    const uint64_t pg0 = 0x800;
    SvmgpuCoreOps ops = td_ops;
    TestDev t;
    uint64_t pg;

    ops.dirty = NULL;
    fill_scattered(&t, &ops, pg0, 2, 40);
    for (pg = pg0 - 4; pg < pg0 + 40 * 2 + 4; pg++) {
        ASSERT_EQ(t.written[pg], pg >= pg0 && pg <= pg0 + 39 * 2);
    }
    ASSERT_EQ(atomic_load(&t.dirties), 0);
    td_fini(&t);
}

/* The bounce-buffer path, for environments without map(). */
TEST(copy_without_map)
{
    SvmgpuCoreConfig cfg;
    TestDev t;
    struct svmgpu_cmd c;
    unsigned i;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    td_init_ops(&t, &cfg, &td_ops_nomap);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    map_range(&t, 0, 0x10000, 0x8000, SVMGPU_PTE_WRITABLE);
    for (i = 0; i < 0x3000; i++) {
        *(uint8_t *)va_ptr(&t, 0, 0x10000 + i) = i * 3;
    }
    c = cmd_copy(0x14801, 0x10000, 0x3000);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, 0);
    for (i = 0; i < 0x3000; i++) {
        ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, 0x14801 + i), (uint8_t)(i * 3));
    }
    map_leaf(&t, 0, 0x50000, 0x1000, 1, SVMGPU_PTE_WRITABLE);
    c = cmd_copy(0x50000, 0x10000, 8);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_DMA);
    td_fini(&t);
}

TEST(fill_widths)
{
    TestDev t;
    struct svmgpu_cmd c;
    unsigned w;

    setup(&t);
    for (w = 1; w <= 8; w *= 2) {
        uint64_t pattern = 0x0807060504030201ull;
        unsigned i;

        memset(va_ptr(&t, 0, 0x10000), 0xee, 0x1000);
        memset(va_ptr(&t, 0, 0x11000), 0xee, 0x1000);
        c = cmd_fill(0x11000 - 8, 8 + 8 * w, pattern, w);
        submit(&t, 0, &c);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        for (i = 0; i < 8 + 8 * w; i++) {
            ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, 0x11000 - 8 + i),
                      (uint8_t)(1 + i % w));
        }
        ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, 0x11000 + 8 * w), 0xee);
        ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, 0x11000 - 9), 0xee);
    }
    /* bad width / misaligned */
    c = cmd_fill(0x10000, 16, 0, 3);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    c = cmd_fill(0x10002, 16, 0, 4);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    ASSERT_EQ(compl(&t, 0)->err_seq, c.hdr.seq);
    td_fini(&t);
}

static struct svmgpu_cmd cmd_atomic(uint64_t va, unsigned op, unsigned size,
                                    uint64_t operand, uint64_t compare,
                                    uint64_t result_va)
{
    struct svmgpu_cmd c;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_ATOMIC;
    c.atomic.va = va;
    c.atomic.op = op;
    c.atomic.size = size;
    c.atomic.operand = operand;
    c.atomic.compare = compare;
    c.atomic.result_va = result_va;
    return c;
}

TEST(atomics_32_and_64)
{
    static const struct {
        unsigned op, size;
        uint64_t init, operand, compare, expect;
    } cases[] = {
        { SVMGPU_ATOMIC_ADD, 4, 0xfffffffeull, 3, 0, 1 },
        { SVMGPU_ATOMIC_ADD, 8, 0xfffffffeull, 3, 0, 0x100000001ull },
        { SVMGPU_ATOMIC_XCHG, 4, 5, 0xabcdef01ull, 0, 0xabcdef01ull },
        { SVMGPU_ATOMIC_XCHG, 8, 5, ~0ull, 0, ~0ull },
        { SVMGPU_ATOMIC_CMPXCHG, 4, 5, 9, 5, 9 },
        { SVMGPU_ATOMIC_CMPXCHG, 4, 5, 9, 6, 5 },
        { SVMGPU_ATOMIC_CMPXCHG, 8, 1ull << 40, 2, 1ull << 40, 2 },
        { SVMGPU_ATOMIC_UMIN, 4, 0x80000000ull, 7, 0, 7 },
        { SVMGPU_ATOMIC_UMAX, 4, 0x80000000ull, 7, 0, 0x80000000ull },
        { SVMGPU_ATOMIC_SMIN, 4, 0x80000000ull, 7, 0, 0x80000000ull },
        { SVMGPU_ATOMIC_SMAX, 4, 0x80000000ull, 7, 0, 7 },
        { SVMGPU_ATOMIC_UMIN, 8, ~0ull, 1, 0, 1 },
        { SVMGPU_ATOMIC_UMAX, 8, ~0ull, 1, 0, ~0ull },
        { SVMGPU_ATOMIC_SMIN, 8, ~0ull, 1, 0, ~0ull },
        { SVMGPU_ATOMIC_SMAX, 8, ~0ull, 1, 0, 1 },
    };
    TestDev t;
    struct svmgpu_cmd c;
    unsigned i;

    setup(&t);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t *p = u64p(&t, 0x12000), *r = u64p(&t, 0x12100);

        p[0] = cases[i].size == 4 ?
               (0x1111111100000000ull | (uint32_t)cases[i].init) :
               cases[i].init;
        *r = 0x5555555555555555ull;
        c = cmd_atomic(0x12000, cases[i].op, cases[i].size, cases[i].operand,
                       cases[i].compare, 0x12100);
        submit(&t, 0, &c);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        if (cases[i].size == 4) {
            ASSERT_EQ(p[0], 0x1111111100000000ull | cases[i].expect);
            ASSERT_EQ(*r, 0x5555555500000000ull | (uint32_t)cases[i].init);
        } else {
            ASSERT_EQ(p[0], cases[i].expect);
            ASSERT_EQ(*r, cases[i].init);
        }
    }
    /* no result address */
    c = cmd_atomic(0x12000, SVMGPU_ATOMIC_XCHG, 8, 77, 0, 0);
    submit(&t, 0, &c);
    ASSERT_EQ(*u64p(&t, 0x12000), 77);
    /* malformed: op, size, alignment */
    c = cmd_atomic(0x12000, SVMGPU_ATOMIC_NUM_OPS, 8, 0, 0, 0);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    c = cmd_atomic(0x12000, 0, 2, 0, 0, 0);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    c = cmd_atomic(0x12004, 0, 8, 0, 0, 0);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    td_fini(&t);
}

TEST(signal_wait_timestamp)
{
    TestDev t;
    struct svmgpu_cmd c, w;

    setup(&t);
    /* WAIT on queue 1 until queue 0 signals */
    memset(&w, 0, sizeof(w));
    w.hdr.opcode = SVMGPU_CMD_WAIT;
    w.wait.va = 0x13000;
    w.wait.value = 5;
    w.wait.mask = ~0ull;
    w.wait.cond = SVMGPU_WAIT_GE_SEQ;
    submit(&t, 1, &w);
    ASSERT_TRUE(qstatus(&t, 1) & SVMGPU_Q_STATUS_WAITING);
    ASSERT_FALSE(qstatus(&t, 1) & SVMGPU_Q_STATUS_IDLE);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_IDLE);
    c = cmd_signal(0x13000, 4);
    submit(&t, 0, &c);
    ASSERT_TRUE(qstatus(&t, 1) & SVMGPU_Q_STATUS_WAITING);
    c = cmd_signal(0x13000, 6);
    c.hdr.flags = SVMGPU_CMD_FLAG_IRQ;
    submit(&t, 0, &c);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 1);
    ASSERT_EQ(compl(&t, 1)->seq, w.hdr.seq);
    ASSERT_FALSE(qstatus(&t, 1) & SVMGPU_Q_STATUS_WAITING);

    /* each condition */
    {
        static const struct { uint32_t cond; uint64_t v, val, mask; } ok[] = {
            { SVMGPU_WAIT_EQ, 0x1ff, 0xff, 0xff },
            { SVMGPU_WAIT_NE, 3, 4, ~0ull },
            { SVMGPU_WAIT_GEU, 10, 10, ~0ull },
            { SVMGPU_WAIT_LTU, 9, 10, ~0ull },
            { SVMGPU_WAIT_GE_SEQ, 2, ~0ull - 3, ~0ull },   /* wrapped */
        };
        unsigned i;

        for (i = 0; i < 5; i++) {
            *u64p(&t, 0x13008) = ok[i].v;
            w.hdr.seq = 0;
            w.wait.va = 0x13008;
            w.wait.cond = ok[i].cond;
            w.wait.value = ok[i].val;
            w.wait.mask = ok[i].mask;
            submit(&t, 1, &w);
            ASSERT_EQ(compl(&t, 1)->seq, w.hdr.seq);
        }
    }
    /* timeout */
    w.hdr.seq = 0;
    w.wait.cond = SVMGPU_WAIT_EQ;
    w.wait.value = 12345;
    w.wait.mask = ~0ull;
    w.wait.timeout_ns = 500;
    submit(&t, 1, &w);
    ASSERT_TRUE(qstatus(&t, 1) & SVMGPU_Q_STATUS_WAITING);
    t.now += 499;
    run(&t);
    ASSERT_TRUE(qstatus(&t, 1) & SVMGPU_Q_STATUS_WAITING);
    t.now += 1;
    run(&t);
    ASSERT_EQ(compl(&t, 1)->err_code, SVMGPU_ERR_WAIT_TIMEOUT);
    ASSERT_EQ(compl(&t, 1)->err_va, 0x13008);
    /* bad condition */
    clear_error(&t, 1);
    w.hdr.seq = 0;
    w.wait.cond = 99;
    submit(&t, 1, &w);
    ASSERT_EQ(compl(&t, 1)->err_code, SVMGPU_ERR_BAD_COMMAND);

    /* TIMESTAMP */
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_TIMESTAMP;
    c.timestamp.va = 0x13010;
    t.now = 987654321;
    submit(&t, 0, &c);
    ASSERT_EQ(*u64p(&t, 0x13010), 987654321);
    ASSERT_EQ(rd(&t, SVMGPU_REG_TIMESTAMP), 987654321);
    /* misaligned SIGNAL / TIMESTAMP */
    c.timestamp.va = 0x13011;
    c.hdr.seq = 0;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    c = cmd_signal(0x13004, 1);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    td_fini(&t);
}

#define I(op, rd, ra, rb, imm) SVMGPU_ISA_ENCODE(SVMGPU_OP_##op, rd, ra, rb, imm)

TEST(launch_vector_add)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t prog[] = {             /* docs/isa.md example */
        I(S2R, 1, 0, 0, SVMGPU_SR_GLOBAL_ID),
        I(S2R, 2, 0, 0, SVMGPU_SR_ARGS),
        I(LD64, 3, 2, 0, 24),
        I(SLTU, 4, 1, 3, 0),
        I(IF, 0, 4, 0, 0),
        I(SHL, 5, 1, 0xff, 2),
        I(LD64, 6, 2, 0, 0),
        I(ADD, 6, 6, 5, 0),
        I(LD32, 7, 6, 0, 0),
        I(LD64, 6, 2, 0, 8),
        I(ADD, 6, 6, 5, 0),
        I(LD32, 8, 6, 0, 0),
        I(ADD, 7, 7, 8, 0),
        I(LD64, 6, 2, 0, 16),
        I(ADD, 6, 6, 5, 0),
        I(ST32, 0, 6, 7, 0),
        I(ENDIF, 0, 0, 0, 0),
        I(EXIT, 0, 0, 0, 0),
    };
    uint64_t *args;
    uint32_t *a, *b, *o;
    unsigned i, n = 1000;

    setup(&t);
    map_range(&t, 0, 0x100000, 0x4000 * 3, SVMGPU_PTE_WRITABLE);
    memcpy(u64p(&t, 0x10000), prog, sizeof(prog));
    args = u64p(&t, 0x11000);
    args[0] = 0x100000;
    args[1] = 0x104000;
    args[2] = 0x108000;
    args[3] = n;
    for (i = 0; i < n; i++) {
        a = va_ptr(&t, 0, 0x100000 + i * 4);
        b = va_ptr(&t, 0, 0x104000 + i * 4);
        *a = i * 3;
        *b = 100000 - i;
    }
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_LAUNCH;
    c.launch.code_va = 0x10000;
    c.launch.args_va = 0x11000;
    c.launch.grid_x = 4;
    c.launch.grid_y = 1;
    c.launch.grid_z = 1;
    c.launch.wg_size = 256;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, 0);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    for (i = 0; i < 1024; i++) {
        o = va_ptr(&t, 0, 0x108000 + i * 4);
        ASSERT_EQ(*o, i < n ? 100000 + 2 * i : 0);
    }
    /* 4 workgroups x 8 waves x 18 instructions */
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INSTRUCTIONS), 32 * 18);
    /* bad launches */
    c.hdr.seq = 0;
    c.launch.wg_size = 257;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    c.hdr.seq = 0;
    c.launch.wg_size = 1;
    c.launch.grid_y = 0;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    c.hdr.seq = 0;
    c.launch.grid_x = c.launch.grid_y = c.launch.grid_z = 0xffffffff;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    c.hdr.seq = 0;
    c.launch.grid_x = c.launch.grid_y = c.launch.grid_z = 1;
    c.launch.code_va = 0x10004;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    td_fini(&t);
}

TEST(malformed_commands)
{
    TestDev t;
    struct svmgpu_cmd c;

    setup(&t);
    /* unknown opcode */
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = 0x55;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_OPCODE);
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_ERROR);
    ASSERT_GE(atomic_load(&t.irqs[SVMGPU_VEC_ERROR]), 1);
    ASSERT_GE(atomic_load(&t.guest_errors), 1);
    clear_error(&t, 0);
    /* reserved header fields / flags / payload */
    c = cmd_copy(0x10000, 0x11000, 8);
    c.hdr.rsvd1 = 1;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    c = cmd_copy(0x10000, 0x11000, 8);
    c.hdr.flags = 0x80;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    c = cmd_copy(0x10000, 0x11000, 8);
    c.copy.rsvd[2] = 1;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_NOP;
    c.raw[3] = 1;
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_BAD_COMMAND);
    clear_error(&t, 0);
    /* VAs beyond 48 bits, ranges wrapping */
    c = cmd_copy(1ull << 48, 0x11000, 8);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_INVALID_VA);
    ASSERT_EQ(compl(&t, 0)->err_va, 1ull << 48);
    clear_error(&t, 0);
    c = cmd_copy(0x10000, (1ull << 48) - 4, 8);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_INVALID_VA);
    clear_error(&t, 0);
    c = cmd_copy(0x10000, 0x11000, ~0ull);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_INVALID_VA);
    clear_error(&t, 0);
    c = cmd_signal(~0ull & ~7ull, 1);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_INVALID_VA);
    clear_error(&t, 0);
    /* a leaf pointing outside RAM: DMA error, not a fault */
    map_leaf(&t, 0, 0x50000, 0x1000, 1, SVMGPU_PTE_WRITABLE);
    c = cmd_copy(0x10000, 0x50000, 8);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_DMA);
    ASSERT_EQ(compl(&t, 0)->err_va, 0x50000);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 0);
    clear_error(&t, 0);
    c = cmd_fill(0x50000, 8, 0, 8);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_DMA);
    clear_error(&t, 0);
    /* context disabled under a queue */
    wr32(&t, SVMGPU_REG_CTX_DISABLE, 0);
    run(&t);
    c = cmd_copy(0x10000, 0x11000, 8);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_CTX_INVALID);
    td_fini(&t);
}

/* Ring overrun, ring/completion DMA failures, bad queue configuration. */
TEST(queue_errors)
{
    TestDev t;
    struct svmgpu_cmd c;

    setup(&t);
    /* doorbell beyond the ring */
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 64);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_BAD_DOORBELL);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL)), 0);
    clear_error(&t, 0);
    /* the driver overruns its own ring: the device runs what it sees */
    c = cmd_signal(0x10000, 1);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);

    /* config writes while enabled are refused */
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SIZE), 4);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SIZE)), 64);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_REG);

    /* bad configurations */
    wr32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_SIZE), 3);
    wr(&t, SVMGPU_REG_Q(2, SVMGPU_Q_BASE), RAM_BASE);
    wr32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_BAD_QUEUE_CONFIG);
    ASSERT_TRUE(qstatus(&t, 2) & SVMGPU_Q_STATUS_ERROR);
    /*
     * CLEAR_ERROR cannot resurrect a bad config, not even once a doorbell
     * beyond the ring (ignored on a halted queue) tried to replace the
     * error; the doorbell is harmless: nothing is fetched.
     */
    wr32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_TAIL), 1u << 20);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_BAD_QUEUE_CONFIG);
    clear_error(&t, 2);
    ASSERT_TRUE(qstatus(&t, 2) & SVMGPU_Q_STATUS_ERROR);
    wr32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_TAIL), 1);
    run(&t);
    ASSERT_TRUE(qstatus(&t, 2) & SVMGPU_Q_STATUS_ERROR);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_HEAD)), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_BAD_QUEUE_CONFIG);
    wr32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_CONTROL), 0);
    wr32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_SIZE), 1u << 20);
    wr32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_BAD_QUEUE_CONFIG);

    /* ring outside RAM */
    wr32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_SIZE), 4);
    wr(&t, SVMGPU_REG_Q(3, SVMGPU_Q_BASE), 0x1000);
    wr32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    wr32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_TAIL), 1);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_RING_DMA);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_HEAD)), 0);

    /* completion record outside RAM: command completes, error flagged */
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_CONTROL), 0);
    wr(&t, SVMGPU_REG_Q(1, SVMGPU_Q_COMPL_ADDR), 0x2000);
    wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
    t.q[1].tail = 0;
    c = cmd_signal(0x10000, 2);
    submit(&t, 1, &c);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(1, SVMGPU_Q_COMPL_SEQ)), c.hdr.seq);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_ERROR_STATUS) &
                SVMGPU_ERROR_COMPLETION_DMA);
    ASSERT_EQ(rd(&t, SVMGPU_REG_ERROR_ADDR), 0x2000);
    ASSERT_FALSE(qstatus(&t, 1) & SVMGPU_Q_STATUS_ERROR);

    /* disabled device: nothing runs */
    wr32(&t, SVMGPU_REG_CONTROL, 0);
    c = cmd_signal(0x10008, 3);
    submit(&t, 0, &c);
    ASSERT_EQ(*u64p(&t, 0x10008), 0);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    run(&t);
    ASSERT_EQ(*u64p(&t, 0x10008), 3);
    td_fini(&t);
}

/* The same work on engine threads: several queues in parallel. */
TEST_TIMEOUT(60)
TEST(threaded_engines)
{
    SvmgpuCoreConfig cfg;
    TestDev t;
    struct svmgpu_cmd c;
    unsigned q, i, done;

    svmgpu_core_default_config(&cfg);
    cfg.num_engines = 3;
    td_init_cfg(&t, &cfg);
    ctx_create(&t, 0);
    map_range(&t, 0, 0x10000, 0x10000, SVMGPU_PTE_WRITABLE);
    td_start_threads(&t, cfg.num_engines);
    for (q = 0; q < 8; q++) {
        queue_setup(&t, q, 0, 64);
        for (i = 0; i < 40; i++) {
            memset(&c, 0, sizeof(c));
            c.hdr.opcode = SVMGPU_CMD_ATOMIC;
            c.atomic.va = 0x10000;
            c.atomic.size = 8;
            c.atomic.op = SVMGPU_ATOMIC_ADD;
            c.atomic.operand = 1;
            c.hdr.seq = q * 1000 + i + 1;
            push(&t, q, &c);
        }
        doorbell(&t, q);
    }
    for (i = 0; i < 40000; i++) {
        for (q = 0, done = 0; q < 8; q++) {
            done += __atomic_load_n(&compl(&t, q)->seq, __ATOMIC_ACQUIRE) ==
                    q * 1000 + 40;
        }
        if (done == 8) {
            break;
        }
        usleep(500);
    }
    ASSERT_EQ(done, 8);
    ASSERT_EQ(*u64p(&t, 0x10000), 8 * 40);
    /* paused (VM stopped): nothing runs until resumed */
    svmgpu_core_pause(t.core, true);
    c = cmd_signal(0x10008, 11);
    push(&t, 0, &c);
    doorbell(&t, 0);
    usleep(50000);
    ASSERT_EQ(__atomic_load_n(u64p(&t, 0x10008), __ATOMIC_ACQUIRE), 0);
    svmgpu_core_pause(t.core, false);
    for (i = 0; i < 40000 && !__atomic_load_n(u64p(&t, 0x10008),
                                              __ATOMIC_ACQUIRE); i++) {
        usleep(500);
    }
    ASSERT_EQ(*u64p(&t, 0x10008), 11);
    /* reset with threads running */
    svmgpu_core_reset(t.core);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CONTROL), 0);
    td_fini(&t);
}

/*
 * An environment whose MMIO callers hold a lock of their own that DMA may
 * also need (QEMU behind a vIOMMU: the BQL).  Engines take it inside the
 * dma/map ops; the core never releases it and never waits for a step.
 */
static pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
static __thread bool outer_held;
static atomic_uint outer_takes_by_engines;

static bool outer_take(void)
{
    if (outer_held) {
        return false;
    }
    pthread_mutex_lock(&outer);
    outer_held = true;
    return true;
}

static void outer_drop(void)
{
    outer_held = false;
    pthread_mutex_unlock(&outer);
}

/* After an engine's DMA op: drop the outer lock if outer_take() took it. */
static void dma_outer_exit(bool took)
{
    if (took) {
        atomic_fetch_add(&outer_takes_by_engines, 1);
        outer_drop();
    }
}

static int ol_dma_read(void *o, uint64_t addr, void *buf, uint64_t len)
{
    bool took = outer_take();
    int rc = td_dma_read(o, addr, buf, len);

    dma_outer_exit(took);
    return rc;
}

static int ol_dma_write(void *o, uint64_t addr, const void *buf, uint64_t len)
{
    bool took = outer_take();
    int rc = td_dma_write(o, addr, buf, len);

    dma_outer_exit(took);
    return rc;
}

static void *ol_map(void *o, uint64_t addr, uint64_t *len, bool is_write)
{
    bool took = outer_take();
    void *p = td_map(o, addr, len, is_write);

    dma_outer_exit(took);
    return p;
}

static const SvmgpuCoreOps ol_ops = {
    .dma_read = ol_dma_read,
    .dma_write = ol_dma_write,
    .map = ol_map,
    .unmap = td_unmap,
    .irq = td_irq,
    .now_ns = td_now,
    .guest_error = td_guest_error,
};

/*
 * Queue re-enable, pause and reset while their caller holds the outer lock
 * the engines' steps need: none of them waits for a step (so no deadlock,
 * and the lock is never released behind the caller's back), and the
 * device still works afterwards.
 */
TEST_TIMEOUT(60)
TEST(outer_lock_held_across_reset_reenable_and_pause)
{
    SvmgpuCoreConfig cfg;
    TestDev t;
    struct svmgpu_cmd c;
    unsigned round, i;
    uint64_t seq = 0;

    svmgpu_core_default_config(&cfg);
    cfg.num_engines = 2;
    cfg.map_window = 0;                 /* a map per page, as behind a vIOMMU */
    td_init_ops(&t, &cfg, &ol_ops);
    ctx_create(&t, 0);
    map_range(&t, 0, 0x100000, 1 << 20, 0);
    map_range(&t, 0, 0x200000, 1 << 20, SVMGPU_PTE_WRITABLE);
    queue_setup(&t, 0, 0, 64);
    td_start_threads(&t, cfg.num_engines);
    for (round = 0; round < 60; round++) {
        unsigned before = atomic_load(&outer_takes_by_engines);

        for (i = 0; i < 8; i++) {
            c = cmd_copy(0x200000, 0x100000, 1 << 20);
            push(&t, 0, &c);
        }
        doorbell(&t, 0);
        for (i = 0; i < 10000 &&
             atomic_load(&outer_takes_by_engines) == before; i++) {
            usleep(10);
        }
        outer_take();                   /* an MMIO access begins */
        switch (round % 3) {
        case 0:                         /* re-enable a queue mid-step */
            wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), 0);
            wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
                 SVMGPU_Q_CONTROL_ENABLE);
            t.q[0].tail = 0;
            break;
        case 1:                         /* VM stop and continue */
            svmgpu_core_pause(t.core, true);
            svmgpu_core_pause(t.core, false);
            break;
        case 2:                         /* device reset, then set up again */
            wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
            wr(&t, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE_PA);
            wr32(&t, SVMGPU_REG_CTX_TABLE_ENTRIES, 1024);
            wr(&t, SVMGPU_REG_FAULT_RING_BASE, FAULT_RING_PA);
            wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
            wr32(&t, SVMGPU_REG_CTX_ENABLE, 0);
            wr(&t, SVMGPU_REG_Q(0, SVMGPU_Q_BASE), t.q[0].ring);
            wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SIZE), t.q[0].size);
            wr(&t, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_ADDR), t.q[0].compl);
            wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
                 SVMGPU_Q_CONTROL_ENABLE);
            t.q[0].tail = 0;
            break;
        }
        outer_drop();
    }
    ASSERT_GT(atomic_load(&outer_takes_by_engines), 60);
    /* still a working device */
    memset(va_ptr(&t, 0, 0x100000), 0x5a, 4096);
    c = cmd_copy(0x200000, 0x100000, 4096);
    c.hdr.seq = seq = 999999;
    push(&t, 0, &c);
    doorbell(&t, 0);
    for (i = 0; i < 20000 &&
         __atomic_load_n(&compl(&t, 0)->seq, __ATOMIC_ACQUIRE) != seq; i++) {
        usleep(500);
    }
    ASSERT_EQ(compl(&t, 0)->seq, seq);
    ASSERT_EQ(compl(&t, 0)->err_code, 0);
    ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, 0x200fff), 0x5a);
    td_fini(&t);
}

TEST_HARNESS_MAIN
