// SPDX-License-Identifier: MIT
/*
 * svm_sched: the driver's queue scheduler (docs/driver.md, "Scheduling";
 * hw-spec 16).  More busy queues than hardware queues, some of them never
 * ending (an endless kernel, a WAIT nobody satisfies), share the device:
 * healthy queues complete with exact bytes because the stuck ones are
 * preempted after their timeslice.  A HIGH-priority queue overtakes LOW
 * work that saturates every hardware queue (ordering shown by the data a
 * COPY reads, not by wall time).  Preempted work resumes exactly: an SGEMM
 * and a large COPY preempted every millisecond give the same bytes as alone.
 * A fatal device error (INJ_FATAL) saves the queues, resets the device and
 * replays their commands exactly once (an ATOMIC done before it is not
 * applied again, a histogram LAUNCH in flight counts every element once).
 * A SUBMIT blocked on a full ring of a queue being preempted stops nothing
 * else.  A LOW queue starved by NORMAL work on its engine is not hang-reset
 * (short hang_timeout_ms).  A queue held by INJ_HANG_QUEUES under
 * contention fails by preempt_timeout_ms alone.  Save areas are capped per
 * process: beyond the cap its queues wait, others run, nothing fails; the
 * caps are soft (after save_areas_wait_ms a queue goes past them, so WAITs
 * holding every area cannot block it for good), past one cap only and
 * within ceilings, and a heavy process past them holds up no light one
 * nor a HIGH queue; areas are charged to the
 * memory cgroup of the queues' creator, and a cached one serves only that
 * cgroup.  A hardware queue taken as not idle (svmgpu_inject_unbind_busy)
 * brings a device reset, and a saved state lost with it fails its queue's
 * commands; the queue's ring and completion record, once it is destroyed
 * (also after a hang reset), are kept from the allocator until that reset
 * ran (dma_quarantined, dma_released).
 * Rejected priorities with their exact errno.
 * Counters: debugfs svmgpu_sched (global and per queue).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <svmgpu.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define SIZE		(64 * 1024)
#define SPIN_BUDGET	(~0ull >> 8)	/* days of wave-instructions */

/* A line "name: N" of debugfs svmgpu_sched; -1 if none. */
static long long sched_value(const char *name)
{
	return sg_debugfs_value("svmgpu_sched", name);
}

static long long wait_sched_value(const char *name, long long n);
static long long wait_areas_used(long long n);

/* Write @v to debugfs test hook @hook (svmgpu_inject_*): 0 or -errno. */
static int inj_write(const char *hook, unsigned int v)
{
	char path[256], buf[16];

	if (sg_debugfs_path(hook, path, sizeof(path)))
		return -ENOENT;
	snprintf(buf, sizeof(buf), "%u", v);
	return sg_write_file(path, buf);
}

/*
 * @n new queues of context @ctx, each given a zeroed SIZE buffer (@buf)
 * and submitting a WAIT for *@word == 1 then a FILL of its buffer with
 * @v0 + its index; @seq: the FILLs' seqs.  0 or -errno.
 */
static int queues_wait_then_fill(int fd, uint32_t ctx, uint64_t *word, unsigned int n,
				 unsigned int v0, uint32_t *q, uint64_t *seq,
				 unsigned char **buf)
{
	struct svmgpu_cmd cmds[2];
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		buf[i] = sg_map_anon(SIZE);
		if (!buf[i])
			return -ENOMEM;
		memset(buf[i], 0, SIZE);
		ret = sg_queue_create(fd, ctx, 0, &q[i]);
		if (ret)
			return ret;
		cmds[0] = sg_wait_eq(word, 1, 0);
		cmds[1] = sg_fill(buf[i], SIZE, v0 + i, 1);
		ret = sg_submit(fd, q[i], cmds, 2, &seq[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The line of queue @handle ("queue N: prio P state S ...") in one snapshot
 * of debugfs svmgpu_sched, read into the caller's @buf; NULL if it is not
 * listed.  The tests run one file at a time, so a handle names one queue.
 */
static char *queue_line(uint32_t handle, char *buf, size_t size)
{
	char path[256], key[32], *l, *end;
	ssize_t n, len = 0;
	int fd;

	if (sg_debugfs_path("svmgpu_sched", path, sizeof(path)))
		return NULL;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	buf[len++] = '\n';
	while ((n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	snprintf(key, sizeof(key), "\nqueue %u: ", handle);
	l = strstr(buf, key);
	if (!l)
		return NULL;
	end = strchr(++l, '\n');
	if (end)
		*end = 0;
	return l;
}

/* Field @field ("preemptions", "resumes", "binds") of queue @handle, or -1. */
static long long queue_value(uint32_t handle, const char *field)
{
	static char buf[256 * 1024];
	char *l = queue_line(handle, buf, sizeof(buf)), fkey[40], *f;

	if (!l)
		return -1;
	snprintf(fkey, sizeof(fkey), " %s ", field);
	f = strstr(l, fkey);
	return f ? strtoll(f + strlen(fkey), NULL, 0) : -1;
}

/* Queue @handle's field @field is the word @word: 1, 0, -1 if not listed. */
static long long queue_word_is(uint32_t handle, const char *field, const char *word)
{
	static char buf[256 * 1024];
	char *l = queue_line(handle, buf, sizeof(buf)), want[48];

	if (!l)
		return -1;
	snprintf(want, sizeof(want), " %s %s ", field, word);
	return strstr(l, want) != NULL;
}

static long long queue_prio_is(uint32_t handle, const char *prio)
{
	return queue_word_is(handle, "prio", prio);
}

/* Queue @handle's state in debugfs svmgpu_sched is @state: 1, 0, -1 if not listed. */
static long long queue_state_is(uint32_t handle, const char *state)
{
	return queue_word_is(handle, "state", state);
}

/* How many of the @n queues @q are on a hardware queue, running. */
static unsigned int bound_queues(const uint32_t *q, unsigned int n)
{
	unsigned int i, bound = 0;

	for (i = 0; i < n; i++)
		bound += queue_state_is(q[i], "running") == 1;
	return bound;
}

/*
 * Commands queue @handle has submitted and not seen completed (last -
 * completed, one debugfs snapshot), or -1 if not listed.
 */
static long long queue_backlog(uint32_t handle)
{
	static char buf[256 * 1024];
	char *l = queue_line(handle, buf, sizeof(buf)), *f, *g;

	if (!l)
		return -1;
	f = strstr(l, " last ");
	g = strstr(l, " completed ");
	if (!f || !g)
		return -1;
	return strtoll(f + 6, NULL, 0) - strtoll(g + 11, NULL, 0);
}

static int queue_create_prio(int fd, uint32_t ctx, uint32_t prio, uint32_t *q)
{
	struct drm_svmgpu_queue_create a = { .ctx_handle = ctx, .priority = prio };
	int ret = sg_ioctl(fd, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &a);

	if (!ret)
		*q = a.handle;
	return ret;
}

/* Drop CAP_SYS_NICE from the effective set of the calling process: 0 or -errno. */
static int drop_sys_nice(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_TO_INDEX(CAP_SYS_NICE)].effective &= ~CAP_TO_MASK(CAP_SYS_NICE);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

FIXTURE(sched) {
	unsigned int nhw, nengines;
	int fd;
	uint32_t ctx;
	int enabled;
	pid_t kids[16];		/* forked queue holders: killed by the teardown */
	unsigned int nkids;
};

FIXTURE_SETUP(sched)
{
	struct drm_svmgpu_get_info info = { 0 };

	static const char *const params[] = {
		"timeslice_ms", "hang_timeout_ms", "preempt_timeout_ms",
		"save_areas_per_process", "save_areas_max", "save_areas_wait_ms",
	};
	char path[128];
	unsigned int i;
	int ret;

	/*
	 * The harness writes these back however the test ends, a timeout
	 * too.  It does so after the teardown has killed and reaped the queue
	 * holders (their refused queues must not get areas as the caps go
	 * back); after a timeout's group kill it does not wait for them.
	 */
	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		snprintf(path, sizeof(path), SG_PARAMS "%s", params[i]);
		ret = svmgpu_test_restore_file(path);
		if (ret != -ENOENT)	/* no module: its tests skip */
			ASSERT_EQ(ret, 0);
	}
	self->fd = sg_open();
	self->enabled = sched_value("enabled") == 1;
	if (self->fd >= 0 && !sg_info(self->fd, &info)) {
		self->nhw = info.num_queues;
		self->nengines = info.num_engines ? info.num_engines : 1;
		sg_ctx_create(self->fd, &self->ctx);
	}
}

FIXTURE_TEARDOWN(sched)
{
	while (self->nkids) {
		pid_t kid = self->kids[--self->nkids];

		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
	}
	sg_inject("hang_queues", 0);
	inj_write("svmgpu_inject_bad_save_area", 0);
	inj_write("svmgpu_inject_save_nomem", 0);
	if (self->fd >= 0)
		close(self->fd);
}

#define NEED_SCHED() do { \
	if (self->fd < 0) \
		SKIP(return, "no render node"); \
	if (!self->enabled) \
		SKIP(return, "scheduler off (device without CAPS.PREEMPT, or preempt=0)"); \
} while (0)

/* Each rejected priority with its errno; the accepted ones are listed in debugfs. */
TEST_F(sched, priority_rejects_and_capability)
{
	uint32_t q;
	int status;
	pid_t pid;

	if (self->fd < 0)
		SKIP(return, "no render node");
	EXPECT_EQ(queue_create_prio(self->fd, self->ctx, 4, &q), -EINVAL);
	EXPECT_EQ(queue_create_prio(self->fd, self->ctx, 0xffffffffu, &q), -EINVAL);
	/* A bad ring size is -EINVAL before the capability is looked at. */
	{
		struct drm_svmgpu_queue_create a = {
			.ctx_handle = self->ctx, .ring_entries = 3,
			.priority = DRM_SVMGPU_PRIORITY_HIGH,
		};

		EXPECT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &a), -EINVAL);
	}
	/* The library checks too, before the ioctl. */
	EXPECT_EQ(svmgpu_queue_create_priority(NULL, 0, SVMGPU_PRIORITY_LOW, NULL), -EINVAL);

	ASSERT_EQ(queue_create_prio(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_HIGH, &q), 0);
	if (self->enabled)
		EXPECT_EQ(queue_prio_is(q, "high"), 1);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(queue_create_prio(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_LOW, &q), 0);
	if (self->enabled)
		EXPECT_EQ(queue_prio_is(q, "low"), 1);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(queue_create_prio(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_DEFAULT, &q), 0);
	if (self->enabled)
		EXPECT_EQ(queue_prio_is(q, "normal"), 1);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);

	/*
	 * Without CAP_SYS_NICE: HIGH is -EACCES (without the scheduler the
	 * priority is ignored and HIGH is allowed), LOW and NORMAL work.
	 */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int fd = sg_open(), r = 0;
		uint32_t ctx, cq;

		if (fd < 0 || sg_ctx_create(fd, &ctx) || drop_sys_nice())
			_exit(2);
		if (queue_create_prio(fd, ctx, DRM_SVMGPU_PRIORITY_HIGH, &cq) !=
		    (self->enabled ? -EACCES : 0))
			r |= 4;
		if (queue_create_prio(fd, ctx, DRM_SVMGPU_PRIORITY_NORMAL, &cq))
			r |= 8;
		if (queue_create_prio(fd, ctx, DRM_SVMGPU_PRIORITY_LOW, &cq))
			r |= 16;
		_exit(r);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

/*
 * Kernel code looping until the u64 at its args is non-zero (S2R r1,
 * SR_ARGS; LOOP; LD64 r2, [r1]; BREAK r2; ENDLOOP; EXIT): endless until
 * released.
 */
static const uint64_t *flag_kernel(void)
{
	static const uint64_t code[] __attribute__((aligned(8))) = {
		SVMGPU_ISA_ENCODE(SVMGPU_OP_S2R, 1, 0, 0, SVMGPU_SR_ARGS),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_LOOP, 0, 0, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_LD64, 2, 1, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_BREAK, 0, 2, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_ENDLOOP, 0, 0, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_EXIT, 0, 0, 0, 0),
	};

	return code;
}

/*
 * 3 x NUM_QUEUES busy queues: a quarter of them run a kernel that loops
 * until a word is set, a quarter sit in a WAIT on that word, and all of
 * those get a hardware queue first; the other half must still complete
 * every FILL with exact bytes.  Then the word is set: every stuck queue
 * resumes and completes without an error.  hang_timeout_ms 0: no queue is
 * reset, only preempted.
 */
TEST_TIMEOUT(240)
TEST_F(sched, stuck_queues_do_not_block_healthy_ones)
{
	static uint64_t never;
	unsigned int nq, nstuck, i, r, rounds = 4;
	long long pre0 = sched_value("preemptions");
	long long hangs0 = sg_dev_counter("hangs");
	unsigned char **buf;
	uint64_t *seq, stuck_seq;
	struct drm_svmgpu_wait w;
	uint32_t *q;

	NEED_SCHED();
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	nq = 3 * self->nhw;
	nstuck = self->nhw + self->nhw / 2;	/* more stuck queues than hardware queues */
	q = calloc(nq, sizeof(*q));
	seq = calloc(nq, sizeof(*seq));
	buf = calloc(nq, sizeof(*buf));
	ASSERT_NOT_NULL(q);
	for (i = 0; i < nq; i++) {
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
		buf[i] = sg_map_anon(SIZE);
		ASSERT_NOT_NULL(buf[i]);
		memset(buf[i], 0xee, SIZE);
	}
	for (i = 0; i < nstuck; i++) {
		struct svmgpu_cmd c = i & 1 ? sg_wait_eq(&never, 1, 0) :
				      sg_launch(flag_kernel(), &never, 4, 64, SPIN_BUDGET);

		ASSERT_EQ(sg_submit(self->fd, q[i], &c, 1, &seq[i]), 0);
	}
	usleep(20000);
	for (r = 1; r <= rounds; r++) {
		for (i = nstuck; i < nq; i++) {
			struct svmgpu_cmd c = sg_fill(buf[i], SIZE, (i * 7 + r) & 0xff, 1);

			ASSERT_EQ(sg_submit(self->fd, q[i], &c, 1, &seq[i]), 0);
		}
		for (i = nstuck; i < nq; i++) {
			ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i], SG_TIMEOUT_NS, &w), 0);
			EXPECT_EQ(w.err_code, 0);
			EXPECT_EQ(w.nr_errors, 0);
			ASSERT_TRUE(sg_all_bytes(buf[i], (i * 7 + r) & 0xff, SIZE));
		}
	}
	/* The stuck ones are still pending, not failed. */
	for (i = 0; i < nstuck; i++) {
		stuck_seq = seq[i];
		EXPECT_EQ(sg_wait(self->fd, q[i], stuck_seq, stuck_seq, 0, &w), -ETIMEDOUT);
	}
	TH_LOG("%u queues on %u hardware queues: %lld preemptions", nq, self->nhw,
	       sched_value("preemptions") - pre0);
	/* Every stuck queue that held a hardware queue had to give it up. */
	EXPECT_GE(sched_value("preemptions") - pre0, (long long)self->nhw);
	EXPECT_EQ(sg_dev_counter("hangs"), hangs0);
	/* Released: each resumes (those on a runlist too) and completes. */
	__atomic_store_n(&never, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < nstuck; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i], SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_GE(queue_value(q[i], "binds"), 1);
	}
	EXPECT_EQ(sg_dev_counter("hangs"), hangs0);
	for (i = 0; i < nq; i++) {
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
		munmap(buf[i], SIZE);
	}
	free(q);
	free(seq);
	free(buf);
}

