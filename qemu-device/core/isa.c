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
 * Locking: none of its own; memory goes through svmgpu_vm_access() /
 * svmgpu_vm_atomic() (queue.c) which take core->xlate per access.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_WAVES (SVMGPU_ISA_MAX_WG_SIZE / SVMGPU_ISA_WAVE_SIZE)

enum { STACK_IF = 1, STACK_LOOP = 2 };

typedef struct SvmgpuStackEntry {
    uint8_t kind;
    uint32_t saved;         /* mask to restore at ENDIF/ENDLOOP */
    uint32_t else_mask;     /* IF: lanes for the ELSE branch */
    uint64_t loop_pc;       /* LOOP: first instruction of the body */
} SvmgpuStackEntry;

typedef struct SvmgpuWave {
    uint64_t pc;
    uint32_t exec, alive, done;
    unsigned sp;
    bool at_barrier, finished;
    SvmgpuStackEntry stack[SVMGPU_ISA_MAX_NEST];
} SvmgpuWave;

struct SvmgpuLaunch {
    uint64_t wg, wg_total;
    uint64_t budget, executed;
    bool wg_running;
    unsigned nwaves, cur;
    SvmgpuWave waves[MAX_WAVES];
    uint64_t regs[SVMGPU_ISA_MAX_WG_SIZE][SVMGPU_ISA_NUM_REGS];
};

typedef enum { INSN_OK, INSN_FAULT, INSN_ERROR } InsnResult;

void svmgpu_launch_free(SvmgpuLaunch *l)
{
    free(l);
}

static uint32_t f2u(float f)
{
    uint32_t u;

    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint64_t v)
{
    uint32_t u = (uint32_t)v;
    float f;

    memcpy(&f, &u, 4);
    return f;
}

static uint64_t d2u(double d)
{
    uint64_t u;

    memcpy(&u, &d, 8);
    return u;
}

static double u2d(uint64_t u)
{
    double d;

    memcpy(&d, &u, 8);
    return d;
}

