// SPDX-License-Identifier: MIT
/*
 * svm_unbind: the driver's lifecycle against processes with work in flight.
 * The device is unbound and bound again through sysfs while processes
 * create and destroy contexts and queues and submit work; it gets a
 * function-level reset (sysfs "reset") and a driver reset (debugfs) with
 * commands running; processes are killed mid-COPY; the module is unloaded
 * and loaded again.  Nothing may oops, leak or hang; in-flight work fails
 * with the documented error; every ioctl on a file of an unbound device
 * fails with -ENODEV; the device works again afterwards, byte for byte.
 *
 * Loop counts: $SVMGPU_LOOPS, else svmgpu.lifecycle_loops=N on the kernel
 * command line (GUEST_APPEND), else 3.  Runs after the other svm_* programs
 * and leaves the driver loaded and bound.
 */
#define _GNU_SOURCE
#include <glob.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define PAGE	4096ul
#define MB	(1024ul * 1024)
#define MODULE	"/lib/modules/svmgpu.ko"

/* A device WAIT on this never ends. */
static uint64_t never;

static int loops(void)
{
	char buf[4096], *p;
	const char *env = getenv("SVMGPU_LOOPS");
	int f, len, n = 3;

	if (env)
		return atoi(env);
	f = open("/proc/cmdline", O_RDONLY);
	if (f < 0)
		return n;
	len = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (len <= 0)
		return n;
	buf[len] = 0;
	p = strstr(buf, "svmgpu.lifecycle_loops=");
	if (p)
		n = atoi(p + strlen("svmgpu.lifecycle_loops="));
	return n;
}

/* Hardware queues bound to a queue now (lines "hwqN: ..."); -1 if unknown. */
static int busy_hwqs(void)
{
	char buf[8192], *l;
	int n = 0;

	if (sg_debugfs_read("svmgpu_device", buf, sizeof(buf)) < 0)
		return -1;
	for (l = buf; (l = strstr(l, "\nhwq")); l++)
		n++;
	return n;
}

/*
 * A fresh process's context on the device: FILL then COPY, every byte
 * checked.  Returns 0 or a non-zero step number.
 */
static int device_works_here(void)
{
	size_t size = 8 * PAGE;
	unsigned char *a = sg_map_anon(size), *b = sg_map_anon(size);
	uint32_t ctx, q;
	int fd = sg_open_wait(20), ret = 0;

	if (fd < 0 || !a || !b)
		return 1;
	memset(b, 0x11, size);
	if (sg_ctx_create(fd, &ctx))
		ret = 2;
	else if (sg_queue_create(fd, ctx, 0, &q))
		ret = 3;
	else if (sg_run_ok(fd, q, sg_fill(a, size, 0xc3, 1)))
		ret = 4;
	else if (!sg_all_bytes(a, 0xc3, size))
		ret = 5;
	else if (sg_run_ok(fd, q, sg_copy(b + PAGE, a, size - 2 * PAGE)))
		ret = 6;
	else if (!sg_all_bytes(b, 0x11, PAGE) || !sg_all_bytes(b + PAGE, 0xc3, size - 2 * PAGE) ||
		 !sg_all_bytes(b + size - PAGE, 0x11, PAGE))
		ret = 7;
	close(fd);
	munmap(a, size);
	munmap(b, size);
	return ret;
}

/* Same, in a new process (a new address space, so a new device context). */
static int device_works(void)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(device_works_here());
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Every ioctl of the uapi on @fd fails with exactly -ENODEV. */
static int all_ioctls_enodev(int fd, uint32_t ctx, uint32_t q)
{
	struct svmgpu_cmd cmd = sg_nop();
	struct drm_svmgpu_get_info info;
	struct drm_svmgpu_get_stats st;
	uint32_t h;
	int bad = 0;

#define EXPECT_ENODEV(call) do { \
		int __r = (call); \
		if (__r != -ENODEV) { \
			fprintf(stderr, "# %s: %d, expected %d\n", #call, __r, -ENODEV); \
			bad++; \
		} \
	} while (0)
	EXPECT_ENODEV(sg_info(fd, &info));
	EXPECT_ENODEV(sg_ctx_create(fd, &h));
	EXPECT_ENODEV(sg_queue_create(fd, ctx, 0, &h));
	EXPECT_ENODEV(sg_submit(fd, q, &cmd, 1, NULL));
	EXPECT_ENODEV(sg_wait(fd, q, 1, 1, 0, NULL));
	EXPECT_ENODEV(sg_stats(fd, ctx, 0, &st));
	EXPECT_ENODEV(sg_queue_destroy(fd, q));
	EXPECT_ENODEV(sg_ctx_destroy(fd, ctx));
#undef EXPECT_ENODEV
	return bad;
}

/* A thread blocked in WAIT on a stalled command across a reset or unbind. */
struct waiter {
	int fd;
	uint32_t q;
	uint64_t seq;
	int ret;
	uint32_t err_code;
	double returned;
};

static void *waiter_thread(void *arg)
{
	struct waiter *wt = arg;
	struct drm_svmgpu_wait w;

	wt->ret = sg_wait(wt->fd, wt->q, wt->seq, wt->seq, ~0ull, &w);
	wt->err_code = w.err_code;
	wt->returned = sg_now_s();
	return NULL;
}

/*
 * Child of unbind_races_ioctls: create and destroy contexts (and, unless
 * @ctx_only, queues, with a FILL each) until the device goes away, then check that every ioctl says
 * -ENODEV.  Exit 0, or 10+ on an unexpected result.
 */
static int churn_ready_fd = -1;	/* a child writes a byte here once it has the file */
static int churn_gone_fd = -1;	/* EOF once the unbind has returned (the device is quiet) */
static int churn_gone_wr = -1;	/* the parent's end, closed by each child */

static void churn_child(int id, int ctx_only)
{
	size_t size = 16 * PAGE;
	unsigned char *buf = sg_map_anon(size);
	int fd = sg_open(), ret, iter;
	uint32_t ctx = 0, q = 0;
	uint64_t seq;

	if (churn_gone_wr >= 0)
		close(churn_gone_wr);
	if (fd < 0 || !buf)
		_exit(10);
	if (churn_ready_fd >= 0 && write(churn_ready_fd, "r", 1) != 1)
		_exit(20);
	for (iter = 0; ; iter++) {
		struct svmgpu_cmd c = sg_fill(buf, size, iter & 0xff, 1);
		struct drm_svmgpu_wait w;

		ret = sg_ctx_create(fd, &ctx);
		if (ret == -ENODEV)
			break;
		if (ret) {
			fprintf(stderr, "# child %d: ctx_create %d\n", id, ret);
			_exit(11);
		}
		if (ctx_only) {
			ret = sg_ctx_destroy(fd, ctx);
			if (ret == -ENODEV)
				break;
			if (ret) {
				fprintf(stderr, "# child %d: ctx_destroy %d\n", id, ret);
				_exit(16);
			}
			continue;
		}
		ret = sg_queue_create(fd, ctx, 0, &q);
		if (ret == -ENODEV)
			break;
		if (ret) {
			fprintf(stderr, "# child %d: queue_create %d\n", id, ret);
			_exit(12);
		}
		ret = sg_submit(fd, q, &c, 1, &seq);
		if (ret == -ENODEV)
			break;
		if (!ret) {
			ret = sg_wait(fd, q, seq, seq, SG_TIMEOUT_NS, &w);
			if (ret == -ENODEV)
				break;
			if (!ret && !w.err_code && !sg_all_bytes(buf, iter & 0xff, size)) {
				fprintf(stderr, "# child %d: FILL %d lost bytes\n", id, iter);
				_exit(13);
			}
		}
		/* Racing the unbind: the queue may have been stopped. */
		if (ret && ret != -ECANCELED) {
			fprintf(stderr, "# child %d: submit/wait %d\n", id, ret);
			_exit(14);
		}
		/* munmap what the device mapped (an invalidation), map anew. */
		if (iter & 1) {
			munmap(buf, size);
			buf = sg_map_anon(size);
			if (!buf)
				_exit(19);
		}
		ret = sg_queue_destroy(fd, q);
		if (ret == -ENODEV)
			break;
		if (ret) {
			fprintf(stderr, "# child %d: queue_destroy %d\n", id, ret);
			_exit(15);
		}
		ret = sg_ctx_destroy(fd, ctx);
		if (ret == -ENODEV)
			break;
		if (ret) {
			fprintf(stderr, "# child %d: ctx_destroy %d\n", id, ret);
			_exit(16);
		}
	}
	/* Gone: from now on every ioctl says so, and close frees everything. */
	if (all_ioctls_enodev(fd, ctx, q))
		_exit(17);
	/*
	 * -ENODEV comes as soon as the device is unplugged, before remove has
	 * stopped a command this child submitted just before: the memory is
	 * the process's own again once the unbind has returned.
	 */
	if (churn_gone_fd >= 0) {
		char c;

		while (read(churn_gone_fd, &c, 1) > 0)
			;
	}
	memset(buf, 0x5a, size);
	if (!sg_all_bytes(buf, 0x5a, size))
		_exit(18);
	munmap(buf, size);
	close(fd);
	_exit(0);
}