/*
 * LOW queues with endless kernels hold every hardware queue but the one
 * kept for HIGH; a LOW SIGNAL waits for one (timeslice 5 s).  A HIGH queue
 * with an endless kernel takes the kept hardware queue at once (no
 * preemption); then a second HIGH queue's COPY reads the SIGNAL's word: it
 * must read 0 (it ran first), its queue is never preempted, and LOW work
 * was (one preemption at least).  Then that HIGH queue runs ten more FILLs
 * with exact bytes and the LOW SIGNAL lands.
 */
TEST_TIMEOUT(120)
TEST_F(sched, high_priority_overtakes_saturating_low)
{
	uint64_t *word = sg_map_anon(4096), *seen = sg_map_anon(4096);
	unsigned char *buf = sg_map_anon(SIZE);
	long long pre0 = sched_value("preemptions");
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	uint64_t lseq;
	uint32_t *low, lq, hq, hblock;
	long long pre1;
	unsigned int i;

	NEED_SCHED();
	ASSERT_NOT_NULL(word);
	ASSERT_NOT_NULL(seen);
	ASSERT_NOT_NULL(buf);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 5000), 0);
	word[0] = 0;
	seen[0] = 0xdeadbeef;
	low = calloc(self->nhw, sizeof(*low));
	ASSERT_NOT_NULL(low);
	c = sg_launch(sg_spin_kernel(), NULL, 4, 64, SPIN_BUDGET);
	for (i = 0; i < self->nhw; i++) {
		ASSERT_EQ(queue_create_prio(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_LOW,
					    &low[i]), 0);
		ASSERT_EQ(sg_submit(self->fd, low[i], &c, 1, NULL), 0);
	}
	ASSERT_EQ(queue_create_prio(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_LOW, &lq), 0);
	c = sg_signal(word, 1);
	ASSERT_EQ(sg_submit(self->fd, lq, &c, 1, &lseq), 0);
	usleep(50000);
	/* The kept hardware queue: taken at once, nothing preempted for it. */
	pre1 = sched_value("preemptions");
	ASSERT_EQ(queue_create_prio(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_HIGH, &hblock), 0);
	c = sg_launch(sg_spin_kernel(), NULL, 4, 64, SPIN_BUDGET);
	ASSERT_EQ(sg_submit(self->fd, hblock, &c, 1, NULL), 0);
	usleep(50000);
	EXPECT_EQ(queue_value(hblock, "binds"), 1);
	EXPECT_EQ(sched_value("preemptions"), pre1);
	ASSERT_EQ(queue_create_prio(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_HIGH, &hq), 0);
	c = sg_copy(seen, word, 8);
	ASSERT_EQ(sg_run_ok(self->fd, hq, c), 0);
	/* The HIGH COPY ran before the LOW SIGNAL submitted earlier. */
	EXPECT_EQ(seen[0], 0);
	for (i = 1; i <= 10; i++) {
		ASSERT_EQ(sg_run_ok(self->fd, hq, sg_fill(buf, SIZE, i, 1)), 0);
		ASSERT_TRUE(sg_all_bytes(buf, i, SIZE));
	}
	EXPECT_EQ(queue_value(hq, "preemptions"), 0);
	EXPECT_GE(sched_value("preemptions") - pre0, 1);
	TH_LOG("LOW preemptions for the HIGH queue: %lld", sched_value("preemptions") - pre0);
	/* The LOW SIGNAL lands once a hardware queue frees up. */
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	ASSERT_EQ(sg_wait(self->fd, lq, lseq, lseq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(__atomic_load_n(word, __ATOMIC_SEQ_CST), 1);
	EXPECT_EQ(sg_queue_destroy(self->fd, hq), 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, hblock), 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, lq), 0);
	for (i = 0; i < self->nhw; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, low[i]), 0);
	free(low);
}

/* An SGEMM of @dim x @dim on queue @q into @c (a, b given): the command. */
static int sgemm_cmd(const struct svmgpu_program *prog, struct svmgpu_sgemm_args *args,
		     struct svmgpu_cmd *cmd)
{
	struct svmgpu_launch l;
	int ret = svmgpu_kernel_launch_shape(SVMGPU_KERNEL_SGEMM, args, &l);

	if (ret)
		return ret;
	l.budget = 0;
	return svmgpu_cmd_launch(cmd, svmgpu_program_code(prog), args, &l, 0);
}

/*
 * Preemption exactness: 3 x NUM_QUEUES queues each run a 256^3 SGEMM three
 * times and then a 4 MiB COPY with a 1 ms timeslice (a jiffy in practice),
 * so kernels and copies are preempted mid-way and resumed on other hardware
 * queues many times; every result is byte for byte the one the same SGEMM
 * gave running alone, and the COPY's bytes are exact.
 */
TEST_TIMEOUT(300)
TEST_F(sched, preempted_work_gives_the_same_bytes)
{
	enum { DIM = 256, NSGEMM = 3 };
	size_t mat = DIM * DIM * sizeof(float), big = 4 << 20;
	long long pre0 = sched_value("preemptions");
	struct svmgpu_program *prog = NULL;
	struct svmgpu_sgemm_args *args;
	float *a = sg_map_anon(mat), *b = sg_map_anon(mat), *ref = sg_map_anon(mat);
	unsigned char *src = sg_map_anon(big);
	unsigned int nq, i, j, resumed = 0;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd cmds[NSGEMM + 1];
	float **c;
	unsigned char **dst;
	uint64_t *seq;
	uint32_t *q, rq;

	NEED_SCHED();
	ASSERT_NOT_NULL(a);
	ASSERT_NOT_NULL(b);
	ASSERT_NOT_NULL(ref);
	ASSERT_NOT_NULL(src);
	ASSERT_EQ(svmgpu_kernel_program(SVMGPU_KERNEL_SGEMM, &prog), 0);
	for (i = 0; i < DIM * DIM; i++) {
		a[i] = (float)((i * 37) % 101) / 7.0f - 3.0f;
		b[i] = (float)((i * 53) % 89) / 5.0f + 1.0f;
	}
	for (i = 0; i < big; i++)
		src[i] = (unsigned char)(i * 131 + (i >> 12));
	nq = 3 * self->nhw;
	args = calloc(nq + 1, sizeof(*args));
	c = calloc(nq, sizeof(*c));
	dst = calloc(nq, sizeof(*dst));
	seq = calloc(nq, sizeof(*seq));
	q = calloc(nq, sizeof(*q));
	ASSERT_NOT_NULL(args);

	/* The reference: alone on the device, long timeslice. */
	ASSERT_EQ(sg_param_write("timeslice_ms", 10000), 0);
	memset(ref, 0, mat);
	args[nq] = (struct svmgpu_sgemm_args){ a, b, ref, DIM, DIM, DIM };
	ASSERT_EQ(sgemm_cmd(prog, &args[nq], &cmds[0]), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &rq), 0);
	ASSERT_EQ(sg_run_ok(self->fd, rq, cmds[0]), 0);
	EXPECT_EQ(queue_value(rq, "preemptions"), 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, rq), 0);

	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 1), 0);
	for (i = 0; i < nq; i++) {
		c[i] = sg_map_anon(mat);
		dst[i] = sg_map_anon(big);
		ASSERT_NOT_NULL(c[i]);
		ASSERT_NOT_NULL(dst[i]);
		memset(c[i], 0xcd, mat);
		memset(dst[i], 0xcd, big);
		args[i] = (struct svmgpu_sgemm_args){ a, b, c[i], DIM, DIM, DIM };
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
	}
	/* Everything prepared first: the submissions come at once. */
	for (i = 0; i < nq; i++) {
		/* The same SGEMM three times (same bytes), to run long enough. */
		for (j = 0; j < NSGEMM; j++)
			ASSERT_EQ(sgemm_cmd(prog, &args[i], &cmds[j]), 0);
		cmds[NSGEMM] = sg_copy(dst[i], src, big);
		ASSERT_EQ(sg_submit(self->fd, q[i], cmds, NSGEMM + 1, &seq[i]), 0);
	}
	for (i = 0; i < nq; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i] - NSGEMM, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_EQ(memcmp(c[i], ref, mat), 0);
		for (j = 0; j < big && dst[i][j] == src[j]; j++)
			;
		EXPECT_EQ(j, big);
		if (queue_value(q[i], "resumes") > 0)
			resumed++;
	}
	TH_LOG("%u queues, timeslice 1 ms: %lld preemptions, %u queues resumed", nq,
	       sched_value("preemptions") - pre0, resumed);
	EXPECT_GE(sched_value("preemptions") - pre0, (long long)nq);
	EXPECT_GE(resumed, nq / 2);
	for (i = 0; i < nq; i++) {
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
		munmap(c[i], mat);
		munmap(dst[i], big);
	}
	svmgpu_program_destroy(prog);
}

/*
 * A fatal device error (INJ_FATAL) with NUM_QUEUES + 2 queues in a WAIT
 * and a FILL behind it: the driver saves the bound queues, resets the
 * device and resumes them; once the word is written every FILL completes
 * with exact bytes and no error, nothing was reported lost.
 */
TEST_TIMEOUT(120)
TEST_F(sched, fatal_error_replays_work)
{
	uint64_t *word = sg_map_anon(4096);
	long long fatal0 = sg_dev_counter("fatal_errors");
	long long resets0 = sg_dev_counter("resets");
	long long saved0 = sched_value("replays_saved");
	long long lost0 = sched_value("replays_lost");
	unsigned int nq, i;
	struct drm_svmgpu_wait w;
	unsigned char **buf;
	uint64_t *seq;
	uint32_t *q;

	NEED_SCHED();
	if (sg_debugfs_path("svmgpu_inject", (char[256]){ 0 }, 256))
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	/*
	 * No timeslice ends while the error comes: with 10 ms slices, a CI run
	 * (loaded host) once had every bound queue preempted by its slice's
	 * end just then, saved in its save area and waiting for a hardware
	 * queue, so the reset saved none itself (and lost none: their FILLs
	 * completed exact after it).  This test is about the reset's save.
	 */
	ASSERT_EQ(sg_param_write("timeslice_ms", 10000), 0);
	word[0] = 0;
	nq = self->nhw + 2;
	q = calloc(nq, sizeof(*q));
	seq = calloc(nq, sizeof(*seq));
	buf = calloc(nq, sizeof(*buf));
	ASSERT_NOT_NULL(q);
	ASSERT_EQ(queues_wait_then_fill(self->fd, self->ctx, word, nq, 0x30, q, seq, buf), 0);
	/* Some of them bound when the error comes (state logged if none saved). */
	for (i = 0; i < 1000 && bound_queues(q, nq) < 1; i++)
		usleep(10000);
	ASSERT_GE(bound_queues(q, nq), 1);
	ASSERT_EQ(sg_inject("fatal", 1), 0);
	for (i = 0; i < 500 && sg_dev_counter("resets") < resets0 + 1; i++)
		usleep(10000);
	EXPECT_EQ(sg_dev_counter("resets"), resets0 + 1);
	EXPECT_EQ(sg_dev_counter("fatal_errors"), fatal0 + 1);
	TH_LOG("saved and replayed: %lld queues, lost %lld",
	       sched_value("replays_saved") - saved0, sched_value("replays_lost") - lost0);
	if (sched_value("replays_saved") == saved0) {
		static char dump[64 * 1024];

		sg_debugfs_read("svmgpu_sched", dump, sizeof(dump));
		TH_LOG("no queue saved at the fatal error:\n%s", dump);
	}
	/* Every hardware queue was busy with one of them: those were saved. */
	EXPECT_GE(sched_value("replays_saved") - saved0, 1);
	EXPECT_LE(sched_value("replays_saved") - saved0, (long long)self->nhw);
	EXPECT_EQ(sched_value("replays_lost"), lost0);
	/* Nothing completed or failed meanwhile. */
	for (i = 0; i < nq; i++)
		EXPECT_EQ(sg_wait(self->fd, q[i], seq[i] - 1, seq[i] - 1, 0, &w), -ETIMEDOUT);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < nq; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i] - 1, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_TRUE(sg_all_bytes(buf[i], 0x30 + i, SIZE));
	}
	for (i = 0; i < nq; i++) {
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
		munmap(buf[i], SIZE);
	}
	free(q);
	free(seq);
	free(buf);
}

struct blocked_submit {
	int fd;
	uint32_t q;
	struct svmgpu_cmd c;
	uint64_t seq;
	int ret;
	pid_t tid;	/* atomic */
};

