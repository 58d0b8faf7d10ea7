// SPDX-License-Identifier: MIT
/*
 * svm_lifetime: processes fork, exit, get killed and race the device, and
 * the driver keeps every address space correct and every resource
 * accounted: after each scenario all hardware queues are free again.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define PAGE	4096ul
#define MB	(1024ul * 1024)

static int num_queues_raw(void)
{
	struct drm_svmgpu_get_info info;
	int fd = sg_open(), n = -1;

	if (fd >= 0 && !sg_info(fd, &info))
		n = info.num_queues;
	if (fd >= 0)
		close(fd);
	return n;
}

static int num_queues(void)
{
	return num_queues_raw();
}

/*
 * How many hardware queues are free now: all of them when nothing leaked
 * (every test has closed its files by the time it asks).
 */
static int free_queues(void)
{
	char buf[4096], path[256];
	int n = num_queues_raw(), len, f = -1;
	char *l;

	if (!sg_debugfs_path("svmgpu_device", path, sizeof(path)))
		f = open(path, O_RDONLY);
	if (f < 0)
		return -1;
	len = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (len < 0)
		return -1;
	buf[len] = 0;
	for (l = buf; (l = strstr(l, "\nhwq")); l++)
		n--;
	return n;
}

/* Child helper: fd, context and queue, or exit 100+. */
static void child_setup(int *fd, uint32_t *ctx, uint32_t *q)
{
	*fd = sg_open();
	if (*fd < 0)
		_exit(100);
	if (sg_ctx_create(*fd, ctx))
		_exit(101);
	while (sg_queue_create(*fd, *ctx, 0, q))
		usleep(10000);
}

/* fork: each side's device writes land only in its own copy (COW). */
TEST(fork_cow_both_sides)
{
	size_t size = 4 * PAGE;
	unsigned char *p = sg_map_anon(size);
	uint32_t ctx, q;
	int fd = sg_open(), status;
	pid_t pid;

	if (fd < 0)
		SKIP(return, "no render node");
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	memset(p, 0x50, size);
	/* Mirror it writable before the fork. */
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(p, size, 0x50, 1)), 0);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int cfd;
		uint32_t cctx, cq;
		struct svmgpu_cmd c = sg_fill(p, size, 0x99, 1);

		/* The parent's queue is not usable from the child. */
		if (sg_submit(fd, q, &c, 1, NULL) != -EACCES)
			_exit(1);
		child_setup(&cfd, &cctx, &cq);
		if (sg_run_ok(cfd, cq, sg_fill(p, size, 0x43, 1)))
			_exit(2);
		_exit(sg_all_bytes(p, 0x43, size) ? 0 : 3);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_TRUE(sg_all_bytes(p, 0x50, size));

	/* The parent writes after the fork: COW breaks on the parent side. */
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(p, size, 0x70, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p, 0x70, size));
	close(fd);
}

/* fork then device write in the parent while the child still holds the page. */
TEST(fork_parent_writes_child_unchanged)
{
	size_t size = 4 * PAGE;
	unsigned char *p = sg_map_anon(size);
	int pipefd[2], go[2], fd = sg_open(), status;
	uint32_t ctx, q;
	char c = 0;
	pid_t pid;

	if (fd < 0)
		SKIP(return, "no render node");
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(p, size, 0x11, 1)), 0);
	ASSERT_EQ(pipe(pipefd), 0);
	ASSERT_EQ(pipe(go), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (write(pipefd[1], "r", 1) != 1)
			_exit(1);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(sg_all_bytes(p, 0x11, size) ? 0 : 3);
	}
	ASSERT_EQ(read(pipefd[0], &c, 1), 1);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(p, size, 0x22, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p, 0x22, size));
	ASSERT_EQ(write(go[1], "g", 1), 1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	close(fd);
}