/* Takes and gives back the mmap_lock for writing until *@arg is set. */
static void *mmap_lock_churn(void *arg)
{
	int *stop = arg;

	while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
		void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p != MAP_FAILED)
			munmap(p, PAGE);
	}
	return NULL;
}

/*
 * 0, or -ENODEV to stop; anything else is a failure of @what but for
 * -ENOBUFS (the asynchronous PREFETCHes' event space, reaped at every
 * turn, is full of requests the work has not run yet) and -EIO (the
 * device was fenced: an invalidation timed out under a slow host).
 */
static int walk_ret(int id, const char *what, long long ret)
{
	if (ret == -ENOBUFS || ret == -EIO)
		return 0;
	if (ret >= 0 || ret == -ENODEV)
		return ret < 0 ? -ENODEV : 0;
	fprintf(stderr, "# walker %d: %s %lld\n", id, what, ret);
	_exit(30);
}

/*
 * Child of unbind_races_ioctls: the walks that take the mmap_lock
 * (PREFETCH to device memory and back, an asynchronous one, RESIDENCY,
 * ADVISE) over a patterned buffer while a thread keeps taking that lock
 * for writing (so the walks often wait for it outside their sections,
 * svmgpu_dev_lock_mm()), until the device goes away.  Every ioctl
 * succeeds or fails with -ENODEV; every byte of the buffer is in place
 * at every turn and after the unbind (removal moved it back).
 */
static void churn_walker(int id)
{
	size_t size = 64 * PAGE;
	unsigned char *buf = sg_map_anon(size);
	int fd = sg_open(), stop = 0, local, iter;
	uint32_t ctx = 0;
	pthread_t t;

	if (churn_gone_wr >= 0)
		close(churn_gone_wr);
	if (fd < 0 || !buf)
		_exit(10);
	local = sg_has_local_mem(fd);
	sg_fill_pat(buf, size, id);
	if (pthread_create(&t, NULL, mmap_lock_churn, &stop))
		_exit(31);
	if (churn_ready_fd >= 0 && write(churn_ready_fd, "r", 1) != 1)
		_exit(20);
	if (walk_ret(id, "ctx_create", sg_ctx_create(fd, &ctx)))
		goto gone;
	for (iter = 0; ; iter++) {
		struct drm_svmgpu_advise a = {
			.ctx_handle = ctx, .op = DRM_SVMGPU_ADVISE_SET,
			.start = (uintptr_t)buf, .size = size,
			.attr = DRM_SVMGPU_ATTR_ACCESSED_BY, .value = iter & 1,
		};
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char ev[4096];

		if (local) {
			if (walk_ret(id, "prefetch", sg_prefetch(fd, buf, size,
								 DRM_SVMGPU_PREFETCH_DEVICE, NULL)))
				break;
			if (walk_ret(id, "prefetch async",
				     sg_prefetch(fd, buf, size, DRM_SVMGPU_PREFETCH_SYSTEM |
						 DRM_SVMGPU_PREFETCH_ASYNC, NULL)))
				break;
			if (walk_ret(id, "residency", sg_residency(fd, buf, size)))
				break;
		}
		if (walk_ret(id, "advise", sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a)))
			break;
		/* the events of the asynchronous PREFETCHes, not to fill the file */
		while (poll(&pfd, 1, 0) > 0 && read(fd, ev, sizeof(ev)) > 0)
			;
		if (sg_check_pat(buf, size, id) != -1) {
			fprintf(stderr, "# walker %d: turn %d lost bytes\n", id, iter);
			_exit(32);
		}
	}
gone:
	if (churn_gone_fd >= 0) {
		char c;

		while (read(churn_gone_fd, &c, 1) > 0)
			;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	if (sg_check_pat(buf, size, id) != -1)
		_exit(33);
	close(fd);
	_exit(0);
}

/*
 * Reported case 2: unbinding the device while processes create and destroy
 * contexts oopsed in svmgpu_mn_alloc() (a CTX_CREATE that passed the
 * unplug check reached the context table after remove had freed it).  In
 * each round more processes than CPUs churn (half of them only creating
 * and destroying contexts, the widest window), one more has a command
 * stalled on the device and a thread waiting on it; two more walk their
 * memory with PREFETCH, RESIDENCY and ADVISE beside a thread that keeps
 * taking their mmap_lock (churn_walker()); the device is unbound mid-way,
 * every ioctl then fails with -ENODEV, and it is bound again.
 */
static int unbind_round(const char *bdf, int round)
{
	enum { NCHILD = 8 };
	pid_t pids[NCHILD];
	struct svmgpu_cmd stall = sg_wait_eq(&never, 1, 0);
	unsigned char *p = sg_map_anon(4 * PAGE);
	struct waiter wt;
	int fd, i, status, bad = 0, ready[2], gone[2], minor;
	uint32_t ctx, q;
	pthread_t t;
	double t0;
	char c;

	fd = sg_open();
	minor = sg_drm_minors(bdf, NULL, NULL);
	if (fd < 0 || !p || minor < 0) {
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (sg_ctx_create(fd, &ctx) || sg_queue_create(fd, ctx, 0, &q))
		return 2;
	if (sg_run_ok(fd, q, sg_fill(p, 4 * PAGE, 0x31, 1)) || !sg_all_bytes(p, 0x31, 4 * PAGE))
		return 3;
	wt.fd = fd;
	wt.q = q;
	if (sg_submit(fd, q, &stall, 1, &wt.seq))
		return 4;
	if (pthread_create(&t, NULL, waiter_thread, &wt))
		return 5;

	if (pipe(ready) || pipe(gone))
		return 6;
	churn_ready_fd = ready[1];
	churn_gone_fd = gone[0];
	churn_gone_wr = gone[1];
	for (i = 0; i < NCHILD; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return 6;
		if (!pids[i]) {
			close(ready[0]);
			if (i == 3 || i == 6)
				churn_walker(i);
			churn_child(i, i & 1);
		}
	}
	close(ready[1]);
	close(gone[0]);
	churn_ready_fd = -1;
	churn_gone_fd = -1;
	churn_gone_wr = -1;
	/* Every child has its file before the unbind (a slow guest forks late). */
	for (i = 0; i < NCHILD && read(ready[0], &c, 1) == 1; i++)
		;
	close(ready[0]);
	usleep(300000 + 100000 * (round % 5));	/* let them churn */
	t0 = sg_now_s();
	i = sg_driver_bind(bdf, false);
	close(gone[1]);		/* the device is quiet: the children check their memory */
	if (i)
		return 7;

	/* The stalled command was abandoned: its waiter learnt it at once. */
	pthread_join(t, NULL);
	if (wt.ret != -ECANCELED || wt.returned - t0 > 5.0) {
		fprintf(stderr, "# round %d: in-flight wait %d after %.2f s\n", round,
			wt.ret, wt.returned - t0);
		bad = 8;
	}
	if (all_ioctls_enodev(fd, ctx, q))
		bad = 9;
	/* The memory stays the process's own. */
	memset(p, 0x32, 4 * PAGE);
	if (!sg_all_bytes(p, 0x32, 4 * PAGE))
		bad = 10;
	munmap(p, 4 * PAGE);
	close(fd);
	/* No new file on a removed device (its render node is gone). */
	fd = sg_open_render(minor);
	if (fd >= 0) {
		close(fd);
		bad = 11;
	}
	for (i = 0; i < NCHILD; i++) {
		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "# round %d: child %d status 0x%x\n", round, i, status);
			bad = 12;
		}
	}
	if (sg_driver_bind(bdf, true))
		return 13;
	if (device_works())
		return 14;
	return bad;
}

