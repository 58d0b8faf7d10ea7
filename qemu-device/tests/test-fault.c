/*
 * svmgpu core: fault records, stalls, REPLAY/CANCEL, ring wrap, ring
 * overflow (stall, nothing dropped) and fault-ring DMA failure.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "test-env.h"

static void td_init_ring(TestDev *t, uint32_t entries, uint32_t queues)
{
    SvmgpuCoreConfig cfg;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.fault_ring_entries = entries;
    cfg.num_queues = queues;
    td_init_cfg(t, &cfg);
}

TEST(fault_stalls_only_its_queue_then_replay)
{
    TestDev t;
    struct svmgpu_cmd c, c1;
    struct svmgpu_fault_record *f;
    uint64_t seq;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    queue_setup(&t, 1, 0, 16);
    map_range(&t, 0, 0x10000, 0x1000, SVMGPU_PTE_WRITABLE);
    map_range(&t, 0, 0x20000, 0x1000, 0);
    *(uint64_t *)va_ptr(&t, 0, 0x20000) = 42;

    c = cmd_copy(0x10000, 0x30008, 8);          /* unmapped source */
    seq = submit(&t, 0, &c);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_FAULT]), 1);
    f = fault_rec(&t, 0);
    ASSERT_EQ(f->va, 0x30008);
    ASSERT_EQ(f->ctx, 0);
    ASSERT_EQ(f->queue, 0);
    ASSERT_EQ(f->access, SVMGPU_ACCESS_READ);
    ASSERT_EQ(f->reason, SVMGPU_FAULT_NOT_PRESENT);
    ASSERT_EQ(f->seq, 1);
    ASSERT_EQ(f->timestamp, 1000);
    ASSERT_EQ(f->flags, SVMGPU_FAULT_RECORD_VALID);
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_FAULT_STALL);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_FAULT_STALL);
    ASSERT_EQ(compl(&t, 0)->seq, 0);

    /* queue 1 keeps running */
    c1 = cmd_copy(0x10100, 0x20000, 8);
    submit(&t, 1, &c1);
    ASSERT_EQ(compl(&t, 1)->seq, c1.hdr.seq);
    ASSERT_EQ(*(uint64_t *)va_ptr(&t, 0, 0x10100), 42);

    /* running again without a reply does not re-fault */
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);

    /* replay without fixing: a second record */
    wr32(&t, SVMGPU_REG_FAULT_GET, 1);
    reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 2);
    ASSERT_EQ(fault_rec(&t, 1)->seq, 2);

    /* map, replay: completes */
    map_range(&t, 0, 0x30000, 0x1000, 0);
    *(uint64_t *)va_ptr(&t, 0, 0x30008) = 7;
    wr32(&t, SVMGPU_REG_FAULT_GET, 2);
    reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
    ASSERT_EQ(compl(&t, 0)->seq, seq);
    ASSERT_EQ(compl(&t, 0)->err_code, 0);
    ASSERT_EQ(*(uint64_t *)va_ptr(&t, 0, 0x10000), 7);
    ASSERT_FALSE(qstatus(&t, 0) & SVMGPU_Q_STATUS_FAULT_STALL);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_FAULTS), 2);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_REPLAYS), 2);
    td_fini(&t);
}