/* Shared anonymous memory: the child's device writes are the parent's. */
TEST(shared_anon_parent_child)
{
	size_t size = 8 * PAGE;
	unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned char *dst = sg_map_anon(size);
	int fd = sg_open(), status;
	uint32_t ctx, q;
	pid_t pid;

	if (fd < 0)
		SKIP(return, "no render node");
	ASSERT_NE(p, MAP_FAILED);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(p, size, 0x10, 1)), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int cfd;
		uint32_t cctx, cq;

		child_setup(&cfd, &cctx, &cq);
		_exit(sg_run_ok(cfd, cq, sg_fill(p + PAGE, 2 * PAGE, 0x20, 1)) ? 1 : 0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_TRUE(sg_all_bytes(p + PAGE, 0x20, 2 * PAGE));
	ASSERT_EQ(sg_run_ok(fd, q, sg_copy(dst, p, size)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0x10, PAGE));
	ASSERT_TRUE(sg_all_bytes(dst + PAGE, 0x20, 2 * PAGE));
	ASSERT_TRUE(sg_all_bytes(dst + 3 * PAGE, 0x10, size - 3 * PAGE));
	close(fd);
}

/* Start a never-ending kernel in a child, then kill it. */
TEST(killed_mid_long_kernel)
{
	int pipefd[2], status, n = num_queues();
	pid_t pid;
	char c;

	if (n < 0)
		SKIP(return, "no render node");
	ASSERT_EQ(pipe(pipefd), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int fd;
		uint32_t ctx, q;
		struct svmgpu_cmd cmd = sg_launch(sg_spin_kernel(), NULL, 4, 64, ~0ull >> 8);

		child_setup(&fd, &ctx, &q);
		if (sg_submit(fd, q, &cmd, 1, NULL))
			_exit(1);
		if (write(pipefd[1], "s", 1) != 1)
			_exit(2);
		pause();
		_exit(3);
	}
	ASSERT_EQ(read(pipefd[0], &c, 1), 1);
	usleep(200000);	/* let it run */
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(free_queues(), n);
}

/* Write @val to a module parameter; returns 0 or -1. */
static int set_param(const char *name, const char *val)
{
	char path[128];
	int f, ok;

	snprintf(path, sizeof(path), "/sys/module/svmgpu/parameters/%s", name);
	f = open(path, O_WRONLY);
	if (f < 0)
		return -1;
	ok = write(f, val, strlen(val)) == (ssize_t)strlen(val);
	close(f);
	return ok ? 0 : -1;
}

/*
 * Killed while CTX_CREATE registers a new address space's mmu_notifier:
 * mm_take_all_locks() gives up on the fatal signal, and the kernel frees
 * the notifier at once.  That svm stayed published in the device's context
 * table and was freed under it (KASAN use-after-free in svmgpu_mn_alloc on
 * the next CTX_CREATE; on other kernels a context id and a per-user slot
 * leaked for good).  Many VMAs (1000 each) make the registration slow, so
 * that the kills land in it.
 */
TEST_TIMEOUT(120)
TEST(killed_mid_ctx_create)
{
	int i, fd, status, pipefd[2];
	uint32_t ctx;
	char c;

	struct timespec t0, t;

	fd = sg_open();
	if (fd < 0)
		SKIP(return, "no render node");
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* 150 rounds, or 15 s where KASAN and lockdep make each one slow. */
	for (i = 0; i < 150; i++) {
		pid_t pid;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 15)
			break;

		ASSERT_EQ(pipe(pipefd), 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid) {
			int j, cfd = sg_open();

			if (cfd < 0)
				_exit(100);
			for (j = 0; j < 1000; j++) {
				void *p = mmap(NULL, PAGE, j & 1 ? PROT_READ : PROT_NONE,
					       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

				if (p == MAP_FAILED)
					break;
			}
			if (write(pipefd[1], "m", 1) != 1)
				_exit(101);
			for (;;) {
				uint32_t h;

				if (!sg_ctx_create(cfd, &h))
					sg_ctx_destroy(cfd, h);
			}
		}
		ASSERT_EQ(read(pipefd[0], &c, 1), 1);
		close(pipefd[0]);
		close(pipefd[1]);
		usleep((i * 7919) % 3000);
		ASSERT_EQ(kill(pid, SIGKILL), 0);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFSIGNALED(status));
	}
	/*
	 * Nothing of those children may be left: with a per-user limit of
	 * one, this process's first context must still be allowed.
	 */
	ASSERT_EQ(set_param("max_user_contexts", "1"), 0);
	fd = sg_open();
	ASSERT_GE(fd, 0);
	EXPECT_EQ(sg_ctx_create(fd, &ctx), 0);
	close(fd);
	ASSERT_EQ(set_param("max_user_contexts", "256"), 0);
}

