/*
 * svmgpu core: the scheduling primitives of hw-spec §16 — Q_START,
 * Q_PRIORITY (an engine serves its highest-priority runnable queue),
 * Q_SAVE_ADDR, PREEMPT to a save area and RESUME from it on any hardware
 * queue, and every refusal of a save area.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <sched.h>
#include <stddef.h>
#include <unistd.h>

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
    ASSERT_EQ(SVMGPU_VERSION, 0x00010002);
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

/* ------------------------------------------------------------------
 * PREEMPT and RESUME (§16.1)
 */

#define I(op, rd, ra, rb, imm) SVMGPU_ISA_ENCODE(SVMGPU_OP_##op, rd, ra, rb, imm)
#define IMM     0xff
#define CODE    0x200000ull     /* kernels, read-only */
#define ARGS    0x210000ull     /* 4 pages: counters; ARGS + 0x1000 faults */
#define OUTV    0x220000ull     /* 64 KiB of kernel output */
#define SRC     0x40000000ull   /* 4 MiB, 2 MiB leaves */
#define DST     0x40400000ull   /* 4 MiB, 2 MiB leaves */

static uint64_t *u64(TestDev *t, uint64_t va)
{
    return va_ptr(t, 0, va);
}

static struct svmgpu_save_area *area(TestDev *t, uint64_t pa)
{
    return pa_ptr(t, pa);
}

/* Program hardware queue hw with ring r's ring, record and save area. */
static void program(TestDev *t, unsigned hw, unsigned r, uint64_t save,
                    uint32_t start)
{
    wr(t, SVMGPU_REG_Q(hw, SVMGPU_Q_BASE), t->q[r].ring);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_SIZE), t->q[r].size);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_CTX), 0);
    wr(t, SVMGPU_REG_Q(hw, SVMGPU_Q_COMPL_ADDR), t->q[r].compl);
    wr(t, SVMGPU_REG_Q(hw, SVMGPU_Q_SAVE_ADDR), save);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_START), start);
}

/* A ring r on hardware queue r with a save area; returns the area. */
static uint64_t ring_setup(TestDev *t, unsigned r, uint32_t entries)
{
    uint64_t save = alloc_pa(t, SVMGPU_SAVE_AREA_SIZE, 4096);

    queue_program(t, r, entries);
    wr(t, SVMGPU_REG_Q(r, SVMGPU_Q_SAVE_ADDR), save);
    qenable(t, r);
    return save;
}

/* PREEMPT hardware queue hw and let the engine save it. */
static void preempt(TestDev *t, unsigned hw)
{
    bool more;

    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_PREEMPT);
    svmgpu_core_run_sync_budget(t->core, 1, &more);
}

/* RESUME ring r on hardware queue hw from @save, and ring its doorbell. */
static void resume_on(TestDev *t, unsigned hw, unsigned r, uint64_t save)
{
    program(t, hw, r, save, area(t, save)->head);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_RESUME);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_TAIL), t->q[r].tail);
}

/* An idle queue: kind NONE, then the ring goes on on another queue. */
TEST(preempt_idle_queue_and_resume_elsewhere)
{
    TestDev t;
    struct svmgpu_cmd c;
    struct svmgpu_save_area *a;
    uint64_t save, seq;

    setup(&t);
    save = ring_setup(&t, 1, 16);
    c = cmd_signal(DATA_VA, 1);
    seq = submit(&t, 1, &c);
    memset(area(&t, save), 0xee, SVMGPU_SAVE_AREA_SIZE);
    wr32(&t, SVMGPU_REG_INTR_STATUS, ~0u);
    wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_PREEMPT);
    /* pending until the engine saves it */
    ASSERT_EQ(qstatus(&t, 1), SVMGPU_Q_STATUS_ENABLED |
              SVMGPU_Q_STATUS_PREEMPT_PENDING);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_IDLE, 0);
    run(&t);
    ASSERT_EQ(qstatus(&t, 1), SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_PREEMPTED);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_CONTROL)), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_HEAD)), 1);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(1, SVMGPU_Q_COMPL_SEQ)), seq);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_STATUS), SVMGPU_INTR_QUEUE(1));
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(1)]), 1);
    a = area(&t, save);
    ASSERT_EQ(a->magic, SVMGPU_SAVE_MAGIC);
    ASSERT_EQ(a->version, SVMGPU_SAVE_VERSION);
    ASSERT_EQ(a->kind, SVMGPU_SAVE_NONE);
    ASSERT_EQ(a->head, 1);
    ASSERT_EQ(a->queue, 1);
    ASSERT_EQ(a->compl_seq, seq);
    ASSERT_EQ(a->rsvd0, 0);
    ASSERT_EQ(a->cmd.hdr.opcode, 0);
    ASSERT_EQ(a->progress, 0);
    /* 176 bytes written, the waves left alone */
    ASSERT_EQ(((uint8_t *)a)[offsetof(struct svmgpu_save_area, waves)], 0xee);
    /* PREEMPT without ENABLE is a disable: nothing more */
    wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_PREEMPT);
    run(&t);
    ASSERT_EQ(qstatus(&t, 1), SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_PREEMPTED);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 1);

    /* the ring resumes on queue 5 at head 1; Q_COMPL_SEQ comes back */
    c = cmd_signal(DATA_VA + 8, 2);
    seq = push(&t, 1, &c);
    resume_on(&t, 5, 1, save);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(5, SVMGPU_Q_HEAD)), 1);
    ASSERT_EQ(qstatus(&t, 5) & SVMGPU_Q_STATUS_IDLE, 0);
    run(&t);
    ASSERT_EQ(*u64(&t, DATA_VA + 8), 2);
    ASSERT_EQ(compl(&t, 1)->seq, seq);
    ASSERT_EQ(compl(&t, 1)->head, 2);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(5, SVMGPU_Q_COMPL_SEQ)), seq);
    ASSERT_EQ(qstatus(&t, 5), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE);
    /* the old queue's PREEMPTED clears at its next enable */
    ASSERT_TRUE(qstatus(&t, 1) & SVMGPU_Q_STATUS_PREEMPTED);
    qenable(&t, 1);
    ASSERT_EQ(qstatus(&t, 1), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE);
    td_fini(&t);
}

/* Requests that are ignored or refused, and a disable cancelling one. */
TEST(preempt_ignored_refused_and_cancelled)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t save;

    setup(&t);
    /* no save area: ignored with ERROR_STATUS.REG */
    queue_program(&t, 0, 16);
    qenable(&t, 0);
    preempt(&t, 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_REG);
    ASSERT_EQ(rd(&t, SVMGPU_REG_ERROR_ADDR), SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL));
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    /* disabled: nothing (PREEMPT with ENABLE 0 is a disable) */
    save = ring_setup(&t, 2, 16);
    qdisable(&t, 2);
    wr32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_PREEMPT);
    run(&t);
    ASSERT_EQ(qstatus(&t, 2), SVMGPU_Q_STATUS_IDLE);
    /* halted in ERROR: nothing */
    qenable(&t, 2);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = 0x7f;
    submit(&t, 2, &c);
    ASSERT_TRUE(qstatus(&t, 2) & SVMGPU_Q_STATUS_ERROR);
    preempt(&t, 2);
    ASSERT_FALSE(qstatus(&t, 2) & (SVMGPU_Q_STATUS_PREEMPT_PENDING |
                                   SVMGPU_Q_STATUS_PREEMPTED));
    /* a disable cancels a pending one (the queue is hung meanwhile) */
    clear_error(&t, 2);
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 1u << 2);
    preempt(&t, 2);
    ASSERT_TRUE(qstatus(&t, 2) & SVMGPU_Q_STATUS_PREEMPT_PENDING);
    qdisable(&t, 2);
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 0);
    run(&t);
    ASSERT_EQ(qstatus(&t, 2), SVMGPU_Q_STATUS_IDLE);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 0);
    ASSERT_EQ(area(&t, save)->magic, 0);
    td_fini(&t);
}

/*
 * A hung queue (INJ_HANG_QUEUES) never reaches a safe point; a fatal
 * device error does not keep healthy queues from being saved.
 */
TEST(preempt_hung_queue_waits_fatal_device_saves)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t s0, s2;

    setup(&t);
    s0 = ring_setup(&t, 0, 16);
    s2 = ring_setup(&t, 2, 16);
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 1u << 0);
    c = cmd_signal(DATA_VA, 1);
    submit(&t, 0, &c);
    preempt(&t, 0);
    run(&t);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED |
              SVMGPU_Q_STATUS_PREEMPT_PENDING);
    ASSERT_EQ(area(&t, s0)->magic, 0);
    wr32(&t, SVMGPU_REG_INJ_FATAL, 1);
    c = cmd_signal(DATA_VA + 8, 1);
    submit(&t, 2, &c);
    ASSERT_EQ(*u64(&t, DATA_VA + 8), 0);    /* no engine step runs */
    preempt(&t, 2);
    ASSERT_EQ(qstatus(&t, 2), SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_PREEMPTED);
    ASSERT_EQ(area(&t, s2)->kind, SVMGPU_SAVE_NONE);
    ASSERT_EQ(area(&t, s2)->head, 0);       /* the SIGNAL is still to run */
    ASSERT_EQ(*u64(&t, DATA_VA + 8), 0);
    /* the hang released: queue 0 is saved with its command not begun */
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 0);
    run(&t);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_PREEMPTED);
    ASSERT_EQ(area(&t, s0)->head, 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 2);
    td_fini(&t);
}

