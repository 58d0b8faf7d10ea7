/*
 * svmgpu compute engine, fast version: a decoded, lane-vectorised
 * interpreter with exactly the semantics of the reference (isa.c) —
 * same instruction order, faults, budget, errors and memory effects.
 * Design and the few places where it is allowed to differ (TLB hit/miss
 * split, when code written by another agent is seen): docs/compute-engine.md.
 *
 *  - Code pages are fetched once per xlate hold (translated, copied and
 *    compared with the copy decoded last), and decoded into FOps, a
 *    compact array with registers checked and operands prepared; an
 *    illegal word decodes to FOP_ILLEGAL, which fails when executed, as
 *    the reference does.  A page is re-checked after every drop of the
 *    xlate hold (invalidation, step end) and after a store by the kernel
 *    into its physical page.
 *  - Registers are structure-of-arrays (regs[r][lane]), so an operation is
 *    a plain loop over 32 lanes that the compiler vectorises, with the
 *    execution mask applied by a blend.
 *  - When every wave of the workgroup is at the same pc and the
 *    round-robin is at wave 0, the waves' instructions — which the
 *    reference runs back to back in wave order — run as one gang: one
 *    fetch and one dispatch for up to 256 lanes.
 *  - Memory instructions go page by page: the lanes (in lane order) whose
 *    addresses fall into the page of the first remaining lane share one
 *    translation; a full wave reading or writing 32 contiguous elements or
 *    one address is one vector copy; lanes of an atomic that hit the same
 *    word are one compare-and-swap of their combined effect.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stddef.h>
#include <stdlib.h>

/* The lane loops are written to vectorise: let GCC do it at -O2 too. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

#include "isa-common.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* the lane loops use AVX-512, or AVX2 and FMA, when the host has them */
#define F_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define F_CLONES
#endif

 /* the executors are compiled into each clone of f_exec */
#define F_INLINE __attribute__((always_inline)) inline

#define F_WAVES         (SVMGPU_ISA_MAX_WG_SIZE / SVMGPU_ISA_WAVE_SIZE)
#define F_LANES         SVMGPU_ISA_MAX_WG_SIZE
#define F_CODE_PAGES    4
#define F_PAGE_INSNS    (SVMGPU_PAGE_SIZE / SVMGPU_ISA_INSN_SIZE)
#define F_FULL          0xffffffffu
#define FOP_ILLEGAL     0xfe
#define PAGE_MASK_LO    (SVMGPU_PAGE_SIZE - 1)

typedef struct FOp {
    uint8_t op;             /* SVMGPU_OP_*, or FOP_ILLEGAL */
    uint8_t rd, ra, rb, rc; /* rb: SVMGPU_ISA_RB_IMM for the immediate */
    uint8_t aop;            /* atomic op */
    uint8_t size;           /* memory access bytes */
    uint8_t access;         /* SVMGPU_ACCESS_* of a memory op */
    int32_t imm;
    uint32_t zread;         /* registers read (or partly written) */
    uint32_t zwrite;        /* rd, if written in every active lane */
    uint64_t bimm;          /* sext(imm); address offset for memory */
} FOp;

typedef struct FCodePage {
    uint64_t vpn;
    uint64_t pa;            /* page's DMA address when checked */
    bool decoded;
    bool ok;                /* translated and checked in this hold */
    uint64_t raw[F_PAGE_INSNS];
    FOp op[F_PAGE_INSNS];
} FCodePage;

typedef IsaWave FWave;          /* the control state: isa-common.h */

struct SvmgpuFastLaunch {
    uint64_t wg, wg_total;
    uint64_t budget, executed;
    bool wg_running;
    unsigned nwaves, cur;
    uint32_t written;       /* registers a decoded instruction may write */
    uint32_t zpend[F_WAVES];    /* registers still to clear, per wave */
    uint32_t zpend_any;         /* ... in some wave */
    FWave waves[F_WAVES];
    unsigned code_last, code_next;
    bool code_hit;          /* a store hit a decoded code page */
    FCodePage code[F_CODE_PAGES];
    FOp single;             /* an instruction of a page read word by word */
    uint64_t page_buf[F_PAGE_INSNS];
    /*
     * Affine registers (docs/compute-engine.md): for r in aff, lane j of
     * the workgroup (0 .. 32 * nwaves - 1) holds abase[r] + j * astride[r]
     * (astride 0: a uniform value).  For r also in stale, regs[r] is not
     * written and f_mat() writes it.  Only a whole gang with every lane
     * active makes one; any other write of r drops it (f_unaff()).
     * stale is empty whenever svmgpu_fast_step() is not running, so
     * regs[][] is then the architectural state.  Never in zpend.
     */
    uint32_t aff, stale;
    uint64_t abase[SVMGPU_ISA_NUM_REGS], astride[SVMGPU_ISA_NUM_REGS];
    uint64_t regs[SVMGPU_ISA_NUM_REGS][F_LANES] __attribute__((aligned(64)));
};

#define RBIT(r)     (1u << (r))

/* Write the rows of the stale registers among @regs. */
static void f_mat(SvmgpuFastLaunch *l, uint32_t regs)
{
    const unsigned n = l->nwaves * SVMGPU_ISA_WAVE_SIZE;

    regs &= l->stale;
    l->stale &= ~regs;
    while (regs) {
        const unsigned r = __builtin_ctz(regs);
        const uint64_t base = l->abase[r], step = l->astride[r];
        uint64_t *d = l->regs[r];
        unsigned j;

        if (!step) {
            for (j = 0; j < n; j++) {
                d[j] = base;
            }
        } else {
            uint64_t v = base;

            for (j = 0; j < n; j++, v += step) {
                d[j] = v;
            }
        }
        regs &= regs - 1;
    }
}

/* @regs are about to be written in some lanes: rows, and not affine. */
static inline void f_unaff(SvmgpuFastLaunch *l, uint32_t regs)
{
    if (l->aff & regs) {
        f_mat(l, regs);
        l->aff &= ~regs;
    }
}

/* rd becomes base + lane * step in every lane of the workgroup. */
static inline void f_set_aff(SvmgpuFastLaunch *l, unsigned rd, uint64_t base,
                             uint64_t step)
{
    l->aff |= RBIT(rd);
    l->stale |= RBIT(rd);
    l->abase[rd] = base;
    l->astride[rd] = step;
}

/*
 * The launch state is ~170 KiB: allocated afresh per LAUNCH it is an
 * mmap(), ~40 page faults and a munmap() each time (hundreds of µs when
 * the host is itself virtualised).  The last one freed is kept for the
 * next launch, by any queue or core of the process.
 */
static SvmgpuFastLaunch *f_spare;

static SvmgpuFastLaunch *f_launch_alloc(void)
{
    SvmgpuFastLaunch *l = __atomic_exchange_n(&f_spare, NULL,
                                              __ATOMIC_ACQUIRE);

    if (!l && posix_memalign((void **)&l, 64, sizeof(*l))) {
        return NULL;
    }
    memset(l, 0, sizeof(*l));
    return l;
}

void svmgpu_fast_free(SvmgpuFastLaunch *l)
{
    if (l) {
        free(__atomic_exchange_n(&f_spare, l, __ATOMIC_ACQ_REL));
    }
}

/* ---- decoding ---- */

static FOp decode(uint64_t insn)
{
    FOp o;
    uint8_t op = SVMGPU_ISA_OP(insn);
    bool ok;

    memset(&o, 0, sizeof(o));
    o.op = op;
    o.rd = SVMGPU_ISA_RD(insn);
    o.ra = SVMGPU_ISA_RA(insn);
    o.rb = SVMGPU_ISA_RB(insn);
    o.imm = SVMGPU_ISA_IMM(insn);
    o.bimm = (uint64_t)(int64_t)o.imm;
    o.rc = SVMGPU_ISA_IMM_RC(o.imm);

#define R_OK(r) ((r) < SVMGPU_ISA_NUM_REGS)
    switch (op) {
    case SVMGPU_OP_NOP:
    case SVMGPU_OP_EXIT:
    case SVMGPU_OP_BAR:
    case SVMGPU_OP_JMP:
    case SVMGPU_OP_ELSE:
    case SVMGPU_OP_ENDIF:
    case SVMGPU_OP_LOOP:
    case SVMGPU_OP_ENDLOOP:
        ok = true;
        break;
    case SVMGPU_OP_IF:
    case SVMGPU_OP_BREAK:
        ok = R_OK(o.ra);
        break;
    case SVMGPU_OP_MOVI:
    case SVMGPU_OP_MOVHI:
        ok = R_OK(o.rd);
        break;
    case SVMGPU_OP_S2R:
        ok = R_OK(o.rd) && (uint32_t)o.imm < SVMGPU_SR_NUM;
        break;
    case SVMGPU_OP_SEL:
        ok = R_OK(o.rd) && R_OK(o.ra) && R_OK(o.rb) && R_OK(o.rc);
        break;
    case SVMGPU_OP_LD8 ... SVMGPU_OP_LDS32:
        o.size = 1u << ((op - SVMGPU_OP_LD8) & 3);
        o.access = SVMGPU_ACCESS_READ;
        ok = R_OK(o.rd) && R_OK(o.ra);
        break;
    case SVMGPU_OP_ST8 ... SVMGPU_OP_ST64:
        o.size = 1u << (op - SVMGPU_OP_ST8);
        o.access = SVMGPU_ACCESS_WRITE;
        ok = R_OK(o.rb) && R_OK(o.ra);
        break;
    case SVMGPU_OP_ATOM32:
    case SVMGPU_OP_ATOM64:
        o.size = op == SVMGPU_OP_ATOM32 ? 4 : 8;
        o.access = SVMGPU_ACCESS_ATOMIC;
        o.aop = SVMGPU_ISA_IMM_ATOMIC_OP(o.imm);
        o.bimm = 0;             /* atomics have no offset */
        ok = o.aop < SVMGPU_ATOMIC_NUM_OPS && R_OK(o.rc) && R_OK(o.rb) &&
             R_OK(o.rd) && R_OK(o.ra);
        break;
    default:
        ok = (op == SVMGPU_OP_MOV || is_int_op(op) || is_f32_op(op) ||
              is_f64_op(op) || is_fma_op(op)) && R_OK(o.rd) && R_OK(o.ra) &&
             (R_OK(o.rb) || o.rb == SVMGPU_ISA_RB_IMM);
        break;
    }
#undef R_OK
    if (!ok) {
        o.op = FOP_ILLEGAL;
        return o;
    }
#define RB(r) (1u << (r))
    switch (op) {
    case SVMGPU_OP_IF:
    case SVMGPU_OP_BREAK:
        o.zread = RB(o.ra);
        break;
    case SVMGPU_OP_MOVI:
    case SVMGPU_OP_S2R:
        o.zwrite = RB(o.rd);
        break;
    case SVMGPU_OP_MOVHI:
        o.zread = RB(o.rd);
        break;
    case SVMGPU_OP_SEL:
        o.zread = RB(o.ra) | RB(o.rb) | RB(o.rc);
        o.zwrite = RB(o.rd);
        break;
    /*
     * A load or atomic may not complete in a wave (a fault), and the CPU
     * may rewrite it while the wave is stalled: f_exec() clears its rd
     * just before each wave runs it and zeroes the lanes a fault left
     * unwritten, so whatever runs at that pc next reads 0 there.
     */
    case SVMGPU_OP_LD8 ... SVMGPU_OP_LDS32:
        o.zread = RB(o.ra);
        o.zwrite = RB(o.rd);
        break;
    case SVMGPU_OP_ST8 ... SVMGPU_OP_ST64:
        o.zread = RB(o.ra) | RB(o.rb);
        break;
    case SVMGPU_OP_ATOM32:
    case SVMGPU_OP_ATOM64:
        o.zread = RB(o.ra) | RB(o.rb) | RB(o.rc);
        o.zwrite = RB(o.rd);
        break;
    case SVMGPU_OP_NOP:
    case SVMGPU_OP_EXIT:
    case SVMGPU_OP_BAR:
    case SVMGPU_OP_JMP:
    case SVMGPU_OP_ELSE:
    case SVMGPU_OP_ENDIF:
    case SVMGPU_OP_LOOP:
    case SVMGPU_OP_ENDLOOP:
        break;
    case SVMGPU_OP_FFMA:
    case SVMGPU_OP_DFMA:
        /* the addend is rd's old value */
        o.zread = RB(o.ra) | RB(o.rd) |
                  (o.rb == SVMGPU_ISA_RB_IMM ? 0 : RB(o.rb));
        o.zwrite = RB(o.rd);
        break;
    default:
        o.zread = RB(o.ra) |
                  (o.rb == SVMGPU_ISA_RB_IMM ? 0 : RB(o.rb));
        o.zwrite = RB(o.rd);
        break;
    }
#undef RB
    return o;
}

