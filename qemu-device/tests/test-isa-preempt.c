/*
 * svmgpu core: every test of test-isa.c, unchanged, with the kernels
 * preempted after every step (hw-spec §16).  Steps are one wave-
 * instruction (isa_slice 1), and after each one the ring of queue 0 is
 * saved with PREEMPT and resumed with RESUME on the next hardware queue,
 * as a driver scheduler moving it around would do.  test-isa.c's
 * assertions on data, completions and errors must hold as they do
 * without preemption.  A queue stalled on a fault is left stalled (its
 * test replies to it); test-preempt.c preempts stalls.
 * test-isa-ref-preempt.c runs the same on the reference engine.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "test-env.h"

#ifndef PQ_ENGINE
#define PQ_ENGINE SVMGPU_ENGINE_FAST
#endif

/* Logical queue 0 of the tests runs on hardware queue pq.hw. */
static struct {
    TestDev *t;
    unsigned hw;
    uint32_t ctx;
    uint64_t save;          /* the ring's save area */
    unsigned preemptions;
    const char *test;       /* the running test's name */
} pq;

/*
 * The one test whose kernel reads SR_QUEUE, which is the hardware queue
 * the kernel runs on (hw-spec §16.1): its ring is resumed on the same
 * hardware queue.
 */
static bool pq_stays(void)
{
    return pq.test && !strcmp(pq.test, "moves_immediates_and_special_registers");
}

static void pq_init_cfg(TestDev *t, SvmgpuCoreConfig *cfg,
                        const SvmgpuCoreOps *ops)
{
    cfg->engine = PQ_ENGINE;
    cfg->isa_slice = 1;
    td_init_ops(t, cfg, ops);
}

static void pq_init(TestDev *t)
{
    SvmgpuCoreConfig cfg;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    pq_init_cfg(t, &cfg, &td_ops);
}

static void pq_program(TestDev *t, unsigned hw, uint32_t start, bool resume)
{
    wr(t, SVMGPU_REG_Q(hw, SVMGPU_Q_BASE), t->q[0].ring);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_SIZE), t->q[0].size);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_CTX), pq.ctx);
    wr(t, SVMGPU_REG_Q(hw, SVMGPU_Q_COMPL_ADDR), t->q[0].compl);
    wr(t, SVMGPU_REG_Q(hw, SVMGPU_Q_SAVE_ADDR), pq.save);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_START), start);
    wr32(t, SVMGPU_REG_Q(hw, SVMGPU_Q_CONTROL), SVMGPU_Q_CONTROL_ENABLE |
         (resume ? SVMGPU_Q_CONTROL_RESUME : 0));
}

static void pq_queue_setup(TestDev *t, unsigned q, uint32_t ctx,
                           uint32_t entries)
{
    ASSERT_EQ(q, 0);
    t->q[0].ring = alloc_pa(t, entries * 64ull, 4096);
    t->q[0].compl = alloc_pa(t, 64, 64);
    t->q[0].size = entries;
    t->q[0].tail = 0;
    pq.t = t;
    pq.hw = 0;
    pq.ctx = ctx;
    pq.save = alloc_pa(t, SVMGPU_SAVE_AREA_SIZE, 4096);
    pq_program(t, 0, 0, false);
}

static void pq_doorbell(TestDev *t, unsigned q)
{
    wr32(t, SVMGPU_REG_Q(pq.hw, SVMGPU_Q_TAIL), t->q[q].tail);
}

static void pq_clear_error(TestDev *t, unsigned q)
{
    wr32(t, SVMGPU_REG_Q(pq.hw, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_CLEAR_ERROR);
}

/* PREEMPT the ring, RESUME it on the next hardware queue. */
static void pq_migrate(TestDev *t)
{
    unsigned next = pq_stays() ? pq.hw :
                    (pq.hw + 1) % rd32(t, SVMGPU_REG_NUM_QUEUES);
    uint32_t st = qstatus(t, pq.hw), head;
    uint64_t before = rd(t, SVMGPU_REG_CNT_PREEMPTIONS);
    bool more;

    if ((st & (SVMGPU_Q_STATUS_IDLE | SVMGPU_Q_STATUS_ERROR |
               SVMGPU_Q_STATUS_FAULT_STALL |
               SVMGPU_Q_STATUS_RING_FULL_STALL)) ||
        !(st & SVMGPU_Q_STATUS_ENABLED)) {
        return;
    }
    wr32(t, SVMGPU_REG_Q(pq.hw, SVMGPU_Q_CONTROL),
         SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_PREEMPT);
    ASSERT_TRUE(qstatus(t, pq.hw) & SVMGPU_Q_STATUS_PREEMPT_PENDING);
    /* the save is the engine's next "step" */
    ASSERT_EQ(svmgpu_core_run_sync_budget(t->core, 1, &more), 1);
    ASSERT_EQ(qstatus(t, pq.hw), SVMGPU_Q_STATUS_IDLE |
              SVMGPU_Q_STATUS_PREEMPTED);
    ASSERT_EQ(rd(t, SVMGPU_REG_CNT_PREEMPTIONS), before + 1);
    head = rd32(t, SVMGPU_REG_Q(pq.hw, SVMGPU_Q_HEAD));
    pq_program(t, next, head, true);
    pq.hw = next;
    pq.preemptions++;
    wr32(t, SVMGPU_REG_Q(next, SVMGPU_Q_TAIL), t->q[0].tail);
}

static void pq_run(TestDev *t)
{
    unsigned rounds = 0;
    bool more;

    if (pq.t != t) {
        svmgpu_core_run_sync(t->core);
        return;
    }
    /* the restore and one step, then move the ring */
    while (svmgpu_core_run_sync_budget(t->core, 2, &more)) {
        ASSERT_LT(++rounds, 10000000u);
        pq_migrate(t);
    }
}

static uint64_t pq_submit(TestDev *t, unsigned q, struct svmgpu_cmd *c)
{
    uint64_t seq = push(t, q, c);

    pq_doorbell(t, q);
    pq_run(t);
    return seq;
}

static void pq_reply(TestDev *t, uint64_t v)
{
    wr(t, SVMGPU_REG_FAULT_REPLY, v);
    pq_run(t);
}

static void pq_fini(TestDev *t)
{
    TH_LOG("%u preemptions", pq.preemptions);
    pq.t = NULL;
    td_fini(t);
}

/* test-isa.c's tests, each telling pq its name first */
#undef TEST
#define TEST(tn) \
    static void pq_body_##tn(void); \
    static void svmgpu_test_fn_##tn(struct svmgpu_test_case *_t); \
    static struct svmgpu_test_case svmgpu_test_case_##tn = { \
        .name = #tn, .fn = svmgpu_test_fn_##tn, \
    }; \
    static void __attribute__((constructor)) svmgpu_test_reg_##tn(void) \
    { \
        svmgpu_test_register(&svmgpu_test_case_##tn); \
    } \
    static void svmgpu_test_fn_##tn(struct svmgpu_test_case *_t) \
    { \
        pq.test = #tn; \
        pq_body_##tn(); \
    } \
    static void pq_body_##tn(void)

#define td_init pq_init
#define td_init_ops(t, cfg, ops) pq_init_cfg(t, cfg, ops)
#define td_fini pq_fini
#define queue_setup pq_queue_setup
#define doorbell pq_doorbell
#define clear_error pq_clear_error
#define run pq_run
#define submit pq_submit
#define reply pq_reply
#include "test-isa.c"
