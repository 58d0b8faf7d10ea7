/*
 * svmgpu core top level: the BAR0 register file, contexts, TLB invalidation
 * requests, interrupts, reset, and the engine/control thread loops
 * (docs/hw-spec.md §3, §4, §6, §9, §11, §12).
 *
 * Locking: see internal.h for the order.  MMIO handlers take core->lock for
 * the whole access.  They never wait for guest memory except CTX_ENABLE,
 * which reads one context entry with the lock dropped, and never for an
 * engine: reset, queue disable/enable and pause are latched through the
 * generations of internal.h and complete when the step in flight ends
 * (STATUS.RESET_PENDING, Q_STATUS.ENABLE_PENDING).  Invalidations run on
 * the control thread (or in svmgpu_core_run_sync()), which takes
 * core->xlate for writing.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* pthread_rwlockattr_setkind_np */
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ------------------------------------------------------------------ */
/* helpers */

uint64_t svmgpu_now(SvmgpuCore *core)
{
    return core->ops->now_ns(core->opaque);
}

void svmgpu_trace(SvmgpuCore *core, SvmgpuTraceEvent ev, uint64_t a,
                  uint64_t b, uint64_t c)
{
    if (core->ops->trace) {
        core->ops->trace(core->opaque, ev, a, b, c);
    }
}

static void guest_error_va(SvmgpuCore *core, const char *fmt, va_list ap)
{
    char msg[256];

    if (!core->ops->guest_error) {
        return;
    }
    vsnprintf(msg, sizeof(msg), fmt, ap);
    core->ops->guest_error(core->opaque, msg);
}

void svmgpu_guest_error(SvmgpuCore *core, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    guest_error_va(core, fmt, ap);
    va_end(ap);
}

static int intr_vector(unsigned bit)
{
    if (bit == 0) {
        return SVMGPU_VEC_ERROR;
    } else if (bit == 1) {
        return SVMGPU_VEC_FAULT;
    } else if (bit == 2) {
        return SVMGPU_VEC_INVAL;
    } else if (bit >= SVMGPU_INTR_QUEUE_SHIFT &&
               bit < SVMGPU_INTR_QUEUE_SHIFT + SVMGPU_MAX_QUEUES) {
        return SVMGPU_VEC_QUEUE(bit - SVMGPU_INTR_QUEUE_SHIFT);
    }
    return -1;
}

static void signal_bits_locked(SvmgpuCore *core, uint32_t bits)
{
    unsigned i;

    bits &= ~core->intr_mask;
    for (i = 0; i < 32; i++) {
        int v = intr_vector(i);

        if (!(bits & (1u << i)) || v < 0) {
            continue;
        }
        if (!svmgpu_inject_drop_irq_locked(core, v) &&
            !svmgpu_inject_delay_irq_locked(core, v)) {
            core->ops->irq(core->opaque, v);
        } else if (core->ops->level) {
            /* the message is dropped or late; INTx is a level all the same */
            core->ops->level(core->opaque);
        }
    }
}

void svmgpu_intr_locked(SvmgpuCore *core, uint32_t bits)
{
    core->intr_status |= bits;
    signal_bits_locked(core, bits);
}

void svmgpu_error_locked(SvmgpuCore *core, uint32_t bit, uint64_t addr,
                         const char *fmt, ...)
{
    uint32_t newly = bit & ~core->error_status;
    va_list ap;

    core->error_status |= bit;
    core->error_addr = addr;
    va_start(ap, fmt);
    guest_error_va(core, fmt, ap);
    va_end(ap);
    svmgpu_trace(core, SVMGPU_TRACE_ERROR, bit, addr, 0);
    /* Vector 0 means "a new kind of error": not one per repeated error. */
    if (newly) {
        svmgpu_intr_locked(core, SVMGPU_INTR_ERROR);
    }
}

void svmgpu_kick_locked(SvmgpuCore *core)
{
    unsigned i;

    for (i = 0; i < core->cfg.num_queues; i++) {
        core->queues[i].poll = true;
    }
    pthread_cond_broadcast(&core->work_cond);
}

bool svmgpu_core_intx_level(SvmgpuCore *core)
{
    bool level;

    pthread_mutex_lock(&core->lock);
    level = (core->intr_status & ~core->intr_mask) != 0;
    pthread_mutex_unlock(&core->lock);
    return level;
}

/* ------------------------------------------------------------------ */
/* construction */