/*
 * The register an instruction writes (none for control instructions and
 * stores, whose rd field is not a register): zwrite, or MOVHI's rd.
 */
static inline uint32_t f_writes(const FOp *o)
{
    return o->op == SVMGPU_OP_MOVHI ? 1u << o->rd : o->zwrite;
}

static void decode_page(SvmgpuFastLaunch *l, FCodePage *cp)
{
    unsigned i;

    for (i = 0; i < F_PAGE_INSNS; i++) {
        cp->op[i] = decode(cp->raw[i]);
        l->written |= f_writes(&cp->op[i]);
    }
    cp->decoded = true;
}

/*
 * Every code page must be fetched and compared again before its decoded
 * copy is used: after the hold on xlate was dropped, or DMA addresses were
 * unmapped (isa_mem_check_gen()), as the reference fetches through the
 * entries it dropped or forgot.
 */
static void f_code_forget(SvmgpuFastLaunch *l)
{
    unsigned i;

    for (i = 0; i < F_CODE_PAGES; i++) {
        l->code[i].ok = false;
    }
}

/* Drop the hold on xlate: every code page must be checked again. */
static void f_drop(SvmgpuCore *core, SvmgpuFastLaunch *l, IsaMem *m)
{
    isa_mem_drop(core, m);
    f_code_forget(l);
}

/* A store hit the page at pa: code decoded from it must be checked again. */
static inline void f_code_written(SvmgpuFastLaunch *l, uint64_t pa)
{
    unsigned i;

    for (i = 0; i < F_CODE_PAGES; i++) {
        if (l->code[i].pa == pa && l->code[i].ok) {
            l->code[i].ok = false;
            l->code_hit = true;
        }
    }
}

static const FOp *fetch_slow(SvmgpuCore *core, SvmgpuQueue *q,
                             SvmgpuFastLaunch *l, IsaMem *m, uint64_t pc,
                             InsnResult *r)
{
    uint64_t vpn = pc >> SVMGPU_PAGE_SHIFT, page_pa, len;
    SvmgpuXlate t;
    SvmgpuXlateStatus st;
    FCodePage *cp = NULL;
    const void *src;
    unsigned i, win;
    uint8_t *host;

    for (i = 0; i < F_CODE_PAGES; i++) {
        if (l->code[i].ok && l->code[i].vpn == vpn) {
            l->code_last = i;
            m->hits++;
            return &l->code[i].op[(pc >> 3) & (F_PAGE_INSNS - 1)];
        }
    }
    isa_mem_hold(core, m);
    st = svmgpu_mmu_translate(core, q->step_ctx, pc, SVMGPU_ACCESS_READ, &t);
    if (st != SVMGPU_XLATE_OK) {
        *r = acc_result(svmgpu_xlate_failed(q, st, &t, pc,
                                            SVMGPU_ACCESS_READ));
        return NULL;
    }
    page_pa = t.pa - (pc & PAGE_MASK_LO);
    len = SVMGPU_PAGE_SIZE;
    host = svmgpu_map_get(core, m->mc, page_pa, &len, false, &win);
    if (host && len >= SVMGPU_PAGE_SIZE) {
        src = host;
    } else if (!svmgpu_mem_read(core, page_pa, l->page_buf,
                                SVMGPU_PAGE_SIZE)) {
        src = l->page_buf;
    } else {
        /* the page is not all readable: this word only, as the reference */
        uint64_t insn;

        if (svmgpu_mem_read(core, t.pa, &insn, 8)) {
            svmgpu_set_error(&q->x, SVMGPU_ERR_DMA, pc, SVMGPU_ACCESS_READ,
                             0);
            *r = INSN_ERROR;
            return NULL;
        }
        l->single = decode(insn);
        l->written |= f_writes(&l->single);
        return &l->single;
    }
    for (i = 0; i < F_CODE_PAGES; i++) {
        if (l->code[i].decoded && l->code[i].vpn == vpn) {
            cp = &l->code[i];
            break;
        }
    }
    if (!cp) {
        i = l->code_next;
        l->code_next = (l->code_next + 1) % F_CODE_PAGES;
        cp = &l->code[i];
        cp->decoded = false;
    }
    if (!cp->decoded || memcmp(cp->raw, src, SVMGPU_PAGE_SIZE)) {
        memcpy(cp->raw, src, SVMGPU_PAGE_SIZE);
        decode_page(l, cp);
    }
    cp->vpn = vpn;
    cp->pa = page_pa;
    cp->ok = true;
    l->code_last = i;
    return &cp->op[(pc >> 3) & (F_PAGE_INSNS - 1)];
}

/* The instruction at pc, or NULL with *r set (fault or error). */
static inline const FOp *fetch(SvmgpuCore *core, SvmgpuQueue *q,
                               SvmgpuFastLaunch *l, IsaMem *m, uint64_t pc,
                               InsnResult *r)
{
    FCodePage *cp = &l->code[l->code_last];

    if (cp->ok && cp->vpn == pc >> SVMGPU_PAGE_SHIFT) {
        m->hits++;
        return &cp->op[(pc >> 3) & (F_PAGE_INSNS - 1)];
    }
    return fetch_slow(core, q, l, m, pc, r);
}

/* ---- ALU ---- */

/*
 * d = expr over the lanes [base, base + 32 * nw) of waves w0.., blended
 * with each wave's execution mask.  a and b are the lane's operands.
 */
#define ALU_BODY(expr) \
    do { \
        uint64_t t_[F_LANES]; \
        const uint64_t *pa_ = l->regs[o->ra] + base; \
        uint64_t *d_ = l->regs[o->rd] + base; \
        unsigned j_, k_; \
        if (full) { \
            /* every lane: straight into rd (lane j reads lane j only) */ \
            if (o->rb == SVMGPU_ISA_RB_IMM) { \
                const uint64_t b = o->bimm; \
                for (j_ = 0; j_ < nl; j_++) { \
                    const uint64_t a = pa_[j_]; \
                    (void)a; (void)b; \
                    d_[j_] = (expr); \
                } \
            } else { \
                const uint64_t *pb_ = l->regs[o->rb] + base; \
                for (j_ = 0; j_ < nl; j_++) { \
                    const uint64_t a = pa_[j_], b = pb_[j_]; \
                    (void)a; (void)b; \
                    d_[j_] = (expr); \
                } \
            } \
            break; \
        } \
        if (o->rb == SVMGPU_ISA_RB_IMM) { \
            const uint64_t b = o->bimm; \
            for (j_ = 0; j_ < nl; j_++) { \
                const uint64_t a = pa_[j_]; \
                (void)a; (void)b; \
                t_[j_] = (expr); \
            } \
        } else { \
            const uint64_t *pb_ = l->regs[o->rb] + base; \
            for (j_ = 0; j_ < nl; j_++) { \
                const uint64_t a = pa_[j_], b = pb_[j_]; \
                (void)a; (void)b; \
                t_[j_] = (expr); \
            } \
        } \
        for (k_ = 0; k_ < nw; k_++) { \
            uint32_t ex_ = l->waves[w0 + k_].exec; \
            uint64_t *dd_ = d_ + 32 * k_; \
            const uint64_t *tt_ = t_ + 32 * k_; \
            if (ex_ == F_FULL) { \
                memcpy(dd_, tt_, 32 * sizeof(uint64_t)); \
            } else if (ex_) { \
                for (j_ = 0; j_ < 32; j_++) { \
                    dd_[j_] = (ex_ >> j_) & 1 ? tt_[j_] : dd_[j_]; \
                } \
            } \
        } \
    } while (0)

/*
 * The vectorised FADD/FMUL/DADD/DMUL may give their operands to the host
 * in either order, and with two NaN operands x86 returns the first one
 * (FFMA/DFMA: whichever its instruction form puts first): lanes whose
 * result is a NaN are computed again by the scalar code of the reference,
 * so NaN payloads are the reference's too.  c: rd's old value (FMA's
 * addend; the others ignore it).
 */