TEST_TIMEOUT(600)
TEST(unbind_races_ioctls)
{
	int i, n = loops() < 3 ? 3 : loops();
	double t0 = sg_now_s();
	char bdf[64];

	if (sg_find_bdf(bdf, sizeof(bdf)) || access(SG_DRV "/unbind", W_OK))
		SKIP(return, "no svmgpu PCI function or driver");
	for (i = 0; i < n; i++)
		ASSERT_EQ(unbind_round(bdf, i), 0);
	TH_LOG("%d unbinds racing 8 processes in %.1f s", n, sg_now_s() - t0);
	EXPECT_EQ(busy_hwqs(), 0);
}

/* Is the task of /proc directory @task in the svm teardown (its stack, if readable)? */
static int in_teardown(const char *task)
{
	char stk[4096];

	return !sg_proc_read(task, "stack", stk, sizeof(stk)) ||
	       strstr(stk, "svmgpu_svm_put_ctx") != NULL;
}

/*
 * Unbind while a process's last-context teardown (its close()) waits for a
 * slow fault (10 s, debugfs svmgpu_inject_fault_delay): the teardown has
 * killed its svm and waits holding neither teardown_sem nor a section, so
 * the removal does not wait for it (before, it did, to the stall's end);
 * the teardown ends after the removal, touching nothing of the device, the
 * process's close() returns, and the device binds and works again.
 */
TEST_TIMEOUT(120)
TEST(unbind_waits_for_no_stuck_teardown)
{
	char bdf[64], task[32];
	double t0, took;
	int status, i;
	pid_t pid;

	if (sg_find_bdf(bdf, sizeof(bdf)) || access(SG_DRV "/unbind", W_OK))
		SKIP(return, "no svmgpu PCI function or driver");
	pid = sg_fork_stuck(10000, 0);
	if (pid == -ENOENT)
		SKIP(return, "no debugfs fault-delay hook");
	ASSERT_GT(pid, 0);
	snprintf(task, sizeof(task), "/proc/%d", (int)pid);
	/* past the queue's destroy, in the teardown's wait */
	for (i = 0; i < 300 && !in_teardown(task); i++)
		usleep(10000);
	EXPECT_TRUE(in_teardown(task));
	t0 = sg_now_s();
	ASSERT_EQ(sg_driver_bind(bdf, false), 0);
	took = sg_now_s() - t0;
	TH_LOG("unbind took %.2f s beside a teardown waiting 10 s", took);
	EXPECT_TRUE(sg_asleep_in(task, SYS_close, "D"));
	EXPECT_TRUE(in_teardown(task));
	EXPECT_LT(took, 5.0);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	ASSERT_EQ(sg_driver_bind(bdf, true), 0);
	ASSERT_EQ(device_works(), 0);
	EXPECT_EQ(busy_hwqs(), 0);
}

struct unbind_later {
	const char *bdf;
	int ret;
	pid_t tid;			/* the unbinding thread */
	double done;			/* when its unbind returned */
	double flag_set;		/* when flag_later() set the flag */
	volatile uint64_t *flag;
};