void svmgpu_core_default_config(SvmgpuCoreConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->num_queues = 8;
    cfg->num_engines = 2;
    cfg->tlb_sets = 64;
    cfg->tlb_ways = 4;
    cfg->fault_ring_entries = 256;
    cfg->map_window = SVMGPU_MAP_WINDOW_MAX;
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static const char *check_config(const SvmgpuCoreConfig *cfg)
{
    if (cfg->num_queues < SVMGPU_MIN_QUEUES ||
        cfg->num_queues > SVMGPU_MAX_QUEUES) {
        return "queues must be 1..16";
    }
    if (cfg->num_engines < 1 || cfg->num_engines > SVMGPU_MAX_ENGINES) {
        return "engines must be 1..8";
    }
    if (!is_pow2(cfg->tlb_sets) || cfg->tlb_sets > SVMGPU_CORE_MAX_TLB_SETS) {
        return "tlb-sets must be a power of two up to 4096";
    }
    if (cfg->tlb_ways < 1 || cfg->tlb_ways > SVMGPU_CORE_MAX_TLB_WAYS) {
        return "tlb-ways must be 1..16";
    }
    if (!is_pow2(cfg->fault_ring_entries) ||
        cfg->fault_ring_entries < SVMGPU_FAULT_RING_MIN ||
        cfg->fault_ring_entries > SVMGPU_FAULT_RING_MAX) {
        return "fault-ring-entries must be a power of two in 4..65536";
    }
    if (cfg->map_window && (!is_pow2(cfg->map_window) ||
                            cfg->map_window < SVMGPU_PAGE_SIZE)) {
        return "map window must be 0 or a power of two of 4 KiB or more";
    }
    if (cfg->local_mem_size % SVMGPU_LOCAL_MEM_GRANULE ||
        cfg->local_mem_size > SVMGPU_LOCAL_MEM_MAX) {
        return "local-mem-size must be 0 or a multiple of 2 MiB up to 64 GiB";
    }
    if (!cfg->local_mem != !cfg->local_mem_size) {
        return "local memory needs both a size and a host pointer";
    }
    if (cfg->engine != SVMGPU_ENGINE_FAST &&
        cfg->engine != SVMGPU_ENGINE_REFERENCE) {
        return "engine must be SVMGPU_ENGINE_FAST or SVMGPU_ENGINE_REFERENCE";
    }
    return NULL;
}

SvmgpuCore *svmgpu_core_new(const SvmgpuCoreConfig *cfg,
                            const SvmgpuCoreOps *ops, void *opaque,
                            const char **err)
{
    const char *msg = check_config(cfg);
    pthread_rwlockattr_t rwa;
    pthread_condattr_t ca;
    SvmgpuCore *core;
    unsigned i;

    if (msg) {
        if (err) {
            *err = msg;
        }
        return NULL;
    }
    core = calloc(1, sizeof(*core));
    if (!core) {
        goto oom;
    }
    core->cfg = *cfg;
    core->ops = ops;
    core->opaque = opaque;
    svmgpu_inject_reset_locked(core, false);    /* power-on; no thread yet */
    core->ctxs = calloc(SVMGPU_MAX_CONTEXTS, sizeof(*core->ctxs));
    if (!core->ctxs || svmgpu_tlb_init(&core->tlb, cfg->tlb_sets,
                                       cfg->tlb_ways)) {
        free(core->ctxs);
        free(core);
        goto oom;
    }
    for (i = 0; i < cfg->num_engines; i++) {
        core->bufs[i] = malloc(SVMGPU_COPY_CHUNK);
        core->save_bufs[i] = malloc(SVMGPU_SAVE_AREA_SIZE);
        if (!core->bufs[i] || !core->save_bufs[i]) {
            free(core->save_bufs[i]);
            free(core->bufs[i]);
            while (i--) {
                free(core->save_bufs[i]);
                free(core->bufs[i]);
            }
            svmgpu_tlb_destroy(&core->tlb);
            free(core->ctxs);
            free(core);
            goto oom;
        }
    }
    for (i = 0; i < SVMGPU_MAX_QUEUES; i++) {
        core->queues[i].index = i;
    }
    pthread_mutex_init(&core->lock, NULL);
    pthread_mutex_init(&core->atomic_lock, NULL);
    pthread_mutex_init(&core->fault_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&core->work_cond, &ca);
    pthread_cond_init(&core->idle_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_rwlockattr_init(&rwa);
#ifdef __GLIBC__
    /* Invalidations must not starve behind a stream of engine accesses. */
    pthread_rwlockattr_setkind_np(&rwa,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&core->xlate, &rwa);
    pthread_rwlockattr_destroy(&rwa);
    return core;

oom:
    if (err) {
        *err = "out of memory";
    }
    return NULL;
}

void svmgpu_core_free(SvmgpuCore *core)
{
    unsigned i;

    if (!core) {
        return;
    }
    for (i = 0; i < SVMGPU_MAX_QUEUES; i++) {
        svmgpu_queue_exec_reset(&core->queues[i].x);
    }
    for (i = 0; i < SVMGPU_MAX_ENGINES; i++) {
        free(core->bufs[i]);
        free(core->save_bufs[i]);
    }
    pthread_rwlock_destroy(&core->xlate);
    pthread_cond_destroy(&core->work_cond);
    pthread_cond_destroy(&core->idle_cond);
    pthread_mutex_destroy(&core->fault_lock);
    pthread_mutex_destroy(&core->atomic_lock);
    pthread_mutex_destroy(&core->lock);
    svmgpu_tlb_destroy(&core->tlb);
    free(core->ctxs);
    free(core);
}

/* ------------------------------------------------------------------ */
/* reset */

/*
 * Every register of the queue to its reset value.  The execution state
 * (q->x) belongs to the engine while a step runs: then it is left alone,
 * the step is made stale and the engine throws it away when the step ends
 * (after_step_locked()).
 */
static void reset_queue_locked(SvmgpuQueue *q)
{
    if (!q->in_step) {
        svmgpu_queue_exec_reset(&q->x);
    }
    svmgpu_queue_bump_gen_locked(q);
    q->base = 0;
    q->size = 0;
    q->ctx = 0;
    q->compl_addr = 0;
    q->save_addr = 0;
    q->priority = 0;
    q->start = 0;
    q->head = q->tail = 0;
    q->enabled = false;
    q->error = q->bad_config = false;
    q->stall_fault = q->stall_ring_full = q->inj_fault_stalled = false;
    q->cancel = q->poll = q->waiting = false;
    q->preempt_pending = q->preempted = q->resume = false;
    q->next_poll = 0;
    q->fault_seq = 0;
    q->compl_seq = 0;
    q->err_code = q->err_info = 0;
    q->err_va = q->err_seq = 0;
    q->l_base = 0;
    q->l_size = 0;
    q->l_ctx = 0;
    q->l_compl_addr = 0;
    q->l_save_addr = 0;
    q->l_priority = 0;
}

/*
 * Reset at once: the registers take their reset values before this
 * returns, and steps (and an invalidation batch) in flight become stale:
 * they end on their own, write nothing and change nothing
 * (STATUS.RESET_PENDING until then).  @control_reset: CONTROL.RESET, not
 * FLR or a system reset (INJ_ENABLE_REFUSE survives it, §15).
 */
static void reset_locked(SvmgpuCore *core, bool control_reset)
{
    unsigned i;

    core->gen++;
    for (i = 0; i < SVMGPU_MAX_QUEUES; i++) {
        reset_queue_locked(&core->queues[i]);
    }
    /*
     * Before svmgpu_tlb_flush() below: a walk that reads the flush's new
     * TLB generation (an acquire load) then reads these roots as 0, so no
     * entry of the old tables can be inserted after the flush
     * (svmgpu_mmu_translate() reads the generation, then the root).
     */
    for (i = 0; i < SVMGPU_MAX_CONTEXTS; i++) {
        __atomic_store_n(&core->ctxs[i].root, 0, __ATOMIC_RELEASE);
    }
    core->control = 0;
    core->link_free = 0;        /* the link is idle after a reset (§5a) */
    core->error_status = 0;
    core->error_addr = 0;
    core->intr_status = core->intr_mask = 0;
    core->ctx_table_base = 0;
    core->ctx_table_entries = 0;
    core->ctx_select = 0;
    core->inv_ctx = core->inv_flags = 0;
    core->inv_start = core->inv_size = 0;
    core->inv_req_seq = core->inv_done_seq = 0;
    core->inv_done_addr = 0;
    core->invq_len = 0;
    core->inval_busy = false;
    core->fault_ring_base = 0;
    core->fault_put = core->fault_get = 0;
    core->fault_seq = 0;
    core->reply_lo = 0;
    __atomic_store_n(&core->cnt_walks, 0, __ATOMIC_RELAXED);
    core->cnt_faults = 0;
    core->cnt_replays = core->cnt_cancels = 0;
    core->cnt_commands = core->cnt_instructions = 0;
    core->cnt_invalidations = 0;
    memset(core->cnt_bytes, 0, sizeof(core->cnt_bytes));
    core->cnt_preemptions = 0;
    core->ts_hi = 0;
    svmgpu_inject_reset_locked(core, control_reset);
    memset(core->rr, 0, sizeof(core->rr));
    svmgpu_tlb_flush(&core->tlb);
    __atomic_add_fetch(&core->map_gen, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&core->work_cond);
}

void svmgpu_core_dma_unmapped(SvmgpuCore *core)
{
    __atomic_add_fetch(&core->map_gen, 1, __ATOMIC_RELEASE);
}

void svmgpu_core_map_only_accessed(SvmgpuCore *core)
{
    pthread_mutex_lock(&core->lock);
    core->cfg.map_window = 0;
    pthread_mutex_unlock(&core->lock);
}

void svmgpu_core_pause(SvmgpuCore *core, bool paused)
{
    pthread_mutex_lock(&core->lock);
    core->paused = paused;
    pthread_cond_broadcast(&core->work_cond);
    pthread_mutex_unlock(&core->lock);
}

uint64_t svmgpu_core_wait_polls(SvmgpuCore *core)
{
    uint64_t n;

    pthread_mutex_lock(&core->lock);
    n = core->wait_polls;
    pthread_mutex_unlock(&core->lock);
    return n;
}

void svmgpu_core_reset(SvmgpuCore *core)
{
    pthread_mutex_lock(&core->lock);
    reset_locked(core, false);
    pthread_mutex_unlock(&core->lock);
}

/* ------------------------------------------------------------------ */
/* contexts and invalidation */

static void queue_inval_locked(SvmgpuCore *core, uint32_t ctx, uint32_t flags,
                               uint64_t start, uint64_t size)
{
    SvmgpuInval *r;
    uint64_t due;

    core->inv_req_seq++;
    if (core->inval_refused ||
        svmgpu_inject_refuse_inval_locked(core, core->inv_req_seq)) {
        /* Refused (§15): neither it nor any later request completes. */
        core->inval_busy = true;
        return;
    }
    if (core->invq_len == SVMGPU_INVAL_QUEUE) {
        /* Queue full: widen the last request to everything. */
        r = &core->invq[core->invq_len - 1];
        r->flags = SVMGPU_TLB_INV_ALL_CONTEXTS;
    } else {
        r = &core->invq[core->invq_len++];
        r->ctx = ctx;
        r->flags = flags;
        r->start = start;
        r->size = size;
        r->due = 0;
    }
    /* Injected (§15): completes that much later (a widened one too). */
    due = svmgpu_inject_inval_due_locked(core, core->inv_req_seq);
    if (due) {
        r->due = due;
    }
    r->seq = core->inv_req_seq;
    core->inval_busy = true;
    svmgpu_trace(core, SVMGPU_TRACE_INVAL_SUBMIT, r->seq,
                 ctx | (uint64_t)flags << 32, start);
    pthread_cond_broadcast(&core->work_cond);
}

static void inval_submit_locked(SvmgpuCore *core)
{
    uint32_t flags = core->inv_flags & (SVMGPU_TLB_INV_ALL_CONTEXTS |
                                        SVMGPU_TLB_INV_WHOLE_CONTEXT);
    uint64_t start = core->inv_start, size = core->inv_size;
    bool bad = false;

    if (!(flags & SVMGPU_TLB_INV_ALL_CONTEXTS)) {
        if (core->inv_ctx >= SVMGPU_MAX_CONTEXTS) {
            bad = true;
        } else if (!(flags & SVMGPU_TLB_INV_WHOLE_CONTEXT) && size &&
                   start + size - 1 < start) {
            bad = true;
        }
    }
    if (bad) {
        svmgpu_error_locked(core, SVMGPU_ERROR_INVAL, core->inv_ctx,
                            "bad TLB invalidation: ctx %u start 0x%llx "
                            "size 0x%llx", core->inv_ctx,
                            (unsigned long long)start,
                            (unsigned long long)size);
        /* Completes as a no-op: an empty range of context 0. */
        queue_inval_locked(core, 0, 0, 0, 0);
        return;
    }
    queue_inval_locked(core, core->inv_ctx, flags, start, size);
}

/* Process pending invalidations; returns false if there were none. */
static bool control_step(SvmgpuCore *core)
{
    SvmgpuInval reqs[SVMGPU_INVAL_QUEUE];
    unsigned n, i;
    uint32_t last, gen;
    uint64_t addr, val, now;

    pthread_mutex_lock(&core->lock);
    /* the requests that are due, in order (INJ_INVAL_DELAY_US) */
    now = core->invq_len ? svmgpu_now(core) : 0;
    for (n = 0; n < core->invq_len; n++) {
        if (core->invq[n].due && (int64_t)(now - core->invq[n].due) < 0) {
            break;
        }
    }
    if (!n || core->paused) {
        pthread_mutex_unlock(&core->lock);
        return false;
    }
    memcpy(reqs, core->invq, n * sizeof(reqs[0]));
    core->invq_len -= n;
    memmove(core->invq, core->invq + n, core->invq_len * sizeof(reqs[0]));
    core->active++;
    core->ctl_busy = true;
    core->ctl_gen = gen = core->gen;
    pthread_mutex_unlock(&core->lock);

    /*
     * Waits for every access that still uses an old translation; engines
     * holding xlate across a run of accesses see inval_waiting and let go
     * at their next access boundary.
     */
    __atomic_add_fetch(&core->inval_waiting, 1, __ATOMIC_SEQ_CST);
    pthread_rwlock_wrlock(&core->xlate);
    for (i = 0; i < n; i++) {
        svmgpu_tlb_invalidate(&core->tlb,
                              reqs[i].flags & SVMGPU_TLB_INV_ALL_CONTEXTS,
                              reqs[i].ctx,
                              reqs[i].flags & SVMGPU_TLB_INV_WHOLE_CONTEXT,
                              reqs[i].start, reqs[i].size);
    }
    /*
     * From now on the driver may unmap the DMA addresses of the removed
     * translations and map other pages there: no map window of an engine
     * serves a new access any more (svmgpu_map_get()).
     */
    __atomic_add_fetch(&core->map_gen, 1, __ATOMIC_RELEASE);
    pthread_rwlock_unlock(&core->xlate);
    __atomic_sub_fetch(&core->inval_waiting, 1, __ATOMIC_SEQ_CST);
    last = reqs[n - 1].seq;

    pthread_mutex_lock(&core->lock);
    addr = core->gen == gen ? core->inv_done_addr : 0;
    pthread_mutex_unlock(&core->lock);
    val = last;
    /* A reset since the batch began: write nothing (re-checked late). */
    if (addr && __atomic_load_n(&core->gen, __ATOMIC_ACQUIRE) == gen &&
        core->ops->dma_write(core->opaque, addr, &val, 8)) {
        pthread_mutex_lock(&core->lock);
        if (core->gen == gen) {
            svmgpu_error_locked(core, SVMGPU_ERROR_COMPLETION_DMA, addr,
                                "TLB_INV_DONE_ADDR write to 0x%llx failed",
                                (unsigned long long)addr);
        }
        pthread_mutex_unlock(&core->lock);
    }

    pthread_mutex_lock(&core->lock);
    if (core->gen == gen) {
        core->inv_done_seq = last;
        core->cnt_invalidations += n;
        core->inval_busy = core->invq_len != 0 || core->inval_refused;
        svmgpu_trace(core, SVMGPU_TRACE_INVAL_DONE, last, n, 0);
        svmgpu_intr_locked(core, SVMGPU_INTR_INVAL);
    }
    core->ctl_busy = false;
    core->active--;
    pthread_cond_broadcast(&core->idle_cond);
    pthread_mutex_unlock(&core->lock);
    return true;
}

static void ctx_enable_locked(SvmgpuCore *core, uint32_t id)
{
    struct svmgpu_ctx_entry e;
    uint64_t addr;
    uint32_t gen = core->gen;
    bool in_range;
    int rc;

    if (id >= core->ctx_table_entries) {
        svmgpu_error_locked(core, SVMGPU_ERROR_CTX, id,
                            "CTX_ENABLE %u beyond table (%u entries)", id,
                            core->ctx_table_entries);
        return;
    }
    addr = core->ctx_table_base;        /* reported if past 2^64 */
    in_range = svmgpu_table_entry(core->ctx_table_base, id, sizeof(e), &addr);
    pthread_mutex_unlock(&core->lock);
    rc = in_range ? core->ops->dma_read(core->opaque, addr, &e, sizeof(e)) : -1;
    pthread_mutex_lock(&core->lock);
    if (core->gen != gen) {
        /*
         * Reset meanwhile (an IOMMU's event write into config space can
         * do an FLR from inside the read): nothing of this CTX_ENABLE
         * survives it, no error state either (§12).
         */
        return;
    }
    if (rc || !(e.flags & SVMGPU_CTX_VALID) ||
        (e.pt_root & ~SVMGPU_PTE_ADDR_MASK)) {     /* unaligned, or >= 2^52 */
        svmgpu_error_locked(core, SVMGPU_ERROR_CTX, addr,
                            "CTX_ENABLE %u: entry at 0x%llx %s", id,
                            (unsigned long long)addr,
                            rc ? "unreadable" : "invalid");
        return;
    }
    __atomic_store_n(&core->ctxs[id].root, e.pt_root | SVMGPU_CTX_ROOT_ON,
                     __ATOMIC_RELEASE);
}

static void ctx_disable_locked(SvmgpuCore *core, uint32_t id)
{
    if (id >= SVMGPU_MAX_CONTEXTS) {
        svmgpu_error_locked(core, SVMGPU_ERROR_REG, SVMGPU_REG_CTX_DISABLE,
                            "CTX_DISABLE %u out of range", id);
        return;
    }
    __atomic_store_n(&core->ctxs[id].root,
                     core->ctxs[id].root & ~SVMGPU_CTX_ROOT_ON,
                     __ATOMIC_RELEASE);
    queue_inval_locked(core, id, SVMGPU_TLB_INV_WHOLE_CONTEXT, 0, 0);
}

/* ------------------------------------------------------------------ */
/* queues */

static uint32_t queue_status_locked(SvmgpuQueue *q)
{
    uint32_t s = 0;

    if (q->enabled) {
        s |= SVMGPU_Q_STATUS_ENABLED;
    }
    if (!q->in_step && !q->preempt_pending &&
        (!q->enabled || q->error ||
         (!q->x.has_cmd && !q->resume && q->head == q->tail))) {
        s |= SVMGPU_Q_STATUS_IDLE;
    }
    if (q->preempt_pending) {
        s |= SVMGPU_Q_STATUS_PREEMPT_PENDING;
    }
    if (q->preempted) {
        s |= SVMGPU_Q_STATUS_PREEMPTED;
    }
    if (q->stall_fault) {
        s |= SVMGPU_Q_STATUS_FAULT_STALL;
    }
    if (q->stall_ring_full) {
        s |= SVMGPU_Q_STATUS_RING_FULL_STALL;
    }
    if (q->waiting) {
        s |= SVMGPU_Q_STATUS_WAITING;
    }
    if (q->error) {
        s |= SVMGPU_Q_STATUS_ERROR;
    }
    if (q->enabled && q->in_step && q->step_gen != q->qgen) {
        s |= SVMGPU_Q_STATUS_ENABLE_PENDING;
    }
    return s;
}

void svmgpu_queue_fail_locked(SvmgpuCore *core, SvmgpuQueue *q,
                              uint32_t code, uint64_t va)
{
    q->error = true;
    q->err_code = code;
    q->err_info = 0;
    q->err_va = va;
    q->err_seq = 0;
    /* a halted queue reaches no safe point: the PREEMPT is dropped */
    q->preempt_pending = false;
    svmgpu_error_locked(core, SVMGPU_ERROR_QUEUE, q->index,
                        "queue %u halted with error %u", q->index, code);
    svmgpu_intr_locked(core, SVMGPU_INTR_QUEUE(q->index));
}

/*
 * Registers change at once.  If the engine is still in a step begun
 * before (the queue was disabled and re-enabled under it), that step is
 * stale and the queue runs again only after it ended and its state was
 * thrown away (Q_STATUS.ENABLE_PENDING meanwhile).
 */
static void queue_enable_locked(SvmgpuCore *core, SvmgpuQueue *q,
                                bool resume)
{
    if (!q->in_step) {
        svmgpu_queue_exec_reset(&q->x);
    }
    svmgpu_queue_bump_gen_locked(q);
    q->enabled = true;
    q->error = q->bad_config = false;
    q->stall_fault = q->stall_ring_full = q->cancel = false;
    q->inj_fault_stalled = false;
    q->waiting = q->poll = false;
    q->preempt_pending = q->preempted = false;
    q->resume = resume;     /* the engine loads the save area first */
    q->l_base = q->base;
    q->l_size = q->size;
    q->l_ctx = q->ctx;
    q->l_compl_addr = q->compl_addr;
    q->l_save_addr = q->save_addr;
    q->l_priority = q->priority;
    q->head = q->tail = q->start;
    if (!q->base || (q->base & (SVMGPU_CMD_SIZE - 1)) || !is_pow2(q->size) ||
        q->size < SVMGPU_QUEUE_MIN_ENTRIES ||
        q->size > SVMGPU_QUEUE_MAX_ENTRIES || q->ctx >= SVMGPU_MAX_CONTEXTS ||
        (q->compl_addr & (sizeof(struct svmgpu_completion) - 1)) ||
        (q->save_addr & (SVMGPU_PAGE_SIZE - 1)) ||
        q->priority > SVMGPU_Q_PRIORITY_MAX || q->start >= q->size) {
        q->l_size = SVMGPU_QUEUE_MIN_ENTRIES;   /* keep ring math sane */
        q->l_priority = 0;
        q->head = q->tail = 0;
        q->resume = false;
        q->bad_config = true;
        svmgpu_queue_fail_locked(core, q, SVMGPU_ERR_BAD_QUEUE_CONFIG, q->base);
    }
}

static void queue_disable_locked(SvmgpuQueue *q)
{
    if (q->enabled) {
        svmgpu_queue_bump_gen_locked(q);
    }
    q->enabled = false;
    q->stall_fault = q->stall_ring_full = q->cancel = false;
    q->waiting = q->poll = false;
    q->preempt_pending = q->resume = false;
}

/*
 * PREEMPT (§16.1): the queue's engine saves its state at the next safe
 * point (svmgpu_queue_save()); ignored on a halted queue or a second
 * request, refused without a save area.
 */
static void queue_preempt_locked(SvmgpuCore *core, SvmgpuQueue *q,
                                 uint64_t off)
{
    if (q->error || q->preempt_pending) {
        return;
    }
    if (!q->l_save_addr) {
        svmgpu_error_locked(core, SVMGPU_ERROR_REG, off,
                            "queue %u: PREEMPT without a save area",
                            q->index);
        return;
    }
    q->preempt_pending = true;
}

static void queue_write_locked(SvmgpuCore *core, SvmgpuQueue *q,
                               unsigned reg, uint32_t v, uint64_t off)
{
    bool cfg_reg = reg < SVMGPU_Q_CONTROL ||
                   (reg >= SVMGPU_Q_SAVE_ADDR && reg < SVMGPU_Q_START + 4);

    if (cfg_reg && q->enabled) {
        svmgpu_error_locked(core, SVMGPU_ERROR_REG, off,
                            "queue %u: config write 0x%x while enabled",
                            q->index, reg);
        return;
    }
    switch (reg) {
    case SVMGPU_Q_BASE:
        q->base = (q->base & ~0xffffffffull) | v;
        break;
    case SVMGPU_Q_BASE + 4:
        q->base = (q->base & 0xffffffffull) | (uint64_t)v << 32;
        break;
    case SVMGPU_Q_SIZE:
        q->size = v;
        break;
    case SVMGPU_Q_CTX:
        q->ctx = v;
        break;
    case SVMGPU_Q_COMPL_ADDR:
        q->compl_addr = (q->compl_addr & ~0xffffffffull) | v;
        break;
    case SVMGPU_Q_COMPL_ADDR + 4:
        q->compl_addr = (q->compl_addr & 0xffffffffull) | (uint64_t)v << 32;
        break;
    case SVMGPU_Q_SAVE_ADDR:
        q->save_addr = (q->save_addr & ~0xffffffffull) | v;
        break;
    case SVMGPU_Q_SAVE_ADDR + 4:
        q->save_addr = (q->save_addr & 0xffffffffull) | (uint64_t)v << 32;
        break;
    case SVMGPU_Q_PRIORITY:
        q->priority = v;
        break;
    case SVMGPU_Q_START:
        q->start = v;
        break;
    case SVMGPU_Q_CONTROL:
        if (v & ~(SVMGPU_Q_CONTROL_ENABLE | SVMGPU_Q_CONTROL_CLEAR_ERROR |
                  SVMGPU_Q_CONTROL_PREEMPT | SVMGPU_Q_CONTROL_RESUME)) {
            svmgpu_guest_error(core, "queue %u: reserved Q_CONTROL bits 0x%x",
                               q->index, v);
        }
        if (!(v & SVMGPU_Q_CONTROL_ENABLE)) {
            queue_disable_locked(q);
        } else if (!q->enabled) {
            queue_enable_locked(core, q, v & SVMGPU_Q_CONTROL_RESUME);
        } else {
            bool halted = q->error;

            if ((v & SVMGPU_Q_CONTROL_CLEAR_ERROR) && q->error &&
                !q->bad_config) {
                q->error = false;
            }
            /* ignored on a queue halted before this write (§16.1) */
            if ((v & SVMGPU_Q_CONTROL_PREEMPT) && !halted) {
                queue_preempt_locked(core, q, off);
            }
        }
        pthread_cond_broadcast(&core->work_cond);
        break;
    case SVMGPU_Q_TAIL:
        svmgpu_trace(core, SVMGPU_TRACE_DOORBELL, q->index, v, 0);
        if (!q->enabled) {
            q->tail = v;    /* reset to 0 by the next enable */
            break;
        }
        if (v >= q->l_size) {
            /* a halted queue keeps the error that halted it */
            if (q->error) {
                svmgpu_guest_error(core, "queue %u: tail %u beyond the ring "
                                   "of a halted queue", q->index, v);
            } else {
                svmgpu_queue_fail_locked(core, q, SVMGPU_ERR_BAD_DOORBELL, v);
            }
            break;
        }
        q->tail = v;
        svmgpu_kick_locked(core);
        break;
    default:
        svmgpu_guest_error(core, "write to read-only queue register 0x%llx",
                           (unsigned long long)off);
        break;
    }
}

static uint32_t queue_read_locked(SvmgpuQueue *q, unsigned reg)
{
    switch (reg) {
    case SVMGPU_Q_BASE: return q->base;
    case SVMGPU_Q_BASE + 4: return q->base >> 32;
    case SVMGPU_Q_SIZE: return q->size;
    case SVMGPU_Q_CTX: return q->ctx;
    case SVMGPU_Q_COMPL_ADDR: return q->compl_addr;
    case SVMGPU_Q_COMPL_ADDR + 4: return q->compl_addr >> 32;
    case SVMGPU_Q_CONTROL:
        return q->enabled ? SVMGPU_Q_CONTROL_ENABLE : 0;
    case SVMGPU_Q_STATUS: return queue_status_locked(q);
    case SVMGPU_Q_HEAD: return q->head;
    case SVMGPU_Q_TAIL: return q->tail;
    case SVMGPU_Q_COMPL_SEQ: return q->compl_seq;
    case SVMGPU_Q_COMPL_SEQ + 4: return q->compl_seq >> 32;
    case SVMGPU_Q_ERROR_CODE: return q->err_code;
    case SVMGPU_Q_ERROR_INFO: return q->err_info;
    case SVMGPU_Q_ERROR_VA: return q->err_va;
    case SVMGPU_Q_ERROR_VA + 4: return q->err_va >> 32;
    case SVMGPU_Q_ERROR_SEQ: return q->err_seq;
    case SVMGPU_Q_ERROR_SEQ + 4: return q->err_seq >> 32;
    case SVMGPU_Q_SAVE_ADDR: return q->save_addr;
    case SVMGPU_Q_SAVE_ADDR + 4: return q->save_addr >> 32;
    case SVMGPU_Q_PRIORITY: return q->priority;
    case SVMGPU_Q_START: return q->start;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* register file */

static uint32_t device_status_locked(SvmgpuCore *core)
{
    uint32_t s = 0;
    bool idle = !core->invq_len && !core->inval_busy;
    unsigned i;

    if (core->control & SVMGPU_CONTROL_ENABLE) {
        s |= SVMGPU_STATUS_ENABLED;
    }
    for (i = 0; i < core->cfg.num_queues; i++) {
        SvmgpuQueue *q = &core->queues[i];
        uint32_t qs = queue_status_locked(q);

        if (!(qs & SVMGPU_Q_STATUS_IDLE)) {
            idle = false;
        }
        if (q->enabled && q->stall_fault) {
            s |= SVMGPU_STATUS_FAULT_STALL;
        }
        if (q->enabled && q->stall_ring_full) {
            s |= SVMGPU_STATUS_FAULT_RING_FULL;
        }
    }
    if (idle) {
        s |= SVMGPU_STATUS_IDLE;
    }
    if (core->invq_len || core->inval_busy) {
        s |= SVMGPU_STATUS_INVAL_BUSY;
    }
    if (core->error_status) {
        s |= SVMGPU_STATUS_ERROR;
    }
    if (core->ctl_busy && core->ctl_gen != core->gen) {
        s |= SVMGPU_STATUS_RESET_PENDING;
    }
    for (i = 0; i < core->cfg.num_queues; i++) {
        if (core->queues[i].in_step &&
            core->queues[i].step_dgen != core->gen) {
            s |= SVMGPU_STATUS_RESET_PENDING;
        }
    }
    return s;
}

#define LO(v) ((uint32_t)(v))
#define HI(v) ((uint32_t)((uint64_t)(v) >> 32))

static uint32_t read32_locked(SvmgpuCore *core, uint64_t off,
                              const uint64_t *tlbc)
{
    uint32_t inj;

    if (svmgpu_inject_read_locked(core, off, &inj)) {
        return inj;
    }
    if (off >= SVMGPU_REG_QUEUE_BASE) {
        uint64_t rel = off - SVMGPU_REG_QUEUE_BASE;
        unsigned qi = rel / SVMGPU_REG_QUEUE_STRIDE;

        if (qi < core->cfg.num_queues) {
            return queue_read_locked(&core->queues[qi],
                                     rel % SVMGPU_REG_QUEUE_STRIDE);
        }
        return 0;
    }
    switch (off) {
    case SVMGPU_REG_ID: return SVMGPU_ID_MAGIC;
    case SVMGPU_REG_VERSION: return SVMGPU_VERSION;
    case SVMGPU_REG_NUM_QUEUES: return core->cfg.num_queues;
    case SVMGPU_REG_NUM_ENGINES: return core->cfg.num_engines;
    case SVMGPU_REG_TLB_SETS: return core->cfg.tlb_sets;
    case SVMGPU_REG_TLB_WAYS: return core->cfg.tlb_ways;
    case SVMGPU_REG_FAULT_RING_ENTRIES: return core->cfg.fault_ring_entries;
    case SVMGPU_REG_NUM_CONTEXTS: return SVMGPU_MAX_CONTEXTS;
    case SVMGPU_REG_LOCAL_MEM_SIZE: return LO(core->cfg.local_mem_size);
    case SVMGPU_REG_LOCAL_MEM_SIZE + 4: return HI(core->cfg.local_mem_size);
    case SVMGPU_REG_CAPS:
        return SVMGPU_CAPS_LEAF_2M | SVMGPU_CAPS_LEAF_1G | SVMGPU_CAPS_FP64 |
               SVMGPU_CAPS_INTX | SVMGPU_CAPS_PREEMPT | SVMGPU_CAPS_FMA |
               (core->cfg.local_mem_size ? SVMGPU_CAPS_LOCAL_MEM : 0);
    case SVMGPU_REG_LINK_BANDWIDTH: return core->cfg.link_bandwidth;
    case SVMGPU_REG_LINK_LATENCY: return core->cfg.link_latency;
    case SVMGPU_REG_CONTROL: return core->control;
    case SVMGPU_REG_STATUS: return device_status_locked(core);
    case SVMGPU_REG_ERROR_STATUS: return core->error_status;
    case SVMGPU_REG_ERROR_ADDR: return LO(core->error_addr);
    case SVMGPU_REG_ERROR_ADDR + 4: return HI(core->error_addr);
    case SVMGPU_REG_TIMESTAMP: {
        /* the high half is latched: two 32-bit reads never tear */
        uint64_t now = svmgpu_now(core);

        core->ts_hi = HI(now);
        return LO(now);
    }
    case SVMGPU_REG_TIMESTAMP + 4: return core->ts_hi;
    case SVMGPU_REG_INTR_STATUS: return core->intr_status;
    case SVMGPU_REG_INTR_MASK: return core->intr_mask;
    case SVMGPU_REG_CTX_TABLE_BASE: return LO(core->ctx_table_base);
    case SVMGPU_REG_CTX_TABLE_BASE + 4: return HI(core->ctx_table_base);
    case SVMGPU_REG_CTX_TABLE_ENTRIES: return core->ctx_table_entries;
    case SVMGPU_REG_CTX_SELECT: return core->ctx_select;
    case SVMGPU_REG_CTX_STATE:
        return core->ctx_select < SVMGPU_MAX_CONTEXTS &&
               (core->ctxs[core->ctx_select].root & SVMGPU_CTX_ROOT_ON) ?
               SVMGPU_CTX_STATE_ENABLED : 0;
    case SVMGPU_REG_TLB_INV_CTX: return core->inv_ctx;
    case SVMGPU_REG_TLB_INV_FLAGS: return core->inv_flags;
    case SVMGPU_REG_TLB_INV_START: return LO(core->inv_start);
    case SVMGPU_REG_TLB_INV_START + 4: return HI(core->inv_start);
    case SVMGPU_REG_TLB_INV_SIZE: return LO(core->inv_size);
    case SVMGPU_REG_TLB_INV_SIZE + 4: return HI(core->inv_size);
    case SVMGPU_REG_TLB_INV_REQ_SEQ: return core->inv_req_seq;
    case SVMGPU_REG_TLB_INV_DONE_SEQ: return core->inv_done_seq;
    case SVMGPU_REG_TLB_INV_DONE_ADDR: return LO(core->inv_done_addr);
    case SVMGPU_REG_TLB_INV_DONE_ADDR + 4: return HI(core->inv_done_addr);
    case SVMGPU_REG_FAULT_RING_BASE: return LO(core->fault_ring_base);
    case SVMGPU_REG_FAULT_RING_BASE + 4: return HI(core->fault_ring_base);
    case SVMGPU_REG_FAULT_PUT: return core->fault_put;
    case SVMGPU_REG_FAULT_GET: return core->fault_get;
    case SVMGPU_REG_FAULT_SEQ: return core->fault_seq;
    case SVMGPU_REG_CNT_TLB_HITS: return LO(tlbc[0]);
    case SVMGPU_REG_CNT_TLB_HITS + 4: return HI(tlbc[0]);
    case SVMGPU_REG_CNT_TLB_MISSES: return LO(tlbc[1]);
    case SVMGPU_REG_CNT_TLB_MISSES + 4: return HI(tlbc[1]);
    case SVMGPU_REG_CNT_TLB_EVICTIONS: return LO(tlbc[2]);
    case SVMGPU_REG_CNT_TLB_EVICTIONS + 4: return HI(tlbc[2]);
    case SVMGPU_REG_CNT_TLB_INVALIDATIONS: return LO(core->cnt_invalidations);
    case SVMGPU_REG_CNT_TLB_INVALIDATIONS + 4:
        return HI(core->cnt_invalidations);
    case SVMGPU_REG_CNT_PAGE_WALKS: return LO(tlbc[3]);
    case SVMGPU_REG_CNT_PAGE_WALKS + 4: return HI(tlbc[3]);
    case SVMGPU_REG_CNT_FAULTS: return LO(core->cnt_faults);
    case SVMGPU_REG_CNT_FAULTS + 4: return HI(core->cnt_faults);
    case SVMGPU_REG_CNT_REPLAYS: return LO(core->cnt_replays);
    case SVMGPU_REG_CNT_REPLAYS + 4: return HI(core->cnt_replays);
    case SVMGPU_REG_CNT_CANCELS: return LO(core->cnt_cancels);
    case SVMGPU_REG_CNT_CANCELS + 4: return HI(core->cnt_cancels);
    case SVMGPU_REG_CNT_COMMANDS: return LO(core->cnt_commands);
    case SVMGPU_REG_CNT_COMMANDS + 4: return HI(core->cnt_commands);
    case SVMGPU_REG_CNT_INSTRUCTIONS: return LO(core->cnt_instructions);
    case SVMGPU_REG_CNT_INSTRUCTIONS + 4: return HI(core->cnt_instructions);
    case SVMGPU_REG_CNT_PREEMPTIONS: return LO(core->cnt_preemptions);
    case SVMGPU_REG_CNT_PREEMPTIONS + 4: return HI(core->cnt_preemptions);
    case SVMGPU_REG_CNT_LINK_READ_BYTES ... SVMGPU_REG_CNT_LOCAL_WRITE_BYTES + 4:
        off -= SVMGPU_REG_CNT_LINK_READ_BYTES;
        return off & 4 ? HI(core->cnt_bytes[off / 8]) :
                         LO(core->cnt_bytes[off / 8]);
    }
    return 0;
}

static void set_lo(uint64_t *r, uint32_t v)
{
    *r = (*r & ~0xffffffffull) | v;
}

static void set_hi(uint64_t *r, uint32_t v)
{
    *r = (*r & 0xffffffffull) | (uint64_t)v << 32;
}

static void write32_locked(SvmgpuCore *core, uint64_t off, uint32_t v)
{
    uint32_t old;

    if (svmgpu_inject_write_locked(core, off, v)) {
        return;
    }
    if (off >= SVMGPU_REG_QUEUE_BASE) {
        uint64_t rel = off - SVMGPU_REG_QUEUE_BASE;
        unsigned qi = rel / SVMGPU_REG_QUEUE_STRIDE;

        if (qi < core->cfg.num_queues) {
            queue_write_locked(core, &core->queues[qi],
                               rel % SVMGPU_REG_QUEUE_STRIDE, v, off);
        } else {
            svmgpu_guest_error(core, "write to absent queue register 0x%llx",
                               (unsigned long long)off);
        }
        return;
    }
    switch (off) {
    case SVMGPU_REG_CONTROL:
        if (v & SVMGPU_CONTROL_RESET) {
            reset_locked(core, true);
            break;
        }
        if ((v & SVMGPU_CONTROL_ENABLE) &&
            !(core->control & SVMGPU_CONTROL_ENABLE) &&
            svmgpu_inject_refuse_enable_locked(core)) {
            v &= ~SVMGPU_CONTROL_ENABLE;
        }
        core->control = v & SVMGPU_CONTROL_ENABLE;
        pthread_cond_broadcast(&core->work_cond);
        break;
    case SVMGPU_REG_ERROR_STATUS:
        /* FATAL stays set until a reset (§15). */
        core->error_status &= ~(core->fatal ? v & ~SVMGPU_ERROR_FATAL : v);
        break;
    case SVMGPU_REG_INTR_STATUS:
        core->intr_status &= ~v;
        break;
    case SVMGPU_REG_INTR_MASK:
        old = core->intr_mask;
        core->intr_mask = v;
        /* Newly unmasked pending causes are signalled now. */
        signal_bits_locked(core, core->intr_status & old & ~v);
        break;
    case SVMGPU_REG_CTX_TABLE_BASE:
        set_lo(&core->ctx_table_base, v & ~(uint32_t)(SVMGPU_PAGE_SIZE - 1));
        break;
    case SVMGPU_REG_CTX_TABLE_BASE + 4:
        set_hi(&core->ctx_table_base, v);
        break;
    case SVMGPU_REG_CTX_TABLE_ENTRIES:
        if (v > SVMGPU_MAX_CONTEXTS) {
            svmgpu_error_locked(core, SVMGPU_ERROR_REG, off,
                                "CTX_TABLE_ENTRIES %u clamped", v);
            v = SVMGPU_MAX_CONTEXTS;
        }
        core->ctx_table_entries = v;
        break;
    case SVMGPU_REG_CTX_ENABLE:
        ctx_enable_locked(core, v);
        break;
    case SVMGPU_REG_CTX_DISABLE:
        ctx_disable_locked(core, v);
        break;
    case SVMGPU_REG_CTX_SELECT:
        core->ctx_select = v;
        break;
    case SVMGPU_REG_TLB_INV_CTX:
        core->inv_ctx = v;
        break;
    case SVMGPU_REG_TLB_INV_FLAGS:
        core->inv_flags = v;
        break;
    case SVMGPU_REG_TLB_INV_START:
        set_lo(&core->inv_start, v);
        break;
    case SVMGPU_REG_TLB_INV_START + 4:
        set_hi(&core->inv_start, v);
        break;
    case SVMGPU_REG_TLB_INV_SIZE:
        set_lo(&core->inv_size, v);
        break;
    case SVMGPU_REG_TLB_INV_SIZE + 4:
        set_hi(&core->inv_size, v);
        break;
    case SVMGPU_REG_TLB_INV_SUBMIT:
        inval_submit_locked(core);
        break;
    case SVMGPU_REG_TLB_INV_DONE_ADDR:
        set_lo(&core->inv_done_addr, v & ~7u);
        break;
    case SVMGPU_REG_TLB_INV_DONE_ADDR + 4:
        set_hi(&core->inv_done_addr, v);
        break;
    case SVMGPU_REG_FAULT_RING_BASE:
        set_lo(&core->fault_ring_base, v & ~(uint32_t)(SVMGPU_PAGE_SIZE - 1));
        break;
    case SVMGPU_REG_FAULT_RING_BASE + 4:
        set_hi(&core->fault_ring_base, v);
        break;
    case SVMGPU_REG_FAULT_GET:
        if (core->fault_put - v > core->cfg.fault_ring_entries) {
            svmgpu_error_locked(core, SVMGPU_ERROR_REG, off,
                                "FAULT_GET %u inconsistent with PUT %u", v,
                                core->fault_put);
            break;
        }
        core->fault_get = v;
        /* Ring space: queues waiting for it retry. */
        for (old = 0; old < core->cfg.num_queues; old++) {
            core->queues[old].stall_ring_full = false;
        }
        svmgpu_kick_locked(core);
        break;
    case SVMGPU_REG_FAULT_REPLY:
        core->reply_lo = v;
        break;
    case SVMGPU_REG_FAULT_REPLY + 4:
        svmgpu_fault_reply_locked(core, core->reply_lo | (uint64_t)v << 32);
        core->reply_lo = 0;
        break;
    default:
        svmgpu_guest_error(core, "write 0x%x to read-only or unknown register "
                           "0x%llx", v, (unsigned long long)off);
        break;
    }
}

uint64_t svmgpu_core_mmio_read(SvmgpuCore *core, uint64_t offset,
                               unsigned size)
{
    uint64_t tlbc[4], val;

    if ((size != 4 && size != 8) || (offset & (size - 1)) ||
        offset + size > SVMGPU_BAR_REGS_SIZE) {
        svmgpu_guest_error(core, "bad read size %u at 0x%llx", size,
                           (unsigned long long)offset);
        return 0;
    }
    if (core->cfg.sync) {
        bool due;

        /*
         * x-sync has no control thread: an invalidation delayed by
         * INJ_INVAL_DELAY_US completes once due, also for a driver that
         * only reads TLB_INV_DONE_SEQ (never from inside a step).
         */
        pthread_mutex_lock(&core->lock);
        due = !core->active && core->invq_len && core->invq[0].due;
        pthread_mutex_unlock(&core->lock);
        if (due) {
            control_step(core);
        }
    }
    svmgpu_tlb_counters(&core->tlb, &tlbc[0], &tlbc[1], &tlbc[2]);
    /* one load: a 64-bit read's halves agree (walks count without lock) */
    tlbc[3] = __atomic_load_n(&core->cnt_walks, __ATOMIC_RELAXED);
    pthread_mutex_lock(&core->lock);
    svmgpu_inject_flush_irqs_locked(core);
    val = read32_locked(core, offset, tlbc);
    if (size == 8) {
        val |= (uint64_t)read32_locked(core, offset + 4, tlbc) << 32;
    }
    pthread_mutex_unlock(&core->lock);
    return val;
}

void svmgpu_core_mmio_write(SvmgpuCore *core, uint64_t offset, uint64_t val,
                            unsigned size)
{
    if ((size != 4 && size != 8) || (offset & (size - 1)) ||
        offset + size > SVMGPU_BAR_REGS_SIZE) {
        svmgpu_guest_error(core, "bad write size %u at 0x%llx", size,
                           (unsigned long long)offset);
        return;
    }
    pthread_mutex_lock(&core->lock);
    svmgpu_inject_flush_irqs_locked(core);
    write32_locked(core, offset, (uint32_t)val);
    if (size == 8) {
        write32_locked(core, offset + 4, (uint32_t)(val >> 32));
    }
    pthread_mutex_unlock(&core->lock);
}

/* ------------------------------------------------------------------ */
/* engines */

/* Everything but a WAIT allows q to run a step now. */
static bool queue_ready_locked(SvmgpuCore *core, SvmgpuQueue *q)
{
    if (!(core->control & SVMGPU_CONTROL_ENABLE) || core->paused ||
        !q->enabled || q->error || q->in_step || q->stall_fault ||
        q->stall_ring_full) {
        return false;
    }
    /* Injected (§15): a hung queue or a fatal error makes no progress. */
    if (core->fatal || (core->inj_hang_queues & (1u << q->index))) {
        return false;
    }
    if (q->resume || q->cancel || q->head != q->tail) {
        return true;
    }
    /* a command loaded by RESUME waits for the doorbell */
    return q->x.has_cmd && !q->x.restored;
}

/*
 * A PREEMPT to carry out: not an engine step, so it also happens with
 * the engines disabled or stopped by a fatal error, but not for a queue
 * held by INJ_HANG_QUEUES (it never reaches a safe point).
 */
static bool queue_save_due_locked(SvmgpuCore *core, SvmgpuQueue *q)
{
    /* an accepted CANCEL runs first: it fails the command, halting q */
    return q->preempt_pending && q->enabled && !q->error && !q->in_step &&
           !q->cancel && !core->paused &&
           !(core->inj_hang_queues & (1u << q->index));
}

/*
 * An accepted CANCEL that a PREEMPT waits for while engine steps are held
 * (engines disabled, a fatal error): it is carried out first all the same
 * (§16.1), as a step that only fails the command, or the PREEMPT would
 * stay pending until a reset.
 */
static bool queue_cancel_due_locked(SvmgpuCore *core, SvmgpuQueue *q)
{
    return q->preempt_pending && q->cancel && q->enabled && !q->error &&
           !q->in_step && !core->paused &&
           !(core->inj_hang_queues & (1u << q->index));
}

static bool queue_runnable_locked(SvmgpuCore *core, SvmgpuQueue *q,
                                  bool waiting_ok)
{
    if (!queue_ready_locked(core, q)) {
        return false;
    }
    return !q->waiting || (waiting_ok && q->poll);
}

/*
 * The queue engine @engine runs next (§16.3): the highest Q_PRIORITY
 * among its runnable queues, round-robin between queues of that priority
 * from that priority's cursor (one cursor per priority, so picks at one
 * priority never move another's turn).  The caller moves the cursor.
 */
static SvmgpuQueue *pick_locked(SvmgpuCore *core, unsigned engine,
                                bool waiting_ok)
{
    unsigned n = core->cfg.num_queues, ne = core->cfg.num_engines, k, cur;
    int prio = -1;

    for (k = engine; k < n; k += ne) {
        SvmgpuQueue *q = &core->queues[k];

        if ((int)q->l_priority > prio &&
            queue_runnable_locked(core, q, waiting_ok)) {
            prio = q->l_priority;
        }
    }
    if (prio < 0) {
        return NULL;
    }
    cur = core->rr[engine][prio];
    for (k = 0; k < n; k++) {
        SvmgpuQueue *q = &core->queues[(cur + k) % n];

        if (q->index % ne == engine && q->l_priority == (unsigned)prio &&
            queue_runnable_locked(core, q, waiting_ok)) {
            return q;
        }
    }
    return NULL;
}

/*
 * WAITs due for their periodic re-evaluation (§8: at least every
 * SVMGPU_WAIT_POLL_NS, however busy the engine is with other queues).
 */
static void poll_due_waits_locked(SvmgpuCore *core, unsigned engine)
{
    uint64_t now = 0;
    unsigned i;

    for (i = engine; i < core->cfg.num_queues; i += core->cfg.num_engines) {
        SvmgpuQueue *q = &core->queues[i];

        if (q->waiting && !q->poll) {
            if (!now) {
                now = svmgpu_now(core);
            }
            if ((int64_t)(now - q->next_poll) >= 0) {
                q->poll = true;
            }
        }
    }
}

/*
 * Pick for @engine: the highest priority among runnable queues and WAITs
 * to re-evaluate, round-robin among equals.
 */
static SvmgpuQueue *pick_engine_locked(SvmgpuCore *core, unsigned engine,
                                       bool *save)
{
    SvmgpuQueue *q, *w;
    unsigned i;

    /* saves first: preemption latency is one step */
    *save = false;
    for (i = engine; i < core->cfg.num_queues; i += core->cfg.num_engines) {
        q = &core->queues[i];
        if (queue_save_due_locked(core, q)) {
            *save = true;
            return q;
        }
        if (queue_cancel_due_locked(core, q)) {
            return q;
        }
    }
    poll_due_waits_locked(core, engine);
    q = pick_locked(core, engine, false);
    if (!q || q->l_priority < SVMGPU_Q_PRIORITY_MAX) {
        w = pick_locked(core, engine, true);
        /* a WAIT to re-evaluate takes its turn among equals */
        if (w && (!q || w->l_priority > q->l_priority ||
                  (w->l_priority == q->l_priority && w->waiting))) {
            q = w;
        }
    }
    if (q) {
        core->rr[engine][q->l_priority] = q->index + 1;
    }
    return q;
}

static void after_step_locked(SvmgpuCore *core, SvmgpuQueue *q, SvmgpuStep r);

static void begin_step_locked(SvmgpuCore *core, SvmgpuQueue *q)
{
    q->in_step = true;
    q->step_gen = q->qgen;
    q->step_dgen = core->gen;
    q->step_ctx = q->l_ctx;
    core->active++;
}

static void after_step_locked(SvmgpuCore *core, SvmgpuQueue *q, SvmgpuStep r)
{
    bool stale = q->step_gen != q->qgen;

    if (stale) {
        /* reset, disabled or re-enabled meanwhile: forget the step */
        svmgpu_queue_exec_reset(&q->x);
    }
    q->in_step = false;
    q->poll = false;
    q->waiting = !stale && r == SVMGPU_STEP_WAIT && q->enabled;
    if (q->waiting) {
        q->next_poll = svmgpu_now(core) + SVMGPU_WAIT_POLL_NS;
    }
    core->active--;
    pthread_cond_broadcast(&core->idle_cond);
    if (stale) {
        /* a latched enable completes: the queue may run now */
        pthread_cond_broadcast(&core->work_cond);
    }
}

/* One step (or save) of q on @engine; lock held, dropped meanwhile. */
static SvmgpuStep run_one_locked(SvmgpuCore *core, SvmgpuQueue *q,
                                 unsigned engine, bool save)
{
    SvmgpuStep r = SVMGPU_STEP_MORE;

    begin_step_locked(core, q);
    pthread_mutex_unlock(&core->lock);
    if (save) {
        svmgpu_queue_save(core, q, core->save_bufs[engine]);
    } else {
        r = svmgpu_queue_step(core, q, core->bufs[engine],
                              core->save_bufs[engine]);
    }
    pthread_mutex_lock(&core->lock);
    after_step_locked(core, q, r);
    return r;
}

uint64_t svmgpu_link_reserve_locked(SvmgpuCore *core, uint32_t dgen,
                                    uint64_t now, uint64_t bytes,
                                    uint64_t bursts)
{
    uint64_t bw = core->cfg.link_bandwidth;

    /* a step that a reset made stale leaves the new link idle */
    if (!bw || !bursts || core->cfg.sync || dgen != core->gen) {
        return 0;
    }
    if (core->link_free < now) {
        core->link_free = now;      /* idle link: starts now */
    }
    /* B MB/s = B bytes per microsecond */
    core->link_free += bursts * core->cfg.link_latency + bytes * 1000 / bw;
    return core->link_free;
}

/*
 * Link model: the step's bursts occupy the link until @until; wait for
 * that without the BQL (engine threads never hold it here), but stop
 * waiting at once on quit, pause, reset or when the queue is disabled
 * or re-enabled (they all broadcast work_cond).
 */
static void link_wait_locked(SvmgpuCore *core, SvmgpuQueue *q, uint64_t until)
{
    struct timespec ts;

    /* step_dgen, step_gen: the generations the step ran in */
    while (!core->quit && !core->paused && core->gen == q->step_dgen &&
           q->qgen == q->step_gen) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec >= until) {
            break;
        }
        ts.tv_sec = until / 1000000000ull;
        ts.tv_nsec = until % 1000000000ull;
        pthread_cond_timedwait(&core->work_cond, &core->lock, &ts);
    }
}

/* A WAIT that only a timed re-check can satisfy (nothing else blocks it). */
static bool any_waiting_locked(SvmgpuCore *core, unsigned engine)
{
    unsigned i;

    for (i = engine; i < core->cfg.num_queues; i += core->cfg.num_engines) {
        SvmgpuQueue *q = &core->queues[i];

        if (q->waiting && queue_ready_locked(core, q)) {
            return true;
        }
    }
    return false;
}

void svmgpu_core_engine_thread(SvmgpuCore *core, unsigned engine)
{
    pthread_mutex_lock(&core->lock);
    while (!core->quit) {
        SvmgpuQueue *q;
        bool save;

        q = pick_engine_locked(core, engine, &save);
        if (!q) {
            if (any_waiting_locked(core, engine)) {
                struct timespec ts;
                unsigned i;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_nsec += SVMGPU_WAIT_POLL_NS;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_nsec -= 1000000000;
                    ts.tv_sec++;
                }
                if (pthread_cond_timedwait(&core->work_cond, &core->lock,
                                           &ts) == ETIMEDOUT) {
                    core->wait_polls++;
                    for (i = engine; i < core->cfg.num_queues;
                         i += core->cfg.num_engines) {
                        core->queues[i].poll = true;
                    }
                }
            } else {
                pthread_cond_wait(&core->work_cond, &core->lock);
            }
            continue;
        }
        run_one_locked(core, q, engine, save);
        if (q->link_until) {
            link_wait_locked(core, q, q->link_until);
            q->link_until = 0;
        }
    }
    pthread_mutex_unlock(&core->lock);
}

void svmgpu_core_control_thread(SvmgpuCore *core)
{
    pthread_mutex_lock(&core->lock);
    while (!core->quit) {
        uint64_t due, now;

        svmgpu_inject_flush_irqs_locked(core);
        due = svmgpu_inject_next_due_locked(core);
        now = due ? svmgpu_now(core) : 0;
        if (core->paused || !core->invq_len ||
            (core->invq[0].due && (int64_t)(now - core->invq[0].due) < 0)) {
            /* paused: nothing is processed, sleep until resumed */
            if (due && !core->paused) {
                /* something injected is due later: sleep until then */
                struct timespec ts;
                int64_t wait = (int64_t)(due - now);
                uint64_t t;

                clock_gettime(CLOCK_MONOTONIC, &ts);
                t = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec +
                    (wait > 0 ? wait : 0) + 1000;
                ts.tv_sec = t / 1000000000ull;
                ts.tv_nsec = t % 1000000000ull;
                pthread_cond_timedwait(&core->work_cond, &core->lock, &ts);
            } else {
                pthread_cond_wait(&core->work_cond, &core->lock);
            }
            continue;
        }
        pthread_mutex_unlock(&core->lock);
        control_step(core);
        pthread_mutex_lock(&core->lock);
    }
    pthread_mutex_unlock(&core->lock);
}

void svmgpu_core_stop(SvmgpuCore *core)
{
    pthread_mutex_lock(&core->lock);
    core->quit = true;
    pthread_cond_broadcast(&core->work_cond);
    pthread_mutex_unlock(&core->lock);
}

unsigned svmgpu_core_run_sync(SvmgpuCore *core)
{
    bool more;

    return svmgpu_core_run_sync_budget(core, UINT32_MAX, &more);
}

unsigned svmgpu_core_run_sync_budget(SvmgpuCore *core, unsigned max_steps,
                                     bool *more)
{
    unsigned steps = 0, i, e;
    bool progress = true;

    *more = false;
    /* each call re-evaluates every WAIT once */
    pthread_mutex_lock(&core->lock);
    svmgpu_inject_flush_irqs_locked(core);
    for (i = 0; i < core->cfg.num_queues; i++) {
        core->queues[i].poll = true;
    }
    pthread_mutex_unlock(&core->lock);
    while (progress) {
        if (steps >= max_steps) {
            *more = true;
            break;
        }
        progress = control_step(core);
        /* one step per engine, picked as an engine thread would */
        for (e = 0; e < core->cfg.num_engines && steps < max_steps; e++) {
            SvmgpuQueue *q;
            bool save;

            pthread_mutex_lock(&core->lock);
            q = pick_engine_locked(core, e, &save);
            if (!q) {
                pthread_mutex_unlock(&core->lock);
                continue;
            }
            run_one_locked(core, q, 0, save);
            pthread_mutex_unlock(&core->lock);
            steps++;
            /* a WAIT or stall counts as done for this call */
            progress = true;
        }
    }
    return steps;
}