/* A copy faulting half-way resumes where it stopped. */
TEST(copy_resumes_at_faulting_page)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint8_t *dst;
    unsigned i;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    map_range(&t, 0, 0x100000, 0x4000, 0);
    map_range(&t, 0, 0x200000, 0x2000, SVMGPU_PTE_WRITABLE);
    for (i = 0; i < 0x4000; i++) {
        *(uint8_t *)va_ptr(&t, 0, 0x100000 + i) = i ^ (i >> 8);
    }
    c = cmd_copy(0x200000, 0x100000, 0x4000);
    submit(&t, 0, &c);
    ASSERT_EQ(fault_rec(&t, 0)->va, 0x202000);
    ASSERT_EQ(fault_rec(&t, 0)->access, SVMGPU_ACCESS_WRITE);
    dst = va_ptr(&t, 0, 0x201000);
    ASSERT_EQ(dst[0xfff], (uint8_t)(0x1fff ^ 0x1f));
    map_range(&t, 0, 0x202000, 0x2000, SVMGPU_PTE_WRITABLE);
    wr32(&t, SVMGPU_REG_FAULT_GET, 1);
    reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    for (i = 0; i < 0x4000; i++) {
        ASSERT_EQ(*(uint8_t *)va_ptr(&t, 0, 0x200000 + i), (uint8_t)(i ^ (i >> 8)));
    }
    td_fini(&t);
}

TEST(cancel_reports_va_and_access)
{
    TestDev t;
    struct svmgpu_cmd c;
    struct svmgpu_completion *cp;
    uint32_t fseq;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    map_range(&t, 0, 0x10000, 0x1000, 0);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_ATOMIC;
    c.atomic.va = 0x10010;
    c.atomic.size = 8;
    c.atomic.op = SVMGPU_ATOMIC_ADD;
    c.atomic.operand = 1;
    submit(&t, 0, &c);
    ASSERT_EQ(fault_rec(&t, 0)->access, SVMGPU_ACCESS_ATOMIC);
    ASSERT_EQ(fault_rec(&t, 0)->reason, SVMGPU_FAULT_WRITE_PROTECT);
    fseq = fault_rec(&t, 0)->seq;
    /* wrong queue / wrong seq: ignored */
    reply(&t, SVMGPU_FAULT_REPLY_CANCEL_VAL(1, fseq));
    reply(&t, SVMGPU_FAULT_REPLY_CANCEL_VAL(0, fseq + 5));
    reply(&t, SVMGPU_FAULT_REPLY_CANCEL_VAL(200, fseq));
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_FAULT_STALL);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_CANCELS), 0);
    reply(&t, SVMGPU_FAULT_REPLY_CANCEL_VAL(0, fseq));
    cp = compl(&t, 0);
    ASSERT_EQ(cp->seq, c.hdr.seq);
    ASSERT_EQ(cp->err_seq, c.hdr.seq);
    ASSERT_EQ(cp->err_code, SVMGPU_ERR_FAULT_CANCELLED);
    ASSERT_EQ(cp->err_va, 0x10010);
    ASSERT_EQ(cp->err_info, SVMGPU_ERROR_INFO(SVMGPU_ACCESS_ATOMIC,
                                              SVMGPU_FAULT_WRITE_PROTECT));
    ASSERT_TRUE(cp->status & SVMGPU_Q_STATUS_ERROR);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_INFO)), cp->err_info);
    ASSERT_EQ(rd(&t, SVMGPU_REG_Q(0, SVMGPU_Q_ERROR_SEQ)), c.hdr.seq);
    ASSERT_EQ(rd(&t, SVMGPU_REG_CNT_CANCELS), 1);
    ASSERT_EQ(atomic_load(&t.irqs[SVMGPU_VEC_QUEUE(0)]), 1);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_QUEUE);
    /* no side effect happened */
    ASSERT_EQ(*(uint64_t *)va_ptr(&t, 0, 0x10010), 0);
    /* queued commands wait until CLEAR_ERROR */
    c = cmd_signal(0x10018, 3);
    *leaf_pte(&t, 0, 0x10000) |= SVMGPU_PTE_WRITABLE;
    submit(&t, 0, &c);
    ASSERT_NE(compl(&t, 0)->seq, c.hdr.seq);
    clear_error(&t, 0);
    run(&t);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    ASSERT_EQ(compl(&t, 0)->err_seq, c.hdr.seq - 1);   /* kept */
    td_fini(&t);
}

