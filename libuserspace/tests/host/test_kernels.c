// SPDX-License-Identifier: MIT
/*
 * The ready kernels, run by the reference ISA interpreter on host memory,
 * against their CPU references; sizes from 1 to beyond a workgroup,
 * including sizes that are not multiples of it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa_sim.h"
#include "kcheck.h"
#include "svmgpu.h"
#include "svmgpu_test.h"

static int sim_run(void *priv, const struct svmgpu_cmd *cmd)
{
	struct sim_result r;

	(void)priv;
	if (cmd->hdr.opcode != SVMGPU_CMD_LAUNCH)
		return -EINVAL;
	if (sim_launch(&cmd->launch, &r)) {
		TH_LOG("sim: %s at 0x%llx", svmgpu_error_name(r.error), (unsigned long long)r.err_va);
		return -EIO;
	}
	return 0;
}

static const uint64_t sizes[] = { 1, 2, 31, 32, 33, 255, 256, 257, 1000, 4097 };

static void check_sizes(enum svmgpu_kernel k, const uint64_t *sz, size_t count)
{
	struct kcheck_result res;
	size_t i;

	for (i = 0; i < count; i++) {
		int ret = kcheck_kernel(k, sz[i], 1 + i, sim_run, NULL, &res);

		if (ret)
			TH_LOG("%s n=%llu: %d %s", svmgpu_kernel_name(k),
			       (unsigned long long)sz[i], ret, res.message);
		ASSERT_EQ(ret, 0);
	}
}

#define KTEST(name, k) TEST(name) { check_sizes(k, sizes, sizeof(sizes) / sizeof(sizes[0])); }

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
	static const uint64_t sgemm_sizes[] = { 1, 2, 7, 33, 64, 100 };

	check_sizes(SVMGPU_KERNEL_SGEMM, sgemm_sizes, 6);
}

TEST_TIMEOUT(120)
TEST(large_vecadd_and_reduce)
{
	static const uint64_t big[] = { (1u << 20) + 3 };

	check_sizes(SVMGPU_KERNEL_VECADD, big, 1);
	check_sizes(SVMGPU_KERNEL_REDUCE_SUM, big, 1);
}

/* The kernels detect what they must: a wrong result is reported. */
static int sim_run_corrupt(void *priv, const struct svmgpu_cmd *cmd)
{
	const struct svmgpu_vecadd_args *a = (const void *)(uintptr_t)cmd->launch.args_va;
	int ret = sim_run(priv, cmd);

	a->out[a->n - 1] += 1.0f;
	return ret;
}

TEST(mismatch_is_detected)
{
	struct kcheck_result res;

	ASSERT_EQ(kcheck_kernel(SVMGPU_KERNEL_VECADD, 100, 1, sim_run_corrupt, NULL, &res), -EILSEQ);
	ASSERT_TRUE(strstr(res.message, "out[99]") != NULL);
}

/* The example of docs/isa.md, on u32. */
TEST(isa_doc_example)
{
	static const char src[] =
		"    S2R   r1, GLOBAL_ID\n"
		"    S2R   r2, ARGS\n"
		"    LD64  r3, [r2+24]        ; n\n"
		"    SLTU  r4, r1, r3\n"
		"    IF    r4\n"
		"      SHL   r5, r1, #2\n"
		"      LD64  r6, [r2+0]\n"
		"      ADD   r6, r6, r5\n"
		"      LD32  r7, [r6+0]\n"
		"      LD64  r6, [r2+8]\n"
		"      ADD   r6, r6, r5\n"
		"      LD32  r8, [r6+0]\n"
		"      ADD   r7, r7, r8\n"
		"      LD64  r6, [r2+16]\n"
		"      ADD   r6, r6, r5\n"
		"      ST32  [r6+0], r7\n"
		"    ENDIF\n"
		"    EXIT\n";
	uint32_t a[70], b[70], out[70];
	struct { uint32_t *a, *b, *out; uint64_t n; } args = { a, b, out, 70 };
	struct svmgpu_launch l = { { 3, 1, 1 }, 32, 0, { 0, 0 } };
	struct svmgpu_program *p;
	struct svmgpu_cmd cmd;
	struct sim_result r;
	int i;

	for (i = 0; i < 70; i++) {
		a[i] = i;
		b[i] = 1000 * i;
		out[i] = 0;
	}
	ASSERT_EQ(svmgpu_program_assemble(src, &p, NULL), 0);
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), &args, &l, 0), 0);
	args.n = 65;
	ASSERT_EQ(sim_launch(&cmd.launch, &r), 0);
	for (i = 0; i < 70; i++)
		ASSERT_EQ(out[i], i < 65 ? 1001u * i : 0);
	svmgpu_program_destroy(p);
}

/* Control flow of the reference interpreter: nested IF/ELSE, BREAK, EXIT in IF. */
TEST(control_flow)
{
	static const char src[] =
		"    S2R   r1, LANE_ID\n"
		"    S2R   r2, ARGS\n"
		"    SHL   r3, r1, #3\n"
		"    ADD   r3, r2, r3        ; &out[lane]\n"
		"    AND   r4, r1, #1\n"
		"    IF    r4                ; odd lanes\n"
		"      MOVI  r5, #100\n"
		"    ELSE\n"
		"      MOVI  r5, #200\n"
		"      SEQ   r6, r1, #4\n"
		"      IF    r6\n"
		"        ST64  [r3+0], r6\n"
		"        EXIT\n"
		"      ENDIF\n"
		"    ENDIF\n"
		"    MOVI  r7, #0\n"
		"    LOOP                    ; count up to the lane id\n"
		"      SLEU  r8, r1, r7\n"
		"      BREAK r8\n"
		"      ADD   r7, r7, #1\n"
		"    ENDLOOP\n"
		"    ADD   r5, r5, r7\n"
		"    ST64  [r3+0], r5\n"
		"    EXIT\n";
	uint64_t out[40];
	struct svmgpu_launch l = { { 1, 1, 1 }, 40, 0, { 0, 0 } };
	struct svmgpu_program *p;
	struct svmgpu_cmd cmd;
	struct sim_result r;
	int i;

	ASSERT_EQ(svmgpu_program_assemble(src, &p, NULL), 0);
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), out, &l, 0), 0);
	ASSERT_EQ(sim_launch(&cmd.launch, &r), 0);
	for (i = 0; i < 40; i++) {
		uint64_t want = i == 4 ? 1 : (i & 1 ? 100 : 200) + (uint64_t)i;

		ASSERT_EQ(out[i], want);
	}
	svmgpu_program_destroy(p);
}

TEST(watchdog_and_illegal)
{
	struct svmgpu_launch l = { { 1, 1, 1 }, 1, 1000, { 0, 0 } };
	struct svmgpu_program *p;
	struct svmgpu_cmd cmd;
	struct sim_result r;

	ASSERT_EQ(svmgpu_program_assemble("top: JMP top\n", &p, NULL), 0);
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), NULL, &l, 0), 0);
	EXPECT_EQ(sim_launch(&cmd.launch, &r), SVMGPU_ERR_WATCHDOG);
	svmgpu_program_destroy(p);
	ASSERT_EQ(svmgpu_program_assemble("NOP\nS2R r1, ARGS\nLD64 r2, [r1+4]\nEXIT\n", &p, NULL), 0);
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), (void *)0x1000, &l, 0), 0);
	EXPECT_EQ(sim_launch(&cmd.launch, &r), SVMGPU_ERR_MISALIGNED);
	EXPECT_EQ(r.err_va, 0x1004);
	svmgpu_program_destroy(p);
}

TEST_HARNESS_MAIN
