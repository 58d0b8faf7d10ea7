// SPDX-License-Identifier: MIT
/*
 * svm_failsweep: other programs' test cases run again and again, each time
 * with one memory allocation of the test's process failed, to see that the
 * kernel survives an allocation failing anywhere: in an ioctl, a page
 * fault on process or device memory, an mmu notifier's invalidation from
 * munmap or fork, the release of the file, the exit of the process.
 * svm_failnth fails every allocation of one call in turn and checks its
 * result; this sweep fails one allocation somewhere in a whole scenario
 * and checks what must hold whatever failed:
 *
 *  - the kernel stays clean: no warning, no oops, no KASAN or lockdep
 *    report (the host judges the console), nothing kmemleak finds after
 *    the unload at the end of the suite;
 *  - no run hangs (the test's own 90 s limit, or the harness's) or dies of
 *    SIGBUS (a fault that could not allocate must be retried or fail
 *    with -ENOMEM, never be reported as a bus error);
 *  - after each run the device still works for a new process: a FILL
 *    through a new context and queue writes every byte.
 *
 * The tests' own verdicts are not judged: an allocation failed in their
 * own mmap() or in an ioctl they expect to succeed makes them fail, as it
 * should.  Which allocation fails: n drawn from [1, 2 x the largest n
 * that was reached so far, at least 64] by a generator seeded with
 * SVMGPU_FAILSWEEP_SEED (default 1) and the target's index, for
 * SVMGPU_FAILSWEEP_SECONDS (default 24) per test of this program.  Every
 * run that fails a check prints the command that replays it.  The
 * harness's SVMGPU_TEST_FAIL_NTH does the injection (svmgpu_test.h); it
 * needs the debug kernel's CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB and
 * FAIL_PAGE_ALLOC: skipped without.
 */
#define _GNU_SOURCE
#include <sys/wait.h>
#include "svmgpu_guest.h"
#include "svmgpu_test.h"
#include "failnth.h"

/* A run's own limit: well under this program's TEST_TIMEOUT. */
#define RUN_TIMEOUT	"90"
#define PAGE		4096ul

/* A program of the suite and a filter that selects one of its tests. */
struct target {
	const char *prog, *test;
};

/* splitmix64: a small generator whose sequence a seed replays. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

/* The directory this program runs from: the suite's programs are there. */
static void own_dir(char *dir, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", dir, len - 1);

	dir[n > 0 ? n : 0] = 0;
	*(strrchr(dir, '/') ?: dir) = 0;
}

/* How one run ended. */
struct run {
	int status;
	bool hit, timed_out, sigbus;
};

/*
 * Run target t with its n-th allocation failed; its output is read to the
 * end (the harness's "# fail-nth n: hit" and "timed out" lines).
 */
static int run_target(const char *dir, const struct target *t, unsigned int n, struct run *r)
{
	char path[512], nth[16], line[1024];
	int pfd[2];
	FILE *out;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", dir, t->prog);
	snprintf(nth, sizeof(nth), "%u", n);
	memset(r, 0, sizeof(*r));
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (!pid) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		setenv("SVMGPU_TEST_FAIL_NTH", nth, 1);
		setenv("SVMGPU_TEST_TIMEOUT", RUN_TIMEOUT, 1);
		execl(path, t->prog, t->test, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	out = fdopen(pfd[0], "r");
	if (!out)
		return -errno;
	while (fgets(line, sizeof(line), out)) {
		if (strstr(line, "# fail-nth "))
			r->hit = strstr(line, ": hit") != NULL;
		r->timed_out |= strstr(line, "timed out after") != NULL;
		/* the harness's words for its test child's death */
		r->sigbus |= strstr(line, "killed by signal 7 (") != NULL;
		if (strstr(line, "killed by signal") || strstr(line, "timed out after"))
			TH_LOG("%s %s, fail-nth %u: %s", t->prog, t->test, n, line);
	}
	fclose(out);
	if (waitpid(pid, &r->status, 0) != pid)
		return -errno;
	return 0;
}

/* A new process's FILL through a new context and queue writes every byte. */
static int device_works(unsigned int n)
{
	unsigned char *buf = sg_map_anon(PAGE);
	uint32_t ctx, q;
	int fd = sg_open(), ret = -1;

	if (fd >= 0 && buf && !sg_ctx_create(fd, &ctx) && !sg_queue_create(fd, ctx, 0, &q) &&
	    !sg_run_ok(fd, q, sg_fill(buf, PAGE, n & 0xff, 1)) && sg_all_bytes(buf, n & 0xff, PAGE))
		ret = 0;
	if (fd >= 0)
		close(fd);
	if (buf)
		munmap(buf, PAGE);
	return ret;
}

/*
 * Round robin over the targets, each with its own n sequence, for the
 * budget; returns the number of runs that failed a check.
 */
static int sweep(const struct target *targets, unsigned int count, unsigned int index)
{
	unsigned long seed = env_ul("SVMGPU_FAILSWEEP_SEED", 1);
	unsigned long secs = env_ul("SVMGPU_FAILSWEEP_SECONDS", 24);
	unsigned int reached[8] = { 0 }, runs[8] = { 0 }, hits[8] = { 0 };
	uint64_t rng[8];
	struct timespec start, now;
	char dir[448];
	unsigned int i, n;
	int bad = 0;
	struct run r;
	int broken;

	own_dir(dir, sizeof(dir));
	if (count > 8)
		return -1;
	for (i = 0; i < count; i++)
		rng[i] = seed * 1000003 + index * 31 + i;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0;; i = (i + 1) % count) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((unsigned long)(now.tv_sec - start.tv_sec) >= secs)
			break;
		n = 1 + next_rand(&rng[i]) % (2 * (reached[i] > 64 ? reached[i] : 64));
		if (run_target(dir, &targets[i], n, &r)) {
			TH_LOG("cannot run %s/%s: %s", dir, targets[i].prog, strerror(errno));
			return -1;
		}
		runs[i]++;
		hits[i] += r.hit;
		if (r.hit && n > reached[i])
			reached[i] = n;
		broken = device_works(n);
		if (r.timed_out || r.sigbus ||
		    (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 127) || broken) {
			TH_LOG("%s: replay (failslab and fail_page_alloc set as this program sets them): "
			       "SVMGPU_TEST_FAIL_NTH=%u %s/%s %s (exit status 0x%x%s%s%s)",
			       r.timed_out ? "hung" : "failed", n, dir, targets[i].prog,
			       targets[i].test, r.status, r.timed_out ? ", timed out" : "",
			       r.sigbus ? ", SIGBUS" : "",
			       broken ? ", the device no longer works" : "");
			bad++;
		}
	}
	for (i = 0; i < count; i++)
		TH_LOG("%s %s: %u runs, %u failed an allocation, the largest n reached %u (seed %lu)",
		       targets[i].prog, targets[i].test, runs[i], hits[i], reached[i], seed);
	return bad;
}