/* A save area the device cannot write: ERR_SAVE_AREA, command lost. */
TEST(preempt_save_write_fails)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t seq;

    setup(&t);
    queue_program(&t, 3, 16);
    wr(&t, SVMGPU_REG_Q(3, SVMGPU_Q_SAVE_ADDR), 0x1000);   /* not RAM */
    qenable(&t, 3);
    c = cmd_fill(DATA_VA, 0x1000, 0, 8);
    /* a fault stall keeps the command in progress */
    c.fill.dst = 0x900000;
    seq = submit(&t, 3, &c);
    ASSERT_TRUE(qstatus(&t, 3) & SVMGPU_Q_STATUS_FAULT_STALL);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(&t, SVMGPU_REG_INTR_STATUS, ~0u);
    preempt(&t, 3);
    ASSERT_EQ(qstatus(&t, 3), SVMGPU_Q_STATUS_IDLE | SVMGPU_Q_STATUS_ERROR);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_SAVE_AREA);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(3, SVMGPU_Q_ERROR_VA)), 0x1000);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(3, SVMGPU_Q_ERROR_SEQ)), seq);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_QUEUE);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_STATUS),
              SVMGPU_INTR_ERROR | SVMGPU_INTR_QUEUE(3));
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 0);
    ASSERT_EQ(compl(&t, 3)->seq, 0);        /* no completion record */
    td_fini(&t);
}

/*
 * A WAIT keeps the time it has waited; time spent preempted does not
 * count: timeout 1000 ns, 600 before, 10 s preempted, then 300 (no
 * timeout yet) and 200 more (timeout).
 */
TEST(wait_elapsed_time_is_saved)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t save, seq;

    setup(&t);
    save = ring_setup(&t, 0, 16);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_WAIT;
    c.wait.va = DATA_VA;
    c.wait.value = 1;
    c.wait.mask = ~0ull;
    c.wait.timeout_ns = 1000;
    c.wait.cond = SVMGPU_WAIT_EQ;
    seq = submit(&t, 0, &c);
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_WAITING);
    t.now += 600;
    run(&t);
    preempt(&t, 0);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_PREEMPTED);   /* WAITING dropped */
    ASSERT_EQ(area(&t, save)->kind, SVMGPU_SAVE_COMMAND);
    ASSERT_EQ(area(&t, save)->wait_elapsed_ns, 600);
    ASSERT_EQ(area(&t, save)->cmd.hdr.seq, seq);
    t.now += 10000000000ull;
    resume_on(&t, 6, 0, save);
    run(&t);
    ASSERT_TRUE(qstatus(&t, 6) & SVMGPU_Q_STATUS_WAITING);
    t.now += 300;
    run(&t);
    ASSERT_TRUE(qstatus(&t, 6) & SVMGPU_Q_STATUS_WAITING);
    ASSERT_EQ(compl(&t, 0)->seq, 0);
    t.now += 200;
    run(&t);
    ASSERT_EQ(compl(&t, 0)->seq, seq);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_WAIT_TIMEOUT);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(6, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_WAIT_TIMEOUT);
    td_fini(&t);
}

/*
 * A kernel stalled on a fault is saved with the lanes that completed the
 * faulted atomic in `done`; the stall is dropped (a CANCEL of its fault
 * is ignored), the resumed kernel faults again and, once the page is
 * mapped, applies each lane's atomic exactly once.
 */
TEST(fault_stall_saved_with_done_lanes)
{
    static const uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_LANE_ID),
        I(S2R, 9, 0, 0, SVMGPU_SR_ARGS),
        I(AND, 2, 1, IMM, 16),
        I(SHL, 2, 2, IMM, 8),           /* lanes 16..31: the next page */
        I(ADD, 3, 9, 2, 0),
        I(AND, 4, 1, IMM, 15),
        I(SHL, 4, 4, IMM, 3),
        I(ADD, 3, 3, 4, 0),
        I(MOVI, 5, 0, 0, 1),
        I(ATOM64, 6, 3, 5, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)),
        I(EXIT, 0, 0, 0, 0),
    };
    static const unsigned engines[] = {
        SVMGPU_ENGINE_FAST, SVMGPU_ENGINE_REFERENCE,
    };
    unsigned e, i;

    for (e = 0; e < 2; e++) {
        SvmgpuCoreConfig cfg;
        struct svmgpu_save_area *a;
        struct svmgpu_cmd c;
        uint64_t save, seq;
        uint32_t fseq;
        TestDev t;

        svmgpu_core_default_config(&cfg);
        cfg.sync = true;
        cfg.engine = engines[e];
        td_init_cfg(&t, &cfg);
        ctx_create(&t, 0);
        map_range(&t, 0, CODE, 0x1000, 0);
        map_range(&t, 0, ARGS, 0x1000, SVMGPU_PTE_WRITABLE);
        memcpy(u64(&t, CODE), prog, sizeof(prog));
        save = ring_setup(&t, 0, 16);
        memset(&c, 0, sizeof(c));
        c.hdr.opcode = SVMGPU_CMD_LAUNCH;
        c.launch.code_va = CODE;
        c.launch.args_va = ARGS;
        c.launch.grid_x = c.launch.grid_y = c.launch.grid_z = 1;
        c.launch.wg_size = 32;
        seq = submit(&t, 0, &c);
        ASSERT_EQ(qstatus(&t, 0) & SVMGPU_Q_STATUS_FAULT_STALL,
                  SVMGPU_Q_STATUS_FAULT_STALL);
        ASSERT_EQ(fault_rec(&t, 0)->va, ARGS + 0x1000);
        fseq = fault_rec(&t, 0)->seq;
        preempt(&t, 0);
        ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_IDLE |
                  SVMGPU_Q_STATUS_PREEMPTED);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_FAULT_STALL, 0);
        a = area(&t, save);
        ASSERT_EQ(a->kind, SVMGPU_SAVE_COMMAND);
        ASSERT_EQ(a->cmd.hdr.seq, seq);
        ASSERT_EQ(a->wg_running, 1);
        ASSERT_EQ(a->nwaves, 1);
        ASSERT_EQ(a->waves[0].pc, CODE + 9 * 8);
        ASSERT_EQ(a->waves[0].done, 0xffff);
        ASSERT_EQ(a->waves[0].exec, 0xffffffffu);
        ASSERT_EQ(a->regs[17][2], 0x1000);
        ASSERT_EQ(a->regs[3][5], 1);
        for (i = 0; i < 16; i++) {
            ASSERT_EQ(u64(&t, ARGS)[i], 1);
        }
        /* the dropped stall's CANCEL is stale */
        wr32(&t, SVMGPU_REG_FAULT_GET, 1);
        reply(&t, SVMGPU_FAULT_REPLY_CANCEL_VAL(0, fseq));
        ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_CANCELS), 0);
        /* on queue 4 it faults again: a new record */
        resume_on(&t, 4, 0, save);
        run(&t);
        ASSERT_TRUE(qstatus(&t, 4) & SVMGPU_Q_STATUS_FAULT_STALL);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 2);
        ASSERT_EQ(fault_rec(&t, 1)->queue, 4);
        map_range(&t, 0, ARGS + 0x1000, 0x1000, SVMGPU_PTE_WRITABLE);
        wr32(&t, SVMGPU_REG_FAULT_GET, 2);
        reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
        ASSERT_EQ(compl(&t, 0)->seq, seq);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        for (i = 0; i < 16; i++) {
            ASSERT_EQ(u64(&t, ARGS)[i], 1);
            ASSERT_EQ(u64(&t, ARGS + 0x1000)[i], 1);
        }
        td_fini(&t);
    }
}

/*
 * ATOMIC, SIGNAL and TIMESTAMP stalled on a fault — one of them on a
 * withheld record (RING_FULL_STALL, INJ_STALL_FAULT_RING) — are saved as
 * in progress, resumed on another queue, fault again and, once mapped,
 * take effect exactly once.
 */
