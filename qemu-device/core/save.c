/*
 * svmgpu device core: queue preemption to a save area and RESUME from it
 * (docs/hw-spec.md §16).
 *
 * PREEMPT is carried out by the queue's engine, like a step, at its next
 * safe point (between steps; core.c picks saves before steps): the
 * engine writes the queue's execution state (SvmgpuQueueExec and the
 * compute engine's LAUNCH state, through svmgpu_launch_export() or
 * svmgpu_fast_export()) to the save area in the layout of
 * struct svmgpu_save_area, `magic` last, and stops the queue.  RESUME is
 * the first step of a queue enabled with Q_CONTROL.RESUME: it reads the
 * area, checks every field the engines rely on, and loads it.  Whatever
 * a guest wrote there, a refused area costs one ERR_SAVE_AREA and nothing
 * else: the checks bound every index and mask the engines use.
 *
 * Locking: as a step (internal.h): the engine owns q->x while in_step is
 * set; registers change under core->lock, and not at all once the queue
 * was disabled, re-enabled or reset meanwhile (stale).  No core lock is
 * held across the save area's DMA.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"

/* The header: everything before the waves (written for every save). */
#define SAVE_HDR_SIZE   offsetof(struct svmgpu_save_area, waves)
#define SAVE_FULL_SIZE  sizeof(struct svmgpu_save_area)

_Static_assert(SAVE_FULL_SIZE <= SVMGPU_SAVE_AREA_SIZE, "save buffer");
_Static_assert(SAVE_HDR_SIZE <= 256, "save header");

uint64_t svmgpu_launch_wg_total(const struct svmgpu_cmd_launch *c)
{
    uint64_t total;

    if (c->rsvd || !c->grid_x || !c->grid_y || !c->grid_z ||
        !c->wg_size || c->wg_size > SVMGPU_ISA_MAX_WG_SIZE ||
        (c->code_va & 7) ||
        __builtin_mul_overflow((uint64_t)c->grid_x, c->grid_y, &total) ||
        __builtin_mul_overflow(total, (uint64_t)c->grid_z, &total)) {
        return 0;
    }
    return total;
}

static bool is_launch(const struct svmgpu_save_area *a)
{
    return a->kind == SVMGPU_SAVE_COMMAND &&
           a->cmd.hdr.opcode == SVMGPU_CMD_LAUNCH;
}

/* Bytes of the area a save writes and a resume reads. */
static size_t save_size(const struct svmgpu_save_area *a)
{
    return is_launch(a) && a->wg_running ? SAVE_FULL_SIZE : SAVE_HDR_SIZE;
}

/* Fill @a (zeroed) with q's state: the command in progress, if any. */
static void save_export(SvmgpuCore *core, SvmgpuQueue *q,
                        struct svmgpu_save_area *a)
{
    SvmgpuQueueExec *x = &q->x;

    if (!x->has_cmd) {
        a->kind = SVMGPU_SAVE_NONE;
        return;
    }
    a->kind = SVMGPU_SAVE_COMMAND;
    a->cmd = x->cmd;
    switch (x->cmd.hdr.opcode) {
    case SVMGPU_CMD_COPY:
    case SVMGPU_CMD_FILL:
        a->progress = x->progress;
        break;
    case SVMGPU_CMD_WAIT:
        if (x->wait_started) {
            a->wait_elapsed_ns = svmgpu_now(core) - x->wait_start;
        }
        break;
    case SVMGPU_CMD_LAUNCH:
        if (core->cfg.engine == SVMGPU_ENGINE_REFERENCE) {
            svmgpu_launch_export(x->launch, &x->cmd.launch, a);
        } else {
            svmgpu_fast_export(x->fast, &x->cmd.launch, a);
        }
        break;
    }
}

/*
 * Write @a but for its magic: magic 0 first (an earlier save's magic
 * never stays valid over a rewritten body: a torn area is never valid),
 * then the body a page at a time, each after a staleness check (§8: a
 * disabled, re-enabled or reset queue writes at most one more page).
 * 0 when done or stale, else the failed DMA's error.
 */
