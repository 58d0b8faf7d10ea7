/*
 * svmgpu core: the scheduling primitives of hw-spec §16 — Q_START,
 * Q_PRIORITY (an engine serves its highest-priority runnable queue),
 * Q_SAVE_ADDR, PREEMPT to a save area and RESUME from it on any hardware
 * queue, and every refusal of a save area.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "test-env.h"

#define DATA_VA     0x100000ull

static void setup(TestDev *t)
{
    td_init(t);
    ctx_create(t, 0);
    map_range(t, 0, DATA_VA, 0x10000, SVMGPU_PTE_WRITABLE);
}

static inline struct svmgpu_cmd cmd_nop(void)
{
    struct svmgpu_cmd c;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_NOP;
    return c;
}

/* Program queue q's ring without enabling it. */
static void queue_program(TestDev *t, unsigned q, uint32_t entries)
{
    t->q[q].ring = alloc_pa(t, entries * 64ull, 4096);
    t->q[q].compl = alloc_pa(t, 64, 64);
    t->q[q].size = entries;
    t->q[q].tail = 0;
    wr(t, SVMGPU_REG_Q(q, SVMGPU_Q_BASE), t->q[q].ring);
    wr32(t, SVMGPU_REG_Q(q, SVMGPU_Q_SIZE), entries);
    wr32(t, SVMGPU_REG_Q(q, SVMGPU_Q_CTX), 0);
    wr(t, SVMGPU_REG_Q(q, SVMGPU_Q_COMPL_ADDR), t->q[q].compl);
}

static void qenable(TestDev *t, unsigned q)
{
    wr32(t, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE);
}

static void qdisable(TestDev *t, unsigned q)
{
    wr32(t, SVMGPU_REG_Q(q, SVMGPU_Q_CONTROL), 0);
}

/* The new registers: reset values, read back, refused while enabled. */
TEST(queue_registers_read_back_and_latch)
{
    TestDev t;

    setup(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CAPS) & SVMGPU_CAPS_PREEMPT,
              SVMGPU_CAPS_PREEMPT);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_VERSION), SVMGPU_VERSION);
    ASSERT_EQ(SVMGPU_VERSION, 0x00010001);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR)), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_PRIORITY)), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_START)), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 0);

    queue_program(&t, 0, 16);
    wr(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR), 0x123456789000ull);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_PRIORITY), 3);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_START), 5);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR)), 0x123456789000ull);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR + 4)), 0x1234);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_PRIORITY)), 3);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_START)), 5);
    /* two 32-bit halves */
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR), 0x2000);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR + 4), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR)), 0x2000);

    qenable(&t, 0);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE);
    /* writes while enabled are ignored with ERROR_STATUS.REG */
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_PRIORITY), 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_REG);
    ASSERT_EQ(rd(&t, SVMGPU_REG_ERROR_ADDR), SVMGPU_REG_Q(0, SVMGPU_Q_PRIORITY));
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_PRIORITY)), 3);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_START), 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_REG);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_START)), 5);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR), 0x4000);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_REG);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR)), 0x2000);
    /* undefined offsets of the queue block stay plain guest errors */
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(&t, SVMGPU_REG_Q(0, 0x58), 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, 0x58)), 0);

    /* reset zeroes them */
    svmgpu_core_reset(t.core);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_SAVE_ADDR)), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_PRIORITY)), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_START)), 0);
    td_fini(&t);
}

