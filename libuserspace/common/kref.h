/* SPDX-License-Identifier: MIT */
/*
 * CPU references for the ready kernels and builders for their inputs,
 * shared by the host tests, the in-guest tests and the tools.  Floating
 * point runs operation for operation as the kernels do (this file is
 * built with -ffp-contract=off), so results compare bit for bit.
 */
#ifndef SVMGPU_KREF_H
#define SVMGPU_KREF_H

#include <stddef.h>
#include <stdint.h>

#include "svmgpu.h"

void kref_vecadd(const float *a, const float *b, float *out, uint64_t n);
void kref_saxpy(float a, const float *x, float *y, uint64_t n);
uint64_t kref_reduce_sum(const uint32_t *in, uint64_t n);
void kref_sgemm(const float *a, const float *b, float *c, uint64_t m, uint64_t n, uint64_t k);
void kref_histogram(const uint32_t *in, uint32_t *hist, uint64_t n, uint64_t nbins);
void kref_stencil2d(const float *in, float *out, uint64_t w, uint64_t h);

/* Deterministic pseudo-random numbers (splitmix64). */
uint64_t kref_rand(uint64_t *state);
/* Small floats with exact sums: multiples of 1/8 in [-64, 64). */
void kref_fill_f32(float *p, uint64_t n, uint64_t *state);

/*
 * @nlists lists of pseudo-random lengths (0..max_len) with nodes allocated
 * one by one with malloc; kref_lists_free() frees them.
 */
struct kref_lists {
	struct svmgpu_list_node **heads;
	uint64_t *sums, *lengths;	/* expected */
	uint64_t nlists;
};
int kref_lists_build(struct kref_lists *l, uint64_t nlists, unsigned int max_len, uint64_t *state);
void kref_lists_free(struct kref_lists *l);

/* A binary search tree of @n distinct keys (malloc per node), random insertion order. */
struct kref_tree {
	struct svmgpu_tree_node *root;
	uint64_t *keys;		/* the keys present */
	uint64_t n;
};
int kref_tree_build(struct kref_tree *t, uint64_t n, uint64_t *state);
uint64_t kref_tree_lookup(const struct kref_tree *t, uint64_t key);
void kref_tree_free(struct kref_tree *t);

#endif
