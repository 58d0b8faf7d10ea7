// SPDX-License-Identifier: MIT
/*
 * svm_hang: per-queue hang recovery and the queue watchdog.  A queue whose
 * completed seq does not move for the module parameter hang_timeout_ms
 * (an endless kernel, a WAIT never satisfied) is reset alone: every command
 * it had pending fails with DRM_SVMGPU_ERR_HANG, the queue stays usable,
 * and other queues and processes go on with exact data.  Completions whose
 * interrupt never comes (queue vectors masked in INTR_MASK through BAR0,
 * as a dropped MSI would look) are collected by the watchdog's poll.
 * A queue stalled because the device withholds its fault records
 * (INJ_STALL_FAULT_RING) is noticed and the device reset, the work replayed.
 * A reset that does not bring the device back (INJ_ENABLE_REFUSE) leaves it
 * wedged until the next reset.  A TLB invalidation refused, or not even
 * queued (BAR decoding off), fences the device before munmap returns.
 * Counters: debugfs svmgpu_device hangs, hang_cmds, hang_reset_ns,
 * watchdog_polls, wedged; svmgpu_inject fault_stall_resets.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/mman.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define SIZE		(64 * 1024)
#define HANG_MS		3000

/* BAR0 of the (first) device bound to svmgpu, mapped through sysfs; NULL if none. */
static volatile uint32_t *bar0_map(void)
{
	glob_t g;
	void *p = MAP_FAILED;
	int f = -1;

	if (!glob(SG_DRV "/0000:*/resource0", 0, NULL, &g) && g.gl_pathc)
		f = open(g.gl_pathv[0], O_RDWR | O_SYNC);
	globfree(&g);
	if (f < 0)
		return NULL;
	p = mmap(NULL, SVMGPU_BAR_REGS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	close(f);
	return p == MAP_FAILED ? NULL : p;
}

static void intr_mask_set(uint32_t mask)
{
	volatile uint32_t *bar = bar0_map();

	if (!bar)
		return;
	bar[SVMGPU_REG_INTR_MASK / 4] = mask;
	munmap((void *)bar, SVMGPU_BAR_REGS_SIZE);
}

/*
 * INJ_STALL_FAULT_RING through debugfs svmgpu_inject, else through BAR0
 * (when it can be mapped): 0 or -errno.
 */
static int stall_fault_ring_set(uint32_t v)
{
	volatile uint32_t *bar;

	if (!sg_inject("stall_fault_ring", v))
		return 0;
	bar = bar0_map();
	if (!bar)
		return -ENODEV;
	bar[SVMGPU_REG_INJ_STALL_FAULT_RING / 4] = v;
	munmap((void *)bar, SVMGPU_BAR_REGS_SIZE);
	return 0;
}

FIXTURE(hang) {
	int fd;
	uint32_t ctx;
};

FIXTURE_SETUP(hang)
{
	/* written back by the harness however the test ends, a timeout too */
	int ret = svmgpu_test_restore_file(SG_PARAMS "hang_timeout_ms");

	if (ret != -ENOENT)	/* no module: its tests skip */
		ASSERT_EQ(ret, 0);
	self->fd = sg_open();
	if (self->fd >= 0)
		sg_ctx_create(self->fd, &self->ctx);
}

FIXTURE_TEARDOWN(hang)
{
	char hook[256];

	/* A test that failed half-way may leave the device wedged: bring it back. */
	sg_unwedge(NULL);
	intr_mask_set(0);
	stall_fault_ring_set(0);
	if (!sg_debugfs_path("svmgpu_inject_register_delay", hook, sizeof(hook)))
		sg_write_file(hook, "0");
	if (!sg_debugfs_path("svmgpu_inject_dispatch_delay", hook, sizeof(hook)))
		sg_write_file(hook, "0");
	sg_inject("drop_irqs", 0);
	if (self->fd >= 0)
		close(self->fd);
}

/* A process of its own fills and checks buffers for @secs: exit status 0 if every byte was right. */
static pid_t healthy_child(double secs)
{
	pid_t pid = fork();

	if (pid == 0) {
		unsigned char *buf = sg_map_anon(SIZE);
		double end = sg_now_s() + secs;
		int fd = sg_open(), v = 0;
		uint32_t ctx, q;

		if (!buf || fd < 0 || sg_ctx_create(fd, &ctx) ||
		    sg_queue_create(fd, ctx, 0, &q) ||
		    sg_run_ok(fd, q, sg_fill(buf, SIZE, 0, 1)))
			_exit(2);
		/* At least one checked FILL, however long the set-up took. */
		do {
			v = (v + 1) & 0xff;
			if (sg_run_ok(fd, q, sg_fill(buf, SIZE, v, 1)) ||
			    !sg_all_bytes(buf, v, SIZE))
				_exit(1);
		} while (sg_now_s() < end);
		_exit(0);
	}
	return pid;
}

static int child_status(pid_t pid)
{
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Hang @stuck (already submitted on queue @q as seqs first..last) next to a
 * healthy queue of the same context and a healthy process; check the
 * report, the counters and that @q works again.
 */
static void hang_next_to_healthy(int fd, uint32_t ctx, uint32_t q, uint64_t first,
				 uint64_t last, double t0, int injected)
{
	unsigned char *a = sg_map_anon(SIZE), *b = sg_map_anon(SIZE);
	long long hangs = sg_dev_counter("hangs");
	long long cmds = sg_dev_counter("hang_cmds");
	struct drm_svmgpu_wait w;
	/*
	 * Both finish before the hung queue's reset while an injected hang
	 * still holds its hardware queue: a bind after it could land there.
	 */
	pid_t child = healthy_child(injected ? 1.0 : 2.0);
	uint32_t q2;
	int i;

	ASSERT_NOT_NULL(a);
	ASSERT_NOT_NULL(b);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q2), 0);
	/* The healthy queue of the same context keeps completing meanwhile. */
	for (i = 1; i <= (injected ? 5 : 20); i++) {
		ASSERT_EQ(sg_run_ok(fd, q2, sg_fill(b, SIZE, i, 1)), 0);
		ASSERT_TRUE(sg_all_bytes(b, i, SIZE));
	}
	ASSERT_EQ(sg_wait(fd, q, last, first, SG_TIMEOUT_NS, &w), 0);
	TH_LOG("hung queue reported after %.3f s (hang_timeout_ms %d), reset took %lld ns",
	       sg_now_s() - t0, HANG_MS, sg_dev_counter("hang_reset_ns"));
	EXPECT_GE(sg_now_s() - t0, HANG_MS / 1000.0 * 0.9);
	EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_HANG);
	EXPECT_EQ(w.err_seq, first);
	EXPECT_EQ(w.nr_errors, last - first + 1);
	EXPECT_EQ(w.completed_seq, last);
	EXPECT_EQ(sg_dev_counter("hangs"), hangs + 1);
	EXPECT_EQ(sg_dev_counter("hang_cmds"), cmds + (long long)(last - first + 1));
	EXPECT_GT(sg_dev_counter("hang_reset_ns"), 0);
	EXPECT_EQ(child_status(child), 0);
	if (injected)	/* the injected hang ends */
		EXPECT_EQ(sg_inject("hang_queues", 0), 0);

	/* The hung queue is usable again, and so is the other one. */
	ASSERT_EQ(sg_run_ok(fd, q, sg_fill(a, SIZE, 0xa5, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(a, 0xa5, SIZE));
	ASSERT_EQ(sg_run_ok(fd, q2, sg_fill(b, SIZE, 0x5a, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(b, 0x5a, SIZE));
	EXPECT_EQ(sg_queue_destroy(fd, q2), 0);
	munmap(a, SIZE);
	munmap(b, SIZE);
}

/* An endless kernel and the FILL behind it fail with ERR_HANG; nothing else does. */
TEST_TIMEOUT(60)
TEST_F(hang, endless_kernel_fails_alone)
{
	/* Budget 2^56 wave-instructions: it would run for days. */
	struct svmgpu_cmd cmds[2] = {
		sg_launch(sg_spin_kernel(), NULL, 4, 64, ~0ull >> 8),
		sg_fill(NULL, 0, 0, 1),
	};
	unsigned char *after = sg_map_anon(SIZE);
	uint64_t seq;
	uint32_t q;
	double t0;

	if (self->fd < 0)
		SKIP(return, "no render node");
	ASSERT_EQ(sg_param_write("hang_timeout_ms", HANG_MS), 0);
	cmds[1] = sg_fill(after, SIZE, 0x77, 1);
	memset(after, 0x11, SIZE);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	t0 = sg_now_s();
	ASSERT_EQ(sg_submit(self->fd, q, cmds, 2, &seq), 0);
	hang_next_to_healthy(self->fd, self->ctx, q, seq - 1, seq, t0, 0);
	/* The FILL behind the kernel never ran. */
	EXPECT_TRUE(sg_all_bytes(after, 0x11, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/* A WAIT on a word nobody writes (no device timeout) fails with ERR_HANG. */
TEST_TIMEOUT(60)
TEST_F(hang, never_satisfied_wait_fails_alone)
{
	uint64_t *word = sg_map_anon(4096);
	struct svmgpu_cmd c;
	uint64_t seq;
	uint32_t q;
	double t0;

	if (self->fd < 0)
		SKIP(return, "no render node");
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", HANG_MS), 0);
	*word = 0;
	c = sg_wait_eq(word, 1, 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	t0 = sg_now_s();
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);
	hang_next_to_healthy(self->fd, self->ctx, q, seq, seq, t0, 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

struct blocked {
	int fd;
	uint32_t q;
	struct svmgpu_cmd c;
	uint64_t seq;
	int ret;
};

static void *blocked_submit(void *arg)
{
	struct blocked *b = arg;

	b->ret = sg_submit(b->fd, b->q, &b->c, 1, &b->seq);
	return NULL;
}

/*
 * A SUBMIT that sleeps for room in the full ring of the hung queue goes on
 * after the reset: its command runs (exact data), the hung ones fail.
 */
TEST_TIMEOUT(60)
TEST_F(hang, submit_waiting_for_room_survives_reset)
{
	uint64_t *word = sg_map_anon(4096);
	unsigned char *buf = sg_map_anon(SIZE);
	struct svmgpu_cmd cmds[3];
	struct drm_svmgpu_wait w;
	struct blocked b;
	pthread_t th;
	uint64_t seq;
	uint32_t q;

	if (self->fd < 0)
		SKIP(return, "no render node");
	ASSERT_NOT_NULL(word);
	ASSERT_NOT_NULL(buf);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", HANG_MS), 0);
	*word = 0;
	memset(buf, 0, SIZE);
	cmds[0] = sg_wait_eq(word, 1, 0);
	cmds[1] = sg_nop();
	cmds[2] = sg_nop();
	/* 4 entries: 3 commands fill the ring. */
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 4, &q), 0);
	ASSERT_EQ(sg_submit(self->fd, q, cmds, 3, &seq), 0);
	b.fd = self->fd;
	b.q = q;
	b.c = sg_fill(buf, SIZE, 0x3c, 1);
	b.ret = 1;
	ASSERT_EQ(pthread_create(&th, NULL, blocked_submit, &b), 0);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	ASSERT_EQ(b.ret, 0);
	EXPECT_EQ(b.seq, seq + 1);
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq - 2, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_HANG);
	EXPECT_EQ(w.err_seq, seq - 2);
	EXPECT_EQ(w.nr_errors, 3);
	ASSERT_EQ(sg_wait(self->fd, q, b.seq, b.seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(w.nr_errors, 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x3c, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/* hang_timeout_ms 0: a WAIT may stall for as long as it likes, then complete. */
TEST_TIMEOUT(60)
TEST_F(hang, zero_timeout_never_resets)
{
	uint64_t *word = sg_map_anon(4096);
	long long hangs = sg_dev_counter("hangs");
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	uint64_t seq;
	uint32_t q;

	if (self->fd < 0)
		SKIP(return, "no render node");
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	*word = 0;
	c = sg_wait_eq(word, 1, 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);
	/* Twice the timeout the other tests use. */
	usleep(2 * HANG_MS * 1000);
	EXPECT_EQ(sg_wait(self->fd, q, seq, seq, 0, &w), -ETIMEDOUT);
	EXPECT_EQ(sg_dev_counter("hangs"), hangs);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(w.nr_errors, 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/*
 * No queue or error interrupt reaches the driver (masked in INTR_MASK, as
 * if the device dropped them): the watchdog polls completions and a queue
 * halted by a failed command; data exact, the failure reported.
 */
TEST_TIMEOUT(60)
TEST_F(hang, lost_interrupts_are_polled)
{
	unsigned char *buf = sg_map_anon(SIZE);
	long long polls = sg_dev_counter("watchdog_polls");
	volatile uint32_t *bar = bar0_map();
	struct svmgpu_cmd cmds[2];
	struct drm_svmgpu_wait w;
	uint64_t seq;
	uint32_t q;
	int i;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (!bar)
		SKIP(return, "BAR0 cannot be mapped through sysfs");
	ASSERT_NOT_NULL(buf);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	/* Errors and every queue vector masked; faults and invalidations not. */
	bar[SVMGPU_REG_INTR_MASK / 4] = ~(uint32_t)(SVMGPU_INTR_FAULT | SVMGPU_INTR_INVAL);
	for (i = 1; i <= 5; i++) {
		ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, i, 1)), 0);
		ASSERT_TRUE(sg_all_bytes(buf, i, SIZE));
	}
	/*
	 * No count of watchdog polls is asserted: a WAIT that finds its
	 * completion record already written returns without any interrupt
	 * or poll (0 to 5 polls were seen); the data and the error report
	 * arriving with every queue vector masked is the point.
	 */
	/* A failing FILL (width 3) halts the queue; the watchdog resumes it. */
	cmds[0] = sg_fill(buf, SIZE, 0, 3);
	cmds[1] = sg_fill(buf, SIZE, 0x99, 1);
	ASSERT_EQ(sg_submit(self->fd, q, cmds, 2, &seq), 0);
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq - 1, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_BAD_COMMAND);
	EXPECT_EQ(w.err_seq, seq - 1);
	EXPECT_EQ(w.nr_errors, 1);
	EXPECT_TRUE(sg_all_bytes(buf, 0x99, SIZE));
	bar[SVMGPU_REG_INTR_MASK / 4] = 0;
	munmap((void *)bar, SVMGPU_BAR_REGS_SIZE);
	TH_LOG("watchdog polls: %lld", sg_dev_counter("watchdog_polls") - polls);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/*
 * A reset stops the queues with work, not those whose work all completed
 * but which still hold their hardware queue: with the queue vectors masked
 * no interrupt unbinds a queue after its WAIT collected the completion,
 * until the watchdog's next tick (0.1 s).  A reset in between stopped it
 * for good, and the next SUBMIT of a process that lost nothing failed with
 * -ECANCELED.  Five rounds, so that some land before the tick.
 */
TEST_TIMEOUT(90)
TEST_F(hang, reset_spares_a_bound_queue_whose_work_completed)
{
	volatile uint32_t *bar = bar0_map();
	uint64_t *word = sg_map_anon(4096);
	long long resets = sg_dev_counter("resets");
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	char reset[256];
	uint64_t seq;
	uint32_t q;
	int i;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (!bar)
		SKIP(return, "BAR0 cannot be mapped through sysfs");
	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)))
		SKIP(return, "no debugfs svmgpu_reset");
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	for (i = 0; i < 5; i++) {
		/* every reset clears INTR_MASK: mask again each round */
		bar[SVMGPU_REG_INTR_MASK / 4] = ~(uint32_t)(SVMGPU_INTR_FAULT | SVMGPU_INTR_INVAL);
		c = sg_signal(word, i + 1);
		ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);
		ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		ASSERT_EQ(sg_write_file(reset, "1"), 0);
		bar[SVMGPU_REG_INTR_MASK / 4] = 0;
		EXPECT_EQ(*word, (uint64_t)i + 1);
		c = sg_signal(word, 100 + i);
		EXPECT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);
		ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(*word, (uint64_t)100 + i);
	}
	EXPECT_EQ(sg_dev_counter("resets"), resets + 5);
	munmap((void *)bar, SVMGPU_BAR_REGS_SIZE);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/* The one hardware queue with commands pending (debugfs svmgpu_device), or -1. */
static int busy_hwq(void)
{
	unsigned long long last, done;
	unsigned int i, ctx, entries;
	int hwq = -1, n = 0;
	char buf[8192], *l;

	if (sg_debugfs_read("svmgpu_device", buf, sizeof(buf)) < 0)
		return -1;
	for (l = strstr(buf, "\nhwq"); l; l = strstr(l + 1, "\nhwq")) {
		if (sscanf(l, "\nhwq%u: ctx %u entries %u last %llu completed %llu",
			   &i, &ctx, &entries, &last, &done) == 5 && last > done) {
			hwq = i;
			n++;
		}
	}
	return n == 1 ? hwq : -1;
}

/* A line "name: N" of debugfs svmgpu_inject (hex or decimal); -1 if none. */
static long long inj_read(const char *name)
{
	return sg_debugfs_value("svmgpu_inject", name);
}

/*
 * Device-side hang (INJ_HANG_QUEUES, hw-spec 15): the WAIT's word is
 * written but the hung engine never sees it; the driver's hang check
 * resets that queue alone.
 */
TEST_TIMEOUT(60)
TEST_F(hang, injected_engine_hang_is_reset)
{
	uint64_t *word = sg_map_anon(4096);
	struct svmgpu_cmd c;
	long long inj = inj_read("injected");
	uint64_t seq;
	uint32_t q;
	double t0;
	int hwq;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (inj < 0)
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", HANG_MS), 0);
	*word = 0;
	c = sg_wait_eq(word, 1, 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);
	hwq = busy_hwq();
	ASSERT_GE(hwq, 0);
	ASSERT_EQ(sg_inject("hang_queues", 1u << hwq), 0);
	EXPECT_EQ(inj_read("injected"), inj + 1);
	/* Satisfied, but the hung engine never looks again. */
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	t0 = sg_now_s();
	hang_next_to_healthy(self->fd, self->ctx, q, seq, seq, t0 - 0.2, 1);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/* Dropped interrupt messages (INJ_DROP_IRQS): the watchdog collects the completions. */
TEST_TIMEOUT(60)
TEST_F(hang, injected_dropped_irqs_are_polled)
{
	unsigned char *buf = sg_map_anon(SIZE);
	long long polls = sg_dev_counter("watchdog_polls");
	long long inj = inj_read("injected");
	uint32_t q;
	double t0;
	int i;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (inj < 0)
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(buf);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	/* Mirrored first: no fault interrupt takes one of the drops. */
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 0, 1)), 0);
	inj = inj_read("injected");
	ASSERT_EQ(sg_inject("drop_irqs", 3), 0);
	t0 = sg_now_s();
	for (i = 1; i <= 3; i++) {
		ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, i, 1)), 0);
		ASSERT_TRUE(sg_all_bytes(buf, i, SIZE));
	}
	TH_LOG("3 completions without interrupt in %.3f s", sg_now_s() - t0);
	EXPECT_EQ(inj_read("drop_irqs"), 0);
	EXPECT_EQ(inj_read("injected"), inj + 3);
	/* A WAIT may find a completion itself; the watchdog collects the rest. */
	TH_LOG("watchdog polls: %lld", sg_dev_counter("watchdog_polls") - polls);
	/* Interrupts again: no poll needed. */
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 0x44, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x44, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/*
 * A corrupt completion record (INJ_CORRUPT_COMPL): detected (a seq never
 * submitted), the queue reset, its pending work reported lost; it works again.
 */
