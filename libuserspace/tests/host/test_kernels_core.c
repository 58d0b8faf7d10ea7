// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ready kernels on the svmgpu device core itself (qemu-device/core,
 * sync mode), against their CPU references.  The test plays a minimal SVM
 * driver: on each fault it mirrors the faulting page of this process into
 * the core's RAM at the same virtual address and replays; when the kernel
 * has completed, the bytes the device changed are copied back (only those:
 * the core itself may allocate on the same heap pages meanwhile).  (GPL
 * because it links the core.)
 */
#include "test-env.h"

#include "kcheck.h"
#include "svmgpu.h"

#define MAX_PAGES	12000

/* Static, so never on a page the kernels touch (and mirror). */
static TestDev dev;
static uint64_t mirrored[MAX_PAGES];
static uint8_t snapshot[MAX_PAGES][SVMGPU_PAGE_SIZE];
static unsigned int nmirrored, nfaults;

static int mirror(TestDev *t, uint64_t va)
{
	uint64_t page = va & ~(SVMGPU_PAGE_SIZE - 1), pa;

	if (nmirrored == MAX_PAGES)
		return -ENOMEM;
	pa = alloc_page(t);
	memcpy(pa_ptr(t, pa), (void *)(uintptr_t)page, SVMGPU_PAGE_SIZE);
	memcpy(snapshot[nmirrored], pa_ptr(t, pa), SVMGPU_PAGE_SIZE);
	map_leaf(t, 0, page, pa, 1, SVMGPU_PTE_WRITABLE);
	mirrored[nmirrored++] = page;
	return 0;
}

static int core_run(void *priv, const struct svmgpu_cmd *cmd)
{
	TestDev *t = &dev;
	struct svmgpu_cmd c = *cmd;
	struct svmgpu_completion *cp;
	uint64_t seq;
	unsigned int i;
	int ret = 0;

	(void)priv;
	td_init(t);
	ctx_create(t, 0);
	queue_setup(t, 0, 0, 64);
	nmirrored = 0;
	seq = submit(t, 0, &c);
	for (;;) {
		uint32_t put, get;

		cp = compl(t, 0);
		if (cp->seq == seq)
			break;
		put = rd32(t, SVMGPU_REG_FAULT_PUT);
		get = rd32(t, SVMGPU_REG_FAULT_GET);
		if (put == get) {
			ret = -EIO;	/* neither done nor faulting */
			break;
		}
		for (; get != put && !ret; get++) {
			struct svmgpu_fault_record *r = fault_rec(t, get);

			nfaults++;
			if (!va_ptr(t, 0, r->va))
				ret = mirror(t, r->va);
		}
		wr32(t, SVMGPU_REG_FAULT_GET, get);
		if (ret)
			break;
		reply(t, SVMGPU_FAULT_REPLY_REPLAY);
	}
	if (!ret && cp->err_seq == seq && cp->err_code) {
		TH_LOG("core: %s at 0x%llx", svmgpu_error_name(cp->err_code),
		       (unsigned long long)cp->err_va);
		ret = -EIO;
	}
	for (i = 0; !ret && i < nmirrored; i++) {
		const uint8_t *dev_page = va_ptr(t, 0, mirrored[i]);
		uint8_t *cpu_page = (uint8_t *)(uintptr_t)mirrored[i];
		unsigned int b;

		for (b = 0; b < SVMGPU_PAGE_SIZE; b++)
			if (dev_page[b] != snapshot[i][b])
				cpu_page[b] = dev_page[b];
	}
	td_fini(t);
	return ret;
}

static const uint64_t sizes[] = { 1, 31, 33, 256, 257, 1000, 4097 };

static void check(enum svmgpu_kernel k, const uint64_t *sz, size_t count)
{
	struct kcheck_result res;
	size_t i;

	for (i = 0; i < count; i++) {
		int ret = kcheck_kernel(k, sz[i], 7 + i, core_run, NULL, &res);

		if (ret)
			TH_LOG("%s n=%llu: %d %s", svmgpu_kernel_name(k),
			       (unsigned long long)sz[i], ret, res.message);
		ASSERT_EQ(ret, 0);
	}
	ASSERT_GT(nfaults, 0);
}

#define KTEST(name, kid) \
	TEST(name) { check(kid, sizes, sizeof(sizes) / sizeof(sizes[0])); }

KTEST(vecadd, SVMGPU_KERNEL_VECADD)
KTEST(saxpy, SVMGPU_KERNEL_SAXPY)
KTEST(reduce_sum, SVMGPU_KERNEL_REDUCE_SUM)
KTEST(histogram, SVMGPU_KERNEL_HISTOGRAM)
KTEST(stencil2d, SVMGPU_KERNEL_STENCIL2D)
KTEST(list_walk, SVMGPU_KERNEL_LIST_WALK)
KTEST(tree_lookup, SVMGPU_KERNEL_TREE_LOOKUP)
KTEST(range_hash, SVMGPU_KERNEL_RANGE_HASH)

TEST(sgemm)
{
	static const uint64_t s[] = { 1, 7, 33, 64 };

	check(SVMGPU_KERNEL_SGEMM, s, 4);
}

TEST_HARNESS_MAIN