TEST(stalled_atomic_signal_timestamp_preempted)
{
    static const uint8_t ops[] = {
        SVMGPU_CMD_ATOMIC, SVMGPU_CMD_SIGNAL, SVMGPU_CMD_TIMESTAMP,
    };
    TestDev t;
    unsigned k, hw = 0, next;
    uint64_t save, va = 0x800000;

    setup(&t);
    save = ring_setup(&t, 0, 16);
    for (k = 0; k < 3; k++, va += 0x1000) {
        struct svmgpu_cmd c;
        uint64_t seq;
        uint32_t put = rd32(&t, SVMGPU_REG_FAULT_PUT);

        memset(&c, 0, sizeof(c));
        c.hdr.opcode = ops[k];
        if (ops[k] == SVMGPU_CMD_ATOMIC) {
            c.atomic.va = DATA_VA + 0x100;
            c.atomic.op = SVMGPU_ATOMIC_ADD;
            c.atomic.size = 8;
            c.atomic.operand = 9;
            c.atomic.result_va = va;    /* faults: nothing applied yet */
        } else if (ops[k] == SVMGPU_CMD_SIGNAL) {
            c.signal.va = va;
            c.signal.value = 0x77;
        } else {
            c.timestamp.va = va;
        }
        if (k == 1) {
            wr32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING, 1);
        }
        seq = push(&t, 0, &c);
        wr32(&t, SVMGPU_REG_Q(hw, SVMGPU_Q_TAIL), t.q[0].tail);
        run(&t);
        ASSERT_TRUE(qstatus(&t, hw) &
                    (k == 1 ? SVMGPU_Q_STATUS_RING_FULL_STALL :
                     SVMGPU_Q_STATUS_FAULT_STALL));
        preempt(&t, hw);
        ASSERT_EQ(qstatus(&t, hw), SVMGPU_Q_STATUS_IDLE |
                  SVMGPU_Q_STATUS_PREEMPTED);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_STATUS) &
                  (SVMGPU_STATUS_FAULT_STALL | SVMGPU_STATUS_FAULT_RING_FULL),
                  0);
        ASSERT_EQ(area(&t, save)->kind, SVMGPU_SAVE_COMMAND);
        ASSERT_EQ(area(&t, save)->cmd.hdr.seq, seq);
        ASSERT_EQ(area(&t, save)->head, k);
        if (k == 1) {
            wr32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING, 0);
        }
        map_range(&t, 0, va, 0x1000, SVMGPU_PTE_WRITABLE);
        next = (hw + 3) % 8;
        resume_on(&t, next, 0, save);
        hw = next;
        run(&t);
        /* the stale translation failure is gone: it completes now */
        ASSERT_EQ(compl(&t, 0)->seq, seq);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), put + (k == 1 ? 0 : 1));
        wr32(&t, SVMGPU_REG_FAULT_GET, rd32(&t, SVMGPU_REG_FAULT_PUT));
    }
    ASSERT_EQ(*u64(&t, DATA_VA + 0x100), 9);        /* added once */
    ASSERT_EQ(*u64(&t, 0x800000), 0);               /* its old value */
    ASSERT_EQ(*u64(&t, 0x801000), 0x77);
    ASSERT_EQ(*u64(&t, 0x802000), t.now);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 3);
    td_fini(&t);
}

/* ---- exactness: the same ring with and without preemption ---- */

/*
 * Each lane of 2 workgroups of 64 lanes adds 1 to a counter eight times
 * and writes its global id at the slot given by the old value: the
 * output is the exact order in which the waves interleaved.
 */
static const uint64_t order_prog[] = {
    I(S2R, 1, 0, 0, SVMGPU_SR_GLOBAL_ID),
    /* odd waves skip one instruction: the waves run apart, no gangs */
    I(S2R, 10, 0, 0, SVMGPU_SR_WAVE_ID),
    I(AND, 10, 10, IMM, 1),
    I(IF, 0, 10, 0, 0),
    I(JMP, 0, 0, 0, 2),
    I(NOP, 0, 0, 0, 0),
    I(ENDIF, 0, 0, 0, 0),
    I(S2R, 9, 0, 0, SVMGPU_SR_ARGS),
    I(MOVI, 2, 0, 0, 1),
    I(MOVI, 5, 0, 0, 8),
    I(MOVI, 6, 0, 0, OUTV),
    I(LOOP, 0, 0, 0, 0),
    I(ATOM64, 3, 9, 2, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)),
    I(SHL, 4, 3, IMM, 3),
    I(ADD, 4, 4, 6, 0),
    I(AND, 7, 1, IMM, 1),
    I(IF, 0, 7, 0, 0),
    I(ST64, 0, 4, 1, 0),
    I(ELSE, 0, 0, 0, 0),
    I(XOR, 8, 1, IMM, 0x55),
    I(ST64, 0, 4, 8, 0),
    I(ENDIF, 0, 0, 0, 0),
    I(SUB, 5, 5, IMM, 1),
    I(SEQ, 7, 5, IMM, 0),
    I(BREAK, 0, 7, 0, 0),
    I(ENDLOOP, 0, 0, 0, 0),
    I(EXIT, 0, 0, 0, 0),
};

/* The lanes 16..31 of each wave's atomic fault on ARGS + 0x1000. */
static const uint64_t fault_prog[] = {
    I(S2R, 1, 0, 0, SVMGPU_SR_LANE_ID),
    I(S2R, 9, 0, 0, SVMGPU_SR_ARGS),
    I(AND, 2, 1, IMM, 16),
    I(SHL, 2, 2, IMM, 8),
    I(ADD, 3, 9, 2, 0),
    I(AND, 4, 1, IMM, 15),
    I(SHL, 4, 4, IMM, 3),
    I(ADD, 3, 3, 4, 0),
    I(ADD, 3, 3, IMM, 0x100),
    I(MOVI, 5, 0, 0, 3),
    I(ATOM64, 6, 3, 5, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)),
    I(ST64, 0, 3, 6, 0x800),
    I(EXIT, 0, 0, 0, 0),
};

/*
 * Every wave in lockstep (the fast engine runs them as gangs): whole-gang
 * loads from SRC and stores to OUTV + 0x8000, 4 rounds of 4 KiB each.
 */
static const uint64_t gang_prog[] = {
    I(S2R, 1, 0, 0, SVMGPU_SR_GLOBAL_ID),
    I(SHL, 2, 1, IMM, 3),
    I(ADD, 3, 2, IMM, SRC),
    I(ADD, 4, 2, IMM, OUTV + 0x8000),
    I(MOVI, 5, 0, 0, 4),
    I(LOOP, 0, 0, 0, 0),
    I(LD64, 6, 3, 0, 0),
    I(ADD, 6, 6, 5, 0),
    I(XOR, 6, 6, 1, 0),
    I(ST64, 0, 4, 6, 0),
    I(ADD, 3, 3, IMM, 4096),
    I(ADD, 4, 4, IMM, 4096),
    I(SUB, 5, 5, IMM, 1),
    I(SEQ, 7, 5, IMM, 0),
    I(BREAK, 0, 7, 0, 0),
    I(ENDLOOP, 0, 0, 0, 0),
    I(EXIT, 0, 0, 0, 0),
};

static struct svmgpu_cmd cmd_launch(uint64_t code, uint32_t gx, uint32_t wg)
{
    struct svmgpu_cmd c;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_LAUNCH;
    c.launch.code_va = code;
    c.launch.args_va = ARGS;
    c.launch.grid_x = gx;
    c.launch.grid_y = c.launch.grid_z = 1;
    c.launch.wg_size = wg;
    return c;
}

typedef struct Mix {
    TestDev t;
    uint64_t save;
    unsigned hw;            /* hardware queue ring 0 runs on */
    unsigned preemptions, stall_preemptions;
    unsigned wait_preemptions;  /* of a queue in a WAIT not satisfied */
    unsigned wait_rounds;       /* runs that left the ring WAITING */
} Mix;

/* The WAIT the CPU satisfies after the ring waited 3 engine runs. */
#define MIX_WAIT_VA     (DATA_VA + 32)
#define MIX_WAIT_ROUNDS 3

/* A device and ring 0 holding a mix of every command. */
static void mix_setup(Mix *m, unsigned engine, bool rebuild_fault_page)
{
    TestDev *t = &m->t;
    SvmgpuCoreConfig cfg;
    struct svmgpu_cmd c;
    uint64_t pa;
    unsigned i;

    memset(m, 0, sizeof(*m));
    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.engine = engine;
    cfg.isa_slice = 3;
    td_init_cfg(t, &cfg);
    ctx_create(t, 0);
    map_range(t, 0, DATA_VA, 0x1000, SVMGPU_PTE_WRITABLE);
    map_range(t, 0, CODE, 0x2000, 0);
    map_range(t, 0, ARGS, 0x1000, SVMGPU_PTE_WRITABLE);
    map_range(t, 0, OUTV, 0x10000, SVMGPU_PTE_WRITABLE);
    pa = alloc_pa(t, 8 << 20, 2 << 20);
    map_leaf(t, 0, SRC, pa, 2, 0);
    map_leaf(t, 0, SRC + (2 << 20), pa + (2 << 20), 2, 0);
    map_leaf(t, 0, DST, pa + (4 << 20), 2, SVMGPU_PTE_WRITABLE);
    map_leaf(t, 0, DST + (2 << 20), pa + (6 << 20), 2, SVMGPU_PTE_WRITABLE);
    for (i = 0; i < (4 << 20) / 8; i++) {
        ((uint64_t *)pa_ptr(t, pa))[i] = i * 0x9e3779b97f4a7c15ull;
    }
    memcpy(u64(t, CODE), order_prog, sizeof(order_prog));
    memcpy(u64(t, CODE + 0x1000), fault_prog, sizeof(fault_prog));
    memcpy(u64(t, CODE + 0x800), gang_prog, sizeof(gang_prog));
    (void)rebuild_fault_page;
    m->save = ring_setup(t, 0, 64);

    c = cmd_copy(DST + 5, SRC + 3, (3 << 20) + 77);      /* 4 steps */
    push(t, 0, &c);
    c = cmd_fill(DST + (2 << 20) + 8, (1 << 20) + 4096 + 24, 0xa1b2c3d4, 4);
    push(t, 0, &c);
    c = cmd_signal(DATA_VA, 7);
    c.hdr.flags = SVMGPU_CMD_FLAG_IRQ;
    push(t, 0, &c);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_WAIT;
    c.wait.va = DATA_VA;
    c.wait.value = 7;
    c.wait.mask = ~0ull;
    c.wait.cond = SVMGPU_WAIT_EQ;
    push(t, 0, &c);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_ATOMIC;
    c.atomic.va = DATA_VA + 8;
    c.atomic.op = SVMGPU_ATOMIC_ADD;
    c.atomic.size = 8;
    c.atomic.operand = 5;
    c.atomic.result_va = DATA_VA + 16;
    push(t, 0, &c);
    /* a WAIT that really waits (the CPU satisfies it later) */
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_WAIT;
    c.wait.va = MIX_WAIT_VA;
    c.wait.value = 9;
    c.wait.mask = ~0ull;
    c.wait.cond = SVMGPU_WAIT_EQ;
    c.wait.timeout_ns = 1000000000;
    push(t, 0, &c);
    c = cmd_launch(CODE, 2, 64);
    push(t, 0, &c);
    c = cmd_launch(CODE + 0x800, 4, 128);
    push(t, 0, &c);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_TIMESTAMP;
    c.timestamp.va = DATA_VA + 24;
    push(t, 0, &c);
    c = cmd_launch(CODE + 0x1000, 3, 64);
    push(t, 0, &c);
    c = cmd_nop();
    push(t, 0, &c);
    c = cmd_copy(DATA_VA + 0x100, OUTV, 0x800);
    push(t, 0, &c);
    doorbell(t, 0);
}

