/*
 * svmgpu MMU: the 4-level page-table walker and translation through the TLB
 * (docs/hw-spec.md §5, §6).
 *
 * A walk is at most four 8-byte DMA reads, so malformed or cyclic tables
 * cannot loop.  A leaf of aperture 1 translates to SVMGPU_PA_LOCAL | its
 * offset in device-local memory (§5a), which the TLB keeps like any page.  Successful walks fill the TLB; failed ones do not.  A
 * permission failure on a TLB hit re-walks before faulting, so the driver
 * need not invalidate after upgrading an entry.
 *
 * Locking: svmgpu_mmu_translate() runs with core->xlate held for reading,
 * which keeps invalidations out until the caller's access is done.  It takes
 * no core lock (the context's root and the walk counter are atomics: two
 * engines missing the TLB page after page used to meet on core->lock),
 * only TLB stripe locks inside the TLB, one at a time.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "internal.h"

static bool access_needs_write(unsigned access)
{
    return access == SVMGPU_ACCESS_WRITE || access == SVMGPU_ACCESS_ATOMIC;
}

static SvmgpuXlateStatus walk_fault(SvmgpuXlate *out, uint8_t reason)
{
    out->reason = reason;
    return SVMGPU_XLATE_FAULT;
}

SvmgpuXlateStatus svmgpu_mmu_walk(SvmgpuCore *core, uint64_t root,
                                  uint64_t va, unsigned access,
                                  SvmgpuXlate *out)
{
    uint64_t table = root & SVMGPU_PTE_ADDR_MASK;
    int lvl;

    memset(out, 0, sizeof(*out));
    __atomic_fetch_add(&core->cnt_walks, 1, __ATOMIC_RELAXED);

    for (lvl = SVMGPU_PT_LEVELS; lvl >= 1; lvl--) {
        uint64_t pte_addr = table + SVMGPU_PT_INDEX(va, lvl) * 8;
        unsigned shift = SVMGPU_PT_LEVEL_SHIFT(lvl);
        uint64_t pte, mask, page, aperture;
        bool leaf;

        if (core->ops->dma_read(core->opaque, pte_addr, &pte, 8)) {
            return walk_fault(out, SVMGPU_FAULT_WALK_DMA);
        }
        if (!(pte & SVMGPU_PTE_VALID)) {
            return walk_fault(out, SVMGPU_FAULT_NOT_PRESENT);
        }
        if (pte & SVMGPU_PTE_RSVD_MASK) {
            return walk_fault(out, SVMGPU_FAULT_BAD_PTE);
        }
        leaf = lvl == 1 || (pte & SVMGPU_PTE_LEAF);
        if (!leaf) {
            table = pte & SVMGPU_PTE_ADDR_MASK;
            continue;
        }
        if (lvl == 4) {
            return walk_fault(out, SVMGPU_FAULT_BAD_PTE);
        }
        mask = (1ull << shift) - 1;
        page = pte & SVMGPU_PTE_ADDR_MASK;
        aperture = (pte & SVMGPU_PTE_APERTURE_MASK) >>
                   SVMGPU_PTE_APERTURE_SHIFT;
        if ((page & mask) || aperture > SVMGPU_APERTURE_LOCAL) {
            return walk_fault(out, SVMGPU_FAULT_BAD_PTE);
        }
        if (aperture == SVMGPU_APERTURE_LOCAL) {
            /* the whole page inside device-local memory (§5a) */
            if (page >= core->cfg.local_mem_size ||
                core->cfg.local_mem_size - page < mask + 1) {
                return walk_fault(out, SVMGPU_FAULT_BAD_PTE);
            }
            page |= SVMGPU_PA_LOCAL;
        }
        out->shift = shift;
        out->writable = pte & SVMGPU_PTE_WRITABLE;
        out->pa = page | (va & mask);
        out->len = (mask + 1) - (va & mask);
        if (access_needs_write(access) && !out->writable) {
            out->reason = SVMGPU_FAULT_WRITE_PROTECT;
            return SVMGPU_XLATE_FAULT;
        }
        return SVMGPU_XLATE_OK;
    }
    return walk_fault(out, SVMGPU_FAULT_BAD_PTE);   /* not reached */
}

SvmgpuXlateStatus svmgpu_mmu_translate(SvmgpuCore *core, uint32_t ctx,
                                       uint64_t va, unsigned access,
                                       SvmgpuXlate *out)
{
    SvmgpuTlbEntry e;
    SvmgpuXlateStatus st;
    uint64_t root, mask, gen;

    if (va >> SVMGPU_VA_BITS) {
        return SVMGPU_XLATE_INVALID_VA;
    }
    if (ctx >= SVMGPU_MAX_CONTEXTS) {
        return SVMGPU_XLATE_CTX_INVALID;
    }
    if (svmgpu_tlb_lookup(&core->tlb, ctx, va, &e)) {
        if (!access_needs_write(access) || e.writable) {
            mask = (1ull << e.shift) - 1;
            out->pa = e.pa | (va & mask);
            out->len = (mask + 1) - (va & mask);
            out->shift = e.shift;
            out->writable = e.writable;
            out->reason = 0;
            return SVMGPU_XLATE_OK;
        }
        /* Maybe upgraded since the fill: drop it and walk again. */
        svmgpu_tlb_remove(&core->tlb, ctx, va, e.shift);
    }

    /*
     * Read before the context: a reset from here on bumps it, and the
     * insert below is dropped.  A reset clears the roots before it bumps
     * the generation (reset_locked()), so a walk that reads the new
     * generation finds no old root.
     */
    gen = svmgpu_tlb_gen(&core->tlb);
    root = __atomic_load_n(&core->ctxs[ctx].root, __ATOMIC_ACQUIRE);
    if (!(root & SVMGPU_CTX_ROOT_ON)) {
        return SVMGPU_XLATE_CTX_INVALID;
    }
    root &= ~SVMGPU_CTX_ROOT_ON;
    svmgpu_trace(core, SVMGPU_TRACE_TLB_MISS, ctx, va, access);
    st = svmgpu_mmu_walk(core, root, va, access, out);
    if (st == SVMGPU_XLATE_OK || (st == SVMGPU_XLATE_FAULT &&
                                  out->reason == SVMGPU_FAULT_WRITE_PROTECT)) {
        mask = (1ull << out->shift) - 1;
        svmgpu_tlb_insert(&core->tlb, gen, ctx, va, out->shift,
                          out->pa & ~mask, out->writable);
    }
    return st;
}