static __attribute__((noinline)) uint64_t fp_scalar(uint8_t op, uint64_t a,
                                                     uint64_t b, uint64_t c)
{
    if (is_fma_op(op)) {
        return fma_op(op, a, b, c);
    }
    return is_f32_op(op) ? f32_op(op, a, b) : f64_op(op, a, b);
}

#define NAN32(t) (((t) & 0x7fffffffull) > 0x7f800000ull)
#define NAN64(t) (((t) & 0x7fffffffffffffffull) > 0x7ff0000000000000ull)

/* t_[j] = expr of lane j's a and b, any_ set if one is a NaN (ALU_FP) */
#define FP_LANES(aexpr, bexpr, expr, isnan) \
    for (j_ = 0; j_ < nl; j_++) { \
        const uint64_t a = (aexpr), b = (bexpr); \
        const uint64_t v_ = (expr); \
        t_[j_] = v_; \
        any_ |= isnan(v_); \
    }

#define ALU_FP(expr, isnan) \
    do { \
        uint64_t t_[F_LANES], any_ = 0; \
        const uint64_t *pa_ = ua ? NULL : l->regs[o->ra] + base; \
        const uint64_t *pb_ = o->rb == SVMGPU_ISA_RB_IMM ? NULL : \
                              l->regs[o->rb] + base; \
        const uint64_t ua_ = l->abase[o->ra]; \
        uint64_t *d_ = l->regs[o->rd] + base; \
        unsigned j_, k_; \
        /* the NaN test in the same pass: one read of the operands */ \
        if (!pa_ && !pb_) { \
            FP_LANES(ua_, o->bimm, expr, isnan); \
        } else if (!pa_) { \
            /* ra uniform (f_exec() did not write its row): one value */ \
            FP_LANES(ua_, pb_[j_], expr, isnan); \
        } else if (!pb_) { \
            FP_LANES(pa_[j_], o->bimm, expr, isnan); \
        } else { \
            FP_LANES(pa_[j_], pb_[j_], expr, isnan); \
        } \
        for (j_ = 0; any_ && j_ < nl; j_++) { \
            if (isnan(t_[j_])) { \
                t_[j_] = fp_scalar(op, pa_ ? pa_[j_] : ua_, \
                                   pb_ ? pb_[j_] : o->bimm, d_[j_]); \
            } \
        } \
        if (full) { \
            memcpy(d_, t_, nl * sizeof(uint64_t)); \
            break; \
        } \
        for (k_ = 0; k_ < nw; k_++) { \
            uint32_t ex_ = l->waves[w0 + k_].exec; \
            uint64_t *dd_ = d_ + 32 * k_; \
            const uint64_t *tt_ = t_ + 32 * k_; \
            if (ex_ == F_FULL) { \
                memcpy(dd_, tt_, 32 * sizeof(uint64_t)); \
            } else if (ex_) { \
                for (j_ = 0; j_ < 32; j_++) { \
                    dd_[j_] = (ex_ >> j_) & 1 ? tt_[j_] : dd_[j_]; \
                } \
            } \
        } \
    } while (0)

static inline uint64_t fadd32(uint64_t a, uint64_t b)
{
    return f2u(u2f(a) + u2f(b));
}

static inline uint64_t fmul32(uint64_t a, uint64_t b)
{
    return f2u(u2f(a) * u2f(b));
}

static inline uint64_t ffma32(uint64_t a, uint64_t b, uint64_t c)
{
    return f2u(fmaf(u2f(a), u2f(b), u2f(c)));
}

static inline uint64_t dfma64(uint64_t a, uint64_t b, uint64_t c)
{
    return d2u(fma(u2d(a), u2d(b), u2d(c)));
}

/* True if no lane of waves w0 .. w0+nw-1 is active. */
static inline bool f_idle(const SvmgpuFastLaunch *l, unsigned w0, unsigned nw)
{
    uint32_t any = 0;
    unsigned k;

    for (k = 0; k < nw; k++) {
        any |= l->waves[w0 + k].exec;
    }
    return !any;
}


/*
 * A floating-point operation whose ra holds one value in every lane (an
 * affine register of step 0, e.g. a one-address load or MOVI) that is not
 * also rb or rd: ALU_FP reads that value instead of a row, so f_exec()
 * need not write the row (SGEMM's A element, saxpy's a).
 */
static inline bool f_uniform_ra(const SvmgpuFastLaunch *l, const FOp *o)
{
    return (is_f32_op(o->op) || is_f64_op(o->op) || is_fma_op(o->op)) &&
           (l->aff & RBIT(o->ra)) && !l->astride[o->ra] &&
           o->ra != o->rd && o->ra != o->rb;
}

/* ua: f_uniform_ra(), ra's row may be stale */
static F_INLINE void f_alu(SvmgpuFastLaunch *l, const FOp *o, unsigned w0,
                  unsigned nw, bool ua)
{
    const unsigned base = w0 * SVMGPU_ISA_WAVE_SIZE;
    const unsigned nl = nw * SVMGPU_ISA_WAVE_SIZE;
    const uint8_t op = o->op;
    uint32_t all = F_FULL;
    bool full;
    unsigned k;

    if (f_idle(l, w0, nw)) {
        return;
    }
    for (k = 0; k < nw; k++) {
        all &= l->waves[w0 + k].exec;
    }
    full = all == F_FULL;

    switch (op) {
    case SVMGPU_OP_MOV: ALU_BODY(b); return;
    case SVMGPU_OP_ADD: ALU_BODY(a + b); return;
    case SVMGPU_OP_SUB: ALU_BODY(a - b); return;
    case SVMGPU_OP_MUL: ALU_BODY(a * b); return;
    case SVMGPU_OP_AND: ALU_BODY(a & b); return;
    case SVMGPU_OP_OR: ALU_BODY(a | b); return;
    case SVMGPU_OP_XOR: ALU_BODY(a ^ b); return;
    case SVMGPU_OP_SHL: ALU_BODY(a << (b & 63)); return;
    case SVMGPU_OP_SHR: ALU_BODY(a >> (b & 63)); return;
    case SVMGPU_OP_SAR: ALU_BODY((uint64_t)((int64_t)a >> (b & 63))); return;
    case SVMGPU_OP_MINU: ALU_BODY(a < b ? a : b); return;
    case SVMGPU_OP_MAXU: ALU_BODY(a > b ? a : b); return;
    case SVMGPU_OP_SEQ: ALU_BODY((uint64_t)(a == b)); return;
    case SVMGPU_OP_SNE: ALU_BODY((uint64_t)(a != b)); return;
    case SVMGPU_OP_SLTU: ALU_BODY((uint64_t)(a < b)); return;
    case SVMGPU_OP_SLEU: ALU_BODY((uint64_t)(a <= b)); return;
    case SVMGPU_OP_SLTS: ALU_BODY((uint64_t)((int64_t)a < (int64_t)b)); return;
    case SVMGPU_OP_SLES:
        ALU_BODY((uint64_t)((int64_t)a <= (int64_t)b));
        return;
    case SVMGPU_OP_FADD: ALU_FP(fadd32(a, b), NAN32); return;
    case SVMGPU_OP_FMUL: ALU_FP(fmul32(a, b), NAN32); return;
    /*
     * The addend is rd's row: ALU_FP writes rd only after every lane is
     * computed (and its NaN lanes recomputed), so d_[j_] is the old value.
     */
    case SVMGPU_OP_FFMA: ALU_FP(ffma32(a, b, d_[j_]), NAN32); return;
    case SVMGPU_OP_DFMA: ALU_FP(dfma64(a, b, d_[j_]), NAN64); return;
    }
    if (is_int_op(op)) {
        ALU_BODY(int_op(op, a, b));
    } else if (is_f32_op(op)) {
        ALU_FP(f32_op(op, a, b), NAN32);
    } else {
        ALU_FP(f64_op(op, a, b), NAN64);
    }
}

/*
 * Special register sr (not WAVE_ID) in lane j of the workgroup:
 * *base + j * *step.
 */
static void f_sr(const SvmgpuFastLaunch *l, SvmgpuQueue *q, int32_t sr,
                 uint64_t *base, uint64_t *step)
{
    const struct svmgpu_cmd_launch *c = &q->x.cmd.launch;

    *step = 0;
    switch (sr) {
    case SVMGPU_SR_LANE_ID: *base = 0; *step = 1; break;
    case SVMGPU_SR_GLOBAL_ID: *base = l->wg * c->wg_size; *step = 1; break;
    case SVMGPU_SR_WG_ID_X: *base = l->wg % c->grid_x; break;
    case SVMGPU_SR_WG_ID_Y: *base = (l->wg / c->grid_x) % c->grid_y; break;
    case SVMGPU_SR_WG_ID_Z:
        *base = l->wg / ((uint64_t)c->grid_x * c->grid_y);
        break;
    case SVMGPU_SR_WG_SIZE: *base = c->wg_size; break;
    case SVMGPU_SR_GRID_X: *base = c->grid_x; break;
    case SVMGPU_SR_GRID_Y: *base = c->grid_y; break;
    case SVMGPU_SR_GRID_Z: *base = c->grid_z; break;
    case SVMGPU_SR_ARGS: *base = c->args_va; break;
    default: *base = q->index; break;       /* SVMGPU_SR_QUEUE */
    }
}