/* Unbind the driver from @arg's function 200 ms from now. */
static void *unbind_later(void *arg)
{
	struct unbind_later *u = arg;

	__atomic_store_n(&u->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	usleep(200000);
	u->ret = sg_driver_bind(u->bdf, false);
	u->done = sg_now_s();
	return NULL;
}

/* Set @arg's flag 1 s after the unbind blocked inside the removal. */
static void *flag_later(void *arg)
{
	struct unbind_later *u = arg;
	char task[64];
	pid_t tid;

	while (!(tid = __atomic_load_n(&u->tid, __ATOMIC_ACQUIRE)))
		usleep(1000);
	snprintf(task, sizeof(task), "/proc/self/task/%d", (int)tid);
	sg_await_blocked(task, SYS_write, 20000);
	usleep(1000000);
	u->flag_set = sg_now_s();
	*u->flag = 1;
	return NULL;
}

/*
 * Unbind while a queue is being stopped (the removal's stop of it made 3 s
 * slow, debugfs svmgpu_inject_stop_delay: its engine runs on meanwhile) and
 * a command of it faults in that window: a device WAIT on a flag the
 * process sets then (1 s into the removal), followed by a FILL of a page
 * never touched.  The
 * command either completes, the fault resolved and the page filled, or its
 * waiter gets -ECANCELED once the queue has stopped; never
 * ERR_FAULT_CANCELLED for memory the process owns.  Before, removal marked
 * the svm dead before it stopped the svm's queues, and a fault in between
 * was cancelled: the device failed the command while its queue still ran
 * (svmgpu-fuzz --unbind: data checks failed with device error 3).
 */
TEST_TIMEOUT(120)
TEST(unbind_while_a_queue_stops_cancels_no_fault)
{
	unsigned char *page = sg_map_anon(2 * PAGE);
	volatile uint64_t *flag = (volatile uint64_t *)(page + PAGE);
	struct unbind_later u = { .bdf = NULL, .flag = flag };
	char bdf[64], sdelay[256];
	struct svmgpu_cmd cmds[2];
	struct drm_svmgpu_wait w;
	int fd, ret, rebound;
	uint32_t ctx, q;
	pthread_t th, th2;
	uint64_t seq;

	if (sg_find_bdf(bdf, sizeof(bdf)) || access(SG_DRV "/unbind", W_OK) ||
	    sg_debugfs_path("svmgpu_inject_stop_delay", sdelay, sizeof(sdelay)))
		SKIP(return, "no driver unbind or debugfs stop-delay hook");
	ASSERT_NOT_NULL(page);
	u.bdf = bdf;
	*flag = 0;
	fd = sg_open();
	ASSERT_GE(fd, 0);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	cmds[0] = sg_wait_eq((const void *)flag, 1, 0);
	cmds[1] = sg_fill(page, PAGE, 0x5a, 1);
	ASSERT_EQ(sg_submit(fd, q, cmds, 2, &seq), 0);
	ASSERT_EQ(sg_write_file(sdelay, "3000"), 0);
	/*
	 * The WAIT starts before the unbind (after it, the ioctl is -ENODEV);
	 * the flag is set once the removal is in the queue's stop.
	 */
	ASSERT_EQ(pthread_create(&th, NULL, unbind_later, &u), 0);
	ASSERT_EQ(pthread_create(&th2, NULL, flag_later, &u), 0);
	ret = sg_wait(fd, q, seq, seq, SG_TIMEOUT_NS, &w);
	pthread_join(th, NULL);
	pthread_join(th2, NULL);
	close(fd);
	/* bound again before any ASSERT: the next tests need the device */
	rebound = u.ret ? 0 : sg_driver_bind(bdf, true);
	ASSERT_EQ(u.ret, 0);
	ASSERT_EQ(rebound, 0);
	if (ret) {
		EXPECT_EQ(ret, -ECANCELED);
	} else {
		EXPECT_EQ(w.err_code, 0);
		EXPECT_TRUE(sg_all_bytes(page, 0x5a, PAGE));
	}
	/*
	 * The stop sleeps 3 s from its start, and the unbind returns after it:
	 * an unbind that returned within 3 s of the flag was in the stop when
	 * the flag was set (else the window was missed, and the test proved
	 * nothing this time).
	 */
	TH_LOG("the command %s; the unbind returned %.2f s after the flag (%s)",
	       ret ? "was cancelled with its queue" : "completed", u.done - u.flag_set,
	       u.done - u.flag_set < 3.0 ? "in the stop's window" : "window missed?");
	EXPECT_EQ(device_works(), 0);
	EXPECT_EQ(busy_hwqs(), 0);
}

/*
 * One reset with work in flight through @reset (the sysfs FLR or the debugfs
 * reset file): the stalled command and a waiter blocked on it end at once
 * with DRM_SVMGPU_ERR_RESET; the queue is stopped (-ECANCELED); the
 * context keeps its address space (a new queue COPYs what an earlier FILL
 * wrote); a new context in another process works.  0 or a step number.
 */
/*
 * Reset the device through @reset: a sysfs or debugfs file to write 1 to,
 * or "suspend": a system suspend and resume of the devices
 * (/sys/power/pm_test "devices", then "freeze"; the kernel busy-waits
 * pm_test_delay seconds in between: 1 here, not the default 5, which a
 * loaded TCG host stretches into a soft-lockup report).
 */
static int trigger(const char *reset)
{
	static const char *delay = "/sys/module/suspend/parameters/pm_test_delay";
	int ret;

	if (strcmp(reset, "suspend"))
		return sg_write_file(reset, "1");
	sg_write_file(delay, "1");
	ret = sg_write_file("/sys/power/pm_test", "devices");
	if (!ret)
		ret = sg_write_file("/sys/power/state", "freeze");
	sg_write_file("/sys/power/pm_test", "none");
	sg_write_file(delay, "5");
	return ret;
}

static int reset_once(const char *reset, int fd, uint32_t ctx, unsigned char *src,
		      unsigned char *dst, size_t size, int iter, int check_new)
{
	struct svmgpu_cmd stall = sg_wait_eq(&never, 1, 0);
	struct svmgpu_cmd spin = sg_launch(sg_spin_kernel(), NULL, 4, 64, ~0ull >> 8);
	struct svmgpu_cmd two[2] = { stall, stall };
	struct waiter wt = { .fd = fd };
	pthread_t t;
	double t0;
	uint32_t q, q2;
	int v = 0x40 + (iter & 0x3f), ret;

	if (sg_queue_create(fd, ctx, 0, &q))
		return 1;
	if (sg_run_ok(fd, q, sg_fill(src, size, v, 1)) || !sg_all_bytes(src, v, size))
		return 2;
	/* A kernel that never ends on one queue, a stalled WAIT on another. */
	if (sg_queue_create(fd, ctx, 0, &q2))
		return 3;
	if (sg_submit(fd, q2, &spin, 1, NULL))
		return 4;
	if (sg_submit(fd, q, two, 2, &wt.seq))
		return 5;
	wt.q = q;
	if (pthread_create(&t, NULL, waiter_thread, &wt))
		return 6;
	usleep(50000);
	t0 = sg_now_s();
	if (trigger(reset))
		return 7;
	pthread_join(t, NULL);
	if (wt.ret || wt.err_code != DRM_SVMGPU_ERR_RESET) {
		fprintf(stderr, "# iteration %d: wait %d err_code %u\n", iter, wt.ret,
			wt.err_code);
		return 8;
	}
	/* A suspend freezes the waiter and lets it go after the test delay. */
	if (wt.returned - t0 > (strcmp(reset, "suspend") ? 5.0 : 15.0)) {
		fprintf(stderr, "# iteration %d: waiter returned %.2f s after the reset\n",
			iter, wt.returned - t0);
		return 9;
	}
	ret = sg_submit(fd, q, &stall, 1, NULL);
	if (ret != -ECANCELED) {
		fprintf(stderr, "# iteration %d: submit after reset %d\n", iter, ret);
		return 10;
	}
	if (sg_queue_destroy(fd, q) || sg_queue_destroy(fd, q2))
		return 11;
	/* The context's address space survived: COPY what the FILL wrote. */
	if (sg_queue_create(fd, ctx, 0, &q))
		return 12;
	memset(dst, 0, size);
	if (sg_run_ok(fd, q, sg_copy(dst, src, size)) || !sg_all_bytes(dst, v, size))
		return 13;
	if (sg_queue_destroy(fd, q))
		return 14;
	if (check_new && device_works())
		return 15;
	return 0;
}

static int flr_path(char *out, size_t len)
{
	char bdf[64];

	if (sg_find_bdf(bdf, sizeof(bdf)))
		return -ENOENT;
	snprintf(out, len, "/sys/bus/pci/devices/%s/reset", bdf);
	return access(out, W_OK) ? -ENOENT : 0;
}

/*
 * Reported case 4: a function-level reset through sysfs with the driver
 * bound left the device dead.  The driver quiesces before it, reprograms
 * after it; in-flight work fails with DRM_SVMGPU_ERR_RESET quickly.
 */
TEST_TIMEOUT(120)
TEST(flr_fails_work_in_flight_and_recovers)
{
	size_t size = 16 * PAGE;
	unsigned char *src = sg_map_anon(size), *dst = sg_map_anon(size);
	char reset[128];
	long long resets;
	uint32_t ctx;
	int fd = sg_open();

	if (fd < 0)
		SKIP(return, "no render node");
	if (flr_path(reset, sizeof(reset)))
		SKIP(return, "no sysfs reset file");
	resets = sg_dev_counter("resets");
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(reset_once(reset, fd, ctx, src, dst, size, 0, 1), 0);
	EXPECT_EQ(sg_dev_counter("resets"), resets + 1);
	close(fd);
	EXPECT_EQ(busy_hwqs(), 0);
}

/*
 * Suspend and resume with work in flight: the same as a reset (the device
 * loses its state), and the contexts survive.
 */
TEST_TIMEOUT(120)
TEST(suspend_resume_with_work_in_flight)
{
	size_t size = 16 * PAGE;
	unsigned char *src = sg_map_anon(size), *dst = sg_map_anon(size);
	long long resets = sg_dev_counter("resets");
	uint32_t ctx;
	int fd = sg_open();

	if (fd < 0)
		SKIP(return, "no render node");
	if (access("/sys/power/pm_test", W_OK))
		SKIP(return, "kernel without CONFIG_PM_DEBUG (/sys/power/pm_test)");
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(reset_once("suspend", fd, ctx, src, dst, size, 0, 1), 0);
	EXPECT_EQ(sg_dev_counter("resets"), resets + 1);
	close(fd);
	EXPECT_EQ(busy_hwqs(), 0);
}

/*
 * A process's last-context teardown waits for the fault thread to take its
 * context's fault records (svmgpu_fault_flush(): the record's interrupt
 * dropped, the next dispatch 2 s slow) when the device is reset through
 * debugfs, reset by FLR, or unbound.  Here the fault thread holds the
 * record in its slowed dispatch: a reset waits for that batch and the
 * teardown's wait ends with it, never by the 5 s timeout
 * (fault_flush_timeouts); an unbind waits for the teardown (removal takes
 * teardown_sem), whose wait must not time out either: the old driver
 * instance's counters are gone with it, so the wait's kernel log line
 * ("fault records up to N not taken") is checked in all three.  The process's
 * close() returns each time, and the device works after each.  On the
 * debug kernel lockdep watches the reset's and removal's locks against
 * the waiting teardown's.  (Not a suspend: the freezer waits for the
 * process to leave the kernel first.)
 */
TEST_TIMEOUT(240)
TEST(resets_and_unbind_while_a_teardown_waits_for_fault_records)
{
	char reset[128], flr[128], bdf[64], delay[256], task[32];
	const char *how[] = { reset, flr, "unbind" };
	long long since = sg_kmsg_count(NULL, 0);
	int status, tries, ret, rebound;
	unsigned int i, overlapped = 0;
	long long timeouts;
	pid_t pid, reaped;

	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)) || flr_path(flr, sizeof(flr)) ||
	    sg_find_bdf(bdf, sizeof(bdf)) || access(SG_DRV "/unbind", W_OK))
		SKIP(return, "no debugfs reset, sysfs FLR or driver unbind");
	for (i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		bool unbind = !strcmp(how[i], "unbind");

		timeouts = sg_dev_counter("fault_flush_timeouts");
		ASSERT_GE(timeouts, 0);
		ASSERT_EQ(sg_debugfs_path("svmgpu_inject_dispatch_delay", delay, sizeof(delay)), 0);
		pid = -EAGAIN;
		for (tries = 0; tries < 3 && pid == -EAGAIN; tries++)
			pid = sg_fork_records_pending(2000);
		if (pid == -ENOENT)
			SKIP(return, "no debugfs dispatch-delay or inject hook");
		ASSERT_GT(pid, 0);
		/* still waiting: the reset or unbind meets the wait */
		snprintf(task, sizeof(task), "/proc/%d", (int)pid);
		overlapped += sg_blocked_in(task, SYS_close);
		ret = unbind ? sg_driver_bind(bdf, false) : trigger(how[i]);
		reaped = waitpid(pid, &status, 0);
		/* bound again before any ASSERT: the next tests need the device */
		rebound = unbind && !ret ? sg_driver_bind(bdf, true) : 0;
		ASSERT_EQ(ret, 0);
		ASSERT_EQ(reaped, pid);
		ASSERT_EQ(rebound, 0);
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(WEXITSTATUS(status), 0);
		if (!unbind) {
			/* the same driver instance: its counters go on */
			EXPECT_EQ(sg_dev_counter("fault_flush_timeouts"), timeouts);
			sg_write_file(delay, "0");	/* if no batch took it */
		}
		EXPECT_EQ(device_works(), 0);
		/* no teardown's wait gave up (svmgpu_fault_flush()'s error) */
		EXPECT_EQ(sg_kmsg_count(" not taken in ", since), 0);
		TH_LOG("%s while a teardown waited: its close() returned, the device works",
		       unbind ? "unbind" : how[i]);
	}
	EXPECT_EQ(overlapped, i);
	EXPECT_EQ(busy_hwqs(), 0);
}