TEST_TIMEOUT(60)
TEST_F(hang, injected_corrupt_completion_resets_queue)
{
	unsigned char *buf = sg_map_anon(SIZE);
	long long corrupt = sg_dev_counter("compl_corrupt");
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	uint64_t seq;
	uint32_t q;
	double t0;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (inj_read("injected") < 0)
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(buf);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_inject("corrupt_compl", 1), 0);
	c = sg_fill(buf, SIZE, 0x21, 1);
	t0 = sg_now_s();
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	TH_LOG("corrupt record detected and queue reset in %.3f s", sg_now_s() - t0);
	EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
	EXPECT_EQ(w.err_seq, seq);
	EXPECT_EQ(sg_dev_counter("compl_corrupt"), corrupt + 1);
	EXPECT_EQ(inj_read("corrupt_compl"), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 0x22, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x22, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/*
 * A corrupt completion record that a good one replaces before the watchdog
 * looks (FILL with INJ_CORRUPT_COMPL, then a WAIT on a word written at
 * once) is no reason to reset the queue: its commands completed.  Before,
 * the queue kept its corrupt mark, and the watchdog reset the queue when it
 * next had work pending at a tick, failing a later command that had
 * nothing to do with it (DRM_SVMGPU_ERR_RESET, compl_corrupt counted).
 * A round where the watchdog ticked between the two records resets the
 * queue rightly: tried again.
 */
TEST_TIMEOUT(90)
TEST_F(hang, corrupt_completion_replaced_by_a_good_one_resets_nothing)
{
	unsigned char *buf = sg_map_anon(SIZE);
	uint64_t *w1 = sg_map_anon(4096), *w2 = w1 + 8;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c[2];
	long long corrupt;
	uint64_t seq;
	uint32_t q;
	int tries;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (inj_read("injected") < 0)
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(buf);
	ASSERT_NOT_NULL(w1);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	for (tries = 0; tries < 10; tries++) {
		long long inj = inj_read("injected");
		int i;

		*w1 = 0;
		ASSERT_EQ(sg_inject("corrupt_compl", 1), 0);
		c[0] = sg_fill(buf, SIZE, 0x21, 1);
		c[1] = sg_wait_eq(w1, 1, 0);
		ASSERT_EQ(sg_submit(self->fd, q, c, 2, &seq), 0);
		/* the device wrote the FILL's corrupt record ... */
		for (i = 0; i < 5000 && inj_read("injected") == inj; i++)
			usleep(1000);
		ASSERT_GT(inj_read("injected"), inj);
		/* ... which a WAIT that polls reads */
		sg_wait(self->fd, q, seq - 1, seq - 1, 0, &w);
		*w1 = 1;
		ASSERT_EQ(sg_wait(self->fd, q, seq, seq - 1, SG_TIMEOUT_NS, &w), 0);
		if (!w.err_code)
			break;
		EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
	}
	ASSERT_LT(tries, 10);
	TH_LOG("rounds until the good record came before a watchdog tick: %d", tries + 1);
	EXPECT_TRUE(sg_all_bytes(buf, 0x21, SIZE));
	corrupt = sg_dev_counter("compl_corrupt");
	*w2 = 0;
	c[0] = sg_wait_eq(w2, 1, 0);
	ASSERT_EQ(sg_submit(self->fd, q, c, 1, &seq), 0);
	usleep(400000);		/* four watchdog ticks with the WAIT pending */
	*w2 = 1;
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(sg_dev_counter("compl_corrupt"), corrupt);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/*
 * A fatal device error (INJ_FATAL): full reset, the device works.  With the
 * scheduler (debugfs svmgpu_sched "enabled: 1") the WAIT in flight is saved
 * and replayed: it completes once its word is written, no error, and the
 * queue stays usable (svm_sched.fatal_error_replays_work has more).  Without
 * it the work in flight is reported lost and the queue is stopped.
 */
TEST_TIMEOUT(60)
TEST_F(hang, injected_fatal_error_resets_device)
{
	uint64_t *word = sg_map_anon(4096);
	unsigned char *buf = sg_map_anon(SIZE);
	long long fatal = sg_dev_counter("fatal_errors");
	long long resets = sg_dev_counter("resets");
	int replay = sg_debugfs_value("svmgpu_sched", "enabled") == 1;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	uint64_t seq;
	uint32_t q;
	double t0;
	int i;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (inj_read("injected") < 0)
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(word);
	ASSERT_NOT_NULL(buf);
	*word = 0;
	c = sg_wait_eq(word, 1, 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);
	t0 = sg_now_s();
	ASSERT_EQ(sg_inject("fatal", 1), 0);
	if (replay) {
		for (i = 0; i < 500 && sg_dev_counter("resets") < resets + 1; i++)
			usleep(10000);
		TH_LOG("fatal error: device reset in %.3f s, the WAIT replayed",
		       sg_now_s() - t0);
		EXPECT_EQ(sg_wait(self->fd, q, seq, seq, 0, &w), -ETIMEDOUT);
		__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
		ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
	} else {
		ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
		TH_LOG("fatal error: device reset and work reported in %.3f s",
		       sg_now_s() - t0);
		EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
	}
	EXPECT_EQ(sg_dev_counter("fatal_errors"), fatal + 1);
	EXPECT_EQ(sg_dev_counter("resets"), resets + 1);
	/* The reset zeroed CNT_INJECTED. */
	EXPECT_EQ(inj_read("injected"), 0);
	if (replay) {
		/* The replayed queue goes on. */
		ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 0x6c, 1)), 0);
		EXPECT_TRUE(sg_all_bytes(buf, 0x6c, SIZE));
	}
	/* A new queue works. */
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 0x6d, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x6d, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/*
 * A withheld fault record (INJ_STALL_FAULT_RING, hw-spec 15): a FILL's
 * first touch of fresh memory faults, the device writes no record and the
 * queue stalls as on a full fault ring although the ring has room.  The
 * watchdog notices the stall after a bounded time (SVMGPU_FAULT_STALL_MS,
 * 1 s) and resets the device: with the scheduler the queue is saved first
 * and resumed after the reset (which clears the injection), its FILL
 * faults again, is served and completes with exact bytes, no error;
 * without it the FILL is reported lost (ERR_RESET).  Nothing else noticed
 * the stall before: a hang is not counted.
 */
