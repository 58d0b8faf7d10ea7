/*
 * svmgpu device core: fault injection for driver bring-up
 * (docs/hw-spec.md §15).
 *
 * Registers INJ_* arm failures a correct driver must detect and recover
 * from: a queue that makes no progress, interrupt messages that never
 * arrive, TLB invalidations that never complete, corrupt completion
 * records, a fatal device error.  Each failure applied bumps
 * CNT_INJECTED and is a guest-error log line and a trace event.  A reset
 * (any kind) loads the INJ_* registers from the x-inject-* properties
 * (0 by default) and clears a fatal error.  Everything here runs with
 * core->lock held and never blocks.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "internal.h"

void svmgpu_inject_reset_locked(SvmgpuCore *core)
{
    core->inj_hang_queues = core->cfg.inject_hang_queues &
                            ((1ull << core->cfg.num_queues) - 1);
    core->inj_drop_irqs = core->cfg.inject_drop_irqs;
    core->inj_inval_refuse = core->cfg.inject_inval_refuse;
    core->inj_corrupt_compl = core->cfg.inject_corrupt_compl;
    core->inval_refused = false;
    core->fatal = false;
    core->cnt_injected = 0;
}

static void injected_locked(SvmgpuCore *core, const char *what, uint64_t arg)
{
    core->cnt_injected++;
    svmgpu_guest_error(core, "injected failure: %s (%llu)", what,
                       (unsigned long long)arg);
}

bool svmgpu_inject_read_locked(SvmgpuCore *core, uint64_t off, uint32_t *val)
{
    switch (off) {
    case SVMGPU_REG_INJ_HANG_QUEUES:
        *val = core->inj_hang_queues;
        return true;
    case SVMGPU_REG_INJ_DROP_IRQS:
        *val = core->inj_drop_irqs;
        return true;
    case SVMGPU_REG_INJ_INVAL_REFUSE:
        *val = core->inj_inval_refuse;
        return true;
    case SVMGPU_REG_INJ_CORRUPT_COMPL:
        *val = core->inj_corrupt_compl;
        return true;
    case SVMGPU_REG_INJ_FATAL:
        *val = 0;
        return true;
    case SVMGPU_REG_CNT_INJECTED:
        *val = (uint32_t)core->cnt_injected;
        return true;
    case SVMGPU_REG_CNT_INJECTED + 4:
        *val = core->cnt_injected >> 32;
        return true;
    }
    return false;
}

bool svmgpu_inject_write_locked(SvmgpuCore *core, uint64_t off, uint32_t v)
{
    uint32_t mask = (uint32_t)((1ull << core->cfg.num_queues) - 1);
    unsigned i;

    switch (off) {
    case SVMGPU_REG_INJ_HANG_QUEUES:
        for (i = 0; i < core->cfg.num_queues; i++) {
            if ((v & ~core->inj_hang_queues) & (1u << i)) {
                injected_locked(core, "queue hangs", i);
            }
        }
        if (v & ~mask) {
            svmgpu_error_locked(core, SVMGPU_ERROR_REG, off,
                                "INJ_HANG_QUEUES 0x%x names absent queues", v);
        }
        core->inj_hang_queues = v & mask;
        /* Released queues run again. */
        svmgpu_kick_locked(core);
        return true;
    case SVMGPU_REG_INJ_DROP_IRQS:
        core->inj_drop_irqs = v;
        return true;
    case SVMGPU_REG_INJ_INVAL_REFUSE:
        core->inj_inval_refuse = v;
        return true;
    case SVMGPU_REG_INJ_CORRUPT_COMPL:
        core->inj_corrupt_compl = v;
        return true;
    case SVMGPU_REG_INJ_FATAL:
        if ((v & 1) && !core->fatal) {
            core->fatal = true;
            injected_locked(core, "fatal device error", v);
            svmgpu_error_locked(core, SVMGPU_ERROR_FATAL, off,
                                "fatal device error: engines stopped until "
                                "reset");
        }
        return true;
    case SVMGPU_REG_CNT_INJECTED:
    case SVMGPU_REG_CNT_INJECTED + 4:
        svmgpu_guest_error(core, "write 0x%x to read-only register 0x%llx",
                           v, (unsigned long long)off);
        return true;
    }
    return false;
}

bool svmgpu_inject_drop_irq_locked(SvmgpuCore *core, int vector)
{
    if (!core->inj_drop_irqs) {
        return false;
    }
    core->inj_drop_irqs--;
    injected_locked(core, "interrupt message dropped, vector", vector);
    return true;
}

bool svmgpu_inject_refuse_inval_locked(SvmgpuCore *core, uint32_t seq)
{
    if (!core->inj_inval_refuse || core->inval_refused) {
        return false;
    }
    core->inj_inval_refuse--;
    core->inval_refused = true;
    injected_locked(core, "TLB invalidation refused (held until reset), seq",
                    seq);
    return true;
}

bool svmgpu_inject_corrupt_compl_locked(SvmgpuCore *core, unsigned queue)
{
    if (!core->inj_corrupt_compl) {
        return false;
    }
    core->inj_corrupt_compl--;
    injected_locked(core, "completion record corrupted, queue", queue);
    return true;
}