static int64_t sat_i64(double d)
{
    if (isnan(d)) {
        return 0;
    }
    if (d >= 9223372036854775808.0) {
        return INT64_MAX;
    }
    if (d < -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (int64_t)d;
}

static uint64_t int_op(uint8_t op, uint64_t a, uint64_t b)
{
    int64_t sa = (int64_t)a, sb = (int64_t)b;

    switch (op) {
    case SVMGPU_OP_ADD: return a + b;
    case SVMGPU_OP_SUB: return a - b;
    case SVMGPU_OP_MUL: return a * b;
    case SVMGPU_OP_MULHU: return (uint64_t)(((unsigned __int128)a * b) >> 64);
    case SVMGPU_OP_DIVU:
        return b ? a / b : ~0ull;
    case SVMGPU_OP_DIVS:
        if (!b) {
            return ~0ull;
        }
        if (sa == INT64_MIN && sb == -1) {
            return a;
        }
        return (uint64_t)(sa / sb);
    case SVMGPU_OP_REMU:
        return b ? a % b : a;
    case SVMGPU_OP_REMS:
        if (!b) {
            return a;
        }
        if (sa == INT64_MIN && sb == -1) {
            return 0;
        }
        return (uint64_t)(sa % sb);
    case SVMGPU_OP_AND: return a & b;
    case SVMGPU_OP_OR: return a | b;
    case SVMGPU_OP_XOR: return a ^ b;
    case SVMGPU_OP_SHL: return a << (b & 63);
    case SVMGPU_OP_SHR: return a >> (b & 63);
    case SVMGPU_OP_SAR: return (uint64_t)(sa >> (b & 63));
    case SVMGPU_OP_MINU:
        return a < b ? a : b;
    case SVMGPU_OP_MAXU:
        return a > b ? a : b;
    case SVMGPU_OP_MINS:
        return sa < sb ? a : b;
    case SVMGPU_OP_MAXS:
        return sa > sb ? a : b;
    case SVMGPU_OP_SEQ: return a == b;
    case SVMGPU_OP_SNE: return a != b;
    case SVMGPU_OP_SLTU: return a < b;
    case SVMGPU_OP_SLTS: return sa < sb;
    case SVMGPU_OP_SLEU: return a <= b;
    case SVMGPU_OP_SLES: return sa <= sb;
    }
    return 0;
}

static uint64_t f32_op(uint8_t op, uint64_t a, uint64_t b)
{
    float fa = u2f(a), fb = u2f(b);

    switch (op) {
    case SVMGPU_OP_FADD: return f2u(fa + fb);
    case SVMGPU_OP_FSUB: return f2u(fa - fb);
    case SVMGPU_OP_FMUL: return f2u(fa * fb);
    case SVMGPU_OP_FDIV: return f2u(fa / fb);
    case SVMGPU_OP_FMIN: return f2u(fminf(fa, fb));
    case SVMGPU_OP_FMAX: return f2u(fmaxf(fa, fb));
    case SVMGPU_OP_FSLT: return fa < fb;
    case SVMGPU_OP_FSEQ: return fa == fb;
    case SVMGPU_OP_FSLE: return fa <= fb;
    case SVMGPU_OP_FSQRT: return f2u(sqrtf(fa));
    case SVMGPU_OP_I2F: return f2u((float)(int64_t)a);
    case SVMGPU_OP_F2I: return (uint64_t)sat_i64(fa);
    }
    return 0;
}

static uint64_t f64_op(uint8_t op, uint64_t a, uint64_t b)
{
    double da = u2d(a), db = u2d(b);

    switch (op) {
    case SVMGPU_OP_DADD: return d2u(da + db);
    case SVMGPU_OP_DSUB: return d2u(da - db);
    case SVMGPU_OP_DMUL: return d2u(da * db);
    case SVMGPU_OP_DDIV: return d2u(da / db);
    case SVMGPU_OP_DMIN: return d2u(fmin(da, db));
    case SVMGPU_OP_DMAX: return d2u(fmax(da, db));
    case SVMGPU_OP_DSLT: return da < db;
    case SVMGPU_OP_DSEQ: return da == db;
    case SVMGPU_OP_DSLE: return da <= db;
    case SVMGPU_OP_DSQRT: return d2u(sqrt(da));
    case SVMGPU_OP_I2D: return d2u((double)(int64_t)a);
    case SVMGPU_OP_D2I: return (uint64_t)sat_i64(da);
    case SVMGPU_OP_F2D: return d2u((double)u2f(a));
    case SVMGPU_OP_D2F: return f2u((float)da);
    }
    return 0;
}

static bool is_int_op(uint8_t op)
{
    return op >= SVMGPU_OP_ADD && op <= SVMGPU_OP_SLES;
}

static bool is_f32_op(uint8_t op)
{
    return op >= SVMGPU_OP_FADD && op <= SVMGPU_OP_F2I;
}

static bool is_f64_op(uint8_t op)
{
    return op >= SVMGPU_OP_DADD && op <= SVMGPU_OP_D2F;
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

static InsnResult acc_result(SvmgpuAccessResult r)
{
    return r == SVMGPU_ACC_OK ? INSN_OK :
           r == SVMGPU_ACC_FAULT ? INSN_FAULT : INSN_ERROR;
}

/* Loads, stores and atomics, lane by lane, resumable through w->done. */
static InsnResult exec_mem(SvmgpuCore *core, SvmgpuQueue *q, SvmgpuLaunch *l,
                           SvmgpuWave *w, unsigned wave, uint64_t insn)
{
    uint8_t op = SVMGPU_ISA_OP(insn), rd = SVMGPU_ISA_RD(insn);
    uint8_t ra = SVMGPU_ISA_RA(insn), rb = SVMGPU_ISA_RB(insn);
    int32_t imm = SVMGPU_ISA_IMM(insn);
    bool atomic = op == SVMGPU_OP_ATOM32 || op == SVMGPU_OP_ATOM64;
    bool store = op >= SVMGPU_OP_ST8 && op <= SVMGPU_OP_ST64;
    unsigned size, i, aop = 0, rc = 0;

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

    for (i = 0; i < SVMGPU_ISA_WAVE_SIZE; i++) {
        uint32_t bit = 1u << i;
        uint64_t *r = l->regs[wave * SVMGPU_ISA_WAVE_SIZE + i];
        uint64_t addr, v = 0;
        SvmgpuAccessResult res;

        if (!(w->exec & bit) || (w->done & bit)) {
            continue;
        }
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
            res = svmgpu_vm_atomic(core, q, addr, size, aop, r[rb], r[rc], &v);
            if (res == SVMGPU_ACC_OK) {
                r[rd] = v;
            }
        } else if (store) {
            v = r[rb];
            res = svmgpu_vm_access(core, q, addr, &v, size,
                                   SVMGPU_ACCESS_WRITE);
        } else {
            res = svmgpu_vm_access(core, q, addr, &v, size,
                                   SVMGPU_ACCESS_READ);
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

static InsnResult exec_insn(SvmgpuCore *core, SvmgpuQueue *q, SvmgpuLaunch *l,
                            SvmgpuWave *w, unsigned wave)
{
    uint64_t insn = 0, next;
    uint8_t op, rd, ra, rb;
    int32_t imm;
    unsigned i;
    InsnResult res;
    SvmgpuStackEntry *top;
    uint32_t cond;

    res = acc_result(svmgpu_vm_access(core, q, w->pc, &insn, 8,
                                      SVMGPU_ACCESS_READ));
    if (res != INSN_OK) {
        return res;
    }
    op = SVMGPU_ISA_OP(insn);
    rd = SVMGPU_ISA_RD(insn);
    ra = SVMGPU_ISA_RA(insn);
    rb = SVMGPU_ISA_RB(insn);
    imm = SVMGPU_ISA_IMM(insn);
    next = w->pc + SVMGPU_ISA_INSN_SIZE;
    top = w->sp ? &w->stack[w->sp - 1] : NULL;

#define LANE_REGS(i) (l->regs[wave * SVMGPU_ISA_WAVE_SIZE + (i)])
#define FOR_ACTIVE(i) \
    for (i = 0; i < SVMGPU_ISA_WAVE_SIZE; i++) \
        if (w->exec & (1u << i))

    switch (op) {
    case SVMGPU_OP_NOP:
        break;
    case SVMGPU_OP_EXIT:
        w->alive &= ~w->exec;
        w->exec = 0;
        if (!w->alive) {
            w->finished = true;
        }
        break;
    case SVMGPU_OP_BAR:
        w->at_barrier = true;
        break;
    case SVMGPU_OP_JMP:
        if (w->exec) {
            next = w->pc + (uint64_t)((int64_t)imm * SVMGPU_ISA_INSN_SIZE);
        }
        break;
    case SVMGPU_OP_IF:
    case SVMGPU_OP_BREAK:
        if (ra >= SVMGPU_ISA_NUM_REGS) {
            return illegal(q, w);
        }
        cond = 0;
        FOR_ACTIVE(i) {
            if (LANE_REGS(i)[ra]) {
                cond |= 1u << i;
            }
        }
        if (op == SVMGPU_OP_IF) {
            if (w->sp >= SVMGPU_ISA_MAX_NEST) {
                return illegal(q, w);
            }
            top = &w->stack[w->sp++];
            top->kind = STACK_IF;
            top->saved = w->exec;
            top->else_mask = w->exec & ~cond;
            top->loop_pc = 0;
            w->exec = cond;
        } else {
            unsigned k = w->sp;

            while (k && w->stack[k - 1].kind != STACK_LOOP) {
                k--;
            }
            if (!k) {
                return illegal(q, w);
            }
            for (; k < w->sp; k++) {
                w->stack[k].saved &= ~cond;
                w->stack[k].else_mask &= ~cond;
            }
            w->exec &= ~cond;
        }
        break;
    case SVMGPU_OP_ELSE:
        if (!top || top->kind != STACK_IF) {
            return illegal(q, w);
        }
        w->exec = top->else_mask & w->alive;
        top->else_mask = 0;
        break;
    case SVMGPU_OP_ENDIF:
        if (!top || top->kind != STACK_IF) {
            return illegal(q, w);
        }
        w->exec = top->saved & w->alive;
        w->sp--;
        break;
    case SVMGPU_OP_LOOP:
        if (w->sp >= SVMGPU_ISA_MAX_NEST) {
            return illegal(q, w);
        }
        top = &w->stack[w->sp++];
        top->kind = STACK_LOOP;
        top->saved = w->exec;
        top->else_mask = 0;
        top->loop_pc = next;
        break;
    case SVMGPU_OP_ENDLOOP:
        if (!top || top->kind != STACK_LOOP) {
            return illegal(q, w);
        }
        if (w->exec) {
            next = top->loop_pc;
        } else {
            w->exec = top->saved & w->alive;
            w->sp--;
        }
        break;
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
        res = exec_mem(core, q, l, w, wave, insn);
        if (res != INSN_OK) {
            return res;
        }
        break;
    default:
        if (op != SVMGPU_OP_MOV && !is_int_op(op) && !is_f32_op(op) &&
            !is_f64_op(op)) {
            return illegal(q, w);
        }
        if (rd >= SVMGPU_ISA_NUM_REGS || ra >= SVMGPU_ISA_NUM_REGS ||
            (rb >= SVMGPU_ISA_NUM_REGS && rb != SVMGPU_ISA_RB_IMM)) {
            return illegal(q, w);
        }
        FOR_ACTIVE(i) {
            uint64_t *r = LANE_REGS(i);
            uint64_t b = rb == SVMGPU_ISA_RB_IMM ? (uint64_t)(int64_t)imm :
                         r[rb];

            if (op == SVMGPU_OP_MOV) {
                r[rd] = b;
            } else if (is_int_op(op)) {
                r[rd] = int_op(op, r[ra], b);
            } else if (is_f32_op(op)) {
                r[rd] = f32_op(op, r[ra], b);
            } else {
                r[rd] = f64_op(op, r[ra], b);
            }
        }
        break;
    }
#undef LANE_REGS
#undef FOR_ACTIVE
    w->pc = next;
    return INSN_OK;
}

static void start_workgroup(SvmgpuLaunch *l, const struct svmgpu_cmd_launch *c)
{
    unsigned wv;

    memset(l->regs, 0, sizeof(l->regs[0]) * c->wg_size);
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

SvmgpuStep svmgpu_launch_step(SvmgpuCore *core, SvmgpuQueue *q)
{
    SvmgpuQueueExec *x = &q->x;
    const struct svmgpu_cmd_launch *c = &x->cmd.launch;
    SvmgpuLaunch *l = x->launch;
    SvmgpuStep ret = SVMGPU_STEP_MORE;
    unsigned slice = 0, k;
    uint64_t total;

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

    while (slice < SVMGPU_ISA_SLICE) {
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
        r = exec_insn(core, q, l, w, wv);
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
    pthread_mutex_lock(&core->lock);
    core->cnt_instructions += slice;
    pthread_mutex_unlock(&core->lock);
    return ret;
}
