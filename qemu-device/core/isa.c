/*
 * svmgpu compute engine: interpreter for the SIMT ISA of docs/isa.md.
 *
 * A LAUNCH runs its workgroups one after another; the waves of a workgroup
 * interleave one instruction at a time.  Each wave keeps an execution mask,
 * an alive mask and a reconvergence stack for IF/ELSE/ENDIF and
 * LOOP/BREAK/ENDLOOP.  Memory instructions track which lanes completed
 * (`done`), so an instruction interrupted by a fault resumes only for the
 * remaining lanes after REPLAY.  The whole state lives in SvmgpuLaunch,
 * owned by the queue's engine; steps run at most SVMGPU_ISA_SLICE
 * wave-instructions and the launch budget bounds the total.
 *
 * Memory: a step holds core->xlate for reading across its accesses and
 * keeps a few translations of the pages it touches (IsaMem, a copy of TLB
 * entries that counts as TLB hits) with host pointers from the step's map
 * cache, so an access to a recently used page is a lookup in a handful of
 * entries and a load or store.  The copies and the lock go at the next
 * wave-instruction boundary once an invalidation waits (inval_waiting),
 * and at the end of the step; misses translate through the TLB as usual.
 * The copies alone are forgotten at the next wave-instruction once DMA
 * addresses were unmapped (core->map_gen moved: isa_mem_check_gen()), so
 * an unmapped address serves at most the instruction under way.
 * Atomics take core->atomic_lock (shared with the ATOMIC command) and are
 * host atomics on the mapped word (svmgpu_atomic_host()).  Stores check
 * svmgpu_q_stale() first: a reset or re-enable ends a kernel's writes.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "isa-common.h"

#define MAX_WAVES (SVMGPU_ISA_MAX_WG_SIZE / SVMGPU_ISA_WAVE_SIZE)

typedef IsaWave SvmgpuWave;     /* the control state: isa-common.h */

struct SvmgpuLaunch {
    uint64_t wg, wg_total;
    uint64_t budget, executed;
    bool wg_running;
    unsigned nwaves, cur;
    SvmgpuWave waves[MAX_WAVES];
    unsigned regs_used;     /* r0..r(regs_used-1) may be non-zero */
    uint64_t regs[SVMGPU_ISA_MAX_WG_SIZE][SVMGPU_ISA_NUM_REGS];
};

void svmgpu_launch_free(SvmgpuLaunch *l)
{
    free(l);
}

static uint64_t sreg(const SvmgpuLaunch *l, const SvmgpuQueue *q,
                     unsigned sr, unsigned lane)
{
    const struct svmgpu_cmd_launch *c = &q->x.cmd.launch;
    uint64_t wg = l->wg;

    switch (sr) {
    case SVMGPU_SR_LANE_ID: return lane;
    case SVMGPU_SR_WG_ID_X: return wg % c->grid_x;
    case SVMGPU_SR_WG_ID_Y: return (wg / c->grid_x) % c->grid_y;
    case SVMGPU_SR_WG_ID_Z: return wg / ((uint64_t)c->grid_x * c->grid_y);
    case SVMGPU_SR_WG_SIZE: return c->wg_size;
    case SVMGPU_SR_GRID_X: return c->grid_x;
    case SVMGPU_SR_GRID_Y: return c->grid_y;
    case SVMGPU_SR_GRID_Z: return c->grid_z;
    case SVMGPU_SR_GLOBAL_ID: return wg * c->wg_size + lane;
    case SVMGPU_SR_ARGS: return c->args_va;
    case SVMGPU_SR_WAVE_ID: return lane / SVMGPU_ISA_WAVE_SIZE;
    case SVMGPU_SR_QUEUE: return q->index;
    }
    return 0;
}

static InsnResult illegal(SvmgpuQueue *q, const SvmgpuWave *w)
{
    svmgpu_set_error(&q->x, SVMGPU_ERR_ILLEGAL_INSTRUCTION, w->pc,
                     SVMGPU_ACCESS_READ, 0);
    return INSN_ERROR;
}

