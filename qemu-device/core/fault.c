/*
 * svmgpu fault unit: fault records into the ring in guest memory, queue
 * stalls, and the driver's REPLAY/CANCEL replies (docs/hw-spec.md §7).
 *
 * Locking: fault_lock serializes record writes so FAULT_PUT only ever
 * advances over fully written records; it is held across that DMA.
 * core->lock is taken inside it, briefly and never across DMA.  The
 * reply path runs from the MMIO write with core->lock held and only
 * touches queue flags: a stalled queue is not in a step, so the lock
 * holder owns its execution state.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "internal.h"

void svmgpu_fault_report(SvmgpuCore *core, SvmgpuQueue *q, uint32_t ctx)
{
    SvmgpuQueueExec *x = &q->x;
    struct svmgpu_fault_record rec;
    uint32_t entries = core->cfg.fault_ring_entries;
    uint64_t addr;
    bool in_range;
    uint32_t seq;
    int rc;

    pthread_mutex_lock(&core->fault_lock);
    pthread_mutex_lock(&core->lock);
    if (!q->enabled || q->qgen != q->step_gen) {
        goto out;       /* disabled, re-enabled or reset: forget it */
    }
    if (core->fault_put - core->fault_get >= entries) {
        q->stall_ring_full = true;
        svmgpu_error_locked(core, SVMGPU_ERROR_FAULT_RING_FULL,
                            core->fault_ring_base,
                            "fault ring full (queue %u stalls)", q->index);
        goto out;
    }
    if (svmgpu_inject_stall_fault_locked(core, q)) {
        q->stall_ring_full = true;      /* injected (§15): no record */
        goto out;
    }
    addr = core->fault_ring_base;       /* reported if past 2^64 */
    in_range = svmgpu_table_entry(core->fault_ring_base,
                                  core->fault_put & (entries - 1),
                                  sizeof(rec), &addr);
    seq = core->fault_seq + 1;
    if (seq == 0) {
        seq = 1;
    }
    pthread_mutex_unlock(&core->lock);

    memset(&rec, 0, sizeof(rec));
    rec.va = x->fault_va;
    rec.timestamp = svmgpu_now(core);
    rec.ctx = ctx;
    rec.seq = seq;
    rec.queue = q->index;
    rec.access = x->fault_access;
    rec.reason = x->fault_reason;
    rec.flags = SVMGPU_FAULT_RECORD_VALID;
    if (svmgpu_q_stale(q)) {
        pthread_mutex_lock(&core->lock);
        goto out;
    }
    rc = core->fault_ring_base && in_range ?
         core->ops->dma_write(core->opaque, addr, &rec, sizeof(rec)) : -1;

    pthread_mutex_lock(&core->lock);
    if (q->qgen != q->step_gen) {
        goto out;
    }
    if (rc) {
        q->stall_ring_full = true;
        svmgpu_error_locked(core, SVMGPU_ERROR_FAULT_RING_DMA, addr,
                            "fault record write to 0x%llx failed",
                            (unsigned long long)addr);
        goto out;
    }
    core->fault_seq = seq;
    core->fault_put++;
    core->cnt_faults++;
    q->stall_fault = true;
    q->inj_fault_stalled = false;
    q->fault_seq = seq;
    svmgpu_trace(core, SVMGPU_TRACE_FAULT, q->index, rec.va,
                 ctx | (uint64_t)rec.access << 16 |
                 (uint64_t)rec.reason << 24 | (uint64_t)seq << 32);
    svmgpu_intr_locked(core, SVMGPU_INTR_FAULT);
out:
    pthread_mutex_unlock(&core->lock);
    pthread_mutex_unlock(&core->fault_lock);
}

void svmgpu_fault_reply_locked(SvmgpuCore *core, uint64_t val)
{
    unsigned op = val & SVMGPU_FAULT_REPLY_OP_MASK;
    unsigned qi = (val & SVMGPU_FAULT_REPLY_QUEUE_MASK) >>
                  SVMGPU_FAULT_REPLY_QUEUE_SHIFT;
    uint32_t seq = val >> SVMGPU_FAULT_REPLY_SEQ_SHIFT;
    SvmgpuQueue *q;
    unsigned i;

    svmgpu_trace(core, SVMGPU_TRACE_REPLY, op, qi, seq);
    switch (op) {
    case SVMGPU_FAULT_REPLY_REPLAY:
        core->cnt_replays++;
        for (i = 0; i < core->cfg.num_queues; i++) {
            q = &core->queues[i];
            q->stall_fault = false;
            q->stall_ring_full = false;
        }
        svmgpu_kick_locked(core);
        break;
    case SVMGPU_FAULT_REPLY_CANCEL:
        if (qi >= core->cfg.num_queues) {
            svmgpu_guest_error(core, "CANCEL of queue %u out of range", qi);
            break;
        }
        q = &core->queues[qi];
        if (!q->enabled || !q->stall_fault || q->fault_seq != seq) {
            svmgpu_guest_error(core, "stale CANCEL for queue %u seq %u", qi,
                               seq);
            break;
        }
        core->cnt_cancels++;
        q->stall_fault = false;
        q->cancel = true;
        svmgpu_kick_locked(core);
        break;
    default:
        svmgpu_error_locked(core, SVMGPU_ERROR_REG, SVMGPU_REG_FAULT_REPLY,
                            "bad FAULT_REPLY op %u", op);
        break;
    }
}
