/*
 * svmgpu compute engine: pieces shared by the reference interpreter
 * (isa.c) and the fast engine (isa-fast.c): the step's translation copies
 * and memory accesses (IsaMem), and the scalar ALU operations.  See isa.c
 * for how IsaMem works.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SVMGPU_ISA_COMMON_H
#define SVMGPU_ISA_COMMON_H

#include <math.h>
#include <string.h>

#include "internal.h"

typedef enum { INSN_OK, INSN_FAULT, INSN_ERROR } InsnResult;

/* ---- a wave's control state and the structured control instructions ---- */

enum { ISA_STACK_IF = 1, ISA_STACK_LOOP = 2 };

typedef struct IsaStackEntry {
    uint8_t kind;           /* ISA_STACK_* */
    uint32_t saved;         /* mask to restore at ENDIF/ENDLOOP */
    uint32_t else_mask;     /* IF: lanes for the ELSE branch */
    uint64_t loop_pc;       /* LOOP: first instruction of the body */
} IsaStackEntry;

typedef struct IsaWave {
    uint64_t pc;
    uint32_t exec, alive;
    uint32_t done;          /* lanes that completed a faulted instruction */
    unsigned sp;
    bool at_barrier, finished;
    IsaStackEntry stack[SVMGPU_ISA_MAX_NEST];
} IsaWave;

/*
 * Control instruction op (NOP .. ENDLOOP) for wave w, and w->pc set to
 * the next instruction.  cond: for IF and BREAK, the active lanes whose
 * r[ra] is non-zero (the caller checked ra).  False: illegal (stack
 * over/underflow, no matching IF/LOOP), with the wave unchanged.
 */
static inline bool isa_control(IsaWave *w, uint8_t op, int32_t imm,
                               uint32_t cond)
{
    uint64_t next = w->pc + SVMGPU_ISA_INSN_SIZE;
    IsaStackEntry *top = w->sp ? &w->stack[w->sp - 1] : NULL;
    unsigned k;

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
        if (w->sp >= SVMGPU_ISA_MAX_NEST) {
            return false;
        }
        top = &w->stack[w->sp++];
        top->kind = ISA_STACK_IF;
        top->saved = w->exec;
        top->else_mask = w->exec & ~cond;
        top->loop_pc = 0;
        w->exec = cond;
        break;
    case SVMGPU_OP_BREAK:
        for (k = w->sp; k && w->stack[k - 1].kind != ISA_STACK_LOOP; k--) {
        }
        if (!k) {
            return false;
        }
        for (; k < w->sp; k++) {
            w->stack[k].saved &= ~cond;
            w->stack[k].else_mask &= ~cond;
        }
        w->exec &= ~cond;
        break;
    case SVMGPU_OP_ELSE:
        if (!top || top->kind != ISA_STACK_IF) {
            return false;
        }
        w->exec = top->else_mask & w->alive;
        top->else_mask = 0;
        break;
    case SVMGPU_OP_ENDIF:
        if (!top || top->kind != ISA_STACK_IF) {
            return false;
        }
        w->exec = top->saved & w->alive;
        w->sp--;
        break;
    case SVMGPU_OP_LOOP:
        if (w->sp >= SVMGPU_ISA_MAX_NEST) {
            return false;
        }
        top = &w->stack[w->sp++];
        top->kind = ISA_STACK_LOOP;
        top->saved = w->exec;
        top->else_mask = 0;
        top->loop_pc = next;
        break;
    default:        /* ENDLOOP */
        if (!top || top->kind != ISA_STACK_LOOP) {
            return false;
        }
        if (w->exec) {
            next = top->loop_pc;
        } else {
            w->exec = top->saved & w->alive;
            w->sp--;
        }
        break;
    }
    w->pc = next;
    return true;
}

static inline InsnResult acc_result(SvmgpuAccessResult r)
{
    return r == SVMGPU_ACC_OK ? INSN_OK :
           r == SVMGPU_ACC_FAULT ? INSN_FAULT : INSN_ERROR;
}

#define ISA_MEM_ENTRIES 8

/* Translations (4 KiB granules) usable while core->xlate is held. */
typedef struct IsaMemEntry {
    uint64_t vpn;           /* va >> SVMGPU_PAGE_SHIFT */
    uint64_t pa;            /* DMA address of the granule */
    uint8_t *host;          /* NULL: free */
    unsigned win;           /* map cache window */
    uint32_t win_id;        /* ... while it has this id */
    bool writable;
} IsaMemEntry;

