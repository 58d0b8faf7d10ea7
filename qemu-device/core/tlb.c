/*
 * svmgpu TLB: set-associative, tagged by (context, page number, page size).
 *
 * 4 KiB, 2 MiB and 1 GiB entries share the array; each size hashes to its
 * own set, so a lookup probes at most three sets.  Replacement is LRU within
 * a set.  Failed walks are never inserted.
 *
 * Locking: the sets are split over SVMGPU_TLB_STRIPES lock stripes (set s:
 * stripe s % SVMGPU_TLB_STRIPES), each lock protecting its sets and its
 * LRU clock and counters; an operation holds at most one stripe at a time.
 * Callers may hold core->xlate and core->atomic_lock; core->lock only the
 * reset's svmgpu_tlb_flush().  One lock over the whole TLB made two engine
 * threads missing page after page wait for each other: with it, two
 * queues on two engines moved 0.6x the bytes of one queue on one engine
 * (bench-core engines).
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
    unsigned i;

    memset(tlb, 0, sizeof(*tlb));
    tlb->sets = sets;
    tlb->ways = ways;
    tlb->e = calloc((size_t)sets * ways, sizeof(*tlb->e));
    if (!tlb->e || posix_memalign((void **)&tlb->stripe, 64,
                                  SVMGPU_TLB_STRIPES * sizeof(*tlb->stripe))) {
        free(tlb->e);
        tlb->e = NULL;
        tlb->stripe = NULL;
        return -1;
    }
    memset(tlb->stripe, 0, SVMGPU_TLB_STRIPES * sizeof(*tlb->stripe));
    for (i = 0; i < SVMGPU_TLB_STRIPES; i++) {
        pthread_mutex_init(&tlb->stripe[i].lock, NULL);
    }
    return 0;
}

void svmgpu_tlb_destroy(SvmgpuTlb *tlb)
{
    unsigned i;

    for (i = 0; tlb->stripe && i < SVMGPU_TLB_STRIPES; i++) {
        pthread_mutex_destroy(&tlb->stripe[i].lock);
    }
    free(tlb->stripe);
    free(tlb->e);
    tlb->stripe = NULL;
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

static SvmgpuTlbStripe *tlb_stripe(SvmgpuTlb *tlb, uint32_t set)
{
    return &tlb->stripe[set % SVMGPU_TLB_STRIPES];
}

/* An entry of 2 MiB or 1 GiB became valid (+1) or invalid (-1). */
static void tlb_count_large(SvmgpuTlb *tlb, unsigned shift, int delta)
{
    if (shift > SVMGPU_PAGE_SHIFT) {
        __atomic_fetch_add(&tlb->large[shift == SVMGPU_LEAF_1G_SHIFT],
                           (uint32_t)delta, __ATOMIC_RELAXED);
    }
}

bool svmgpu_tlb_lookup(SvmgpuTlb *tlb, uint32_t ctx, uint64_t va,
                       SvmgpuTlbEntry *out)
{
    SvmgpuTlbStripe *st = NULL;
    unsigned i, w;

    for (i = 0; i < 3; i++) {
        unsigned shift = tlb_shifts[i];
        uint64_t vpn = va >> shift;
        SvmgpuTlbEntry *set;
        uint32_t s;

        if (i && !__atomic_load_n(&tlb->large[i - 1], __ATOMIC_RELAXED)) {
            continue;
        }
        s = tlb_set(tlb, ctx, vpn, shift);
        set = &tlb->e[(size_t)s * tlb->ways];
        if (st) {
            pthread_mutex_unlock(&st->lock);
        }
        st = tlb_stripe(tlb, s);
        pthread_mutex_lock(&st->lock);
        for (w = 0; w < tlb->ways; w++) {
            SvmgpuTlbEntry *e = &set[w];

            if (e->shift == shift && e->ctx == ctx && e->vpn == vpn) {
                e->lru = ++st->tick;
                *out = *e;
                st->hits++;
                pthread_mutex_unlock(&st->lock);
                return true;
            }
        }
    }
    /* the miss is counted in the stripe probed last */
    st->misses++;
    pthread_mutex_unlock(&st->lock);
    return false;
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
    uint32_t s = tlb_set(tlb, ctx, vpn, shift);
    SvmgpuTlbStripe *st = tlb_stripe(tlb, s);
    SvmgpuTlbEntry *set, *victim = NULL;
    unsigned w;

    pthread_mutex_lock(&st->lock);
    /* a flush bumps gen before it takes the stripes: see SvmgpuTlb */
    if (__atomic_load_n(&tlb->gen, __ATOMIC_ACQUIRE) != gen) {
        pthread_mutex_unlock(&st->lock);
        return;
    }
    set = &tlb->e[(size_t)s * tlb->ways];
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
        st->evictions++;
    }
    if (victim->shift != shift) {
        /*
         * Only when the size changes: a refresh of the one 2 MiB entry
         * must not let the count touch 0, where lookups skip that size.
         */
        tlb_count_large(tlb, shift, 1);
        tlb_count_large(tlb, victim->shift, -1);
    }
    victim->vpn = vpn;
    victim->pa = pa;
    victim->ctx = ctx;
    victim->shift = shift;
    victim->writable = writable;
    victim->lru = ++st->tick;
    pthread_mutex_unlock(&st->lock);
}

