// SPDX-License-Identifier: MIT
/*
 * Ready-kernel checks against the CPU references (see kcheck.h).
 *
 * Sizes: @n is the element count for vecadd, saxpy, reduce_sum, histogram
 * and range_hash; the number of lists (lengths 0..8) for list_walk; the
 * number of tree keys for tree_lookup (looking up 2n keys, half absent);
 * for sgemm an n x (n/2 + 3) result with an inner dimension of n + 1; for
 * stencil2d a grid of width n and height (n % 5) + 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcheck.h"
#include "kref.h"

static void *xalloc(size_t n)
{
	return aligned_alloc(64, ((n ? n : 1) + 63) & ~(size_t)63);
}

static int launch(enum svmgpu_kernel k, void *args, kcheck_run_fn run, void *priv,
		  struct kcheck_result *res)
{
	struct svmgpu_program *prog;
	struct svmgpu_launch l;
	struct svmgpu_cmd cmd;
	int ret;

	ret = svmgpu_kernel_launch_shape(k, args, &l);
	if (ret == -ENODATA)
		return 0;	/* nothing to do */
	if (ret) {
		snprintf(res->message, sizeof(res->message), "launch shape: %d", ret);
		return ret;
	}
	ret = svmgpu_kernel_program(k, &prog);
	if (ret)
		return ret;
	ret = svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), args, &l, 0);
	if (!ret)
		ret = run(priv, &cmd);
	if (ret && !res->message[0])
		snprintf(res->message, sizeof(res->message), "%s: run failed: %d",
			 svmgpu_kernel_name(k), ret);
	svmgpu_program_destroy(prog);
	return ret;
}

static int cmp_u32(const uint32_t *got, const uint32_t *want, uint64_t n, const char *what,
		   struct kcheck_result *res)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (got[i] != want[i]) {
			snprintf(res->message, sizeof(res->message),
				 "%s[%llu] = 0x%08x, CPU 0x%08x", what, (unsigned long long)i,
				 got[i], want[i]);
			return -EILSEQ;
		}
	return 0;
}

static int cmp_u64(const uint64_t *got, const uint64_t *want, uint64_t n, const char *what,
		   struct kcheck_result *res)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (got[i] != want[i]) {
			snprintf(res->message, sizeof(res->message),
				 "%s[%llu] = %llu, CPU %llu", what, (unsigned long long)i,
				 (unsigned long long)got[i], (unsigned long long)want[i]);
			return -EILSEQ;
		}
	return 0;
}

static int check_vecadd(uint64_t n, uint64_t *s, kcheck_run_fn run, void *priv, struct kcheck_result *res)
{
	struct svmgpu_vecadd_args *args = xalloc(sizeof(*args));
	float *a = xalloc(n * 4), *b = xalloc(n * 4), *out = xalloc(n * 4), *want = xalloc(n * 4);
	int ret = -ENOMEM;

	if (!args || !a || !b || !out || !want)
		goto out;
	kref_fill_f32(a, n, s);
	kref_fill_f32(b, n, s);
	memset(out, 0xcd, n * 4);
	kref_vecadd(a, b, want, n);
	*args = (struct svmgpu_vecadd_args){ a, b, out, n };
	ret = launch(SVMGPU_KERNEL_VECADD, args, run, priv, res);
	if (!ret)
		ret = cmp_u32((uint32_t *)out, (uint32_t *)want, n, "out", res);
	res->items = n;
	res->bytes = 12 * n;
out:
	free(args); free(a); free(b); free(out); free(want);
	return ret;
}

static int check_saxpy(uint64_t n, uint64_t *s, kcheck_run_fn run, void *priv, struct kcheck_result *res)
{
	struct svmgpu_saxpy_args *args = xalloc(sizeof(*args));
	float *x = xalloc(n * 4), *y = xalloc(n * 4), *want = xalloc(n * 4);
	int ret = -ENOMEM;

	if (!args || !x || !y || !want)
		goto out;
	kref_fill_f32(x, n, s);
	kref_fill_f32(y, n, s);
	memcpy(want, y, n * 4);
	kref_saxpy(1.5f, x, want, n);
	memset(args, 0, sizeof(*args));
	args->x = x;
	args->y = y;
	args->n = n;
	args->a = 1.5f;
	ret = launch(SVMGPU_KERNEL_SAXPY, args, run, priv, res);
	if (!ret)
		ret = cmp_u32((uint32_t *)y, (uint32_t *)want, n, "y", res);
	res->items = n;
	res->bytes = 12 * n;
out:
	free(args); free(x); free(y); free(want);
	return ret;
}