static void *blocked_submit(void *arg)
{
	struct blocked_submit *b = arg;

	__atomic_store_n(&b->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	b->ret = sg_submit(b->fd, b->q, &b->c, 1, &b->seq);
	return NULL;
}

/*
 * Queue A (a ring of 4: three commands) waits on a word nobody writes yet; a
 * second thread's blocking SUBMIT into A sleeps for room (asserted in
 * /proc).  Then NUM_QUEUES + 2 queues each WAIT on a second word, then FILL
 * 2 MiB: they need A's hardware queue, so A is preempted while its
 * submitter sleeps (asserted before the second word is written: with FILLs
 * alone, quick ones could all finish on the free hardware queues before a
 * timeslice ran out, and A was once never preempted).  Every FILL completes
 * with exact bytes (the scheduler never waits for the sleeping submitter);
 * once the first word is written A resumes, its WAIT and the blocked
 * SUBMIT's FILL complete.  hang_timeout_ms 0: nothing is reset.
 */
TEST_TIMEOUT(120)
TEST_F(sched, blocking_submit_into_full_ring_while_preempted)
{
	enum { BIG = 2 << 20 };	/* long enough that the FILLs contend */
	uint64_t *word = sg_map_anon(4096);
	unsigned char *abuf = sg_map_anon(SIZE), **buf;
	struct blocked_submit b = { .fd = self->fd };
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c[2];
	unsigned int nq, i;
	char task[64];
	uint64_t aseq, *seq;
	uint32_t *q;
	pthread_t th;

	NEED_SCHED();
	ASSERT_NOT_NULL(word);
	ASSERT_NOT_NULL(abuf);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	word[0] = 0;
	memset(abuf, 0, SIZE);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 4, &b.q), 0);
	{
		struct svmgpu_cmd a[3] = { sg_wait_eq(word, 1, 0), sg_nop(), sg_nop() };

		ASSERT_EQ(sg_submit(self->fd, b.q, a, 3, &aseq), 0);
	}
	/* The ring is full: a non-blocking SUBMIT says so. */
	b.c = sg_fill(abuf, SIZE, 0x5a, 1);
	{
		struct drm_svmgpu_submit s = {
			.queue_handle = b.q, .cmds = (uintptr_t)&b.c, .count = 1,
			.flags = DRM_SVMGPU_SUBMIT_NONBLOCK,
		};

		/* Not sg_ioctl(): it retries on EAGAIN. */
		EXPECT_EQ(ioctl(self->fd, DRM_IOCTL_SVMGPU_SUBMIT, &s), -1);
		EXPECT_EQ(errno, EAGAIN);
	}
	ASSERT_EQ(pthread_create(&th, NULL, blocked_submit, &b), 0);
	for (i = 0; i < 1000 && !__atomic_load_n(&b.tid, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	snprintf(task, sizeof(task), "/proc/self/task/%d", b.tid);
	for (i = 0; i < 1000 && !sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_SUBMIT, "SD"); i++)
		usleep(10000);
	ASSERT_TRUE(sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_SUBMIT, "SD"));

	nq = self->nhw + 2;
	q = calloc(nq, sizeof(*q));
	seq = calloc(nq, sizeof(*seq));
	buf = calloc(nq, sizeof(*buf));
	ASSERT_NOT_NULL(buf);
	for (i = 0; i < nq; i++) {
		buf[i] = sg_map_anon(BIG);
		ASSERT_NOT_NULL(buf[i]);
		memset(buf[i], 0xee, BIG);
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
	}
	word[1] = 0;
	for (i = 0; i < nq; i++) {
		c[0] = sg_wait_eq(&word[1], 1, 0);
		c[1] = sg_fill(buf[i], BIG, 0x40 + i, 1);
		ASSERT_EQ(sg_submit(self->fd, q[i], c, 2, &seq[i]), 0);
	}
	/* A gives its hardware queue up with its submitter asleep. */
	for (i = 0; i < 3000 && queue_value(b.q, "preemptions") < 1; i++)
		usleep(10000);
	if (queue_value(b.q, "preemptions") < 1) {
		static char dump[64 * 1024];

		sg_debugfs_read("svmgpu_sched", dump, sizeof(dump));
		TH_LOG("queue %u never preempted:\n%s", b.q, dump);
		ASSERT_TRUE(0);
	}
	ASSERT_TRUE(sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_SUBMIT, "SD"));
	__atomic_store_n(&word[1], 1, __ATOMIC_SEQ_CST);
	/*
	 * SG_TIMEOUT_NS, not 5 s: 10 FILLs of 2 MiB behind an IOMMU on a
	 * loaded debug kernel once took longer; a scheduler waiting for the
	 * sleeping submitter still fails here.
	 */
	for (i = 0; i < nq; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i], SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_TRUE(sg_all_bytes(buf[i], 0x40 + i, BIG));
	}
	EXPECT_EQ(sg_wait(self->fd, b.q, aseq - 2, aseq - 2, 0, &w), -ETIMEDOUT);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	if (sg_wait(self->fd, b.q, aseq, aseq, 10ull * 1000000000ull, &w)) {
		static char dump[64 * 1024];

		sg_debugfs_read("svmgpu_sched", dump, sizeof(dump));
		TH_LOG("queue %u: WAIT not done after the word was written:\n%s", b.q, dump);
		ASSERT_TRUE(0);
	}
	ASSERT_EQ(pthread_join(th, NULL), 0);
	if (b.ret)
		TH_LOG("the blocked SUBMIT failed: %d", b.ret);
	ASSERT_EQ(b.ret, 0);
	EXPECT_EQ(b.seq, aseq + 1);
	ASSERT_EQ(sg_wait(self->fd, b.q, b.seq, aseq - 2, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(w.nr_errors, 0);
	EXPECT_TRUE(sg_all_bytes(abuf, 0x5a, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, b.q), 0);
	for (i = 0; i < nq; i++) {
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
		munmap(buf[i], BIG);
	}
	free(q);
	free(seq);
	free(buf);
}

/*
 * Kernel code counting the u64 at its args down to 0 (S2R r1, SR_ARGS;
 * LD64 r3, [r1]; LOOP; SUB r3, r3, 1; SEQ r2, r3, 0; BREAK r2; ENDLOOP;
 * EXIT): a finite kernel whose length the test chooses.
 */
static const uint64_t *count_kernel(void)
{
	static const uint64_t code[] __attribute__((aligned(8))) = {
		SVMGPU_ISA_ENCODE(SVMGPU_OP_S2R, 1, 0, 0, SVMGPU_SR_ARGS),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_LD64, 3, 1, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_LOOP, 0, 0, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_SUB, 3, 3, SVMGPU_ISA_RB_IMM, 1),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_SEQ, 2, 3, SVMGPU_ISA_RB_IMM, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_BREAK, 0, 2, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_ENDLOOP, 0, 0, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_EXIT, 0, 0, 0, 0),
	};

	return code;
}

/*
 * Keeps the ring of one NORMAL queue full of kernels until told to stop:
 * one thread per queue, since one thread feeding every ring in turn goes at
 * the pace of the slowest engine and lets a faster one's ring run dry.
 */
struct feeder {
	int fd;
	uint32_t q;
	struct svmgpu_cmd c;
	uint64_t last;		/* seq of the last kernel submitted (atomic) */
	const int *stop;	/* atomic */
	int ret;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	uint64_t seq;

	while (!__atomic_load_n(f->stop, __ATOMIC_ACQUIRE) && !f->ret) {
		/* Blocks while the ring is full: about one kernel. */
		f->ret = sg_submit(f->fd, f->q, &f->c, 1, &seq);
		if (!f->ret)
			__atomic_store_n(&f->last, seq, __ATOMIC_RELEASE);
	}
	return NULL;
}

/*
 * Strict priority per engine (hw-spec 16.3): one NORMAL queue per engine
 * runs counting kernels of about 100 ms each, its ring (16) kept full by a
 * thread of its own until the check is done (a fixed number of kernels from
 * a calibration, noisy on a loaded host, once ran dry before the check; one
 * thread feeding both rings in turn went at the slower engine's pace, the
 * faster engine's ring ran dry and the LOW FILL ran in the gap); a LOW
 * queue bound beside them (its hardware queue is on the engine of a NORMAL
 * queue: asserted) gets no engine step.  With hang_timeout_ms 1000 (ten
 * times a kernel) it must not be reset: after 3.5 s its FILL is still
 * pending (it really was starved: the NORMAL queues still have kernels
 * queued, asserted) and no hang was counted; once the kernels are done it
 * completes with exact bytes.  (Before the
 * watchdog knew about starvation the LOW queue failed with ERR_HANG.)
 */
TEST_TIMEOUT(180)
TEST_F(sched, low_queue_starved_by_priority_is_not_hung)
{
	long long hangs0 = sg_dev_counter("hangs");
	unsigned char *lbuf = sg_map_anon(SIZE);
	uint64_t *count = sg_map_anon(4096);
	/*
	 * Static: the feeders still run when an ASSERT leaves this frame for
	 * the teardown.
	 */
	static struct feeder f[8];
	static pthread_t th[8];
	static int stop;
	long long binds0[8], done0[8], faults0, inval0;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	unsigned int i, n, bound, polls;
	uint64_t lseq;
	uint32_t lq, *sq;
	unsigned int running, joined = 0;
	long long lhwq = -1, least = LLONG_MAX;
	double t0, one;
	int lret, beside;

	NEED_SCHED();
	ASSERT_NOT_NULL(lbuf);
	ASSERT_NOT_NULL(count);
	memset(lbuf, 0, SIZE);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 1000), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	n = self->nengines;
	ASSERT_LE(n, sizeof(f) / sizeof(f[0]));
	sq = calloc(n, sizeof(*sq));
	ASSERT_NOT_NULL(sq);
	for (i = 0; i < n; i++) {
		struct drm_svmgpu_queue_create a = {
			.ctx_handle = self->ctx, .ring_entries = 16,
			.priority = DRM_SVMGPU_PRIORITY_NORMAL,
		};

		ASSERT_EQ(sg_ioctl(self->fd, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &a), 0);
		sq[i] = a.handle;
	}
	/* A kernel of about 100 ms, from one of 200000 iterations alone. */
	count[0] = 200000;
	c = sg_launch(count_kernel(), count, 1, 32, SPIN_BUDGET);
	t0 = sg_now_s();
	ASSERT_EQ(sg_run_ok(self->fd, sq[0], c), 0);
	one = sg_now_s() - t0;
	count[0] = (uint64_t)(200000 * 0.1 / (one > 1e-4 ? one : 1e-4));
	if (count[0] < 1000)
		count[0] = 1000;
	t0 = sg_now_s();
	ASSERT_EQ(sg_run_ok(self->fd, sq[0], c), 0);
	one = sg_now_s() - t0;
	TH_LOG("kernels of %llu iterations: %.1f ms each",
	       (unsigned long long)count[0], one * 1e3);
	ASSERT_LT(one, 0.5);
	__atomic_store_n(&stop, 0, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++) {
		f[i] = (struct feeder){ .fd = self->fd, .q = sq[i], .c = c, .stop = &stop };
		ASSERT_EQ(pthread_create(&th[i], NULL, feed, &f[i]), 0);
	}
	/* Each NORMAL queue bound (one per engine) with kernels queued: up to 10 s. */
	for (i = 0, bound = 0; i < 1000 && bound < n; i++) {
		unsigned int j;

		for (j = 0, bound = 0; j < n; j++)
			bound += __atomic_load_n(&f[j].last, __ATOMIC_ACQUIRE) &&
				 queue_value(sq[j], "hwq") >= 0;
		if (bound < n)
			usleep(10000);
	}
	ASSERT_EQ(bound, n);
	ASSERT_EQ(queue_create_prio(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_LOW, &lq), 0);
	c = sg_fill(lbuf, SIZE, 0x77, 1);
	ASSERT_EQ(sg_submit(self->fd, lq, &c, 1, &lseq), 0);
	for (i = 0; i < 1000 && lhwq < 0; i++) {
		lhwq = queue_value(lq, "hwq");
		if (lhwq < 0)
			usleep(10000);
	}
	/* Bound, on an engine that serves a NORMAL queue with kernels. */
	beside = 0;
	for (i = 0; i < n; i++)
		beside |= lhwq >= 0 && queue_value(sq[i], "hwq") % n == lhwq % n;
	TH_LOG("LOW on hw queue %lld beside %u NORMAL queues", lhwq, n);
	ASSERT_GE(lhwq, 0);
	ASSERT_TRUE(beside);
	/*
	 * 3.5 s, watching the NORMAL queues' backlog (kernels submitted, not
	 * completed; for a failure's log: a ring that ran dry is unbound by
	 * the completion interrupt, so their binds count tells it too).
	 */
	faults0 = sg_dev_counter("fault_records");
	inval0 = sg_dev_counter("tlb_invalidations");
	for (i = 0; i < n; i++) {
		binds0[i] = queue_value(sq[i], "binds");
		done0[i] = queue_value(sq[i], "completed");
	}
	t0 = sg_now_s();
	for (polls = 0; sg_now_s() - t0 < 3.5; polls++) {
		for (i = 0; i < n; i++) {
			long long pending = queue_backlog(sq[i]);

			if (pending >= 0 && pending < least)
				least = pending;
		}
		usleep(20000);
	}
	/* Starved, not failed: three hang timeouts later still pending. */
	lret = sg_wait(self->fd, lq, lseq, lseq, 0, &w);
	running = 0;
	for (i = 0; i < n; i++)
		running += sg_wait(self->fd, sq[i], __atomic_load_n(&f[i].last, __ATOMIC_ACQUIRE),
				   1, 0, &w) == -ETIMEDOUT;
	if (lret != -ETIMEDOUT) {
		static char dump[64 * 1024];

		for (i = 0; i < n; i++)
			TH_LOG("NORMAL queue %u: %lld kernels done, %lld binds meanwhile",
			       sq[i], queue_value(sq[i], "completed") - done0[i],
			       queue_value(sq[i], "binds") - binds0[i]);
		sg_debugfs_read("svmgpu_sched", dump, sizeof(dump));
		TH_LOG("LOW FILL done while starved: least backlog %lld over %u polls, faults +%lld, "
		       "invalidations +%lld\n%s", least, polls, sg_dev_counter("fault_records") - faults0,
		       sg_dev_counter("tlb_invalidations") - inval0, dump);
	}
	/*
	 * What the watchdog had to get right is done: no hang counted over
	 * three timeouts.  The NORMAL rings (16 kernels each) now drain; on a
	 * host that other work slows tenfold a 100 ms kernel takes over a
	 * second, which hang_timeout_ms 1000 would call hung (seen once in a
	 * busy session): the drain gets 30 s per kernel.
	 */
	EXPECT_EQ(sg_dev_counter("hangs"), hangs0);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 30000), 0);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++)
		joined += pthread_join(th[i], NULL) == 0;
	ASSERT_EQ(joined, n);
	for (i = 0; i < n; i++)
		ASSERT_EQ(f[i].ret, 0);
	TH_LOG("NORMAL backlog over %u polls: at least %lld kernels", polls, least);
	/* The premise: the NORMAL kernels still kept both engines busy. */
	ASSERT_EQ(running, n);
	EXPECT_EQ(lret, -ETIMEDOUT);
	EXPECT_EQ(sg_dev_counter("hangs"), hangs0);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(sg_wait(self->fd, sq[i], f[i].last, 1, 100ull * 1000000000ull, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
	}
	ASSERT_EQ(sg_wait(self->fd, lq, lseq, lseq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(w.nr_errors, 0);
	EXPECT_TRUE(sg_all_bytes(lbuf, 0x77, SIZE));
	EXPECT_EQ(sg_dev_counter("hangs"), hangs0);
	EXPECT_EQ(sg_queue_destroy(self->fd, lq), 0);
	for (i = 0; i < n; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, sq[i]), 0);
	free(sq);
}

/*
 * A queue in a WAIT whose hardware queue is held by INJ_HANG_QUEUES, among
 * NUM_QUEUES + 2 queues in WAITs (contention: preemptions every
 * timeslice): its preemption never completes, so after preempt_timeout_ms
 * (500) it is reset alone, its WAIT and FILL fail with ERR_HANG
 * (preempt_timeouts + 1, hangs + 1; hang_timeout_ms 0, so the watchdog did
 * not do it).
 * The others, released, complete every FILL with exact bytes.
 */
TEST_TIMEOUT(120)
TEST_F(sched, hung_queue_fails_by_preempt_timeout_alone)
{
	uint64_t *word = sg_map_anon(4096);
	long long pto0 = sched_value("preempt_timeouts");
	long long hangs0 = sg_dev_counter("hangs");
	unsigned int nq, i, victim;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd cmds[2];
	unsigned char **buf;
	long long hwq = -1;
	uint64_t *seq;
	uint32_t *q;

	NEED_SCHED();
	if (sg_debugfs_path("svmgpu_inject", (char[256]){ 0 }, 256))
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	ASSERT_EQ(sg_param_write("preempt_timeout_ms", 500), 0);
	word[0] = 0;
	nq = self->nhw + 2;
	q = calloc(nq, sizeof(*q));
	seq = calloc(nq, sizeof(*seq));
	buf = calloc(nq, sizeof(*buf));
	ASSERT_NOT_NULL(buf);
	for (i = 0; i < nq; i++) {
		buf[i] = sg_map_anon(SIZE);
		ASSERT_NOT_NULL(buf[i]);
		memset(buf[i], 0, SIZE);
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
	}
	/* The first one alone: it is bound at once; hold its hardware queue. */
	victim = 0;
	cmds[0] = sg_wait_eq(word, 1, 0);
	cmds[1] = sg_fill(buf[0], SIZE, 0x60, 1);
	ASSERT_EQ(sg_submit(self->fd, q[0], cmds, 2, &seq[0]), 0);
	for (i = 0; i < 100 && hwq < 0; i++) {
		usleep(10000);
		hwq = queue_value(q[victim], "hwq");
	}
	ASSERT_GE(hwq, 0);
	ASSERT_EQ(sg_inject("hang_queues", 1u << hwq), 0);
	for (i = 1; i < nq; i++) {
		cmds[0] = sg_wait_eq(word, 1, 0);
		cmds[1] = sg_fill(buf[i], SIZE, 0x60 + i, 1);
		ASSERT_EQ(sg_submit(self->fd, q[i], cmds, 2, &seq[i]), 0);
	}
	/* Its preemption times out: both commands fail, the first reported. */
	ASSERT_EQ(sg_wait(self->fd, q[victim], seq[victim], seq[victim] - 1,
			  10ull * 1000000000ull, &w), 0);
	/* Before the hardware queue goes to another queue's WAIT for long. */
	ASSERT_EQ(sg_inject("hang_queues", 0), 0);
	EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_HANG);
	EXPECT_EQ(w.err_seq, seq[victim] - 1);
	EXPECT_EQ(w.nr_errors, 2);
	EXPECT_EQ(sched_value("preempt_timeouts"), pto0 + 1);
	/* Counted as a hang too (one queue reset), by the scheduler alone. */
	EXPECT_EQ(sg_dev_counter("hangs"), hangs0 + 1);
	EXPECT_TRUE(sg_all_bytes(buf[victim], 0, SIZE));
	/* Nobody else failed meanwhile; released, all complete exactly. */
	for (i = 1; i < nq; i++)
		EXPECT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i] - 1, 0, &w), -ETIMEDOUT);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	for (i = 1; i < nq; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i] - 1, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_TRUE(sg_all_bytes(buf[i], 0x60 + i, SIZE));
	}
	EXPECT_EQ(sched_value("preempt_timeouts"), pto0 + 1);
	/* The reset queue stays usable. */
	EXPECT_EQ(sg_run_ok(self->fd, q[victim], sg_fill(buf[victim], SIZE, 0x5f, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(buf[victim], 0x5f, SIZE));
	for (i = 0; i < nq; i++) {
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
		munmap(buf[i], SIZE);
	}
	free(q);
	free(seq);
	free(buf);
}

/* Sum of @n u32 counters, read while the device adds to them. */
static uint64_t hist_sum(const uint32_t *h, unsigned int n)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		sum += __atomic_load_n(&h[i], __ATOMIC_RELAXED);
	return sum;
}