static int save_write(SvmgpuCore *core, SvmgpuQueue *q, uint64_t addr,
                      const struct svmgpu_save_area *a)
{
    static const uint32_t zero;
    size_t size = save_size(a), off, len;
    int rc;

    if (svmgpu_q_stale(q)) {
        return 0;
    }
    /*
     * Written page by page: none of it may wrap to address 0, and the
     * whole area must fit, or a RESUME would refuse what was saved.
     */
    if (!svmgpu_table_entry(addr, 0, SVMGPU_SAVE_AREA_SIZE, &addr)) {
        return -1;
    }
    rc = core->ops->dma_write(core->opaque, addr, &zero, 4);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    for (off = 4; !rc && off < size; off += len) {
        len = SVMGPU_PAGE_SIZE - off % SVMGPU_PAGE_SIZE;
        if (len > size - off) {
            len = size - off;
        }
        if (svmgpu_q_stale(q)) {
            return 0;
        }
        rc = core->ops->dma_write(core->opaque, addr + off,
                                  (const uint8_t *)a + off, len);
    }
    return rc;
}

void svmgpu_queue_save(SvmgpuCore *core, SvmgpuQueue *q, void *buf)
{
    struct svmgpu_save_area *a = buf;
    uint32_t magic = SVMGPU_SAVE_MAGIC, head;
    uint64_t addr, compl_seq, seq = 0;
    bool resume, stale;
    int rc = 0;

    pthread_mutex_lock(&core->lock);
    /* a stale save must not consume the RESUME of a newer enable */
    resume = q->resume && q->qgen == q->step_gen;
    if (resume) {
        q->resume = false;
    }
    head = q->head;
    addr = q->l_save_addr;
    compl_seq = q->compl_seq;
    pthread_mutex_unlock(&core->lock);

    /*
     * Resumed but not loaded yet: the area still holds the state, exactly
     * as a save would write it (but for `queue`); leave it alone.
     */
    if (!resume) {
        memset(a, 0, q->x.has_cmd &&
               q->x.cmd.hdr.opcode == SVMGPU_CMD_LAUNCH ?
               SAVE_FULL_SIZE : SAVE_HDR_SIZE);
        a->version = SVMGPU_SAVE_VERSION;
        a->head = head;
        a->queue = q->index;
        a->compl_seq = compl_seq;
        save_export(core, q, a);
        seq = a->kind == SVMGPU_SAVE_COMMAND ? a->cmd.hdr.seq : 0;
        rc = save_write(core, q, addr, a);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        if (!rc && !svmgpu_q_stale(q)) {
            rc = core->ops->dma_write(core->opaque, addr, &magic, 4);
        }
    }

    pthread_mutex_lock(&core->lock);
    stale = q->qgen != q->step_gen || !q->enabled;
    if (!stale && q->cancel) {
        /*
         * A CANCEL accepted (and counted) while the area was written
         * wins: the next step fails the command with FAULT_CANCELLED,
         * which halts the queue and drops the PREEMPT.
         */
        stale = true;
        rc = 0;
    }
    if (!stale) {
        /* stopped: a stall or WAIT is dropped, as for a disable */
        svmgpu_queue_bump_gen_locked(q);
        q->enabled = false;
        q->preempt_pending = false;
        q->stall_fault = q->stall_ring_full = q->cancel = false;
        q->inj_fault_stalled = false;
        q->waiting = q->poll = false;
        if (rc) {
            svmgpu_queue_fail_locked(core, q, SVMGPU_ERR_SAVE_AREA, addr);
            q->err_seq = seq;
        } else {
            q->preempted = true;
            core->cnt_preemptions++;
            svmgpu_intr_locked(core, SVMGPU_INTR_QUEUE(q->index));
        }
        svmgpu_trace(core, SVMGPU_TRACE_PREEMPT, q->index, head,
                     (resume ? 0xff : a->kind) |
                     (rc ? SVMGPU_ERR_SAVE_AREA : 0) << 8);
    }
    pthread_mutex_unlock(&core->lock);
    if (rc && !stale) {
        svmgpu_guest_error(core, "queue %u: save area write to 0x%llx "
                           "failed", q->index, (unsigned long long)addr);
    }
}

/* ---- RESUME ---- */

/* The lanes of wave wv of a workgroup of wg_size lanes. */
static uint32_t wave_lanes(uint32_t wg_size, unsigned wv)
{
    uint32_t n = wg_size - wv * SVMGPU_ISA_WAVE_SIZE;

    return n >= 32 ? 0xffffffffu : (1u << n) - 1;
}

