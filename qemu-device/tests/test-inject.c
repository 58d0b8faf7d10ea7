/*
 * svmgpu core: fault injection (docs/hw-spec.md §15).  Each INJ_* register
 * arms a failure that the registers and memory show exactly as specified
 * (so a driver can detect it), is counted in CNT_INJECTED, and is undone by
 * a reset (INJ_ENABLE_REFUSE: by any but CONTROL.RESET, the reset it makes
 * fail); the x-inject-* properties are the registers' reset values.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <sched.h>
#include <unistd.h>

#include "test-env.h"

static void setup(TestDev *t)
{
    td_init(t);
    ctx_create(t, 0);
    queue_setup(t, 0, 0, 64);
    queue_setup(t, 1, 0, 64);
    map_range(t, 0, 0x10000, 0x10000, SVMGPU_PTE_WRITABLE);
}

static struct svmgpu_cmd nop_irq(void)
{
    struct svmgpu_cmd c;

    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_NOP;
    c.hdr.flags = SVMGPU_CMD_FLAG_IRQ;
    return c;
}

/* A hung queue keeps its commands, others run; disabling it still works. */
TEST(hang_queue_makes_no_progress)
{
    TestDev t;
    struct svmgpu_cmd c = cmd_fill(0x10000, 4096, 0x5a, 1);
    uint64_t seq;

    setup(&t);
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 1u << 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_HANG_QUEUES), 1u << 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    seq = submit(&t, 0, &c);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_SEQ)), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_HEAD)), 0);
    ASSERT_FALSE(qstatus(&t, 0) & SVMGPU_Q_STATUS_IDLE);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_IDLE);
    ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, 0x10000), 0);
    /* Queue 1 is not affected. */
    c = cmd_fill(0x11000, 4096, 0x3c, 1);
    submit(&t, 1, &c);
    ASSERT_EQ(compl(&t, 1)->seq, c.hdr.seq);
    ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, 0x11fff), 0x3c);
    /* Setting the bit again is no new injection. */
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 1u << 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    /* Released, the queue finishes its command. */
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 0);
    run(&t);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_SEQ)), seq);
    ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, 0x10fff), 0x5a);
    /* Hung again: a disable is idle at once (no step runs). */
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 1u << 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 2);
    c = cmd_fill(0x10000, 4096, 0x77, 1);
    submit(&t, 0, &c);
    wr32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_CONTROL), 0);
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_IDLE);
    ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, 0x10000), 0x5a);
    /* Bits of absent queues are refused (ERROR_STATUS.REG). */
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 1u << 15);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_HANG_QUEUES), 0);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_REG);
    ASSERT_EQ(rd(&t, SVMGPU_REG_ERROR_ADDR), SVMGPU_REG_INJ_HANG_QUEUES);
    td_fini(&t);
}

/*
 * Dropped messages: INTR_STATUS still says what happened, and the glue's
 * level() is told of each, so that it raises INTx all the same (what the
 * glue then does is not tested here).
 */
TEST(drop_irqs_loses_messages_not_status)
{
    TestDev t;
    struct svmgpu_cmd c;
    unsigned i;

    setup(&t);
    wr32(&t, SVMGPU_REG_INJ_DROP_IRQS, 2);
    for (i = 0; i < 3; i++) {
        c = nop_irq();
        submit(&t, 0, &c);
        ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
        ASSERT_TRUE(rd32(&t, SVMGPU_REG_INTR_STATUS) & SVMGPU_INTR_QUEUE(0));
        ASSERT_TRUE(svmgpu_core_intx_level(t.core));
        ASSERT_EQ(atomic_load(&t.levels), i < 2 ? i + 1 : 2);
        wr32(&t, SVMGPU_REG_INTR_STATUS, ~0u);
        ASSERT_FALSE(svmgpu_core_intx_level(t.core));
    }
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_DROP_IRQS), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 2);
    td_fini(&t);
}

/* A refused invalidation never completes, nor does any after it, until a reset. */
TEST(refused_invalidation_held_until_reset)
{
    TestDev t;
    uint32_t seq;

    setup(&t);
    seq = invalidate(&t, 0, SVMGPU_TLB_INV_WHOLE_CONTEXT, 0, 0);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), seq);
    wr32(&t, SVMGPU_REG_INJ_INVAL_REFUSE, 1);
    seq = invalidate(&t, 0, SVMGPU_TLB_INV_WHOLE_CONTEXT, 0, 0);
    run(&t);
    ASSERT_EQ(seq, 2);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), 1);
    seq = invalidate(&t, 0, SVMGPU_TLB_INV_ALL_CONTEXTS, 0, 0);
    run(&t);
    ASSERT_EQ(seq, 3);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), 1);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_INVAL_BUSY);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_IDLE);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_TLB_INVALIDATIONS), 1);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_INVAL_REFUSE), 0);
    /* Reset: everything forgotten, invalidations complete again. */
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 0);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_INVAL_BUSY);
    seq = invalidate(&t, 0, SVMGPU_TLB_INV_ALL_CONTEXTS, 0, 0);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), seq);
    td_fini(&t);
}

