/*
 * svmgpu command processor: fetches commands from a queue's ring, executes
 * them through the MMU in bounded steps, and reports completions and errors
 * (docs/hw-spec.md §8).
 *
 * Locking: a step runs on the engine that owns the queue, with q->in_step
 * set and no core lock held.  Every memory access holds core->xlate for
 * reading from its translation to the end of the access, so a completed TLB
 * invalidation never races with a use of the translation it removed.  COPY,
 * FILL and kernels keep it across a bounded run of accesses, and let go at
 * the next access boundary once an invalidation waits (inval_waiting).
 * Guest RAM is reached through a per-step map cache (DMA address -> host
 * pointer), released at the end of every step; a window mapped before the
 * last completed invalidation or environment unmap (core->map_gen) is
 * mapped again before it serves an access, since behind an IOMMU its DMA
 * address may now name another page.
 * Register-visible state (head, completion sequence, error registers) is
 * updated under core->lock after the completion record was written.
 * A step whose queue was reset, disabled or re-enabled meanwhile is stale
 * (internal.h): it checks svmgpu_q_stale() before every write to guest
 * memory and then fails the write, and changes no register.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <time.h>

#include "internal.h"

void svmgpu_set_error(SvmgpuQueueExec *x, uint32_t code, uint64_t va,
                      unsigned access, unsigned reason)
{
    x->err_code = code;
    x->err_va = va;
    x->err_info = SVMGPU_ERROR_INFO(access, reason);
}

void svmgpu_queue_exec_reset(SvmgpuQueueExec *x)
{
    svmgpu_launch_free(x->launch);
    svmgpu_fast_free(x->fast);
    memset(x, 0, sizeof(*x));
}

SvmgpuAccessResult svmgpu_xlate_failed(SvmgpuQueue *q, SvmgpuXlateStatus st,
                                       const SvmgpuXlate *t, uint64_t va,
                                       unsigned access)
{
    SvmgpuQueueExec *x = &q->x;

    switch (st) {
    case SVMGPU_XLATE_FAULT:
        x->fault_va = va;
        x->fault_access = access;
        x->fault_reason = t->reason;
        return SVMGPU_ACC_FAULT;
    case SVMGPU_XLATE_INVALID_VA:
        svmgpu_set_error(x, SVMGPU_ERR_INVALID_VA, va, access, 0);
        return SVMGPU_ACC_ERROR;
    default:
        svmgpu_set_error(x, SVMGPU_ERR_CTX_INVALID, va, access, 0);
        return SVMGPU_ACC_ERROR;
    }
}

/* ---- guest RAM map cache ---- */

void svmgpu_map_init(SvmgpuCore *core, SvmgpuMapCache *mc)
{
    memset(mc, 0, sizeof(*mc));
    mc->core = core;
    mc->pin = -1;
}

/* Report [lo, hi) of window w as written, its mapping still held. */
static void map_report(SvmgpuCore *core, SvmgpuMapWin *w, uint64_t lo,
                       uint64_t hi)
{
    if (w->local) {
        if (core->ops->local_dirty) {
            core->ops->local_dirty(core->opaque, lo, hi - lo);
        }
    } else {
        core->ops->dirty(core->opaque, w->host + lo, hi - lo);
    }
}

/* Report the waiting runs of window w (local, or ops->dirty). */
static void map_report_runs(SvmgpuCore *core, SvmgpuMapWin *w)
{
    unsigned i;

    for (i = 0; i < w->nruns; i++) {
        map_report(core, w, w->run[i].lo, w->run[i].hi);
    }
    w->nruns = 0;
}

/* Without ops->dirty: the runs of window w become one, their span. */
static void map_span(SvmgpuMapWin *w)
{
    unsigned i;

    for (i = 0; i < w->nruns; i++) {
        w->dlo = svmgpu_min64(w->dlo, w->run[i].lo);
        w->dhi = svmgpu_max64(w->dhi, w->run[i].hi);
    }
    w->nruns = 0;
}

void svmgpu_map_dirty_run(SvmgpuMapCache *mc, unsigned win, uint64_t lo,
                          uint64_t hi)
{
    SvmgpuMapWin *w = &mc->w[win];
    SvmgpuCore *core = mc->core;
    unsigned i;

    if (hi <= lo) {
        return;     /* nothing written: the run being written stays */
    }
    /*
     * Stores that take turns between two places (two outputs, an output
     * and a counter) go back to a waiting run: it becomes the current one
     * and the current one waits in its slot (a waiting run means a
     * current one).
     */
    for (i = 0; i < w->nruns; i++) {
        SvmgpuMapRun r = w->run[i];

        if (svmgpu_map_touches(r.lo, r.hi, lo, hi)) {
            w->run[i].lo = w->dlo;
            w->run[i].hi = w->dhi;
            w->dlo = svmgpu_min64(r.lo, lo);
            w->dhi = svmgpu_max64(r.hi, hi);
            return;
        }
    }
    if (w->dlo < w->dhi) {
        if (w->nruns == SVMGPU_MAP_RUNS) {
            if (!w->local && !core->ops->dirty) {
                /* unmap() takes one range: the span of them all */
                map_span(w);
            } else {
                map_report_runs(core, w);
            }
        }
        w->run[w->nruns].lo = w->dlo;
        w->run[w->nruns].hi = w->dhi;
        w->nruns++;
    }
    w->dlo = lo;
    w->dhi = hi;
}