/* PREEMPT the ring and RESUME it on the next hardware queue. */
static void mix_migrate(Mix *m)
{
    TestDev *t = &m->t;
    unsigned next = (m->hw + 1) % 8;
    uint32_t st = qstatus(t, m->hw);

    if ((st & (SVMGPU_Q_STATUS_IDLE | SVMGPU_Q_STATUS_ERROR)) ||
        !(st & SVMGPU_Q_STATUS_ENABLED)) {
        return;
    }
    preempt(t, m->hw);
    ASSERT_EQ(qstatus(t, m->hw), SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_PREEMPTED);
    m->preemptions++;
    m->stall_preemptions += !!(st & SVMGPU_Q_STATUS_FAULT_STALL);
    m->wait_preemptions += !!(st & SVMGPU_Q_STATUS_WAITING);
    resume_on(t, next, 0, m->save);
    m->hw = next;
}

/*
 * Run the ring to its end as a driver would, mapping the pages it faults
 * on; with @preempt, moving it to another hardware queue after every
 * step and once in every fault stall.
 */
static void mix_run(Mix *m, bool preempt_it)
{
    TestDev *t = &m->t;
    unsigned rounds = 0, stalls = 0;
    bool more;

    for (;;) {
        unsigned n = svmgpu_core_run_sync_budget(t->core, 2, &more);
        uint32_t put = rd32(t, SVMGPU_REG_FAULT_PUT);
        uint32_t get = rd32(t, SVMGPU_REG_FAULT_GET);

        ASSERT_LT(++rounds, 1000000u);
        if (put != get) {
            if (preempt_it && stalls < put) {
                stalls = put;
                mix_migrate(m);     /* preempt the stall */
                continue;
            }
            for (; get != put; get++) {
                uint64_t va = fault_rec(t, get)->va & ~0xfffull;

                if (!va_ptr(t, 0, va)) {
                    map_range(t, 0, va, 0x1000, SVMGPU_PTE_WRITABLE);
                }
            }
            wr32(t, SVMGPU_REG_FAULT_GET, get);
            wr(t, SVMGPU_REG_FAULT_REPLY, SVMGPU_FAULT_REPLY_REPLAY);
            continue;
        }
        if (!n) {
            break;
        }
        if ((qstatus(t, m->hw) & SVMGPU_Q_STATUS_WAITING) &&
            *u64(t, MIX_WAIT_VA) != 9 &&
            ++m->wait_rounds == MIX_WAIT_ROUNDS) {
            *u64(t, MIX_WAIT_VA) = 9;       /* the CPU, at last */
        }
        if (preempt_it) {
            mix_migrate(m);
        }
    }
}

static void exactness(unsigned engine)
{
    static const uint64_t regions[][2] = {
        { DATA_VA, 0x1000 }, { OUTV, 0x10000 }, { ARGS, 0x1000 },
        { ARGS + 0x1000, 0x1000 }, { DST, 4 << 20 },
    };
    Mix *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    unsigned i;

    mix_setup(a, engine, false);
    mix_run(a, false);
    mix_setup(b, engine, false);
    mix_run(b, true);
    TH_LOG("engine %u: %u preemptions, %u in fault stalls, %u in a "
           "waiting WAIT", engine, b->preemptions, b->stall_preemptions,
           b->wait_preemptions);
    ASSERT_GT(b->preemptions, 100);
    ASSERT_GT(b->stall_preemptions, 0);
    ASSERT_GE(b->wait_preemptions, MIX_WAIT_ROUNDS - 1);
    ASSERT_EQ(a->wait_rounds, MIX_WAIT_ROUNDS);
    ASSERT_EQ(rd(&b->t, SVMGPU_REG_CNT_PREEMPTIONS), b->preemptions);
    /* every command done, none failed */
    ASSERT_EQ(compl(&a->t, 0)->head, 12);
    ASSERT_EQ(compl(&a->t, 0)->err_code, 0);
    ASSERT_EQ(rd(&a->t, SVMGPU_REG_CNT_COMMANDS), 12);
    ASSERT_EQ(rd(&b->t, SVMGPU_REG_CNT_COMMANDS), 12);
    ASSERT_EQ(memcmp(compl(&a->t, 0), compl(&b->t, 0),
                     sizeof(struct svmgpu_completion)), 0);
    ASSERT_EQ(rd(&b->t, SVMGPU_REG_Q(b->hw, SVMGPU_Q_COMPL_SEQ)),
              compl(&a->t, 0)->seq);
    /* the irq of the SIGNAL came once, on whichever queue ran it */
    for (i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
        uint64_t off;

        for (off = 0; off < regions[i][1]; off += 0x1000) {
            const uint8_t *pa_ = va_ptr(&a->t, 0, regions[i][0] + off);
            const uint8_t *pb = va_ptr(&b->t, 0, regions[i][0] + off);

            ASSERT_NOT_NULL(pa_);
            ASSERT_NOT_NULL(pb);
            if (memcmp(pa_, pb, 0x1000)) {
                TH_LOG("region %u offset 0x%llx differs", i,
                       (unsigned long long)off);
                ASSERT_TRUE(false);
            }
        }
    }
    /* and they are what the commands compute */
    ASSERT_EQ(*u64(&a->t, DATA_VA + 8), 5);
    ASSERT_EQ(*u64(&a->t, ARGS), 2 * 64 * 8);
    ASSERT_EQ(u64(&a->t, ARGS + 0x1000)[0x20], 3 * 6);   /* 6 waves */
    ASSERT_EQ(memcmp(va_ptr(&a->t, 0, DST + 5), va_ptr(&a->t, 0, SRC + 3),
                     0x1000), 0);
    /* the gangs' loads and stores: round r, lane g: src + 4 - r, ^ g */
    for (i = 0; i < 4 * 512; i++) {
        uint64_t g = i % 512, r = i / 512;

        ASSERT_EQ(u64(&a->t, OUTV + 0x8000)[i],
                  ((u64(&a->t, SRC)[i] + 4 - r) ^ g));
    }
    td_fini(&a->t);
    td_fini(&b->t);
    free(a);
    free(b);
}

TEST(exactness_fast_engine)
{
    exactness(SVMGPU_ENGINE_FAST);
}

TEST(exactness_reference_engine)
{
    exactness(SVMGPU_ENGINE_REFERENCE);
}

/* ---- RESUME refuses every bad field (§16.1) ---- */

/* Lanes count down a loop, then store their lane id: 40 lanes, 2 waves. */
static const uint64_t loop_prog[] = {
    I(S2R, 1, 0, 0, SVMGPU_SR_LANE_ID),
    I(MOVI, 5, 0, 0, 50),
    I(LOOP, 0, 0, 0, 0),
    I(SUB, 5, 5, IMM, 1),
    I(SEQ, 7, 5, IMM, 0),
    I(BREAK, 0, 7, 0, 0),
    I(ENDLOOP, 0, 0, 0, 0),
    I(S2R, 9, 0, 0, SVMGPU_SR_GLOBAL_ID),
    I(SHL, 2, 9, IMM, 3),
    I(ADD, 2, 2, IMM, OUTV),
    I(ADD, 1, 1, IMM, 1000),
    I(ST64, 0, 2, 1, 0),
    I(EXIT, 0, 0, 0, 0),
};

typedef void (*Mutate)(struct svmgpu_save_area *a);

#define MUT(name, body) \
    static void mut_##name(struct svmgpu_save_area *a) { body; }