/* Enabling starts the ring at Q_START: head = tail = start. */
TEST(q_start_begins_the_ring_at_any_entry)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t *v, last = 0;
    unsigned i;

    setup(&t);
    queue_program(&t, 0, 8);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_START), 6);
    qenable(&t, 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_HEAD)), 6);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL)), 6);
    /* entries 6, 7, 0, 1: the ring wraps as usual */
    t.q[0].tail = 6;
    for (i = 0; i < 4; i++) {
        c = cmd_signal(DATA_VA + 8 * i, 100 + i);
        last = push(&t, 0, &c);
    }
    /* an entry before start must not run */
    c = cmd_signal(DATA_VA + 0x100, 0xbad);
    memcpy(pa_ptr(&t, t.q[0].ring + 5 * 64), &c, 64);
    doorbell(&t, 0);
    run(&t);
    v = va_ptr(&t, 0, DATA_VA);
    for (i = 0; i < 4; i++) {
        ASSERT_EQ(v[i], 100 + i);
    }
    ASSERT_EQ(v[0x20], 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_HEAD)), 2);
    ASSERT_EQ(compl(&t, 0)->seq, last);
    ASSERT_EQ(compl(&t, 0)->head, 2);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_COMMANDS), 4);
    /* re-enabling starts there again */
    qdisable(&t, 0);
    qenable(&t, 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_HEAD)), 6);
    td_fini(&t);
}

/* Each new BAD_QUEUE_CONFIG case of §8, and its neighbours accepted. */
TEST(bad_queue_config_save_addr_priority_start)
{
    static const struct {
        uint64_t save;
        uint32_t prio, start;
        bool bad;
    } cases[] = {
        { 0, 0, 0, false },
        { 0x40001000ull, 3, 15, false },
        { 0x40001800ull, 0, 0, true },     /* save area not 4 KiB aligned */
        { 0x40001008ull, 0, 0, true },
        { 0x1ull, 0, 0, true },
        { 0, 4, 0, true },                 /* priority > 3 */
        { 0, 0xffffffffu, 0, true },
        { 0, 0, 16, true },                /* start >= size */
        { 0, 0, 0x80000000u, true },
    };
    TestDev t;
    unsigned i;

    setup(&t);
    queue_program(&t, 1, 16);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TH_LOG("case %u", i);
        qdisable(&t, 1);
        wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
        wr32(&t, SVMGPU_REG_INTR_STATUS, ~0u);
        wr(&t, SVMGPU_REG_Q(1, SVMGPU_Q_SAVE_ADDR), cases[i].save);
        wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_PRIORITY), cases[i].prio);
        wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_START), cases[i].start);
        qenable(&t, 1);
        if (!cases[i].bad) {
            ASSERT_EQ(qstatus(&t, 1),
                      SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE);
            ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_HEAD)),
                      cases[i].start);
            ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), 0);
            continue;
        }
        ASSERT_EQ(qstatus(&t, 1), SVMGPU_Q_STATUS_ENABLED |
                  SVMGPU_Q_STATUS_IDLE | SVMGPU_Q_STATUS_ERROR);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_ERROR_CODE)),
                  SVMGPU_ERR_BAD_QUEUE_CONFIG);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_QUEUE);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_STATUS),
                  SVMGPU_INTR_ERROR | SVMGPU_INTR_QUEUE(1));
        ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_HEAD)), 0);
        /* a doorbell on the halted queue runs nothing */
        wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_TAIL), 1);
        run(&t);
        ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_COMMANDS), 0);
        /* CLEAR_ERROR does not resurrect it */
        clear_error(&t, 1);
        ASSERT_TRUE(qstatus(&t, 1) & SVMGPU_Q_STATUS_ERROR);
    }
    td_fini(&t);
}

/*
 * Three priority-0 queues saturate engine 0 with long FILLs; a priority-2
 * queue on the same engine submitted afterwards runs at the engine's next
 * step, although the round-robin cursor points at a low queue (without
 * priorities queue 6 would run first).
 */
