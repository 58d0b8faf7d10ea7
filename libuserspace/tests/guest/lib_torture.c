// SPDX-License-Identifier: MIT
/*
 * lib_torture: a bounded svmgpu-torture run (threads and a second process,
 * every kind of CPU-side change) finds no divergence, and a deliberately
 * corrupted model is reported with the seed, operation index and replay.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmgpu.h"
#include "svmgpu_test.h"
#include "torture.h"

static int have_device(void)
{
	return svmgpu_device_list(NULL, 0) > 0;
}

TEST_TIMEOUT(120)
TEST(bounded_run_has_no_divergence)
{
	struct torture_opts o = {
		.seed = 12345, .ops = 300, .threads = 2, .procs = 1, .pages = 16, .only_worker = -1,
	};
	char *out = NULL;
	size_t len = 0;
	FILE *log;
	int ret;

	if (!have_device())
		SKIP(return, "no svmgpu device");
	log = open_memstream(&out, &len);
	ASSERT_NOT_NULL(log);
	ret = torture_run(&o, log);
	fclose(log);
	if (ret)
		TH_LOG("%s", out);
	ASSERT_EQ(ret, 0);
	ASSERT_TRUE(strstr(out, "worker 0: 300 operations, no divergence") != NULL);
	free(out);
}

TEST_TIMEOUT(60)
TEST(divergence_is_reported_with_replay)
{
	struct torture_opts o = {
		.seed = 777, .ops = 50, .threads = 1, .procs = 0, .pages = 8, .only_worker = -1,
		.inject_at = 10,
	};
	char *out = NULL;
	size_t len = 0;
	FILE *log;
	int ret;

	if (!have_device())
		SKIP(return, "no svmgpu device");
	log = open_memstream(&out, &len);
	ASSERT_NOT_NULL(log);
	ret = torture_run(&o, log);
	fclose(log);
	ASSERT_EQ(ret, 1);
	ASSERT_TRUE(strstr(out, "DIVERGENCE seed=777 worker=0 op=") != NULL);
	ASSERT_TRUE(strstr(out, "minimal replay: svmgpu-torture --seed 777 --only 0 --ops ") != NULL);
	free(out);
}

TEST(bad_options)
{
	struct torture_opts o = { .seed = 1, .ops = 1, .threads = 0, .pages = 16, .only_worker = -1 };

	EXPECT_EQ(torture_run(&o, stderr), -EINVAL);
	o.threads = 1;
	o.pages = 2;
	EXPECT_EQ(torture_run(&o, stderr), -EINVAL);
}

TEST_HARNESS_MAIN