MUT(magic, a->magic ^= 1)
MUT(version, a->version = 2)
MUT(kind, a->kind = 2)
MUT(rsvd0, a->rsvd0 = 1)
MUT(rsvd1, a->rsvd1 = 1)
MUT(rsvd2, a->rsvd2[3] = 1 << 20)
MUT(head, a->head += 1)
MUT(cmd, a->cmd.launch.budget ^= 1)
MUT(wg, a->wg = 2)
MUT(executed, a->executed = a->cmd.launch.budget + 1)
MUT(nwaves, a->nwaves = 1)
MUT(cur, a->cur = 2)
MUT(wg_running, a->wg_running = 2)
MUT(pc, a->waves[0].pc |= 4)
MUT(exec_outside, a->waves[1].exec |= 1u << 8)
MUT(alive_outside, a->waves[1].alive |= 1u << 31)
MUT(done_outside, a->waves[1].done = 1u << 9)
MUT(exec_not_alive, a->waves[0].alive &= ~1u)
MUT(done_not_alive, (a->waves[0].alive &= ~2u, a->waves[0].exec &= ~2u,
                     a->waves[0].done = 2))
MUT(sp, a->waves[1].sp = 17)
MUT(stack_kind, a->waves[0].stack[0].kind = 3)
MUT(stack_rsvd, a->waves[0].stack[0].rsvd1 = 1)
MUT(stack_mask, a->waves[1].stack[0].saved |= 1u << 8)
MUT(stack_else, a->waves[0].stack[0].else_mask = 0)  /* allowed: control */
MUT(stack_loop_pc, a->waves[0].stack[0].loop_pc |= 2)
MUT(at_barrier, a->waves[0].at_barrier = 2)
MUT(finished, a->waves[1].finished = 2)
MUT(finished_alive, a->waves[1].finished = 1)
MUT(wave_rsvd, a->waves[0].rsvd0 = 1)

static const struct {
    const char *name;
    Mutate fn;
    bool refused;
} launch_muts[] = {
    { "magic", mut_magic, true }, { "version", mut_version, true },
    { "kind", mut_kind, true }, { "rsvd0", mut_rsvd0, true },
    { "rsvd1", mut_rsvd1, true }, { "rsvd2", mut_rsvd2, true },
    { "head", mut_head, true }, { "cmd", mut_cmd, true },
    { "wg", mut_wg, true }, { "executed", mut_executed, true },
    { "nwaves", mut_nwaves, true }, { "cur", mut_cur, true },
    { "wg_running", mut_wg_running, true }, { "pc", mut_pc, true },
    { "exec_outside", mut_exec_outside, true },
    { "alive_outside", mut_alive_outside, true },
    { "done_outside", mut_done_outside, true },
    { "exec_not_alive", mut_exec_not_alive, true },
    { "done_not_alive", mut_done_not_alive, true },
    { "sp", mut_sp, true }, { "stack_kind", mut_stack_kind, true },
    { "stack_rsvd", mut_stack_rsvd, true },
    { "stack_mask", mut_stack_mask, true },
    { "stack_else", mut_stack_else, false },
    { "stack_loop_pc", mut_stack_loop_pc, true },
    { "at_barrier", mut_at_barrier, true },
    { "finished", mut_finished, true },
    { "finished_alive", mut_finished_alive, true },
    { "wave_rsvd", mut_wave_rsvd, true },
};

/*
 * RESUME @save on hardware queue hw: refused with ERR_SAVE_AREA (Q_ERROR_VA
 * the area, Q_ERROR_SEQ @seq), nothing run, nothing written.
 */
static void expect_refused(TestDev *t, unsigned hw, uint64_t save,
                           uint64_t seq, uint64_t compl_before)
{
    uint64_t cmds = rd(t, SVMGPU_REG_CNT_COMMANDS);
    unsigned i;

    wr32(t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(t, SVMGPU_REG_INTR_STATUS, ~0u);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_RESUME);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_TAIL), t->q[0].tail);
    run(t);
    ASSERT_EQ(qstatus(t, hw), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_ERROR);
    ASSERT_EQ(rd32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_SAVE_AREA);
    ASSERT_EQ(rd(t, SVMGPU_REG_Q(hw, SVMGPU_Q_ERROR_VA)), save);
    ASSERT_EQ(rd(t, SVMGPU_REG_Q(hw, SVMGPU_Q_ERROR_SEQ)), seq);
    ASSERT_EQ(rd32(t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_QUEUE);
    ASSERT_EQ(rd32(t, SVMGPU_REG_INTR_STATUS),
              SVMGPU_INTR_ERROR | SVMGPU_INTR_QUEUE(hw));
    ASSERT_EQ(rd(t, SVMGPU_REG_CNT_COMMANDS), cmds);
    ASSERT_EQ(compl(t, 0)->seq, compl_before);
    for (i = 0; i < 80; i++) {
        ASSERT_EQ(u64(t, OUTV)[i], 0);
    }
    qdisable(t, hw);
}

TEST(resume_refuses_each_bad_launch_field)
{
    static const unsigned engines[] = {
        SVMGPU_ENGINE_FAST, SVMGPU_ENGINE_REFERENCE,
    };
    unsigned e, k;

    for (e = 0; e < 2; e++) {
        struct svmgpu_save_area *good, *a;
        SvmgpuCoreConfig cfg;
        struct svmgpu_cmd c;
        uint64_t save, seq;
        TestDev t;

        svmgpu_core_default_config(&cfg);
        cfg.sync = true;
        cfg.engine = engines[e];
        cfg.isa_slice = 7;
        td_init_cfg(&t, &cfg);
        ctx_create(&t, 0);
        map_range(&t, 0, CODE, 0x1000, 0);
        map_range(&t, 0, OUTV, 0x1000, SVMGPU_PTE_WRITABLE);
        memcpy(u64(&t, CODE), loop_prog, sizeof(loop_prog));
        save = ring_setup(&t, 0, 16);
        c = cmd_launch(CODE, 2, 40);
        c.launch.budget = 100000;
        seq = push(&t, 0, &c);
        doorbell(&t, 0);
        {
            bool more;

            svmgpu_core_run_sync_budget(t.core, 1, &more);
        }
        preempt(&t, 0);
        a = area(&t, save);
        ASSERT_EQ(a->kind, SVMGPU_SAVE_COMMAND);
        ASSERT_EQ(a->wg_running, 1);
        ASSERT_EQ(a->nwaves, 2);
        ASSERT_EQ(a->waves[0].sp, 1);
        ASSERT_EQ(a->waves[1].alive, 0xff);
        good = malloc(sizeof(*good));
        memcpy(good, a, sizeof(*good));

        for (k = 0; k < sizeof(launch_muts) / sizeof(launch_muts[0]); k++) {
            TH_LOG("engine %u: %s", engines[e], launch_muts[k].name);
            memcpy(a, good, sizeof(*good));
            launch_muts[k].fn(a);
            program(&t, 3, 0, save, good->head);
            if (launch_muts[k].refused) {
                expect_refused(&t, 3, save,
                               launch_muts[k].fn == mut_kind ? 0 : seq, 0);
            } else {
                wr32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_CONTROL),
                     SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_RESUME);
                run(&t);
                ASSERT_FALSE(qstatus(&t, 3) & SVMGPU_Q_STATUS_ERROR);
                qdisable(&t, 3);
            }
        }
        /* unreadable area, and none at all */
        memcpy(a, good, sizeof(*good));
        program(&t, 3, 0, 0x1000, good->head);
        expect_refused(&t, 3, 0x1000, 0, 0);
        program(&t, 3, 0, 0, good->head);
        expect_refused(&t, 3, 0, 0, 0);
        /* the ring entry cannot be read: ERR_RING_DMA as for any fetch */
        program(&t, 3, 0, save, good->head);
        wr(&t, SVMGPU_REG_Q(3, SVMGPU_Q_BASE), 0x40);
        wr32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_CONTROL),
             SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_RESUME);
        run(&t);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_ERROR_CODE)),
                  SVMGPU_ERR_RING_DMA);
        qdisable(&t, 3);

        /* the good state still resumes and computes every lane's value */
        memcpy(a, good, sizeof(*good));
        resume_on(&t, 7, 0, save);
        run(&t);
        ASSERT_EQ(compl(&t, 0)->seq, seq);
        ASSERT_EQ(compl(&t, 0)->err_code, 0);
        for (k = 0; k < 80; k++) {
            ASSERT_EQ(u64(&t, OUTV)[k], 1000 + k % 40);
        }
        free(good);
        td_fini(&t);
    }
}