static const char *wave_check(const struct svmgpu_save_wave *w, uint32_t lanes)
{
    unsigned k;

    if (w->pc & 7) {
        return "wave pc not 8-aligned";
    }
    if ((w->exec | w->alive | w->done) & ~lanes) {
        return "wave mask with lanes outside the wave";
    }
    if ((w->exec | w->done) & ~w->alive) {
        return "exec or done not within alive";
    }
    if (w->sp > SVMGPU_ISA_MAX_NEST) {
        return "stack pointer beyond 16";
    }
    if (w->at_barrier > 1 || w->finished > 1 || w->rsvd0) {
        return "wave flags";
    }
    if (w->finished && w->alive) {
        return "finished wave with lanes alive";
    }
    for (k = 0; k < w->sp; k++) {
        const struct svmgpu_save_stack *e = &w->stack[k];

        if ((e->kind != 1 && e->kind != 2) || e->rsvd0[0] || e->rsvd0[1] ||
            e->rsvd0[2] || e->rsvd1) {
            return "stack entry kind or reserved field";
        }
        if ((e->saved | e->else_mask) & ~lanes || (e->loop_pc & 7)) {
            return "stack entry mask or loop pc";
        }
    }
    return NULL;
}

/*
 * NULL if the header of @a may be resumed at ring index @head; else why
 * not.  The command itself is compared with the ring by the caller.
 */
static const char *header_check(const struct svmgpu_save_area *a,
                                uint32_t head)
{
    const struct svmgpu_cmd_launch *c = &a->cmd.launch;
    uint64_t total, budget;

    if (a->magic != SVMGPU_SAVE_MAGIC) {
        return "bad magic";
    }
    if (a->version != SVMGPU_SAVE_VERSION) {
        return "unknown version";
    }
    if (a->kind != SVMGPU_SAVE_NONE && a->kind != SVMGPU_SAVE_COMMAND) {
        return "unknown kind";
    }
    if (a->rsvd0 || a->rsvd1 || a->rsvd2[0] || a->rsvd2[1] || a->rsvd2[2] ||
        a->rsvd2[3]) {
        return "reserved field not 0";
    }
    if (a->head != head) {
        return "head is not Q_START";
    }
    if (a->kind == SVMGPU_SAVE_NONE) {
        return NULL;
    }
    switch (a->cmd.hdr.opcode) {
    case SVMGPU_CMD_COPY:
        if (a->progress > a->cmd.copy.size) {
            return "COPY progress beyond its size";
        }
        break;
    case SVMGPU_CMD_FILL: {
        uint32_t w = a->cmd.fill.width;

        if (a->progress > a->cmd.fill.size ||
            ((w == 1 || w == 2 || w == 4 || w == 8) && a->progress % w)) {
            return "FILL progress beyond its size or not whole";
        }
        break;
    }
    case SVMGPU_CMD_LAUNCH:
        total = svmgpu_launch_wg_total(c);
        if (!total) {
            /* a malformed LAUNCH: it fails as BAD_COMMAND when it runs */
            if (a->wg || a->executed || a->wg_running || a->cur) {
                return "progress of a malformed LAUNCH";
            }
            break;
        }
        budget = c->budget ? c->budget : SVMGPU_DEFAULT_BUDGET;
        if (a->wg >= total) {
            return "workgroup beyond the grid";
        }
        if (a->executed > budget) {
            return "executed beyond the budget";
        }
        if (a->nwaves != (c->wg_size + SVMGPU_ISA_WAVE_SIZE - 1) /
                         SVMGPU_ISA_WAVE_SIZE) {
            return "nwaves does not match wg_size";
        }
        if (a->cur >= a->nwaves) {
            return "current wave beyond nwaves";
        }
        if (a->wg_running > 1) {
            return "wg_running not 0 or 1";
        }
        break;
    }
    return NULL;
}

/* Refuse the area: halt q with ERR_SAVE_AREA (unless stale). */
static SvmgpuRestore refuse(SvmgpuCore *core, SvmgpuQueue *q, uint64_t addr,
                            const struct svmgpu_save_area *a, bool have_hdr,
                            const char *why)
{
    uint64_t seq = have_hdr && a->kind == SVMGPU_SAVE_COMMAND ?
                   a->cmd.hdr.seq : 0;
    uint32_t head;

    pthread_mutex_lock(&core->lock);
    head = q->head;
    if (q->qgen == q->step_gen && q->enabled) {
        svmgpu_queue_fail_locked(core, q, SVMGPU_ERR_SAVE_AREA, addr);
        q->err_seq = seq;
        svmgpu_trace(core, SVMGPU_TRACE_RESUME, q->index, head,
                     (have_hdr ? a->kind & 0xff : 0) |
                     SVMGPU_ERR_SAVE_AREA << 8);
    }
    pthread_mutex_unlock(&core->lock);
    svmgpu_guest_error(core, "queue %u: save area at 0x%llx refused: %s",
                       q->index, (unsigned long long)addr, why);
    return SVMGPU_RESTORE_REFUSED;
}