/*
 * Exactly once across a fatal error: an ATOMIC (+1) completes, then a
 * histogram LAUNCH (atomic adds to 16 bins), a WAIT and another ATOMIC are
 * submitted; INJ_FATAL while the LAUNCH is part done (its bins' sum
 * strictly between 0 and N).  The queue is saved, the device reset and the
 * queue resumed: the counter ends at 2 (the first ATOMIC not applied
 * again), every bin holds exactly its share (the LAUNCH neither restarted
 * nor lost a workgroup), no command failed, nothing was lost.
 */
TEST_TIMEOUT(180)
TEST_F(sched, fatal_error_replays_exactly_once)
{
	enum { N = 4 << 20, NBINS = 16 };
	struct svmgpu_program *prog = NULL;
	struct svmgpu_histogram_args *args = sg_map_anon(4096);
	uint32_t *in = sg_map_anon((size_t)N * 4), *hist = sg_map_anon(4096);
	uint64_t *cnt = sg_map_anon(4096), *word = sg_map_anon(4096);
	long long resets0 = sg_dev_counter("resets");
	long long saved0 = sched_value("replays_saved");
	long long lost0 = sched_value("replays_lost");
	struct drm_svmgpu_wait w;
	struct svmgpu_launch l;
	struct svmgpu_cmd cmds[3];
	uint64_t seq, mid = 0;
	unsigned int i;
	uint32_t q;

	NEED_SCHED();
	if (sg_debugfs_path("svmgpu_inject", (char[256]){ 0 }, 256))
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(args);
	ASSERT_NOT_NULL(in);
	ASSERT_NOT_NULL(hist);
	ASSERT_NOT_NULL(cnt);
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10000), 0);
	for (i = 0; i < N; i++)
		in[i] = i * 7;	/* i * 7 % 16 covers every bin N / 16 times */
	memset(hist, 0, 4096);
	cnt[0] = 0;
	word[0] = 0;
	*args = (struct svmgpu_histogram_args){ in, hist, N, NBINS };
	ASSERT_EQ(svmgpu_kernel_program(SVMGPU_KERNEL_HISTOGRAM, &prog), 0);
	ASSERT_EQ(svmgpu_kernel_launch_shape(SVMGPU_KERNEL_HISTOGRAM, args, &l), 0);
	l.budget = 0;
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_atomic_add(cnt, 1, 8)), 0);
	ASSERT_EQ(cnt[0], 1);

	ASSERT_EQ(svmgpu_cmd_launch(&cmds[0], svmgpu_program_code(prog), args, &l, 0), 0);
	cmds[1] = sg_wait_eq(word, 1, 0);
	cmds[2] = sg_atomic_add(cnt, 1, 8);
	ASSERT_EQ(sg_submit(self->fd, q, cmds, 3, &seq), 0);
	/* The LAUNCH part done, then the fatal error. */
	for (i = 0; i < 20000; i++) {
		mid = hist_sum(hist, NBINS);
		if (mid > 0)
			break;
		usleep(500);
	}
	ASSERT_EQ(sg_inject("fatal", 1), 0);
	TH_LOG("fatal error with %llu of %u elements counted", (unsigned long long)mid, N);
	ASSERT_GT(mid, 0);
	ASSERT_LT(mid, N);
	for (i = 0; i < 500 && sg_dev_counter("resets") < resets0 + 1; i++)
		usleep(10000);
	EXPECT_EQ(sg_dev_counter("resets"), resets0 + 1);
	EXPECT_EQ(sched_value("replays_saved") - saved0, 1);
	EXPECT_EQ(sched_value("replays_lost"), lost0);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq - 2, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(w.nr_errors, 0);
	EXPECT_EQ(__atomic_load_n(cnt, __ATOMIC_SEQ_CST), 2);
	for (i = 0; i < NBINS; i++)
		EXPECT_EQ(hist[i], N / NBINS);
	EXPECT_GE(queue_value(q, "resumes"), 1);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	svmgpu_program_destroy(prog);
}

/*
 * Save areas per process capped at 2 (save_areas_per_process): six queues
 * of this process sit in WAITs, so at most two hold an area (and a
 * hardware queue), the rest wait on the runlist without one; debugfs
 * save_areas_used stays at 2 (save_areas_wait_ms 60000: none goes past the
 * cap here).  Another process's queue is not held up by
 * this one's cap: its FILL completes at once with exact bytes.  Released,
 * every queue completes its WAIT and FILL without an error, none lost.
 */
TEST_TIMEOUT(120)
TEST_F(sched, save_area_cap_per_process_waits_never_fails)
{
	enum { NQ = 6 };
	uint64_t *word = sg_map_anon(4096);
	long long lost0 = sched_value("replays_lost");
	unsigned char *buf[NQ];
	struct drm_svmgpu_wait w;
	long long used0, used, parked0;
	uint64_t seq[NQ];
	unsigned int i, bound = 0;
	uint32_t q[NQ];
	int status;
	pid_t pid;

	NEED_SCHED();
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	ASSERT_EQ(sg_param_write("save_areas_per_process", 2), 0);
	EXPECT_EQ(sg_param_read("save_areas_per_process"), 2);
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 60000), 0);
	used0 = sched_value("save_areas_used");
	ASSERT_GE(used0, 0);
	parked0 = sched_value("queues_parked");
	ASSERT_GE(parked0, 0);
	word[0] = 0;
	ASSERT_EQ(queues_wait_then_fill(self->fd, self->ctx, word, NQ, 0x20, q, seq, buf), 0);
	/* The 4 others parked (refused for 60 s): no sleep-and-hope. */
	EXPECT_EQ(wait_sched_value("queues_parked", parked0 + NQ - 2), parked0 + NQ - 2);
	used = wait_areas_used(used0 + 2);
	for (i = 0; i < NQ; i++)
		bound += queue_value(q[i], "hwq") >= 0;
	TH_LOG("%u queues in WAITs: %lld save areas used, %u bound", NQ, used - used0, bound);
	EXPECT_EQ(used - used0, 2);
	EXPECT_EQ(bound, 2);

	/* Another process is not held up by this one's cap. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int fd = sg_open();
		unsigned char *b = sg_map_anon(SIZE);
		uint32_t ctx, cq;

		if (fd < 0 || !b || sg_ctx_create(fd, &ctx) || sg_queue_create(fd, ctx, 0, &cq))
			_exit(2);
		memset(b, 0, SIZE);
		if (sg_run_ok(fd, cq, sg_fill(b, SIZE, 0x99, 1)))
			_exit(3);
		_exit(sg_all_bytes(b, 0x99, SIZE) ? 0 : 4);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	for (i = 0; i < NQ; i++)
		EXPECT_EQ(sg_wait(self->fd, q[i], seq[i] - 1, seq[i] - 1, 0, &w), -ETIMEDOUT);

	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < NQ; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i] - 1, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_TRUE(sg_all_bytes(buf[i], 0x20 + i, SIZE));
	}
	EXPECT_EQ(sched_value("replays_lost"), lost0);
	for (i = 0; i < NQ; i++) {
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
		munmap(buf[i], SIZE);
	}
	EXPECT_EQ(sched_value("save_areas_used"), used0);
}

/* Wait up to 10 s for debugfs save_areas_used to reach @n. */
static long long wait_areas_used(long long n)
{
	int i;

	for (i = 0; i < 1000 && sched_value("save_areas_used") < n; i++)
		usleep(10000);
	return sched_value("save_areas_used");
}

/*
 * The caps are soft (review of the caps, HIGH #1).  In one process with
 * save_areas_per_process = 2, queues 1 and 2 sit in WAITs for a flag that
 * only queue 3's FILL writes: they hold both areas, so queue 3 is refused
 * one.  After save_areas_wait_ms (300) it gets one past the cap
 * (save_areas_over_cap + 1): the FILL runs (not before 300 ms), both WAITs
 * complete and their FILLs give exact bytes, no error, nothing lost.
 * With hard caps queue 3 never ran: a silent deadlock.
 */
TEST_TIMEOUT(120)
TEST_F(sched, save_area_cap_in_one_process_is_soft)
{
	enum { NQ = 2 };
	uint64_t *flag = sg_map_anon(4096);
	long long lost0 = sched_value("replays_lost");
	long long over0 = sched_value("save_areas_over_cap");
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd cmds[2];
	unsigned char *buf[NQ];
	uint64_t seq[NQ], fseq;
	uint32_t q[NQ], fq;
	long long used0;
	unsigned int i;
	double t0, t;

	NEED_SCHED();
	ASSERT_NOT_NULL(flag);
	ASSERT_GE(over0, 0);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	ASSERT_EQ(sg_param_write("save_areas_per_process", NQ), 0);
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 300), 0);
	used0 = sched_value("save_areas_used");
	ASSERT_GE(used0, 0);
	flag[0] = 0;
	for (i = 0; i < NQ; i++) {
		buf[i] = sg_map_anon(SIZE);
		ASSERT_NOT_NULL(buf[i]);
		memset(buf[i], 0, SIZE);
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
		cmds[0] = sg_wait_eq(flag, 1, 0);
		cmds[1] = sg_fill(buf[i], SIZE, 0x30 + i, 1);
		ASSERT_EQ(sg_submit(self->fd, q[i], cmds, 2, &seq[i]), 0);
	}
	ASSERT_EQ(wait_areas_used(used0 + NQ), used0 + NQ);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &fq), 0);
	t0 = sg_now_s();
	cmds[0] = sg_fill(flag, 8, 1, 8);
	ASSERT_EQ(sg_submit(self->fd, fq, cmds, 1, &fseq), 0);
	ASSERT_EQ(sg_wait(self->fd, fq, fseq, fseq, SG_TIMEOUT_NS, &w), 0);
	t = sg_now_s() - t0;
	TH_LOG("the FILL past the cap ran after %.3f s", t);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_GE(t, 0.28);
	/* Not from some later, unrelated kick. */
	EXPECT_LT(t, 10);
	EXPECT_EQ(flag[0], 1);
	EXPECT_EQ(sched_value("save_areas_over_cap"), over0 + 1);
	for (i = 0; i < NQ; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i] - 1, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_TRUE(sg_all_bytes(buf[i], 0x30 + i, SIZE));
	}
	EXPECT_EQ(sched_value("replays_lost"), lost0);
	EXPECT_EQ(sg_queue_destroy(self->fd, fq), 0);
	for (i = 0; i < NQ; i++) {
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
		munmap(buf[i], SIZE);
	}
	EXPECT_EQ(sched_value("save_areas_used"), used0);
}

/*
 * Fork a process (listed for the teardown, which kills it; it dies with
 * this one) that puts @n queues in WAITs on a word nobody writes and
 * sleeps.  Return: 0 once its queues are submitted, -1 if it failed.
 */
static int fork_waiters(struct svmgpu_fixture_sched *self, unsigned int n)
{
	struct sg_peer child;
	pid_t pid;
	int ret;

	if (self->nkids == sizeof(self->kids) / sizeof(self->kids[0]))
		return -1;
	pid = sg_peer_fork(&child);
	if (pid < 0)
		return -1;
	if (!pid) {
		uint64_t *word = sg_map_anon(4096);
		int fd = sg_open();
		struct svmgpu_cmd c;
		uint32_t ctx, cq;
		unsigned int j;

		if (fd < 0 || !word || sg_ctx_create(fd, &ctx))
			_exit(2);
		word[0] = 0;
		for (j = 0; j < n; j++) {
			c = sg_wait_eq(word, 1, 0);
			if (sg_queue_create(fd, ctx, 0, &cq) || sg_submit(fd, cq, &c, 1, NULL))
				_exit(3);
		}
		if (sg_peer_post(&child))
			_exit(4);
		for (;;)
			pause();
	}
	self->kids[self->nkids++] = pid;
	/* A child that exits early closes its ends: the wait fails. */
	ret = sg_peer_wait(&child);
	sg_peer_close(&child);
	return ret;
}

/* Wait up to 10 s for sched counter @name to reach @n; return it. */
static long long wait_sched_value(const char *name, long long n)
{
	int i;

	for (i = 0; i < 1000 && sched_value(name) < n; i++)
		usleep(10000);
	return sched_value(name);
}

/* debugfs @name once it stopped moving (the same for 300 ms, at most 5 s). */
static long long settled_sched_value(const char *name)
{
	long long v = sched_value(name), prev = v - 1;
	int i, same = 0;

	for (i = 0; i < 100 && same < 6; i++) {
		usleep(50000);
		prev = v;
		v = sched_value(name);
		same = v == prev ? same + 1 : 0;
	}
	return v;
}

/*
 * Seconds a FILL of @b with @v on a new queue of priority @prio took to
 * complete with exact bytes; -1 if it failed or timed out (SG_TIMEOUT_NS).
 */
static double timed_fill(int fd, uint32_t ctx, uint32_t prio, unsigned char *b, int v)
{
	struct drm_svmgpu_wait w = { 0 };
	struct svmgpu_cmd c;
	double t0, t = -1;
	uint64_t seq;
	uint32_t q;

	memset(b, 0, SIZE);
	if (queue_create_prio(fd, ctx, prio, &q))
		return -1;
	t0 = sg_now_s();
	c = sg_fill(b, SIZE, v, 1);
	if (!sg_submit(fd, q, &c, 1, &seq) &&
	    !sg_wait(fd, q, seq, seq, SG_TIMEOUT_NS, &w) && !w.err_code &&
	    sg_all_bytes(b, v, SIZE))
		t = sg_now_s() - t0;
	sg_queue_destroy(fd, q);
	return t;
}

/*
 * A heavy process past the caps holds up no other (review of the soft
 * caps, HIGH #1 and #2).  save_areas_per_process = 4, save_areas_max = 8
 * above what is held.  Child H1 puts 10 queues (more than save_areas_max)
 * in WAITs nobody satisfies: 4 hold areas under the caps and, after
 * save_areas_wait_ms (300), 4 more past its process's cap, no more (the
 * per-process ceiling); those are counted apart (save_areas_over 4,
 * save_areas_used + 4 only).  With the wait then 60 s, this process's
 * FILL gets an area under the caps at once (no grant past a cap).  Child
 * H2's 4 queues then fill the device's cap: this process, holding none
 * (below its share), gets one past it at once (save_areas_over_cap + 1);
 * its own queues in WAITs then take its share and no more, and its HIGH
 * queue's FILL still gets one at once.  No preemption timed out, no hang,
 * nothing lost; released, every WAIT of this process completes.  Before,
 * H1's areas past its cap counted against the device's: every other
 * queue waited save_areas_wait_ms per bind (60 s: the FILLs time out).
 */