/* Upgrading RO to RW needs no invalidation (the device re-walks). */
TEST(write_upgrade_without_invalidation)
{
    TestDev t;
    struct svmgpu_cmd c;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    map_range(&t, 0, 0x10000, 0x1000, 0);
    c = cmd_signal(0x10000, 9);
    submit(&t, 0, &c);
    ASSERT_EQ(fault_rec(&t, 0)->reason, SVMGPU_FAULT_WRITE_PROTECT);
    *leaf_pte(&t, 0, 0x10000) |= SVMGPU_PTE_WRITABLE;
    wr32(&t, SVMGPU_REG_FAULT_GET, 1);
    reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    ASSERT_EQ(*(uint64_t *)va_ptr(&t, 0, 0x10000), 9);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);
    td_fini(&t);
}

/* 4-entry ring, 10 faults in sequence: slots wrap, seqs increase. */
TEST(ring_wraps)
{
    TestDev t;
    struct svmgpu_cmd c;
    unsigned i;

    td_init_ring(&t, 4, 8);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    map_range(&t, 0, 0x10000, 0x1000, SVMGPU_PTE_WRITABLE);
    for (i = 0; i < 10; i++) {
        uint64_t va = 0x100000 + i * 0x1000;

        c = cmd_copy(0x10000, va + i, 1);
        submit(&t, 0, &c);
        ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), i + 1);
        ASSERT_EQ(fault_rec(&t, i)->va, va + i);
        ASSERT_EQ(fault_rec(&t, i)->seq, i + 1);
        /* slot i % 4 */
        ASSERT_EQ(((struct svmgpu_fault_record *)pa_ptr(&t, FAULT_RING_PA))[i % 4].va,
                  va + i);
        map_range(&t, 0, va, 0x1000, 0);
        wr32(&t, SVMGPU_REG_FAULT_GET, i + 1);
        reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
        ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    }
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), 0);
    td_fini(&t);
}

/* 8 queues fault at once into a 4-entry ring: 4 recorded, 4 stall, none lost. */
TEST(ring_overflow_stalls_and_loses_nothing)
{
    TestDev t;
    struct svmgpu_cmd c;
    unsigned i, seen = 0, got = 0;

    td_init_ring(&t, 4, 8);
    ctx_create(&t, 0);
    map_range(&t, 0, 0x10000, 0x8000, SVMGPU_PTE_WRITABLE);
    for (i = 0; i < 8; i++) {
        queue_setup(&t, i, 0, 4);
        c = cmd_copy(0x10000 + i * 0x1000, 0x100000 + i * 0x1000, 8);
        push(&t, i, &c);
        doorbell(&t, i);
    }
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 4);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_FAULT_RING_FULL);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_STATUS) & SVMGPU_STATUS_FAULT_RING_FULL);
    ASSERT_GE(atomic_load(&t.irqs[SVMGPU_VEC_ERROR]), 1);
    for (i = 0; i < 8; i++) {
        uint32_t s = qstatus(&t, i);

        ASSERT_TRUE(s & (SVMGPU_Q_STATUS_FAULT_STALL |
                         SVMGPU_Q_STATUS_RING_FULL_STALL));
        got += !!(s & SVMGPU_Q_STATUS_RING_FULL_STALL);
    }
    ASSERT_EQ(got, 4);
    /* the driver drains 4 records: the other 4 arrive */
    for (i = 0; i < 4; i++) {
        seen |= 1u << fault_rec(&t, i)->queue;
    }
    wr32(&t, SVMGPU_REG_FAULT_GET, 4);
    run(&t);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 8);
    for (i = 4; i < 8; i++) {
        seen |= 1u << fault_rec(&t, i)->queue;
    }
    ASSERT_EQ(seen, 0xff);
    /* resolve all, one replay: everything completes */
    map_range(&t, 0, 0x100000, 0x8000, 0);
    wr32(&t, SVMGPU_REG_FAULT_GET, 8);
    reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
    for (i = 0; i < 8; i++) {
        ASSERT_EQ(compl(&t, i)->seq, i + 1);
        ASSERT_EQ(compl(&t, i)->err_code, 0);
    }
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 8);
    td_fini(&t);
}

