/*
 * svmgpu core: every test of test-isa.c, unchanged, on the reference
 * interpreter (SVMGPU_ENGINE_REFERENCE); test-isa itself runs them on the
 * default fast engine.  Both must give the results test-isa.c asserts.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "test-env.h"

static inline void td_init_reference(TestDev *t)
{
    SvmgpuCoreConfig cfg;

    svmgpu_core_default_config(&cfg);
    cfg.sync = true;
    cfg.engine = SVMGPU_ENGINE_REFERENCE;
    td_init_cfg(t, &cfg);
}

static inline void td_init_ops_reference(TestDev *t, SvmgpuCoreConfig *cfg,
                                         const SvmgpuCoreOps *ops)
{
    cfg->engine = SVMGPU_ENGINE_REFERENCE;
    td_init_ops(t, cfg, ops);
}

#define td_init td_init_reference
#define td_init_ops td_init_ops_reference
#include "test-isa.c"