/* COPY and FILL progress; a NONE area's header fields. */
TEST(resume_refuses_bad_copy_fill_progress)
{
    struct svmgpu_save_area *a;
    struct svmgpu_cmd c;
    uint64_t save, pa, seq;
    TestDev t;

    setup(&t);
    map_range(&t, 0, OUTV, 0x1000, SVMGPU_PTE_WRITABLE);
    pa = alloc_pa(&t, 4 << 20, 2 << 20);
    map_leaf(&t, 0, DST, pa, 2, SVMGPU_PTE_WRITABLE);
    map_leaf(&t, 0, DST + (2 << 20), pa + (2 << 20), 2, SVMGPU_PTE_WRITABLE);
    save = ring_setup(&t, 0, 16);
    a = area(&t, save);

    c = cmd_copy(DST + (2 << 20), DST, 3 << 20);
    seq = push(&t, 0, &c);
    doorbell(&t, 0);
    {
        bool more;

        svmgpu_core_run_sync_budget(t.core, 1, &more);
    }
    preempt(&t, 0);
    ASSERT_EQ(a->progress, 1 << 20);
    a->progress = (3 << 20) + 1;
    program(&t, 2, 0, save, 0);
    expect_refused(&t, 2, save, seq, 0);
    a->progress = 3 << 20;          /* all done: completes at once */
    resume_on(&t, 6, 0, save);
    run(&t);
    ASSERT_EQ(compl(&t, 0)->seq, seq);
    ASSERT_EQ(compl(&t, 0)->err_code, 0);
    ASSERT_EQ(((uint8_t *)pa_ptr(&t, pa))[(3 << 20) - 1], 0);

    c = cmd_fill(DST, 3 << 20, 0x1122334455667788ull, 8);
    seq = push(&t, 0, &c);
    wr32(&t, SVMGPU_REG_Q(6, SVMGPU_Q_TAIL), t.q[0].tail);
    {
        bool more;

        svmgpu_core_run_sync_budget(t.core, 1, &more);
    }
    preempt(&t, 6);
    ASSERT_EQ(a->head, 1);
    ASSERT_EQ(a->progress, 1 << 20);
    a->progress = (3 << 20) + 8;
    program(&t, 4, 0, save, 1);
    expect_refused(&t, 4, save, seq, compl(&t, 0)->seq);
    a->progress = 12;               /* not a multiple of the width */
    expect_refused(&t, 4, save, seq, compl(&t, 0)->seq);
    a->progress = 16;
    memset(pa_ptr(&t, pa), 0, 32);
    resume_on(&t, 5, 0, save);
    run(&t);
    ASSERT_EQ(compl(&t, 0)->seq, seq);
    /* bytes 0..15 count as done (zeroed above), the rest is filled */
    ASSERT_EQ(*(uint64_t *)pa_ptr(&t, pa + 8), 0);
    ASSERT_EQ(*(uint64_t *)pa_ptr(&t, pa + 16), 0x1122334455667788ull);

    /* a NONE area resumed at another head */
    preempt(&t, 5);
    ASSERT_EQ(a->kind, SVMGPU_SAVE_NONE);
    ASSERT_EQ(a->head, 2);
    program(&t, 4, 0, save, 1);
    expect_refused(&t, 4, save, 0, compl(&t, 0)->seq);
    td_fini(&t);
}

/* ------------------------------------------------------------------
 * Review findings (issue 12): scheduling, halts, races with the engine
 */

/* Three queues on one engine: 0 and 1 at priority 1, 2 at priority 2. */
static void one_engine_setup(TestDev *t, unsigned nq, unsigned hi)
{
    SvmgpuCoreConfig cfg;
    uint64_t pa;
    unsigned q;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.num_engines = 1;
    td_init_cfg(t, &cfg);
    ctx_create(t, 0);
    map_range(t, 0, DATA_VA, 0x10000, SVMGPU_PTE_WRITABLE);
    pa = alloc_pa(t, 4 << 20, 2 << 20);
    map_leaf(t, 0, SRC, pa, 2, SVMGPU_PTE_WRITABLE);
    map_leaf(t, 0, SRC + (2 << 20), pa + (2 << 20), 2, SVMGPU_PTE_WRITABLE);
    for (q = 0; q < nq; q++) {
        queue_program(t, q, 128);
        wr32(t, SVMGPU_REG_Q(q, SVMGPU_Q_PRIORITY), q == hi ? 2 : 1);
        qenable(t, q);
    }
}

static struct svmgpu_cmd cmd_wait(uint64_t va, uint64_t value,
                                  uint64_t timeout_ns)
{
    struct svmgpu_cmd c;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_WAIT;
    c.wait.va = va;
    c.wait.value = value;
    c.wait.mask = ~0ull;
    c.wait.cond = SVMGPU_WAIT_EQ;
    c.wait.timeout_ns = timeout_ns;
    return c;
}

/*
 * Equal queues keep their turns beside a higher-priority WAIT that every
 * SIGNAL has re-evaluated (one cursor per priority: the WAIT's picks do
 * not move the priority-1 turn back to queue 0).
 */
TEST(equal_queues_fair_beside_priority_wait)
{
    TestDev t;
    struct svmgpu_cmd c;
    unsigned i, h0, h1;
    bool more;

    one_engine_setup(&t, 3, 2);
    c = cmd_wait(DATA_VA + 0x100, 1, 0);
    submit(&t, 2, &c);
    ASSERT_TRUE(qstatus(&t, 2) & SVMGPU_Q_STATUS_WAITING);
    for (i = 0; i < 60; i++) {
        c = cmd_signal(DATA_VA + 8 * (i % 16), i);
        push(&t, 0, &c);
    }
    doorbell(&t, 0);
    for (i = 0; i < 60; i++) {
        c = cmd_signal(DATA_VA + 0x200 + 8 * (i % 16), i);
        push(&t, 1, &c);
    }
    doorbell(&t, 1);
    /* 90 steps: 30 each (queue 2's WAIT after every SIGNAL) */
    svmgpu_core_run_sync_budget(t.core, 90, &more);
    h0 = rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_HEAD));
    h1 = rd32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_HEAD));
    TH_LOG("after 90 steps: heads %u and %u", h0, h1);
    ASSERT_LE(h0 > h1 ? h0 - h1 : h1 - h0, 1);
    ASSERT_GE(h0 + h1, 40);
    ASSERT_TRUE(qstatus(&t, 2) & SVMGPU_Q_STATUS_WAITING);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_HEAD)), 60);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_HEAD)), 60);
    td_fini(&t);
}

/* A clock that runs 20 us per reading; writes DATA_VA once past @set_at. */
static TestDev *clock_dev;
static uint64_t clock_set_at;

static uint64_t running_now(void *opaque)
{
    TestDev *t = opaque;
    uint64_t now = __atomic_add_fetch(&t->now, 20000, __ATOMIC_RELAXED);

    if (clock_set_at && now >= clock_set_at) {
        *(uint64_t *)va_ptr(t, 0, DATA_VA) = 7;     /* "the CPU" */
        clock_set_at = 0;
    }
    return now;
}

/*
 * §8: a WAIT is re-evaluated at least every 100 us, also while another
 * queue of its engine (same priority) streams COPYs: one WAIT is
 * satisfied by a CPU store, one times out, both long before the stream
 * ends (one engine run, no doorbell or SIGNAL to re-evaluate them).
 */
TEST(wait_reevaluated_while_engine_streams)
{
    static SvmgpuCoreOps ops;
    SvmgpuCoreConfig cfg;
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t pa, s0, s2;
    unsigned i, q;
    bool more;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.num_engines = 1;
    ops = td_ops;
    ops.now_ns = running_now;
    td_init_ops(&t, &cfg, &ops);
    clock_dev = &t;
    ctx_create(&t, 0);
    map_range(&t, 0, DATA_VA, 0x10000, SVMGPU_PTE_WRITABLE);
    pa = alloc_pa(&t, 4 << 20, 2 << 20);
    map_leaf(&t, 0, SRC, pa, 2, SVMGPU_PTE_WRITABLE);
    map_leaf(&t, 0, SRC + (2 << 20), pa + (2 << 20), 2, SVMGPU_PTE_WRITABLE);
    for (q = 0; q < 3; q++) {
        queue_program(&t, q, 128);
        qenable(&t, q);
    }
    for (i = 0; i < 100; i++) {
        c = cmd_copy(SRC + (2 << 20), SRC, 1 << 20);
        push(&t, 1, &c);
    }
    c = cmd_wait(DATA_VA, 7, 0);
    s0 = push(&t, 0, &c);
    c = cmd_wait(DATA_VA + 8, 1, 1000000);      /* 1 ms */
    s2 = push(&t, 2, &c);
    clock_set_at = t.now + 500000;
    doorbell(&t, 0);
    doorbell(&t, 2);
    doorbell(&t, 1);
    svmgpu_core_run_sync_budget(t.core, 80, &more);
    ASSERT_TRUE(more);
    ASSERT_LT(rd32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_HEAD)), 100);
    ASSERT_EQ(compl(&t, 0)->seq, s0);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_NONE);
    ASSERT_TRUE(qstatus(&t, 2) & SVMGPU_Q_STATUS_ERROR);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(2, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_WAIT_TIMEOUT);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(2, SVMGPU_Q_ERROR_SEQ)), s2);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_HEAD)), 100);
    clock_dev = NULL;
    td_fini(&t);
}

/* DMA hooks for the tests below: a register write from inside a DMA. */
static struct {
    uint64_t lo, hi;            /* the watched range */
    uint64_t reg, val;          /* written at the first access in it */
    bool on_read, armed, fired;
    uint64_t bytes_after;       /* bytes written into it from firing on */
} hook;

static void hook_check(TestDev *t, uint64_t addr, uint64_t len, bool read)
{
    if (addr < hook.lo || addr >= hook.hi) {
        return;
    }
    if (hook.armed && read == hook.on_read) {
        hook.armed = false;
        hook.fired = true;
        svmgpu_core_mmio_write(t->core, hook.reg, hook.val, 8);
    }
    if (hook.fired && !read) {
        hook.bytes_after += len;    /* this access included */
    }
}

static int hook_dma_read(void *opaque, uint64_t addr, void *buf, uint64_t len)
{
    hook_check(opaque, addr, len, true);
    return td_dma_read(opaque, addr, buf, len);
}

static int hook_dma_write(void *opaque, uint64_t addr, const void *buf,
                          uint64_t len)
{
    hook_check(opaque, addr, len, false);
    return td_dma_write(opaque, addr, buf, len);
}