TEST(ring_dma_failure_stalls_then_recovers)
{
    TestDev t;
    struct svmgpu_cmd c;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    map_range(&t, 0, 0x10000, 0x1000, SVMGPU_PTE_WRITABLE);
    wr(&t, SVMGPU_REG_FAULT_RING_BASE, 0x1000);    /* not RAM */
    c = cmd_copy(0x10000, 0x90000, 8);
    submit(&t, 0, &c);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_FAULT_RING_DMA);
    ASSERT_EQ(rd(&t, SVMGPU_REG_ERROR_ADDR), 0x1000);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 0);
    ASSERT_TRUE(qstatus(&t, 0) & SVMGPU_Q_STATUS_RING_FULL_STALL);
    wr(&t, SVMGPU_REG_FAULT_RING_BASE, FAULT_RING_PA);
    reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);
    ASSERT_EQ(fault_rec(&t, 0)->va, 0x90000);
    /* a bogus GET is refused */
    wr32(&t, SVMGPU_REG_FAULT_GET, 1000);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_GET), 0);
    ASSERT_TRUE(rd32(&t, SVMGPU_REG_ERROR_STATUS) & SVMGPU_ERROR_REG);
    /* a bogus reply op is refused */
    wr32(&t, SVMGPU_REG_ERROR_STATUS, ~0u);
    reply(&t, 0xf);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_ERROR_STATUS), SVMGPU_ERROR_REG);
    td_fini(&t);
}

/* Kernel fault mid-instruction: atomics of lanes done before it are not repeated. */
#define I(op, rd, ra, rb, imm) SVMGPU_ISA_ENCODE(SVMGPU_OP_##op, rd, ra, rb, imm)
TEST(kernel_fault_resumes_without_repeating_atomics)
{
    TestDev t;
    struct svmgpu_cmd c;
    uint64_t prog[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_LANE_ID),
        I(SHL, 2, 1, 0xff, 9),              /* lane * 512 */
        I(ADD, 2, 2, 0xff, 0x20000),         /* lanes 0-7 page 0x20000, 8-15 0x21000 */
        I(MOVI, 3, 0, 0, 1),
        I(ATOM64, 4, 2, 3, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)),
        I(EXIT, 0, 0, 0, 0),
    };
    unsigned i;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 16);
    map_range(&t, 0, 0x10000, 0x1000, 0);
    memcpy(va_ptr(&t, 0, 0x10000), prog, sizeof(prog));
    map_range(&t, 0, 0x20000, 0x1000, SVMGPU_PTE_WRITABLE);
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_LAUNCH;
    c.launch.code_va = 0x10000;
    c.launch.grid_x = c.launch.grid_y = c.launch.grid_z = 1;
    c.launch.wg_size = 16;
    submit(&t, 0, &c);
    ASSERT_EQ(rd32(&t, SVMGPU_REG_FAULT_PUT), 1);
    ASSERT_EQ(fault_rec(&t, 0)->va, 0x21000);
    ASSERT_EQ(fault_rec(&t, 0)->access, SVMGPU_ACCESS_ATOMIC);
    map_range(&t, 0, 0x21000, 0x1000, SVMGPU_PTE_WRITABLE);
    wr32(&t, SVMGPU_REG_FAULT_GET, 1);
    reply(&t, SVMGPU_FAULT_REPLY_REPLAY);
    ASSERT_EQ(compl(&t, 0)->seq, c.hdr.seq);
    ASSERT_EQ(compl(&t, 0)->err_code, 0);
    for (i = 0; i < 16; i++) {
        ASSERT_EQ(*(uint64_t *)va_ptr(&t, 0, 0x20000 + i * 512), 1);
    }
    td_fini(&t);
}

TEST_HARNESS_MAIN