/* A process exits with work queued and everything still open. */
TEST(exit_without_closing)
{
	int status, n = num_queues();
	pid_t pid;

	if (n < 0)
		SKIP(return, "no render node");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		static uint64_t never;
		unsigned char *p = sg_map_anon(MB);
		struct svmgpu_cmd cmds[2] = {
			sg_fill(p, MB, 0x5, 1),
			sg_wait_eq(&never, 1, 0),
		};
		int fd;
		uint32_t ctx, q;

		child_setup(&fd, &ctx, &q);
		if (sg_submit(fd, q, cmds, 2, NULL))
			_exit(1);
		usleep(100000);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	ASSERT_EQ(free_queues(), n);
}

/*
 * One process's last-context teardown waits for its fault work, here stuck
 * for 6 s (debugfs svmgpu_inject_fault_delay: I/O, FUSE or mmap_lock
 * contention in real life).  Another process's context creation, work and
 * teardown must not wait for it.
 */
TEST_TIMEOUT(120)
TEST(stuck_teardown_blocks_no_other_process)
{
	unsigned char *p = sg_map_anon(4 * PAGE);
	char task[32];
	uint32_t ctx, q;
	int fd, status;
	pid_t pid;

	pid = sg_fork_stuck(6000, 0);
	if (pid == -ENOENT)
		SKIP(return, "no debugfs fault-delay hook");
	ASSERT_GT(pid, 0);
	fd = sg_open();
	ASSERT_GE(fd, 0);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(p, 4 * PAGE, 0x4d, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p, 0x4d, 4 * PAGE));
	ASSERT_EQ(close(fd), 0);
	/* All of that while the other process still sits in its close(). */
	snprintf(task, sizeof(task), "/proc/%d", (int)pid);
	EXPECT_TRUE(sg_blocked_in(task, SYS_close));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

/*
 * A process's fault is stuck (6 s, mmap_lock held for reading, as in I/O)
 * and one of its threads creates a context, which needs that mmap_lock for
 * writing.  Another process's creation and work must not wait for it: the
 * creator waits for the mmap_lock before the global creation lock, never
 * while holding it.
 */
TEST_TIMEOUT(120)
TEST(stuck_fault_blocks_only_own_create)
{
	unsigned char *p = sg_map_anon(4 * PAGE);
	char task[32];
	uint32_t ctx, q;
	int fd, status;
	pid_t pid;

	pid = sg_fork_stuck(6000, 1);
	if (pid == -ENOENT)
		SKIP(return, "no debugfs fault-delay hook");
	ASSERT_GT(pid, 0);
	fd = sg_open();
	ASSERT_GE(fd, 0);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(p, 4 * PAGE, 0x5c, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p, 0x5c, 4 * PAGE));
	ASSERT_EQ(close(fd), 0);
	/* All of that while the other process's creation still waits. */
	snprintf(task, sizeof(task), "/proc/%d", (int)pid);
	EXPECT_TRUE(sg_blocked_in(task, SYS_ioctl));
	/* Its creation then succeeds. */
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

/*
 * The debugfs hooks take one unsigned number in their range, nothing else:
 * the fault delay 0..60000 ms, the copy delay 0..10000 µs, the register
 * delay 0..10000 ms, the dispatch delay 0..4000 ms, the invalidation
 * timeouts 0..INT_MAX, the reset any
 * number (0 does nothing).
 */
TEST(debugfs_hooks_reject_bad_values)
{
	static const struct {
		const char *file, *past_range;
	} hooks[] = {
		{ "svmgpu_inject_fault_delay", "60001" },
		{ "svmgpu_inject_copy_delay", "10001" },
		{ "svmgpu_inject_register_delay", "10001" },
		{ "svmgpu_inject_dispatch_delay", "4001" },
		{ "svmgpu_inject_inval_timeout", "2147483648" },
		{ "svmgpu_reset", NULL },
	};
	char path[256];
	unsigned int i;
	int fd, ok;

	if (sg_debugfs_path("svmgpu_reset", path, sizeof(path)))
		SKIP(return, "no debugfs svmgpu_reset");
	fd = sg_open();
	ASSERT_GE(fd, 0);
	/* Without local memory the copy delay takes nothing in range either. */
	ok = sg_has_local_mem(fd) ? 0 : -ENODEV;
	close(fd);
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		TH_LOG("%s", hooks[i].file);
		ASSERT_EQ(sg_debugfs_path(hooks[i].file, path, sizeof(path)), 0);
		if (hooks[i].past_range)
			EXPECT_EQ(sg_write_file(path, hooks[i].past_range), -EINVAL);
		EXPECT_EQ(sg_write_file(path, "-1"), -EINVAL);
		EXPECT_EQ(sg_write_file(path, "5s"), -EINVAL);
		EXPECT_EQ(sg_write_file(path, "y"), -EINVAL);
		EXPECT_EQ(sg_write_file(path, "0x0"), i == 1 ? ok : 0);
		EXPECT_EQ(sg_write_file(path, "0"), i == 1 ? ok : 0);
	}
}

