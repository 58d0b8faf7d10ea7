// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ready kernels on the svmgpu device core itself (qemu-device/core,
 * sync mode), against their CPU references: sizes from 1 to beyond a
 * workgroup, including sizes that are not multiples of it, and past a
 * million elements; a wrong result is reported; the example of docs/isa.md
 * runs as written.  The core is the one interpreter of the ISA, the one
 * QEMU runs; its own tests (qemu-device/tests/test-isa.c) cover each
 * instruction, the control flow and the kernel errors.
 *
 * The test plays a minimal SVM driver with core-env.h's runner (the one
 * svmgpu-sim uses): on each fault it mirrors the faulting page of this
 * process into the core's RAM at the same virtual address and replays;
 * when the kernel has ended, the bytes the device changed are copied back.
 * (GPL because it links the core.)
 */
#include "test-env.h"

#include "kcheck.h"
#include "svmgpu.h"

/* Static, so never on a page the kernels touch (and mirror). */
static CoreMirror mirror;
static unsigned int nfaults;

/* Run one command on a fresh core (core-env.h's mirroring runner). */
static int core_exec(const struct svmgpu_cmd *cmd, struct svmgpu_completion *done)
{
	int ret;

	core_mirror_init(&mirror, RAM_SIZE);
	ret = core_mirror_run(&mirror, cmd, done);
	nfaults += (unsigned int)mirror.fault_records;
	core_mirror_free(&mirror);
	return ret;
}

static int core_run(void *priv, const struct svmgpu_cmd *cmd)
{
	struct svmgpu_completion done;
	int ret;

	(void)priv;
	ret = core_exec(cmd, &done);
	if (!ret && done.err_code) {
		TH_LOG("core: %s at 0x%llx", svmgpu_error_name(done.err_code),
		       (unsigned long long)done.err_va);
		ret = -EIO;
	}
	return ret;
}

static const uint64_t sizes[] = { 1, 2, 31, 32, 33, 255, 256, 257, 1000, 4097 };

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
	static const uint64_t s[] = { 1, 2, 7, 33, 64, 100 };

	check(SVMGPU_KERNEL_SGEMM, s, sizeof(s) / sizeof(s[0]));
}

/*
 * 12 MiB of vecadd operands, faulted in a page at a time; reduce_sum and
 * range_hash with 65 elements per lane.
 */
TEST_TIMEOUT(120)
TEST(large_vecadd_reduce_and_hash)
{
	static const uint64_t big[] = { (1u << 20) + 3 };

	check(SVMGPU_KERNEL_VECADD, big, 1);
	check(SVMGPU_KERNEL_REDUCE_SUM, big, 1);
	check(SVMGPU_KERNEL_RANGE_HASH, big, 1);
}

/*
 * From 64 workgroups of lanes up, a lane of the sliced kernels takes more
 * than one element: the grid's lanes plus one, two and a half times them,
 * one less, three times.
 */
TEST(many_elements_per_lane)
{
	static const uint64_t s[] = { 8, 9, 2049, 16385, 40960 + 7, 16383, 3 * 16384 };
	const int n = sizeof(s) / sizeof(s[0]);

	check(SVMGPU_KERNEL_VECADD, s, n);
	check(SVMGPU_KERNEL_SAXPY, s, n);
	check(SVMGPU_KERNEL_REDUCE_SUM, s, n);
	check(SVMGPU_KERNEL_RANGE_HASH, s, n);
}

/*
 * range_hash of no word on a grid the caller chose: no lane has a word,
 * so none touches *hash (a read-only page would fault otherwise).
 */
TEST(range_hash_of_nothing_writes_nothing)
{
	static const uint64_t sentinel = 0x5a5a5a5a5a5a5a5aull;	/* read-only */
	uint64_t data[4] = { 1, 2, 3, 4 }, out[2] = { 0, UINT64_MAX };
	struct svmgpu_range_hash_args args = {
		data, NULL, 0, (uint64_t *)&sentinel, &out[0], &out[1],
	};
	struct svmgpu_launch l = { { 2, 1, 1 }, 64, 0, { 0, 0 } };
	struct svmgpu_program *p;
	struct svmgpu_cmd cmd;

	ASSERT_EQ(svmgpu_kernel_program(SVMGPU_KERNEL_RANGE_HASH, &p), 0);
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), &args, &l, 0), 0);
	ASSERT_EQ(core_run(NULL, &cmd), 0);
	EXPECT_EQ(sentinel, 0x5a5a5a5a5a5a5a5aull);
	EXPECT_EQ(out[0], 0);
	EXPECT_EQ(out[1], UINT64_MAX);
	svmgpu_program_destroy(p);
}