/* Loads, stores and atomics, lane by lane, resumable through w->done. */
static InsnResult exec_mem(SvmgpuCore *core, SvmgpuQueue *q, SvmgpuLaunch *l,
                           IsaMem *m, SvmgpuWave *w, unsigned wave,
                           uint64_t insn)
{
    uint8_t op = SVMGPU_ISA_OP(insn), rd = SVMGPU_ISA_RD(insn);
    uint8_t ra = SVMGPU_ISA_RA(insn), rb = SVMGPU_ISA_RB(insn);
    int32_t imm = SVMGPU_ISA_IMM(insn);
    bool atomic = op == SVMGPU_OP_ATOM32 || op == SVMGPU_OP_ATOM64;
    bool store = op >= SVMGPU_OP_ST8 && op <= SVMGPU_OP_ST64;
    unsigned size, aop = 0, rc = 0;
    uint32_t todo;

    if (atomic) {
        size = op == SVMGPU_OP_ATOM32 ? 4 : 8;
        aop = SVMGPU_ISA_IMM_ATOMIC_OP(imm);
        rc = SVMGPU_ISA_IMM_RC(imm);
        if (aop >= SVMGPU_ATOMIC_NUM_OPS || rc >= SVMGPU_ISA_NUM_REGS ||
            rb >= SVMGPU_ISA_NUM_REGS || rd >= SVMGPU_ISA_NUM_REGS) {
            return illegal(q, w);
        }
        imm = 0;
    } else if (store) {
        size = 1u << (op - SVMGPU_OP_ST8);
        if (rb >= SVMGPU_ISA_NUM_REGS) {
            return illegal(q, w);
        }
    } else {
        size = 1u << ((op - SVMGPU_OP_LD8) & 3);
        if (rd >= SVMGPU_ISA_NUM_REGS) {
            return illegal(q, w);
        }
    }
    if (ra >= SVMGPU_ISA_NUM_REGS) {
        return illegal(q, w);
    }

    /* active lanes not done yet, in ascending order */
    for (todo = w->exec & ~w->done; todo; todo &= todo - 1) {
        unsigned i = __builtin_ctz(todo);
        uint32_t bit = 1u << i;
        uint64_t *r = l->regs[wave * SVMGPU_ISA_WAVE_SIZE + i];
        uint64_t addr, v = 0;
        SvmgpuAccessResult res;

        addr = r[ra] + (uint64_t)(int64_t)imm;
        if (addr >> SVMGPU_VA_BITS) {
            svmgpu_set_error(&q->x, SVMGPU_ERR_INVALID_VA, addr,
                             atomic ? SVMGPU_ACCESS_ATOMIC : store ?
                             SVMGPU_ACCESS_WRITE : SVMGPU_ACCESS_READ, 0);
            return INSN_ERROR;
        }
        if (addr & (size - 1)) {
            svmgpu_set_error(&q->x, SVMGPU_ERR_MISALIGNED, addr,
                             atomic ? SVMGPU_ACCESS_ATOMIC : store ?
                             SVMGPU_ACCESS_WRITE : SVMGPU_ACCESS_READ, 0);
            return INSN_ERROR;
        }
        if (atomic) {
            res = isa_atomic(core, q, m, addr, size, aop, r[rb], r[rc], &v);
            if (res == SVMGPU_ACC_OK) {
                r[rd] = v;
            }
        } else if (store) {
            v = r[rb];
            res = isa_access(core, q, m, addr, &v, size,
                             SVMGPU_ACCESS_WRITE, false);
        } else {
            res = isa_access(core, q, m, addr, &v, size, SVMGPU_ACCESS_READ,
                             false);
            if (res == SVMGPU_ACC_OK) {
                if (op >= SVMGPU_OP_LDS8) {
                    unsigned sh = 64 - 8 * size;
                    v = (uint64_t)((int64_t)(v << sh) >> sh);
                }
                r[rd] = v;
            }
        }
        if (res != SVMGPU_ACC_OK) {
            return acc_result(res);
        }
        w->done |= bit;
    }
    w->done = 0;
    return INSN_OK;
}

/*
 * Register-to-register ops over the active lanes; the operation is chosen
 * once per instruction, not per lane, for the common integer ops.
 */
#define ALU_LOOP(expr) \
    do { \
        uint32_t ex_ = w->exec; \
        while (ex_) { \
            uint64_t *r = regs[__builtin_ctz(ex_)]; \
            uint64_t a = r[ra], b = rb == SVMGPU_ISA_RB_IMM ? bimm : r[rb]; \
            (void)a; \
            r[rd] = (expr); \
            ex_ &= ex_ - 1; \
        } \
    } while (0)