/* A kernel that stores 1, 2, 3, ... to the u64 at its args, without end. */
static const uint64_t store_loop[] __attribute__((aligned(8))) = {
	SVMGPU_ISA_ENCODE(SVMGPU_OP_S2R, 2, 0, 0, SVMGPU_SR_ARGS),
	SVMGPU_ISA_ENCODE(SVMGPU_OP_MOVI, 3, 0, 0, 1),
	SVMGPU_ISA_ENCODE(SVMGPU_OP_LOOP, 0, 0, 0, 0),
	SVMGPU_ISA_ENCODE(SVMGPU_OP_ST64, 0, 2, 3, 0),
	SVMGPU_ISA_ENCODE(SVMGPU_OP_ADD, 3, 3, SVMGPU_ISA_RB_IMM, 1),
	SVMGPU_ISA_ENCODE(SVMGPU_OP_ENDLOOP, 0, 0, 0, 0),
	SVMGPU_ISA_ENCODE(SVMGPU_OP_EXIT, 0, 0, 0, 0),
};

/*
 * Fork a process that writes "1" to @path: its pid once it is blocked (D
 * state) in that write, which for debugfs svmgpu_reset means inside the
 * reset; -ETIMEDOUT (the child killed) if it never is.
 */
static pid_t reset_in_child(const char *path)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(sg_write_file(path, "1") ? 1 : 0);
	return sg_child_blocked(pid, SYS_write, 20000);
}

/*
 * A new context and queue on @fd running store_loop on *@word: 0 once its
 * first store landed (the command's sequence number in *@seq), or -errno.
 */
static int store_loop_running(int fd, volatile uint64_t *word, uint32_t *ctx, uint32_t *q,
			      uint64_t *seq)
{
	struct svmgpu_cmd spin = sg_launch(store_loop, (const void *)word, 1, 32, ~0ull >> 8);
	int i, ret;

	ret = sg_ctx_create(fd, ctx);
	if (!ret)
		ret = sg_queue_create(fd, *ctx, 0, q);
	if (!ret)
		ret = sg_submit(fd, *q, &spin, 1, seq);
	for (i = 0; !ret && i < 1000 && !*word; i++)
		usleep(10000);
	return ret ? ret : *word ? 0 : -ETIMEDOUT;
}

/*
 * A queue runs a kernel that stores without end while its process waits
 * on it, and the device is reset (debugfs) with the reset's stop of the
 * queue made 500 ms slow (svmgpu_inject_stop_delay: the engine runs on
 * meanwhile).  The WAIT returns (DRM_SVMGPU_ERR_RESET) only once the
 * hardware queue is disabled and idle, so a word the process writes then
 * stays as written.  Before, the reset failed the queue's commands, which
 * woke the waiter, and only then stopped the queue: the kernel's stores
 * landed on the process's write.
 */
TEST_TIMEOUT(120)
TEST(reset_wakes_a_waiter_only_once_the_engine_let_go)
{
	volatile uint64_t *word = sg_map_anon(PAGE);
	char reset[128], hook[256];
	struct drm_svmgpu_wait w;
	int fd = sg_open(), status, ret;
	uint32_t ctx, q;
	uint64_t seq;
	pid_t pid;

	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)) ||
	    sg_debugfs_path("svmgpu_inject_stop_delay", hook, sizeof(hook)))
		SKIP(return, "no debugfs reset or stop-delay hook");
	ASSERT_GE(fd, 0);
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(store_loop_running(fd, word, &ctx, &q, &seq), 0);
	ASSERT_EQ(sg_write_file(hook, "500"), 0);
	pid = reset_in_child(reset);
	ASSERT_GT(pid, 0);
	/* the reset sleeps in its stop of the queue, the kernel still runs */
	ret = sg_wait(fd, q, seq, seq, SG_TIMEOUT_NS, &w);
	*word = 0;
	usleep(800000);		/* past the stop's 500 ms */
	EXPECT_EQ(*word, 0);
	EXPECT_EQ(ret, 0);
	EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sg_write_file(hook, "0");	/* if no stop took it */
	close(fd);
	EXPECT_EQ(device_works(), 0);
}