static int check_reduce(uint64_t n, uint64_t *s, kcheck_run_fn run, void *priv, struct kcheck_result *res)
{
	uint64_t padded = (n + SVMGPU_REDUCE_WG_SIZE - 1) / SVMGPU_REDUCE_WG_SIZE * SVMGPU_REDUCE_WG_SIZE;
	struct svmgpu_reduce_args *args = xalloc(sizeof(*args));
	uint32_t *in = xalloc(n * 4);
	uint64_t *scratch = xalloc(padded * 8), *sum = xalloc(8), want, i;
	int ret = -ENOMEM;

	if (!args || !in || !scratch || !sum)
		goto out;
	for (i = 0; i < n; i++)
		in[i] = (uint32_t)kref_rand(s);
	want = kref_reduce_sum(in, n) + 7;
	*sum = 7;	/* the kernel adds to it */
	*args = (struct svmgpu_reduce_args){ in, sum, scratch, n };
	ret = launch(SVMGPU_KERNEL_REDUCE_SUM, args, run, priv, res);
	if (!ret)
		ret = cmp_u64(sum, &want, 1, "sum", res);
	res->items = n;
	res->bytes = 4 * n;
out:
	free(args); free(in); free(scratch); free(sum);
	return ret;
}

/*
 * C gets a guard of SGEMM_GUARD words after it, and starts as a pattern, so
 * that a store past row m - 1 or a missing store is caught too.
 */
#define SGEMM_GUARD	64
#define SGEMM_FILL	0x7fbadbadu

static int check_sgemm(uint64_t n, uint64_t *s, kcheck_run_fn run, void *priv, struct kcheck_result *res)
{
	uint64_t m = n, cols = n / 2 + 3, k = n + 1, i;
	struct svmgpu_sgemm_args *args = xalloc(sizeof(*args));
	float *a = xalloc(m * k * 4), *b = xalloc(k * cols * 4);
	float *c = xalloc((m * cols + SGEMM_GUARD) * 4), *want = xalloc(m * cols * 4);
	uint32_t guard[SGEMM_GUARD];
	int ret = -ENOMEM;

	if (!args || !a || !b || !c || !want)
		goto out;
	kref_fill_f32(a, m * k, s);
	kref_fill_f32(b, k * cols, s);
	kref_sgemm(a, b, want, m, cols, k);
	for (i = 0; i < m * cols + SGEMM_GUARD; i++)
		((uint32_t *)c)[i] = SGEMM_FILL;
	for (i = 0; i < SGEMM_GUARD; i++)
		guard[i] = SGEMM_FILL;
	*args = (struct svmgpu_sgemm_args){ a, b, c, m, cols, k };
	ret = launch(SVMGPU_KERNEL_SGEMM, args, run, priv, res);
	if (!ret)
		ret = cmp_u32((uint32_t *)c, (uint32_t *)want, m * cols, "c", res);
	if (!ret)
		ret = cmp_u32((uint32_t *)c + m * cols, guard, SGEMM_GUARD, "past c", res);
	res->items = m * cols;
	res->bytes = 4 * (m * k + k * cols + m * cols);
out:
	free(args); free(a); free(b); free(c); free(want);
	return ret;
}

static int check_histogram(uint64_t n, uint64_t *s, kcheck_run_fn run, void *priv, struct kcheck_result *res)
{
	uint64_t nbins = n % 61 + 3, i;
	struct svmgpu_histogram_args *args = xalloc(sizeof(*args));
	uint32_t *in = xalloc(n * 4), *hist = xalloc(nbins * 4), *want = xalloc(nbins * 4);
	int ret = -ENOMEM;

	if (!args || !in || !hist || !want)
		goto out;
	for (i = 0; i < n; i++)
		in[i] = (uint32_t)kref_rand(s);
	memset(hist, 0, nbins * 4);
	memset(want, 0, nbins * 4);
	kref_histogram(in, want, n, nbins);
	*args = (struct svmgpu_histogram_args){ in, hist, n, nbins };
	ret = launch(SVMGPU_KERNEL_HISTOGRAM, args, run, priv, res);
	if (!ret)
		ret = cmp_u32(hist, want, nbins, "hist", res);
	res->items = n;
	res->bytes = 4 * n;
out:
	free(args); free(in); free(hist); free(want);
	return ret;
}

static int check_stencil(uint64_t n, uint64_t *s, kcheck_run_fn run, void *priv, struct kcheck_result *res)
{
	uint64_t w = n, h = n % 5 + 1;
	struct svmgpu_stencil2d_args *args = xalloc(sizeof(*args));
	float *in = xalloc(w * h * 4), *out = xalloc(w * h * 4), *want = xalloc(w * h * 4);
	int ret = -ENOMEM;

	if (!args || !in || !out || !want)
		goto out;
	kref_fill_f32(in, w * h, s);
	kref_stencil2d(in, want, w, h);
	*args = (struct svmgpu_stencil2d_args){ in, out, w, h };
	ret = launch(SVMGPU_KERNEL_STENCIL2D, args, run, priv, res);
	if (!ret)
		ret = cmp_u32((uint32_t *)out, (uint32_t *)want, w * h, "out", res);
	res->items = w * h;
	res->bytes = 8 * w * h;
out:
	free(args); free(in); free(out); free(want);
	return ret;
}