typedef struct IsaMem {
    SvmgpuMapCache *mc;
    bool held;
    unsigned next;
    unsigned last[2];       /* entry used last: [0] data, [1] fetch */
    uint32_t ids;           /* mc->ids when the entries were checked */
    uint32_t gen;           /* core->map_gen when they were last kept */
    uint64_t hits;          /* entry hits, counted as TLB hits */
    IsaMemEntry e[ISA_MEM_ENTRIES];
} IsaMem;

static inline void isa_mem_drop(SvmgpuCore *core, IsaMem *m)
{
    unsigned i;

    if (!m->held) {
        return;
    }
    for (i = 0; i < ISA_MEM_ENTRIES; i++) {
        m->e[i].host = NULL;
    }
    svmgpu_tlb_count_hits(&core->tlb, m->hits);
    m->hits = 0;
    pthread_rwlock_unlock(&core->xlate);
    m->held = false;
}

/* Take the hold on core->xlate, if not held: entries may be made. */
static inline void isa_mem_hold(SvmgpuCore *core, IsaMem *m)
{
    if (!m->held) {
        pthread_rwlock_rdlock(&core->xlate);
        m->held = true;
        m->gen = __atomic_load_n(&core->map_gen, __ATOMIC_ACQUIRE);
    }
}

/*
 * DMA addresses were unmapped (the vIOMMU's notifier, bus mastering off)
 * or a TLB invalidation completed since the entries were made
 * (core->map_gen moved): forget every entry, keeping the hold, so that the
 * next access translates and maps again (svmgpu_map_get() then replaces
 * the old window) and reaches the page the address names now.  Called
 * before each wave-instruction (the fast engine: or gang): what a kernel
 * resolved before an unmap serves at most the instruction under way
 * (docs/hw-spec.md §1).
 * Returns true if the entries were forgotten.
 */
static inline bool isa_mem_check_gen(SvmgpuCore *core, IsaMem *m)
{
    uint32_t gen = __atomic_load_n(&core->map_gen, __ATOMIC_ACQUIRE);
    unsigned i;

    if (__builtin_expect(gen == m->gen, 1)) {
        return false;
    }
    for (i = 0; i < ISA_MEM_ENTRIES; i++) {
        m->e[i].host = NULL;
    }
    m->gen = gen;
    return true;
}

/*
 * Every svmgpu_map_get() may replace (unmap) a window, and every new
 * window takes the next mc->ids: the entries' host pointers are checked
 * against their windows' ids whenever mc->ids moved since the last check,
 * by every lookup below, so no caller of svmgpu_map_get() has anything to
 * do and none can use a pointer into a released window.
 */
static inline void isa_mem_forget_replaced(IsaMem *m)
{
    unsigned i;

    for (i = 0; i < ISA_MEM_ENTRIES; i++) {
        if (m->e[i].host && m->mc->w[m->e[i].win].id != m->e[i].win_id) {
            m->e[i].host = NULL;
        }
    }
    m->ids = m->mc->ids;
}

static inline void isa_mem_check_windows(IsaMem *m)
{
    if (__builtin_expect(m->ids != m->mc->ids, 0)) {
        isa_mem_forget_replaced(m);
    }
}

/*
 * Host pointer for an access of len bytes at va (naturally aligned, so
 * within one 4 KiB granule), or NULL with *res set: FAULT/ERROR, or OK with
 * *pa set when the memory cannot be mapped (use dma_read/dma_write).
 */