static void map_drop(SvmgpuCore *core, SvmgpuMapWin *w)
{
    bool written = w->is_write && w->dlo < w->dhi;     /* runs wait only then */

    if (!w->host) {
        return;                 /* empty slot */
    }
    if (written && (w->local || core->ops->dirty)) {
        map_report_runs(core, w);
        map_report(core, w, w->dlo, w->dhi);
        written = false;
    }
    if (w->local) {
        /* never unmapped */
    } else if (written) {
        /* no ops->dirty: unmap() reports the span of what was written */
        map_span(w);
        core->ops->unmap(core->opaque, w->host + w->dlo, w->dhi - w->dlo,
                         true);
    } else {
        core->ops->unmap(core->opaque, w->host, w->len, false);
    }
    w->nruns = 0;
    w->dlo = w->dhi = 0;
    w->host = NULL;
    w->len = 0;
}

/* Map [base, base + len) and keep it only if it covers pa. */
static uint8_t *map_try(SvmgpuCore *core, uint64_t base, uint64_t len,
                        uint64_t pa, bool is_write, uint64_t *got)
{
    uint64_t l = len;
    uint8_t *host = core->ops->map(core->opaque, base, &l, is_write);

    if (!host) {
        return NULL;
    }
    if (pa - base >= l) {
        core->ops->unmap(core->opaque, host, l, false);
        return NULL;
    }
    *got = l;
    return host;
}

/*
 * Unmap window i, which covers an address the device may no longer reach
 * through it (a DMA mapping generation ago), keeping the dirty report of a
 * normal release.  Its slot stays empty until reused; the new id makes
 * every copy of its host pointer (IsaMem entries) stale.
 */
static void map_retire(SvmgpuCore *core, SvmgpuMapCache *mc, unsigned i)
{
    SvmgpuMapWin *w = &mc->w[i];

    map_drop(core, w);
    w->pa = 0;
    w->id = ++mc->ids;
}

uint8_t *svmgpu_map_get(SvmgpuCore *core, SvmgpuMapCache *mc, uint64_t pa,
                        uint64_t *len, bool is_write, unsigned *win)
{
    /* read before map(): a window is never newer than its generation */
    uint32_t gen = __atomic_load_n(&core->map_gen, __ATOMIC_ACQUIRE);
    uint64_t base, end, got = 0;
    SvmgpuMapWin *w;
    uint8_t *host;
    unsigned i;
    int stale = -1;

    for (i = 0; i < mc->n; i++) {
        w = &mc->w[i];
        if (pa - w->pa < w->len && (w->is_write || !is_write)) {
            if (__builtin_expect(w->gen == gen || w->local, 1)) {
                *len = svmgpu_min64(*len, w->len - (pa - w->pa));
                *win = i;
                return w->host + (pa - w->pa);
            }
            /*
             * Mapped before the last invalidation or IOMMU unmap: pa may
             * be a new page now.  Unmap it (not the pinned window, whose
             * pointer is in use) and map afresh below.
             */
            if ((int)i != mc->pin) {
                map_retire(core, mc, i);
                if (stale < 0) {
                    stale = i;
                }
            }
        }
    }
    if (svmgpu_pa_local(pa)) {
        /* device-local memory: one window over all of it, never unmapped */
        if (pa - SVMGPU_PA_LOCAL >= core->cfg.local_mem_size) {
            return NULL;
        }
        base = SVMGPU_PA_LOCAL;
        got = core->cfg.local_mem_size;
        host = core->cfg.local_mem;
    } else if (!core->ops->map || !core->ops->unmap) {
        return NULL;
    } else if (!core->cfg.map_window) {
        /* only what is accessed */
        base = pa;
        host = map_try(core, pa, *len, pa, is_write, &got);
    } else {
        /*
         * One window per aligned block of guest RAM, so the scattered
         * pages of a buffer share it; fall back to starting at pa when
         * the block start is not in the same RAM region.
         */
        base = pa & ~(core->cfg.map_window - 1);
        end = base + core->cfg.map_window;      /* 0 on wrap: to 2^64 */
        host = map_try(core, base, end - base, pa, is_write, &got);
        if (!host && base != pa) {
            base = pa;
            host = map_try(core, base, end - base, pa, is_write, &got);
        }
    }
    if (!host) {
        return NULL;
    }
    for (i = 0; stale < 0 && i < mc->n; i++) {
        if (!mc->w[i].host) {
            stale = i;          /* a slot emptied by map_retire() */
        }
    }
    if (stale >= 0) {
        i = stale;
    } else if (mc->n < SVMGPU_MAP_WINDOWS) {
        i = mc->n++;
    } else {
        if ((int)mc->next == mc->pin) {
            mc->next = (mc->next + 1) % SVMGPU_MAP_WINDOWS;
        }
        i = mc->next;
        mc->next = (mc->next + 1) % SVMGPU_MAP_WINDOWS;
        map_drop(core, &mc->w[i]);
    }
    w = &mc->w[i];
    w->id = ++mc->ids;
    w->pa = base;
    w->len = got;
    w->host = host;
    w->dlo = w->dhi = 0;
    w->nruns = 0;
    w->is_write = is_write;
    w->local = svmgpu_pa_local(base);
    w->gen = gen;
    *len = svmgpu_min64(*len, got - (pa - base));
    *win = i;
    return host + (pa - base);
}