static int check_lists(uint64_t n, uint64_t *s, kcheck_run_fn run, void *priv, struct kcheck_result *res)
{
	struct svmgpu_list_walk_args *args = xalloc(sizeof(*args));
	uint64_t *sums = xalloc(n * 8), *lengths = xalloc(n * 8);
	struct kref_lists l;
	int ret = -ENOMEM;

	if (!args || !sums || !lengths || kref_lists_build(&l, n, 8, s))
		goto out;
	*args = (struct svmgpu_list_walk_args){ l.heads, sums, lengths, n };
	ret = launch(SVMGPU_KERNEL_LIST_WALK, args, run, priv, res);
	if (!ret)
		ret = cmp_u64(sums, l.sums, n, "sums", res);
	if (!ret)
		ret = cmp_u64(lengths, l.lengths, n, "lengths", res);
	res->items = n;
	kref_lists_free(&l);
out:
	free(args); free(sums); free(lengths);
	return ret;
}

static int check_tree(uint64_t n, uint64_t *s, kcheck_run_fn run, void *priv, struct kcheck_result *res)
{
	uint64_t nkeys = 2 * n, i;
	struct svmgpu_tree_lookup_args *args = xalloc(sizeof(*args));
	uint64_t *keys = xalloc(nkeys * 8), *values = xalloc(nkeys * 8), *want = xalloc(nkeys * 8);
	struct kref_tree t;
	int ret = -ENOMEM;

	if (!args || !keys || !values || !want || kref_tree_build(&t, n, s))
		goto out;
	for (i = 0; i < nkeys; i++) {
		keys[i] = kref_rand(s) % (2 * n + 2);	/* odd: present, even: absent */
		want[i] = kref_tree_lookup(&t, keys[i]);
	}
	*args = (struct svmgpu_tree_lookup_args){ t.root, keys, values, nkeys };
	ret = launch(SVMGPU_KERNEL_TREE_LOOKUP, args, run, priv, res);
	if (!ret)
		ret = cmp_u64(values, want, nkeys, "values", res);
	res->items = nkeys;
	kref_tree_free(&t);
out:
	free(args); free(keys); free(values); free(want);
	return ret;
}

static int check_hash(uint64_t n, uint64_t *s, kcheck_run_fn run, void *priv, struct kcheck_result *res)
{
	struct svmgpu_range_hash_args *args = xalloc(sizeof(*args));
	uint64_t *data = xalloc(n * 8), *expect = xalloc(n * 8), *out = xalloc(24), i, want = 0;
	uint64_t bad = n / 3, wmis[3];
	int ret = -ENOMEM;

	if (!args || !data || !expect || !out)
		goto out;
	for (i = 0; i < n; i++) {
		data[i] = kref_rand(s);
		expect[i] = data[i];
		want += svmgpu_hash_word(data[i], i);
	}
	expect[bad] ^= 1;			/* one planted difference ... */
	if (n > 1)
		expect[n - 1] ^= 2;		/* ... and another after it */
	out[0] = 0;
	out[1] = 0;
	out[2] = UINT64_MAX;
	*args = (struct svmgpu_range_hash_args){ data, expect, n, &out[0], &out[1], &out[2] };
	ret = launch(SVMGPU_KERNEL_RANGE_HASH, args, run, priv, res);
	wmis[0] = want;
	wmis[1] = bad == n - 1 || n == 1 ? 1 : 2;
	wmis[2] = bad;
	if (!ret)
		ret = cmp_u64(out, wmis, 3, "hash/mismatches/first", res);
	res->items = n;
	res->bytes = 16 * n;
out:
	free(args); free(data); free(expect); free(out);
	return ret;
}

int kcheck_kernel(enum svmgpu_kernel k, uint64_t n, uint64_t seed, kcheck_run_fn run, void *priv,
		  struct kcheck_result *res)
{
	uint64_t s = seed * 0x100000001b3ull + k;

	memset(res, 0, sizeof(*res));
	switch (k) {
	case SVMGPU_KERNEL_VECADD: return check_vecadd(n, &s, run, priv, res);
	case SVMGPU_KERNEL_SAXPY: return check_saxpy(n, &s, run, priv, res);
	case SVMGPU_KERNEL_REDUCE_SUM: return check_reduce(n, &s, run, priv, res);
	case SVMGPU_KERNEL_SGEMM: return check_sgemm(n, &s, run, priv, res);
	case SVMGPU_KERNEL_HISTOGRAM: return check_histogram(n, &s, run, priv, res);
	case SVMGPU_KERNEL_STENCIL2D: return check_stencil(n, &s, run, priv, res);
	case SVMGPU_KERNEL_LIST_WALK: return check_lists(n, &s, run, priv, res);
	case SVMGPU_KERNEL_TREE_LOOKUP: return check_tree(n, &s, run, priv, res);
	case SVMGPU_KERNEL_RANGE_HASH: return check_hash(n, &s, run, priv, res);
	default: return -EINVAL;
	}
}