static inline uint8_t *isa_mem_get(SvmgpuCore *core, SvmgpuQueue *q, IsaMem *m,
                            uint64_t va, unsigned access, bool need_write,
                            unsigned *last, unsigned *win, uint64_t *pa,
                            SvmgpuAccessResult *res)
{
    uint64_t vpn = va >> SVMGPU_PAGE_SHIFT, off = va & (SVMGPU_PAGE_SIZE - 1);
    uint64_t len;
    IsaMemEntry *e;
    SvmgpuXlate t;
    SvmgpuXlateStatus st;
    uint8_t *host;
    unsigned i, slot;

    isa_mem_hold(core, m);
    /* m->e[*last] was checked by isa_mem_fast() */
    isa_mem_check_windows(m);
    for (i = 0, e = NULL; i < ISA_MEM_ENTRIES; i++) {
        if (m->e[i].host && m->e[i].vpn == vpn) {
            e = &m->e[i];
            *last = i;
            break;
        }
    }
    if (e && (!need_write || e->writable)) {
        m->hits++;
        *win = e->win;
        return e->host + off;
    }

    st = svmgpu_mmu_translate(core, q->step_ctx, va, access, &t);
    if (st != SVMGPU_XLATE_OK) {
        *res = svmgpu_xlate_failed(q, st, &t, va, access);
        return NULL;
    }
    *res = SVMGPU_ACC_OK;
    *pa = t.pa;
    len = SVMGPU_PAGE_SIZE;
    host = svmgpu_map_get(core, m->mc, t.pa - off, &len, t.writable, win);
    if (!host && t.writable && !need_write) {
        len = SVMGPU_PAGE_SIZE;
        host = svmgpu_map_get(core, m->mc, t.pa - off, &len, false, win);
        t.writable = false;
    }
    if (!host || len < SVMGPU_PAGE_SIZE ||
        (need_write && !t.writable)) {
        return NULL;
    }
    slot = m->next;
    for (i = 0; i < ISA_MEM_ENTRIES; i++) {
        if (m->e[i].host && m->e[i].vpn == vpn) {
            slot = i;           /* replace a read-only copy */
            break;
        }
    }
    if (slot == m->next) {
        m->next = (m->next + 1) % ISA_MEM_ENTRIES;
    }
    e = &m->e[slot];
    e->vpn = vpn;
    e->pa = t.pa - off;
    e->host = host;
    e->win = *win;
    e->win_id = m->mc->w[*win].id;
    e->writable = t.writable;
    *last = slot;
    return host + off;
}

/*
 * A copy for va's page usable for need_write, looked up among all entries
 * without translating (NULL if there is none): counted as one TLB hit.
 */
static inline uint8_t *isa_mem_lookup(IsaMem *m, uint64_t va, bool need_write,
                                      unsigned *last, unsigned *win)
{
    const uint64_t vpn = va >> SVMGPU_PAGE_SHIFT;
    unsigned i;

    isa_mem_check_windows(m);
    for (i = 0; i < ISA_MEM_ENTRIES; i++) {
        const IsaMemEntry *e = &m->e[i];

        if (e->host && e->vpn == vpn && (!need_write || e->writable)) {
            m->hits++;
            *last = i;
            *win = e->win;
            return e->host + (va & (SVMGPU_PAGE_SIZE - 1));
        }
    }
    return NULL;
}

/* The common case: the page used last, with the lock held. */
static inline uint8_t *isa_mem_fast(IsaMem *m, uint64_t va, bool need_write,
                                    unsigned last, unsigned *win)
{
    const IsaMemEntry *e = &m->e[last];

    isa_mem_check_windows(m);
    if (e->host && e->vpn == va >> SVMGPU_PAGE_SHIFT &&
        (!need_write || e->writable)) {
        m->hits++;
        *win = e->win;
        return e->host + (va & (SVMGPU_PAGE_SIZE - 1));
    }
    return NULL;
}

/*
 * hw-spec §5a byte counters: lanes' data accesses of @bytes in all, local
 * or system memory; an atomic counts as read and written.
 */
static inline void isa_count(IsaMem *m, bool local, unsigned access,
                             uint64_t bytes)
{
    if (access != SVMGPU_ACCESS_WRITE) {
        svmgpu_map_count(m->mc, local, false, bytes);
    }
    if (access != SVMGPU_ACCESS_READ) {
        svmgpu_map_count(m->mc, local, true, bytes);
    }
}

/* len is 1, 2, 4 or 8: let the compiler emit one move */
static inline void copy_small(void *d, const void *s, unsigned len)
{
    switch (len) {
    case 1:
        memcpy(d, s, 1);
        break;
    case 2:
        memcpy(d, s, 2);
        break;
    case 4:
        memcpy(d, s, 4);
        break;
    default:
        memcpy(d, s, 8);
        break;
    }
}