/* A corrupt record: seq inverted, the rest 0xa5; Q_COMPL_SEQ stays right. */
TEST(corrupt_completion_record)
{
    TestDev t;
    struct svmgpu_cmd c = nop_irq();
    struct svmgpu_completion *cp;
    const uint8_t *b;
    uint64_t seq;
    unsigned i;

    setup(&t);
    wr32(&t, SVMGPU_REG_INJ_CORRUPT_COMPL, 1);
    seq = submit(&t, 0, &c);
    cp = compl(&t, 0);
    ASSERT_EQ(cp->seq, ~seq);
    b = (const uint8_t *)cp;
    for (i = 8; i < sizeof(*cp); i++) {
        ASSERT_EQ(b[i], 0xa5);
    }
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_SEQ)), seq);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_HEAD)), 1);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 1);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    /* The next record is right again. */
    c = nop_irq();
    seq = submit(&t, 0, &c);
    ASSERT_EQ(cp->seq, seq);
    ASSERT_EQ(cp->head, 2);
    ASSERT_EQ(cp->err_code, 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_CORRUPT_COMPL), 0);
    td_fini(&t);
}

/* FATAL: error vector once, engines stop, W1C cannot clear it, reset does. */
TEST(fatal_error_until_reset)
{
    TestDev t;
    struct svmgpu_cmd c = nop_irq();

    setup(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_FATAL), 0);
    wr32(&t, SVMGPU_REG_INJ_FATAL, 1);
    run(&t);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_FATAL);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ERROR);
    ASSERT_EQ(rd(&t, SVMGPU_REG_ERROR_ADDR), SVMGPU_REG_INJ_FATAL);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_ERROR]), 1);
    wr32(&t, SVMGPU_REG_INJ_FATAL, 1);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_ERROR]), 1);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    submit(&t, 0, &c);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_SEQ)), 0);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_FATAL);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), 0);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ERROR);
    /* Brought up again, the device runs commands. */
    wr(&t, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE_PA);
    wr32(&t, SVMGPU_REG_CTX_TABLE_ENTRIES, 16);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 0);
    queue_setup(&t, 0, 0, 64);
    c = nop_irq();
    submit(&t, 0, &c);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_SEQ)), c.hdr.seq);
    td_fini(&t);
}

/* The x-inject-* properties are the INJ_* reset values; CNT_INJECTED is RO. */
TEST(properties_are_reset_values)
{
    SvmgpuCoreConfig cfg;
    TestDev t;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.num_queues = 4;
    cfg.inject_hang_queues = 0xff;      /* bits of absent queues dropped */
    cfg.inject_drop_irqs = 3;
    cfg.inject_inval_refuse = 1;
    cfg.inject_corrupt_compl = 2;
    cfg.inject_irq_delay_us = 2000000;  /* clamped to 1 s */
    cfg.inject_inval_delay_us = 50;
    cfg.inject_stall_fault_ring = 1;
    td_init_cfg(&t, &cfg);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_IRQ_DELAY_US), 1000000);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_INVAL_DELAY_US), 50);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING), 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_HANG_QUEUES), 0xf);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_DROP_IRQS), 3);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_INVAL_REFUSE), 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_CORRUPT_COMPL), 2);
    wr32(&t, SVMGPU_REG_INJ_DROP_IRQS, 0);
    wr32(&t, SVMGPU_REG_INJ_HANG_QUEUES, 0);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_DROP_IRQS), 3);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_HANG_QUEUES), 0xf);
    wr32(&t, SVMGPU_REG_INJ_INVAL_DELAY_US, 0);
    wr32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING, 0);
    svmgpu_core_reset(t.core);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_INVAL_DELAY_US), 50);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING), 1);
    wr(&t, SVMGPU_REG_CNT_INJECTED, 77);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 0);
    td_fini(&t);
}

/*
 * Interrupt messages come INJ_IRQ_DELAY_US late; INTR_STATUS and the
 * completion record at once.  Each delayed message counts; values above
 * 1 s are clamped with ERROR_STATUS.REG; a reset drops the late ones.
 */