/*
 * A test's limit: its budget and a last run that hangs (RUN_TIMEOUT), with
 * room to spare; the suite's per-program limit bounds the whole program.
 */
static int sweep_timeout(void)
{
	return env_ul("SVMGPU_FAILSWEEP_SECONDS", 24) + 3 * atoi(RUN_TIMEOUT);
}

FIXTURE(sweep) {
	int unused;
};

FIXTURE_SETUP(sweep)
{
	if (!sg_fault_injection_setup())
		SKIP(return, "no fail-nth, failslab and fail_page_alloc (debug kernel only)");
	ASSERT_EQ(device_works(0), 0);
}

FIXTURE_TEARDOWN(sweep)
{
}

#define SWEEP(index, ...) do { \
	static const struct target t[] = { __VA_ARGS__ }; \
	int bad = sweep(t, sizeof(t) / sizeof(t[0]), index); \
	\
	ASSERT_GE(bad, 0); \
	EXPECT_EQ(bad, 0); \
} while (0)

/*
 * Device faults on process memory; munmap and mremap invalidating them, of
 * advised and migrated ranges too.
 */
TEST_TIMEOUT(sweep_timeout())
TEST_F(sweep, faults_and_invalidations)
{
	SWEEP(0, { "svm_mirror", "anon_read_write" },
		 { "svm_mirror", "munmap_then_access_cancelled" },
		 { "svm_mirror", "mremap_mirrored_range" },
		 { "svm_advise", "munmap_mremap_mprotect_of_advised_migrated_range" });
}

/* fork; exit and close with work or prefetches in flight. */
TEST_TIMEOUT(sweep_timeout())
TEST_F(sweep, process_lifetimes)
{
	SWEEP(1, { "svm_lifetime", "fork_cow_both_sides" },
		 { "svm_lifetime", "exit_without_closing" },
		 { "svm_lifetime", "close_with_work_in_flight" },
		 { "svm_prefetch", "close_and_exit_cancel_pending_prefetches" });
}

/* Completion events on the fd, and a close with events unread. */
TEST_TIMEOUT(sweep_timeout())
TEST_F(sweep, completion_events)
{
	SWEEP(2, { "svm_events", "three_queues_one_epoll" },
		 { "svm_events", "close_with_pending_events" });
}

/*
 * Device memory: migration both ways, madvise and fork of device pages,
 * pageout, a DAX buffer shared by fork, munmap during an async prefetch.
 */
TEST_TIMEOUT(sweep_timeout())
TEST_F(sweep, device_memory)
{
	SWEEP(3, { "svm_devmem_mm", "madv_dontneed_and_free_on_device_pages" },
		 { "svm_devmem_mm", "fork_both_sides_write_device_reads_in_each" },
		 { "svm_reclaim", "madv_free_then_device_fill_then_pageout" },
		 { "svm_dax", "fork_shares_the_mapping" },
		 { "svm_prefetch", "munmap_while_async_prefetch_runs" });
}

TEST_HARNESS_MAIN