static void hook_init(TestDev *t, uint64_t lo, uint64_t hi, bool on_read,
                      uint64_t reg, uint64_t val)
{
    memset(&hook, 0, sizeof(hook));
    hook.lo = lo;
    hook.hi = hi;
    hook.on_read = on_read;
    hook.reg = reg;
    hook.val = val;
    hook.armed = true;
}

/* The core keeps a pointer to its ops: static. */
static SvmgpuCoreOps hook_ops;

static void hook_dev_init(TestDev *t, SvmgpuCoreConfig *cfg)
{
    hook_ops = td_ops_nomap;
    hook_ops.dma_read = hook_dma_read;
    hook_ops.dma_write = hook_dma_write;
    memset(&hook, 0, sizeof(hook));
    td_init_ops(t, cfg, &hook_ops);
    ctx_create(t, 0);
    map_range(t, 0, DATA_VA, 0x10000, SVMGPU_PTE_WRITABLE);
}

/*
 * A queue that halts in ERROR drops its pending PREEMPT (no safe point):
 * IDLE comes back, and after CLEAR_ERROR its commands run, unsaved.
 * Both ways to halt: a register (BAD_DOORBELL) while hung, and a command
 * failing in the step during which PREEMPT was written.
 */
TEST(halted_queue_drops_pending_preempt)
{
    SvmgpuCoreConfig cfg;
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t save, seq;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    hook_dev_init(&t, &cfg);
    save = ring_setup(&t, 0, 16);
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 1);
    c = cmd_signal(DATA_VA, 1);
    submit(&t, 0, &c);
    preempt(&t, 0);
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_PREEMPT_PENDING);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 99);      /* BAD_DOORBELL */
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 0);
    run(&t);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_ERROR);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_IDLE);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_CLEAR_ERROR);
    run(&t);
    ASSERT_EQ(*u64(&t, DATA_VA), 1);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 0);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE);

    /* PREEMPT written while the step fetches a command that fails */
    c = cmd_nop();
    c.hdr.opcode = 0x7f;
    seq = push(&t, 0, &c);
    hook_init(&t, t.q[0].ring + 64, t.q[0].ring + 128, true,
              SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
              SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_PREEMPT);
    doorbell(&t, 0);
    run(&t);
    ASSERT_TRUE(hook.fired);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_BAD_OPCODE);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_SEQ)), seq);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_ERROR);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 0);
    ASSERT_EQ(area(&t, save)->magic, 0);
    td_fini(&t);
}

/* §16.1: PREEMPT with CLEAR_ERROR on a halted queue is ignored. */
TEST(clear_error_with_preempt_ignores_preempt)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t save, seq;

    setup(&t);
    save = ring_setup(&t, 0, 16);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_TAIL), 99);      /* BAD_DOORBELL */
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_ERROR);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE |
         SVMGPU_Q_CONTROL_CLEAR_ERROR | SVMGPU_Q_CONTROL_PREEMPT);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE);
    c = cmd_signal(DATA_VA, 3);
    seq = submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->seq, seq);
    ASSERT_EQ(*u64(&t, DATA_VA), 3);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 0);
    ASSERT_EQ(area(&t, save)->magic, 0);
    td_fini(&t);
}

/*
 * RESUME whose ring entry cannot be fetched: the record and Q_COMPL_SEQ
 * carry the saved compl_seq, not the hardware queue's previous ring's.
 */
TEST(resume_ring_dma_reports_saved_compl_seq)
{
    TestDev t;
    struct svmgpu_cmd c;
    struct svmgpu_save_area *a;
    uint64_t save;

    setup(&t);
    /* ring S on hardware queue 3 completes seq 500 */
    queue_program(&t, 3, 16);
    qenable(&t, 3);
    c = cmd_signal(DATA_VA, 1);
    c.hdr.seq = 500;
    submit(&t, 3, &c);
    qdisable(&t, 3);
    /* ring R on queue 0: seq 10 done, seq 11 saved in progress */
    save = ring_setup(&t, 0, 16);
    c = cmd_signal(DATA_VA + 8, 1);
    c.hdr.seq = 10;
    submit(&t, 0, &c);
    c = cmd_signal(DATA_VA + 16, 1);
    c.hdr.seq = 11;
    push(&t, 0, &c);
    preempt(&t, 0);
    a = area(&t, save);
    ASSERT_EQ(a->compl_seq, 10);
    a->kind = SVMGPU_SAVE_COMMAND;     /* as if fetched */
    a->cmd = c;
    /* R resumed on queue 3 with an unreadable ring */
    wr(&t, SVMGPU_REG_Q(3, SVMGPU_Q_BASE), 0x40);
    wr32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_SIZE), 16);
    wr(&t, SVMGPU_REG_Q(3, SVMGPU_Q_COMPL_ADDR), t.q[0].compl);
    wr(&t, SVMGPU_REG_Q(3, SVMGPU_Q_SAVE_ADDR), save);
    wr32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_START), 1);
    wr32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_RESUME);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(3, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_RING_DMA);
    ASSERT_EQ(compl(&t, 0)->seq, 10);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_RING_DMA);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(3, SVMGPU_Q_COMPL_SEQ)), 10);
    td_fini(&t);
}

/* A fault-stalled queue, with a save area, in a hooked device. */
static uint64_t cancel_setup(TestDev *t, uint64_t *seq, uint32_t *fseq)
{
    SvmgpuCoreConfig cfg;
    struct svmgpu_cmd c;
    uint64_t save;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    hook_dev_init(t, &cfg);
    save = ring_setup(t, 0, 16);
    c = cmd_fill(0x900000, 0x1000, 0, 8);      /* unmapped: faults */
    *seq = submit(t, 0, &c);
    ASSERT_TRUE(qstatus(t, 0) & SVMGPU_Q_STATUS_FAULT_STALL);
    *fseq = fault_rec(t, 0)->seq;
    return save;
}

static void expect_cancelled(TestDev *t, uint64_t seq)
{
    ASSERT_EQ(qstatus(t, 0), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_ERROR);
    ASSERT_EQ(rd32(t, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_CODE)),
              SVMGPU_ERR_FAULT_CANCELLED);
    ASSERT_EQ(rd(t, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_SEQ)), seq);
    ASSERT_EQ(compl(t, 0)->err_code, SVMGPU_ERR_FAULT_CANCELLED);
    ASSERT_EQ(rd(t, SVMGPU_REG_CNT_CANCELS), 1);
    ASSERT_EQ(rd(t, SVMGPU_REG_CNT_PREEMPTIONS), 0);
}

/*
 * A CANCEL accepted (and counted) before or while a PREEMPT saves the
 * stalled queue is carried out: the command fails, the queue halts, the
 * PREEMPT is dropped.
 */
TEST(cancel_accepted_before_or_during_save_fails_command)
{
    TestDev t;
    uint64_t save, seq;
    uint32_t fseq;

    save = cancel_setup(&t, &seq, &fseq);
    wr(&t, SVMGPU_REG_FAULT_REPLY, SVMGPU_FAULT_REPLY_CANCEL_VAL(0, fseq));
    preempt(&t, 0);
    run(&t);
    expect_cancelled(&t, seq);
    ASSERT_EQ(area(&t, save)->magic, 0);
    td_fini(&t);

    save = cancel_setup(&t, &seq, &fseq);
    hook_init(&t, save + 4, save + SVMGPU_SAVE_AREA_SIZE, false,
              SVMGPU_REG_FAULT_REPLY, SVMGPU_FAULT_REPLY_CANCEL_VAL(0, fseq));
    preempt(&t, 0);
    run(&t);
    ASSERT_TRUE(hook.fired);
    expect_cancelled(&t, seq);
    td_fini(&t);
}

/*
 * The same with engine steps held, by CONTROL.ENABLE = 0 or a fatal
 * error: the save is not a step, and the CANCEL it waits for is carried
 * out all the same (the PREEMPT would otherwise stay pending until a
 * reset).
 */
TEST(cancel_before_save_with_steps_held_fails_command)
{
    TestDev t;
    uint64_t save, seq;
    uint32_t fseq;
    int fatal;

    for (fatal = 0; fatal < 2; fatal++) {
        save = cancel_setup(&t, &seq, &fseq);
        if (fatal) {
            wr32(&t, SVMGPU_REG_INJ_FATAL, 1);
        } else {
            wr32(&t, SVMGPU_REG_CONTROL, 0);
        }
        wr(&t, SVMGPU_REG_FAULT_REPLY, SVMGPU_FAULT_REPLY_CANCEL_VAL(0, fseq));
        preempt(&t, 0);
        run(&t);
        expect_cancelled(&t, seq);
        ASSERT_EQ(area(&t, save)->magic, 0);
        td_fini(&t);
    }
}

/*
 * PREEMPT before the RESUME was loaded: the area already holds the state
 * and is left alone (it is not overwritten with an empty one), and
 * Q_STATUS.IDLE reads 0 while the RESUME is pending.
 */
