/* SPDX-License-Identifier: MIT */
/*
 * svmgpu_test.h - a small header-only TAP test harness for svmgpu's C tests.
 *
 *   #include "svmgpu_test.h"
 *
 *   TEST(adds) {
 *           ASSERT_EQ(1 + 1, 2);
 *   }
 *
 *   FIXTURE(dev) { int fd; };
 *   FIXTURE_SETUP(dev) { self->fd = open(...); if (self->fd < 0) SKIP(return, "no device"); }
 *   FIXTURE_TEARDOWN(dev) { close(self->fd); }
 *   TEST_F(dev, opens) { ASSERT_GE(self->fd, 0); }
 *
 *   TEST_HARNESS_MAIN
 *
 * Every test runs in its own forked child with a timeout (default 30 s,
 * TEST_TIMEOUT(secs) before a test changes it for that test, the
 * SVMGPU_TEST_TIMEOUT environment variable scales nothing but replaces the
 * default).  Output is TAP version 13: "ok N name", "not ok N name",
 * "ok N name # SKIP reason", diagnostics as "# file:line: ..." lines, and
 * "# name took S s" after the line of a test that took 3 s or more.  The
 * process exits 0 when no test failed, 1 otherwise.  Arguments: -l lists the
 * tests; any other argument is a substring filter on test names.
 *
 * ASSERT_* stops the test on failure (teardown still runs for fixtures),
 * EXPECT_* records the failure and continues.
 *
 * SVMGPU_TEST_FAIL_NTH=n fails the n-th memory allocation each test's
 * child makes from its start (fixture setup, body, teardown and exit; its
 * own thread's: not those of threads or processes it starts; the kernel's
 * /proc/thread-self/fail-nth, fault-injection.rst) and reports
 * after the test whether that allocation was reached: "# fail-nth n: hit"
 * or "not reached".  svm_failsweep runs tests so, to see that the kernel
 * survives whatever fails; the tests' own verdicts then mean little.
 *
 * A test that changes a system setting (a sysctl, a module parameter)
 * calls svmgpu_test_restore_file(path) first: the parent writes the saved
 * contents back when the test ends, however it ends -- a teardown does not
 * run after a crash or a timeout's SIGKILL.
 */
#ifndef SVMGPU_TEST_H
#define SVMGPU_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SVMGPU_TEST_DEFAULT_TIMEOUT	30
/* A test that takes this long or longer says so ("# name took 7.2 s"). */
#define SVMGPU_TEST_REPORT_SECS		3.0

#define SVMGPU_TEST_RESTORE_MAX		8

/* A file's contents before the test changed it (svmgpu_test_restore_file()). */
struct svmgpu_test_restore {
	char path[160];
	char val[88];
	int len;
};

/* Shared between the parent and a test's child (MAP_SHARED page). */
struct svmgpu_test_result {
	int failed;
	int skipped;
	char reason[512];
	int nrestore;
	struct svmgpu_test_restore restore[SVMGPU_TEST_RESTORE_MAX];
	int nth_left;	/* fail-nth's count after the test; -1: not read */
};

struct svmgpu_test_case {
	const char *name;
	void (*fn)(struct svmgpu_test_case *t);
	int timeout;
	struct svmgpu_test_case *next;
};

static struct svmgpu_test_case *svmgpu_tests_head, **svmgpu_tests_tail = &svmgpu_tests_head;
static int svmgpu_tests_count;
static struct svmgpu_test_result *svmgpu_test_res;
static int svmgpu_test_next_timeout;
static jmp_buf svmgpu_test_jmp;		/* ASSERT failure in a fixture test body */
static int svmgpu_test_jmp_armed;

static inline void svmgpu_test_register(struct svmgpu_test_case *t)
{
	t->timeout = svmgpu_test_next_timeout;
	svmgpu_test_next_timeout = 0;
	*svmgpu_tests_tail = t;
	svmgpu_tests_tail = &t->next;
	svmgpu_tests_count++;
}