struct stuck_close {
	int fd;
	volatile int tid;
	volatile int go;
	volatile int closed;
};

static void *close_thread(void *arg)
{
	struct stuck_close *c = arg;

	c->tid = syscall(SYS_gettid);
	while (!c->go)
		usleep(1000);
	close(c->fd);
	c->closed = 1;
	return NULL;
}

/*
 * A thread closes the process's last context while its fault work is stuck;
 * another thread creates a context meanwhile.  That creation must wait for
 * the teardown (the dying address space is not reused) and then work.
 */
TEST_TIMEOUT(120)
TEST(create_while_own_teardown_is_stuck)
{
	unsigned char *p = sg_map_anon(4 * PAGE), *q2buf = sg_map_anon(4 * PAGE);
	long long before = sg_dev_counter("fault_delays_injected");
	struct svmgpu_cmd fill = sg_fill(p, 4 * PAGE, 0x21, 1);
	struct stuck_close c = { .fd = sg_open() };
	char inject[256], task[48];
	pthread_t t;
	uint32_t ctx, q;
	int fd, i;

	if (c.fd < 0)
		SKIP(return, "no render node");
	if (sg_debugfs_path("svmgpu_inject_fault_delay", inject, sizeof(inject)) || before < 0)
		SKIP(return, "no debugfs fault-delay hook");
	ASSERT_EQ(sg_ctx_create(c.fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(c.fd, ctx, 0, &q), 0);
	/* The thread exists first: the stuck fault holds our mmap_lock. */
	ASSERT_EQ(pthread_create(&t, NULL, close_thread, &c), 0);
	for (i = 0; i < 2000 && !c.tid; i++)
		usleep(1000);
	ASSERT_EQ(sg_write_file(inject, "3000"), 0);
	ASSERT_EQ(sg_submit(c.fd, q, &fill, 1, NULL), 0);
	for (i = 0; i < 2000 && sg_dev_counter("fault_delays_injected") == before; i++)
		usleep(10000);
	ASSERT_EQ(sg_dev_counter("fault_delays_injected"), before + 1);

	c.go = 1;
	snprintf(task, sizeof(task), "/proc/self/task/%d", c.tid);
	ASSERT_TRUE(sg_await_blocked(task, SYS_close, 20000));

	fd = sg_open();
	ASSERT_GE(fd, 0);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(q2buf, 4 * PAGE, 0x22, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(q2buf, 0x22, 4 * PAGE));
	ASSERT_EQ(pthread_join(t, NULL), 0);
	EXPECT_EQ(c.closed, 1);
	close(fd);
}

/* close() with a command stalled on the device. */
TEST(close_with_work_in_flight)
{
	static uint64_t never;
	int fd = sg_open(), n = num_queues();
	struct svmgpu_cmd cmd = sg_wait_eq(&never, 1, 0);
	struct drm_svmgpu_wait w;
	uint32_t ctx, q;
	uint64_t seq;

	if (fd < 0)
		SKIP(return, "no render node");
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_submit(fd, q, &cmd, 1, &seq), 0);
	ASSERT_EQ(sg_wait(fd, q, seq, seq, 50000000ull, &w), -ETIMEDOUT);
	EXPECT_EQ(w.completed_seq, 0);
	ASSERT_EQ(close(fd), 0);
	ASSERT_EQ(free_queues(), n);
}

/* A queue destroyed under a waiter wakes it with -ECANCELED. */
static void *destroy_later(void *arg)
{
	int *a = arg;

	usleep(200000);
	sg_queue_destroy(a[0], (uint32_t)a[1]);
	return NULL;
}