TEST_TIMEOUT(60)
TEST_F(hang, injected_fault_ring_stall_resets_device)
{
	unsigned char *buf = sg_map_anon(SIZE);
	long long resets = sg_dev_counter("resets");
	long long hangs = sg_dev_counter("hangs");
	long long stall_resets = inj_read("fault_stall_resets");
	int replay = sg_debugfs_value("svmgpu_sched", "enabled") == 1;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	uint64_t seq;
	uint32_t q;
	double t0, t;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (inj_read("injected") < 0)
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(buf);
	/* hang_timeout_ms as loaded: a stall on a fault is not a hang anyway. */
	memset(buf, 0, SIZE);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(stall_fault_ring_set(1), 0);
	c = sg_fill(buf, SIZE, 0x3c, 1);
	t0 = sg_now_s();
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);
	usleep(300000);
	/* Stalled: no record, nothing done yet. */
	EXPECT_EQ(sg_wait(self->fd, q, seq, seq, 0, &w), -ETIMEDOUT);
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq, 15ull * 1000000000ull, &w), 0);
	t = sg_now_s() - t0;
	TH_LOG("stalled fault ring: FILL %s after %.3f s",
	       w.err_code ? "reported" : "completed", t);
	/* The watchdog waits SVMGPU_FAULT_STALL_MS (1 s) of an unchanged ring. */
	EXPECT_GE(t, 0.9);
	EXPECT_EQ(sg_dev_counter("resets"), resets + 1);
	EXPECT_EQ(inj_read("fault_stall_resets"), stall_resets + 1);
	EXPECT_EQ(sg_dev_counter("hangs"), hangs);
	if (replay) {
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_TRUE(sg_all_bytes(buf, 0x3c, SIZE));
		/* The queue goes on. */
		ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 0x3d, 1)), 0);
		EXPECT_TRUE(sg_all_bytes(buf, 0x3d, SIZE));
	} else {
		EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
	}
	/* The reset cleared the injection: a new queue's faults are served. */
	EXPECT_EQ(inj_read("stall_fault_ring"), 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	munmap(buf, SIZE);
	buf = sg_map_anon(SIZE);
	ASSERT_NOT_NULL(buf);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 0x3e, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x3e, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/*
 * A refused TLB invalidation (INJ_INVAL_REFUSE): munmap must not return
 * the pages while the device may use them; the driver's bounded wait
 * times out and fences and resets the device first.
 */
TEST_TIMEOUT(90)
TEST_F(hang, injected_refused_invalidation_fences_device)
{
	size_t size = 16 * 4096;
	unsigned char *buf = sg_map_anon(size), *other = sg_map_anon(size);
	long long timeouts = sg_dev_counter("tlb_inval_timeouts");
	long long resets = sg_dev_counter("resets");
	uint32_t q;
	double t0;
	int i;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (inj_read("injected") < 0)
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(buf);
	ASSERT_NOT_NULL(other);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, size, 0x5e, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(buf, 0x5e, size));
	ASSERT_EQ(sg_inject("inval_refuse", 1), 0);
	t0 = sg_now_s();
	ASSERT_EQ(munmap(buf, size), 0);
	TH_LOG("munmap with a refused invalidation returned after %.3f s", sg_now_s() - t0);
	EXPECT_EQ(sg_dev_counter("tlb_inval_timeouts"), timeouts + 1);
	for (i = 0; i < 500 && sg_dev_counter("resets") < resets + 1; i++)
		usleep(10000);
	EXPECT_EQ(sg_dev_counter("resets"), resets + 1);
	TH_LOG("device back after %.3f s", sg_now_s() - t0);
	ASSERT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(other, size, 0x6f, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(other, 0x6f, size));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/*
 * A TLB invalidation the device never saw: memory decoding of its BAR off
 * (COMMAND.MEMORY cleared, bus mastering left on), so the request's
 * register writes are dropped and TLB_INV_REQ_SEQ reads back what an
 * unclaimed read gives.  munmap must not return the pages as if the
 * request had completed: the driver counts its requests, sees the device
 * did not, and fences it like a timeout.  Before, the read-back value was
 * taken as the request's seq and the last DONE_SEQ passed for its
 * completion: no fence, the device's translations left in place.
 */
TEST_TIMEOUT(90)
TEST_F(hang, invalidation_the_device_did_not_queue_fences_it)
{
	size_t size = 16 * 4096;
	unsigned char *buf = sg_map_anon(size), *other = sg_map_anon(size);
	long long timeouts = sg_dev_counter("tlb_inval_timeouts");
	long long resets = sg_dev_counter("resets");
	char bdf[64], config[512];
	uint16_t cmd, off;
	uint32_t q;
	int cfd, i;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (sg_find_bdf(bdf, sizeof(bdf)))
		SKIP(return, "no svmgpu function");
	snprintf(config, sizeof(config), "/sys/bus/pci/devices/%s/config", bdf);
	cfd = open(config, O_RDWR);
	if (cfd < 0)
		SKIP(return, "config space not writable: %s", strerror(errno));
	ASSERT_EQ(pread(cfd, &cmd, 2, 4), 2);
	ASSERT_TRUE(cmd & 0x2);			/* PCI_COMMAND_MEMORY */
	ASSERT_NOT_NULL(buf);
	ASSERT_NOT_NULL(other);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, size, 0x5e, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(buf, 0x5e, size));
	off = cmd & ~0x2;
	/* from here to the restore nothing asserts: decoding must come back */
	EXPECT_EQ(pwrite(cfd, &off, 2, 4), 2);
	EXPECT_EQ(munmap(buf, size), 0);
	/* decoding back; bus mastering as the fence left it (off) */
	EXPECT_EQ(pread(cfd, &off, 2, 4), 2);
	off |= 0x2;
	EXPECT_EQ(pwrite(cfd, &off, 2, 4), 2);
	close(cfd);
	EXPECT_EQ(sg_dev_counter("tlb_inval_timeouts"), timeouts + 1);
	/* The recovery may have run while decoding was off: wedged then. */
	for (i = 0; i < 500 && sg_dev_counter("resets") < resets + 1; i++)
		usleep(10000);
	sg_unwedge(NULL);
	EXPECT_GE(sg_dev_counter("resets"), resets + 1);
	EXPECT_EQ(sg_debugfs_value_in(NULL, "svmgpu_device", "wedged"), 0);
	ASSERT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(other, size, 0x6f, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(other, 0x6f, size));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/*
 * A device fenced (a TLB invalidation timed out) while a debugfs reset is
 * under way: that reset reprograms the fenced device, and the fence's
 * recovery work, which waited for it, does not reset it a second time
 * (which would stop for good the queues the first one replayed).  The
 * reset's stop of a bound queue (a WAIT) is held (svmgpu_inject_stop_delay,
 * ended by writing 0) until the fence has landed inside it.  Before, the
 * device was reset twice.  The reset is written by a thread, not a child:
 * fork() write-protects the parent's memory, which removes the device's
 * mappings of buf until a device fault maps its window again (the WAIT's
 * next poll of its word), so the munmap found buf unmapped, and asked for
 * no invalidation, when it came first (tlb_inval_timeouts + 0).
 */
struct reset_writer {
	const char *path;
	pid_t tid;
	int ret;
};

static void *write_reset(void *arg)
{
	struct reset_writer *w = arg;

	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	w->ret = sg_write_file(w->path, "1");
	return NULL;
}

TEST_TIMEOUT(90)
TEST_F(hang, fence_during_a_reset_is_recovered_by_that_reset)
{
	size_t size = 16 * 4096;
	unsigned char *buf = sg_map_anon(size), *other = sg_map_anon(size);
	uint64_t *word = sg_map_anon(4096);
	long long timeouts = sg_dev_counter("tlb_inval_timeouts");
	long long resets = sg_dev_counter("resets");
	char reset[256], stop[256], inval[256], task[64];
	struct reset_writer w = { .path = reset };
	struct svmgpu_cmd c;
	pthread_t th;
	uint64_t seq;
	uint32_t q, qw;
	int i, held;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)) ||
	    sg_debugfs_path("svmgpu_inject_stop_delay", stop, sizeof(stop)) ||
	    sg_debugfs_path("svmgpu_inject_inval_timeout", inval, sizeof(inval)))
		SKIP(return, "no debugfs svmgpu_reset or injection hooks");
	ASSERT_NOT_NULL(buf);
	ASSERT_NOT_NULL(other);
	ASSERT_NOT_NULL(word);
	ASSERT_GE(resets, 0);
	/* buf mirrored, and a queue bound on a WAIT the reset has to stop */
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, size, 0x5e, 1)), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &qw), 0);
	*word = 0;
	c = sg_wait_eq(word, 1, 0);
	ASSERT_EQ(sg_submit(self->fd, qw, &c, 1, &seq), 0);
	ASSERT_EQ(sg_write_file(stop, "20000"), 0);
	/* no ASSERT from here until the join: the thread would outlive the test */
	if (pthread_create(&th, NULL, write_reset, &w)) {
		sg_write_file(stop, "0");
		ASSERT_TRUE(0);
	}
	for (i = 0; i < 1000 && !__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	snprintf(task, sizeof(task), "/proc/self/task/%d", (int)w.tid);
	held = sg_await_blocked(task, SYS_write, 10000);
	/* the fence, while the reset holds its lock */
	if (held) {
		EXPECT_EQ(sg_write_file(inval, "1"), 0);
		EXPECT_EQ(munmap(buf, size), 0);
		EXPECT_EQ(sg_dev_counter("tlb_inval_timeouts"), timeouts + 1);
		/* and the reset has not gone past its stop meanwhile */
		EXPECT_TRUE(sg_blocked_in(task, SYS_write));
	}
	sg_write_file(stop, "0");		/* the stop goes on */
	ASSERT_EQ(pthread_join(th, NULL), 0);
	sg_write_file(inval, "0");
	ASSERT_TRUE(held);
	EXPECT_EQ(w.ret, 0);
	/* the recovery work had its chance */
	usleep(1500000);
	EXPECT_EQ(sg_dev_counter("resets"), resets + 1);
	EXPECT_EQ(sg_queue_destroy(self->fd, qw), 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(other, size, 0x6f, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(other, 0x6f, size));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

/* Whether context-table entry @id is loaded in the device (BAR0 CTX_SELECT/CTX_STATE); -1 if BAR0 cannot be mapped. */
static int ctx_loaded(uint32_t id)
{
	volatile uint32_t *bar = bar0_map();
	int on;

	if (!bar)
		return -1;
	bar[SVMGPU_REG_CTX_SELECT / 4] = id;
	on = !!(bar[SVMGPU_REG_CTX_STATE / 4] & SVMGPU_CTX_STATE_ENABLED);
	munmap((void *)bar, SVMGPU_BAR_REGS_SIZE);
	return on;
}

/* Mark in @seen[] the hardware context ids of debugfs svmgpu_contexts ("context N..."): 0 or -1. */
static int ctx_ids(unsigned char seen[1024])
{
	static char buf[1 << 16];
	char *p = buf;
	int v;

	memset(seen, 0, 1024);
	if (sg_debugfs_read("svmgpu_contexts", buf, sizeof(buf)) < 0)
		return -1;
	while ((p = strstr(p, "context "))) {
		if (sscanf(p, "context %d", &v) == 1 && v >= 0 && v < 1024)
			seen[v] = 1;
		p += 8;
	}
	return 0;
}

/*
 * A reset that does not bring the device back (INJ_ENABLE_REFUSE, hw-spec
 * 15): debugfs svmgpu_reset fails with -EIO and the device is wedged.  The
 * WAIT in flight is reported lost, new work fails at once instead of
 * waiting, no new context is made, and another process's context
 * destroyed meanwhile leaves the context table.  The injection is spent:
 * the next reset brings the device back, with this process's address
 * space (its table entry loaded again) and exact bytes, and without the
 * destroyed context.  Wedged once more, a function-level reset (sysfs
 * "reset") brings it back too.
 */
TEST_TIMEOUT(60)
TEST_F(hang, injected_failed_reset_wedges_until_the_next)
{
	unsigned char *buf = sg_map_anon(SIZE);
	uint64_t *word = sg_map_anon(4096);
	long long resets = sg_dev_counter("resets");
	int to_child[2], to_parent[2], other = -1, st, i, bar = ctx_loaded(0) >= 0;
	unsigned char before[1024], after[1024];
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	uint32_t q, ctx;
	char path[256], flr[320], bdf[64], r;
	uint64_t seq;
	pid_t pid, p2;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (inj_read("injected") < 0 ||
	    sg_debugfs_path("svmgpu_reset", path, sizeof(path)))
		SKIP(return, "no debugfs svmgpu_inject or svmgpu_reset");
	ASSERT_NOT_NULL(buf);
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 0x41, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(buf, 0x41, SIZE));

	/* Another process's context: destroyed while wedged. */
	ASSERT_EQ(ctx_ids(before), 0);
	ASSERT_EQ(pipe(to_child), 0);
	ASSERT_EQ(pipe(to_parent), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		unsigned char *cbuf = sg_map_anon(SIZE);
		int fd = sg_open();
		uint32_t cctx = 0, cq = 0;

		r = !cbuf || fd < 0 || sg_ctx_create(fd, &cctx) ||
		    sg_queue_create(fd, cctx, 0, &cq) ||
		    sg_run_ok(fd, cq, sg_fill(cbuf, SIZE, 0x5a, 1)) ||
		    !sg_all_bytes(cbuf, 0x5a, SIZE);
		if (write(to_parent[1], &r, 1) != 1 || read(to_child[0], &r, 1) != 1)
			_exit(3);
		r = sg_queue_destroy(fd, cq) || sg_ctx_destroy(fd, cctx);
		_exit(write(to_parent[1], &r, 1) == 1 ? 0 : 3);
	}
	ASSERT_EQ(read(to_parent[0], &r, 1), 1);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(ctx_ids(after), 0);
	for (i = 1; i < 1024 && other < 0; i++)
		if (after[i] && !before[i])
			other = i;
	ASSERT_GT(other, 0);
	/* The device's view, where BAR0 can be mapped through sysfs (not on the Debian kernel). */
	if (bar)
		EXPECT_EQ(ctx_loaded(other), 1);

	/* In flight when the reset comes. */
	*word = 0;
	c = sg_wait_eq(word, 1, 0);
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);

	ASSERT_EQ(sg_inject("enable_refuse", 1), 0);
	EXPECT_EQ(sg_write_file(path, "1"), -EIO);
	EXPECT_EQ(sg_dev_counter("wedged"), 1);
	EXPECT_EQ(sg_dev_counter("hw_ready"), 0);
	EXPECT_EQ(sg_dev_counter("in_reset"), 0);
	EXPECT_EQ(sg_dev_counter("gone"), 0);
	EXPECT_EQ(sg_dev_counter("resets"), resets + 1);
	/* Reported lost, not left waiting. */
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	/* New work fails at once: -ENODEV, or, with the scheduler, reported lost. */
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	EXPECT_EQ(sg_run_fails_wedged(self->fd, q, sg_fill(buf, SIZE, 0x42, 1),
				      sg_debugfs_value("svmgpu_sched", "enabled") == 1), 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x41, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	/* No context for a new process (this one's svm exists: fork). */
	p2 = fork();
	ASSERT_GE(p2, 0);
	if (p2 == 0) {
		int fd = sg_open();

		_exit(fd >= 0 && sg_ctx_create(fd, &ctx) == -ENODEV ? 0 : 1);
	}
	ASSERT_EQ(waitpid(p2, &st, 0), p2);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The other context goes while the device is wedged. */
	r = 0;
	ASSERT_EQ(write(to_child[1], &r, 1), 1);
	ASSERT_EQ(read(to_parent[0], &r, 1), 1);
	EXPECT_EQ(r, 0);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* The injection is spent: the next reset brings the device back. */
	EXPECT_EQ(inj_read("enable_refuse"), -1);	/* debugfs needs the device */
	EXPECT_EQ(sg_write_file(path, "1"), 0);
	EXPECT_EQ(sg_dev_counter("wedged"), 0);
	EXPECT_EQ(sg_dev_counter("hw_ready"), 1);
	EXPECT_EQ(sg_dev_counter("resets"), resets + 2);
	EXPECT_EQ(inj_read("enable_refuse"), 0);
	/* Not loaded again: its page tables are gone. */
	if (bar)
		EXPECT_EQ(ctx_loaded(other), 0);
	else
		TH_LOG("BAR0 cannot be mapped: the context table is not checked");
	/* This address space works on, with exact bytes. */
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 0x43, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x43, SIZE));

	/* Wedged again: a function-level reset (sysfs) brings it back too. */
	ASSERT_EQ(sg_find_bdf(bdf, sizeof(bdf)), 0);
	snprintf(flr, sizeof(flr), "/sys/bus/pci/devices/%s/reset", bdf);
	ASSERT_EQ(sg_inject("enable_refuse", 1), 0);
	EXPECT_EQ(sg_write_file(path, "1"), -EIO);
	EXPECT_EQ(sg_dev_counter("wedged"), 1);
	EXPECT_EQ(sg_write_file(flr, "1"), 0);
	EXPECT_EQ(sg_dev_counter("wedged"), 0);
	EXPECT_EQ(sg_dev_counter("hw_ready"), 1);
	EXPECT_EQ(sg_dev_counter("resets"), resets + 4);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 0x44, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x44, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
}