static inline void svmgpu_test_diag(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void svmgpu_test_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Stop the current test after a failed ASSERT. */
static inline void svmgpu_test_abort(void)
{
	if (svmgpu_test_jmp_armed)
		longjmp(svmgpu_test_jmp, 1);
	fflush(stdout);
	_exit(1);
}

#define TH_LOG(fmt, ...) svmgpu_test_diag("%s:%d: " fmt, __FILE__, __LINE__, ##__VA_ARGS__)

/* Sets the timeout (seconds) of the next TEST/TEST_F defined after it. */
#define TEST_TIMEOUT(secs) \
	static void __attribute__((constructor)) \
	SVMGPU_TEST_CAT(svmgpu_test_timeout_, __LINE__)(void) { svmgpu_test_next_timeout = (secs); }

#define SVMGPU_TEST_CAT2(a, b) a##b
#define SVMGPU_TEST_CAT(a, b) SVMGPU_TEST_CAT2(a, b)

#define TEST(tn) \
	static void svmgpu_test_fn_##tn(struct svmgpu_test_case *_t); \
	static struct svmgpu_test_case svmgpu_test_case_##tn = { \
		.name = #tn, .fn = svmgpu_test_fn_##tn, \
	}; \
	static void __attribute__((constructor)) svmgpu_test_reg_##tn(void) \
	{ svmgpu_test_register(&svmgpu_test_case_##tn); } \
	static void svmgpu_test_fn_##tn(struct svmgpu_test_case *_t __attribute__((unused)))

#define FIXTURE(fx) struct svmgpu_fixture_##fx
#define FIXTURE_SETUP(fx) \
	static void svmgpu_fixture_setup_##fx(struct svmgpu_fixture_##fx *self __attribute__((unused)))
#define FIXTURE_TEARDOWN(fx) \
	static void svmgpu_fixture_teardown_##fx(struct svmgpu_fixture_##fx *self __attribute__((unused)))

#define TEST_F(fx, tn) \
	static void svmgpu_test_body_##fx##_##tn(struct svmgpu_fixture_##fx *self); \
	static void svmgpu_test_fn_##fx##_##tn(struct svmgpu_test_case *_t __attribute__((unused))) \
	{ \
		struct svmgpu_fixture_##fx fixture; \
		memset(&fixture, 0, sizeof(fixture)); \
		svmgpu_fixture_setup_##fx(&fixture); \
		if (!svmgpu_test_res->skipped && !svmgpu_test_res->failed) { \
			svmgpu_test_jmp_armed = 1; \
			if (!setjmp(svmgpu_test_jmp)) \
				svmgpu_test_body_##fx##_##tn(&fixture); \
			svmgpu_test_jmp_armed = 0; \
		} \
		svmgpu_fixture_teardown_##fx(&fixture); \
	} \
	static struct svmgpu_test_case svmgpu_test_case_##fx##_##tn = { \
		.name = #fx "." #tn, .fn = svmgpu_test_fn_##fx##_##tn, \
	}; \
	static void __attribute__((constructor)) svmgpu_test_reg_##fx##_##tn(void) \
	{ svmgpu_test_register(&svmgpu_test_case_##fx##_##tn); } \
	static void svmgpu_test_body_##fx##_##tn(struct svmgpu_fixture_##fx *self __attribute__((unused)))

/*
 * SKIP(statement, fmt, ...): mark the test skipped with a reason, then run
 * statement (usually "return").  Use it before any assertion failed.
 */
#define SKIP(statement, fmt, ...) do { \
	snprintf(svmgpu_test_res->reason, sizeof(svmgpu_test_res->reason), \
		 fmt, ##__VA_ARGS__); \
	svmgpu_test_res->skipped = 1; \
	statement; \
} while (0)

/* Mixed signedness is the caller's business, as in kselftest_harness.h. */
#define SVMGPU_TEST_CMP(a, b, op, is_assert, what) do { \
	__typeof__(a) _a = (a); \
	__typeof__(b) _b = (b); \
	int _ok; \
	_Pragma("GCC diagnostic push") \
	_Pragma("GCC diagnostic ignored \"-Wsign-compare\"") \
	_ok = _a op _b; \
	_Pragma("GCC diagnostic pop") \
	if (!_ok) { \
		svmgpu_test_diag("%s:%d: %s(%s, %s) failed: %lld (0x%llx) vs %lld (0x%llx)", \
				 __FILE__, __LINE__, \
				 what, #a, #b, \
				 (long long)_a, (unsigned long long)_a, \
				 (long long)_b, (unsigned long long)_b); \
		svmgpu_test_res->failed = 1; \
		if (is_assert) \
			svmgpu_test_abort(); \
	} \
} while (0)

#define ASSERT_EQ(a, b) SVMGPU_TEST_CMP(a, b, ==, 1, "ASSERT_EQ")
#define ASSERT_NE(a, b) SVMGPU_TEST_CMP(a, b, !=, 1, "ASSERT_NE")
#define ASSERT_LT(a, b) SVMGPU_TEST_CMP(a, b, <, 1, "ASSERT_LT")
#define ASSERT_LE(a, b) SVMGPU_TEST_CMP(a, b, <=, 1, "ASSERT_LE")
#define ASSERT_GT(a, b) SVMGPU_TEST_CMP(a, b, >, 1, "ASSERT_GT")
#define ASSERT_GE(a, b) SVMGPU_TEST_CMP(a, b, >=, 1, "ASSERT_GE")
#define EXPECT_EQ(a, b) SVMGPU_TEST_CMP(a, b, ==, 0, "EXPECT_EQ")
#define EXPECT_NE(a, b) SVMGPU_TEST_CMP(a, b, !=, 0, "EXPECT_NE")
#define EXPECT_LT(a, b) SVMGPU_TEST_CMP(a, b, <, 0, "EXPECT_LT")
#define EXPECT_LE(a, b) SVMGPU_TEST_CMP(a, b, <=, 0, "EXPECT_LE")
#define EXPECT_GT(a, b) SVMGPU_TEST_CMP(a, b, >, 0, "EXPECT_GT")
#define EXPECT_GE(a, b) SVMGPU_TEST_CMP(a, b, >=, 0, "EXPECT_GE")

#define SVMGPU_TEST_BOOL(c, want, is_assert) do { \
	if ((!!(c)) != (want)) { \
		svmgpu_test_diag("%s:%d: %s(%s) failed", __FILE__, __LINE__, \
				 is_assert ? (want ? "ASSERT_TRUE" : "ASSERT_FALSE") : \
					     (want ? "EXPECT_TRUE" : "EXPECT_FALSE"), #c); \
		svmgpu_test_res->failed = 1; \
		if (is_assert) \
			svmgpu_test_abort(); \
	} \
} while (0)

#define ASSERT_TRUE(c) SVMGPU_TEST_BOOL(c, 1, 1)
#define ASSERT_FALSE(c) SVMGPU_TEST_BOOL(c, 0, 1)
#define EXPECT_TRUE(c) SVMGPU_TEST_BOOL(c, 1, 0)
#define EXPECT_FALSE(c) SVMGPU_TEST_BOOL(c, 0, 0)
#define ASSERT_NULL(p) SVMGPU_TEST_BOOL((p) == NULL, 1, 1)
#define ASSERT_NOT_NULL(p) SVMGPU_TEST_BOOL((p) != NULL, 1, 1)

#define SVMGPU_TEST_STR(a, b, eq, is_assert) do { \
	const char *_a = (a), *_b = (b); \
	if ((strcmp(_a, _b) == 0) != (eq)) { \
		svmgpu_test_diag("%s:%d: %s(%s, %s) failed: \"%s\" vs \"%s\"", \
				 __FILE__, __LINE__, eq ? "STREQ" : "STRNE", #a, #b, _a, _b); \
		svmgpu_test_res->failed = 1; \
		if (is_assert) \
			svmgpu_test_abort(); \
	} \
} while (0)
#define ASSERT_STREQ(a, b) SVMGPU_TEST_STR(a, b, 1, 1)
#define ASSERT_STRNE(a, b) SVMGPU_TEST_STR(a, b, 0, 1)
#define EXPECT_STREQ(a, b) SVMGPU_TEST_STR(a, b, 1, 0)
#define EXPECT_STRNE(a, b) SVMGPU_TEST_STR(a, b, 0, 0)

/*
 * A timed-out child that SIGKILL has not ended in 30 s is stuck in the
 * kernel: print its tasks' kernel stacks (root only) and leave it.
 */
static inline void svmgpu_test_reap_killed(pid_t pid, int *status)
{
	char path[300], line[256];
	struct dirent *e;
	DIR *d;
	int i;

	for (i = 0; i < 3000; i++) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return;
		/* not ours any more (ECHILD): nothing to wait for */
		if (r < 0 && errno != EINTR) {
			svmgpu_test_diag("pid %d: waitpid: %s", (int)pid, strerror(errno));
			return;
		}
		usleep(10000);
	}
	svmgpu_test_diag("pid %d did not die of SIGKILL in 30 s: stuck in the kernel", (int)pid);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack", (int)pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		svmgpu_test_diag("task %s:", e->d_name);
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			svmgpu_test_diag("  %s", line);
		}
		fclose(f);
	}
	if (d)
		closedir(d);
}