TEST_TIMEOUT(180)
TEST_F(sched, heavy_process_past_caps_holds_up_no_other)
{
	enum { NPER = 4, NH1 = 10, NL = 6 };
	long long pto0 = sched_value("preempt_timeouts");
	long long lost0 = sched_value("replays_lost");
	long long hangs0 = sg_dev_counter("hangs");
	long long used0, oc0, oc, over, holders, k;
	uint64_t *word = sg_map_anon(4096);
	unsigned char *b = sg_map_anon(SIZE);
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd cmds[2];
	uint64_t lseq[NL];
	uint32_t lq[NL];
	unsigned int i;
	double t;

	NEED_SCHED();
	ASSERT_NOT_NULL(word);
	ASSERT_NOT_NULL(b);
	/* Only lower bounds are timed: no preemption is taken for a hang. */
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 50), 0);
	ASSERT_EQ(sg_param_write("preempt_timeout_ms", 60000), 0);
	ASSERT_EQ(sg_param_write("save_areas_per_process", NPER), 0);
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 300), 0);
	used0 = settled_sched_value("save_areas_used");
	ASSERT_GE(used0, 0);
	EXPECT_EQ(sched_value("save_areas_over"), 0);
	oc0 = sched_value("save_areas_over_cap");
	ASSERT_GE(oc0, 0);
	ASSERT_EQ(sg_param_write("save_areas_max", used0 + 2 * NPER), 0);

	ASSERT_EQ(fork_waiters(self, NH1), 0);
	oc = wait_sched_value("save_areas_over_cap", oc0 + NPER);
	/* Two more waits: no more come past the per-process ceiling. */
	usleep(600000);
	oc = sched_value("save_areas_over_cap");
	over = sched_value("save_areas_over");
	TH_LOG("H1's %d queues in WAITs: %lld areas under the caps, %lld past (%lld grants)",
	       NH1, sched_value("save_areas_used") - used0, over, oc - oc0);
	EXPECT_EQ(oc, oc0 + NPER);
	EXPECT_EQ(over, NPER);
	EXPECT_EQ(sched_value("save_areas_used"), used0 + NPER);

	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 60000), 0);
	t = timed_fill(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_DEFAULT, b, 0x5a);
	TH_LOG("a light process's FILL next to H1: %.3f s", t);
	EXPECT_GE(t, 0);
	EXPECT_LT(t, 10);
	EXPECT_EQ(sched_value("save_areas_over_cap"), oc);

	ASSERT_EQ(fork_waiters(self, NPER), 0);
	ASSERT_EQ(wait_sched_value("save_areas_used", used0 + 2 * NPER), used0 + 2 * NPER);
	t = timed_fill(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_DEFAULT, b, 0x5b);
	TH_LOG("a light process's FILL at the device's cap: %.3f s", t);
	EXPECT_GE(t, 0);
	EXPECT_LT(t, 10);
	EXPECT_EQ(sched_value("save_areas_over_cap"), oc + 1);

	/* This process's own queues in WAITs take its share, no more. */
	word[0] = 0;
	for (i = 0; i < NL; i++) {
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &lq[i]), 0);
		cmds[0] = sg_wait_eq(word, 1, 0);
		cmds[1] = sg_fill(&word[1 + i], 8, 0x60 + i, 8);
		ASSERT_EQ(sg_submit(self->fd, lq[i], cmds, 2, &lseq[i]), 0);
	}
	/*
	 * Its share: grants at once while mine x holders < max, so exactly
	 * k = ceil(max / holders) (3 with H1, H2 and this one).  Waited for,
	 * not settled: on a loaded guest grants can be far apart.
	 */
	ASSERT_GE(wait_sched_value("save_areas_over", NPER + 1), NPER + 1);
	holders = sched_value("save_areas_holders");
	ASSERT_GE(holders, 3);
	k = (used0 + 2 * NPER + holders - 1) / holders;
	over = wait_sched_value("save_areas_over", NPER + k);
	oc = sched_value("save_areas_over_cap");
	TH_LOG("its %d queues in WAITs took %lld areas past the device's cap (holders %lld)",
	       NL, over - NPER, holders);
	EXPECT_EQ(over - NPER, k);
	EXPECT_LT(over - NPER, NL);
	t = timed_fill(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_HIGH, b, 0x5c);
	TH_LOG("its HIGH queue's FILL above its share: %.3f s", t);
	EXPECT_GE(t, 0);
	EXPECT_LT(t, 10);
	EXPECT_EQ(sched_value("save_areas_over_cap"), oc + 1);

	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < NL; i++) {
		ASSERT_EQ(sg_wait(self->fd, lq[i], lseq[i], lseq[i] - 1, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_EQ(word[1 + i], 0x60 + i);
		EXPECT_EQ(sg_queue_destroy(self->fd, lq[i]), 0);
	}
	EXPECT_EQ(sched_value("preempt_timeouts"), pto0);
	EXPECT_EQ(sg_dev_counter("hangs"), hangs0);
	EXPECT_EQ(sched_value("replays_lost"), lost0);

	while (self->nkids) {
		pid_t kid = self->kids[--self->nkids];
		int st;

		kill(kid, SIGKILL);
		ASSERT_EQ(waitpid(kid, &st, 0), kid);
		EXPECT_TRUE(WIFSIGNALED(st));
	}
	for (i = 0; i < 1000 && (sched_value("save_areas_used") != used0 ||
				 sched_value("save_areas_over")); i++)
		usleep(10000);
	EXPECT_EQ(sched_value("save_areas_used"), used0);
	EXPECT_EQ(sched_value("save_areas_over"), 0);
	if (!used0)
		EXPECT_EQ(sched_value("save_areas_holders"), 0);
}

/* Kill and reap the forked holders (before the caps are restored). */
static void kill_kids(struct svmgpu_fixture_sched *self)
{
	while (self->nkids) {
		pid_t kid = self->kids[--self->nkids];

		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
	}
}

/* Wait up to 10 s for save_areas_used back at @used0 and save_areas_over at 0. */
static void wait_areas_back(long long used0)
{
	int i;

	for (i = 0; i < 1000 && (sched_value("save_areas_used") != used0 ||
				 sched_value("save_areas_over")); i++)
		usleep(10000);
}

/*
 * No bound that others' areas held in WAITs can fill refuses a queue for
 * good (review of 51ceff7, HIGH 1).  save_areas_per_process = 4,
 * save_areas_max = 8 above what is held, save_areas_wait_ms = 1000.  Two
 * children hold the device's cap (4 WAITs each, under the caps).  This
 * process's 4 queues in WAITs on a flag then get areas past the device's
 * cap (3 at once, below its share, the 4th after the wait): save_areas_over
 * 4.  Its 5th queue's FILL writes the flag: past the device's cap again
 * (its own ceiling is 2 x 4), it gets an area after save_areas_wait_ms, so
 * the FILL and all four WAITs complete with exact bytes.  On 51ceff7 the
 * 5th was refused for good (4 areas past a cap reached its per-process
 * ceiling, and the device's timed half): the FILL timed out (30 s).
 */
TEST_TIMEOUT(180)
TEST_F(sched, queue_past_others_full_cap_is_never_refused_for_good)
{
	enum { NPER = 4 };
	long long pto0 = sched_value("preempt_timeouts");
	long long lost0 = sched_value("replays_lost");
	long long hangs0 = sg_dev_counter("hangs");
	uint64_t *flag = sg_map_anon(4096);
	long long used0, oc0, over;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd cmds[2];
	uint64_t seq[NPER], fseq;
	uint32_t q[NPER], fq;
	unsigned int i;
	double t0, t;

	NEED_SCHED();
	ASSERT_NOT_NULL(flag);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 50), 0);
	ASSERT_EQ(sg_param_write("preempt_timeout_ms", 60000), 0);
	ASSERT_EQ(sg_param_write("save_areas_per_process", NPER), 0);
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 1000), 0);
	used0 = settled_sched_value("save_areas_used");
	ASSERT_GE(used0, 0);
	EXPECT_EQ(sched_value("save_areas_over"), 0);
	oc0 = sched_value("save_areas_over_cap");
	ASSERT_GE(oc0, 0);
	ASSERT_EQ(sg_param_write("save_areas_max", used0 + 2 * NPER), 0);

	ASSERT_EQ(fork_waiters(self, NPER), 0);
	ASSERT_EQ(fork_waiters(self, NPER), 0);
	ASSERT_EQ(wait_sched_value("save_areas_used", used0 + 2 * NPER), used0 + 2 * NPER);
	EXPECT_EQ(sched_value("save_areas_over"), 0);

	flag[0] = 0;
	for (i = 0; i < NPER; i++) {
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
		cmds[0] = sg_wait_eq(flag, 1, 0);
		cmds[1] = sg_fill(&flag[1 + i], 8, 0x70 + i, 8);
		ASSERT_EQ(sg_submit(self->fd, q[i], cmds, 2, &seq[i]), 0);
	}
	over = wait_sched_value("save_areas_over", NPER);
	TH_LOG("its %d queues in WAITs: %lld areas past the device's cap", NPER, over);
	ASSERT_EQ(over, NPER);

	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &fq), 0);
	t0 = sg_now_s();
	cmds[0] = sg_fill(flag, 8, 1, 8);
	ASSERT_EQ(sg_submit(self->fd, fq, cmds, 1, &fseq), 0);
	ASSERT_EQ(sg_wait(self->fd, fq, fseq, fseq, SG_TIMEOUT_NS, &w), 0);
	t = sg_now_s() - t0;
	TH_LOG("its queue %d's FILL ran after %.3f s (save_areas_wait_ms 1000)", NPER + 1, t);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_GE(t, 0.9);
	EXPECT_LT(t, 10);
	EXPECT_EQ(flag[0], 1);
	EXPECT_EQ(sched_value("save_areas_over_cap"), oc0 + NPER + 1);
	for (i = 0; i < NPER; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i] - 1, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_EQ(flag[1 + i], 0x70 + i);
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
	}
	EXPECT_EQ(sg_queue_destroy(self->fd, fq), 0);
	EXPECT_EQ(sched_value("preempt_timeouts"), pto0);
	EXPECT_EQ(sg_dev_counter("hangs"), hangs0);
	EXPECT_EQ(sched_value("replays_lost"), lost0);
	kill_kids(self);
	wait_areas_back(used0);
	EXPECT_EQ(sched_value("save_areas_used"), used0);
	EXPECT_EQ(sched_value("save_areas_over"), 0);
}

/*
 * A queue refused a save area keeps no lower priority from a free hardware
 * queue (review of 51ceff7, HIGH 2).  save_areas_per_process = 1,
 * save_areas_max = 1 above what is held, save_areas_wait_ms = 60000.  A
 * child's first NORMAL queue in a WAIT holds the area; its second is past
 * both caps, refused for 60 s, on the NORMAL runlist.  This process's LOW
 * FILL (holding nothing: one area past the device's cap at once) runs at
 * once on a free hardware queue.  On 51ceff7 the scheduler picked the
 * refused NORMAL queue over and over and submit() saw it ahead: the LOW
 * FILL never ran (timed out after 30 s).
 */
TEST_TIMEOUT(120)
TEST_F(sched, refused_queue_does_not_hold_up_lower_priority)
{
	unsigned char *b = sg_map_anon(SIZE);
	long long used0, oc0, parked0;
	double t;

	NEED_SCHED();
	ASSERT_NOT_NULL(b);
	if (self->nhw < 3)
		SKIP(return, "needs 3 hardware queues (the last is HIGH's), has %u", self->nhw);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 50), 0);
	ASSERT_EQ(sg_param_write("preempt_timeout_ms", 60000), 0);
	ASSERT_EQ(sg_param_write("save_areas_per_process", 1), 0);
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 60000), 0);
	used0 = settled_sched_value("save_areas_used");
	ASSERT_GE(used0, 0);
	oc0 = sched_value("save_areas_over_cap");
	ASSERT_GE(oc0, 0);
	parked0 = sched_value("queues_parked");
	ASSERT_GE(parked0, 0);
	ASSERT_EQ(sg_param_write("save_areas_max", used0 + 1), 0);

	ASSERT_EQ(fork_waiters(self, 2), 0);
	ASSERT_EQ(wait_sched_value("save_areas_used", used0 + 1), used0 + 1);
	/* Its second queue stays refused (parked): no area past a cap for it. */
	EXPECT_EQ(wait_sched_value("queues_parked", parked0 + 1), parked0 + 1);
	EXPECT_EQ(sched_value("save_areas_over"), 0);
	EXPECT_EQ(sched_value("save_areas_over_cap"), oc0);

	t = timed_fill(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_LOW, b, 0x6d);
	TH_LOG("a LOW FILL next to a refused NORMAL queue: %.3f s", t);
	EXPECT_GE(t, 0);
	EXPECT_LT(t, 10);
	EXPECT_EQ(sched_value("save_areas_over_cap"), oc0 + 1);
	kill_kids(self);
	wait_areas_back(used0);
	EXPECT_EQ(sched_value("save_areas_used"), used0);
	EXPECT_EQ(sched_value("save_areas_over"), 0);
}

/*
 * In a new process: @nother FILLs of 64 KiB on a new queue, each waited for
 * and checked byte by byte.  *@submit_us: the mean time of their SUBMIT
 * ioctls (the queue is idle at each: the scheduler's submit path).
 * Return: its exit status (0: all exact).
 */