static void alu(SvmgpuLaunch *l, const SvmgpuWave *w, unsigned wave,
                uint8_t op, uint8_t rd, uint8_t ra, uint8_t rb, int32_t imm)
{
    uint64_t (*regs)[SVMGPU_ISA_NUM_REGS] = &l->regs[wave *
                                                     SVMGPU_ISA_WAVE_SIZE];
    uint64_t bimm = (uint64_t)(int64_t)imm;

    switch (op) {
    case SVMGPU_OP_MOV:
        ALU_LOOP(b);
        return;
    case SVMGPU_OP_ADD:
        ALU_LOOP(a + b);
        return;
    case SVMGPU_OP_SUB:
        ALU_LOOP(a - b);
        return;
    case SVMGPU_OP_MUL:
        ALU_LOOP(a * b);
        return;
    case SVMGPU_OP_AND:
        ALU_LOOP(a & b);
        return;
    case SVMGPU_OP_OR:
        ALU_LOOP(a | b);
        return;
    case SVMGPU_OP_XOR:
        ALU_LOOP(a ^ b);
        return;
    case SVMGPU_OP_SHL:
        ALU_LOOP(a << (b & 63));
        return;
    case SVMGPU_OP_SHR:
        ALU_LOOP(a >> (b & 63));
        return;
    case SVMGPU_OP_SEQ:
        ALU_LOOP(a == b);
        return;
    case SVMGPU_OP_SNE:
        ALU_LOOP(a != b);
        return;
    case SVMGPU_OP_SLTU:
        ALU_LOOP(a < b);
        return;
    case SVMGPU_OP_FFMA:
    case SVMGPU_OP_DFMA:
        ALU_LOOP(fma_op(op, a, b, r[rd]));     /* rd is read, then written */
        return;
    }
    if (is_int_op(op)) {
        ALU_LOOP(int_op(op, a, b));
    } else if (is_f32_op(op)) {
        ALU_LOOP(f32_op(op, a, b));
    } else {
        ALU_LOOP(f64_op(op, a, b));
    }
}
#undef ALU_LOOP

static InsnResult exec_insn(SvmgpuCore *core, SvmgpuQueue *q, SvmgpuLaunch *l,
                            IsaMem *m, SvmgpuWave *w, unsigned wave)
{
    uint64_t insn = 0, next;
    uint8_t op, rd, ra, rb;
    int32_t imm;
    unsigned i;
    InsnResult res;
    uint32_t cond;

    res = acc_result(isa_access(core, q, m, w->pc, &insn, 8,
                                SVMGPU_ACCESS_READ, true));
    if (res != INSN_OK) {
        return res;
    }
    op = SVMGPU_ISA_OP(insn);
    rd = SVMGPU_ISA_RD(insn);
    ra = SVMGPU_ISA_RA(insn);
    rb = SVMGPU_ISA_RB(insn);
    imm = SVMGPU_ISA_IMM(insn);
    next = w->pc + SVMGPU_ISA_INSN_SIZE;
    if (!is_mem_op(op)) {
        /*
         * The lanes done are those of a faulted memory instruction the
         * CPU rewrote while the queue stalled: they run this one.
         */
        w->done = 0;
    }
    if (rd >= l->regs_used && rd < SVMGPU_ISA_NUM_REGS) {
        l->regs_used = rd + 1;  /* any instruction may write rd */
    }

#define LANE_REGS(i) (l->regs[wave * SVMGPU_ISA_WAVE_SIZE + (i)])
#define FOR_ACTIVE(i) \
    for (i = 0; i < SVMGPU_ISA_WAVE_SIZE; i++) \
        if (w->exec & (1u << i))

    switch (op) {
    case SVMGPU_OP_NOP ... SVMGPU_OP_ENDLOOP:
        cond = 0;
        if (op == SVMGPU_OP_IF || op == SVMGPU_OP_BREAK) {
            if (ra >= SVMGPU_ISA_NUM_REGS) {
                return illegal(q, w);
            }
            FOR_ACTIVE(i) {
                if (LANE_REGS(i)[ra]) {
                    cond |= 1u << i;
                }
            }
        }
        if (!isa_control(w, op, imm, cond)) {
            return illegal(q, w);
        }
        return INSN_OK;
    case SVMGPU_OP_MOVI:
    case SVMGPU_OP_MOVHI:
    case SVMGPU_OP_S2R:
        if (rd >= SVMGPU_ISA_NUM_REGS ||
            (op == SVMGPU_OP_S2R && (uint32_t)imm >= SVMGPU_SR_NUM)) {
            return illegal(q, w);
        }
        FOR_ACTIVE(i) {
            uint64_t *r = LANE_REGS(i);

            if (op == SVMGPU_OP_MOVI) {
                r[rd] = (uint64_t)(int64_t)imm;
            } else if (op == SVMGPU_OP_MOVHI) {
                r[rd] = (r[rd] & 0xffffffffull) |
                        ((uint64_t)(uint32_t)imm << 32);
            } else {
                r[rd] = sreg(l, q, imm, wave * SVMGPU_ISA_WAVE_SIZE + i);
            }
        }
        break;
    case SVMGPU_OP_SEL:
        if (rd >= SVMGPU_ISA_NUM_REGS || ra >= SVMGPU_ISA_NUM_REGS ||
            rb >= SVMGPU_ISA_NUM_REGS ||
            SVMGPU_ISA_IMM_RC(imm) >= SVMGPU_ISA_NUM_REGS) {
            return illegal(q, w);
        }
        FOR_ACTIVE(i) {
            uint64_t *r = LANE_REGS(i);

            r[rd] = r[SVMGPU_ISA_IMM_RC(imm)] ? r[ra] : r[rb];
        }
        break;
    case SVMGPU_OP_LD8 ... SVMGPU_OP_LDS32:
    case SVMGPU_OP_ST8 ... SVMGPU_OP_ST64:
    case SVMGPU_OP_ATOM32:
    case SVMGPU_OP_ATOM64:
        res = exec_mem(core, q, l, m, w, wave, insn);
        if (res != INSN_OK) {
            return res;
        }
        break;
    default:
        if (op != SVMGPU_OP_MOV && !is_int_op(op) && !is_f32_op(op) &&
            !is_f64_op(op) && !is_fma_op(op)) {
            return illegal(q, w);
        }
        if (rd >= SVMGPU_ISA_NUM_REGS || ra >= SVMGPU_ISA_NUM_REGS ||
            (rb >= SVMGPU_ISA_NUM_REGS && rb != SVMGPU_ISA_RB_IMM)) {
            return illegal(q, w);
        }
        alu(l, w, wave, op, rd, ra, rb, imm);
        break;
    }
#undef LANE_REGS
#undef FOR_ACTIVE
    w->pc = next;
    return INSN_OK;
}