/*
 * Save the contents of @path (a sysctl, a module parameter: a file whose
 * contents read can be written back) so that the harness's parent writes
 * them back when the test ends, whether it passes, fails, crashes or is
 * killed at its timeout.  Files are written back last saved, first written.
 * 0, or -errno: the file cannot be read (as open(2) or read(2) fail),
 * -ENAMETOOLONG for a path or -EFBIG for contents too long to keep,
 * -ENOSPC after SVMGPU_TEST_RESTORE_MAX files.
 */
static inline int svmgpu_test_restore_file(const char *path)
{
	struct svmgpu_test_restore *r;
	ssize_t n;
	int fd;

	if (svmgpu_test_res->nrestore >= SVMGPU_TEST_RESTORE_MAX)
		return -ENOSPC;
	r = &svmgpu_test_res->restore[svmgpu_test_res->nrestore];
	if (strlen(path) >= sizeof(r->path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, r->val, sizeof(r->val));
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	if ((size_t)n == sizeof(r->val))
		return -EFBIG;
	strcpy(r->path, path);
	r->len = (int)n;
	svmgpu_test_res->nrestore++;
	return 0;
}

/* In the parent, after a test's child ended: 0, or 1 if a file stays changed. */
static inline int svmgpu_test_restore_files(void)
{
	int i, fd, bad = 0, n0 = svmgpu_test_res->nrestore;

	/* the child wrote these: a test that scribbled on them loses no more */
	if (n0 > SVMGPU_TEST_RESTORE_MAX)
		n0 = SVMGPU_TEST_RESTORE_MAX;
	for (i = n0 - 1; i >= 0; i--) {
		struct svmgpu_test_restore *r = &svmgpu_test_res->restore[i];
		ssize_t n = -1;

		r->path[sizeof(r->path) - 1] = '\0';
		if (r->len < 0 || r->len > (int)sizeof(r->val))
			r->len = 0;

		fd = open(r->path, O_WRONLY | O_TRUNC);
		if (fd >= 0) {
			n = write(fd, r->val, r->len);
			if (n < 0)
				svmgpu_test_diag("restoring %s: write: %s", r->path,
						 strerror(errno));
			close(fd);
		} else {
			svmgpu_test_diag("restoring %s: open: %s", r->path, strerror(errno));
		}
		bad |= n != r->len;
	}
	svmgpu_test_res->nrestore = 0;
	return bad;
}

/*
 * Through @fd, /proc/thread-self/fail-nth open: the n-th allocation of
 * this thread from now on fails (0: none).  0 or -1.
 */
static inline int svmgpu_test_fail_nth_set(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(fd, buf, len, 0) == len ? 0 : -1;
}

/*
 * In the child: the fail_nth-th allocation of this thread from now on
 * fails; the file stays open for svmgpu_test_fail_nth_left().  -1 if it
 * cannot be armed (no CONFIG_FAULT_INJECTION_DEBUG_FS).
 */
static inline int svmgpu_test_fail_nth_arm(unsigned int fail_nth)
{
	int fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);

	if (fd < 0 || svmgpu_test_fail_nth_set(fd, fail_nth)) {
		svmgpu_test_diag("fail-nth %u: cannot arm: %s", fail_nth, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* What is left of the count: 0 once the allocation was failed. */
static inline int svmgpu_test_fail_nth_left(int fd)
{
	char buf[16] = "";

	if (fd < 0 || pread(fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -1;
	return atoi(buf);
}

/* Run one test in a child; returns 0 pass, 1 fail, 2 skip. */
static inline int svmgpu_test_run_one(struct svmgpu_test_case *t, int default_timeout,
				      unsigned int fail_nth)
{
	int timeout = t->timeout > 0 ? t->timeout : default_timeout;
	struct timespec start, now;
	long delay_us = 100;
	int status = 0;
	pid_t pid, r;

	memset(svmgpu_test_res, 0, sizeof(*svmgpu_test_res));
	svmgpu_test_res->nth_left = -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		svmgpu_test_diag("fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		int nth = -1;

		setpgid(0, 0);
		if (fail_nth)
			nth = svmgpu_test_fail_nth_arm(fail_nth);
		t->fn(t);
		svmgpu_test_res->nth_left = svmgpu_test_fail_nth_left(nth);
		fflush(stdout);
		_exit(svmgpu_test_res->failed ? 1 : 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			svmgpu_test_diag("waitpid: %s", strerror(errno));
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* in ns: whole seconds could end a 1 s timeout after 1 ms */
		if ((now.tv_sec - start.tv_sec) * 1000000000LL + now.tv_nsec - start.tv_nsec >=
		    timeout * 1000000000LL) {
			svmgpu_test_diag("%s: timed out after %d s", t->name, timeout);
			fflush(stdout);
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			svmgpu_test_reap_killed(pid, &status);
			return 1;
		}
		usleep(delay_us);
		if (delay_us < 10000)
			delay_us *= 2;
	}
	if (WIFSIGNALED(status)) {
		svmgpu_test_diag("%s: killed by signal %d (%s)", t->name,
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || svmgpu_test_res->failed)
		return 1;
	return svmgpu_test_res->skipped ? 2 : 0;
}

static inline int svmgpu_test_main(int argc, char **argv)
{
	struct svmgpu_test_case *t;
	int default_timeout = SVMGPU_TEST_DEFAULT_TIMEOUT;
	int n = 0, planned = 0, failed = 0, i, rc;
	const char *env = getenv("SVMGPU_TEST_TIMEOUT");
	const char *nth_env = getenv("SVMGPU_TEST_FAIL_NTH");
	unsigned int fail_nth = nth_env ? strtoul(nth_env, NULL, 10) : 0;
	struct timespec start, end;
	double secs;

	if (env && atoi(env) > 0)
		default_timeout = atoi(env);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-l")) {
			for (t = svmgpu_tests_head; t; t = t->next)
				printf("%s\n", t->name);
			return 0;
		}
	}
	for (t = svmgpu_tests_head; t; t = t->next) {
		bool match = argc < 2;

		for (i = 1; i < argc; i++)
			match |= strstr(t->name, argv[i]) != NULL;
		planned += match;
	}
	svmgpu_test_res = mmap(NULL, sizeof(*svmgpu_test_res), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (svmgpu_test_res == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	printf("TAP version 13\n1..%d\n", planned);
	for (t = svmgpu_tests_head; t; t = t->next) {
		bool match = argc < 2;

		for (i = 1; i < argc; i++)
			match |= strstr(t->name, argv[i]) != NULL;
		if (!match)
			continue;
		n++;
		/* as kselftest's harness: a run that never ends names its test */
		printf("# RUN %s\n", t->name);
		clock_gettime(CLOCK_MONOTONIC, &start);
		rc = svmgpu_test_run_one(t, default_timeout, fail_nth);
		if (fail_nth)
			printf("# fail-nth %u: %s\n", fail_nth,
			       svmgpu_test_res->nth_left < 0 ? "unknown" :
			       svmgpu_test_res->nth_left ? "not reached" : "hit");
		if (svmgpu_test_restore_files())
			rc = 1;
		clock_gettime(CLOCK_MONOTONIC, &end);
		secs = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
		if (rc == 2)
			printf("ok %d %s # SKIP %s\n", n, t->name, svmgpu_test_res->reason);
		else if (rc == 0)
			printf("ok %d %s\n", n, t->name);
		else
			printf("not ok %d %s\n", n, t->name);
		/* where a suite's time goes: the tests that take seconds */
		if (secs >= SVMGPU_TEST_REPORT_SECS)
			printf("# %s took %.1f s\n", t->name, secs);
		fflush(stdout);
		failed += rc == 1;
	}
	printf("# %d tests, %d failed\n", n, failed);
	munmap(svmgpu_test_res, sizeof(*svmgpu_test_res));
	return failed ? 1 : 0;
}

#define TEST_HARNESS_MAIN \
	int main(int argc, char **argv) { return svmgpu_test_main(argc, argv); }

#endif /* SVMGPU_TEST_H */