void svmgpu_map_release(SvmgpuCore *core, SvmgpuQueue *q, SvmgpuMapCache *mc)
{
    struct timespec ts;
    uint64_t link;
    unsigned i;

    for (i = 0; i < mc->n; i++) {
        map_drop(core, &mc->w[i]);
        mc->w[i].id = 0;
    }
    mc->n = mc->next = 0;
    if (!(mc->bytes[0] | mc->bytes[1] | mc->bytes[2] | mc->bytes[3])) {
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    link = mc->bytes[SVMGPU_BYTES_LINK_READ] +
           mc->bytes[SVMGPU_BYTES_LINK_WRITE];
    pthread_mutex_lock(&core->lock);
    for (i = 0; i < 4; i++) {
        /* not into the counters a reset zeroed during the step */
        if (q->step_dgen == core->gen) {
            core->cnt_bytes[i] += mc->bytes[i];
        }
        mc->bytes[i] = 0;
    }
    mc->link_until = svmgpu_link_reserve_locked(core, q->step_dgen,
        (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec, link, mc->bursts);
    pthread_mutex_unlock(&core->lock);
    mc->bursts = 0;
}

/* Host pointer of [pa, pa + len) in device-local memory, or NULL. */
static uint8_t *local_ptr(SvmgpuCore *core, uint64_t pa, uint64_t len)
{
    uint64_t off = pa - SVMGPU_PA_LOCAL, size = core->cfg.local_mem_size;

    if (off > size || len > size - off) {
        return NULL;
    }
    return (uint8_t *)core->cfg.local_mem + off;
}

int svmgpu_mem_read(SvmgpuCore *core, uint64_t pa, void *buf, uint64_t len)
{
    uint8_t *p;

    if (!svmgpu_pa_local(pa)) {
        return core->ops->dma_read(core->opaque, pa, buf, len);
    }
    p = local_ptr(core, pa, len);
    if (!p) {
        return -1;
    }
    memcpy(buf, p, len);
    return 0;
}

int svmgpu_mem_write(SvmgpuCore *core, uint64_t pa, const void *buf,
                     uint64_t len)
{
    uint8_t *p;

    if (!svmgpu_pa_local(pa)) {
        return core->ops->dma_write(core->opaque, pa, buf, len);
    }
    p = local_ptr(core, pa, len);
    if (!p) {
        return -1;
    }
    memcpy(p, buf, len);
    if (core->ops->local_dirty) {
        core->ops->local_dirty(core->opaque, pa - SVMGPU_PA_LOCAL, len);
    }
    return 0;
}

SvmgpuAccessResult svmgpu_vm_access(SvmgpuCore *core, SvmgpuQueue *q,
                                    SvmgpuMapCache *mc, uint64_t va,
                                    void *buf, unsigned len, unsigned access)
{
    SvmgpuXlate t;
    SvmgpuXlateStatus st;
    int rc;

    pthread_rwlock_rdlock(&core->xlate);
    st = svmgpu_mmu_translate(core, q->step_ctx, va, access, &t);
    if (st != SVMGPU_XLATE_OK) {
        pthread_rwlock_unlock(&core->xlate);
        return svmgpu_xlate_failed(q, st, &t, va, access);
    }
    if (len > t.len) {
        /* Callers split at page boundaries; this cannot happen. */
        len = t.len;
    }
    if (access == SVMGPU_ACCESS_READ) {
        rc = svmgpu_mem_read(core, t.pa, buf, len);
    } else if (svmgpu_q_stale(q)) {
        rc = -1;
    } else {
        rc = svmgpu_mem_write(core, t.pa, buf, len);
    }
    pthread_rwlock_unlock(&core->xlate);
    if (rc) {
        svmgpu_set_error(&q->x, SVMGPU_ERR_DMA, va, access, 0);
        return SVMGPU_ACC_ERROR;
    }
    svmgpu_map_count(mc, svmgpu_pa_local(t.pa),
                     access != SVMGPU_ACCESS_READ, len);
    return SVMGPU_ACC_OK;
}

uint64_t svmgpu_atomic_compute(unsigned op, unsigned size, uint64_t old,
                               uint64_t operand, uint64_t compare)
{
    uint64_t mask = size == 4 ? 0xffffffffull : ~0ull;
    int64_t so, sv;

    old &= mask;
    operand &= mask;
    compare &= mask;
    if (size == 4) {
        so = (int32_t)old;
        sv = (int32_t)operand;
    } else {
        so = (int64_t)old;
        sv = (int64_t)operand;
    }
    switch (op) {
    case SVMGPU_ATOMIC_ADD:
        return (old + operand) & mask;
    case SVMGPU_ATOMIC_XCHG:
        return operand;
    case SVMGPU_ATOMIC_CMPXCHG:
        return old == compare ? operand : old;
    case SVMGPU_ATOMIC_UMIN:
        return old < operand ? old : operand;
    case SVMGPU_ATOMIC_UMAX:
        return old > operand ? old : operand;
    case SVMGPU_ATOMIC_SMIN:
        return so < sv ? old : operand;
    case SVMGPU_ATOMIC_SMAX:
        return so > sv ? old : operand;
    default:
        return old;
    }
}

uint64_t svmgpu_atomic_host(void *p, unsigned size, unsigned op,
                            uint64_t operand, uint64_t compare)
{
    if (size == 4) {
        uint32_t o = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
        uint32_t n32;

        do {
            n32 = svmgpu_atomic_compute(op, 4, o, operand, compare);
        } while (!__atomic_compare_exchange_n((uint32_t *)p, &o, n32, false,
                                              __ATOMIC_SEQ_CST,
                                              __ATOMIC_RELAXED));
        return o;
    } else {
        uint64_t o = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
        uint64_t nv;

        do {
            nv = svmgpu_atomic_compute(op, 8, o, operand, compare);
        } while (!__atomic_compare_exchange_n((uint64_t *)p, &o, nv, false,
                                              __ATOMIC_SEQ_CST,
                                              __ATOMIC_RELAXED));
        return o;
    }
}

SvmgpuAccessResult svmgpu_vm_atomic(SvmgpuCore *core, SvmgpuQueue *q,
                                    SvmgpuMapCache *mc, uint64_t va, unsigned size, unsigned op,
                                    uint64_t operand, uint64_t compare,
                                    uint64_t *old)
{
    SvmgpuXlate t;
    SvmgpuXlateStatus st;
    uint64_t cur = 0, nv;
    int rc;

    pthread_rwlock_rdlock(&core->xlate);
    st = svmgpu_mmu_translate(core, q->step_ctx, va, SVMGPU_ACCESS_ATOMIC, &t);
    if (st != SVMGPU_XLATE_OK) {
        pthread_rwlock_unlock(&core->xlate);
        return svmgpu_xlate_failed(q, st, &t, va, SVMGPU_ACCESS_ATOMIC);
    }
    pthread_mutex_lock(&core->atomic_lock);
    rc = svmgpu_q_stale(q) ? -1 : svmgpu_mem_read(core, t.pa, &cur, size);
    if (!rc) {
        nv = svmgpu_atomic_compute(op, size, cur, operand, compare);
        rc = svmgpu_mem_write(core, t.pa, &nv, size);
    }
    pthread_mutex_unlock(&core->atomic_lock);
    pthread_rwlock_unlock(&core->xlate);
    if (rc) {
        svmgpu_set_error(&q->x, SVMGPU_ERR_DMA, va, SVMGPU_ACCESS_ATOMIC, 0);
        return SVMGPU_ACC_ERROR;
    }
    svmgpu_map_count(mc, svmgpu_pa_local(t.pa), false, size);
    svmgpu_map_count(mc, svmgpu_pa_local(t.pa), true, size);
    *old = cur;
    return SVMGPU_ACC_OK;
}

static SvmgpuStep acc_step(SvmgpuAccessResult r)
{
    return r == SVMGPU_ACC_FAULT ? SVMGPU_STEP_FAULT : SVMGPU_STEP_DONE;
}

static bool range_ok(SvmgpuQueueExec *x, uint64_t va, uint64_t size,
                     unsigned access)
{
    uint64_t lim = 1ull << SVMGPU_VA_BITS;

    if (va >= lim || size > lim - va) {
        svmgpu_set_error(x, SVMGPU_ERR_INVALID_VA, va, access, 0);
        return false;
    }
    return true;
}

static SvmgpuStep bad_command(SvmgpuQueueExec *x)
{
    svmgpu_set_error(x, SVMGPU_ERR_BAD_COMMAND, 0, 0, 0);
    return SVMGPU_STEP_DONE;
}

static bool rsvd_zero(const uint64_t *p, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

/* Hold core->xlate for reading across a run of page-sized accesses. */
static void run_hold(SvmgpuCore *core, bool *held, uint64_t *run)
{
    if (*held && (*run >= SVMGPU_XLATE_RUN ||
                  __atomic_load_n(&core->inval_waiting, __ATOMIC_RELAXED))) {
        pthread_rwlock_unlock(&core->xlate);
        *held = false;
    }
    if (!*held) {
        pthread_rwlock_rdlock(&core->xlate);
        *held = true;
        *run = 0;
    }
}

static void run_end(SvmgpuCore *core, bool *held)
{
    if (*held) {
        pthread_rwlock_unlock(&core->xlate);
        *held = false;
    }
}

/* Bytes from guest address a to its next 4 KiB boundary. */
static inline uint64_t to_page_end(uint64_t a)
{
    return SVMGPU_PAGE_SIZE - (a & (SVMGPU_PAGE_SIZE - 1));
}

/*
 * True while window i of mc may serve one more access: device-local, or
 * mapped in the current DMA mapping generation.  Once the environment
 * unmapped DMA addresses (bus mastering off, an IOMMU unmap) its host
 * pointer may no longer be the page its DMA address names (hw-spec §1).
 * A TLB invalidation cannot complete meanwhile: the caller holds xlate.
 */
static bool map_current(SvmgpuCore *core, const SvmgpuMapCache *mc,
                        unsigned i)
{
    return mc->w[i].local ||
           mc->w[i].gen == __atomic_load_n(&core->map_gen, __ATOMIC_ACQUIRE);
}

/*
 * memmove() of n bytes mapped at sp and dp (guest s and d, windows ws and
 * wd of mc) in pieces that end at d's 4 KiB boundaries, and at s's too
 * where the two overlap in host memory (a COPY of overlapping ranges
 * behaves as if copied in 4 KiB-aligned forward chunks, docs/hw-spec.md
 * §8, however large the leaves).  A reset or re-enable of q, or a DMA
 * unmap that makes either window stale, stops it after the piece in
 * progress: at most a page lands (§1, §12).  Returns the bytes moved.
 */
static uint64_t copy_pieces(SvmgpuCore *core, SvmgpuQueue *q,
                            const SvmgpuMapCache *mc, unsigned ws, unsigned wd,
                            uint8_t *dp, const uint8_t *sp,
                            uint64_t s, uint64_t d, uint64_t n)
{
    bool overlap = dp < sp + n && sp < dp + n;
    uint64_t done = 0, k;

    while (done < n) {
        if (done && (svmgpu_q_stale(q) || !map_current(core, mc, ws) ||
                     !map_current(core, mc, wd))) {
            break;
        }
        k = svmgpu_min64(n - done, to_page_end(d + done));
        if (overlap) {
            k = svmgpu_min64(k, to_page_end(s + done));
        }
        memmove(dp + done, sp + done, k);
        done += k;
    }
    return done;
}

/*
 * COPY and FILL go leaf by leaf (one translation per leaf and side), with
 * core->xlate held across runs of leaves and guest RAM reached through the
 * step's map cache, and write a 4 KiB page at a time (a reset check before
 * each).  Memory that cannot be mapped goes through the bounce buffer and
 * dma_read/dma_write, a page at a time too.
 */
static SvmgpuStep step_copy(SvmgpuCore *core, SvmgpuQueue *q, uint8_t *buf,
                            SvmgpuMapCache *mc)
{
    SvmgpuQueueExec *x = &q->x;
    const struct svmgpu_cmd_copy *c = &x->cmd.copy;
    uint64_t slice = 0, run = 0;
    bool held = false;

    if (!rsvd_zero(c->rsvd, 3)) {
        return bad_command(x);
    }
    if (!range_ok(x, c->src, c->size, SVMGPU_ACCESS_READ) ||
        !range_ok(x, c->dst, c->size, SVMGPU_ACCESS_WRITE)) {
        return SVMGPU_STEP_DONE;
    }
    while (x->progress < c->size) {
        uint64_t s = c->src + x->progress, d = c->dst + x->progress;
        uint64_t n, ls, ld;
        SvmgpuXlate ts, td;
        SvmgpuXlateStatus st;
        uint8_t *sp, *dp;
        unsigned ws, wd;
        int rc;

        if (slice >= SVMGPU_COPY_SLICE) {
            run_end(core, &held);
            return SVMGPU_STEP_MORE;
        }
        if (svmgpu_q_stale(q)) {
            /* reset or re-enabled: not one more byte */
            run_end(core, &held);
            svmgpu_set_error(x, SVMGPU_ERR_DMA, d, SVMGPU_ACCESS_WRITE, 0);
            return SVMGPU_STEP_DONE;
        }
        run_hold(core, &held, &run);
        st = svmgpu_mmu_translate(core, q->step_ctx, s, SVMGPU_ACCESS_READ, &ts);
        if (st != SVMGPU_XLATE_OK) {
            run_end(core, &held);
            return acc_step(svmgpu_xlate_failed(q, st, &ts, s,
                                                SVMGPU_ACCESS_READ));
        }
        st = svmgpu_mmu_translate(core, q->step_ctx, d, SVMGPU_ACCESS_WRITE, &td);
        if (st != SVMGPU_XLATE_OK) {
            run_end(core, &held);
            return acc_step(svmgpu_xlate_failed(q, st, &td, d,
                                                SVMGPU_ACCESS_WRITE));
        }
        n = svmgpu_min64(svmgpu_min64(c->size - x->progress,
                                      SVMGPU_COPY_SLICE - slice),
                         svmgpu_min64(ts.len, td.len));
        ls = ld = n;
        sp = svmgpu_map_get(core, mc, ts.pa, &ls, false, &ws);
        dp = NULL;
        if (sp) {
            mc->pin = ws;       /* keep sp valid */
            dp = svmgpu_map_get(core, mc, td.pa, &ld, true, &wd);
            mc->pin = -1;
        }
        if (sp && dp) {
            n = svmgpu_min64(n, svmgpu_min64(ls, ld));
            n = copy_pieces(core, q, mc, ws, wd, dp, sp, s, d, n);
            svmgpu_map_dirty(mc, wd, dp, n);
        } else {
            /*
             * A page at a time, as above; it is read whole before it is
             * written, so it ends at src's boundaries too (overlap).
             */
            n = svmgpu_min64(n, svmgpu_min64(to_page_end(d), to_page_end(s)));
            rc = svmgpu_mem_read(core, ts.pa, buf, n);
            if (rc) {
                run_end(core, &held);
                svmgpu_set_error(x, SVMGPU_ERR_DMA, s, SVMGPU_ACCESS_READ, 0);
                return SVMGPU_STEP_DONE;
            }
            svmgpu_map_count(mc, svmgpu_pa_local(ts.pa), false, n);
            rc = svmgpu_mem_write(core, td.pa, buf, n);
            if (rc) {
                run_end(core, &held);
                svmgpu_set_error(x, SVMGPU_ERR_DMA, d, SVMGPU_ACCESS_WRITE,
                                 0);
                return SVMGPU_STEP_DONE;
            }
        }
        if (sp && dp) {
            svmgpu_map_count(mc, svmgpu_pa_local(ts.pa), false, n);
        }
        svmgpu_map_count(mc, svmgpu_pa_local(td.pa), true, n);
        x->progress += n;
        slice += n;
        run += n;
    }
    run_end(core, &held);
    return SVMGPU_STEP_DONE;
}

/* Fill n bytes at p (w-aligned in the guest) with the replicated pattern. */
static void fill_pattern(uint8_t *p, uint64_t n, uint64_t pat, unsigned w)
{
    uint64_t i;

    if (w == 1) {
        memset(p, (uint8_t)pat, n);
        return;
    }
    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(p + i, &pat, 8);
    }
    if (i < n) {
        memcpy(p + i, &pat, n - i);     /* a multiple of w */
    }
}

static SvmgpuStep step_fill(SvmgpuCore *core, SvmgpuQueue *q, uint8_t *buf,
                            SvmgpuMapCache *mc)
{
    SvmgpuQueueExec *x = &q->x;
    const struct svmgpu_cmd_fill *c = &x->cmd.fill;
    uint64_t slice = 0, run = 0, pat = 0;
    unsigned w = c->width, i;
    bool held = false, buf_ready = false;

    if (c->rsvd0 || !rsvd_zero(c->rsvd, 2) ||
        (w != 1 && w != 2 && w != 4 && w != 8) ||
        (c->dst & (w - 1)) || (c->size & (w - 1))) {
        return bad_command(x);
    }
    if (!range_ok(x, c->dst, c->size, SVMGPU_ACCESS_WRITE)) {
        return SVMGPU_STEP_DONE;
    }
    for (i = 0; i < 8; i += w) {
        memcpy((uint8_t *)&pat + i, &c->value, w);
    }
    while (x->progress < c->size) {
        uint64_t d = c->dst + x->progress;
        uint64_t n, ld;
        SvmgpuXlate td;
        SvmgpuXlateStatus st;
        uint8_t *dp;
        unsigned wd;
        int rc;

        if (slice >= SVMGPU_COPY_SLICE) {
            run_end(core, &held);
            return SVMGPU_STEP_MORE;
        }
        if (svmgpu_q_stale(q)) {
            run_end(core, &held);
            svmgpu_set_error(x, SVMGPU_ERR_DMA, d, SVMGPU_ACCESS_WRITE, 0);
            return SVMGPU_STEP_DONE;
        }
        run_hold(core, &held, &run);
        st = svmgpu_mmu_translate(core, q->step_ctx, d, SVMGPU_ACCESS_WRITE, &td);
        if (st != SVMGPU_XLATE_OK) {
            run_end(core, &held);
            return acc_step(svmgpu_xlate_failed(q, st, &td, d,
                                                SVMGPU_ACCESS_WRITE));
        }
        n = svmgpu_min64(svmgpu_min64(c->size - x->progress,
                                      SVMGPU_COPY_SLICE - slice), td.len);
        ld = n;
        dp = svmgpu_map_get(core, mc, td.pa, &ld, true, &wd);
        if (dp) {
            uint64_t k;

            n = svmgpu_min64(n, ld);
            /*
             * A page at a time: a reset or a DMA unmap lets at most one
             * more land (§1, §12).
             */
            for (k = 0; k < n; k += to_page_end(d + k)) {
                if (k && (svmgpu_q_stale(q) || !map_current(core, mc, wd))) {
                    n = k;
                    break;
                }
                fill_pattern(dp + k, svmgpu_min64(n - k, to_page_end(d + k)),
                             pat, w);
            }
            svmgpu_map_dirty(mc, wd, dp, n);
        } else {
            if (!buf_ready) {
                fill_pattern(buf, SVMGPU_PAGE_SIZE, pat, w);
                buf_ready = true;
            }
            n = svmgpu_min64(n, to_page_end(d));
            rc = svmgpu_mem_write(core, td.pa, buf, n);
            if (rc) {
                run_end(core, &held);
                svmgpu_set_error(x, SVMGPU_ERR_DMA, d, SVMGPU_ACCESS_WRITE,
                                 0);
                return SVMGPU_STEP_DONE;
            }
        }
        svmgpu_map_count(mc, svmgpu_pa_local(td.pa), true, n);
        x->progress += n;
        slice += n;
        run += n;
    }
    run_end(core, &held);
    return SVMGPU_STEP_DONE;
}

/*
 * ATOMIC: a host atomic on the mapped word (atomic against the CPUs and
 * against kernels' atomics on other engines, which do the same on the same
 * host address), all under atomic_lock; the dma_read/dma_write fallback
 * for memory that cannot be mapped is atomic under atomic_lock only.
 */
static SvmgpuStep step_atomic(SvmgpuCore *core, SvmgpuQueue *q,
                              SvmgpuMapCache *mc)
{
    SvmgpuQueueExec *x = &q->x;
    const struct svmgpu_cmd_atomic *c = &x->cmd.atomic;
    SvmgpuXlate tr, ta;
    SvmgpuXlateStatus st;
    uint64_t cur = 0, nv, len;
    unsigned win;
    uint8_t *p;
    int rc = 0;

    if (c->rsvd0 || c->rsvd1 || c->rsvd2 || c->op >= SVMGPU_ATOMIC_NUM_OPS ||
        (c->size != 4 && c->size != 8) || (c->va & (c->size - 1)) ||
        (c->result_va & (c->size - 1))) {
        return bad_command(x);
    }
    /* Translate everything first so a fault has no side effect. */
    pthread_rwlock_rdlock(&core->xlate);
    if (c->result_va) {
        st = svmgpu_mmu_translate(core, q->step_ctx, c->result_va,
                                  SVMGPU_ACCESS_WRITE, &tr);
        if (st != SVMGPU_XLATE_OK) {
            pthread_rwlock_unlock(&core->xlate);
            return acc_step(svmgpu_xlate_failed(q, st, &tr, c->result_va,
                                                SVMGPU_ACCESS_WRITE));
        }
    }
    st = svmgpu_mmu_translate(core, q->step_ctx, c->va, SVMGPU_ACCESS_ATOMIC,
                              &ta);
    if (st != SVMGPU_XLATE_OK) {
        pthread_rwlock_unlock(&core->xlate);
        return acc_step(svmgpu_xlate_failed(q, st, &ta, c->va,
                                            SVMGPU_ACCESS_ATOMIC));
    }
    len = c->size;
    p = svmgpu_map_get(core, mc, ta.pa, &len, true, &win);
    pthread_mutex_lock(&core->atomic_lock);
    if (svmgpu_q_stale(q)) {
        rc = -1;
    } else if (p && len >= c->size) {
        cur = svmgpu_atomic_host(p, c->size, c->op, c->operand, c->compare);
        svmgpu_map_dirty(mc, win, p, c->size);
    } else {
        rc = svmgpu_mem_read(core, ta.pa, &cur, c->size);
        if (!rc) {
            nv = svmgpu_atomic_compute(c->op, c->size, cur, c->operand,
                                       c->compare);
            rc = svmgpu_mem_write(core, ta.pa, &nv, c->size);
        }
    }
    pthread_mutex_unlock(&core->atomic_lock);
    if (rc) {
        pthread_rwlock_unlock(&core->xlate);
        svmgpu_set_error(x, SVMGPU_ERR_DMA, c->va, SVMGPU_ACCESS_ATOMIC, 0);
        return SVMGPU_STEP_DONE;
    }
    svmgpu_map_count(mc, svmgpu_pa_local(ta.pa), false, c->size);
    svmgpu_map_count(mc, svmgpu_pa_local(ta.pa), true, c->size);
    if (c->result_va && (svmgpu_q_stale(q) ||
        svmgpu_mem_write(core, tr.pa, &cur, c->size))) {
        svmgpu_set_error(x, SVMGPU_ERR_DMA, c->result_va,
                         SVMGPU_ACCESS_WRITE, 0);
    } else if (c->result_va) {
        svmgpu_map_count(mc, svmgpu_pa_local(tr.pa), true, c->size);
    }
    pthread_rwlock_unlock(&core->xlate);
    return SVMGPU_STEP_DONE;
}

static SvmgpuStep step_store64(SvmgpuCore *core, SvmgpuQueue *q,
                               SvmgpuMapCache *mc, uint64_t va,
                               uint64_t value)
{
    if (va & 7) {
        return bad_command(&q->x);
    }
    return acc_step(svmgpu_vm_access(core, q, mc, va, &value, 8,
                                     SVMGPU_ACCESS_WRITE));
}

static bool wait_satisfied(uint32_t cond, uint64_t v, uint64_t value)
{
    switch (cond) {
    case SVMGPU_WAIT_EQ:
        return v == value;
    case SVMGPU_WAIT_NE:
        return v != value;
    case SVMGPU_WAIT_GEU:
        return v >= value;
    case SVMGPU_WAIT_LTU:
        return v < value;
    default:
        return (int64_t)(v - value) >= 0;
    }
}

static SvmgpuStep step_wait(SvmgpuCore *core, SvmgpuQueue *q,
                            SvmgpuMapCache *mc)
{
    SvmgpuQueueExec *x = &q->x;
    const struct svmgpu_cmd_wait *c = &x->cmd.wait;
    SvmgpuAccessResult r;
    uint64_t v = 0, now;

    if (c->rsvd0 || c->rsvd1 || c->cond >= SVMGPU_WAIT_NUM_CONDS ||
        (c->va & 7)) {
        return bad_command(x);
    }
    r = svmgpu_vm_access(core, q, mc, c->va, &v, 8, SVMGPU_ACCESS_READ);
    if (r != SVMGPU_ACC_OK) {
        return acc_step(r);
    }
    if (wait_satisfied(c->cond, v & c->mask, c->value)) {
        return SVMGPU_STEP_DONE;
    }
    now = svmgpu_now(core);
    if (!x->wait_started) {
        x->wait_started = true;
        x->wait_start = now;
    }
    if (c->timeout_ns && now - x->wait_start >= c->timeout_ns) {
        svmgpu_set_error(x, SVMGPU_ERR_WAIT_TIMEOUT, c->va,
                         SVMGPU_ACCESS_READ, 0);
        return SVMGPU_STEP_DONE;
    }
    return SVMGPU_STEP_WAIT;
}

/* Finish the current command: completion record, registers, interrupts. */
static void complete(SvmgpuCore *core, SvmgpuQueue *q)
{
    SvmgpuQueueExec *x = &q->x;
    struct svmgpu_completion rec;
    uint32_t newhead, tail, status;
    uint64_t addr;
    bool enabled, failed = x->err_code != SVMGPU_ERR_NONE;
    bool fetched = x->has_cmd;

    pthread_mutex_lock(&core->lock);
    enabled = q->enabled && q->qgen == q->step_gen;
    newhead = fetched ? (q->head + 1) & (q->l_size - 1) : q->head;
    tail = q->tail;
    addr = q->l_compl_addr;
    memset(&rec, 0, sizeof(rec));
    rec.err_seq = q->err_seq;
    rec.err_va = q->err_va;
    rec.err_code = q->err_code;
    rec.err_info = q->err_info;
    pthread_mutex_unlock(&core->lock);
    if (!enabled) {
        svmgpu_queue_exec_reset(x);
        return;
    }

    status = SVMGPU_Q_STATUS_ENABLED;
    if (failed) {
        status |= SVMGPU_Q_STATUS_ERROR;
        rec.err_seq = fetched ? x->cmd.hdr.seq : 0;
        rec.err_va = x->err_va;
        rec.err_code = x->err_code;
        rec.err_info = x->err_info;
    } else if (newhead == tail) {
        status |= SVMGPU_Q_STATUS_IDLE;
    }
    rec.seq = fetched ? x->cmd.hdr.seq : q->compl_seq;
    rec.head = newhead;
    rec.status = status;
    rec.timestamp = svmgpu_now(core);
    if (addr && !svmgpu_q_stale(q)) {
        pthread_mutex_lock(&core->lock);
        if (q->qgen == q->step_gen &&
            svmgpu_inject_corrupt_compl_locked(core, q->index)) {
            /* Injected (§15): garbage, and a seq never submitted. */
            memset((uint8_t *)&rec + 8, 0xa5, sizeof(rec) - 8);
            rec.seq = ~rec.seq;
        }
        pthread_mutex_unlock(&core->lock);
    }
    if (addr && !svmgpu_q_stale(q)) {
        int rc = core->ops->dma_write(core->opaque, addr + 8,
                                      (uint8_t *)&rec + 8, sizeof(rec) - 8);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        if (!rc && !svmgpu_q_stale(q)) {
            rc = core->ops->dma_write(core->opaque, addr, &rec.seq, 8);
        }
        pthread_mutex_lock(&core->lock);
        if (rc && q->qgen == q->step_gen) {
            svmgpu_error_locked(core, SVMGPU_ERROR_COMPLETION_DMA, addr,
                                "queue %u completion write to 0x%llx failed",
                                q->index, (unsigned long long)addr);
        }
        pthread_mutex_unlock(&core->lock);
    }

    pthread_mutex_lock(&core->lock);
    if (q->enabled && q->qgen == q->step_gen) {
        q->head = newhead;
        if (fetched) {
            q->compl_seq = x->cmd.hdr.seq;
            core->cnt_commands++;
        }
        svmgpu_trace(core, SVMGPU_TRACE_COMPLETE, q->index, rec.seq,
                     x->err_code);
        if (failed) {
            q->error = true;
            q->preempt_pending = false;     /* halted: no safe point */
            q->err_code = rec.err_code;
            q->err_info = rec.err_info;
            q->err_va = rec.err_va;
            q->err_seq = rec.err_seq;
            svmgpu_error_locked(core, SVMGPU_ERROR_QUEUE, q->index,
                                "queue %u: command seq %llu failed with "
                                "error %u at 0x%llx", q->index,
                                (unsigned long long)rec.err_seq,
                                rec.err_code, (unsigned long long)rec.err_va);
        }
        if (failed || (fetched && (x->cmd.hdr.flags & SVMGPU_CMD_FLAG_IRQ))) {
            svmgpu_intr_locked(core, SVMGPU_INTR_QUEUE(q->index));
        }
        if (fetched && x->cmd.hdr.opcode == SVMGPU_CMD_SIGNAL && !failed) {
            svmgpu_kick_locked(core);     /* WAITs may be satisfied now */
        }
    }
    pthread_mutex_unlock(&core->lock);
    svmgpu_queue_exec_reset(x);
}

SvmgpuStep svmgpu_queue_step(SvmgpuCore *core, SvmgpuQueue *q, uint8_t *buf,
                             void *save_buf)
{
    SvmgpuQueueExec *x = &q->x;
    SvmgpuMapCache mc;
    uint32_t head, tail, size;
    uint64_t base, addr;
    bool cancel, resume;
    SvmgpuStep r;

    pthread_mutex_lock(&core->lock);
    /*
     * A stale step (the queue was disabled and re-enabled since it was
     * picked) must not consume the RESUME or CANCEL of the new enable.
     */
    resume = cancel = false;
    if (q->qgen == q->step_gen) {
        resume = q->resume;
        q->resume = false;
        cancel = q->cancel;
        q->cancel = false;
    }
    head = q->head;
    tail = q->tail;
    base = q->l_base;
    size = q->l_size;
    pthread_mutex_unlock(&core->lock);

    if (resume) {
        /* RESUME (§16.1): the saved state first, as a step of its own */
        switch (svmgpu_queue_restore(core, q, save_buf)) {
        case SVMGPU_RESTORE_OK:
            return SVMGPU_STEP_MORE;
        case SVMGPU_RESTORE_REFUSED:
            return SVMGPU_STEP_DONE;
        case SVMGPU_RESTORE_RING_DMA:
            svmgpu_ring_entry(base, head, size, &addr);
            svmgpu_set_error(x, SVMGPU_ERR_RING_DMA, addr, 0, 0);
            complete(core, q);
            return SVMGPU_STEP_DONE;
        }
    }
    x->restored = false;
    if (cancel && x->has_cmd) {
        svmgpu_set_error(x, SVMGPU_ERR_FAULT_CANCELLED, x->fault_va,
                         x->fault_access, x->fault_reason);
        complete(core, q);
        return SVMGPU_STEP_DONE;
    }
    if (!x->has_cmd) {
        if (head == tail) {
            return SVMGPU_STEP_IDLE;
        }
        if (!svmgpu_ring_entry(base, head, size, &addr) ||
            core->ops->dma_read(core->opaque, addr, &x->cmd, sizeof(x->cmd))) {
            svmgpu_set_error(x, SVMGPU_ERR_RING_DMA, addr, 0, 0);
            complete(core, q);
            return SVMGPU_STEP_DONE;
        }
        x->has_cmd = true;
        x->progress = 0;
        x->wait_started = false;
        x->err_code = SVMGPU_ERR_NONE;
    }

    svmgpu_map_init(core, &mc);
    if (x->cmd.hdr.rsvd0 || x->cmd.hdr.rsvd1 ||
        (x->cmd.hdr.flags & ~SVMGPU_CMD_FLAGS_VALID)) {
        r = bad_command(x);
    } else {
        switch (x->cmd.hdr.opcode) {
        case SVMGPU_CMD_NOP:
            r = rsvd_zero(x->cmd.raw, 6) ? SVMGPU_STEP_DONE : bad_command(x);
            break;
        case SVMGPU_CMD_COPY:
            r = step_copy(core, q, buf, &mc);
            break;
        case SVMGPU_CMD_FILL:
            r = step_fill(core, q, buf, &mc);
            break;
        case SVMGPU_CMD_ATOMIC:
            r = step_atomic(core, q, &mc);
            break;
        case SVMGPU_CMD_SIGNAL:
            r = rsvd_zero(x->cmd.signal.rsvd, 4) ?
                step_store64(core, q, &mc, x->cmd.signal.va,
                             x->cmd.signal.value) :
                bad_command(x);
            break;
        case SVMGPU_CMD_WAIT:
            r = step_wait(core, q, &mc);
            break;
        case SVMGPU_CMD_LAUNCH:
            r = core->cfg.engine == SVMGPU_ENGINE_REFERENCE ?
                svmgpu_launch_step(core, q, &mc) :
                svmgpu_fast_step(core, q, &mc);
            break;
        case SVMGPU_CMD_TIMESTAMP:
            r = rsvd_zero(x->cmd.timestamp.rsvd, 5) ?
                step_store64(core, q, &mc, x->cmd.timestamp.va,
                             svmgpu_now(core)) :
                bad_command(x);
            break;
        default:
            svmgpu_set_error(x, SVMGPU_ERR_BAD_OPCODE, 0, 0, 0);
            r = SVMGPU_STEP_DONE;
            break;
        }
    }
    svmgpu_map_release(core, q, &mc);
    q->link_until = mc.link_until;

    if (r == SVMGPU_STEP_DONE) {
        if (x->err_code != SVMGPU_ERR_NONE) {
            svmgpu_guest_error(core, "queue %u: command opcode %u seq %llu: "
                               "error %u", q->index, x->cmd.hdr.opcode,
                               (unsigned long long)x->cmd.hdr.seq,
                               x->err_code);
        }
        complete(core, q);
    } else if (r == SVMGPU_STEP_FAULT) {
        svmgpu_fault_report(core, q, q->step_ctx);
    }
    return r;
}
