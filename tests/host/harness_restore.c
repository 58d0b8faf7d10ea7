// SPDX-License-Identifier: MIT
/*
 * harness_restore.c - the harness's svmgpu_test_restore_file(), run by
 * harness_restore_test.py: each test saves the file named by
 * $SVMGPU_RESTORE_FILE, changes it and ends its own way; the driver checks
 * the file afterwards.  The tests that crash or time out fail on purpose,
 * so this program is not a meson test of its own.
 */
#include <sys/stat.h>

#include "svmgpu_test.h"

static const char *file(void)
{
	const char *p = getenv("SVMGPU_RESTORE_FILE");

	return p ? p : "/nonexistent";
}

static void change(void)
{
	FILE *f = fopen(file(), "w");

	ASSERT_NOT_NULL(f);
	ASSERT_GT(fputs("changed\n", f), -1);
	ASSERT_EQ(fclose(f), 0);
}

TEST(restored_after_pass)
{
	ASSERT_EQ(svmgpu_test_restore_file(file()), 0);
	change();
}

TEST(restored_after_failed_assert)
{
	ASSERT_EQ(svmgpu_test_restore_file(file()), 0);
	change();
	ASSERT_EQ(1, 2);
}

TEST(restored_after_crash)
{
	ASSERT_EQ(svmgpu_test_restore_file(file()), 0);
	change();
	abort();
}

TEST_TIMEOUT(1)
TEST(restored_after_timeout)
{
	ASSERT_EQ(svmgpu_test_restore_file(file()), 0);
	change();
	for (;;)
		pause();
}

/* Saved twice: the first contents win (restored last). */
TEST(first_save_wins)
{
	ASSERT_EQ(svmgpu_test_restore_file(file()), 0);
	change();
	ASSERT_EQ(svmgpu_test_restore_file(file()), 0);
}

/* Not saved: the change stays (the driver's check can fail). */
TEST(unsaved_change_stays)
{
	change();
}

/* A file that cannot be written back fails the test that changed it. */
TEST(write_back_failure_fails_the_test)
{
	ASSERT_EQ(svmgpu_test_restore_file(file()), 0);
	ASSERT_EQ(unlink(file()), 0);
	ASSERT_EQ(mkdir(file(), 0700), 0);
}

/* Rejected saves change nothing and are not written back. */
TEST(rejected_saves)
{
	char path[200];
	int i;

	EXPECT_EQ(svmgpu_test_restore_file("/nonexistent/x"), -ENOENT);
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	EXPECT_EQ(svmgpu_test_restore_file(path), -ENAMETOOLONG);
	EXPECT_EQ(svmgpu_test_restore_file("/proc/self/maps"), -EFBIG);
	for (i = 0; i < SVMGPU_TEST_RESTORE_MAX; i++)
		ASSERT_EQ(svmgpu_test_restore_file(file()), 0);
	EXPECT_EQ(svmgpu_test_restore_file(file()), -ENOSPC);
	change();
}

TEST_HARNESS_MAIN