/* MOVI, MOVHI, S2R, SEL */
static F_INLINE void f_move(SvmgpuFastLaunch *l, SvmgpuQueue *q, const FOp *o,
                   unsigned w0, unsigned nw)
{
    uint64_t tbuf[F_LANES], *t = tbuf, uni = 0;
    uint64_t *d = l->regs[o->rd] + w0 * SVMGPU_ISA_WAVE_SIZE;
    uint32_t all = F_FULL;
    const unsigned nl = nw * SVMGPU_ISA_WAVE_SIZE;
    const unsigned lane0 = w0 * SVMGPU_ISA_WAVE_SIZE;
    bool uniform = true;
    unsigned j, k;

    if (f_idle(l, w0, nw)) {
        return;
    }
    for (k = 0; k < nw; k++) {
        all &= l->waves[w0 + k].exec;
    }
    if (all == F_FULL) {
        t = d;      /* every lane: straight into rd (lane j reads lane j) */
    }

    switch (o->op) {
    case SVMGPU_OP_MOVI:
        uni = o->bimm;
        break;
    case SVMGPU_OP_MOVHI:
        uniform = false;
        for (j = 0; j < nl; j++) {
            t[j] = (d[j] & 0xffffffffull) | ((uint64_t)(uint32_t)o->imm << 32);
        }
        break;
    case SVMGPU_OP_SEL: {
        const uint64_t *a = l->regs[o->ra] + lane0;
        const uint64_t *b = l->regs[o->rb] + lane0;
        const uint64_t *cc = l->regs[o->rc] + lane0;

        uniform = false;
        for (j = 0; j < nl; j++) {
            t[j] = cc[j] ? a[j] : b[j];
        }
        break;
    }
    default:        /* S2R */
        if (o->imm == SVMGPU_SR_WAVE_ID) {
            uniform = false;
            for (j = 0; j < nl; j++) {
                t[j] = (lane0 + j) / SVMGPU_ISA_WAVE_SIZE;
            }
        } else {
            uint64_t step;

            f_sr(l, q, o->imm, &uni, &step);
            if (step) {
                uniform = false;
                for (j = 0; j < nl; j++) {
                    t[j] = uni + (lane0 + j) * step;
                }
            }
        }
        break;
    }
    if (uniform) {
        for (j = 0; j < nl; j++) {
            t[j] = uni;
        }
    }
    if (t == d) {
        return;
    }
    for (k = 0; k < nw; k++) {
        uint32_t ex = l->waves[w0 + k].exec;

        if (ex == F_FULL) {
            memcpy(d + 32 * k, t + 32 * k, 32 * sizeof(uint64_t));
        } else if (ex) {
            for (j = 0; j < 32; j++) {
                d[32 * k + j] = (ex >> j) & 1 ? t[32 * k + j] : d[32 * k + j];
            }
        }
    }
}

/* ---- memory ---- */

static inline uint64_t load_n(const uint8_t *p, unsigned size, bool sext)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;

    switch (size) {
    case 1:
        memcpy(&u8, p, 1);
        return sext ? (uint64_t)(int64_t)(int8_t)u8 : u8;
    case 2:
        memcpy(&u16, p, 2);
        return sext ? (uint64_t)(int64_t)(int16_t)u16 : u16;
    case 4:
        memcpy(&u32, p, 4);
        return sext ? (uint64_t)(int64_t)(int32_t)u32 : u32;
    default:
        memcpy(&u64, p, 8);
        return u64;
    }
}

static InsnResult f_error(SvmgpuQueue *q, uint32_t code, uint64_t va,
                          unsigned access)
{
    svmgpu_set_error(&q->x, code, va, access, 0);
    return INSN_ERROR;
}

/* One lane through dma_read/dma_write (memory that cannot be mapped). */
static InsnResult f_lane_dma(SvmgpuCore *core, SvmgpuQueue *q,
                             SvmgpuFastLaunch *l, const FOp *o,
                             unsigned lane, uint64_t va, uint64_t pa)
{
    uint64_t v = 0, nv;
    int rc;

    if (o->access == SVMGPU_ACCESS_READ) {
        if (svmgpu_mem_read(core, pa, &v, o->size)) {
            return f_error(q, SVMGPU_ERR_DMA, va, o->access);
        }
        l->regs[o->rd][lane] = o->op >= SVMGPU_OP_LDS8 ?
            load_n((uint8_t *)&v, o->size, true) : v;
        return INSN_OK;
    }
    if (o->access == SVMGPU_ACCESS_WRITE) {
        if (svmgpu_q_stale(q)) {
            return f_error(q, SVMGPU_ERR_DMA, va, o->access);
        }
        v = l->regs[o->rb][lane];
        if (svmgpu_mem_write(core, pa, &v, o->size)) {
            return f_error(q, SVMGPU_ERR_DMA, va, o->access);
        }
        f_code_written(l, pa & ~PAGE_MASK_LO);
        return INSN_OK;
    }
    pthread_mutex_lock(&core->atomic_lock);
    rc = svmgpu_q_stale(q) ? -1 : svmgpu_mem_read(core, pa, &v, o->size);
    if (!rc) {
        nv = svmgpu_atomic_compute(o->aop, o->size, v, l->regs[o->rb][lane],
                                   l->regs[o->rc][lane]);
        rc = svmgpu_mem_write(core, pa, &nv, o->size);
    }
    pthread_mutex_unlock(&core->atomic_lock);
    if (rc) {
        return f_error(q, SVMGPU_ERR_DMA, va, o->access);
    }
    f_code_written(l, pa & ~PAGE_MASK_LO);
    l->regs[o->rd][lane] = v;
    return INSN_OK;
}

/*
 * Atomics of the lanes in @run (all in the page at pg), under atomic_lock:
 * consecutive lanes on the same word are one compare-and-swap of their
 * combined effect, which other agents see as the lanes' operations done
 * back to back.
 */
static F_INLINE void f_atomic_run(SvmgpuFastLaunch *l, const FOp *o, unsigned lane0,
                         uint32_t run, uint8_t *pg, uint64_t imm,
                         bool uniform)
{
    const uint64_t *A = l->regs[o->ra] + lane0;
    const uint64_t *B = l->regs[o->rb] + lane0;
    const uint64_t *C = l->regs[o->rc] + lane0;
    uint64_t *D = l->regs[o->rd] + lane0;
    uint64_t olds[SVMGPU_ISA_WAVE_SIZE];
    unsigned lanes[SVMGPU_ISA_WAVE_SIZE];

    while (run) {
        uint64_t addr = A[__builtin_ctz(run)] + imm;
        uint8_t *p = pg + (addr & PAGE_MASK_LO);
        unsigned n = 0, k;

        /* the group: consecutive lanes of the run on this word */
        if (uniform) {
            for (n = 0; n < SVMGPU_ISA_WAVE_SIZE; n++) {
                lanes[n] = n;
            }
            run = 0;
        }
        while (run && A[__builtin_ctz(run)] + imm == addr) {
            lanes[n++] = __builtin_ctz(run);
            run &= run - 1;
        }
        if (n == 1) {
            olds[0] = svmgpu_atomic_host(p, o->size, o->aop, B[lanes[0]],
                                         C[lanes[0]]);
        } else if (o->aop == SVMGPU_ATOMIC_ADD) {
            /* one fetch-and-add of the sum; each lane's old is a prefix */
            uint64_t sum = 0, old;

            for (k = 0; k < n; k++) {
                olds[k] = sum;
                sum += B[lanes[k]];
            }
            if (o->size == 4) {
                old = __atomic_fetch_add((uint32_t *)p, (uint32_t)sum,
                                         __ATOMIC_SEQ_CST);
                for (k = 0; k < n; k++) {
                    olds[k] = (uint32_t)(old + olds[k]);
                }
            } else {
                old = __atomic_fetch_add((uint64_t *)p, sum, __ATOMIC_SEQ_CST);
                for (k = 0; k < n; k++) {
                    olds[k] += old;
                }
            }
        } else if (o->size == 4) {
            uint32_t cur = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
            uint32_t v;

            do {
                v = cur;
                for (k = 0; k < n; k++) {
                    olds[k] = v;
                    v = svmgpu_atomic_compute(o->aop, 4, v, B[lanes[k]],
                                              C[lanes[k]]);
                }
            } while (!__atomic_compare_exchange_n((uint32_t *)p, &cur, v,
                                                  false, __ATOMIC_SEQ_CST,
                                                  __ATOMIC_RELAXED));
        } else {
            uint64_t cur = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
            uint64_t v;

            do {
                v = cur;
                for (k = 0; k < n; k++) {
                    olds[k] = v;
                    v = svmgpu_atomic_compute(o->aop, 8, v, B[lanes[k]],
                                              C[lanes[k]]);
                }
            } while (!__atomic_compare_exchange_n((uint64_t *)p, &cur, v,
                                                  false, __ATOMIC_SEQ_CST,
                                                  __ATOMIC_RELAXED));
        }
        for (k = 0; k < n; k++) {
            D[lanes[k]] = olds[k];
        }
    }
}