/* The kernels detect what they must: a wrong result is reported. */
static int core_run_corrupt(void *priv, const struct svmgpu_cmd *cmd)
{
	const struct svmgpu_vecadd_args *a = (const void *)(uintptr_t)cmd->launch.args_va;
	int ret = core_run(priv, cmd);

	a->out[a->n - 1] += 1.0f;
	return ret;
}

TEST(mismatch_is_detected)
{
	struct kcheck_result res;

	ASSERT_EQ(kcheck_kernel(SVMGPU_KERNEL_VECADD, 100, 1, core_run_corrupt, NULL, &res),
		  -EILSEQ);
	ASSERT_TRUE(strstr(res.message, "out[99]") != NULL);
}

/* The example of docs/isa.md, on u32, assembled and launched as written. */
TEST(isa_doc_example)
{
	static const char src[] =
		"    .struct args\n"
		"      .field a, 8\n"
		"      .field b, 8\n"
		"      .field out, 8\n"
		"      .field n, 8\n"
		"    .ends\n"
		"    S2R   r1, GLOBAL_ID\n"
		"    S2R   r2, ARGS\n"
		"    LD64  r3, [r2+args.n]\n"
		"    SLTU  r4, r1, r3\n"
		"    IF    r4\n"
		"      SHL   r5, r1, #2\n"
		"      LD64  r6, [r2+args.a]\n"
		"      ADD   r6, r6, r5\n"
		"      LD32  r7, [r6]\n"
		"      LD64  r6, [r2+args.b]\n"
		"      ADD   r6, r6, r5\n"
		"      LD32  r8, [r6]\n"
		"      ADD   r7, r7, r8\n"
		"      LD64  r6, [r2+args.out]\n"
		"      ADD   r6, r6, r5\n"
		"      ST32  [r6], r7\n"
		"    ENDIF\n"
		"    EXIT\n";
	uint32_t a[70], b[70], out[70];
	struct { uint32_t *a, *b, *out; uint64_t n; } args = { a, b, out, 70 };
	struct svmgpu_launch l = { { 3, 1, 1 }, 32, 0, { 0, 0 } };
	struct svmgpu_program *p;
	struct svmgpu_cmd cmd;
	int i;

	for (i = 0; i < 70; i++) {
		a[i] = i;
		b[i] = 1000 * i;
		out[i] = 0;
	}
	ASSERT_EQ(svmgpu_program_assemble(src, &p, NULL), 0);
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), &args, &l, 0), 0);
	args.n = 65;
	ASSERT_EQ(core_run(NULL, &cmd), 0);
	for (i = 0; i < 70; i++)
		ASSERT_EQ(out[i], i < 65 ? 1001u * i : 0);
	svmgpu_program_destroy(p);
}

/*
 * An assembled [reg+imm] load that is misaligned only through its offset
 * fails with the address it would have loaded from, offset included
 * (test-isa.c covers a misaligned base with offset 0).
 */
TEST(misaligned_load_names_effective_address)
{
	static const uint64_t words[2];
	struct svmgpu_launch l = { { 1, 1, 1 }, 1, 0, { 0, 0 } };
	struct svmgpu_completion done;
	struct svmgpu_program *p;
	struct svmgpu_cmd cmd;

	ASSERT_EQ(svmgpu_program_assemble("NOP\nS2R r1, ARGS\nLD64 r2, [r1+4]\nEXIT\n", &p, NULL),
		  0);
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), words, &l, 0), 0);
	ASSERT_EQ(core_exec(&cmd, &done), 0);
	EXPECT_EQ(done.err_code, SVMGPU_ERR_MISALIGNED);
	EXPECT_EQ(done.err_va, (uintptr_t)words + 4);
	svmgpu_program_destroy(p);
}

TEST_HARNESS_MAIN