/* SUBMIT with an event carrying @user_data; 0 or -errno. */
static int submit_event(int fd, uint32_t q, const struct svmgpu_cmd *cmds, uint32_t n,
			uint64_t user_data, uint64_t *seq)
{
	struct drm_svmgpu_submit a = {
		.flags = DRM_SVMGPU_SUBMIT_EVENT, .queue_handle = q, .count = n,
		.cmds = (uintptr_t)cmds, .user_data = user_data,
	};
	int ret = sg_ioctl(fd, DRM_IOCTL_SVMGPU_SUBMIT, &a);

	*seq = a.seq;
	return ret;
}

/* The events readable within @ms (at most @max): their count, or -errno. */
static int events_read(int fd, struct drm_svmgpu_event_complete *ev, int max, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t len;

	if (poll(&p, 1, ms) < 0)
		return -errno;
	if (!(p.revents & POLLIN))
		return 0;
	len = read(fd, ev, max * sizeof(*ev));
	if (len < 0)
		return -errno;
	return (int)(len / sizeof(*ev));
}

/*
 * A reset fails a submission of 41 commands — a kernel that stores
 * without end, then 40 NOPs — whose event was requested, with the reset's
 * stop of the queue made 2 s slow (the engine runs on meanwhile).  In that
 * window a device WAIT before it completes and the process collects it
 * (WAIT ioctl, timeout 0): that submission's event comes at once, the
 * running one's only once the stop has disabled the hardware queue, and
 * then as WAIT reports it: result 0, DRM_SVMGPU_ERR_RESET from the
 * kernel's seq, 41 failures.  Before, the collection also sent the running
 * submission's event, -ECANCELED, while the kernel still stored into the
 * buffer; and the reset's 41 failures were reported as its last 32.
 */
TEST_TIMEOUT(120)
TEST(reset_sends_a_running_submission_event_once_the_engine_let_go)
{
	volatile uint64_t *word = sg_map_anon(PAGE), *flag = word + 8;
	struct drm_svmgpu_event_complete ev[2];
	struct svmgpu_cmd cmds[41];
	char reset[128], hook[256];
	struct drm_svmgpu_wait w;
	uint64_t seq_a, seq_b;
	int fd = sg_open(), status, i, n;
	uint32_t ctx, q;
	pid_t pid;

	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)) ||
	    sg_debugfs_path("svmgpu_inject_stop_delay", hook, sizeof(hook)))
		SKIP(return, "no debugfs reset or stop-delay hook");
	ASSERT_GE(fd, 0);
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	cmds[0] = sg_wait_eq((const void *)flag, 1, 0);
	ASSERT_EQ(submit_event(fd, q, cmds, 1, 1, &seq_a), 0);
	cmds[0] = sg_launch(store_loop, (const void *)word, 1, 32, ~0ull >> 8);
	for (i = 1; i < 41; i++)
		cmds[i] = sg_nop();
	ASSERT_EQ(submit_event(fd, q, cmds, 41, 2, &seq_b), 0);
	ASSERT_EQ(sg_write_file(hook, "2000"), 0);
	pid = reset_in_child(reset);
	ASSERT_GT(pid, 0);
	/* inside the stop's sleep: the WAIT completes, the kernel starts */
	*flag = 1;
	for (i = 0; i < 1000 && sg_wait(fd, q, seq_a, seq_a, 0, &w); i++)
		usleep(1000);
	EXPECT_EQ(sg_wait(fd, q, seq_a, seq_a, 0, &w), 0);
	EXPECT_EQ(w.nr_errors, 0);
	n = events_read(fd, ev, 2, 300);
	ASSERT_GE(n, 1);
	EXPECT_EQ(n, 1);
	EXPECT_EQ(ev[0].user_data, 1);
	EXPECT_EQ(ev[0].result, 0);
	if (n > 1) {
		/* the running submission's event came early: the kernel stores on */
		*word = 0;
		usleep(300000);
		EXPECT_EQ(*word, 0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (n == 1)
		ASSERT_EQ(events_read(fd, ev + 1, 1, 10000), 1);
	/* nothing lands after the event */
	*word = 0;
	usleep(300000);
	EXPECT_EQ(*word, 0);
	EXPECT_EQ(ev[1].user_data, 2);
	EXPECT_EQ(ev[1].result, 0);
	EXPECT_EQ(ev[1].err_code, DRM_SVMGPU_ERR_RESET);
	EXPECT_EQ(ev[1].first_seq, seq_b - 40);
	EXPECT_EQ(ev[1].err_seq, seq_b - 40);
	EXPECT_EQ(ev[1].nr_errors, 41);
	EXPECT_EQ(sg_wait(fd, q, seq_b, seq_b - 40, 0, &w), 0);
	EXPECT_EQ(w.err_seq, seq_b - 40);
	EXPECT_EQ(w.nr_errors, 41);
	sg_write_file(hook, "0");	/* if no stop took it */
	close(fd);
	EXPECT_EQ(device_works(), 0);
}

/*
 * The device is reset (debugfs) while the queue's owner destroys it: the
 * reset's stop of the queue, running an endless kernel, is made 3 s slow
 * (svmgpu_inject_stop_delay), and meanwhile the process destroys the queue
 * and its context and closes the device.  QUEUE_DESTROY waits for the
 * reset's stop, which may still use the context (an error's counters, a
 * save area's accounting).  Before, it returned at once (the queue was
 * already stopped) and CTX_DESTROY freed the context under the reset.
 * (Here the queue has no save area and logs no error, so the reset did not
 * touch the freed context and KASAN had nothing to see; the order is what
 * is checked.)
 */
TEST_TIMEOUT(120)
TEST(reset_stopping_a_queue_its_owner_destroys)
{
	volatile uint64_t *word = sg_map_anon(PAGE);
	char reset[128], hook[256];
	int fd = sg_open(), status;
	uint32_t ctx, q;
	double t0, took;
	pid_t pid;

	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)) ||
	    sg_debugfs_path("svmgpu_inject_stop_delay", hook, sizeof(hook)))
		SKIP(return, "no debugfs reset or stop-delay hook");
	ASSERT_GE(fd, 0);
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(store_loop_running(fd, word, &ctx, &q, NULL), 0);
	ASSERT_EQ(sg_write_file(hook, "3000"), 0);
	pid = reset_in_child(reset);
	ASSERT_GT(pid, 0);
	usleep(100000);		/* into the stop's sleep */
	t0 = sg_now_s();
	EXPECT_EQ(sg_queue_destroy(fd, q), 0);
	took = sg_now_s() - t0;
	EXPECT_EQ(sg_ctx_destroy(fd, ctx), 0);
	close(fd);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* it waited for the reset's stop (or, first, slept the hook itself) */
	EXPECT_GE(took, 0.3);
	TH_LOG("QUEUE_DESTROY during the reset's stop took %.2f s", took);
	sg_write_file(hook, "0");
	EXPECT_EQ(device_works(), 0);
}

/*
 * The device is reset (debugfs) while a process whose queue runs an
 * endless kernel is killed: the reset's stop of that queue is made 3 s
 * slow (svmgpu_inject_stop_delay), and the process's mm teardown stops the
 * same queue (svmgpu_svm_kill() from the mmu notifier's release, under
 * svm->lock).  The teardown waits for the reset's stop before it removes
 * the process's device mappings and frees its page tables, so the process
 * is reaped only after it; lockdep (debug kernel) sees that wait as
 * svmgpu_queue_stop_map taken under svm->lock.  Before, the teardown went
 * on at once (the queue was already stopped).  A child of the process
 * keeps the device file open, so that its close (QUEUE_DESTROY's wait)
 * is not what delays the reap.
 */