/* Loads, stores and atomics of one wave, resumable through w->done. */
static F_INLINE InsnResult f_mem_wave(SvmgpuCore *core, SvmgpuQueue *q,
                             SvmgpuFastLaunch *l, IsaMem *m, const FOp *o,
                             unsigned wave)
{
    FWave *w = &l->waves[wave];
    const unsigned lane0 = wave * SVMGPU_ISA_WAVE_SIZE;
    const uint64_t *A = l->regs[o->ra] + lane0;
    const unsigned size = o->size, access = o->access;
    const bool wr = access != SVMGPU_ACCESS_READ;
    const bool sext = o->op >= SVMGPU_OP_LDS8 && o->op <= SVMGPU_OP_LDS32;
    const uint64_t imm = o->bimm;
    uint32_t todo = w->exec & ~w->done;

    while (todo) {
        unsigned i = __builtin_ctz(todo), win = 0, n = 0;
        uint64_t addr = A[i] + imm, page, pa = 0, lo, hi;
        SvmgpuAccessResult res = SVMGPU_ACC_OK;
        uint32_t run, t;
        uint8_t *p, *pg;

        if (addr >> SVMGPU_VA_BITS) {
            return f_error(q, SVMGPU_ERR_INVALID_VA, addr, access);
        }
        if (addr & (size - 1)) {
            return f_error(q, SVMGPU_ERR_MISALIGNED, addr, access);
        }
        p = isa_mem_fast(m, addr, wr, m->last[0], &win);
        if (!p) {
            p = isa_mem_get(core, q, m, addr, access, wr, &m->last[0], &win,
                            &pa, &res);
        }
        if (!p) {
            InsnResult r;

            if (res != SVMGPU_ACC_OK) {
                return acc_result(res);
            }
            r = f_lane_dma(core, q, l, o, lane0 + i, addr, pa);
            if (r != INSN_OK) {
                return r;
            }
            isa_count(m, svmgpu_pa_local(pa), access, size);
            w->done |= 1u << i;
            todo &= todo - 1;
            continue;
        }
        if (wr && svmgpu_q_stale(q)) {
            return f_error(q, SVMGPU_ERR_DMA, addr, access);
        }
        page = addr & ~PAGE_MASK_LO;
        pg = p - (addr & PAGE_MASK_LO);

        /* the run: remaining lanes, in order, aligned and in this page */
        if (todo == F_FULL &&
            (addr & PAGE_MASK_LO) + SVMGPU_ISA_WAVE_SIZE * size <=
            SVMGPU_PAGE_SIZE) {
            const uint64_t step = A[1] - A[0];
            uint64_t bad = 0;
            bool contig, uni;
            unsigned j;

            for (j = 1; j < SVMGPU_ISA_WAVE_SIZE; j++) {
                bad |= (A[j] - A[j - 1]) ^ step;
            }
            contig = !bad && step == size;
            uni = !bad && !step;
            if (uni && access == SVMGPU_ACCESS_ATOMIC) {
                /* every lane on one word: one combined atomic */
                pthread_mutex_lock(&core->atomic_lock);
                if (svmgpu_q_stale(q)) {
                    pthread_mutex_unlock(&core->atomic_lock);
                    return f_error(q, SVMGPU_ERR_DMA, addr, access);
                }
                f_atomic_run(l, o, lane0, F_FULL, pg, imm, true);
                pthread_mutex_unlock(&core->atomic_lock);
                isa_count(m, m->mc->w[win].local, access,
                          SVMGPU_ISA_WAVE_SIZE * size);
                m->hits += SVMGPU_ISA_WAVE_SIZE - 1;
                svmgpu_map_dirty(m->mc, win, p, size);
                f_code_written(l, m->e[m->last[0]].pa);
                w->done = 0;
                return INSN_OK;
            }
            if ((contig || uni) && access != SVMGPU_ACCESS_ATOMIC) {
                /* a load's rb and a store's rd are not registers */
                uint64_t *D = l->regs[wr ? 0 : o->rd] + lane0;
                const uint64_t *B = l->regs[wr ? o->rb : 0] + lane0;

                n = SVMGPU_ISA_WAVE_SIZE;
                lo = addr & PAGE_MASK_LO;
                hi = lo + (contig ? n * size : size);
                if (uni && !wr) {
                    uint64_t v = load_n(p, size, sext);

                    for (j = 0; j < n; j++) {
                        D[j] = v;
                    }
                } else if (uni) {
                    copy_small(p, &B[n - 1], size);
                } else if (!wr) {
                    switch (size + sext * 16) {
                    case 1:
                        for (j = 0; j < n; j++) {
                            D[j] = ((const uint8_t *)p)[j];
                        }
                        break;
                    case 2:
                        for (j = 0; j < n; j++) {
                            D[j] = ((const uint16_t *)p)[j];
                        }
                        break;
                    case 4:
                        for (j = 0; j < n; j++) {
                            D[j] = ((const uint32_t *)p)[j];
                        }
                        break;
                    case 8:
                        memcpy(D, p, n * 8);
                        break;
                    default:
                        for (j = 0; j < n; j++) {
                            D[j] = load_n(p + j * size, size, true);
                        }
                        break;
                    }
                } else {
                    switch (size) {
                    case 1:
                        for (j = 0; j < n; j++) {
                            ((uint8_t *)p)[j] = B[j];
                        }
                        break;
                    case 2:
                        for (j = 0; j < n; j++) {
                            ((uint16_t *)p)[j] = B[j];
                        }
                        break;
                    case 4:
                        for (j = 0; j < n; j++) {
                            ((uint32_t *)p)[j] = B[j];
                        }
                        break;
                    default:
                        memcpy(p, B, n * 8);
                        break;
                    }
                }
                m->hits += n - 1;
                isa_count(m, m->mc->w[win].local, access, n * size);
                if (wr) {
                    svmgpu_map_dirty(m->mc, win, pg + lo, hi - lo);
                    f_code_written(l, m->e[m->last[0]].pa);
                }
                w->done = F_FULL;
                todo = 0;
                break;
            }
        }
        run = 0;
        lo = SVMGPU_PAGE_SIZE;
        hi = 0;
        for (t = todo; t; t &= t - 1) {
            uint64_t a = A[__builtin_ctz(t)] + imm;

            if ((a & ~PAGE_MASK_LO) != page || (a & (size - 1))) {
                break;
            }
            run |= t & -t;
            n++;
            lo = svmgpu_min64(lo, a & PAGE_MASK_LO);
            hi = hi > (a & PAGE_MASK_LO) + size ? hi :
                 (a & PAGE_MASK_LO) + size;
        }
        if (access == SVMGPU_ACCESS_READ) {
            uint64_t *D = l->regs[o->rd] + lane0;

            for (t = run; t; t &= t - 1) {
                unsigned j = __builtin_ctz(t);

                D[j] = load_n(pg + ((A[j] + imm) & PAGE_MASK_LO), size, sext);
            }
        } else if (access == SVMGPU_ACCESS_WRITE) {
            const uint64_t *B = l->regs[o->rb] + lane0;

            for (t = run; t; t &= t - 1) {
                unsigned j = __builtin_ctz(t);

                copy_small(pg + ((A[j] + imm) & PAGE_MASK_LO), &B[j], size);
            }
        } else {
            pthread_mutex_lock(&core->atomic_lock);
            if (svmgpu_q_stale(q)) {
                pthread_mutex_unlock(&core->atomic_lock);
                return f_error(q, SVMGPU_ERR_DMA, addr, access);
            }
            f_atomic_run(l, o, lane0, run, pg, imm, false);
            pthread_mutex_unlock(&core->atomic_lock);
        }
        if (wr) {
            svmgpu_map_dirty(m->mc, win, pg + lo, hi - lo);
            f_code_written(l, m->e[m->last[0]].pa);
        }
        m->hits += n - 1;
        isa_count(m, m->mc->w[win].local, access, n * size);
        w->done |= run;
        todo &= ~run;
    }
    w->done = 0;
    return INSN_OK;
}

/* ---- control ---- */

static InsnResult f_illegal(SvmgpuQueue *q, const FWave *w)
{
    svmgpu_set_error(&q->x, SVMGPU_ERR_ILLEGAL_INSTRUCTION, w->pc,
                     SVMGPU_ACCESS_READ, 0);
    return INSN_ERROR;
}

/* A control instruction for one wave; sets w->pc. */
static F_INLINE InsnResult f_control(SvmgpuQueue *q, SvmgpuFastLaunch *l,
                            const FOp *o, unsigned wave)
{
    FWave *w = &l->waves[wave];
    uint32_t cond = 0;

    if ((o->op == SVMGPU_OP_IF || o->op == SVMGPU_OP_BREAK) &&
        (l->aff & RBIT(o->ra)) && !l->astride[o->ra]) {
        cond = l->abase[o->ra] ? w->exec : 0;   /* one value in every lane */
    } else if (o->op == SVMGPU_OP_IF || o->op == SVMGPU_OP_BREAK) {
        const uint64_t *a = l->regs[o->ra] + wave * SVMGPU_ISA_WAVE_SIZE;
        uint8_t nz[SVMGPU_ISA_WAVE_SIZE];
        unsigned j;

        f_mat(l, RBIT(o->ra));
        for (j = 0; j < SVMGPU_ISA_WAVE_SIZE; j++) {
            nz[j] = a[j] != 0;
        }
        /* 8 bytes of 0/1 -> 8 bits: the multiply gathers them in the top byte */
        for (j = 0; j < SVMGPU_ISA_WAVE_SIZE; j += 8) {
            uint64_t x;

            memcpy(&x, nz + j, 8);
            cond |= (uint32_t)((x * 0x0102040810204080ull) >> 56) << j;
        }
        cond &= w->exec;
    }
    if (!isa_control(w, o->op, o->imm, cond)) {
        return f_illegal(q, w);
    }
    return INSN_OK;
}

/*
 * Clear wave wv's registers that o uses and that are still pending from
 * the workgroup's start.  An rd every lane of a full wave overwrites is
 * only marked (its bits go to *skipped, if given); anything read, or
 * written in only some lanes, is zeroed.  True if zpend changed.
 */
static inline bool f_zclear(SvmgpuFastLaunch *l, const FOp *o, unsigned wv,
                            uint32_t *skipped)
{
    uint32_t z = l->zpend[wv] & o->zread;
    uint32_t wr = l->zpend[wv] & o->zwrite & ~z;

    if (!(z | wr) || !l->waves[wv].exec) {
        return false;       /* a wave without lanes reads and writes none */
    }
    if (wr && l->waves[wv].exec != F_FULL) {
        z |= wr;
        wr = 0;
    }
    l->zpend[wv] &= ~(z | wr);
    while (z) {
        memset(&l->regs[__builtin_ctz(z)][wv * SVMGPU_ISA_WAVE_SIZE], 0,
               SVMGPU_ISA_WAVE_SIZE * sizeof(uint64_t));
        z &= z - 1;
    }
    if (skipped) {
        *skipped = wr;
    }
    return true;
}

static inline void f_zany(SvmgpuFastLaunch *l)
{
    uint32_t any = 0;
    unsigned k;

    for (k = 0; k < l->nwaves; k++) {
        any |= l->zpend[k];
    }
    l->zpend_any = any;
}

/*
 * The page of a gang's first access (wave w0's first lane, whose checks
 * passed), looked up or translated as that lane would.  NULL: *r is
 * INSN_OK if the gang cannot go on as one (memory that cannot be mapped,
 * a decoded code page or a stale queue for a write: wave by wave), else
 * wave w0's fault or error, its registers done as f_exec_mem() does.
 */