static void start_workgroup(SvmgpuLaunch *l, const struct svmgpu_cmd_launch *c)
{
    unsigned wv, i;

    /*
     * Registers start at zero; only those some instruction named as rd can
     * have changed since the launch state was allocated (zeroed).
     */
    if (l->regs_used == SVMGPU_ISA_NUM_REGS) {
        memset(l->regs, 0, sizeof(l->regs[0]) * c->wg_size);
    } else if (l->regs_used) {
        for (i = 0; i < c->wg_size; i++) {
            memset(l->regs[i], 0, sizeof(l->regs[i][0]) * l->regs_used);
        }
    }
    l->nwaves = (c->wg_size + SVMGPU_ISA_WAVE_SIZE - 1) / SVMGPU_ISA_WAVE_SIZE;
    l->cur = 0;
    for (wv = 0; wv < l->nwaves; wv++) {
        SvmgpuWave *w = &l->waves[wv];
        unsigned lanes = c->wg_size - wv * SVMGPU_ISA_WAVE_SIZE;

        memset(w, 0, sizeof(*w));
        w->pc = c->code_va;
        w->alive = lanes >= 32 ? 0xffffffffu : (1u << lanes) - 1;
        w->exec = w->alive;
    }
    l->wg_running = true;
}

SvmgpuStep svmgpu_launch_step(SvmgpuCore *core, SvmgpuQueue *q,
                              SvmgpuMapCache *mc)
{
    SvmgpuQueueExec *x = &q->x;
    const struct svmgpu_cmd_launch *c = &x->cmd.launch;
    SvmgpuLaunch *l = x->launch;
    SvmgpuStep ret = SVMGPU_STEP_MORE;
    unsigned slice = 0, k;
    uint64_t total;
    IsaMem m;

    if (!l) {
        if (c->rsvd || !c->grid_x || !c->grid_y || !c->grid_z ||
            !c->wg_size || c->wg_size > SVMGPU_ISA_MAX_WG_SIZE ||
            (c->code_va & 7) ||
            __builtin_mul_overflow((uint64_t)c->grid_x, c->grid_y, &total) ||
            __builtin_mul_overflow(total, (uint64_t)c->grid_z, &total)) {
            svmgpu_set_error(x, SVMGPU_ERR_BAD_COMMAND, c->code_va, 0, 0);
            return SVMGPU_STEP_DONE;
        }
        l = calloc(1, sizeof(*l));
        if (!l) {
            return SVMGPU_STEP_MORE;    /* host memory pressure: retry */
        }
        l->wg_total = total;
        l->budget = c->budget ? c->budget : SVMGPU_DEFAULT_BUDGET;
        x->launch = l;
    }

    memset(&m, 0, sizeof(m));
    m.mc = mc;
    while (slice < svmgpu_isa_slice(core)) {
        SvmgpuWave *w = NULL;
        InsnResult r;
        unsigned wv = 0;
        bool any_barrier = false;

        if (!l->wg_running) {
            if (l->wg >= l->wg_total) {
                ret = SVMGPU_STEP_DONE;
                break;
            }
            start_workgroup(l, c);
        }
        for (k = 0; k < l->nwaves; k++) {
            wv = (l->cur + k) % l->nwaves;
            if (l->waves[wv].finished) {
                continue;
            }
            if (l->waves[wv].at_barrier) {
                any_barrier = true;
                continue;
            }
            w = &l->waves[wv];
            break;
        }
        if (!w) {
            if (any_barrier) {
                for (k = 0; k < l->nwaves; k++) {
                    l->waves[k].at_barrier = false;
                }
            } else {
                l->wg_running = false;
                l->wg++;
            }
            continue;
        }
        if (l->executed >= l->budget) {
            svmgpu_set_error(x, SVMGPU_ERR_WATCHDOG, w->pc, 0, 0);
            ret = SVMGPU_STEP_DONE;
            break;
        }
        l->cur = wv;
        if (m.held && __atomic_load_n(&core->inval_waiting,
                                      __ATOMIC_RELAXED)) {
            isa_mem_drop(core, &m);     /* let the invalidation in */
        }
        if (m.held) {
            isa_mem_check_gen(core, &m);
        }
        r = exec_insn(core, q, l, &m, w, wv);
        if (r == INSN_FAULT) {
            ret = SVMGPU_STEP_FAULT;
            break;
        }
        if (r == INSN_ERROR) {
            ret = SVMGPU_STEP_DONE;
            break;
        }
        l->executed++;
        slice++;
        l->cur = (wv + 1) % l->nwaves;
    }
    isa_mem_drop(core, &m);
    pthread_mutex_lock(&core->lock);
    if (q->qgen == q->step_gen) {
        core->cnt_instructions += slice;
    }
    pthread_mutex_unlock(&core->lock);
    return ret;
}