TEST_TIMEOUT(120)
TEST(reset_stopping_the_queue_of_a_process_being_killed)
{
	char reset[128], hook[256];
	pid_t pid, victim, holder;
	int status, pipefd[2];
	double t0, took;

	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)) ||
	    sg_debugfs_path("svmgpu_inject_stop_delay", hook, sizeof(hook)))
		SKIP(return, "no debugfs reset or stop-delay hook");
	ASSERT_EQ(pipe(pipefd), 0);
	victim = fork();
	ASSERT_GE(victim, 0);
	if (!victim) {
		volatile uint64_t *word = sg_map_anon(PAGE);
		int fd = sg_open();
		uint32_t ctx, q;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0 || !word || store_loop_running(fd, word, &ctx, &q, NULL))
			_exit(1);
		/* holds the file (not the mm) until the test is over */
		holder = fork();
		if (holder < 0)
			_exit(3);
		if (!holder) {
			/* dies after the process it holds the file for */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(pipefd[1]);
			for (;;)
				pause();
		}
		if (write(pipefd[1], &holder, sizeof(holder)) != sizeof(holder))
			_exit(2);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	/* its kernel runs (EOF: it failed) */
	ASSERT_EQ(read(pipefd[0], &holder, sizeof(holder)), sizeof(holder));
	close(pipefd[0]);
	ASSERT_EQ(sg_write_file(hook, "3000"), 0);
	pid = reset_in_child(reset);
	if (pid > 0)
		usleep(100000);		/* into the stop's sleep */
	t0 = sg_now_s();
	kill(victim, SIGKILL);
	ASSERT_EQ(waitpid(victim, &status, 0), victim);
	took = sg_now_s() - t0;
	ASSERT_GT(pid, 0);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* its teardown waited for the reset's stop (or, first, slept the hook) */
	EXPECT_GE(took, 0.3);
	TH_LOG("the killed process was reaped %.2f s after SIGKILL", took);
	kill(holder, SIGKILL);
	sg_write_file(hook, "0");
	EXPECT_EQ(device_works(), 0);
}

/*
 * A process's first context creation is held for 3 s with its svm in the
 * id table but not yet registered with the mm (debugfs
 * svmgpu_inject_register_delay: inside mmu_notifier_get(), under the
 * process's mmap_lock and the creation lock), when the device is reset by
 * FLR, then when it is unbound.  The FLR reprograms the context table with
 * that svm in it, and the creation then completes and its context works;
 * the unbind waits for the ioctl, and the context is then gone (-ENODEV).
 * Nothing hangs, the device works after each, and lockdep (debug kernel)
 * sees the reset's and removal's locks against the creation's.
 */
TEST_TIMEOUT(180)
TEST(flr_and_unbind_while_a_creation_is_held_unregistered)
{
	char hook[256], flr[128], bdf[64], task[32];
	const char *how[] = { flr, "unbind" };
	int status, ret, rebound;
	pid_t pid, reaped;
	unsigned int i;
	bool held;

	if (sg_debugfs_path("svmgpu_inject_register_delay", hook, sizeof(hook)) ||
	    flr_path(flr, sizeof(flr)) || sg_find_bdf(bdf, sizeof(bdf)) ||
	    access(SG_DRV "/unbind", W_OK))
		SKIP(return, "no debugfs register-delay hook, sysfs FLR or driver unbind");
	for (i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		bool unbind = !strcmp(how[i], "unbind");

		ASSERT_EQ(sg_debugfs_path("svmgpu_inject_register_delay", hook, sizeof(hook)), 0);
		ASSERT_EQ(sg_write_file(hook, "3000"), 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid) {
			unsigned char *p = sg_map_anon(4 * PAGE);
			int fd = sg_open();
			uint32_t ctx, q;

			if (fd < 0 || !p)
				_exit(10);
			ret = sg_ctx_create(fd, &ctx);
			if (ret == -ENODEV)
				_exit(2);	/* unbound before it began */
			if (ret)
				_exit(11);
			ret = sg_queue_create(fd, ctx, 0, &q);
			if (!ret)
				ret = sg_run_ok(fd, q, sg_fill(p, 4 * PAGE, 0x5a, 1));
			if (ret == -ENODEV)
				_exit(1);	/* created, then the device went */
			if (ret || !sg_all_bytes(p, 0x5a, 4 * PAGE))
				_exit(12);
			_exit(0);
		}
		/*
		 * Held in the creation (msleep: asleep in D state in the
		 * ioctl); the 3 s hold began at most 20 ms before this saw it.
		 */
		snprintf(task, sizeof(task), "/proc/%d", (int)pid);
		held = sg_await_blocked(task, SYS_ioctl, 10000);
		ret = !held ? -ETIMEDOUT : unbind ? sg_driver_bind(bdf, false) : trigger(flr);
		reaped = waitpid(pid, &status, 0);
		rebound = unbind && !ret ? sg_driver_bind(bdf, true) : 0;
		ASSERT_TRUE(held);
		ASSERT_EQ(ret, 0);
		ASSERT_EQ(reaped, pid);
		ASSERT_EQ(rebound, 0);
		ASSERT_TRUE(WIFEXITED(status));
		/*
		 * The unbind waited for the creation (it runs inside
		 * drm_dev_enter()), which succeeded; the queue then did not.
		 */
		EXPECT_EQ(WEXITSTATUS(status), unbind ? 1 : 0);
		TH_LOG("%s while a creation was held: the creator ended with %d",
		       unbind ? "unbind" : "FLR", WEXITSTATUS(status));
		EXPECT_EQ(device_works(), 0);
	}
	EXPECT_EQ(busy_hwqs(), 0);
}

/*
 * A TLB invalidation that times out (injected through debugfs) must not let
 * pages go back to the kernel while the device may still reach them: the
 * driver fences the device (reset, bus mastering off) before munmap
 * returns and recovers it from a work item.  Work in flight fails with
 * DRM_SVMGPU_ERR_RESET; the context and the device work again.
 */
