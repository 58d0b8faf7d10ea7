// SPDX-License-Identifier: MIT
/*
 * CPU references for the ready kernels (see kref.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kref.h"

void kref_vecadd(const float *a, const float *b, float *out, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

void kref_saxpy(float a, const float *x, float *y, uint64_t n)
{
	uint64_t i;

	/* one rounding, as the kernel's FFMA */
	for (i = 0; i < n; i++)
		y[i] = fmaf(a, x[i], y[i]);
}

uint64_t kref_reduce_sum(const uint32_t *in, uint64_t n)
{
	uint64_t i, s = 0;

	for (i = 0; i < n; i++)
		s += in[i];
	return s;
}

void kref_sgemm(const float *a, const float *b, float *c, uint64_t m, uint64_t n, uint64_t k)
{
	uint64_t r, col, i;

	for (r = 0; r < m; r++)
		for (col = 0; col < n; col++) {
			float acc = 0.0f;

			/* one rounding per step, as the kernel's FFMA */
			for (i = 0; i < k; i++)
				acc = fmaf(a[r * k + i], b[i * n + col], acc);
			c[r * n + col] = acc;
		}
}

void kref_histogram(const uint32_t *in, uint32_t *hist, uint64_t n, uint64_t nbins)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		hist[in[i] % nbins]++;
}

void kref_stencil2d(const float *in, float *out, uint64_t w, uint64_t h)
{
	uint64_t x, y;

	for (y = 0; y < h; y++)
		for (x = 0; x < w; x++) {
			uint64_t i = y * w + x;
			float v = in[i];

			if (x > 0 && y > 0 && x < w - 1 && y < h - 1) {
				v = v + in[i - 1];
				v = v + in[i + 1];
				v = v + in[i - w];
				v = v + in[i + w];
				v = v * 0.2f;
			}
			out[i] = v;
		}
}

uint64_t kref_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Finite values in [-64, 64) with all 24 bits of the significand used, so
 * that products and sums round: a kernel that multiplied and added in two
 * steps where its reference fuses them (or the other way) is caught.
 */
void kref_fill_f32(float *p, uint64_t n, uint64_t *state)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		p[i] = (float)((int64_t)(kref_rand(state) % (1u << 24)) - (1 << 23)) /
		       131072.0f;
}

void kref_lists_free(struct kref_lists *l)
{
	uint64_t i;

	if (l->heads)
		for (i = 0; i < l->nlists; i++) {
			struct svmgpu_list_node *n = l->heads[i], *next;

			for (; n; n = next) {
				next = n->next;
				free(n);
			}
		}
	free(l->heads);
	free(l->sums);
	free(l->lengths);
	memset(l, 0, sizeof(*l));
}

int kref_lists_build(struct kref_lists *l, uint64_t nlists, unsigned int max_len, uint64_t *state)
{
	uint64_t i, j;

	memset(l, 0, sizeof(*l));
	l->nlists = nlists;
	l->heads = calloc(nlists ? nlists : 1, sizeof(*l->heads));
	l->sums = calloc(nlists ? nlists : 1, sizeof(*l->sums));
	l->lengths = calloc(nlists ? nlists : 1, sizeof(*l->lengths));
	if (!l->heads || !l->sums || !l->lengths)
		goto nomem;
	for (i = 0; i < nlists; i++) {
		uint64_t len = kref_rand(state) % (max_len + 1ull);

		for (j = 0; j < len; j++) {
			struct svmgpu_list_node *n = malloc(sizeof(*n));

			if (!n)
				goto nomem;
			n->value = kref_rand(state) >> 20;
			n->next = l->heads[i];
			l->heads[i] = n;
			l->sums[i] += n->value;
			l->lengths[i]++;
		}
	}
	return 0;
nomem:
	kref_lists_free(l);
	return -ENOMEM;
}

static void tree_free(struct svmgpu_tree_node *n)
{
	if (!n)
		return;
	tree_free(n->left);
	tree_free(n->right);
	free(n);
}

void kref_tree_free(struct kref_tree *t)
{
	tree_free(t->root);
	free(t->keys);
	memset(t, 0, sizeof(*t));
}

int kref_tree_build(struct kref_tree *t, uint64_t n, uint64_t *state)
{
	uint64_t i;

	memset(t, 0, sizeof(*t));
	t->keys = malloc((n ? n : 1) * sizeof(*t->keys));
	if (!t->keys)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		t->keys[i] = 2 * i + 1;		/* odd keys: even ones are absent */
	for (i = n; i > 1; i--) {		/* shuffle: random insertion order */
		uint64_t j = kref_rand(state) % i, tmp = t->keys[i - 1];

		t->keys[i - 1] = t->keys[j];
		t->keys[j] = tmp;
	}
	for (i = 0; i < n; i++) {
		struct svmgpu_tree_node **slot = &t->root, *node;

		while (*slot)
			slot = t->keys[i] < (*slot)->key ? &(*slot)->left : &(*slot)->right;
		node = calloc(1, sizeof(*node));
		if (!node) {
			kref_tree_free(t);
			return -ENOMEM;
		}
		node->key = t->keys[i];
		node->value = t->keys[i] * 1000003ull;
		*slot = node;
	}
	t->n = n;
	return 0;
}

uint64_t kref_tree_lookup(const struct kref_tree *t, uint64_t key)
{
	const struct svmgpu_tree_node *n = t->root;

	while (n) {
		if (n->key == key)
			return n->value;
		n = key < n->key ? n->left : n->right;
	}
	return SVMGPU_TREE_NOT_FOUND;
}