/* Address spaces (svms) in the id table, registered or not: debugfs svmgpu_contexts. */
static int contexts_listed(void)
{
	static char buf[65536];
	int n = 0;
	char *l;

	if (sg_debugfs_read("svmgpu_contexts", buf, sizeof(buf)) < 0)
		return -1;
	for (l = strstr(buf, "\ncontext "); l; l = strstr(l + 1, "\ncontext "))
		n++;
	return n;
}

/*
 * A context id is reused as soon as it is freed, and a fault record of its
 * owner may still be in the ring: here one whose interrupt was dropped
 * (INJ_DROP_IRQS), the owner exiting at once, and the fault thread slow to
 * dispatch it (svmgpu_inject_dispatch_delay, 2 s).  The teardown must wait
 * until it is taken before the id goes (debugfs fault_flushes): the id's
 * next svm, held published and unregistered for 4 s
 * (svmgpu_inject_register_delay), must meet nothing.  A record handed to a
 * fault work with no mm was an oops the syscall fuzzer met; one that met
 * an unregistered svm would count in fault_records_unregistered.  The
 * watchdog, which polls the ring while a queue is bound, may take the
 * record before the owner exits: the round is then done again.
 */
TEST_TIMEOUT(120)
TEST_F(hang, fault_records_of_a_freed_context_id_are_taken_before_its_reuse)
{
	long long stale = sg_dev_counter("fault_records_unregistered");
	long long timeouts = sg_dev_counter("fault_flush_timeouts");
	long long f0 = sg_dev_counter("fault_flushes");
	unsigned char *buf = sg_map_anon(SIZE);
	int round, status, n, i, waited = 0;
	char hook[256], dhook[256];
	uint32_t q;
	pid_t a, b;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (sg_debugfs_path("svmgpu_inject_register_delay", hook, sizeof(hook)) ||
	    inj_read("drop_irqs") < 0)
		SKIP(return, "no debugfs svmgpu_inject_register_delay or svmgpu_inject");
	ASSERT_EQ(sg_debugfs_path("svmgpu_inject_dispatch_delay", dhook, sizeof(dhook)), 0);
	ASSERT_GE(stale, 0);
	ASSERT_GE(timeouts, 0);
	ASSERT_GE(f0, 0);
	ASSERT_NOT_NULL(buf);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	/* About 7 s a round; stop early when the record met B. */
	for (round = 0; round < 8 && !waited &&
	     sg_dev_counter("fault_records_unregistered") == stale; round++) {
		f0 = sg_dev_counter("fault_flushes");
		a = fork();
		ASSERT_GE(a, 0);
		if (!a) {
			struct svmgpu_cmd fill = sg_fill(buf, SIZE, 2, 1);
			int fd = sg_open();
			uint32_t actx, aq;
			uint64_t seq;

			memset(buf, 1, SIZE);
			/*
			 * The dispatch made slow first: should the watchdog
			 * wake the thread before the exit, the record still
			 * waits in the sleeping batch.
			 */
			if (fd < 0 || sg_ctx_create(fd, &actx) || sg_queue_create(fd, actx, 0, &aq) ||
			    sg_write_file(dhook, "2000") || sg_inject("drop_irqs", 1))
				_exit(1);
			/* Nothing is mapped yet: the device faults on the first page. */
			if (sg_submit(fd, aq, &fill, 1, &seq))
				_exit(2);
			/* Its interrupt dropped, the record is in the ring: go. */
			for (n = 0; n < 1000 && inj_read("drop_irqs") > 0; n++)
				usleep(100);
			_exit(0);
		}
		/* A's exit tore its context down, its record taken first. */
		ASSERT_EQ(waitpid(a, &status, 0), a);
		sg_inject("drop_irqs", 0);	/* if A's fault did not take it */
		sg_write_file(dhook, "0");	/* if no batch took it */
		ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
		/* The only teardown in between: A's. */
		waited = sg_dev_counter("fault_flushes") > f0;
		n = contexts_listed();
		ASSERT_GE(n, 1);
		/*
		 * Long enough that a dispatch that did not hold A's exit up
		 * would meet B unregistered: B is published well within 2 s.
		 */
		ASSERT_EQ(sg_write_file(hook, "4000"), 0);
		b = fork();
		ASSERT_GE(b, 0);
		if (!b) {
			int fd = sg_open();
			uint32_t bctx, bq;

			/* B gets A's id, held published and unregistered 4 s. */
			if (fd < 0 || sg_ctx_create(fd, &bctx) || sg_queue_create(fd, bctx, 0, &bq))
				_exit(1);
			memset(buf, 3, SIZE);
			if (sg_run_ok(fd, bq, sg_fill(buf, SIZE, 4, 1)) || !sg_all_bytes(buf, 4, SIZE))
				_exit(2);
			_exit(0);
		}
		/* B is in the id table (published, not registered) */
		for (i = 0; i < 500 && contexts_listed() <= n; i++)
			usleep(10000);
		/* A fault of ours drains the ring: A's record, were it left, too. */
		munmap(buf, SIZE);
		buf = sg_map_anon(SIZE);
		ASSERT_NOT_NULL(buf);
		EXPECT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 6, 1)), 0);
		EXPECT_TRUE(sg_all_bytes(buf, 6, SIZE));
		ASSERT_EQ(waitpid(b, &status, 0), b);
		/* B's context works once registered. */
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
		TH_LOG("round %d: %s", round, waited ?
		       "A's teardown waited for its record" : "the record was drained first");
	}
	sg_write_file(hook, "0");
	EXPECT_TRUE(waited);
	EXPECT_EQ(sg_dev_counter("fault_records_unregistered"), stale);
	EXPECT_EQ(sg_dev_counter("fault_flush_timeouts"), timeouts);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