TEST(priority_queue_overtakes_saturating_low_queues)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t pa, hi_seq;
    unsigned q, i, steps;
    bool more;

    setup(&t);
    pa = alloc_pa(&t, 2 << 20, 2 << 20);
    map_leaf(&t, 0, 0x40000000ull, pa, 2, SVMGPU_PTE_WRITABLE);
    /* queues 0, 2, 4, 6 are on engine 0 of 2; queue 0 has priority 2 */
    for (q = 0; q <= 6; q += 2) {
        queue_program(&t, q, 16);
        wr32(&t, SVMGPU_REG_Q(q, SVMGPU_Q_PRIORITY), q == 0 ? 2 : 0);
        qenable(&t, q);
    }
    for (q = 2; q <= 6; q += 2) {
        for (i = 0; i < 4; i++) {
            /* 2 MiB: 2 steps per command */
            c = cmd_fill(0x40000000ull, 2 << 20, q + 1, 8);
            push(&t, q, &c);
        }
        doorbell(&t, q);
    }
    /* queues 2 and 4 take a step each; the cursor is at queue 6 */
    svmgpu_core_run_sync_budget(t.core, 2, &more);
    ASSERT_TRUE(more);
    c = cmd_signal(DATA_VA, 0x77);
    hi_seq = push(&t, 0, &c);
    doorbell(&t, 0);
    steps = svmgpu_core_run_sync_budget(t.core, 1, &more);
    ASSERT_EQ(steps, 1);
    ASSERT_EQ(compl(&t, 0)->seq, hi_seq);
    ASSERT_EQ(*(uint64_t *)va_ptr(&t, 0, DATA_VA), 0x77);
    ASSERT_EQ(compl(&t, 2)->seq, 0);
    ASSERT_EQ(compl(&t, 4)->seq, 0);
    ASSERT_EQ(compl(&t, 6)->seq, 0);
    /* and again while they are busy */
    svmgpu_core_run_sync_budget(t.core, 3, &more);
    c = cmd_signal(DATA_VA, 0x78);
    hi_seq = push(&t, 0, &c);
    doorbell(&t, 0);
    svmgpu_core_run_sync_budget(t.core, 1, &more);
    ASSERT_EQ(compl(&t, 0)->seq, hi_seq);
    /* equal priorities share the engine round-robin: all finish */
    run(&t);
    for (q = 2; q <= 6; q += 2) {
        ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(q, SVMGPU_Q_HEAD)), 4);
    }
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_COMMANDS), 14);
    td_fini(&t);
}

/*
 * A high-priority WAIT is re-evaluated before low-priority work runs:
 * after the SIGNAL that satisfies it, it completes at the next step.
 */
TEST(priority_wait_is_reevaluated_first)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t pa, wseq;
    unsigned i;
    bool more;

    setup(&t);
    pa = alloc_pa(&t, 2 << 20, 2 << 20);
    map_leaf(&t, 0, 0x40000000ull, pa, 2, SVMGPU_PTE_WRITABLE);
    queue_program(&t, 0, 16);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_PRIORITY), 3);
    qenable(&t, 0);
    queue_program(&t, 2, 16);
    qenable(&t, 2);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_WAIT;
    c.wait.va = DATA_VA;
    c.wait.value = 5;
    c.wait.mask = ~0ull;
    c.wait.cond = SVMGPU_WAIT_EQ;
    wseq = push(&t, 0, &c);
    doorbell(&t, 0);
    run(&t);
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_WAITING);
    for (i = 0; i < 4; i++) {
        c = cmd_fill(0x40000000ull, 2 << 20, i, 8);
        push(&t, 2, &c);
    }
    doorbell(&t, 2);
    svmgpu_core_run_sync_budget(t.core, 1, &more);
    *(uint64_t *)va_ptr(&t, 0, DATA_VA) = 5;
    /* a doorbell re-evaluates WAITs (the CPU wrote the value) */
    doorbell(&t, 2);
    svmgpu_core_run_sync_budget(t.core, 1, &more);
    ASSERT_EQ(compl(&t, 0)->seq, wseq);
    ASSERT_EQ(compl(&t, 2)->seq, 0);
    run(&t);
    td_fini(&t);
}

TEST_HARNESS_MAIN