static F_INLINE uint8_t *f_gang_page(SvmgpuCore *core, SvmgpuQueue *q,
                                     SvmgpuFastLaunch *l, IsaMem *m,
                                     const FOp *o, unsigned w0, uint64_t addr,
                                     bool wr, unsigned *last, unsigned *win,
                                     InsnResult *r)
{
    const unsigned lane0 = w0 * SVMGPU_ISA_WAVE_SIZE;
    uint8_t *p;
    unsigned k;

    *r = INSN_OK;
    p = isa_mem_lookup(m, addr, wr, last, win);
    if (!p) {
        /*
         * Translate the page as wave w0's first lane would (it is the
         * first access of the gang, with the same checks passed above).
         */
        SvmgpuAccessResult res = SVMGPU_ACC_OK;
        uint64_t pa = 0;

        p = isa_mem_get(core, q, m, addr, o->access, wr, last, win, &pa,
                        &res);
        if (!p && res != SVMGPU_ACC_OK) {
            /*
             * Wave w0 faults (or fails) at its first lane: what
             * f_exec_mem() does for a wave that stops with no lane done.
             */
            uint32_t skipped = 0;

            f_unaff(l, o->zwrite);
            if ((l->zpend_any & (o->zread | o->zwrite)) &&
                f_zclear(l, o, w0, &skipped)) {
                f_zany(l);
            }
            if (skipped) {
                memset(&l->regs[o->rd][lane0], 0,
                       SVMGPU_ISA_WAVE_SIZE * sizeof(uint64_t));
            }
            *r = acc_result(res);
            return NULL;
        }
        if (!p) {
            /*
             * Memory that cannot be mapped: wave by wave, lane by lane.
             * Wave w0 translates lane 0 again, a TLB hit this lookup did
             * not count in the reference: take it back (modular: the
             * TLB's counter gets exactly one lookup for the two).
             */
            m->hits--;
            return NULL;
        }
        /*
         * The translation counted lane 0's lookup, as isa_mem_lookup()
         * does; a fall-back below takes it back (m->hits may wrap until
         * wave w0 counts its own lookup again: modular, exact in sum).
         */
    }
    if (wr) {
        for (k = 0; k < F_CODE_PAGES; k++) {
            if (l->code[k].ok && l->code[k].pa == m->e[*last].pa) {
                m->hits--;
                return NULL;    /* a code page: wave by wave */
            }
        }
        if (svmgpu_q_stale(q)) {
            m->hits--;
            return NULL;        /* the first wave fails */
        }
    }
    return p;
}

/*
 * d[j] = zero-extended s[j] (a register row from guest memory) and
 * d[j] = low half of s[j] (the other way) for n lanes, n a multiple of the
 * wave size: guest memory and the rows never overlap, and with restrict and
 * a fixed inner count GCC vectorises both (vpmovzxdq / vpmovqd), which it
 * does not for the plain lane loop.
 */
static F_INLINE void f_zext32(uint64_t *__restrict d,
                              const void *__restrict s, unsigned n)
{
    const uint32_t *__restrict v = s;
    unsigned j, k;

    for (j = 0; j < n; j += SVMGPU_ISA_WAVE_SIZE) {    /* n: whole waves */
        for (k = 0; k < SVMGPU_ISA_WAVE_SIZE; k++) {
            d[j + k] = v[j + k];
        }
    }
}

static F_INLINE void f_trunc32(void *__restrict d,
                               const uint64_t *__restrict s, unsigned n)
{
    uint32_t *__restrict v = d;
    unsigned j, k;

    for (j = 0; j < n; j += SVMGPU_ISA_WAVE_SIZE) {
        for (k = 0; k < SVMGPU_ISA_WAVE_SIZE; k++) {
            v[j + k] = (uint32_t)s[j + k];
        }
    }
}

/*
 * A load or store of a whole gang in one go, when that is exactly what
 * the waves one after another would do: every lane of every wave active,
 * the lanes' addresses contiguous (lane order) or all equal, inside one
 * page that a translation copy already covers, and not a decoded code
 * page for a store.  Nothing can then fault or stop between the lanes.
 * False: nothing was done, run the waves one by one.
 */
static F_INLINE bool f_mem_gang(SvmgpuCore *core, SvmgpuQueue *q,
                                SvmgpuFastLaunch *l, IsaMem *m, const FOp *o,
                                unsigned w0, unsigned nw, InsnResult *r)
{
    const unsigned lane0 = w0 * SVMGPU_ISA_WAVE_SIZE;
    const unsigned nl = nw * SVMGPU_ISA_WAVE_SIZE;
    const uint64_t *A = l->regs[o->ra] + lane0;
    const unsigned size = o->size;
    const bool wr = o->access == SVMGPU_ACCESS_WRITE;
    const bool sext = o->op >= SVMGPU_OP_LDS8 && o->op <= SVMGPU_OP_LDS32;
    const bool whole = !w0 && nw == l->nwaves;
    uint64_t addr, step, bad = 0, span, off;
    bool changed = false;
    unsigned j, k, win = 0, last = m->last[0];
    uint8_t *p;

    for (k = 0; k < nw; k++) {
        if (l->waves[w0 + k].exec != F_FULL || l->waves[w0 + k].done) {
            return false;
        }
    }
    if (l->zpend_any & o->zread) {
        return false;       /* ra not yet cleared */
    }
    /* contiguous (step = size) or uniform (step = 0) */
    if (l->aff & RBIT(o->ra)) {
        step = l->astride[o->ra];
        addr = l->abase[o->ra] + lane0 * step + o->bimm;
    } else {
        /* one pass over the lanes, no multiply */
        step = A[1] - A[0];
        addr = A[0] + o->bimm;
        for (j = 1; j < nl; j++) {
            bad |= (A[j] - A[j - 1]) ^ step;
        }
    }
    if (bad || (step != 0 && step != size) || (addr >> SVMGPU_VA_BITS) ||
        (addr & (size - 1))) {
        return false;       /* neither, or the first lane fails */
    }
    off = addr & PAGE_MASK_LO;
    span = step ? (uint64_t)nl * size : size;
    if (off + span > SVMGPU_PAGE_SIZE) {
        return false;
    }
    p = f_gang_page(core, q, l, m, o, w0, addr, wr, &last, &win, r);
    if (!p) {
        return *r != INSN_OK;
    }
    m->last[0] = last;
    m->hits += nl - 1;
    isa_count(m, m->mc->w[win].local, o->access, (uint64_t)nl * size);
    for (k = 0; k < nw; k++) {
        changed |= f_zclear(l, o, w0 + k, NULL);
    }
    if (changed) {
        f_zany(l);
    }
    if (!wr) {
        uint64_t *D = l->regs[o->rd] + lane0;

        if (whole) {
            /* every lane of the workgroup is written */
            l->aff &= ~RBIT(o->rd);
            l->stale &= ~RBIT(o->rd);
        } else {
            f_unaff(l, RBIT(o->rd));
        }
        if (!step && whole) {
            f_set_aff(l, o->rd, load_n(p, size, sext), 0);
        } else if (!step) {
            uint64_t v = load_n(p, size, sext);

            for (j = 0; j < nl; j++) {
                D[j] = v;
            }
        } else {
            switch (size + sext * 16) {
            case 1:
                for (j = 0; j < nl; j++) {
                    D[j] = ((const uint8_t *)p)[j];
                }
                break;
            case 2:
                for (j = 0; j < nl; j++) {
                    D[j] = ((const uint16_t *)p)[j];
                }
                break;
            case 4:
                f_zext32(D, p, nl);
                break;
            case 8:
                memcpy(D, p, nl * 8);
                break;
            default:
                for (j = 0; j < nl; j++) {
                    D[j] = load_n(p + j * size, size, true);
                }
                break;
            }
        }
    } else {
        const uint64_t *B = l->regs[o->rb] + lane0;

        f_mat(l, RBIT(o->rb));
        if (!step) {
            copy_small(p, &B[nl - 1], size);    /* lane order: the last */
        } else {
            switch (size) {
            case 1:
                for (j = 0; j < nl; j++) {
                    ((uint8_t *)p)[j] = B[j];
                }
                break;
            case 2:
                for (j = 0; j < nl; j++) {
                    ((uint16_t *)p)[j] = B[j];
                }
                break;
            case 4:
                f_trunc32(p, B, nl);
                break;
            default:
                memcpy(p, B, nl * 8);
                break;
            }
        }
        svmgpu_map_dirty(m->mc, win, p, span);
    }
    for (k = 0; k < nw; k++) {
        l->waves[w0 + k].pc += SVMGPU_ISA_INSN_SIZE;
    }
    return true;
}

/*
 * An atomic of a whole gang on one word: every lane of every wave active
 * and every lane's address the same.  The waves one after another would
 * each do one combined operation (f_atomic_run()); here the gang's lanes
 * are one, which other agents see as the lanes' operations back to back
 * (as the reference's per-lane atomics could be), and every lane gets
 * the old value of its place in lane order.  False: nothing was done
 * (or *r is wave w0's fault or error, as in f_mem_gang()).
 */
static F_INLINE bool f_atom_gang(SvmgpuCore *core, SvmgpuQueue *q,
                                 SvmgpuFastLaunch *l, IsaMem *m, const FOp *o,
                                 unsigned w0, unsigned nw, InsnResult *r)
{
    const unsigned lane0 = w0 * SVMGPU_ISA_WAVE_SIZE;
    const unsigned nl = nw * SVMGPU_ISA_WAVE_SIZE;
    const uint64_t *A = l->regs[o->ra] + lane0;
    const uint64_t *B = l->regs[o->rb] + lane0;
    const uint64_t *C = l->regs[o->rc] + lane0;
    uint64_t *D = l->regs[o->rd] + lane0;
    const unsigned size = o->size;
    uint64_t addr, bad = 0, olds[F_LANES];
    bool changed = false;
    unsigned j, k, win = 0, last = m->last[0];
    uint8_t *p;

    for (k = 0; k < nw; k++) {
        if (l->waves[w0 + k].exec != F_FULL || l->waves[w0 + k].done) {
            return false;
        }
    }
    if (l->zpend_any & o->zread) {
        return false;       /* an operand not yet cleared */
    }
    if (l->aff & RBIT(o->ra)) {
        bad = l->astride[o->ra];
        addr = l->abase[o->ra];
    } else {
        addr = A[0];
        for (j = 1; j < nl; j++) {
            bad |= A[j] ^ addr;
        }
    }
    if (bad || (addr >> SVMGPU_VA_BITS) || (addr & (size - 1))) {
        return false;       /* not one word, or the first lane fails */
    }
    p = f_gang_page(core, q, l, m, o, w0, addr, true, &last, &win, r);
    if (!p) {
        return *r != INSN_OK;
    }
    f_mat(l, RBIT(o->rb) | RBIT(o->rc));
    pthread_mutex_lock(&core->atomic_lock);
    if (svmgpu_q_stale(q)) {
        pthread_mutex_unlock(&core->atomic_lock);
        m->hits--;
        return false;       /* the first wave fails */
    }
    if (o->aop == SVMGPU_ATOMIC_ADD) {
        /* one fetch-and-add of the sum; each lane's old is a prefix */
        uint64_t sum = 0, old;

        for (j = 0; j < nl; j++) {
            olds[j] = sum;
            sum += B[j];
        }
        if (size == 4) {
            old = __atomic_fetch_add((uint32_t *)p, (uint32_t)sum,
                                     __ATOMIC_SEQ_CST);
            for (j = 0; j < nl; j++) {
                olds[j] = (uint32_t)(old + olds[j]);
            }
        } else {
            old = __atomic_fetch_add((uint64_t *)p, sum, __ATOMIC_SEQ_CST);
            for (j = 0; j < nl; j++) {
                olds[j] += old;
            }
        }
    } else if (size == 4) {
        uint32_t cur = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
        uint32_t v;

        do {
            v = cur;
            for (j = 0; j < nl; j++) {
                olds[j] = v;
                v = svmgpu_atomic_compute(o->aop, 4, v, B[j], C[j]);
            }
        } while (!__atomic_compare_exchange_n((uint32_t *)p, &cur, v, false,
                                              __ATOMIC_SEQ_CST,
                                              __ATOMIC_RELAXED));
    } else {
        uint64_t cur = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
        uint64_t v;

        do {
            v = cur;
            for (j = 0; j < nl; j++) {
                olds[j] = v;
                v = svmgpu_atomic_compute(o->aop, 8, v, B[j], C[j]);
            }
        } while (!__atomic_compare_exchange_n((uint64_t *)p, &cur, v, false,
                                              __ATOMIC_SEQ_CST,
                                              __ATOMIC_RELAXED));
    }
    pthread_mutex_unlock(&core->atomic_lock);
    m->last[0] = last;
    m->hits += nl - 1;
    isa_count(m, m->mc->w[win].local, o->access, (uint64_t)nl * size);
    svmgpu_map_dirty(m->mc, win, p, size);
    for (k = 0; k < nw; k++) {
        changed |= f_zclear(l, o, w0 + k, NULL);
    }
    if (changed) {
        f_zany(l);
    }
    if (!w0 && nw == l->nwaves) {
        l->aff &= ~RBIT(o->rd);     /* every lane of the workgroup written */
        l->stale &= ~RBIT(o->rd);
    } else {
        f_unaff(l, RBIT(o->rd));
    }
    memcpy(D, olds, nl * sizeof(uint64_t));
    for (k = 0; k < nw; k++) {
        l->waves[w0 + k].pc += SVMGPU_ISA_INSN_SIZE;
    }
    return true;
}

