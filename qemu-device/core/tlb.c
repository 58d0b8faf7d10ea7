/*
 * svmgpu TLB: set-associative, tagged by (context, page number, page size).
 *
 * 4 KiB, 2 MiB and 1 GiB entries share the array; each size hashes to its
 * own set, so a lookup probes at most three sets.  Replacement is LRU within
 * a set.  Failed walks are never inserted.
 *
 * Locking: tlb->lock protects everything here; callers may hold core->xlate
 * and core->atomic_lock; core->lock only the reset's svmgpu_tlb_flush().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const unsigned tlb_shifts[] = {
    SVMGPU_PAGE_SHIFT, SVMGPU_LEAF_2M_SHIFT, SVMGPU_LEAF_1G_SHIFT,
};

int svmgpu_tlb_init(SvmgpuTlb *tlb, uint32_t sets, uint32_t ways)
{
    memset(tlb, 0, sizeof(*tlb));
    tlb->sets = sets;
    tlb->ways = ways;
    tlb->e = calloc((size_t)sets * ways, sizeof(*tlb->e));
    if (!tlb->e) {
        return -1;
    }
    pthread_mutex_init(&tlb->lock, NULL);
    return 0;
}

void svmgpu_tlb_destroy(SvmgpuTlb *tlb)
{
    pthread_mutex_destroy(&tlb->lock);
    free(tlb->e);
    tlb->e = NULL;
}

static uint32_t tlb_set(const SvmgpuTlb *tlb, uint32_t ctx, uint64_t vpn,
                        unsigned shift)
{
    uint64_t h = vpn * 0x9e3779b97f4a7c15ull;

    h ^= (uint64_t)ctx * 0xc2b2ae3d27d4eb4full + shift;
    h ^= h >> 29;
    return (uint32_t)h & (tlb->sets - 1);
}

bool svmgpu_tlb_lookup(SvmgpuTlb *tlb, uint32_t ctx, uint64_t va,
                       SvmgpuTlbEntry *out)
{
    unsigned i, w;
    bool hit = false;

    pthread_mutex_lock(&tlb->lock);
    for (i = 0; i < 3 && !hit; i++) {
        unsigned shift = tlb_shifts[i];
        uint64_t vpn = va >> shift;
        SvmgpuTlbEntry *set = &tlb->e[(size_t)tlb_set(tlb, ctx, vpn, shift) *
                                      tlb->ways];

        for (w = 0; w < tlb->ways; w++) {
            SvmgpuTlbEntry *e = &set[w];

            if (e->shift == shift && e->ctx == ctx && e->vpn == vpn) {
                e->lru = ++tlb->tick;
                *out = *e;
                hit = true;
                break;
            }
        }
    }
    if (hit) {
        tlb->hits++;
    } else {
        tlb->misses++;
    }
    pthread_mutex_unlock(&tlb->lock);
    return hit;
}

/*
 * Insert the result of a walk that began at TLB generation @gen
 * (svmgpu_tlb_gen(), read before the walk read its context): nothing if a
 * flush came in between, since the walk may have read tables the reset
 * let go of.
 */
void svmgpu_tlb_insert(SvmgpuTlb *tlb, uint64_t gen, uint32_t ctx, uint64_t va,
                       unsigned shift, uint64_t pa, bool writable)
{
    uint64_t vpn = va >> shift;
    SvmgpuTlbEntry *set, *victim = NULL;
    unsigned w;

    pthread_mutex_lock(&tlb->lock);
    if (tlb->gen != gen) {
        pthread_mutex_unlock(&tlb->lock);
        return;
    }
    set = &tlb->e[(size_t)tlb_set(tlb, ctx, vpn, shift) * tlb->ways];
    for (w = 0; w < tlb->ways; w++) {
        SvmgpuTlbEntry *e = &set[w];

        if (e->shift == shift && e->ctx == ctx && e->vpn == vpn) {
            victim = e;         /* refresh an existing entry */
            break;
        }
        if (!e->shift) {
            if (!victim || victim->shift) {
                victim = e;
            }
        } else if (!victim || (victim->shift && e->lru < victim->lru)) {
            victim = e;
        }
    }
    if (victim->shift && !(victim->shift == shift && victim->ctx == ctx &&
                           victim->vpn == vpn)) {
        tlb->evictions++;
    }
    victim->vpn = vpn;
    victim->pa = pa;
    victim->ctx = ctx;
    victim->shift = shift;
    victim->writable = writable;
    victim->lru = ++tlb->tick;
    pthread_mutex_unlock(&tlb->lock);
}

void svmgpu_tlb_remove(SvmgpuTlb *tlb, uint32_t ctx, uint64_t va,
                       unsigned shift)
{
    uint64_t vpn = va >> shift;
    SvmgpuTlbEntry *set;
    unsigned w;

    pthread_mutex_lock(&tlb->lock);
    set = &tlb->e[(size_t)tlb_set(tlb, ctx, vpn, shift) * tlb->ways];
    for (w = 0; w < tlb->ways; w++) {
        if (set[w].shift == shift && set[w].ctx == ctx && set[w].vpn == vpn) {
            set[w].shift = 0;
        }
    }
    pthread_mutex_unlock(&tlb->lock);
}

void svmgpu_tlb_invalidate(SvmgpuTlb *tlb, bool all, uint32_t ctx,
                           bool whole, uint64_t start, uint64_t size)
{
    size_t i, n = (size_t)tlb->sets * tlb->ways;
    uint64_t last = start + size - 1;

    if (!all && !whole && size == 0) {
        return;
    }
    pthread_mutex_lock(&tlb->lock);
    for (i = 0; i < n; i++) {
        SvmgpuTlbEntry *e = &tlb->e[i];
        uint64_t first_va, last_va;

        if (!e->shift) {
            continue;
        }
        if (!all) {
            if (e->ctx != ctx) {
                continue;
            }
            if (!whole) {
                first_va = e->vpn << e->shift;
                last_va = first_va + ((1ull << e->shift) - 1);
                if (last_va < start || first_va > last) {
                    continue;
                }
            }
        }
        e->shift = 0;
    }
    pthread_mutex_unlock(&tlb->lock);
}

void svmgpu_tlb_flush(SvmgpuTlb *tlb)
{
    pthread_mutex_lock(&tlb->lock);
    memset(tlb->e, 0, (size_t)tlb->sets * tlb->ways * sizeof(*tlb->e));
    tlb->tick = 0;
    tlb->hits = tlb->misses = tlb->evictions = 0;
    __atomic_store_n(&tlb->gen, tlb->gen + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&tlb->lock);
}

void svmgpu_tlb_count_hits(SvmgpuTlb *tlb, uint64_t n)
{
    if (!n) {
        return;
    }
    pthread_mutex_lock(&tlb->lock);
    tlb->hits += n;
    pthread_mutex_unlock(&tlb->lock);
}

void svmgpu_tlb_counters(SvmgpuTlb *tlb, uint64_t *hits, uint64_t *misses,
                         uint64_t *evictions)
{
    pthread_mutex_lock(&tlb->lock);
    *hits = tlb->hits;
    *misses = tlb->misses;
    *evictions = tlb->evictions;
    pthread_mutex_unlock(&tlb->lock);
}