TEST(preempt_before_resume_loaded_keeps_area)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint8_t *copy;
    uint64_t pa, save, seq;
    bool more;

    setup(&t);
    pa = alloc_pa(&t, 4 << 20, 2 << 20);
    map_leaf(&t, 0, SRC, pa, 2, SVMGPU_PTE_WRITABLE);
    map_leaf(&t, 0, DST, pa + (2 << 20), 2, SVMGPU_PTE_WRITABLE);
    save = ring_setup(&t, 0, 16);
    c = cmd_fill(SRC, 2 << 20, 0x5a, 1);       /* 2 steps */
    seq = push(&t, 0, &c);
    doorbell(&t, 0);
    svmgpu_core_run_sync_budget(t.core, 1, &more);
    preempt(&t, 0);
    ASSERT_EQ(area(&t, save)->kind, SVMGPU_SAVE_COMMAND);
    ASSERT_EQ(area(&t, save)->progress, 1 << 20);
    copy = malloc(SVMGPU_SAVE_AREA_SIZE);
    memcpy(copy, area(&t, save), SVMGPU_SAVE_AREA_SIZE);
    program(&t, 5, 0, save, area(&t, save)->head);
    wr32(&t, SVMGPU_REG_Q(5, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_RESUME);
    ASSERT_EQ(qstatus(&t, 5), SVMGPU_Q_STATUS_ENABLED);
    preempt(&t, 5);
    ASSERT_EQ(qstatus(&t, 5), SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_PREEMPTED);
    ASSERT_EQ(memcmp(copy, area(&t, save), SVMGPU_SAVE_AREA_SIZE), 0);
    free(copy);
    resume_on(&t, 2, 0, save);
    run(&t);
    ASSERT_EQ(compl(&t, 0)->seq, seq);
    ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_NONE);
    ASSERT_EQ(((uint8_t *)va_ptr(&t, 0, SRC))[(2 << 20) - 1], 0x5a);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 2);
    td_fini(&t);
}

/*
 * A queue disabled while its save writes the 72 KiB area: magic was
 * zeroed first (the earlier save's magic never covers the new body), and
 * the device writes at most one more page of it.
 */
TEST(save_of_disabled_queue_stops_within_a_page)
{
    SvmgpuCoreConfig cfg;
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t save;
    bool more;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.isa_slice = 7;
    hook_dev_init(&t, &cfg);
    map_range(&t, 0, CODE, 0x1000, 0);
    map_range(&t, 0, OUTV, 0x1000, SVMGPU_PTE_WRITABLE);
    memcpy(u64(&t, CODE), loop_prog, sizeof(loop_prog));
    save = ring_setup(&t, 0, 16);
    c = cmd_launch(CODE, 2, 40);
    push(&t, 0, &c);
    doorbell(&t, 0);
    svmgpu_core_run_sync_budget(t.core, 2, &more);
    preempt(&t, 0);
    ASSERT_EQ(area(&t, save)->magic, SVMGPU_SAVE_MAGIC);
    ASSERT_EQ(area(&t, save)->wg_running, 1);
    resume_on(&t, 0, 0, save);
    svmgpu_core_run_sync_budget(t.core, 2, &more);
    hook_init(&t, save + 4, save + SVMGPU_SAVE_AREA_SIZE, false,
              SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), 0);
    preempt(&t, 0);
    ASSERT_TRUE(hook.fired);
    TH_LOG("bytes written after the disable: %llu",
           (unsigned long long)hook.bytes_after);
    ASSERT_LE(hook.bytes_after, 4096);
    ASSERT_EQ(area(&t, save)->magic, 0);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_IDLE);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_PREEMPTIONS), 1);
    td_fini(&t);
}

/* Threaded: poll Q_STATUS until (status & mask) == want, for up to 20 s. */
static bool wait_qstatus(TestDev *t, unsigned hw, uint32_t mask, uint32_t want)
{
    unsigned i;

    for (i = 0; i < 200000; i++) {
        if ((qstatus(t, hw) & mask) == want) {
            return true;
        }
        if (i > 1000) {
            usleep(100);
        } else {
            sched_yield();
        }
    }
    return false;
}

static void spin(unsigned n)
{
    volatile unsigned i;

    for (i = 0; i < n; i++) {
    }
}

/*
 * Engine threads: a COPY is preempted (sometimes with a disable racing
 * the save), then resumed on another queue with a disable and a second
 * ENABLE | RESUME racing the restore.  Whatever the interleaving: a valid
 * area describes this COPY exactly, a RESUME is never lost (bytes copied
 * before the save are not copied again: the CPU changed the source
 * there), the COPY completes once with every byte right and
 * Q_COMPL_SEQ = its seq.  Invariants only, no timing.
 */
TEST(threaded_disable_reenable_races_save_and_restore)
{
    const uint64_t size = 2 << 20;
    SvmgpuCoreConfig cfg;
    struct svmgpu_save_area *a;
    struct svmgpu_cmd c;
    uint64_t pa, save, seq, done, k;
    unsigned iter, valid = 0, partial = 0;
    uint8_t *src, *dst, b;
    TestDev t;

    svmgpu_core_default_config(&cfg);
    cfg.num_engines = 1;
    /* the link model makes a 1 MiB step last ~0.5 ms: saves land mid-COPY */
    cfg.link_bandwidth = 2000;
    td_init_cfg(&t, &cfg);
    ctx_create(&t, 0);
    pa = alloc_pa(&t, 4 << 20, 2 << 20);
    map_leaf(&t, 0, SRC, pa, 2, SVMGPU_PTE_WRITABLE);
    map_leaf(&t, 0, DST, pa + (2 << 20), 2, SVMGPU_PTE_WRITABLE);
    src = va_ptr(&t, 0, SRC);
    dst = va_ptr(&t, 0, DST);
    save = alloc_pa(&t, SVMGPU_SAVE_AREA_SIZE, 4096);
    a = area(&t, save);
    queue_program(&t, 0, 16);
    td_start_threads(&t, 1);
    for (iter = 0; iter < 300; iter++) {
        bool race_save = iter % 3 == 0;

        b = 1 + iter % 200;
        memset(src, b, size);
        memset(dst, 0, size);
        a->magic = 0;
        memset(compl(&t, 0), 0, sizeof(struct svmgpu_completion));
        t.q[0].tail = 0;
        program(&t, 0, 0, save, 0);
        qenable(&t, 0);
        c = cmd_copy(DST, SRC, size);
        seq = push(&t, 0, &c);
        doorbell(&t, 0);
        spin(iter % 7 * 3000);
        wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL),
             SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_PREEMPT);
        if (race_save) {
            spin(iter % 11 * 150000);
            qdisable(&t, 0);
        }
        /* disabled or preempted, and no step or save in flight */
        ASSERT_TRUE(wait_qstatus(&t, 0, SVMGPU_Q_STATUS_ENABLED |
                                 SVMGPU_Q_STATUS_IDLE, SVMGPU_Q_STATUS_IDLE));
        ASSERT_FALSE(qstatus(&t, 0) & SVMGPU_Q_STATUS_ERROR);
        if (a->magic == SVMGPU_SAVE_MAGIC) {
            /* a valid area is this COPY's, at a safe point */
            valid++;
            ASSERT_EQ(a->version, SVMGPU_SAVE_VERSION);
            ASSERT_LE(a->head, 1);
            if (a->kind == SVMGPU_SAVE_COMMAND) {
                ASSERT_EQ(a->head, 0);
                ASSERT_EQ(memcmp(&a->cmd, &c, sizeof(c)), 0);
                ASSERT_LE(a->progress, size);
                done = a->progress;
            } else {
                ASSERT_EQ(a->kind, SVMGPU_SAVE_NONE);
                done = a->head ? size : 0;
            }
            partial += done && done < size;
            /* the CPU changes what was copied: never copied again */
            memset(src, 0xee, done);
            program(&t, 1, 0, save, a->head);
        } else {
            /* disabled before the save: start afresh */
            ASSERT_TRUE(race_save);
            program(&t, 1, 0, save, 0);
        }
        k = a->magic == SVMGPU_SAVE_MAGIC ? SVMGPU_Q_CONTROL_RESUME : 0;
        wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_CONTROL),
             SVMGPU_Q_CONTROL_ENABLE | k);
        wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_TAIL), 1);
        spin(iter % 13 * 300);
        qdisable(&t, 1);
        wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_CONTROL),
             SVMGPU_Q_CONTROL_ENABLE | k);
        wr32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_TAIL), 1);
        ASSERT_TRUE(wait_qstatus(&t, 1, ~0u, SVMGPU_Q_STATUS_ENABLED |
                                 SVMGPU_Q_STATUS_IDLE));
        ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(1, SVMGPU_Q_HEAD)), 1);
        ASSERT_EQ(rd(&t, SVMGPU_REG_Q(1, SVMGPU_Q_COMPL_SEQ)), seq);
        ASSERT_EQ(compl(&t, 0)->seq, seq);
        ASSERT_EQ(compl(&t, 0)->err_code, SVMGPU_ERR_NONE);
        for (k = 0; k < size; k++) {
            if (dst[k] != b) {
                TH_LOG("iteration %u: byte 0x%llx is 0x%x, not 0x%x", iter,
                       (unsigned long long)k, dst[k], b);
                ASSERT_EQ(dst[k], b);
            }
        }
        qdisable(&t, 1);
        ASSERT_TRUE(wait_qstatus(&t, 1, SVMGPU_Q_STATUS_IDLE,
                                 SVMGPU_Q_STATUS_IDLE));
    }
    TH_LOG("%u valid areas, %u of them mid-COPY", valid, partial);
    ASSERT_GT(valid, 0);
    td_fini(&t);
}

TEST_HARNESS_MAIN
