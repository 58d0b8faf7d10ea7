/*
 * Host test environment for the svmgpu core: core-env.h (a flat fake RAM
 * for DMA, counted interrupts, a manual clock, helpers to build contexts,
 * page tables and queues; shared with svmgpu-sim) plus the test harness's
 * assertions on setup and teardown.  The core runs in sync mode unless a
 * test starts the engine threads itself.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SVMGPU_TEST_ENV_H
#define SVMGPU_TEST_ENV_H

#include "svmgpu_test.h"
#include "core-env.h"

/* Configure a device: ctx table, fault ring, enabled. */
/* The same environment without the map() fast path (bounce buffers). */
static const SvmgpuCoreOps td_ops_nomap = {
    .dma_read = td_dma_read,
    .dma_write = td_dma_write,
    .irq = td_irq,
    .now_ns = td_now,
    .guest_error = td_guest_error,
    .local_dirty = td_local_dirty,
};

static inline void td_init_ops(TestDev *t, const SvmgpuCoreConfig *cfg,
                               const SvmgpuCoreOps *ops)
{
    const char *err = NULL;

    ASSERT_EQ(core_env_init(t, cfg, ops, RAM_SIZE, &err), 0);
    ASSERT_NOT_NULL(t->core);
    t->abort_on_exhaustion = true;
}

static inline void td_init_cfg(TestDev *t, const SvmgpuCoreConfig *cfg)
{
    td_init_ops(t, cfg, &td_ops);
}

static inline void td_init(TestDev *t)
{
    SvmgpuCoreConfig cfg;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    td_init_cfg(t, &cfg);
}

static inline void td_fini(TestDev *t)
{
    int maps;

    core_env_fini(t);
    /* every map() was paired with an unmap() */
    maps = atomic_load(&t->maps);
    ASSERT_EQ(maps, 0);
}

#endif /* SVMGPU_TEST_ENV_H */