static int other_process_fills(unsigned int nother, double *submit_us)
{
	double *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status = -1;
	pid_t pid;

	if (shared == MAP_FAILED)
		return -1;
	pid = fork();
	if (!pid) {
		int fd = sg_open();
		unsigned char *b = sg_map_anon(SIZE);
		struct svmgpu_cmd c;
		double t = 0, t0;
		uint32_t ctx, cq;
		unsigned int j;
		uint64_t seq;

		if (fd < 0 || !b || sg_ctx_create(fd, &ctx) || sg_queue_create(fd, ctx, 0, &cq))
			_exit(2);
		for (j = 0; j < nother; j++) {
			c = sg_fill(b, SIZE, 0x90 + j, 1);
			t0 = sg_now_s();
			if (sg_submit(fd, cq, &c, 1, &seq))
				_exit(3);
			t += sg_now_s() - t0;
			if (sg_wait(fd, cq, seq, seq, SG_TIMEOUT_NS, NULL) ||
			    !sg_all_bytes(b, 0x90 + j, SIZE))
				_exit(4);
		}
		shared[0] = t / nother * 1e6;
		_exit(0);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		status = WEXITSTATUS(status);
	*submit_us = shared[0];
	munmap(shared, 4096);
	return status;
}

/*
 * Queues refused an area for good are parked off the runlists (review
 * s7-followups M1): SUBMIT, the pick and the timeslicing never walk them.
 * save_areas_per_process = 2 (hard ceiling 4), save_areas_wait_ms = 100.
 * This process's 4 queues in WAITs on a flag hold 4 areas (2 under the
 * cap, 2 past it after the wait); its NPARK more queues' FILLs are refused
 * for good: debugfs queues_parked is exactly NPARK, their state "parked",
 * none completed.  Another process's 16 FILLs meanwhile complete with
 * exact bytes.  Once the flag is written, the WAITs complete and give
 * their areas back, and every parked queue's FILL runs (each unparked as
 * an area of its process comes back) with exact bytes; queues_parked and
 * the area counts are back where they were.
 */
TEST_TIMEOUT(180)
TEST_F(sched, queues_refused_for_good_are_parked_and_run_later)
{
	enum { NW = 4, NPARK = 64, PSZ = 4096, NOTHER = 16 };
	uint64_t *flag = sg_map_anon(4096);
	unsigned char *pb = sg_map_anon((size_t)NPARK * PSZ);
	long long lost0 = sched_value("replays_lost");
	long long used0, over0, parked0, parked;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd cmds[2];
	static uint64_t pseq[NPARK];
	uint64_t seq[NW];
	static uint32_t pq[NPARK];
	uint32_t q[NW];
	unsigned int i, notdone = 0;
	double us0, us;

	NEED_SCHED();
	ASSERT_NOT_NULL(flag);
	ASSERT_NOT_NULL(pb);
	ASSERT_EQ(other_process_fills(NOTHER, &us0), 0);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	ASSERT_EQ(sg_param_write("preempt_timeout_ms", 60000), 0);
	ASSERT_EQ(sg_param_write("save_areas_per_process", NW / 2), 0);
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 100), 0);
	used0 = settled_sched_value("save_areas_used");
	ASSERT_GE(used0, 0);
	over0 = sched_value("save_areas_over");
	parked0 = sched_value("queues_parked");
	ASSERT_GE(parked0, 0);

	memset(pb, 0, (size_t)NPARK * PSZ);
	flag[0] = 0;
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
		cmds[0] = sg_wait_eq(flag, 1, 0);
		cmds[1] = sg_fill(&flag[1 + i], 8, 0x50 + i, 8);
		ASSERT_EQ(sg_submit(self->fd, q[i], cmds, 2, &seq[i]), 0);
	}
	ASSERT_EQ(wait_sched_value("save_areas_over", over0 + NW / 2), over0 + NW / 2);
	EXPECT_EQ(sched_value("save_areas_used"), used0 + NW / 2);

	for (i = 0; i < NPARK; i++) {
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &pq[i]), 0);
		cmds[0] = sg_fill(pb + (size_t)i * PSZ, PSZ, (i & 0x7f) + 1, 1);
		ASSERT_EQ(sg_submit(self->fd, pq[i], cmds, 1, &pseq[i]), 0);
	}
	parked = wait_sched_value("queues_parked", parked0 + NPARK);
	TH_LOG("%d queues past the process's ceiling: %lld parked", NPARK, parked - parked0);
	ASSERT_EQ(parked, parked0 + NPARK);
	for (i = 0; i < NPARK; i++) {
		EXPECT_EQ(queue_state_is(pq[i], "parked"), 1);
		notdone += sg_wait(self->fd, pq[i], pseq[i], pseq[i], 0, &w) == -ETIMEDOUT;
	}
	EXPECT_EQ(notdone, NPARK);
	EXPECT_TRUE(sg_all_bytes(pb, 0, (size_t)NPARK * PSZ));

	/* Another process's queue is not held up by them. */
	ASSERT_EQ(other_process_fills(NOTHER, &us), 0);
	TH_LOG("another process's SUBMIT: %.0f us, %.0f us beside %d parked queues",
	       us0, us, NPARK);
	EXPECT_EQ(sched_value("queues_parked"), parked0 + NPARK);

	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i] - 1, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_EQ(flag[1 + i], 0x50 + i);
	}
	for (i = 0; i < NPARK; i++) {
		ASSERT_EQ(sg_wait(self->fd, pq[i], pseq[i], pseq[i], SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_TRUE(sg_all_bytes(pb + (size_t)i * PSZ, (i & 0x7f) + 1, PSZ));
	}
	EXPECT_EQ(sched_value("queues_parked"), parked0);
	EXPECT_EQ(sched_value("replays_lost"), lost0);
	for (i = 0; i < NPARK; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, pq[i]), 0);
	for (i = 0; i < NW; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
	wait_areas_back(used0);
	EXPECT_EQ(sched_value("save_areas_used"), used0);
	EXPECT_EQ(sched_value("save_areas_over"), over0);
	munmap(pb, (size_t)NPARK * PSZ);
}

/*
 * In a new child (killed by the teardown or kill_kids()): one queue of
 * priority @prio running a kernel that spins until a word nobody writes is
 * set.  Return: 0 once it is submitted, -1 on failure.
 */
static int fork_spinner(struct svmgpu_fixture_sched *self, uint32_t prio)
{
	struct sg_peer child;
	pid_t pid;
	int ret;

	if (self->nkids == sizeof(self->kids) / sizeof(self->kids[0]))
		return -1;
	pid = sg_peer_fork(&child);
	if (pid < 0)
		return -1;
	if (!pid) {
		uint64_t *word = sg_map_anon(4096);
		int fd = sg_open();
		struct svmgpu_cmd c;
		uint32_t ctx, cq;

		if (fd < 0 || !word || sg_ctx_create(fd, &ctx) ||
		    queue_create_prio(fd, ctx, prio, &cq))
			_exit(2);
		word[0] = 0;
		c = sg_launch(flag_kernel(), word, 4, 64, SPIN_BUDGET);
		if (sg_submit(fd, cq, &c, 1, NULL))
			_exit(3);
		if (sg_peer_post(&child))
			_exit(4);
		for (;;)
			pause();
	}
	self->kids[self->nkids++] = pid;
	ret = sg_peer_wait(&child);
	sg_peer_close(&child);
	return ret;
}

/*
 * A process's queues refused for good are unparked highest priority first,
 * and a SUBMIT to a parked queue leaves it parked without an area (review
 * of b74bba1, H1 and M2).  save_areas_per_process 2 (ceiling 4),
 * save_areas_wait_ms 100.  Children keep every hardware queue busy: one
 * spinning NORMAL kernel per hardware queue but the last, one HIGH on it.
 * This process's 4 NORMAL queues in WAITs hold its 4 areas: H0 waits for
 * flag A, H1..H3 for flag B.  With timeslice_ms then 2000 (no hardware
 * queue free but for moments), a LOW FILL (L) and a HIGH FILL (X) are
 * parked for good, in that order.  Flag A is written: H0 completes and
 * gives its area back, one queue is unparked; X gets a second command, a
 * FILL that writes flag B.  X's two FILLs and the three WAITs must
 * complete (SG_TIMEOUT_NS) while the spinners still run; L's FILL stays
 * pending (LOW, starved by the NORMAL spinners) until they are killed,
 * then completes.  On b74bba1 L was unparked (the head, FIFO across
 * priorities) and could not run; X stayed parked (or took the area while
 * parked, via its SUBMIT, H1): nothing came back, X's FILL timed out.
 */
TEST_TIMEOUT(180)
TEST_F(sched, parked_high_queue_runs_before_its_process_low_one)
{
	enum { NW = 4 };
	uint64_t *flag = sg_map_anon(4096);
	unsigned char *bl = sg_map_anon(SIZE), *bx = sg_map_anon(SIZE);
	long long lost0 = sched_value("replays_lost");
	long long used0, over0, parked0;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	uint64_t seq[NW], lseq, xseq, xseq2;
	uint32_t q[NW], lq, xq;
	unsigned int i;

	NEED_SCHED();
	ASSERT_NOT_NULL(flag);
	ASSERT_NOT_NULL(bl);
	ASSERT_NOT_NULL(bx);
	if (self->nhw < 2 || self->nhw > sizeof(self->kids) / sizeof(self->kids[0]))
		SKIP(return, "needs 2 to %zu hardware queues, has %u",
		     sizeof(self->kids) / sizeof(self->kids[0]), self->nhw);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	ASSERT_EQ(sg_param_write("preempt_timeout_ms", 60000), 0);
	ASSERT_EQ(sg_param_write("save_areas_per_process", NW / 2), 0);
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 100), 0);
	used0 = settled_sched_value("save_areas_used");
	ASSERT_GE(used0, 0);
	over0 = sched_value("save_areas_over");
	parked0 = sched_value("queues_parked");
	ASSERT_GE(parked0, 0);

	for (i = 0; i + 1 < self->nhw; i++)
		ASSERT_EQ(fork_spinner(self, DRM_SVMGPU_PRIORITY_NORMAL), 0);
	ASSERT_EQ(fork_spinner(self, DRM_SVMGPU_PRIORITY_HIGH), 0);
	ASSERT_EQ(wait_sched_value("save_areas_used", used0 + self->nhw), used0 + self->nhw);

	memset(flag, 0, 4096);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
		c = sg_wait_eq(&flag[i ? 1 : 0], 1, 0);
		ASSERT_EQ(sg_submit(self->fd, q[i], &c, 1, &seq[i]), 0);
	}
	/* 2 under the cap, 2 past it after the wait: the ceiling. */
	ASSERT_EQ(wait_sched_value("save_areas_over", over0 + NW / 2), over0 + NW / 2);
	EXPECT_EQ(sched_value("save_areas_used"), used0 + self->nhw + NW / 2);
	/*
	 * Few preemptions from here: no hardware queue is free for long
	 * (X's own SUBMIT would bind it), but a waiting HIGH queue still
	 * preempts a NORMAL one at once.
	 */
	ASSERT_EQ(sg_param_write("timeslice_ms", 2000), 0);

	memset(bl, 0, SIZE);
	memset(bx, 0, SIZE);
	ASSERT_EQ(queue_create_prio(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_LOW, &lq), 0);
	c = sg_fill(bl, SIZE, 0x3c, 1);
	ASSERT_EQ(sg_submit(self->fd, lq, &c, 1, &lseq), 0);
	ASSERT_EQ(wait_sched_value("queues_parked", parked0 + 1), parked0 + 1);
	ASSERT_EQ(queue_create_prio(self->fd, self->ctx, DRM_SVMGPU_PRIORITY_HIGH, &xq), 0);
	c = sg_fill(bx, SIZE, 0xc3, 1);
	ASSERT_EQ(sg_submit(self->fd, xq, &c, 1, &xseq), 0);
	ASSERT_EQ(wait_sched_value("queues_parked", parked0 + 2), parked0 + 2);
	EXPECT_EQ(queue_state_is(lq, "parked"), 1);
	EXPECT_EQ(queue_state_is(xq, "parked"), 1);

	/* One area of this process back: one queue unparked. */
	__atomic_store_n(&flag[0], 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(sg_wait(self->fd, q[0], seq[0], seq[0], SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	for (i = 0; i < 1000 && sched_value("queues_parked") > parked0 + 1; i++)
		usleep(10000);
	EXPECT_LE(sched_value("queues_parked"), parked0 + 1);
	/* A second command to X, whatever its state: the FILL the WAITs wait for. */
	c = sg_fill(&flag[1], 8, 1, 8);
	ASSERT_EQ(sg_submit(self->fd, xq, &c, 1, &xseq2), 0);
	ASSERT_EQ(sg_wait(self->fd, xq, xseq2, xseq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(w.nr_errors, 0);
	EXPECT_TRUE(sg_all_bytes(bx, 0xc3, SIZE));
	EXPECT_EQ(flag[1], 1);
	for (i = 1; i < NW; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i], SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
	}
	/* L is LOW: the NORMAL spinners still starve it. */
	EXPECT_EQ(sg_wait(self->fd, lq, lseq, lseq, 0, &w), -ETIMEDOUT);
	EXPECT_TRUE(sg_all_bytes(bl, 0, SIZE));

	kill_kids(self);
	ASSERT_EQ(sg_wait(self->fd, lq, lseq, lseq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(w.nr_errors, 0);
	EXPECT_TRUE(sg_all_bytes(bl, 0x3c, SIZE));
	EXPECT_EQ(sched_value("queues_parked"), parked0);
	EXPECT_EQ(sched_value("replays_lost"), lost0);
	EXPECT_EQ(sg_queue_destroy(self->fd, lq), 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, xq), 0);
	for (i = 0; i < NW; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
	wait_areas_back(used0);
	EXPECT_EQ(sched_value("save_areas_used"), used0);
	EXPECT_EQ(sched_value("save_areas_over"), over0);
	munmap(bl, SIZE);
	munmap(bx, SIZE);
}

/*
 * Parked queues destroyed, or closed with their file, leave the parked
 * lists exactly (review of b74bba1, L3).  save_areas_per_process 2
 * (ceiling 4), save_areas_wait_ms 100: this process's 4 queues in WAITs on
 * a flag hold its 4 areas; 16 FILL queues on this file and 8 on a second
 * file of the same process are parked for good.  Destroying 8 of the first
 * 16 takes queues_parked down by exactly 8, closing the second file by 8
 * more; none of them ran (their buffers still 0).  Once the flag is
 * written, the 8 left run with exact bytes and queues_parked is back.
 */
TEST_TIMEOUT(120)
TEST_F(sched, parked_queues_destroyed_or_closed_leave_the_lists)
{
	enum { NW = 4, NP = 16, NC = 8, PSZ = 4096 };
	uint64_t *flag = sg_map_anon(4096);
	unsigned char *pb = sg_map_anon((size_t)(NP + NC) * PSZ);
	long long used0, over0, parked0;
	struct drm_svmgpu_wait w;
	uint64_t seq[NW], pseq[NP], cseq;
	uint32_t q[NW], pq[NP], cq, cctx;
	struct svmgpu_cmd c;
	unsigned int i;
	int fd2;

	NEED_SCHED();
	ASSERT_NOT_NULL(flag);
	ASSERT_NOT_NULL(pb);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	ASSERT_EQ(sg_param_write("preempt_timeout_ms", 60000), 0);
	ASSERT_EQ(sg_param_write("save_areas_per_process", NW / 2), 0);
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 100), 0);
	used0 = settled_sched_value("save_areas_used");
	ASSERT_GE(used0, 0);
	over0 = sched_value("save_areas_over");
	parked0 = sched_value("queues_parked");
	ASSERT_GE(parked0, 0);
	memset(pb, 0, (size_t)(NP + NC) * PSZ);
	flag[0] = 0;
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q[i]), 0);
		c = sg_wait_eq(flag, 1, 0);
		ASSERT_EQ(sg_submit(self->fd, q[i], &c, 1, &seq[i]), 0);
	}
	ASSERT_EQ(wait_sched_value("save_areas_over", over0 + NW / 2), over0 + NW / 2);

	for (i = 0; i < NP; i++) {
		ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &pq[i]), 0);
		c = sg_fill(pb + (size_t)i * PSZ, PSZ, i + 1, 1);
		ASSERT_EQ(sg_submit(self->fd, pq[i], &c, 1, &pseq[i]), 0);
	}
	fd2 = sg_open();
	ASSERT_GE(fd2, 0);
	ASSERT_EQ(sg_ctx_create(fd2, &cctx), 0);
	for (i = 0; i < NC; i++) {
		ASSERT_EQ(sg_queue_create(fd2, cctx, 0, &cq), 0);
		c = sg_fill(pb + (size_t)(NP + i) * PSZ, PSZ, 0x80 + i, 1);
		ASSERT_EQ(sg_submit(fd2, cq, &c, 1, &cseq), 0);
	}
	ASSERT_EQ(wait_sched_value("queues_parked", parked0 + NP + NC), parked0 + NP + NC);

	for (i = 0; i < NP / 2; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, pq[i]), 0);
	EXPECT_EQ(sched_value("queues_parked"), parked0 + NP / 2 + NC);
	close(fd2);
	EXPECT_EQ(sched_value("queues_parked"), parked0 + NP / 2);
	/* Still at the ceiling: nothing ran, nothing was unparked. */
	EXPECT_TRUE(sg_all_bytes(pb, 0, (size_t)(NP + NC) * PSZ));
	for (i = NP / 2; i < NP; i++)
		EXPECT_EQ(queue_state_is(pq[i], "parked"), 1);

	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < NW; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i], SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
	}
	for (i = NP / 2; i < NP; i++) {
		ASSERT_EQ(sg_wait(self->fd, pq[i], pseq[i], pseq[i], SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
		EXPECT_EQ(w.nr_errors, 0);
		EXPECT_TRUE(sg_all_bytes(pb + (size_t)i * PSZ, i + 1, PSZ));
	}
	EXPECT_TRUE(sg_all_bytes(pb, 0, (size_t)NP / 2 * PSZ));
	EXPECT_TRUE(sg_all_bytes(pb + (size_t)NP * PSZ, 0, (size_t)NC * PSZ));
	EXPECT_EQ(sched_value("queues_parked"), parked0);
	for (i = NP / 2; i < NP; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, pq[i]), 0);
	for (i = 0; i < NW; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
	wait_areas_back(used0);
	EXPECT_EQ(sched_value("save_areas_used"), used0);
	EXPECT_EQ(sched_value("save_areas_over"), over0);
	munmap(pb, (size_t)(NP + NC) * PSZ);
}

/* Wait up to 10 s for device counter @name to pass @old; return it. */
static long long wait_counter_above(const char *name, long long old)
{
	int i;

	for (i = 0; i < 1000 && sg_dev_counter(name) <= old; i++)
		usleep(10000);
	return sg_dev_counter(name);
}

/* Wait up to 10 s for debugfs save_areas_quarantined to be @n; return it. */
static long long wait_quarantined(long long n)
{
	int i;

	for (i = 0; i < 1000 && sched_value("save_areas_quarantined") != n; i++)
		usleep(10000);
	return sched_value("save_areas_quarantined");
}

/* Wait up to 10 s for debugfs svmgpu_sched @name to be @n; return it. */
static long long wait_sched_eq(const char *name, long long n)
{
	int i;

	for (i = 0; i < 1000 && sched_value(name) != n; i++)
		usleep(10000);
	return sched_value(name);
}

/*
 * A queue of context @ctx in a WAIT for *@word (set to 0 here) to be 1,
 * bound to a hardware queue: 0, its handle in *@q and the WAIT's sequence
 * in *@seq (may be NULL); or the failed step's -errno, -ETIMEDOUT if it
 * was not bound within 1 s.
 */
static int queue_bound_in_a_wait(int fd, uint32_t ctx, uint64_t *word, uint32_t *q,
				 uint64_t *seq)
{
	struct svmgpu_cmd c = sg_wait_eq(word, 1, 0);
	int i, ret;

	word[0] = 0;
	ret = sg_queue_create(fd, ctx, 0, q);
	if (!ret)
		ret = sg_submit(fd, *q, &c, 1, seq);
	for (i = 0; !ret && i < 100 && queue_value(*q, "hwq") < 0; i++)
		usleep(10000);
	if (!ret && queue_value(*q, "hwq") < 0)
		ret = -ETIMEDOUT;
	return ret;
}

/*
 * A queue destroyed while its hardware queue does not go idle (debugfs
 * svmgpu_inject_unbind_busy: the device itself cannot be made to show it)
 * has its save area quarantined, and a device reset is queued for it at
 * once (resets + 1), after which the area is freed (quarantined back to
 * what it was).  Before, no reset came for a destroy or an exit: the area
 * stayed quarantined and the engine was never reclaimed.  Its ring and
 * completion record, which the engine may still read and write, are
 * quarantined by the destroy itself (dma_quarantined + 2) and freed only
 * once that reset ran (dma_released + 2, none left held); before, the
 * destroy freed them at once.  Another queue runs exactly afterwards.
 */
TEST_TIMEOUT(120)
TEST_F(sched, destroyed_queue_not_idle_resets_device)
{
	uint64_t *word = sg_map_anon(4096);
	unsigned char *b = sg_map_anon(SIZE);
	long long resets0 = sg_dev_counter("resets");
	long long quar0 = sched_value("save_areas_quarantined");
	long long dq0 = sched_value("dma_quarantined");
	long long dr0 = sched_value("dma_released");
	uint32_t q, h;

	NEED_SCHED();
	ASSERT_NOT_NULL(word);
	ASSERT_NOT_NULL(b);
	ASSERT_GE(resets0, 0);
	ASSERT_EQ(quar0, 0);
	ASSERT_GE(dq0, 0);
	ASSERT_GE(dr0, 0);
	ASSERT_EQ(sched_value("dma_quarantine_held"), 0);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(queue_bound_in_a_wait(self->fd, self->ctx, word, &q, NULL), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &h), 0);
	ASSERT_EQ(inj_write("svmgpu_inject_unbind_busy", 1), 0);
	ASSERT_EQ(sg_queue_destroy(self->fd, q), 0);
	/* Counted by the destroy, whether or not the reset already ran. */
	EXPECT_EQ(sched_value("dma_quarantined"), dq0 + 2);
	EXPECT_GT(wait_counter_above("resets", resets0), resets0);
	EXPECT_EQ(wait_quarantined(0), 0);
	EXPECT_EQ(wait_sched_eq("dma_released", dr0 + 2), dr0 + 2);
	EXPECT_EQ(wait_sched_eq("dma_quarantine_held", 0), 0);
	EXPECT_EQ(sg_dev_counter("resets"), resets0 + 1);
	memset(b, 0, SIZE);
	EXPECT_EQ(sg_run_ok(self->fd, h, sg_fill(b, SIZE, 0x42, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(b, 0x42, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, h), 0);
	/* A queue that always went idle frees its ring and record at once. */
	EXPECT_EQ(sched_value("dma_quarantined"), dq0 + 2);
	EXPECT_EQ(sched_value("dma_released"), dr0 + 2);
}

/*
 * The reset a not-idle destroy asks for cannot enable the device again
 * (INJ_ENABLE_REFUSE): the device is wedged, bus mastering off.  It was
 * shown quiet before (CONTROL.RESET, RESET_PENDING and ENABLED read 0), so
 * the reset counts (resets + 1) and the destroyed queue's ring, completion
 * record and save area leave the quarantine (dma_released + 2, none held):
 * only a reset that found the device still busy keeps them.  A
 * function-level reset (sysfs) then brings the device back, and the other
 * queue runs exactly.
 */
TEST_TIMEOUT(120)
TEST_F(sched, reset_that_cannot_enable_frees_the_quarantine_and_an_flr_recovers)
{
	uint64_t *word = sg_map_anon(4096);
	unsigned char *b = sg_map_anon(SIZE);
	long long resets0 = sg_dev_counter("resets");
	long long dq0 = sched_value("dma_quarantined");
	long long dr0 = sched_value("dma_released");
	long long wedged, resets;
	char bdf[32], flr[96];
	uint32_t q, h;
	int i, ret;

	NEED_SCHED();
	if (sg_debugfs_path("svmgpu_inject", (char[256]){ 0 }, 256))
		SKIP(return, "no debugfs svmgpu_inject");
	ASSERT_NOT_NULL(word);
	ASSERT_NOT_NULL(b);
	ASSERT_GE(resets0, 0);
	ASSERT_EQ(sg_find_bdf(bdf, sizeof(bdf)), 0);
	snprintf(flr, sizeof(flr), "/sys/bus/pci/devices/%s/reset", bdf);
	ASSERT_EQ(sched_value("save_areas_quarantined"), 0);
	ASSERT_EQ(sched_value("dma_quarantine_held"), 0);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(queue_bound_in_a_wait(self->fd, self->ctx, word, &q, NULL), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &h), 0);
	ASSERT_EQ(sg_inject("enable_refuse", 1), 0);
	ASSERT_EQ(inj_write("svmgpu_inject_unbind_busy", 1), 0);
	ret = sg_queue_destroy(self->fd, q);
	for (i = 0; i < 1000 && sg_dev_counter("wedged") != 1; i++)
		usleep(10000);
	wedged = sg_dev_counter("wedged");
	resets = sg_dev_counter("resets");
	/* No ASSERT before the FLR: the next tests need the device back. */
	EXPECT_EQ(ret, 0);
	EXPECT_EQ(wedged, 1);
	EXPECT_EQ(resets, resets0 + 1);
	EXPECT_EQ(sched_value("dma_quarantined"), dq0 + 2);
	/* freed at the reset's end, after wedged was set */
	EXPECT_EQ(wait_sched_eq("dma_quarantine_held", 0), 0);
	EXPECT_EQ(wait_sched_eq("dma_released", dr0 + 2), dr0 + 2);
	EXPECT_EQ(wait_quarantined(0), 0);
	EXPECT_EQ(sg_write_file(flr, "1"), 0);
	EXPECT_EQ(sg_dev_counter("wedged"), 0);
	EXPECT_EQ(sg_dev_counter("hw_ready"), 1);
	EXPECT_EQ(sg_dev_counter("resets"), resets0 + 2);
	memset(b, 0, SIZE);
	EXPECT_EQ(sg_run_ok(self->fd, h, sg_fill(b, SIZE, 0x45, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(b, 0x45, SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, h), 0);
	EXPECT_EQ(sched_value("dma_quarantine_held"), 0);
	munmap(word, 4096);
	munmap(b, SIZE);
}

/*
 * The same after a hang reset: the watchdog resets a queue stuck in a WAIT
 * and its hardware queue is taken as not idle; the queue stays usable
 * with its ring and record (nothing quarantined yet, its WAIT fails with
 * ERR_HANG) and a device reset is queued.  Destroyed then, before that
 * reset ran or after, its ring and record go through the quarantine
 * (dma_quarantined + 2) and are freed once the reset ran (dma_released
 * + 2, none held, resets moved).  Before, a destroy before the reset found
 * the queue unbound and freed them while the engine could still reach
 * them.
 */
TEST_TIMEOUT(120)
TEST_F(sched, hang_reset_not_idle_then_destroy_quarantines_ring)
{
	uint64_t *word = sg_map_anon(4096);
	long long resets0 = sg_dev_counter("resets");
	long long dq0 = sched_value("dma_quarantined");
	long long dr0 = sched_value("dma_released");
	long long hangs0 = sg_dev_counter("hangs");
	struct drm_svmgpu_wait w;
	uint64_t seq;
	uint32_t q;

	NEED_SCHED();
	ASSERT_NOT_NULL(word);
	ASSERT_GE(resets0, 0);
	ASSERT_GE(dq0, 0);
	ASSERT_GE(dr0, 0);
	ASSERT_EQ(sched_value("dma_quarantine_held"), 0);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(queue_bound_in_a_wait(self->fd, self->ctx, word, &q, &seq), 0);
	/* Armed first: the hang reset's unbind is the next one. */
	ASSERT_EQ(inj_write("svmgpu_inject_unbind_busy", 1), 0);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 1000), 0);
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_HANG);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	EXPECT_GT(sg_dev_counter("hangs"), hangs0);
	/* Hang-reset, not stopped: it keeps its ring and record. */
	EXPECT_EQ(sched_value("dma_quarantined"), dq0);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	EXPECT_EQ(sched_value("dma_quarantined"), dq0 + 2);
	EXPECT_GT(wait_counter_above("resets", resets0), resets0);
	EXPECT_EQ(wait_sched_eq("dma_released", dr0 + 2), dr0 + 2);
	EXPECT_EQ(wait_sched_eq("dma_quarantine_held", 0), 0);
	EXPECT_EQ(wait_quarantined(0), 0);
	munmap(word, 4096);
}