/*
 * A memory instruction on waves w0.. of a gang, one wave at a time.  A
 * wave's pending registers are cleared only when it runs the instruction
 * (the gang may end before, on a fault or a code hit).  A load's or
 * atomic's rd, not cleared because every lane writes it, has the lanes a
 * fault left unwritten zeroed: the CPU may rewrite the instruction during
 * the stall, and what runs instead must read 0 there, not the previous
 * workgroup's value.
 */
static F_INLINE InsnResult f_exec_mem(SvmgpuCore *core, SvmgpuQueue *q,
                                      SvmgpuFastLaunch *l, IsaMem *m,
                                      const FOp *o, unsigned w0, unsigned nw,
                                      unsigned *ndone)
{
    bool changed = false;
    InsnResult r = INSN_OK;
    unsigned k;

    l->code_hit = false;
    if (nw > 1 && (o->access == SVMGPU_ACCESS_ATOMIC ?
                   f_atom_gang(core, q, l, m, o, w0, nw, &r) :
                   f_mem_gang(core, q, l, m, o, w0, nw, &r))) {
        *ndone = r == INSN_OK ? nw : 0;
        return r;
    }
    if (!f_idle(l, w0, nw)) {
        f_mat(l, o->zread);
        f_unaff(l, o->zwrite);
    }
    for (k = 0; k < nw; k++) {
        unsigned wv = w0 + k;
        uint32_t skipped = 0;

        if ((l->zpend_any & (o->zread | o->zwrite)) &&
            f_zclear(l, o, wv, &skipped)) {
            changed = true;
        }
        r = f_mem_wave(core, q, l, m, o, wv);
        if (r != INSN_OK) {
            if (skipped) {
                uint64_t *d = &l->regs[o->rd][wv * SVMGPU_ISA_WAVE_SIZE];
                uint32_t t;

                for (t = ~l->waves[wv].done; t; t &= t - 1) {
                    d[__builtin_ctz(t)] = 0;
                }
            }
            break;
        }
        l->waves[wv].pc += SVMGPU_ISA_INSN_SIZE;
        *ndone = k + 1;
        if (l->code_hit) {
            /* the next wave must fetch what this one wrote: end the gang */
            break;
        }
    }
    if (changed) {
        f_zany(l);
    }
    return r;
}

/* True if waves w0 .. w0+nw-1 are the whole workgroup, every lane active. */
static inline bool f_whole(const SvmgpuFastLaunch *l, unsigned w0,
                           unsigned nw)
{
    unsigned k;

    if (w0 || nw != l->nwaves) {
        return false;
    }
    for (k = 0; k < nw; k++) {
        if (l->waves[k].exec != F_FULL) {
            return false;
        }
    }
    return true;
}

/*
 * A whole gang's ALU or move instruction on affine operands, computed
 * once: rd becomes affine (no row is touched).  False: not affine, run it
 * on the rows.  Every result is the reference's per-lane value: a uniform
 * operation is the reference's scalar code on the one value; otherwise
 * only ADD, SUB, MUL by a uniform value and SHL by one, which commute with
 * lane * step modulo 2^64; SLTU, SLEU, MINU, MAXU, DIVU and SHR with one
 * uniform operand, which are monotone in the other: on a sequence that
 * does not wrap, equal at lane 0 and at the last lane means equal in
 * every lane; and REMU by a uniform value whose quotient is so.
 */
static bool f_lazy(SvmgpuFastLaunch *l, SvmgpuQueue *q, const FOp *o)
{
    const uint8_t op = o->op;
    const uint64_t last = (uint64_t)l->nwaves * SVMGPU_ISA_WAVE_SIZE - 1;
    uint64_t ba, sa, bb, sb, hi, r0;

    switch (op) {
    case SVMGPU_OP_MOVI:
        f_set_aff(l, o->rd, o->bimm, 0);
        return true;
    case SVMGPU_OP_S2R:
        if (o->imm == SVMGPU_SR_WAVE_ID) {
            return false;
        }
        f_sr(l, q, o->imm, &ba, &sa);
        f_set_aff(l, o->rd, ba, sa);
        return true;
    case SVMGPU_OP_MOVHI:
        if (!(l->aff & RBIT(o->rd)) || l->astride[o->rd]) {
            return false;
        }
        f_set_aff(l, o->rd, (l->abase[o->rd] & 0xffffffffull) |
                  ((uint64_t)(uint32_t)o->imm << 32), 0);
        return true;
    case SVMGPU_OP_SEL:
    case SVMGPU_OP_FFMA:        /* three operands: on the rows */
    case SVMGPU_OP_DFMA:
        return false;
    }
    if (o->rb == SVMGPU_ISA_RB_IMM) {
        bb = o->bimm;
        sb = 0;
    } else if (l->aff & RBIT(o->rb)) {
        bb = l->abase[o->rb];
        sb = l->astride[o->rb];
    } else {
        return false;
    }
    if (op == SVMGPU_OP_MOV) {
        f_set_aff(l, o->rd, bb, sb);
        return true;
    }
    if (!(l->aff & RBIT(o->ra))) {
        return false;
    }
    ba = l->abase[o->ra];
    sa = l->astride[o->ra];
    if (!sa && !sb) {
        f_set_aff(l, o->rd, is_int_op(op) ? int_op(op, ba, bb) :
                  is_f32_op(op) ? f32_op(op, ba, bb) : f64_op(op, ba, bb), 0);
        return true;
    }
    switch (op) {
    case SVMGPU_OP_ADD:
        f_set_aff(l, o->rd, ba + bb, sa + sb);
        return true;
    case SVMGPU_OP_SUB:
        f_set_aff(l, o->rd, ba - bb, sa - sb);
        return true;
    case SVMGPU_OP_MUL:
        if (sa && sb) {
            return false;
        }
        f_set_aff(l, o->rd, ba * bb, sa * bb + ba * sb);
        return true;
    case SVMGPU_OP_SHL:
        if (sb) {
            return false;
        }
        f_set_aff(l, o->rd, ba << (bb & 63), sa << (bb & 63));
        return true;
    }
    /*
     * One side uniform, the other increasing without wrapping: an
     * operation monotone in that side that has the same value at lane 0
     * and at the last lane has it in every lane.
     */
    if ((sa && sb) || __builtin_mul_overflow(sa | sb, last, &hi) ||
        __builtin_add_overflow(sa ? ba : bb, hi, &hi)) {
        return false;
    }
    r0 = int_op(op, ba, bb);
    switch (op) {
    case SVMGPU_OP_SLTU:
    case SVMGPU_OP_SLEU:
    case SVMGPU_OP_MINU:
    case SVMGPU_OP_MAXU:
        break;                  /* monotone in either operand */
    case SVMGPU_OP_DIVU:
    case SVMGPU_OP_SHR:
        if (sb) {
            return false;       /* monotone in a only */
        }
        break;
    case SVMGPU_OP_REMU:
        /* a % b = a - b * q, q = a / b the same in every lane: affine */
        if (sb || (bb && ba / bb != hi / bb)) {
            return false;
        }
        f_set_aff(l, o->rd, r0, sa);
        return true;
    default:
        return false;
    }
    if (r0 != int_op(op, sa ? hi : ba, sb ? hi : bb)) {
        return false;
    }
    f_set_aff(l, o->rd, r0, 0);
    return true;
}

/*
 * Execute o for waves w0 .. w0+nw-1, all at the same pc, in wave order.
 * *ndone: waves that completed it: all of them, unless a fault or error
 * stopped wave *ndone, or a store into a decoded code page ended the gang
 * (INSN_OK: the next wave fetches what was written, as in the reference).
 */