TEST(queue_destroy_wakes_waiter)
{
	static uint64_t never;
	int fd = sg_open();
	struct svmgpu_cmd cmd = sg_wait_eq(&never, 1, 0);
	struct drm_svmgpu_wait w;
	pthread_t t;
	uint32_t ctx, q;
	uint64_t seq;
	int arg[2];

	if (fd < 0)
		SKIP(return, "no render node");
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_submit(fd, q, &cmd, 1, &seq), 0);
	arg[0] = fd;
	arg[1] = (int)q;
	ASSERT_EQ(pthread_create(&t, NULL, destroy_later, arg), 0);
	ASSERT_EQ(sg_wait(fd, q, seq, seq, ~0ull, &w), -ECANCELED);
	pthread_join(t, NULL);
	ASSERT_EQ(sg_ctx_destroy(fd, ctx), 0);
	close(fd);
}

struct munmap_arg {
	unsigned char *p;
	size_t size;
};

static void *munmap_later(void *arg)
{
	struct munmap_arg *a = arg;

	usleep(20000);
	munmap(a->p, a->size);
	return NULL;
}

/* A thread unmaps part of the destination while the device streams into it. */
TEST_TIMEOUT(120)
TEST(thread_munmap_while_streaming)
{
	size_t size = 32 * MB;
	unsigned char *src = sg_map_anon(size), *dst = sg_map_anon(size);
	struct svmgpu_cmd cmds[4];
	struct munmap_arg a = { dst + size / 2, size / 2 };
	struct drm_svmgpu_wait w;
	uint32_t ctx, q;
	uint64_t seq;
	pthread_t t;
	int fd = sg_open(), i;

	if (fd < 0)
		SKIP(return, "no render node");
	ASSERT_NOT_NULL(src);
	ASSERT_NOT_NULL(dst);
	memset(src, 0x3c, size);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	for (i = 0; i < 4; i++)
		cmds[i] = sg_copy(dst, src, size);
	ASSERT_EQ(sg_submit(fd, q, cmds, 4, &seq), 0);
	ASSERT_EQ(pthread_create(&t, NULL, munmap_later, &a), 0);
	ASSERT_EQ(sg_wait(fd, q, seq, seq - 3, 100ull * 1000000000ull, &w), 0);
	pthread_join(t, NULL);
	/* Every failure is a cancelled access inside the unmapped half. */
	if (w.nr_errors) {
		EXPECT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
		EXPECT_GE(w.err_va, (uintptr_t)a.p);
		EXPECT_LT(w.err_va, (uintptr_t)a.p + a.size);
		EXPECT_EQ(w.err_access, SVMGPU_ACCESS_WRITE);
	}
	TH_LOG("%u of 4 copies cancelled", w.nr_errors);
	/* The mapped half holds the data of the last copy that reached it. */
	ASSERT_TRUE(sg_all_bytes(dst, 0x3c, size / 2));
	close(fd);
}

