// SPDX-License-Identifier: MIT
/*
 * Command builder host tests: each builder writes exactly the fields of
 * docs/hw-spec.md §8.1 (everything else zero) and rejects what the device
 * would fail with ERR_BAD_COMMAND or ERR_INVALID_VA.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "svmgpu.h"
#include "svmgpu_test.h"

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		if (*c++)
			return 0;
	return 1;
}

#define PTR(x) ((void *)(uintptr_t)(x))
#define HI_VA  PTR(1ull << 48)

TEST(nop)
{
	struct svmgpu_cmd c;

	memset(&c, 0xff, sizeof(c));
	ASSERT_EQ(svmgpu_cmd_nop(&c, 0), 0);
	EXPECT_EQ(c.hdr.opcode, SVMGPU_CMD_NOP);
	EXPECT_TRUE(all_zero(&c, sizeof(c)));
	ASSERT_EQ(svmgpu_cmd_nop(&c, SVMGPU_CMD_FLAG_IRQ), 0);
	EXPECT_EQ(c.hdr.flags, SVMGPU_CMD_FLAG_IRQ);
	EXPECT_EQ(svmgpu_cmd_nop(&c, 2), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_nop(NULL, 0), -EINVAL);
}

TEST(copy)
{
	struct svmgpu_cmd c;

	memset(&c, 0xff, sizeof(c));
	ASSERT_EQ(svmgpu_cmd_copy(&c, PTR(0x1001), PTR(0x2003), 77, 0), 0);
	EXPECT_EQ(c.hdr.opcode, SVMGPU_CMD_COPY);
	EXPECT_EQ(c.hdr.flags, 0);
	EXPECT_EQ(c.hdr.rsvd0, 0);
	EXPECT_EQ(c.hdr.rsvd1, 0);
	EXPECT_EQ(c.hdr.seq, 0);
	EXPECT_EQ(c.copy.dst, 0x1001);
	EXPECT_EQ(c.copy.src, 0x2003);
	EXPECT_EQ(c.copy.size, 77);
	EXPECT_TRUE(all_zero(c.copy.rsvd, sizeof(c.copy.rsvd)));
	EXPECT_EQ(svmgpu_cmd_copy(&c, PTR(0x1000), PTR(0x2000), 0, 0), 0);
	/* ranges past 2^48 */
	EXPECT_EQ(svmgpu_cmd_copy(&c, HI_VA, PTR(0x2000), 1, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_copy(&c, PTR((1ull << 48) - 8), PTR(0x2000), 9, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_copy(&c, PTR(0x1000), PTR((1ull << 48) - 8), 8, 0), 0);
	EXPECT_EQ(svmgpu_cmd_copy(&c, PTR(0x1000), PTR(0x2000), UINT64_MAX, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_copy(&c, PTR(0x1000), PTR(0x2000), 8, 0x80), -EINVAL);
}

TEST(fill)
{
	struct svmgpu_cmd c;
	unsigned int w;

	for (w = 1; w <= 8; w *= 2) {
		memset(&c, 0xff, sizeof(c));
		ASSERT_EQ(svmgpu_cmd_fill(&c, PTR(0x1000), 64, 0x1122334455667788ull, w, 0), 0);
		EXPECT_EQ(c.hdr.opcode, SVMGPU_CMD_FILL);
		EXPECT_EQ(c.fill.dst, 0x1000);
		EXPECT_EQ(c.fill.size, 64);
		EXPECT_EQ(c.fill.width, w);
		EXPECT_EQ(c.fill.value, w == 8 ? 0x1122334455667788ull :
			  0x1122334455667788ull & ((1ull << (8 * w)) - 1));
		EXPECT_EQ(c.fill.rsvd0, 0);
		EXPECT_TRUE(all_zero(c.fill.rsvd, sizeof(c.fill.rsvd)));
	}
	EXPECT_EQ(svmgpu_cmd_fill(&c, PTR(0x1000), 64, 0, 3, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_fill(&c, PTR(0x1000), 64, 0, 0, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_fill(&c, PTR(0x1000), 64, 0, 16, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_fill(&c, PTR(0x1002), 64, 0, 4, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_fill(&c, PTR(0x1000), 62, 0, 4, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_fill(&c, PTR(0x1001), 63, 0, 1, 0), 0);
	EXPECT_EQ(svmgpu_cmd_fill(&c, HI_VA, 8, 0, 8, 0), -EINVAL);
}

TEST(atomic)
{
	struct svmgpu_cmd c;
	unsigned int op;

	for (op = 0; op < SVMGPU_ATOMIC_NUM_OPS; op++) {
		memset(&c, 0xff, sizeof(c));
		ASSERT_EQ(svmgpu_cmd_atomic(&c, PTR(0x1008), op, 8, 5, 6, PTR(0x2000), 0), 0);
		EXPECT_EQ(c.hdr.opcode, SVMGPU_CMD_ATOMIC);
		EXPECT_EQ(c.atomic.va, 0x1008);
		EXPECT_EQ(c.atomic.op, op);
		EXPECT_EQ(c.atomic.size, 8);
		EXPECT_EQ(c.atomic.operand, 5);
		EXPECT_EQ(c.atomic.compare, op == SVMGPU_ATOMIC_CMPXCHG ? 6 : 0);
		EXPECT_EQ(c.atomic.result_va, 0x2000);
		EXPECT_EQ(c.atomic.rsvd0, 0);
		EXPECT_EQ(c.atomic.rsvd1, 0);
		EXPECT_EQ(c.atomic.rsvd2, 0);
	}
	ASSERT_EQ(svmgpu_cmd_atomic(&c, PTR(0x1004), SVMGPU_ATOMIC_ADD, 4, 1, 0, NULL, 0), 0);
	EXPECT_EQ(c.atomic.result_va, 0);
	EXPECT_EQ(svmgpu_cmd_atomic(&c, PTR(0x1004), SVMGPU_ATOMIC_ADD, 8, 1, 0, NULL, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_atomic(&c, PTR(0x1000), SVMGPU_ATOMIC_NUM_OPS, 8, 1, 0, NULL, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_atomic(&c, PTR(0x1000), SVMGPU_ATOMIC_ADD, 2, 1, 0, NULL, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_atomic(&c, PTR(0x1000), SVMGPU_ATOMIC_ADD, 8, 1, 0, PTR(0x2004), 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_atomic(&c, NULL, SVMGPU_ATOMIC_ADD, 8, 1, 0, NULL, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_atomic(&c, HI_VA, SVMGPU_ATOMIC_ADD, 8, 1, 0, NULL, 0), -EINVAL);
}

TEST(signal_wait_timestamp)
{
	struct svmgpu_cmd c;

	memset(&c, 0xff, sizeof(c));
	ASSERT_EQ(svmgpu_cmd_signal(&c, PTR(0x1008), 42, SVMGPU_CMD_FLAG_IRQ), 0);
	EXPECT_EQ(c.hdr.opcode, SVMGPU_CMD_SIGNAL);
	EXPECT_EQ(c.hdr.flags, SVMGPU_CMD_FLAG_IRQ);
	EXPECT_EQ(c.signal.va, 0x1008);
	EXPECT_EQ(c.signal.value, 42);
	EXPECT_TRUE(all_zero(c.signal.rsvd, sizeof(c.signal.rsvd)));
	EXPECT_EQ(svmgpu_cmd_signal(&c, PTR(0x1004), 42, 0), -EINVAL);

	memset(&c, 0xff, sizeof(c));
	ASSERT_EQ(svmgpu_cmd_wait(&c, PTR(0x1010), SVMGPU_WAIT_GE_SEQ, 7, ~0ull, 1000, 0), 0);
	EXPECT_EQ(c.hdr.opcode, SVMGPU_CMD_WAIT);
	EXPECT_EQ(c.wait.va, 0x1010);
	EXPECT_EQ(c.wait.cond, SVMGPU_WAIT_GE_SEQ);
	EXPECT_EQ(c.wait.value, 7);
	EXPECT_EQ(c.wait.mask, ~0ull);
	EXPECT_EQ(c.wait.timeout_ns, 1000);
	EXPECT_EQ(c.wait.rsvd0, 0);
	EXPECT_EQ(c.wait.rsvd1, 0);
	EXPECT_EQ(svmgpu_cmd_wait(&c, PTR(0x1010), SVMGPU_WAIT_NUM_CONDS, 7, ~0ull, 0, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_wait(&c, PTR(0x1011), SVMGPU_WAIT_EQ, 7, ~0ull, 0, 0), -EINVAL);

	memset(&c, 0xff, sizeof(c));
	ASSERT_EQ(svmgpu_cmd_timestamp(&c, PTR(0x1018), 0), 0);
	EXPECT_EQ(c.hdr.opcode, SVMGPU_CMD_TIMESTAMP);
	EXPECT_EQ(c.timestamp.va, 0x1018);
	EXPECT_TRUE(all_zero(c.timestamp.rsvd, sizeof(c.timestamp.rsvd)));
	EXPECT_EQ(svmgpu_cmd_timestamp(&c, PTR(0x101c), 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_timestamp(&c, NULL, 0), -EINVAL);
}

TEST(launch)
{
	struct svmgpu_launch l = { { 3, 2, 1 }, 64, 1000, { 0, 0 } };
	struct svmgpu_cmd c;

	memset(&c, 0xff, sizeof(c));
	ASSERT_EQ(svmgpu_cmd_launch(&c, PTR(0x4000), PTR(0x5000), &l, 0), 0);
	EXPECT_EQ(c.hdr.opcode, SVMGPU_CMD_LAUNCH);
	EXPECT_EQ(c.launch.code_va, 0x4000);
	EXPECT_EQ(c.launch.args_va, 0x5000);
	EXPECT_EQ(c.launch.grid_x, 3);
	EXPECT_EQ(c.launch.grid_y, 2);
	EXPECT_EQ(c.launch.grid_z, 1);
	EXPECT_EQ(c.launch.wg_size, 64);
	EXPECT_EQ(c.launch.budget, 1000);
	EXPECT_EQ(c.launch.rsvd, 0);
	EXPECT_EQ(svmgpu_cmd_launch(&c, PTR(0x4004), PTR(0x5000), &l, 0), -EINVAL);
	l.wg_size = 257;
	EXPECT_EQ(svmgpu_cmd_launch(&c, PTR(0x4000), PTR(0x5000), &l, 0), -EINVAL);
	l.wg_size = 0;
	EXPECT_EQ(svmgpu_cmd_launch(&c, PTR(0x4000), PTR(0x5000), &l, 0), -EINVAL);
	l.wg_size = 256;
	l.grid[1] = 0;
	EXPECT_EQ(svmgpu_cmd_launch(&c, PTR(0x4000), PTR(0x5000), &l, 0), -EINVAL);
	l.grid[1] = 1;
	EXPECT_EQ(svmgpu_cmd_launch(&c, PTR(0x4000), PTR(0x5000), &l, 0), 0);
	EXPECT_EQ(svmgpu_cmd_launch(&c, NULL, PTR(0x5000), &l, 0), -EINVAL);
	EXPECT_EQ(svmgpu_cmd_launch(&c, PTR(0x4000), PTR(0x5000), NULL, 0), -EINVAL);
}

TEST(error_and_access_names)
{
	EXPECT_STREQ(svmgpu_error_name(SVMGPU_ERR_FAULT_CANCELLED), "fault cancelled");
	EXPECT_STREQ(svmgpu_error_name(SVMGPU_ERR_RING_DMA), "ring DMA error");
	EXPECT_STREQ(svmgpu_error_name(SVMGPU_ERROR_RESET), "device reset");
	EXPECT_STREQ(svmgpu_error_name(SVMGPU_ERROR_HANG), "queue hang");
	EXPECT_STREQ(svmgpu_error_name(99), "unknown");
	EXPECT_STREQ(svmgpu_access_name(SVMGPU_ACCESS_WRITE), "write");
	EXPECT_STREQ(svmgpu_access_name(7), "unknown");
}

/*
 * Every enum svmgpu_error code of the layout header (SVMGPU_HW_HEADER, its
 * path) has a name: a code added to the header without one fails here.
 */
TEST(every_error_code_of_the_header_has_a_name)
{
	FILE *f = fopen(SVMGPU_HW_HEADER, "r");
	char line[512], name[64];
	int codes = 0, code;

	ASSERT_NOT_NULL(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " SVMGPU_ERR_%63[A-Z0-9_] = %d", name, &code) != 2)
			continue;
		codes++;
		if (!strcmp(svmgpu_error_name((uint32_t)code), "unknown"))
			TH_LOG("SVMGPU_ERR_%s (%d) has no name", name, code);
		EXPECT_STRNE(svmgpu_error_name((uint32_t)code), "unknown");
	}
	fclose(f);
	EXPECT_GE(codes, 15);
	EXPECT_STREQ(svmgpu_error_name(SVMGPU_ERR_SAVE_AREA), "save area error");
}

TEST(versions)
{
	EXPECT_EQ(svmgpu_version_major(), SVMGPU_LIB_VERSION_MAJOR);
	EXPECT_EQ(svmgpu_version_minor(), SVMGPU_LIB_VERSION_MINOR);
	EXPECT_EQ(svmgpu_check_version(SVMGPU_LIB_VERSION_MAJOR, SVMGPU_LIB_VERSION_MINOR), 1);
	EXPECT_EQ(svmgpu_check_version(SVMGPU_LIB_VERSION_MAJOR, SVMGPU_LIB_VERSION_MINOR + 1), 0);
	EXPECT_EQ(svmgpu_check_version(SVMGPU_LIB_VERSION_MAJOR + 1, 0), 0);
	EXPECT_TRUE(SVMGPU_LIB_CHECK_VERSION(0, 1));
	EXPECT_FALSE(SVMGPU_LIB_CHECK_VERSION(1, 0));
}

TEST(null_handles)
{
	struct svmgpu_stats st;

	EXPECT_EQ(svmgpu_device_close(NULL), -EINVAL);
	EXPECT_EQ(svmgpu_device_fd(NULL), -EINVAL);
	EXPECT_EQ(svmgpu_context_create(NULL, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_context_destroy(NULL), -EINVAL);
	EXPECT_EQ(svmgpu_context_get_stats(NULL, &st, 0), -EINVAL);
	EXPECT_EQ(svmgpu_queue_create(NULL, 0, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_queue_create_priority(NULL, 0, SVMGPU_PRIORITY_HIGH, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_queue_destroy(NULL), -EINVAL);
	EXPECT_EQ(svmgpu_queue_id(NULL), -EINVAL);
	EXPECT_EQ(svmgpu_queue_submit(NULL, NULL, 1, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_queue_wait(NULL, 1, 0, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_queue_poll(NULL, 1, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_coherence_check(NULL, &st, 8, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_device_open_path(NULL, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_device_open_path("/nonexistent/renderD999", (struct svmgpu_device **)&st),
		  -ENOENT);
	/* not DRM nodes: a character device, a file, a directory */
	EXPECT_EQ(svmgpu_device_open_path("/dev/null", (struct svmgpu_device **)&st), -ENODEV);
	EXPECT_EQ(svmgpu_device_open_path("/proc/self/status", (struct svmgpu_device **)&st),
		  -ENODEV);
	EXPECT_EQ(svmgpu_device_open_path("/", (struct svmgpu_device **)&st), -ENODEV);
	EXPECT_EQ(svmgpu_device_list(NULL, 1), -EINVAL);
}

TEST(launch_shapes)
{
	struct svmgpu_vecadd_args va = { .n = 1 };
	struct svmgpu_reduce_args ra = { .n = 1000 };
	struct svmgpu_histogram_args ha = { .n = 257, .nbins = 3 };
	struct svmgpu_launch l;

	/* one lane per element, workgroups of 256 */
	ASSERT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_HISTOGRAM, &ha, &l), 0);
	EXPECT_EQ(l.grid[0], 2);
	EXPECT_EQ(l.wg_size, 256);
	EXPECT_EQ(l.grid[1], 1);
	EXPECT_EQ(l.grid[2], 1);
	EXPECT_GE(l.budget, SVMGPU_DEFAULT_BUDGET);
	/* a slice per lane: a lane per 8 elements, at most 64 workgroups */
	ASSERT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_VECADD, &va, &l), 0);
	EXPECT_EQ(l.grid[0], 1);
	EXPECT_EQ(l.wg_size, 1);
	va.n = 8 * 256 + 1;
	ASSERT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_VECADD, &va, &l), 0);
	EXPECT_EQ(l.grid[0], 2);
	EXPECT_EQ(l.wg_size, 256);
	va.n = 1u << 20;
	ASSERT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_VECADD, &va, &l), 0);
	EXPECT_EQ(l.grid[0], 64);
	EXPECT_EQ(l.wg_size, 256);
	EXPECT_GE(l.budget, 64 * 8 * 16 * 64);	/* 64 elements per lane */
	va.n = 0;
	EXPECT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_VECADD, &va, &l), -ENODATA);
	/* reduce_sum's tree needs its workgroup size */
	ASSERT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_REDUCE_SUM, &ra, &l), 0);
	EXPECT_EQ(l.wg_size, SVMGPU_REDUCE_WG_SIZE);
	EXPECT_EQ(l.grid[0], 1);
	ha.nbins = 0;
	EXPECT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_HISTOGRAM, &ha, &l), -EINVAL);
	EXPECT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_COUNT, &ha, &l), -EINVAL);
}

/*
 * Counts near UINT64_MAX are too large a grid, not a wrapped one: rounding
 * them up to whole workgroups once wrapped to 0 and divided by it.
 */
TEST(launch_shapes_of_huge_problems)
{
	struct svmgpu_histogram_args ha = { .n = UINT64_MAX, .nbins = 1 };
	struct svmgpu_tree_lookup_args ta = { .nkeys = UINT64_MAX };
	struct svmgpu_list_walk_args la = { .nlists = UINT64_MAX - 200 };
	struct svmgpu_stencil2d_args st = { .width = 1, .height = UINT64_MAX };
	struct svmgpu_sgemm_args ga = { .m = 1, .n = UINT64_MAX, .k = 1 };
	struct svmgpu_vecadd_args va = { .n = UINT64_MAX };
	struct svmgpu_launch l;

	EXPECT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_HISTOGRAM, &ha, &l), -E2BIG);
	EXPECT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_TREE_LOOKUP, &ta, &l), -E2BIG);
	EXPECT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_LIST_WALK, &la, &l), -E2BIG);
	EXPECT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_STENCIL2D, &st, &l), -E2BIG);
	EXPECT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_SGEMM, &ga, &l), -E2BIG);
	/* a slice per lane: any count fits 64 workgroups */
	ASSERT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_VECADD, &va, &l), 0);
	EXPECT_EQ(l.grid[0], 64);
	/* the largest grid that fits */
	ha.n = (uint64_t)UINT32_MAX * 256;
	ASSERT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_HISTOGRAM, &ha, &l), 0);
	EXPECT_EQ(l.grid[0], UINT32_MAX);
	ha.n++;
	EXPECT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_HISTOGRAM, &ha, &l), -E2BIG);
}

TEST_HARNESS_MAIN