TEST(irq_delay_sends_messages_late)
{
    TestDev t;
    struct svmgpu_cmd c = nop_irq();
    uint64_t seq;

    setup(&t);
    wr32(&t, SVMGPU_REG_INJ_IRQ_DELAY_US, 1000001);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_IRQ_DELAY_US), 1000000);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_REG);
    ASSERT_EQ(rd(&t, SVMGPU_REG_ERROR_ADDR), SVMGPU_REG_INJ_IRQ_DELAY_US);
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    wr32(&t, SVMGPU_REG_INTR_STATUS, ~0u);
    wr32(&t, SVMGPU_REG_INJ_IRQ_DELAY_US, 100);
    seq = submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->seq, seq);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INTR_STATUS), SVMGPU_INTR_QUEUE(0));
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 0);
    /* only the message is late: the INTx level is up at once */
    ASSERT_EQ(atomic_load(&t.levels), 1);
    ASSERT_TRUE(svmgpu_core_intx_level(t.core));
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    t.now += 99999;
    run(&t);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 0);
    t.now += 1;
    run(&t);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 1);
    /* two more, 30 us apart: each on its own time; a register read sends */
    submit(&t, 1, &c);
    t.now += 30000;
    submit(&t, 0, &c);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 3);
    t.now += 70000;
    rd32(&t, SVMGPU_REG_STATUS);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(1)]), 1);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 1);
    t.now += 30000;
    rd32(&t, SVMGPU_REG_STATUS);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 2);
    /* a reset drops the ones still to come */
    submit(&t, 0, &c);
    svmgpu_core_reset(t.core);
    t.now += 1000000;
    run(&t);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 2);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_IRQ_DELAY_US), 0);
    td_fini(&t);
}

/* The same with the control thread sending them. */
TEST(irq_delay_with_threads)
{
    SvmgpuCoreConfig cfg;
    TestDev t;
    struct svmgpu_cmd c = nop_irq();
    unsigned i;

    svmgpu_core_default_config(&cfg);
    cfg.num_engines = 1;
    td_init_cfg(&t, &cfg);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 64);
    td_start_threads(&t, 1);
    wr32(&t, SVMGPU_REG_INJ_IRQ_DELAY_US, 500);
    push(&t, 0, &c);
    doorbell(&t, 0);
    while (!__atomic_load_n(&compl(&t, 0)->seq, __ATOMIC_ACQUIRE)) {
        sched_yield();
    }
    /* the manual clock stands still: nothing is sent */
    for (i = 0; i < 20; i++) {
        usleep(1000);
    }
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 0);
    __atomic_store_n(&t.now, t.now + 500000, __ATOMIC_RELAXED);
    for (i = 0; i < 5000 && !atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]); i++) {
        usleep(1000);
    }
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 1);
    td_fini(&t);
}

/*
 * Invalidations complete INJ_INVAL_DELAY_US late, in order, and the old
 * translation stays usable meanwhile.
 */
TEST(inval_delay_completes_late_in_order)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint32_t s1, s2;
    uint64_t *pte;

    setup(&t);
    c = cmd_signal(0x10000, 1);
    submit(&t, 0, &c);                  /* the TLB holds 0x10000 */
    wr32(&t, SVMGPU_REG_INJ_INVAL_DELAY_US, 10);
    pte = leaf_pte(&t, 0, 0x10000);
    *pte = 0;
    s1 = invalidate(&t, 0, 0, 0x10000, 0x1000);
    t.now += 5000;
    s2 = invalidate(&t, 0, SVMGPU_TLB_INV_WHOLE_CONTEXT, 0, 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 2);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), s1 - 1);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_INVAL_BUSY);
    /* the old translation still works: no fault */
    c = cmd_signal(0x10000, 2);
    submit(&t, 0, &c);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 0);
    t.now += 5000;
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), s1);
    t.now += 5000;
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), s2);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_INVAL_BUSY);
    /* now it faults */
    c = cmd_signal(0x10000, 3);
    submit(&t, 0, &c);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);
    /* a reset ends a delayed request at once */
    s1 = invalidate(&t, 0, 0, 0, 0x1000);
    svmgpu_core_reset(t.core);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_INVAL_BUSY);
    td_fini(&t);
}

/*
 * INJ_STALL_FAULT_RING: a faulting queue stalls as RING_FULL with room in
 * the ring (no record, counted once per stalled fault); clearing the bit
 * writes the record.
 */
