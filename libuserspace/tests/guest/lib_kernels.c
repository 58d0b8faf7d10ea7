// SPDX-License-Identifier: MIT
/*
 * lib_kernels: every ready kernel on the device against its CPU reference,
 * sizes from 1 element past several workgroups, including sizes that are
 * not multiples of the workgroup, and pointer chasing through lists and a
 * tree built with malloc.  SVMGPU_TEST_LARGE=1 in the environment or
 * svmgpu.test_large=1 on the kernel command line adds 64 MiB inputs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcheck.h"
#include "svmgpu.h"
#include "svmgpu_test.h"

FIXTURE(kern) {
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
};

FIXTURE_SETUP(kern)
{
	int ret = svmgpu_device_open(0, &self->dev);

	if (ret)
		SKIP(return, "no svmgpu device: %s", strerror(-ret));
	ASSERT_EQ(svmgpu_context_create(self->dev, &self->ctx), 0);
	ASSERT_EQ(svmgpu_queue_create(self->ctx, 0, &self->q), 0);
}

#define HANG_TIMEOUT "/sys/module/svmgpu/parameters/hang_timeout_ms"

/*
 * The driver's hang_timeout_ms when the harness started ("" if it cannot
 * be read: no such parameter; a write without root fails silently).  A
 * test that raises it, in its forked child, restores it in the fixture's
 * teardown, and the harness process once more when it exits (after a
 * child killed at its timeout).
 */
static char hang_timeout_old[32];

__attribute__((constructor)) static void hang_timeout_save(void)
{
	FILE *f = fopen(HANG_TIMEOUT, "r");

	if (f && !fgets(hang_timeout_old, sizeof(hang_timeout_old), f))
		hang_timeout_old[0] = '\0';
	if (f)
		fclose(f);
}

/* Write @val to hang_timeout_ms, if it was read at the start. */
static void hang_timeout_set(const char *val)
{
	FILE *f;

	if (!hang_timeout_old[0])
		return;
	f = fopen(HANG_TIMEOUT, "w");
	if (!f)
		return;
	fputs(val, f);
	if (fclose(f))
		fprintf(stderr, "# writing %s to %s failed\n", val, HANG_TIMEOUT);
}

__attribute__((destructor)) static void hang_timeout_restore(void)
{
	hang_timeout_set(hang_timeout_old);
}

FIXTURE_TEARDOWN(kern)
{
	if (self->q)
		svmgpu_queue_destroy(self->q);
	if (self->ctx)
		svmgpu_context_destroy(self->ctx);
	if (self->dev)
		svmgpu_device_close(self->dev);
	hang_timeout_restore();
}

static int dev_run(void *priv, const struct svmgpu_cmd *cmd)
{
	struct svmgpu_cmd_error err;
	int ret = svmgpu_queue_run(priv, cmd, 1, SVMGPU_TIMEOUT_INFINITE, &err);

	if (ret)
		TH_LOG("command failed: %d %s va 0x%llx access %s", ret, svmgpu_error_name(err.code),
		       (unsigned long long)err.va, svmgpu_access_name(err.access));
	return ret;
}

static const uint64_t sizes[] = { 1, 31, 33, 256, 257, 4097 };

static void check(struct svmgpu_queue *q, enum svmgpu_kernel k, const uint64_t *sz, size_t count)
{
	struct kcheck_result res;
	size_t i;

	for (i = 0; i < count; i++) {
		int ret = kcheck_kernel(k, sz[i], 1 + i, dev_run, q, &res);

		if (ret)
			TH_LOG("%s n=%llu: %d %s", svmgpu_kernel_name(k), (unsigned long long)sz[i],
			       ret, res.message);
		ASSERT_EQ(ret, 0);
	}
}

#define KTEST(name, kid) \
	TEST_F(kern, name) { check(self->q, kid, sizes, sizeof(sizes) / sizeof(sizes[0])); }

KTEST(vecadd, SVMGPU_KERNEL_VECADD)
KTEST(saxpy, SVMGPU_KERNEL_SAXPY)
KTEST(reduce_sum, SVMGPU_KERNEL_REDUCE_SUM)
KTEST(histogram, SVMGPU_KERNEL_HISTOGRAM)
KTEST(stencil2d, SVMGPU_KERNEL_STENCIL2D)
KTEST(list_walk, SVMGPU_KERNEL_LIST_WALK)
KTEST(tree_lookup, SVMGPU_KERNEL_TREE_LOOKUP)
KTEST(range_hash, SVMGPU_KERNEL_RANGE_HASH)

TEST_F(kern, sgemm)
{
	static const uint64_t s[] = { 1, 7, 33, 64 };

	check(self->q, SVMGPU_KERNEL_SGEMM, s, 4);
}

TEST_TIMEOUT(300)
TEST_F(kern, one_mebi_elements)
{
	static const uint64_t s[] = { (1u << 20) + 5 };

	check(self->q, SVMGPU_KERNEL_VECADD, s, 1);
	check(self->q, SVMGPU_KERNEL_REDUCE_SUM, s, 1);
	check(self->q, SVMGPU_KERNEL_HISTOGRAM, s, 1);
	check(self->q, SVMGPU_KERNEL_RANGE_HASH, s, 1);
}

static int on_cmdline(const char *word)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, word) != NULL;
}

TEST_TIMEOUT(1800)
TEST_F(kern, sixty_four_mebibytes)
{
	static const uint64_t s[] = { (16u << 20) + 7 };	/* 64 MiB of f32/u32 + 7 elements */
	/* pointer structures of 64 MiB or more: n lists of up to 8 nodes, an n-node tree */
	static const uint64_t lists[] = { (1u << 19) + 7 };
	static const uint64_t tree[] = { (1u << 20) + 7 };
	int k;

	if (!getenv("SVMGPU_TEST_LARGE") && !on_cmdline("svmgpu.test_large=1"))
		SKIP(return, "set SVMGPU_TEST_LARGE=1 or boot with svmgpu.test_large=1 for 64 MiB inputs");
	/*
	 * Under TCG one lookup of a million keys, each a walk through 64 MiB
	 * of tree, runs longer than the default 10 s a command may take
	 * (docs/driver.md, hung queues): give it 10 minutes.
	 */
	hang_timeout_set("600000");
	for (k = 0; k < SVMGPU_KERNEL_COUNT; k++)
		if (k != SVMGPU_KERNEL_SGEMM && k != SVMGPU_KERNEL_LIST_WALK &&
		    k != SVMGPU_KERNEL_TREE_LOOKUP)
			check(self->q, k, s, 1);
	check(self->q, SVMGPU_KERNEL_LIST_WALK, lists, 1);
	check(self->q, SVMGPU_KERNEL_TREE_LOOKUP, tree, 1);
}

TEST_HARNESS_MAIN