void svmgpu_tlb_remove(SvmgpuTlb *tlb, uint32_t ctx, uint64_t va,
                       unsigned shift)
{
    uint64_t vpn = va >> shift;
    uint32_t s = tlb_set(tlb, ctx, vpn, shift);
    SvmgpuTlbStripe *st = tlb_stripe(tlb, s);
    SvmgpuTlbEntry *set = &tlb->e[(size_t)s * tlb->ways];
    unsigned w;

    pthread_mutex_lock(&st->lock);
    for (w = 0; w < tlb->ways; w++) {
        if (set[w].shift == shift && set[w].ctx == ctx && set[w].vpn == vpn) {
            tlb_count_large(tlb, shift, -1);
            set[w].shift = 0;
        }
    }
    pthread_mutex_unlock(&st->lock);
}

/*
 * Stripe by stripe: callers hold core->xlate for writing (no walk, lookup
 * or insert of an engine runs meanwhile; a reset's svmgpu_tlb_flush() may,
 * but it only clears entries, each under its stripe's lock like this), so
 * the sweep needs no one lock over all sets.
 */
void svmgpu_tlb_invalidate(SvmgpuTlb *tlb, bool all, uint32_t ctx,
                           bool whole, uint64_t start, uint64_t size)
{
    uint64_t last = start + size - 1;
    unsigned k, w;
    uint32_t s;

    if (!all && !whole && size == 0) {
        return;
    }
    for (k = 0; k < SVMGPU_TLB_STRIPES; k++) {
        SvmgpuTlbStripe *st = &tlb->stripe[k];

        pthread_mutex_lock(&st->lock);
        for (s = k; s < tlb->sets; s += SVMGPU_TLB_STRIPES) {
            for (w = 0; w < tlb->ways; w++) {
                SvmgpuTlbEntry *e = &tlb->e[(size_t)s * tlb->ways + w];
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
                tlb_count_large(tlb, e->shift, -1);
                e->shift = 0;
            }
        }
        pthread_mutex_unlock(&st->lock);
    }
}

void svmgpu_tlb_flush(SvmgpuTlb *tlb)
{
    unsigned k, w;
    uint32_t s;

    /* first: an insert from here on is dropped (svmgpu_tlb_insert()) */
    __atomic_fetch_add(&tlb->gen, 1, __ATOMIC_ACQ_REL);
    for (k = 0; k < SVMGPU_TLB_STRIPES; k++) {
        SvmgpuTlbStripe *st = &tlb->stripe[k];

        pthread_mutex_lock(&st->lock);
        for (s = k; s < tlb->sets; s += SVMGPU_TLB_STRIPES) {
            SvmgpuTlbEntry *set = &tlb->e[(size_t)s * tlb->ways];

            for (w = 0; w < tlb->ways; w++) {
                tlb_count_large(tlb, set[w].shift, -1);
            }
            memset(set, 0, tlb->ways * sizeof(*tlb->e));
        }
        st->tick = 0;
        st->hits = st->misses = st->evictions = 0;
        pthread_mutex_unlock(&st->lock);
    }
}

/* Hits of an engine's own entries (isa-common.h): counted in stripe 0. */
void svmgpu_tlb_count_hits(SvmgpuTlb *tlb, uint64_t n)
{
    if (n) {
        pthread_mutex_lock(&tlb->stripe[0].lock);
        tlb->stripe[0].hits += n;
        pthread_mutex_unlock(&tlb->stripe[0].lock);
    }
}

void svmgpu_tlb_counters(SvmgpuTlb *tlb, uint64_t *hits, uint64_t *misses,
                         uint64_t *evictions)
{
    unsigned k;

    *hits = *misses = *evictions = 0;
    for (k = 0; k < SVMGPU_TLB_STRIPES; k++) {
        SvmgpuTlbStripe *st = &tlb->stripe[k];

        pthread_mutex_lock(&st->lock);
        *hits += st->hits;
        *misses += st->misses;
        *evictions += st->evictions;
        pthread_mutex_unlock(&st->lock);
    }
}