TEST(stall_fault_ring_withholds_records)
{
    TestDev t;
    struct svmgpu_cmd c;

    setup(&t);
    wr32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING, 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING), 1);
    c = cmd_signal(0x80000, 1);
    submit(&t, 0, &c);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED |
              SVMGPU_Q_STATUS_RING_FULL_STALL);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_FAULT_RING_FULL);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    /* a REPLAY retries: stalls again, not counted again */
    reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_RING_FULL_STALL);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    /* other queues still run */
    c = cmd_signal(0x10000, 5);
    submit(&t, 1, &c);
    ASSERT_EQ(compl(&t, 1)->seq, c.hdr.seq);
    /* released: the record is written, the fault can be served */
    wr32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING, 0);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);
    ASSERT_EQ(fault_rec(&t, 0)->va, 0x80000);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED |
              SVMGPU_Q_STATUS_FAULT_STALL);
    map_range(&t, 0, 0x80000, 0x1000, SVMGPU_PTE_WRITABLE);
    wr32(&t, SVMGPU_REG_FAULT_GET, 1);
    reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
    ASSERT_EQ(*(uint64_t *)va_ptr(&t, 0, 0x80000), 1);
    /* a second stalled fault counts again */
    wr32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING, 1);
    c = cmd_signal(0x90000, 1);
    submit(&t, 0, &c);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 2);
    td_fini(&t);
}

/*
 * More late messages than the delay queue holds (256): the overflow goes
 * with the last message queued, whatever its vector; none is lost.
 */
TEST(irq_delay_overflow_loses_no_vector)
{
    TestDev t;
    struct svmgpu_cmd c = nop_irq();
    unsigned i, q;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 512);
    for (q = 1; q < 4; q++) {
        queue_setup(&t, q, 0, 16);
    }
    wr32(&t, SVMGPU_REG_INJ_IRQ_DELAY_US, 100);
    for (i = 0; i < 300; i++) {
        push(&t, 0, &c);
    }
    doorbell(&t, 0);
    run(&t);
    ASSERT_EQ(compl(&t, 0)->head, 300);
    /* queue full: these three go with the last message queued */
    for (q = 1; q < 4; q++) {
        submit(&t, q, &c);
    }
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 303);
    for (q = 0; q < 4; q++) {
        ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(q)]), 0);
    }
    t.now += 100000;
    rd32(&t, SVMGPU_REG_STATUS);
    /* 256 messages: 255 for queue 0, the last one for queues 0..3 */
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 256);
    for (q = 1; q < 4; q++) {
        ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(q)]), 1);
    }
    td_fini(&t);
}

/*
 * A withheld fault whose retry no longer faults when the bit is released
 * (the driver mapped the page meanwhile): re-armed, the next fault is
 * withheld and counted again.
 */
TEST(stall_fault_ring_rearmed_counts_again)
{
    TestDev t;
    struct svmgpu_cmd c;

    setup(&t);
    wr32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING, 1);
    c = cmd_signal(0x80000, 1);
    submit(&t, 0, &c);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED |
              SVMGPU_Q_STATUS_RING_FULL_STALL);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    map_range(&t, 0, 0x80000, 0x1000, SVMGPU_PTE_WRITABLE);
    wr32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING, 0);
    run(&t);
    /* the retry succeeded: no record */
    ASSERT_EQ(*(uint64_t *)va_ptr(&t, 0, 0x80000), 1);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 0);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED | SVMGPU_Q_STATUS_IDLE);
    wr32(&t, SVMGPU_REG_INJ_STALL_FAULT_RING, 1);
    c = cmd_signal(0x90000, 2);
    submit(&t, 0, &c);
    ASSERT_EQ(qstatus(&t, 0), SVMGPU_Q_STATUS_ENABLED |
              SVMGPU_Q_STATUS_RING_FULL_STALL);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 2);
    td_fini(&t);
}

/*
 * x-sync: a delayed invalidation completes once due at a register read
 * too (a driver polling TLB_INV_DONE_SEQ by reads alone sees it finish).
 */
TEST(inval_delay_sync_completes_on_read)
{
    TestDev t;
    uint32_t s1;

    setup(&t);
    wr32(&t, SVMGPU_REG_INJ_INVAL_DELAY_US, 10);
    s1 = invalidate(&t, 0, 0, 0x10000, 0x1000);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), s1 - 1);
    t.now += 9999;
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), s1 - 1);
    t.now += 1;
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), s1);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_INVAL_BUSY);
    td_fini(&t);
}

static atomic_uint clock_reads;