/*
 * A queue preempted and saved whose hardware queue is then taken as not
 * idle (svmgpu_inject_unbind_busy while NUM_QUEUES queues in WAITs rotate
 * through the hardware queues) has lost its saved state with the
 * quarantined area: its pending WAIT and FILL fail with ERR_RESET
 * (replays_lost + 1), a device reset follows, and the other queues complete
 * exactly once released.  Before, it was queued again and restarted its
 * half-done command from scratch, silently.
 */
TEST_TIMEOUT(120)
TEST_F(sched, saved_queue_not_idle_fails_its_commands)
{
	enum { MAXQ = 16 };
	uint64_t *word = sg_map_anon(4096);
	long long lost0 = sched_value("replays_lost");
	long long resets0 = sg_dev_counter("resets");
	long long pre0 = sched_value("preemptions");
	unsigned int i, nq = self->nhw, failed = 0;
	unsigned char *buf[MAXQ];
	struct drm_svmgpu_wait w;
	uint64_t seq[MAXQ];
	uint32_t q[MAXQ];

	NEED_SCHED();
	ASSERT_NOT_NULL(word);
	ASSERT_LE(nq, MAXQ);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	word[0] = 0;
	/* One more than the hardware queues below HIGH: they rotate. */
	ASSERT_EQ(queues_wait_then_fill(self->fd, self->ctx, word, nq, 0x70, q, seq, buf), 0);
	for (i = 0; i < 1000 && sched_value("preemptions") < pre0 + 4; i++)
		usleep(10000);
	ASSERT_GE(sched_value("preemptions"), pre0 + 4);
	/* The next unbind is a preempted queue's: nothing else unbinds now. */
	ASSERT_EQ(inj_write("svmgpu_inject_unbind_busy", 1), 0);
	EXPECT_GT(wait_counter_above("resets", resets0), resets0);
	EXPECT_EQ(wait_quarantined(0), 0);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < nq; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i] - 1, SG_TIMEOUT_NS, &w), 0);
		if (w.err_code) {
			failed++;
			EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
			EXPECT_EQ(w.err_seq, seq[i] - 1);
			EXPECT_EQ(w.nr_errors, 2);
			EXPECT_TRUE(sg_all_bytes(buf[i], 0, SIZE));
		} else {
			EXPECT_EQ(w.nr_errors, 0);
			EXPECT_TRUE(sg_all_bytes(buf[i], 0x70 + i, SIZE));
		}
	}
	TH_LOG("%u of %u queues lost their saved state", failed, nq);
	EXPECT_EQ(failed, 1);
	EXPECT_EQ(sched_value("replays_lost"), lost0 + 1);
	for (i = 0; i < nq; i++) {
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
		munmap(buf[i], SIZE);
	}
}

/*
 * NUM_QUEUES queues, each a WAIT then a FILL of its own buffer, rotate
 * through the hardware queues below HIGH (10 ms timeslices); one binding
 * gets a save area on no memory (svmgpu_inject_bad_save_area): with
 * @resume, once every queue was saved, so that binding's RESUME finds its
 * area unreadable (refused, Q_ERROR_SEQ 0), else from the start, so that
 * the save of a first binding fails on the bus (Q_ERROR_SEQ the WAIT's).
 * Exactly one WAIT fails, with ERR_SAVE_AREA (replays_lost + 1); its FILL
 * runs behind it without waiting for the word; every other queue completes
 * both commands once released; no reset.
 */