SvmgpuRestore svmgpu_queue_restore(SvmgpuCore *core, SvmgpuQueue *q,
                                   void *buf)
{
    struct svmgpu_save_area *a = buf;
    SvmgpuQueueExec *x = &q->x;
    struct svmgpu_cmd ring;
    uint64_t addr, base;
    uint32_t head, size;
    const char *why;
    unsigned wv;
    bool ok = true;

    pthread_mutex_lock(&core->lock);
    addr = q->l_save_addr;
    head = q->head;
    base = q->l_base;
    size = q->l_size;
    pthread_mutex_unlock(&core->lock);

    if (!addr) {
        return refuse(core, q, addr, a, false, "no save area");
    }
    if (!svmgpu_table_entry(addr, 0, SVMGPU_SAVE_AREA_SIZE, &addr)) {
        return refuse(core, q, addr, a, false, "past 2^64");
    }
    if (core->ops->dma_read(core->opaque, addr, a, SAVE_HDR_SIZE)) {
        return refuse(core, q, addr, a, false, "unreadable");
    }
    why = header_check(a, head);
    if (why) {
        return refuse(core, q, addr, a, true, why);
    }
    /*
     * Q_COMPL_SEQ is the ring's from here on: a fetch failure below
     * reports the saved compl_seq, not the hardware queue's last ring's.
     */
    pthread_mutex_lock(&core->lock);
    if (q->qgen == q->step_gen && q->enabled) {
        q->compl_seq = a->compl_seq;
    }
    pthread_mutex_unlock(&core->lock);
    if (a->kind == SVMGPU_SAVE_COMMAND) {
        uint64_t at;

        if (!svmgpu_ring_entry(base, head, size, &at) ||
            core->ops->dma_read(core->opaque, at, &ring, sizeof(ring))) {
            return SVMGPU_RESTORE_RING_DMA;
        }
        if (memcmp(&ring, &a->cmd, sizeof(ring))) {
            return refuse(core, q, addr, a, true,
                          "command differs from the ring entry at head");
        }
    }
    if (save_size(a) > SAVE_HDR_SIZE) {
        if (core->ops->dma_read(core->opaque, addr + SAVE_HDR_SIZE,
                                (uint8_t *)a + SAVE_HDR_SIZE,
                                SAVE_FULL_SIZE - SAVE_HDR_SIZE)) {
            return refuse(core, q, addr, a, true, "unreadable");
        }
        for (wv = 0; wv < a->nwaves; wv++) {
            why = wave_check(&a->waves[wv],
                             wave_lanes(a->cmd.launch.wg_size, wv));
            if (why) {
                return refuse(core, q, addr, a, true, why);
            }
        }
    }

    /* accepted: load it */
    if (a->kind == SVMGPU_SAVE_COMMAND) {
        if (is_launch(a) && svmgpu_launch_wg_total(&a->cmd.launch)) {
            ok = core->cfg.engine == SVMGPU_ENGINE_REFERENCE ?
                 svmgpu_launch_import(&x->launch, &a->cmd.launch, a) :
                 svmgpu_fast_import(&x->fast, &a->cmd.launch, a);
        }
        if (ok) {
            x->has_cmd = true;
            x->restored = true;
            x->cmd = a->cmd;
            x->err_code = SVMGPU_ERR_NONE;
            if (a->cmd.hdr.opcode == SVMGPU_CMD_COPY ||
                a->cmd.hdr.opcode == SVMGPU_CMD_FILL) {
                x->progress = a->progress;
            }
            if (a->cmd.hdr.opcode == SVMGPU_CMD_WAIT && a->wait_elapsed_ns) {
                /* time spent preempted does not count */
                x->wait_started = true;
                x->wait_start = svmgpu_now(core) - a->wait_elapsed_ns;
            }
        }
    }
    pthread_mutex_lock(&core->lock);
    if (q->qgen == q->step_gen && q->enabled) {
        if (!ok) {
            q->resume = true;       /* host memory pressure: retry */
        } else {
            q->compl_seq = a->compl_seq;
            svmgpu_trace(core, SVMGPU_TRACE_RESUME, q->index, head, a->kind);
        }
    }
    pthread_mutex_unlock(&core->lock);
    return SVMGPU_RESTORE_OK;
}