TEST_TIMEOUT(120)
TEST(tlb_timeout_fences_and_recovers)
{
	struct svmgpu_cmd spin = sg_launch(sg_spin_kernel(), NULL, 4, 64, ~0ull >> 8);
	size_t size = 16 * PAGE;
	unsigned char *buf = sg_map_anon(size), *other = sg_map_anon(size);
	long long resets = sg_dev_counter("resets");
	long long timeouts = sg_dev_counter("tlb_inval_timeouts");
	struct drm_svmgpu_wait w;
	char inject[256];
	uint32_t ctx, q, q2;
	uint64_t seq;
	int fd = sg_open(), i;

	if (fd < 0)
		SKIP(return, "no render node");
	if (sg_debugfs_path("svmgpu_inject_inval_timeout", inject, sizeof(inject)))
		SKIP(return, "no debugfs injection file");
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q2), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(buf, size, 0x5e, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(buf, 0x5e, size));
	ASSERT_EQ(sg_submit(fd, q2, &spin, 1, &seq), 0);

	ASSERT_EQ(sg_write_file(inject, "1"), 0);
	/* The invalidation of this munmap "times out". */
	ASSERT_EQ(munmap(buf, size), 0);
	EXPECT_EQ(sg_dev_counter("tlb_inval_timeouts"), timeouts + 1);
	for (i = 0; i < 500 && sg_dev_counter("resets") < resets + 1; i++)
		usleep(10000);
	EXPECT_EQ(sg_dev_counter("resets"), resets + 1);

	/* The kernel in flight was lost in the reset, and said so. */
	ASSERT_EQ(sg_wait(fd, q2, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
	/* The context works again on a new queue. */
	ASSERT_EQ(sg_queue_destroy(fd, q2), 0);
	ASSERT_EQ(sg_queue_destroy(fd, q), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(other, size, 0x6f, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(other, 0x6f, size));
	close(fd);
	ASSERT_EQ(device_works(), 0);
	EXPECT_EQ(busy_hwqs(), 0);
}

static int reset_loop(const char *reset, int n)
{
	size_t size = 4 * PAGE;
	unsigned char *src = sg_map_anon(size), *dst = sg_map_anon(size);
	int fd = sg_open(), i, ret = 0;
	uint32_t ctx;
	double t0 = sg_now_s();

	if (fd < 0 || sg_ctx_create(fd, &ctx))
		return -1;
	for (i = 0; i < n && !ret; i++) {
		ret = reset_once(reset, fd, ctx, src, dst, size, i, i == n - 1);
		if (ret)
			fprintf(stderr, "# iteration %d: step %d\n", i, ret);
	}
	fprintf(stderr, "# %d resets with work in flight in %.1f s\n", i, sg_now_s() - t0);
	close(fd);
	return ret;
}

TEST_TIMEOUT(3600)
TEST(flr_loop_with_work_in_flight)
{
	char reset[128];
	long long resets = sg_dev_counter("resets");

	if (flr_path(reset, sizeof(reset)))
		SKIP(return, "no sysfs reset file");
	ASSERT_EQ(reset_loop(reset, loops()), 0);
	EXPECT_EQ(sg_dev_counter("resets"), resets + loops());
	EXPECT_EQ(busy_hwqs(), 0);
}

TEST_TIMEOUT(3600)
TEST(driver_reset_loop_with_work_in_flight)
{
	char reset[256];
	long long resets = sg_dev_counter("resets");

	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)))
		SKIP(return, "no debugfs reset file");
	ASSERT_EQ(reset_loop(reset, loops()), 0);
	EXPECT_EQ(sg_dev_counter("resets"), resets + loops());
	EXPECT_EQ(busy_hwqs(), 0);
}

/*
 * kill -9 of a process in the middle of a long COPY (or a never-ending
 * kernel): the driver tears its queues and address space down; no
 * hardware queue stays bound and the device keeps working.
 */
TEST_TIMEOUT(3600)
TEST(kill9_mid_copy_loop)
{
	size_t size = 32 * MB;
	int i, n = loops(), status;
	double t0 = sg_now_s();
	int fd0 = sg_open();

	if (fd0 < 0)
		SKIP(return, "no render node");
	close(fd0);
	for (i = 0; i < n; i++) {
		int pipefd[2];
		pid_t pid;
		char c;

		ASSERT_EQ(pipe(pipefd), 0);
		pid = fork();
		ASSERT_GE(pid, 0);
		if (!pid) {
			unsigned char *a = sg_map_anon(size), *b = sg_map_anon(size);
			struct svmgpu_cmd cmds[2];
			uint32_t ctx, q;
			int fd = sg_open();

			if (fd < 0 || !a || !b || sg_ctx_create(fd, &ctx) ||
			    sg_queue_create(fd, ctx, 0, &q))
				_exit(1);
			memset(a, 0x77, size);
			cmds[0] = sg_copy(b, a, size);
			cmds[1] = sg_launch(sg_spin_kernel(), NULL, 4, 64, ~0ull >> 8);
			if (sg_submit(fd, q, cmds, (i & 1) + 1, NULL))
				_exit(2);
			if (write(pipefd[1], "s", 1) != 1)
				_exit(3);
			pause();
			_exit(4);
		}
		close(pipefd[1]);
		ASSERT_EQ(read(pipefd[0], &c, 1), 1);
		close(pipefd[0]);
		usleep(1000 * (i % 7) * 20);
		ASSERT_EQ(kill(pid, SIGKILL), 0);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_TRUE(WIFSIGNALED(status));
		ASSERT_EQ(busy_hwqs(), 0);
	}
	TH_LOG("%d processes killed mid-COPY in %.1f s", n, sg_now_s() - t0);
	ASSERT_EQ(device_works(), 0);
}

/* A process with work in flight on the device; the pid, or -1. */
static pid_t start_busy_child(int *ready_fd)
{
	int pipefd[2];
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		struct svmgpu_cmd cmds[2] = {
			sg_fill(sg_map_anon(MB), MB, 0x99, 8),
			sg_wait_eq(&never, 1, 0),
		};
		uint32_t ctx, q;
		int fd = sg_open();

		close(pipefd[0]);
		if (fd < 0 || sg_ctx_create(fd, &ctx) || sg_queue_create(fd, ctx, 0, &q) ||
		    sg_submit(fd, q, cmds, 2, NULL))
			_exit(1);
		if (write(pipefd[1], "s", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	*ready_fd = pipefd[0];
	return pid;
}

/* sysfs unbind/bind with a process's work in flight, N times. */
TEST_TIMEOUT(3600)
TEST(unbind_bind_loop_with_work_in_flight)
{
	int i, n = loops(), status, rfd;
	double t0 = sg_now_s();
	char bdf[64], c;

	if (sg_find_bdf(bdf, sizeof(bdf)) || access(SG_DRV "/unbind", W_OK))
		SKIP(return, "no svmgpu PCI function or driver");
	for (i = 0; i < n; i++) {
		pid_t pid = start_busy_child(&rfd);
		uint32_t q = 1, ctx = 1;
		int fd;

		ASSERT_GE(pid, 0);
		ASSERT_EQ(read(rfd, &c, 1), 1);
		close(rfd);
		fd = sg_open();
		ASSERT_GE(fd, 0);
		ASSERT_EQ(sg_driver_bind(bdf, false), 0);
		ASSERT_EQ(all_ioctls_enodev(fd, ctx, q), 0);
		close(fd);
		ASSERT_EQ(kill(pid, SIGKILL), 0);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		ASSERT_EQ(sg_driver_bind(bdf, true), 0);
		fd = sg_open_wait(20);
		ASSERT_GE(fd, 0);
		close(fd);
	}
	TH_LOG("%d unbind/bind cycles with work in flight in %.1f s", n, sg_now_s() - t0);
	ASSERT_EQ(device_works(), 0);
	EXPECT_EQ(busy_hwqs(), 0);
}

/*
 * rmmod/insmod N times, each right after a process with work in flight was
 * killed (rmmod is refused while its file is still open, then succeeds).
 */
TEST_TIMEOUT(3600)
TEST(zz_rmmod_insmod_loop)
{
	int i, n = loops(), status, rfd, mfd, tries;
	double t0 = sg_now_s();
	char c;

	if (access(MODULE, R_OK) || access("/sys/module/svmgpu", F_OK))
		SKIP(return, "svmgpu is not a loaded module from " MODULE);
	for (i = 0; i < n; i++) {
		pid_t pid = start_busy_child(&rfd);

		ASSERT_GE(pid, 0);
		ASSERT_EQ(read(rfd, &c, 1), 1);
		close(rfd);
		ASSERT_EQ(kill(pid, SIGKILL), 0);
		for (tries = 0; tries < 500; tries++) {
			if (!syscall(SYS_delete_module, "svmgpu", O_NONBLOCK))
				break;
			ASSERT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);
			usleep(10000);
		}
		ASSERT_LT(tries, 500);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		mfd = open(MODULE, O_RDONLY | O_CLOEXEC);
		ASSERT_GE(mfd, 0);
		ASSERT_EQ(syscall(SYS_finit_module, mfd, "", 0), 0);
		close(mfd);
		mfd = sg_open_wait(20);
		ASSERT_GE(mfd, 0);
		close(mfd);
	}
	TH_LOG("%d rmmod/insmod cycles in %.1f s", n, sg_now_s() - t0);
	ASSERT_EQ(device_works(), 0);
}

TEST_HARNESS_MAIN