/* 16 processes with several contexts each, all running at once. */
TEST_TIMEOUT(240)
TEST(sixteen_processes_several_contexts)
{
	int i, status, failed = 0, n = num_queues();
	pid_t pids[16];

	if (n < 0)
		SKIP(return, "no render node");
	for (i = 0; i < 16; i++) {
		pids[i] = fork();
		ASSERT_GE(pids[i], 0);
		if (!pids[i]) {
			size_t size = 256 * 1024;
			unsigned char *src = sg_map_anon(size), *dst = sg_map_anon(size);
			uint64_t counter = 0;
			uint32_t ctx[3], q;
			int fd = sg_open(), c, k;

			if (fd < 0 || !src || !dst)
				_exit(100);
			for (c = 0; c < 3; c++)
				if (sg_ctx_create(fd, &ctx[c]))
					_exit(101);
			for (k = 0; k < 2; k++) {
				for (c = 0; c < 3; c++) {
					int v = (i * 16 + c * 4 + k) & 0xff;

					/* Hardware queues are shared: wait for one. */
					while (sg_queue_create(fd, ctx[c], 0, &q))
						usleep(5000);
					memset(src, v, size);
					if (sg_run_ok(fd, q, sg_copy(dst, src, size)))
						_exit(102);
					if (!sg_all_bytes(dst, v, size))
						_exit(103);
					if (sg_run_ok(fd, q, sg_atomic_add(&counter, 1, 8)))
						_exit(104);
					if (sg_queue_destroy(fd, q))
						_exit(105);
				}
			}
			_exit(counter == 6 ? 0 : 106);
		}
	}
	for (i = 0; i < 16; i++) {
		ASSERT_EQ(waitpid(pids[i], &status, 0), pids[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			TH_LOG("process %d: status 0x%x", i, status);
			failed++;
		}
	}
	ASSERT_EQ(failed, 0);
	ASSERT_EQ(free_queues(), n);
}

/* execve with a context open: the new image has a new mm. */
TEST(execve_with_context_open)
{
	int fd = sg_open(), status, n = num_queues();
	uint32_t ctx, q;
	pid_t pid;

	if (fd < 0)
		SKIP(return, "no render node");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		char *argv[] = { "/bin/true", NULL };
		int cfd = sg_open();

		if (cfd < 0 || sg_ctx_create(cfd, &ctx) || sg_queue_create(cfd, ctx, 0, &q))
			_exit(1);
		/* Not close-on-exec: the file survives into the new image. */
		fcntl(cfd, F_SETFD, 0);
		execve("/bin/true", argv, NULL);
		execve("/bin/sh", (char *[]){ "/bin/sh", "-c", "true", NULL }, NULL);
		_exit(2);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	close(fd);
	ASSERT_EQ(free_queues(), n);
}

struct churn_arg {
	unsigned char *src, *dst;
	size_t size;
	volatile int stop;
	int forks;
};

/* CPU side of the race: drop, re-protect and COW-share the device's memory. */
static void *churn(void *arg)
{
	struct churn_arg *a = arg;
	unsigned int seed = 1;
	size_t chunk = 64 * 1024;

	while (!a->stop) {
		size_t off = (rand_r(&seed) % (a->size / chunk)) * chunk;

		switch (rand_r(&seed) % 4) {
		case 0:
			madvise(a->src + off, chunk, MADV_DONTNEED);
			memset(a->src + off, 0x5e, chunk);
			break;
		case 1:
			mprotect(a->dst + off, chunk, PROT_READ);
			usleep(500);
			mprotect(a->dst + off, chunk, PROT_READ | PROT_WRITE);
			break;
		case 2: {
			pid_t pid = fork();

			if (!pid)
				_exit(0);
			if (pid > 0) {
				waitpid(pid, NULL, 0);
				a->forks++;
			}
			break;
		}
		default:
			madvise(a->dst + off, chunk, MADV_DONTNEED);
			break;
		}
	}
	return NULL;
}

/* Invalidations of every kind race device streaming; nothing hangs or leaks. */
TEST_TIMEOUT(120)
TEST(invalidation_race_stress)
{
	size_t size = 8 * MB;
	struct churn_arg a = { sg_map_anon(size), sg_map_anon(size), size, 0, 0 };
	struct drm_svmgpu_get_stats st;
	struct drm_svmgpu_wait w;
	struct timespec t0, t1;
	int fd = sg_open(), n = num_queues(), cancelled = 0, done = 0;
	uint32_t ctx, q;
	pthread_t t;

	if (fd < 0)
		SKIP(return, "no render node");
	ASSERT_NOT_NULL(a.src);
	ASSERT_NOT_NULL(a.dst);
	memset(a.src, 0x5e, size);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(pthread_create(&t, NULL, churn, &a), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ASSERT_EQ(sg_run(fd, q, sg_copy(a.dst, a.src, size), &w), 0);
		if (w.err_code) {
			/* Only a write into a window the CPU made read-only. */
			ASSERT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
			ASSERT_EQ(w.err_access, SVMGPU_ACCESS_WRITE);
			ASSERT_GE(w.err_va, (uintptr_t)a.dst);
			ASSERT_LT(w.err_va, (uintptr_t)a.dst + size);
			cancelled++;
		}
		done++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < 4);
	a.stop = 1;
	pthread_join(t, NULL);
	TH_LOG("%d copies, %d cancelled, %d forks", done, cancelled, a.forks);

	/* Quiet again: one more copy is exact. */
	memset(a.src, 0x6f, size);
	ASSERT_EQ(sg_run_ok(fd, q, sg_copy(a.dst, a.src, size)), 0);
	ASSERT_TRUE(sg_all_bytes(a.dst, 0x6f, size));
	ASSERT_EQ(sg_stats(fd, ctx, 0, &st), 0);
	EXPECT_GE(st.invalidations, 1);
	close(fd);
	ASSERT_EQ(free_queues(), n);
}


/* A device reset fails the queued work, keeps the address spaces. */
TEST(device_reset_recovers)
{
	static uint64_t never;
	unsigned char *p = sg_map_anon(4 * PAGE), *dst = sg_map_anon(4 * PAGE);
	struct svmgpu_cmd cmd = sg_wait_eq(&never, 1, 0);
	struct drm_svmgpu_wait w;
	int fd = sg_open(), n = num_queues();
	char reset[256];
	uint32_t ctx, q, q2;
	uint64_t seq;

	if (fd < 0)
		SKIP(return, "no render node");
	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)))
		SKIP(return, "no debugfs reset file");
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(p, 4 * PAGE, 0x21, 1)), 0);
	ASSERT_EQ(sg_submit(fd, q, &cmd, 1, &seq), 0);
	ASSERT_EQ(sg_write_file(reset, "1"), 0);
	/* The stalled command was lost: reported, and the queue is gone. */
	ASSERT_EQ(sg_wait(fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
	EXPECT_EQ(sg_submit(fd, q, &cmd, 1, &seq), -ECANCELED);
	ASSERT_EQ(sg_queue_destroy(fd, q), 0);
	/* The context and its mappings survive; a new queue works. */
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q2), 0);
	ASSERT_EQ(sg_run_ok(fd, q2, sg_copy(dst, p, 4 * PAGE)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0x21, 4 * PAGE));
	ASSERT_EQ(sg_queue_destroy(fd, q2), 0);
	close(fd);
	ASSERT_EQ(free_queues(), n);
}