static volatile sig_atomic_t usr1_taken;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_taken = 1;
}

enum { SIG_NO_RESTART, SIG_RESTART, SIG_KILL };

/*
 * A child's first context creation is held published in the id table and
 * not yet registered (svmgpu_inject_register_delay), and is signalled
 * meanwhile: mmu_notifier_get() then fails with -EINTR, and the svm is
 * taken out of the table again by a work item (svms_unpublished).
 * Returns the child's wait status.
 */
static int create_signalled(const char *hook, int how, unsigned char *buf)
{
	long long unpub = sg_dev_counter("svms_unpublished");
	int n = contexts_listed(), status, i;
	pid_t c;

	EXPECT_GE(n, 1);
	/* Long: the signal must come before it ends, on a slow guest too. */
	EXPECT_EQ(sg_write_file(hook, "4000"), 0);
	c = fork();
	if (c < 0)
		return -1;
	if (!c) {
		struct sigaction sa = { .sa_handler = on_usr1 };
		struct drm_svmgpu_ctx_create cc = { 0 };
		int fd = sg_open(), ret, err;
		uint32_t ctx, q;

		sa.sa_flags = how == SIG_RESTART ? SA_RESTART : 0;
		if (fd < 0 || sigaction(SIGUSR1, &sa, NULL))
			_exit(1);
		ret = ioctl(fd, DRM_IOCTL_SVMGPU_CTX_CREATE, &cc);
		err = errno;
		if (!usr1_taken)
			_exit(2);
		if (how == SIG_NO_RESTART) {
			/* The ioctl is not restarted: -EINTR, and again works. */
			if (ret != -1 || err != EINTR)
				_exit(3);
			if (sg_ctx_create(fd, &ctx))
				_exit(4);
		} else {
			/* Restarted in the kernel: one call, a context. */
			if (ret)
				_exit(5);
			ctx = cc.handle;
		}
		memset(buf, 7, SIZE);
		if (sg_queue_create(fd, ctx, 0, &q) ||
		    sg_run_ok(fd, q, sg_fill(buf, SIZE, 8, 1)) || !sg_all_bytes(buf, 8, SIZE))
			_exit(6);
		_exit(0);
	}
	/* The child's svm is in the id table, published, not registered. */
	for (i = 0; i < 500 && contexts_listed() <= n; i++)
		usleep(10000);
	EXPECT_GT(contexts_listed(), n);
	kill(c, how == SIG_KILL ? SIGKILL : SIGUSR1);
	EXPECT_EQ(waitpid(c, &status, 0), c);
	/* Unpublished by a work item, and the child's own torn down. */
	for (i = 0; i < 500 && (contexts_listed() > n ||
				sg_dev_counter("svms_unpublished") == unpub); i++)
		usleep(10000);
	EXPECT_EQ(contexts_listed(), n);
	EXPECT_EQ(sg_dev_counter("svms_unpublished"), unpub + 1);
	return status;
}