static void bad_save_area_fails_one_wait(struct svmgpu_fixture_sched *self, bool resume)
{
	enum { MAXQ = 16 };
	uint64_t *word = sg_map_anon(4096);
	long long lost0 = sched_value("replays_lost");
	long long resets0 = sg_dev_counter("resets");
	unsigned int i, j, nq = self->nhw, failed = MAXQ, nfailed = 0;
	unsigned char *buf[MAXQ];
	struct drm_svmgpu_wait w;
	uint64_t seq[MAXQ];
	uint32_t q[MAXQ];

	ASSERT_NOT_NULL(word);
	ASSERT_LE(nq, MAXQ);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	if (!resume)
		ASSERT_EQ(inj_write("svmgpu_inject_bad_save_area", 1), 0);
	word[0] = 0;
	ASSERT_EQ(queues_wait_then_fill(self->fd, self->ctx, word, nq, 0x70, q, seq, buf), 0);
	if (resume) {
		/* every queue saved once: each binding from now on is a RESUME */
		for (j = 0; j < 1000; j++) {
			for (i = 0; i < nq && queue_value(q[i], "preemptions") > 0; i++)
				;
			if (i == nq)
				break;
			usleep(10000);
		}
		ASSERT_EQ(i, nq);
		ASSERT_EQ(inj_write("svmgpu_inject_bad_save_area", 1), 0);
	}
	/* the queue that lost its WAIT runs its FILL without the word */
	for (j = 0; j < 1000 && failed == MAXQ; j++) {
		for (i = 0; i < nq && failed == MAXQ; i++)
			if (buf[i][SIZE - 1] == 0x70 + i)
				failed = i;
		usleep(10000);
	}
	ASSERT_LT(failed, nq);
	EXPECT_EQ(sched_value("replays_lost"), lost0 + 1);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < nq; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i] - 1, SG_TIMEOUT_NS, &w), 0);
		EXPECT_TRUE(sg_all_bytes(buf[i], 0x70 + i, SIZE));
		if (!w.nr_errors)
			continue;
		nfailed++;
		EXPECT_EQ(i, failed);
		EXPECT_EQ(w.nr_errors, 1);
		EXPECT_EQ(w.err_code, SVMGPU_ERR_SAVE_AREA);
		EXPECT_EQ(w.err_seq, seq[i] - 1);
	}
	TH_LOG("queue %u of %u lost its WAIT (%s)", failed, nq,
	       resume ? "RESUME refused" : "save failed");
	EXPECT_EQ(nfailed, 1);
	EXPECT_EQ(sched_value("replays_lost"), lost0 + 1);
	EXPECT_EQ(sg_dev_counter("resets"), resets0);
	for (i = 0; i < nq; i++) {
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
		munmap(buf[i], SIZE);
	}
	munmap(word, 4096);
}

TEST_TIMEOUT(120)
TEST_F(sched, save_failing_on_the_bus_fails_only_the_saved_command)
{
	NEED_SCHED();
	bad_save_area_fails_one_wait(self, false);
}

TEST_TIMEOUT(120)
TEST_F(sched, resume_from_an_unreadable_area_fails_only_the_saved_command)
{
	NEED_SCHED();
	bad_save_area_fails_one_wait(self, true);
}

/*
 * A queue that gets no save area (no memory: svmgpu_inject_save_nomem, as
 * when its memory cgroup is at its limit) waits and tries again; it is
 * never bound without one.  Before, it ran unpreemptible at once and kept
 * its hardware queue for as long as it had work: a process could fill
 * its memory cgroup to its limit and hold every hardware queue so.  Here
 * its first three tries fail: whenever it is seen running, it has an
 * area, and its WAIT then completes once released.
 */
TEST_TIMEOUT(60)
TEST_F(sched, queue_without_memory_for_a_save_area_waits_for_one)
{
	static char buf[256 * 1024];
	uint64_t *word = sg_map_anon(4096);
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	uint64_t seq;
	uint32_t q;
	char *l = NULL;
	double t0;
	int i;

	NEED_SCHED();
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	/* tries 100 ms apart */
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 1000), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	word[0] = 0;
	ASSERT_EQ(inj_write("svmgpu_inject_save_nomem", 3), 0);
	c = sg_wait_eq(word, 1, 0);
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);
	t0 = sg_now_s();
	for (i = 0; i < 1000; i++) {
		l = queue_line(q, buf, sizeof(buf));
		ASSERT_NOT_NULL(l);
		if (strstr(l, " state running "))
			break;
		usleep(5000);
	}
	TH_LOG("running after %.2f s: %s", sg_now_s() - t0, l);
	ASSERT_NE(strstr(l, " state running "), NULL);
	/* bound with an area: never without one */
	EXPECT_NE(strstr(l, " save yes"), NULL);
	/* all three refusals taken */
	ASSERT_GE(sg_debugfs_read("svmgpu_inject_save_nomem", buf, sizeof(buf)), 0);
	EXPECT_EQ(atoi(buf), 0);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	ASSERT_EQ(inj_write("svmgpu_inject_save_nomem", 0), 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	munmap(word, 4096);
}

/* Queue @handle holds a save area: 1, 0, -1 if not listed. */
static int queue_has_area(uint32_t handle)
{
	static char buf[256 * 1024];
	char *l = queue_line(handle, buf, sizeof(buf));

	return l ? strstr(l, " save yes") != NULL : -1;
}

/* Queues listed in debugfs svmgpu_sched, or -1. */
static int queues_listed(void)
{
	static char buf[256 * 1024];
	char path[256];
	ssize_t n, len = 0;
	int fd, count = 0;
	const char *l;

	if (sg_debugfs_path("svmgpu_sched", path, sizeof(path)))
		return -1;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	buf[len++] = '\n';
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	for (l = buf; (l = strstr(l, "\nqueue ")); l++)
		count++;
	return count;
}

/*
 * A queue that cannot get a save area (svmgpu_inject_save_nomem for good)
 * waits, off the hardware, through what may happen meanwhile.  A device
 * reset (debugfs svmgpu_reset) leaves it waiting with its commands: none
 * fails, and once memory is back it runs with an area and its WAIT
 * completes without error.  A process killed with such a queue leaves
 * nothing: its queue leaves the list, no area is held or parked for it.
 */
TEST_TIMEOUT(120)
TEST_F(sched, queue_waiting_for_a_save_area_survives_a_reset_and_a_kill)
{
	uint64_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);
	long long resets0 = sg_dev_counter("resets"), used0, parked0;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	char reset[256];
	int listed0, st, i;
	uint64_t seq;
	uint32_t q;
	pid_t pid;

	NEED_SCHED();
	ASSERT_NE(word, MAP_FAILED);
	ASSERT_GE(resets0, 0);
	if (sg_debugfs_path("svmgpu_reset", reset, sizeof(reset)))
		SKIP(return, "no debugfs svmgpu_reset");
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("save_areas_wait_ms", 1000), 0);
	used0 = sched_value("save_areas_used");
	parked0 = sched_value("queues_parked");
	ASSERT_GE(used0, 0);
	ASSERT_GE(parked0, 0);

	/* A reset while it waits. */
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	word[0] = 0;
	ASSERT_EQ(inj_write("svmgpu_inject_save_nomem", 1000000), 0);
	c = sg_wait_eq(word, 1, 0);
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);
	usleep(300000);	/* three refused tries */
	EXPECT_EQ(queue_value(q, "hwq"), -1);
	EXPECT_TRUE(queue_has_area(q) == 0);
	ASSERT_EQ(sg_write_file(reset, "1"), 0);
	EXPECT_EQ(wait_counter_above("resets", resets0), resets0 + 1);
	usleep(300000);
	EXPECT_EQ(queue_value(q, "hwq"), -1);
	ASSERT_EQ(inj_write("svmgpu_inject_save_nomem", 0), 0);
	for (i = 0; i < 500 && queue_value(q, "hwq") < 0; i++)
		usleep(10000);
	EXPECT_GE(queue_value(q, "hwq"), 0);
	EXPECT_TRUE(queue_has_area(q) == 1);
	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);

	/* Its process killed while it waits. */
	listed0 = queues_listed();
	ASSERT_GE(listed0, 0);
	word[0] = 0;
	ASSERT_EQ(inj_write("svmgpu_inject_save_nomem", 1000000), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		uint32_t ctx, kq;
		int fd = sg_open();

		if (fd < 0 || sg_ctx_create(fd, &ctx) || sg_queue_create(fd, ctx, 0, &kq))
			_exit(1);
		c = sg_wait_eq(word, 1, 0);
		if (sg_submit(fd, kq, &c, 1, NULL))
			_exit(2);
		word[1] = 1;
		pause();
		_exit(3);
	}
	self->kids[self->nkids++] = pid;
	for (i = 0; i < 500 && !__atomic_load_n(&word[1], __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	ASSERT_EQ(word[1], 1);
	EXPECT_EQ(queues_listed(), listed0 + 1);
	usleep(300000);
	kill(pid, SIGKILL);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	self->nkids--;
	EXPECT_TRUE(WIFSIGNALED(st));
	for (i = 0; i < 500 && queues_listed() != listed0; i++)
		usleep(10000);
	EXPECT_EQ(queues_listed(), listed0);
	EXPECT_EQ(sched_value("save_areas_used"), used0);
	EXPECT_EQ(sched_value("queues_parked"), parked0);
	ASSERT_EQ(inj_write("svmgpu_inject_save_nomem", 0), 0);
	munmap(word, 4096);
}

/*
 * Save areas are charged to the memory cgroup of the queues' creator, also
 * when the scheduler work allocates them.  In a cgroup of its own, this
 * process creates 40 queues and puts each in a WAIT: with the timeslice
 * they rotate through the hardware queues and all 40 hold an area (40 x
 * 72 KiB); at most 2 x NUM_QUEUES come from the cache (charged to whoever
 * allocated them), so the cgroup's memory.current grows by the others
 * (half of them at least: charges are batched per CPU).  (Before, the
 * areas were DMA-coherent memory charged to nobody: the cgroup saw only
 * the batch noise, 240 KiB.)  Released, every queue completes.
 */
TEST_TIMEOUT(120)
TEST_F(sched, save_areas_charged_to_memcg)
{
	enum { NQ = 40 };
	long long used0, used, before, after, cached;
	uint64_t *word = sg_map_anon(4096);
	struct drm_svmgpu_wait w;
	const char *why = NULL;
	char path[128], name[32];
	struct svmgpu_cmd c;
	uint64_t seq[NQ];
	uint32_t q[NQ], ctx;
	unsigned int i;

	NEED_SCHED();
	ASSERT_NOT_NULL(word);
	if (sg_cg_memory(&why))
		SKIP(return, "cgroup2: %s", why);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	snprintf(name, sizeof(name), "sched-%d", getpid());
	ASSERT_EQ(sg_cg_enter(name, path, sizeof(path)), 0);

	/* Created inside the group: the queues' creator is charged. */
	ASSERT_EQ(sg_ctx_create(self->fd, &ctx), 0);
	for (i = 0; i < NQ; i++)
		ASSERT_EQ(sg_queue_create(self->fd, ctx, 0, &q[i]), 0);
	word[0] = 0;
	/* The word's device mapping first, so that only areas come after. */
	ASSERT_EQ(sg_run_ok(self->fd, q[0], sg_signal(word, 0)), 0);
	/* Its area back too (the interrupt thread unbinds it after the WAIT). */
	for (i = 0; i < 100 && queue_value(q[0], "hwq") >= 0; i++)
		usleep(10000);
	ASSERT_EQ(queue_value(q[0], "hwq"), -1);
	cached = sched_value("save_areas_cached");
	used0 = sched_value("save_areas_used");
	before = sg_file_ll(path);
	ASSERT_GE(before, 0);
	for (i = 0; i < NQ; i++) {
		c = sg_wait_eq(word, 1, 0);
		ASSERT_EQ(sg_submit(self->fd, q[i], &c, 1, &seq[i]), 0);
	}
	for (i = 0; i < 1000 && sched_value("save_areas_used") - used0 < NQ; i++)
		usleep(10000);
	used = sched_value("save_areas_used") - used0;
	after = sg_file_ll(path);
	TH_LOG("%lld areas held (%lld were cached): cgroup charged %lld KiB", used, cached,
	       (after - before) / 1024);
	EXPECT_EQ(used, NQ);
	/*
	 * Half of the new areas at least: memory.current moves by the per-CPU
	 * charge batches (64 pages each), not page by page.  Uncharged, it
	 * moved by one batch or so.
	 */
	EXPECT_GE(after - before, (NQ - cached) * (long long)SVMGPU_SAVE_AREA_SIZE / 2);

	__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < NQ; i++) {
		ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i], SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
	}
	for (i = 0; i < NQ; i++)
		EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
	/* Leave the group so that it can go. */
	sg_cg_leave(name);
}

/*
 * In cgroup A, 16 queues (2 x NUM_QUEUES, the cache's size) in WAITs hold
 * 16 areas; released and destroyed, the areas go to the cache, charged to
 * A.  In cgroup B, 16 new queues in WAITs must not take A's cached areas:
 * B's memory.current grows by at least half of 16 areas (charges move in
 * per-CPU batches), A's are still cached.  Before, B took all 16 from the
 * cache and was charged nothing for them: its limit bypassed.
 */
TEST_TIMEOUT(120)
TEST_F(sched, cached_save_areas_stay_in_their_memcg)
{
	uint64_t *word = sg_map_anon(4096);
	unsigned int i, n = 2 * self->nhw;
	char mem[128], a[32], b[32];
	long long used0, before, after;
	struct drm_svmgpu_wait w;
	const char *why = NULL;
	struct svmgpu_cmd c;
	uint64_t seq[32];
	uint32_t q[32], ctx;
	int round;

	NEED_SCHED();
	ASSERT_NOT_NULL(word);
	ASSERT_LE(n, 32);
	if (sg_cg_memory(&why))
		SKIP(return, "cgroup2: %s", why);
	ASSERT_EQ(sg_param_write("hang_timeout_ms", 0), 0);
	ASSERT_EQ(sg_param_write("timeslice_ms", 10), 0);
	snprintf(a, sizeof(a), "cache-a-%d", getpid());
	snprintf(b, sizeof(b), "cache-b-%d", getpid());
	used0 = sched_value("save_areas_used");
	ASSERT_GE(used0, 0);
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(sg_cg_enter(round ? b : a, mem, sizeof(mem)), 0);
		/* Created inside the group: the queues' creator is charged. */
		ASSERT_EQ(sg_ctx_create(self->fd, &ctx), 0);
		for (i = 0; i < n; i++)
			ASSERT_EQ(sg_queue_create(self->fd, ctx, 0, &q[i]), 0);
		word[0] = 0;
		ASSERT_EQ(sg_run_ok(self->fd, q[0], sg_signal(word, 0)), 0);
		before = sg_file_ll(mem);
		ASSERT_GE(before, 0);
		for (i = 0; i < n; i++) {
			c = sg_wait_eq(word, 1, 0);
			ASSERT_EQ(sg_submit(self->fd, q[i], &c, 1, &seq[i]), 0);
		}
		ASSERT_EQ(wait_areas_used(used0 + n), used0 + n);
		after = sg_file_ll(mem);
		TH_LOG("cgroup %s: %u areas held, %lld were cached, charged %lld KiB",
		       round ? "B" : "A", n, sched_value("save_areas_cached"),
		       (after - before) / 1024);
		if (round)
			EXPECT_GE(after - before, n * (long long)SVMGPU_SAVE_AREA_SIZE / 2);
		__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
		for (i = 0; i < n; i++) {
			ASSERT_EQ(sg_wait(self->fd, q[i], seq[i], seq[i], SG_TIMEOUT_NS, &w), 0);
			EXPECT_EQ(w.err_code, 0);
		}
		for (i = 0; i < n; i++)
			EXPECT_EQ(sg_queue_destroy(self->fd, q[i]), 0);
		EXPECT_EQ(sg_ctx_destroy(self->fd, ctx), 0);
		/* Round A: its areas are cached now, charged to A. */
		if (!round)
			EXPECT_EQ(sched_value("save_areas_cached"), n);
	}
	sg_cg_leave(a);
	sg_cg_leave(b);
}

TEST_HARNESS_MAIN
