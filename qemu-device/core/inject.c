/*
 * svmgpu device core: fault injection for driver bring-up
 * (docs/hw-spec.md §15).
 *
 * Registers INJ_* arm failures a correct driver must detect and recover
 * from: a queue that makes no progress, interrupt messages that never
 * arrive or arrive late, TLB invalidations that never complete or complete
 * late, corrupt completion records, a fatal device error, a fault ring
 * that takes no record, a device that does not come back from a reset (it
 * does not enable).  Delays are on the device clock; the delayed
 * messages are sent by whoever looks next (the control thread sleeps until
 * the first is due; sync mode: every run and register access), and a
 * reset drops them as it clears pending vectors.  Each failure applied bumps
 * CNT_INJECTED and is a guest-error log line and a trace event.  A reset
 * (any kind) loads the INJ_* registers from the x-inject-* properties
 * (0 by default) and clears a fatal error, but CONTROL.RESET keeps
 * INJ_ENABLE_REFUSE: that reset is the one that fails.  Everything here runs with
 * core->lock held and never blocks.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "internal.h"

_Static_assert(SVMGPU_NUM_VECTORS(SVMGPU_MAX_QUEUES) <= 32,
               "delayed interrupt vectors fit a 32-bit mask");

void svmgpu_inject_reset_locked(SvmgpuCore *core, bool control_reset)
{
    core->inj_hang_queues = core->cfg.inject_hang_queues &
                            ((1ull << core->cfg.num_queues) - 1);
    core->inj_drop_irqs = core->cfg.inject_drop_irqs;
    core->inj_inval_refuse = core->cfg.inject_inval_refuse;
    core->inj_corrupt_compl = core->cfg.inject_corrupt_compl;
    core->inj_irq_delay_us = svmgpu_min64(core->cfg.inject_irq_delay_us,
                                          SVMGPU_INJ_DELAY_MAX_US);
    core->inj_inval_delay_us = svmgpu_min64(core->cfg.inject_inval_delay_us,
                                            SVMGPU_INJ_DELAY_MAX_US);
    core->inj_stall_fault_ring = core->cfg.inject_stall_fault_ring & 1;
    if (!control_reset) {
        /* the reset INJ_ENABLE_REFUSE makes fail keeps its count (§15) */
        core->inj_enable_refuse = core->cfg.inject_enable_refuse;
    }
    core->irq_delayed_first = core->irq_delayed_n = 0;
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
    case SVMGPU_REG_INJ_IRQ_DELAY_US:
        *val = core->inj_irq_delay_us;
        return true;
    case SVMGPU_REG_INJ_INVAL_DELAY_US:
        *val = core->inj_inval_delay_us;
        return true;
    case SVMGPU_REG_INJ_STALL_FAULT_RING:
        *val = core->inj_stall_fault_ring;
        return true;
    case SVMGPU_REG_INJ_ENABLE_REFUSE:
        *val = core->inj_enable_refuse;
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
    case SVMGPU_REG_INJ_IRQ_DELAY_US:
    case SVMGPU_REG_INJ_INVAL_DELAY_US:
        if (v > SVMGPU_INJ_DELAY_MAX_US) {
            svmgpu_error_locked(core, SVMGPU_ERROR_REG, off,
                                "injected delay of %u us clamped", v);
            v = SVMGPU_INJ_DELAY_MAX_US;
        }
        if (off == SVMGPU_REG_INJ_IRQ_DELAY_US) {
            core->inj_irq_delay_us = v;
        } else {
            core->inj_inval_delay_us = v;
        }
        return true;
    case SVMGPU_REG_INJ_STALL_FAULT_RING:
        if (v & ~1u) {
            svmgpu_guest_error(core, "INJ_STALL_FAULT_RING: reserved bits "
                               "0x%x", v);
        }
        if (core->inj_stall_fault_ring && !(v & 1)) {
            /* released: the withheld records are written now */
            for (i = 0; i < core->cfg.num_queues; i++) {
                if (core->queues[i].inj_fault_stalled) {
                    /* a fault after the retry is injected anew */
                    core->queues[i].stall_ring_full = false;
                    core->queues[i].inj_fault_stalled = false;
                }
            }
            svmgpu_kick_locked(core);
        }
        core->inj_stall_fault_ring = v & 1;
        return true;
    case SVMGPU_REG_INJ_ENABLE_REFUSE:
        core->inj_enable_refuse = v;
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

bool svmgpu_inject_refuse_enable_locked(SvmgpuCore *core)
{
    if (!core->inj_enable_refuse) {
        return false;
    }
    core->inj_enable_refuse--;
    injected_locked(core, "CONTROL.ENABLE refused, left",
                    core->inj_enable_refuse);
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

bool svmgpu_inject_delay_irq_locked(SvmgpuCore *core, unsigned vector)
{
    unsigned i;

    if (!core->inj_irq_delay_us) {
        return false;
    }
    injected_locked(core, "interrupt message delayed, vector", vector);
    if (core->irq_delayed_n == SVMGPU_INJ_IRQ_QUEUE) {
        /* full: goes with the message queued last (vectors < 32) */
        i = (core->irq_delayed_first + SVMGPU_INJ_IRQ_QUEUE - 1) %
            SVMGPU_INJ_IRQ_QUEUE;
        core->irq_delayed[i].vectors |= 1u << vector;
        return true;
    }
    i = (core->irq_delayed_first + core->irq_delayed_n++) %
        SVMGPU_INJ_IRQ_QUEUE;
    core->irq_delayed[i].vectors = 1u << vector;
    core->irq_delayed[i].due = svmgpu_now(core) +
                               core->inj_irq_delay_us * 1000ull;
    /* the control thread sleeps until it is due */
    pthread_cond_broadcast(&core->work_cond);
    return true;
}

void svmgpu_inject_flush_irqs_locked(SvmgpuCore *core)
{
    uint64_t now;
    unsigned v;

    if (!core->irq_delayed_n) {
        return;
    }
    now = svmgpu_now(core);
    while (core->irq_delayed_n) {
        unsigned i = core->irq_delayed_first;

        if ((int64_t)(now - core->irq_delayed[i].due) < 0) {
            break;
        }
        core->irq_delayed_first = (i + 1) % SVMGPU_INJ_IRQ_QUEUE;
        core->irq_delayed_n--;
        for (v = 0; v < 32; v++) {
            if (core->irq_delayed[i].vectors & (1u << v)) {
                core->ops->irq(core->opaque, v);
            }
        }
    }
}

uint64_t svmgpu_inject_inval_due_locked(SvmgpuCore *core, uint32_t seq)
{
    if (!core->inj_inval_delay_us) {
        return 0;
    }
    injected_locked(core, "TLB invalidation delayed, seq", seq);
    return svmgpu_now(core) + core->inj_inval_delay_us * 1000ull;
}

uint64_t svmgpu_inject_next_due_locked(SvmgpuCore *core)
{
    uint64_t due = 0;

    if (core->irq_delayed_n) {
        due = core->irq_delayed[core->irq_delayed_first].due;
    }
    if (core->invq_len && core->invq[0].due &&
        (!due || (int64_t)(core->invq[0].due - due) < 0)) {
        due = core->invq[0].due;
    }
    return due;
}

bool svmgpu_inject_stall_fault_locked(SvmgpuCore *core, SvmgpuQueue *q)
{
    if (!core->inj_stall_fault_ring) {
        return false;
    }
    if (!q->inj_fault_stalled) {
        q->inj_fault_stalled = true;
        injected_locked(core, "fault record withheld, queue", q->index);
    }
    return true;
}