/* Unbind the driver through sysfs with work in flight, then bind it again. */
TEST_TIMEOUT(60)
TEST(zz_sysfs_unbind_with_work_in_flight)
{
	static uint64_t never;
	char link[256], sysfs[128], bdfbuf[64] = "", *bdf;
	struct svmgpu_cmd cmd = sg_wait_eq(&never, 1, 0);
	unsigned char *p = sg_map_anon(4 * PAGE);
	uint32_t ctx, q;
	ssize_t len;
	int fd = sg_open(), fd2, i;

	if (fd < 0)
		SKIP(return, "no render node");
	{
		char node[64];
		drmVersionPtr v;

		/* Which render node is fd? */
		for (i = 128; i < 192; i++) {
			struct stat a, b;

			snprintf(node, sizeof(node), "/dev/dri/renderD%d", i);
			if (!stat(node, &a) && !fstat(fd, &b) && a.st_rdev == b.st_rdev)
				break;
		}
		v = drmGetVersion(fd);
		ASSERT_NOT_NULL(v);
		drmFreeVersion(v);
		snprintf(sysfs, sizeof(sysfs), "/sys/class/drm/renderD%d/device", i);
	}
	len = readlink(sysfs, link, sizeof(link) - 1);
	ASSERT_GT(len, 0);
	link[len] = 0;
	bdf = strrchr(link, '/') + 1;
	strncpy(bdfbuf, bdf, sizeof(bdfbuf) - 1);
	bdf = bdfbuf;
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(p, 4 * PAGE, 0x31, 1)), 0);
	ASSERT_EQ(sg_submit(fd, q, &cmd, 1, NULL), 0);

	ASSERT_EQ(sg_driver_bind(bdf, false), 0);
	/* The device is gone: ioctls fail, memory stays the process's own. */
	EXPECT_EQ(sg_submit(fd, q, &cmd, 1, NULL), -ENODEV);
	memset(p, 0x32, 4 * PAGE);
	munmap(p, 4 * PAGE);
	close(fd);

	ASSERT_EQ(sg_driver_bind(bdf, true), 0);
	fd2 = sg_open_wait(2);
	ASSERT_GE(fd2, 0);
	ASSERT_EQ(sg_ctx_create(fd2, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd2, ctx, 0, &q), 0);
	p = sg_map_anon(PAGE);
	ASSERT_EQ(sg_run_ok(fd2, q, sg_fill(p, PAGE, 0x33, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p, 0x33, PAGE));
	close(fd2);
}

TEST_HARNESS_MAIN