/*
 * A signal while a context's registration is held (4 s): caught without
 * SA_RESTART the ioctl fails with -EINTR and the next one works; with
 * SA_RESTART the kernel restarts it and it works; SIGKILL ends the
 * process.  Each time the half-made svm leaves the id table and nothing is
 * left of it (module_unload checks the leaks).
 */
TEST_TIMEOUT(120)
TEST_F(hang, a_creation_signalled_before_its_registration_leaves_nothing)
{
	unsigned char *buf = sg_map_anon(SIZE);
	char hook[256];
	int status;

	if (self->fd < 0)
		SKIP(return, "no render node");
	if (sg_debugfs_path("svmgpu_inject_register_delay", hook, sizeof(hook)))
		SKIP(return, "no debugfs svmgpu_inject_register_delay");
	ASSERT_GE(sg_dev_counter("svms_unpublished"), 0);
	ASSERT_NOT_NULL(buf);

	/* A child's exit code names the step that failed. */
	status = create_signalled(hook, SIG_NO_RESTART, buf);
	TH_LOG("SIGUSR1, no SA_RESTART: child status %#x", status);
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	status = create_signalled(hook, SIG_RESTART, buf);
	TH_LOG("SIGUSR1, SA_RESTART: child status %#x", status);
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	status = create_signalled(hook, SIG_KILL, buf);
	TH_LOG("SIGKILL: child status %#x", status);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	sg_write_file(hook, "0");

	/* And this process's context still works. */
	{
		uint32_t q;

		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
		memset(buf, 1, SIZE);
		EXPECT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SIZE, 9, 1)), 0);
		EXPECT_TRUE(sg_all_bytes(buf, 9, SIZE));
		EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	}
	munmap(buf, SIZE);
}

TEST_HARNESS_MAIN