/* Load or store of len (1/2/4/8, aligned) bytes at va; fetch: code. */
static inline SvmgpuAccessResult isa_access(SvmgpuCore *core,
                                            SvmgpuQueue *q, IsaMem *m,
                                            uint64_t va, void *buf,
                                            unsigned len, unsigned access,
                                            bool fetch)
{
    bool wr = access != SVMGPU_ACCESS_READ;
    SvmgpuAccessResult res = SVMGPU_ACC_OK;
    uint64_t pa = 0;
    unsigned win = 0;
    uint8_t *p;
    int rc;

    p = isa_mem_fast(m, va, wr, m->last[fetch], &win);
    if (!p) {
        p = isa_mem_get(core, q, m, va, access, wr, &m->last[fetch], &win,
                        &pa, &res);
    }
    if (wr && svmgpu_q_stale(q)) {
        svmgpu_set_error(&q->x, SVMGPU_ERR_DMA, va, access, 0);
        return SVMGPU_ACC_ERROR;
    }
    if (p) {
        if (wr) {
            copy_small(p, buf, len);
            svmgpu_map_dirty(m->mc, win, p, len);
        } else {
            copy_small(buf, p, len);
        }
        if (!fetch) {
            svmgpu_map_count_win(m->mc, win, wr, len);
        }
        return SVMGPU_ACC_OK;
    }
    if (res != SVMGPU_ACC_OK) {
        return res;
    }
    rc = wr ? svmgpu_mem_write(core, pa, buf, len) :
              svmgpu_mem_read(core, pa, buf, len);
    if (rc) {
        svmgpu_set_error(&q->x, SVMGPU_ERR_DMA, va, access, 0);
        return SVMGPU_ACC_ERROR;
    }
    if (!fetch) {
        svmgpu_map_count(m->mc, svmgpu_pa_local(pa), wr, len);
    }
    return SVMGPU_ACC_OK;
}

static inline SvmgpuAccessResult isa_atomic(SvmgpuCore *core, SvmgpuQueue *q,
                                     IsaMem *m, uint64_t va, unsigned size,
                                     unsigned op, uint64_t operand,
                                     uint64_t compare, uint64_t *old)
{
    SvmgpuAccessResult res = SVMGPU_ACC_OK;
    uint64_t pa = 0, cur = 0, nv;
    unsigned win = 0;
    uint8_t *p;
    int rc = 0;

    p = isa_mem_fast(m, va, true, m->last[0], &win);
    if (!p) {
        p = isa_mem_get(core, q, m, va, SVMGPU_ACCESS_ATOMIC, true,
                        &m->last[0], &win, &pa, &res);
    }
    if (!p && res != SVMGPU_ACC_OK) {
        return res;
    }
    pthread_mutex_lock(&core->atomic_lock);
    if (svmgpu_q_stale(q)) {
        rc = -1;
    } else if (p) {
        /* also atomic against the CPUs sharing the page */
        cur = svmgpu_atomic_host(p, size, op, operand, compare);
        svmgpu_map_dirty(m->mc, win, p, size);
    } else {
        rc = svmgpu_mem_read(core, pa, &cur, size);
        if (!rc) {
            nv = svmgpu_atomic_compute(op, size, cur, operand, compare);
            rc = svmgpu_mem_write(core, pa, &nv, size);
        }
    }
    pthread_mutex_unlock(&core->atomic_lock);
    if (rc) {
        svmgpu_set_error(&q->x, SVMGPU_ERR_DMA, va, SVMGPU_ACCESS_ATOMIC, 0);
        return SVMGPU_ACC_ERROR;
    }
    svmgpu_map_count(m->mc, p ? m->mc->w[win].local : svmgpu_pa_local(pa),
                     false, size);
    svmgpu_map_count(m->mc, p ? m->mc->w[win].local : svmgpu_pa_local(pa),
                     true, size);
    *old = cur;
    return SVMGPU_ACC_OK;
}

static inline uint32_t f2u(float f)
{
    uint32_t u;

    memcpy(&u, &f, 4);
    return u;
}

static inline float u2f(uint64_t v)
{
    uint32_t u = (uint32_t)v;
    float f;

    memcpy(&f, &u, 4);
    return f;
}

static inline uint64_t d2u(double d)
{
    uint64_t u;

    memcpy(&u, &d, 8);
    return u;
}

static inline double u2d(uint64_t u)
{
    double d;

    memcpy(&d, &u, 8);
    return d;
}

static inline int64_t sat_i64(double d)
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

static inline uint64_t int_op(uint8_t op, uint64_t a, uint64_t b)
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

/*
 * FMIN/FMAX/DMIN/DMAX of two zeros: -0 is the smaller (docs/isa.md).  C's
 * fmin/fmax may return either zero, and GCC takes them as commutative, so
 * which one came out depended on the operand order the compiler chose
 * (the fast engine's loop with a uniform operand swapped them).
 */
#define ISA_MINMAX(name, type, cfn, min) \
    static inline type name(type a, type b) \
    { \
        if (a == 0 && b == 0) { \
            return (min) == !!signbit(a) ? a : b; \
        } \
        return cfn(a, b); \
    }