F_CLONES
static InsnResult f_exec(SvmgpuCore *core, SvmgpuQueue *q,
                         SvmgpuFastLaunch *l, IsaMem *m, const FOp *o,
                         unsigned w0, unsigned nw, unsigned *ndone)
{
    bool changed = false, whole, ua;
    InsnResult r;
    unsigned k;

    *ndone = 0;
    if (o->access && o->op != FOP_ILLEGAL) {
        /* wave by wave, in f_exec_mem(): a gang may stop at any wave */
        return f_exec_mem(core, q, l, m, o, w0, nw, ndone);
    }
    /* a faulted memory instruction rewritten meanwhile: as the reference */
    for (k = 0; k < nw; k++) {
        l->waves[w0 + k].done = 0;
    }
    if (l->zpend_any & (o->zread | o->zwrite)) {
        for (k = 0; k < nw; k++) {
            changed |= f_zclear(l, o, w0 + k, NULL);
        }
        if (changed) {
            f_zany(l);
        }
    }
    switch (o->op) {
    case FOP_ILLEGAL:
        return f_illegal(q, &l->waves[w0]);
    case SVMGPU_OP_NOP ... SVMGPU_OP_ENDLOOP:
        for (k = 0; k < nw; k++) {
            r = f_control(q, l, o, w0 + k);
            if (r != INSN_OK) {
                return r;
            }
            *ndone = k + 1;
        }
        return INSN_OK;
    default:
        whole = f_whole(l, w0, nw);
        if ((whole && f_lazy(l, q, o)) || f_idle(l, w0, nw)) {
            break;          /* affine, or no lane to read or write */
        }
        ua = f_uniform_ra(l, o);
        f_mat(l, ua ? o->zread & ~RBIT(o->ra) : o->zread);
        if (whole) {
            /* every lane of rd is written: its old value is not needed */
            l->aff &= ~RBIT(o->rd);
            l->stale &= ~RBIT(o->rd);
        } else {
            f_unaff(l, RBIT(o->rd));
        }
        if (o->op >= SVMGPU_OP_MOVI && o->op <= SVMGPU_OP_SEL) {
            f_move(l, q, o, w0, nw);
        } else {
            f_alu(l, o, w0, nw, ua);
        }
        break;
    }
    for (k = 0; k < nw; k++) {
        l->waves[w0 + k].pc += SVMGPU_ISA_INSN_SIZE;
    }
    *ndone = nw;
    return INSN_OK;
}

static void f_start_workgroup(SvmgpuFastLaunch *l,
                              const struct svmgpu_cmd_launch *c)
{
    unsigned wv;

    l->nwaves = (c->wg_size + SVMGPU_ISA_WAVE_SIZE - 1) / SVMGPU_ISA_WAVE_SIZE;
    l->cur = 0;
    for (wv = 0; wv < l->nwaves; wv++) {
        /*
         * Registers start at zero.  Only those an instruction may write
         * can have moved; f_exec() clears them, per wave, before the first
         * instruction that reads them or writes them in only some lanes.
         */
        l->zpend[wv] = l->written;
    }
    l->zpend_any = l->written;
    l->aff = l->stale = 0;
    for (wv = 0; wv < l->nwaves; wv++) {
        FWave *w = &l->waves[wv];
        unsigned lanes = c->wg_size - wv * SVMGPU_ISA_WAVE_SIZE;

        memset(w, 0, offsetof(FWave, stack));
        w->pc = c->code_va;
        w->alive = lanes >= 32 ? F_FULL : (1u << lanes) - 1;
        w->exec = w->alive;
    }
    l->wg_running = true;
}

/* True if every wave is runnable and at the same pc (a gang can run). */
static inline bool f_lockstep(const SvmgpuFastLaunch *l)
{
    const uint64_t pc = l->waves[0].pc;
    unsigned k;

    for (k = 0; k < l->nwaves; k++) {
        const FWave *w = &l->waves[k];

        if (w->finished || w->at_barrier || w->pc != pc) {
            return false;
        }
    }
    return true;
}

/*
 * A whole gang in lockstep with no active lane (a branch no lane takes):
 * the following instructions of the decoded page that are not control
 * instructions (nor illegal) change nothing but the waves' pcs and the
 * counts, so run as many gangs of them at once as the budget and the
 * step would let start one by one.  Not while an invalidation waits (the
 * next fetch must translate again).
 */
static void f_skip_idle(SvmgpuCore *core, SvmgpuFastLaunch *l, IsaMem *m,
                        unsigned *slice)
{
    const uint64_t pc = l->waves[0].pc;
    const unsigned nw = l->nwaves, limit = svmgpu_isa_slice(core);
    const FCodePage *cp = &l->code[l->code_last];
    unsigned idx = (pc >> 3) & (F_PAGE_INSNS - 1), n = 0, k;

    if (!cp->ok || cp->vpn != pc >> SVMGPU_PAGE_SHIFT ||
        __atomic_load_n(&core->inval_waiting, __ATOMIC_RELAXED)) {
        return;
    }
    /* DMA addresses unmapped since: the page is fetched again first */
    if (m->held && isa_mem_check_gen(core, m)) {
        f_code_forget(l);
        return;
    }
    while (idx + n < F_PAGE_INSNS &&
           cp->op[idx + n].op > SVMGPU_OP_ENDLOOP &&
           cp->op[idx + n].op != FOP_ILLEGAL &&
           l->budget - l->executed >= (uint64_t)(n + 1) * nw &&
           *slice + n * nw < limit &&
           __atomic_load_n(&core->map_gen, __ATOMIC_ACQUIRE) == m->gen) {
        n++;
    }
    for (k = 0; k < nw && n; k++) {
        l->waves[k].pc += (uint64_t)n * SVMGPU_ISA_INSN_SIZE;
        l->waves[k].done = 0;   /* as the reference's idle instructions */
    }
    l->executed += (uint64_t)n * nw;
    *slice += n * nw;
    m->hits += (uint64_t)n * nw;        /* each wave's fetch */
}

SvmgpuStep svmgpu_fast_step(SvmgpuCore *core, SvmgpuQueue *q,
                            SvmgpuMapCache *mc)
{
    SvmgpuQueueExec *x = &q->x;
    const struct svmgpu_cmd_launch *c = &x->cmd.launch;
    SvmgpuFastLaunch *l = x->fast;
    SvmgpuStep ret = SVMGPU_STEP_MORE;
    unsigned slice = 0, k;
    bool lockstep = false;      /* the last gang kept the waves together */
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
        l = f_launch_alloc();
        if (!l) {
            return SVMGPU_STEP_MORE;    /* host memory pressure: retry */
        }
        l->wg_total = total;
        l->budget = c->budget ? c->budget : SVMGPU_DEFAULT_BUDGET;
        x->fast = l;
    }

    memset(&m, 0, sizeof(m));
    m.mc = mc;
    while (slice < svmgpu_isa_slice(core)) {
        FWave *w = NULL;
        const FOp *o;
        InsnResult r = INSN_OK;
        unsigned wv = 0, nw = 1, ndone;
        bool any_barrier = false;
        uint8_t op;

        if (!l->wg_running) {
            if (l->wg >= l->wg_total) {
                ret = SVMGPU_STEP_DONE;
                break;
            }
            f_start_workgroup(l, c);
        }
        for (k = 0, wv = l->cur; k < l->nwaves;
             k++, wv = wv + 1 == l->nwaves ? 0 : wv + 1) {
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
            f_drop(core, l, &m);        /* let the invalidation in */
        }
        if (m.held && isa_mem_check_gen(core, &m)) {
            f_code_forget(l);
        }
        o = fetch(core, q, l, &m, w->pc, &r);
        if (!o) {
            ret = r == INSN_FAULT ? SVMGPU_STEP_FAULT : SVMGPU_STEP_DONE;
            break;
        }
        /* the waves' turns back to back: one gang, if the budget allows */
        if (wv == 0 && l->nwaves > 1 &&
            l->budget - l->executed >= l->nwaves &&
            (lockstep || f_lockstep(l))) {
            nw = l->nwaves;
            m.hits += nw - 1;           /* one fetch per wave */
        }
        op = o->op;
        r = f_exec(core, q, l, &m, o, wv, nw, &ndone);
        /* only control instructions part the waves of a whole gang */
        lockstep = nw == l->nwaves && ndone == nw && r == INSN_OK &&
                   op > SVMGPU_OP_ENDLOOP && op != FOP_ILLEGAL;
        l->executed += ndone;
        slice += ndone;
        /* the waves after the last one that ran did not fetch */
        m.hits -= nw - ndone - (r != INSN_OK);
        if (r == INSN_FAULT) {
            l->cur = wv + ndone;
            ret = SVMGPU_STEP_FAULT;
            break;
        }
        if (r == INSN_ERROR) {
            ret = SVMGPU_STEP_DONE;
            break;
        }
        l->cur = wv + ndone >= l->nwaves ? wv + ndone - l->nwaves : wv + ndone;
        if (lockstep && f_idle(l, 0, nw)) {
            f_skip_idle(core, l, &m, &slice);
        }
    }
    f_drop(core, l, &m);
    f_mat(l, l->stale);     /* regs[][] is the state between steps */
    pthread_mutex_lock(&core->lock);
    if (q->qgen == q->step_gen) {
        core->cnt_instructions += slice;
    }
    pthread_mutex_unlock(&core->lock);
    return ret;
}

/*
 * ---- preemption: the state in the save area's layout (hw-spec §16.2) ----
 *
 * Kept apart from the engine above: the canonical layout has registers
 * per lane (regs[lane][reg]); registers still pending their start-of-
 * workgroup clear (zpend) are 0 there.  An imported state has nothing
 * pending and every register counted as written.
 */
#include "isa-save.h"

void svmgpu_fast_export(const SvmgpuFastLaunch *l,
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
        uint32_t pend = l->zpend[lane / SVMGPU_ISA_WAVE_SIZE];

        for (r = 0; r < SVMGPU_ISA_NUM_REGS; r++) {
            a->regs[lane][r] = (pend >> r) & 1 ? 0 : l->regs[r][lane];
        }
    }
}

bool svmgpu_fast_import(SvmgpuFastLaunch **lp,
                        const struct svmgpu_cmd_launch *c,
                        const struct svmgpu_save_area *a)
{
    SvmgpuFastLaunch *l = f_launch_alloc();
    unsigned wv, lane, r;

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
    l->written = ~0u;       /* any register may be set: clear all next time */
    if (l->wg_running) {
        for (wv = 0; wv < l->nwaves; wv++) {
            isa_wave_import(&l->waves[wv], &a->waves[wv]);
        }
        for (lane = 0; lane < c->wg_size; lane++) {
            for (r = 0; r < SVMGPU_ISA_NUM_REGS; r++) {
                l->regs[r][lane] = a->regs[lane][r];
            }
        }
    }
    svmgpu_fast_free(*lp);
    *lp = l;
    return true;
}