static uint64_t counting_now(void *opaque)
{
    atomic_fetch_add(&clock_reads, 1);
    return td_now(opaque);
}

/*
 * Paused VM with a delayed invalidation already due: the control thread
 * sleeps until resumed (it used to re-check every microsecond).  It
 * reads the clock a bounded number of times in 50 ms; resumed, it
 * completes the invalidation.
 */
TEST(inval_delay_due_while_paused_sleeps)
{
    SvmgpuCoreConfig cfg;
    static SvmgpuCoreOps ops;
    TestDev t;
    uint32_t s1;
    unsigned i, n;

    svmgpu_core_default_config(&cfg);
    cfg.num_engines = 1;
    ops = td_ops;
    ops.now_ns = counting_now;
    td_init_ops(&t, &cfg, &ops);
    ctx_create(&t, 0);
    td_start_threads(&t, 1);
    wr32(&t, SVMGPU_REG_INJ_INVAL_DELAY_US, 10);
    svmgpu_core_pause(t.core, true);
    s1 = invalidate(&t, 0, 0, 0x10000, 0x1000);
    __atomic_store_n(&t.now, t.now + 20000, __ATOMIC_RELAXED);
    usleep(5000);
    atomic_store(&clock_reads, 0);
    usleep(50000);
    n = atomic_load(&clock_reads);
    TH_LOG("clock reads while paused: %u", n);
    ASSERT_LT(n, 10);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), s1 - 1);
    svmgpu_core_pause(t.core, false);
    for (i = 0; i < 5000 && rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ) != s1;
         i++) {
        usleep(1000);
    }
    ASSERT_EQ(rd32(&t, SVMGPU_REG_TLB_INV_DONE_SEQ), s1);
    td_fini(&t);
}

/* Bring the device up again after a reset, as a driver does. */
static void reprogram(TestDev *t)
{
    wr(t, SVMGPU_REG_CTX_TABLE_BASE, CTX_TABLE_PA);
    wr32(t, SVMGPU_REG_CTX_TABLE_ENTRIES, 16);
    wr(t, SVMGPU_REG_FAULT_RING_BASE, FAULT_RING_PA);
    wr32(t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
}

/*
 * A reset that does not bring the device back: the next N writes that set
 * CONTROL.ENABLE leave it clear, each counted.  CONTROL.RESET keeps the
 * count (that reset is the one that fails); a function reset loads the
 * property; an ENABLE written while enabled takes none.
 */
TEST(enable_refused_until_the_count_is_spent)
{
    SvmgpuCoreConfig cfg;
    TestDev t;
    struct svmgpu_cmd c = nop_irq();

    setup(&t);
    wr32(&t, SVMGPU_REG_INJ_ENABLE_REFUSE, 1);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);    /* already on */
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_ENABLE_REFUSE), 1);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ENABLED);
    wr32(&t, SVMGPU_REG_INJ_ENABLE_REFUSE, 2);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_ENABLE_REFUSE), 2);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 0);
    reprogram(&t);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ENABLED);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_CONTROL), 0);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_ENABLE_REFUSE), 1);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    /* Nothing runs while it is off. */
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 0);
    queue_setup(&t, 0, 0, 64);
    submit(&t, 0, &c);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_SEQ)), 0);
    /* Tried again without a reset: the last refusal. */
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_ENABLE);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ENABLED);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_ENABLE_REFUSE), 0);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 2);
    /* Spent: the next reset brings it back. */
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    reprogram(&t);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ENABLED);
    wr32(&t, SVMGPU_REG_CTX_ENABLE, 0);
    queue_setup(&t, 0, 0, 64);
    c = nop_irq();
    submit(&t, 0, &c);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_COMPL_SEQ)), c.hdr.seq);
    /* A function reset loads the property (0): the count is gone. */
    wr32(&t, SVMGPU_REG_INJ_ENABLE_REFUSE, 5);
    svmgpu_core_reset(t.core);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_ENABLE_REFUSE), 0);
    td_fini(&t);

    /* From power-on (x-inject-enable-refuse): a driver's probe fails. */
    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.inject_enable_refuse = 1;
    td_init_cfg(&t, &cfg);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ENABLED);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_INJECTED), 1);
    svmgpu_core_reset(t.core);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_INJ_ENABLE_REFUSE), 1);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    reprogram(&t);
    ASSERT_FALSE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ENABLED);
    wr32(&t, SVMGPU_REG_CONTROL, SVMGPU_CONTROL_RESET);
    reprogram(&t);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_ENABLED);
    td_fini(&t);
}

TEST_HARNESS_MAIN