/* ---- preemption: the state in the save area's layout (hw-spec §16.2) ---- */

#include "isa-save.h"

void svmgpu_launch_export(const SvmgpuLaunch *l,
                          const struct svmgpu_cmd_launch *c,
                          struct svmgpu_save_area *a)
{
    unsigned wv, lane, r;

    a->nwaves = (c->wg_size + SVMGPU_ISA_WAVE_SIZE - 1) / SVMGPU_ISA_WAVE_SIZE;
    if (!l) {
        return;     /* not begun: workgroup 0, nothing executed */
    }
    a->wg = l->wg;
    a->executed = l->executed;
    a->cur = l->cur < a->nwaves ? l->cur : 0;
    a->wg_running = l->wg_running;
    if (!l->wg_running) {
        return;
    }
    for (wv = 0; wv < l->nwaves; wv++) {
        isa_wave_export(&l->waves[wv], &a->waves[wv]);
    }
    for (lane = 0; lane < c->wg_size; lane++) {
        for (r = 0; r < SVMGPU_ISA_NUM_REGS; r++) {
            a->regs[lane][r] = l->regs[lane][r];
        }
    }
}

bool svmgpu_launch_import(SvmgpuLaunch **lp,
                          const struct svmgpu_cmd_launch *c,
                          const struct svmgpu_save_area *a)
{
    SvmgpuLaunch *l = calloc(1, sizeof(*l));
    unsigned wv, lane;

    if (!l) {
        return false;
    }
    l->wg_total = svmgpu_launch_wg_total(c);
    l->budget = c->budget ? c->budget : SVMGPU_DEFAULT_BUDGET;
    l->wg = a->wg;
    l->executed = a->executed;
    l->wg_running = a->wg_running;
    l->nwaves = a->nwaves;
    l->cur = a->cur;
    l->regs_used = SVMGPU_ISA_NUM_REGS;     /* any register may be set */
    if (l->wg_running) {
        for (wv = 0; wv < l->nwaves; wv++) {
            isa_wave_import(&l->waves[wv], &a->waves[wv]);
        }
        for (lane = 0; lane < c->wg_size; lane++) {
            memcpy(l->regs[lane], a->regs[lane], sizeof(l->regs[lane]));
        }
    }
    svmgpu_launch_free(*lp);
    *lp = l;
    return true;
}