ISA_MINMAX(isa_fminf, float, fminf, 1)
ISA_MINMAX(isa_fmaxf, float, fmaxf, 0)
ISA_MINMAX(isa_fmin, double, fmin, 1)
ISA_MINMAX(isa_fmax, double, fmax, 0)

static inline uint64_t f32_op(uint8_t op, uint64_t a, uint64_t b)
{
    float fa = u2f(a), fb = u2f(b);

    switch (op) {
    case SVMGPU_OP_FADD: return f2u(fa + fb);
    case SVMGPU_OP_FSUB: return f2u(fa - fb);
    case SVMGPU_OP_FMUL: return f2u(fa * fb);
    case SVMGPU_OP_FDIV: return f2u(fa / fb);
    case SVMGPU_OP_FMIN: return f2u(isa_fminf(fa, fb));
    case SVMGPU_OP_FMAX: return f2u(isa_fmaxf(fa, fb));
    case SVMGPU_OP_FSLT: return fa < fb;
    case SVMGPU_OP_FSEQ: return fa == fb;
    case SVMGPU_OP_FSLE: return fa <= fb;
    case SVMGPU_OP_FSQRT: return f2u(sqrtf(fa));
    case SVMGPU_OP_I2F: return f2u((float)(int64_t)a);
    case SVMGPU_OP_F2I: return (uint64_t)sat_i64(fa);
    }
    return 0;
}

static inline uint64_t f64_op(uint8_t op, uint64_t a, uint64_t b)
{
    double da = u2d(a), db = u2d(b);

    switch (op) {
    case SVMGPU_OP_DADD: return d2u(da + db);
    case SVMGPU_OP_DSUB: return d2u(da - db);
    case SVMGPU_OP_DMUL: return d2u(da * db);
    case SVMGPU_OP_DDIV: return d2u(da / db);
    case SVMGPU_OP_DMIN: return d2u(isa_fmin(da, db));
    case SVMGPU_OP_DMAX: return d2u(isa_fmax(da, db));
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

/*
 * FFMA, DFMA: rd = ra * b + rd with one rounding (C's fmaf/fma).  Which NaN
 * comes out is defined here, not left to the host's instruction (x86's
 * depends on which of its three operand orders the compiler picked): the
 * first NaN of ra, B, rd, quieted; a NaN made from numbers (inf * 0,
 * inf - inf) is the default NaN, 0xffc00000 or 0xfff8000000000000.
 */
static inline uint64_t fma_op(uint8_t op, uint64_t a, uint64_t b, uint64_t c)
{
    const uint64_t x[3] = { a, b, c };
    uint64_t r;
    unsigned i;

    if (op == SVMGPU_OP_FFMA) {
        for (i = 0; i < 3; i++) {
            if ((x[i] & 0x7fffffffull) > 0x7f800000ull) {
                return (x[i] & 0xffffffffull) | 0x00400000ull;
            }
        }
        r = f2u(fmaf(u2f(a), u2f(b), u2f(c)));
        return (r & 0x7fffffffull) > 0x7f800000ull ? 0xffc00000ull : r;
    }
    for (i = 0; i < 3; i++) {
        if ((x[i] & ~(1ull << 63)) > 0x7ff0000000000000ull) {
            return x[i] | 0x0008000000000000ull;
        }
    }
    r = d2u(fma(u2d(a), u2d(b), u2d(c)));
    return (r & ~(1ull << 63)) > 0x7ff0000000000000ull ?
           0xfff8000000000000ull : r;
}

static inline bool is_fma_op(uint8_t op)
{
    return op == SVMGPU_OP_FFMA || op == SVMGPU_OP_DFMA;
}

static inline bool is_int_op(uint8_t op)
{
    return op >= SVMGPU_OP_ADD && op <= SVMGPU_OP_SLES;
}

static inline bool is_f32_op(uint8_t op)
{
    return op >= SVMGPU_OP_FADD && op <= SVMGPU_OP_F2I;
}

static inline bool is_f64_op(uint8_t op)
{
    return op >= SVMGPU_OP_DADD && op <= SVMGPU_OP_D2F;
}

/* Loads, stores and atomics: the instructions a wave's `done` lanes skip. */
static inline bool is_mem_op(uint8_t op)
{
    return (op >= SVMGPU_OP_LD8 && op <= SVMGPU_OP_LDS32) ||
           (op >= SVMGPU_OP_ST8 && op <= SVMGPU_OP_ST64) ||
           op == SVMGPU_OP_ATOM32 || op == SVMGPU_OP_ATOM64;
}

#endif /* SVMGPU_ISA_COMMON_H */
