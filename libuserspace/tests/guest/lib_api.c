// SPDX-License-Identifier: MIT
/*
 * lib_api: every libsvmgpu call on the device, and each error path with
 * its exact errno: bad arguments, busy objects, bad handles, timeouts, and
 * failed commands with the fault address, access kind and queue.
 */
#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>
#include <svmgpu_drm.h>

#include "lib_guest.h"
#include "svmgpu.h"
#include "svmgpu_proc.h"
#include "svmgpu_test.h"

#define SEC	1000000000ull

FIXTURE(lib) {
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
};

FIXTURE_SETUP(lib)
{
	int ret = svmgpu_device_open(0, &self->dev);

	if (ret)
		SKIP(return, "no svmgpu device: %s", strerror(-ret));
	ASSERT_EQ(svmgpu_context_create(self->dev, &self->ctx), 0);
	ASSERT_EQ(svmgpu_queue_create(self->ctx, 0, &self->q), 0);
}

FIXTURE_TEARDOWN(lib)
{
	if (self->q)
		svmgpu_queue_destroy(self->q);
	if (self->ctx)
		svmgpu_context_destroy(self->ctx);
	if (self->dev)
		svmgpu_device_close(self->dev);
}

static int run1(struct svmgpu_queue *q, const struct svmgpu_cmd *cmd, struct svmgpu_cmd_error *err)
{
	return svmgpu_queue_run(q, cmd, 1, 30 * SEC, err);
}

TEST(device_list_and_open)
{
	struct svmgpu_device_desc d[4];
	struct svmgpu_device *dev;
	int n = svmgpu_device_list(d, 4);

	if (n == 0)
		SKIP(return, "no svmgpu device");
	ASSERT_GT(n, 0);
	EXPECT_EQ(d[0].vendor_id, SVMGPU_PCI_VENDOR_ID);
	EXPECT_EQ(d[0].device_id, SVMGPU_PCI_DEVICE_ID);
	EXPECT_EQ(d[0].revision, SVMGPU_PCI_REVISION);
	EXPECT_EQ(strncmp(d[0].render_node, "/dev/dri/renderD", 16), 0);
	EXPECT_EQ(svmgpu_device_list(NULL, 0), n);
	ASSERT_EQ(svmgpu_device_open_path(d[0].render_node, &dev), 0);
	EXPECT_GE(svmgpu_device_fd(dev), 0);
	EXPECT_EQ(svmgpu_device_close(dev), 0);
	EXPECT_EQ(svmgpu_device_open((unsigned int)n, &dev), -ENODEV);
	EXPECT_EQ(svmgpu_device_open_path("/dev/null", &dev), -ENODEV);
	EXPECT_EQ(svmgpu_device_open_path("/dev/dri/nonexistent", &dev), -ENOENT);
	/* only DRM nodes are opened: not a file or a directory */
	EXPECT_EQ(svmgpu_device_open_path("/proc/self/status", &dev), -ENODEV);
	EXPECT_EQ(svmgpu_device_open_path("/dev/dri", &dev), -ENODEV);
}

/*
 * svmgpu_device_debugfs_dir() names the directory of the function's
 * primary minor (sysfs drm/cardN): the render minor - 128 only while no
 * other DRM device or rebind took a minor in between.  Every node that is
 * not an svmgpu one, and every bad argument, gets its errno and "".
 */
TEST(device_debugfs_dir)
{
	char dir[64], want[64], pat[128], card[32];
	struct svmgpu_device_desc d;
	int n = svmgpu_device_list(&d, 1), ret, status;
	glob_t g;
	pid_t pid;

	if (n == 0)
		SKIP(return, "no svmgpu device");
	ASSERT_GT(n, 0);
	EXPECT_EQ(svmgpu_device_debugfs_dir(NULL, dir, sizeof(dir)), -EINVAL);
	EXPECT_STREQ(dir, "");
	EXPECT_EQ(svmgpu_device_debugfs_dir(d.render_node, NULL, sizeof(dir)), -EINVAL);
	EXPECT_EQ(svmgpu_device_debugfs_dir(d.render_node, dir, 0), -EINVAL);
	EXPECT_EQ(svmgpu_device_debugfs_dir("/dev/dri/nonexistent", dir, sizeof(dir)), -ENOENT);
	EXPECT_EQ(svmgpu_device_debugfs_dir("/dev/null", dir, sizeof(dir)), -ENODEV);
	EXPECT_EQ(svmgpu_device_debugfs_dir("/proc/self/status", dir, sizeof(dir)), -ENODEV);
	EXPECT_EQ(svmgpu_device_debugfs_dir(d.render_node, dir, 8), -ENAMETOOLONG);
	EXPECT_STREQ(dir, "");

	snprintf(pat, sizeof(pat), "/sys/class/drm/%s/device/drm/card*",
		 strrchr(d.render_node, '/') + 1);
	ASSERT_EQ(glob(pat, 0, NULL, &g), 0);
	ASSERT_EQ(g.gl_pathc, 1);
	snprintf(want, sizeof(want), "/sys/kernel/debug/dri/%d",
		 atoi(strrchr(g.gl_pathv[0], '/') + 5));
	snprintf(card, sizeof(card), "/dev/dri/%s", strrchr(g.gl_pathv[0], '/') + 1);
	globfree(&g);
	/* not an -ENOENT of the library's own making: only without debugfs */
	if (geteuid() || access("/sys/kernel/debug/dri", F_OK))
		SKIP(return, "not root, or no debugfs dri directory");
	ret = svmgpu_device_debugfs_dir(d.render_node, dir, sizeof(dir));
	ASSERT_EQ(ret, 0);
	EXPECT_STREQ(dir, want);
	snprintf(pat, sizeof(pat), "%s/svmgpu_device", dir);
	EXPECT_EQ(access(pat, R_OK), 0);
	/* the primary node names the same directory */
	EXPECT_EQ(svmgpu_device_debugfs_dir(card, dir, sizeof(dir)), 0);
	EXPECT_STREQ(dir, want);

	/* debugfs is root's: anyone else gets -EACCES, not a wrong path */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		ret = svmgpu_device_debugfs_dir(d.render_node, dir, sizeof(dir));
		_exit(ret == -EACCES && !dir[0] ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

/*
 * A user who may not open the render node (not root, not in its group)
 * still sees the device listed, and opening it is open(2)'s -EACCES, not
 * "no such device".
 */
TEST_F(lib, device_the_caller_may_not_open_is_listed_and_eacces)
{
	struct svmgpu_device_desc d[4];
	struct svmgpu_device *dev;
	struct stat st;
	int n, status;
	pid_t pid;

	n = svmgpu_device_list(d, 4);
	ASSERT_GE(n, 1);
	ASSERT_EQ(stat(d[0].render_node, &st), 0);
	if (st.st_mode & S_IROTH)
		SKIP(return, "%s is open to everyone", d[0].render_node);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		if (svmgpu_device_list(d, 4) != n)
			_exit(3);
		_exit(svmgpu_device_open(0, &dev) == -EACCES ? 0 : 4);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(lib, get_info)
{
	struct svmgpu_device_info info;

	ASSERT_EQ(svmgpu_device_get_info(self->dev, &info), 0);
	EXPECT_EQ(info.hw_id, SVMGPU_ID_MAGIC);
	EXPECT_EQ(info.hw_version >> 16, SVMGPU_VERSION_MAJOR);
	/* the device this tree builds: its version, and FFMA for saxpy/sgemm */
	EXPECT_EQ(info.hw_version, SVMGPU_VERSION);
	EXPECT_TRUE(info.caps & SVMGPU_CAPS_FMA);
	EXPECT_EQ(info.pci_vendor, SVMGPU_PCI_VENDOR_ID);
	EXPECT_EQ(info.pci_device, SVMGPU_PCI_DEVICE_ID);
	EXPECT_GE(info.num_queues, SVMGPU_MIN_QUEUES);
	EXPECT_LE(info.num_queues, SVMGPU_MAX_QUEUES);
	EXPECT_GE(info.num_engines, 1);
	EXPECT_GE(info.max_ring_entries, 2);
	EXPECT_STREQ(info.driver_name, "svmgpu");
	EXPECT_EQ(svmgpu_device_get_info(self->dev, NULL), -EINVAL);
}

TEST_F(lib, fill_copy_on_malloc_memory)
{
	size_t n = 3 * 4096 + 100;
	uint8_t *a = malloc(n), *b = malloc(n);
	struct svmgpu_cmd cmds[2];
	size_t i;

	ASSERT_NOT_NULL(a);
	ASSERT_NOT_NULL(b);
	memset(b, 0, n);
	ASSERT_EQ(svmgpu_cmd_fill(&cmds[0], a, n, 0x5a, 1, 0), 0);
	ASSERT_EQ(svmgpu_cmd_copy(&cmds[1], b + 1, a, n - 1, 0), 0);
	ASSERT_EQ(svmgpu_queue_run(self->q, cmds, 2, 30 * SEC, NULL), 0);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(a[i], 0x5a);
		ASSERT_EQ(b[i], i ? 0x5a : 0);
	}
	free(a);
	free(b);
}

TEST_F(lib, atomic_signal_timestamp)
{
	uint64_t *v = aligned_alloc(64, 64);
	struct svmgpu_cmd cmds[6];
	unsigned int op;

	ASSERT_NOT_NULL(v);
	memset(v, 0, 64);
	v[0] = 10;
	ASSERT_EQ(svmgpu_cmd_atomic(&cmds[0], &v[0], SVMGPU_ATOMIC_ADD, 8, 5, 0, &v[1], 0), 0);
	ASSERT_EQ(svmgpu_cmd_atomic(&cmds[1], &v[0], SVMGPU_ATOMIC_CMPXCHG, 8, 99, 15, &v[2], 0), 0);
	ASSERT_EQ(svmgpu_cmd_atomic(&cmds[2], &v[0], SVMGPU_ATOMIC_UMAX, 4, 7, 0, NULL, 0), 0);
	ASSERT_EQ(svmgpu_cmd_signal(&cmds[3], &v[3], 0x1234, SVMGPU_CMD_FLAG_IRQ), 0);
	ASSERT_EQ(svmgpu_cmd_timestamp(&cmds[4], &v[4], 0), 0);
	ASSERT_EQ(svmgpu_cmd_timestamp(&cmds[5], &v[5], 0), 0);
	ASSERT_EQ(svmgpu_queue_run(self->q, cmds, 6, 30 * SEC, NULL), 0);
	EXPECT_EQ(v[1], 10);	/* old value of ADD */
	EXPECT_EQ(v[2], 15);	/* old value of CMPXCHG, which matched */
	EXPECT_EQ(v[0], 99);	/* UMAX(99, 7) on the low 32 bits */
	EXPECT_EQ(v[3], 0x1234);
	EXPECT_NE(v[4], 0);
	EXPECT_GE(v[5], v[4]);
	/* every atomic op once, 32-bit, against a CPU model */
	for (op = 0; op < SVMGPU_ATOMIC_NUM_OPS; op++) {
		uint32_t *w = (uint32_t *)&v[6], old = 0xfffffff0u, arg = 5, want;

		*w = old;
		ASSERT_EQ(svmgpu_cmd_atomic(&cmds[0], w, op, 4, arg, old, &v[7], 0), 0);
		ASSERT_EQ(run1(self->q, &cmds[0], NULL), 0);
		switch (op) {
		case SVMGPU_ATOMIC_ADD: want = old + arg; break;
		case SVMGPU_ATOMIC_XCHG: want = arg; break;
		case SVMGPU_ATOMIC_CMPXCHG: want = arg; break;
		case SVMGPU_ATOMIC_UMIN: want = arg; break;
		case SVMGPU_ATOMIC_UMAX: want = old; break;
		case SVMGPU_ATOMIC_SMIN: want = old; break;	/* -16 < 5 */
		default: want = arg; break;			/* SMAX */
		}
		EXPECT_EQ(*w, want);
		EXPECT_EQ((uint32_t)v[7], old);
	}
	free(v);
}

TEST_F(lib, device_wait_command_released_by_cpu)
{
	uint64_t *flag = aligned_alloc(64, 64), *out = aligned_alloc(64, 64), seq;
	struct svmgpu_cmd cmds[2];
	struct svmgpu_cmd_error err;

	ASSERT_NOT_NULL(flag);
	ASSERT_NOT_NULL(out);
	*flag = 0;
	*out = 0;
	ASSERT_EQ(svmgpu_cmd_wait(&cmds[0], flag, SVMGPU_WAIT_GEU, 3, ~0ull, 0, 0), 0);
	ASSERT_EQ(svmgpu_cmd_signal(&cmds[1], out, 77, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, cmds, 2, &seq), 0);
	EXPECT_EQ(svmgpu_queue_poll(self->q, seq, &err), -EBUSY);
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 10000000, &err), -ETIMEDOUT);
	EXPECT_EQ(*out, 0);
	__atomic_store_n(flag, 3, __ATOMIC_SEQ_CST);
	ASSERT_EQ(svmgpu_queue_wait(self->q, seq, 30 * SEC, &err), 0);
	EXPECT_EQ(*out, 77);
	EXPECT_EQ(svmgpu_queue_poll(self->q, seq, &err), 0);
	free(flag);
	free(out);
}

TEST_F(lib, device_wait_timeout_fails_command)
{
	uint64_t *flag = aligned_alloc(64, 64), *out = aligned_alloc(64, 64), seq;
	struct svmgpu_cmd cmds[2];
	struct svmgpu_cmd_error err;

	*flag = 0;
	*out = 0;
	ASSERT_EQ(svmgpu_cmd_wait(&cmds[0], flag, SVMGPU_WAIT_EQ, 1, ~0ull, 1000000, 0), 0);
	ASSERT_EQ(svmgpu_cmd_signal(&cmds[1], out, 5, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, cmds, 2, &seq), 0);
	ASSERT_EQ(svmgpu_queue_wait(self->q, seq, 30 * SEC, &err), -EIO);
	EXPECT_EQ(err.code, SVMGPU_ERR_WAIT_TIMEOUT);
	EXPECT_EQ(err.seq, seq - 1);
	if (err.count != 1)
		TH_LOG("failures: %u, first seq %llu of %llu..%llu, va 0x%llx", err.count,
		       (unsigned long long)err.seq, (unsigned long long)seq - 1,
		       (unsigned long long)seq, (unsigned long long)err.va);
	EXPECT_EQ(err.count, 1);
	EXPECT_EQ(err.queue, (uint32_t)svmgpu_queue_id(self->q));
	/* the queue resumes at the next command */
	EXPECT_EQ(*out, 5);
	free(flag);
	free(out);
}

TEST_F(lib, cancelled_fault_reports_address_and_access)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *buf = malloc(64), *hole;
	struct svmgpu_cmd cmd;
	struct svmgpu_cmd_error err;
	struct svmgpu_stats st;

	hole = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(hole, MAP_FAILED);
	ASSERT_EQ(munmap(hole + pg, pg), 0);
	ASSERT_EQ(svmgpu_context_get_stats(self->ctx, &st, SVMGPU_STATS_CLEAR), 0);

	/* read past the end of the mapping */
	ASSERT_EQ(svmgpu_cmd_copy(&cmd, buf, hole + pg - 8, 16, 0), 0);
	ASSERT_EQ(run1(self->q, &cmd, &err), -EFAULT);
	EXPECT_EQ(err.code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(err.va, (uint64_t)(uintptr_t)(hole + pg));
	EXPECT_EQ(err.access, SVMGPU_ACCESS_READ);
	EXPECT_EQ(err.reason, SVMGPU_FAULT_NOT_PRESENT);
	EXPECT_EQ(err.queue, (uint32_t)svmgpu_queue_id(self->q));
	EXPECT_NE(err.seq, 0);

	/* write to a read-only page */
	ASSERT_EQ(mprotect(hole, pg, PROT_READ), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&cmd, hole + 64, 8, 1, 8, 0), 0);
	ASSERT_EQ(run1(self->q, &cmd, &err), -EFAULT);
	EXPECT_EQ(err.code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(err.va, (uint64_t)(uintptr_t)(hole + 64));
	EXPECT_EQ(err.access, SVMGPU_ACCESS_WRITE);

	/* atomic on a read-only page */
	ASSERT_EQ(svmgpu_cmd_atomic(&cmd, hole + 128, SVMGPU_ATOMIC_ADD, 8, 1, 0, NULL, 0), 0);
	ASSERT_EQ(run1(self->q, &cmd, &err), -EFAULT);
	EXPECT_EQ(err.access, SVMGPU_ACCESS_ATOMIC);
	EXPECT_EQ(err.va, (uint64_t)(uintptr_t)(hole + 128));

	ASSERT_EQ(svmgpu_context_get_stats(self->ctx, &st, 0), 0);
	EXPECT_GE(st.cancels, 3);
	EXPECT_GE(st.faults, 3);
	EXPECT_GE(st.failed, 3);

	/* the queue still works */
	ASSERT_EQ(svmgpu_cmd_fill(&cmd, buf, 64, 7, 1, 0), 0);
	EXPECT_EQ(run1(self->q, &cmd, &err), 0);
	EXPECT_EQ(buf[63], 7);
	munmap(hole, pg);
	free(buf);
}

TEST_F(lib, kernel_errors)
{
	struct svmgpu_launch l = { { 1, 1, 1 }, 1, 0, { 0, 0 } };
	struct svmgpu_program *p;
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	uint64_t *args = aligned_alloc(64, 64);

	/* illegal instruction: err.va is the pc */
	ASSERT_EQ(svmgpu_program_assemble("NOP\nS2R r1, ARGS\nEXIT\n", &p, NULL), 0);
	((uint64_t *)svmgpu_program_code(p))[1] = SVMGPU_ISA_ENCODE(0xee, 0, 0, 0, 0);
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), args, &l, 0), 0);
	ASSERT_EQ(run1(self->q, &cmd, &err), -EIO);
	EXPECT_EQ(err.code, SVMGPU_ERR_ILLEGAL_INSTRUCTION);
	EXPECT_EQ(err.va, (uint64_t)(uintptr_t)&svmgpu_program_code(p)[1]);
	svmgpu_program_destroy(p);

	/* watchdog */
	ASSERT_EQ(svmgpu_program_assemble("top: JMP top\n", &p, NULL), 0);
	l.budget = 10000;
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), args, &l, 0), 0);
	ASSERT_EQ(run1(self->q, &cmd, &err), -EIO);
	EXPECT_EQ(err.code, SVMGPU_ERR_WATCHDOG);
	svmgpu_program_destroy(p);

	/* misaligned load */
	ASSERT_EQ(svmgpu_program_assemble("S2R r1, ARGS\nLD64 r2, [r1+4]\nEXIT\n", &p, NULL), 0);
	l.budget = 0;
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), args, &l, 0), 0);
	ASSERT_EQ(run1(self->q, &cmd, &err), -EFAULT);
	EXPECT_EQ(err.code, SVMGPU_ERR_MISALIGNED);
	EXPECT_EQ(err.va, (uint64_t)(uintptr_t)args + 4);
	svmgpu_program_destroy(p);

	/* a kernel store through an unmapped pointer: cancelled fault */
	ASSERT_EQ(svmgpu_program_assemble("S2R r1, ARGS\nLD64 r2, [r1+0]\nST64 [r2+8], r1\nEXIT\n", &p, NULL), 0);
	args[0] = 0x10000;	/* nothing is mapped at 64 KiB */
	ASSERT_EQ(svmgpu_cmd_launch(&cmd, svmgpu_program_code(p), args, &l, 0), 0);
	ASSERT_EQ(run1(self->q, &cmd, &err), -EFAULT);
	EXPECT_EQ(err.code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(err.va, 0x10008);
	EXPECT_EQ(err.access, SVMGPU_ACCESS_WRITE);
	svmgpu_program_destroy(p);
	free(args);
}

TEST_F(lib, failure_reported_once)
{
	struct svmgpu_cmd cmds[3];
	struct svmgpu_cmd_error err;
	uint64_t *v = aligned_alloc(64, 64), seq;

	ASSERT_EQ(svmgpu_cmd_signal(&cmds[0], v, 1, 0), 0);
	ASSERT_EQ(svmgpu_cmd_signal(&cmds[1], (uint64_t *)(uintptr_t)0x10000, 1, 0), 0);
	ASSERT_EQ(svmgpu_cmd_signal(&cmds[2], v + 1, 2, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, cmds, 3, &seq), 0);
	ASSERT_EQ(svmgpu_queue_wait(self->q, seq, 30 * SEC, &err), -EFAULT);
	EXPECT_EQ(err.seq, seq - 1);
	EXPECT_EQ(err.va, 0x10000);
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 30 * SEC, &err), 0);
	EXPECT_EQ(err.count, 0);
	EXPECT_EQ(v[0], 1);
	EXPECT_EQ(v[1], 2);
	free(v);
}

TEST_F(lib, busy_objects)
{
	EXPECT_EQ(svmgpu_context_destroy(self->ctx), -EBUSY);
	EXPECT_EQ(svmgpu_device_close(self->dev), -EBUSY);
	/* still usable */
	EXPECT_EQ(svmgpu_queue_poll(self->q, 1, NULL) <= 0, 1);
}

TEST_F(lib, bad_arguments)
{
	struct svmgpu_queue *q;
	struct svmgpu_cmd cmd;

	EXPECT_EQ(svmgpu_queue_create(self->ctx, 3, &q), -EINVAL);
	EXPECT_EQ(svmgpu_queue_create(self->ctx, 1, &q), -EINVAL);
	EXPECT_EQ(svmgpu_queue_submit(self->q, &cmd, 0, NULL), -EINVAL);
	/* a header the driver rejects: reserved bits */
	ASSERT_EQ(svmgpu_cmd_nop(&cmd, 0), 0);
	cmd.hdr.rsvd0 = 1;
	EXPECT_EQ(svmgpu_queue_submit(self->q, &cmd, 1, NULL), -EINVAL);
	/* a sequence number never submitted */
	EXPECT_EQ(svmgpu_queue_wait(self->q, 1ull << 40, 0, NULL), -EINVAL);
	EXPECT_EQ(svmgpu_context_get_stats(self->ctx, NULL, 0), -EINVAL);
}

TEST_F(lib, bad_handles_at_the_ioctl)
{
	struct drm_svmgpu_queue_create qc = { .ctx_handle = 0xdead };
	struct drm_svmgpu_wait w = { .queue_handle = 0xdead, .seq = 1, .first_seq = 1 };
	int fd = svmgpu_device_fd(self->dev);

	EXPECT_EQ(drmIoctl(fd, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &qc), -1);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(drmIoctl(fd, DRM_IOCTL_SVMGPU_WAIT, &w), -1);
	EXPECT_EQ(errno, ENOENT);
}

/* More queues than hardware queues all run; the per-handle limit is -EBUSY. */
#define MAX_QUEUES_PER_FILE	256

TEST_TIMEOUT(120)
TEST_F(lib, more_queues_than_hardware)
{
	struct svmgpu_queue *qs[MAX_QUEUES_PER_FILE + 1];
	struct svmgpu_device_info info;
	uint64_t seqs[MAX_QUEUES_PER_FILE + 1];
	uint32_t *buf;
	struct svmgpu_cmd cmd;
	int i, n = 0, ret = 0, busy;

	ASSERT_EQ(svmgpu_device_get_info(self->dev, &info), 0);
	busy = (int)info.num_queues + 3;
	buf = aligned_alloc(64, (size_t)busy * 64);
	ASSERT_NOT_NULL(buf);
	memset(buf, 0, (size_t)busy * 64);
	for (i = 0; i < MAX_QUEUES_PER_FILE + 1; i++) {
		ret = svmgpu_queue_create(self->ctx, 2, &qs[n]);
		if (ret)
			break;
		n++;
	}
	EXPECT_EQ(ret, -EBUSY);
	EXPECT_EQ(n, MAX_QUEUES_PER_FILE - 1);	/* the fixture holds one */
	EXPECT_NE(svmgpu_queue_id(qs[0]), svmgpu_queue_id(qs[1]));
	/* num_queues + 3 queues with work at once */
	for (i = 0; i < busy && i < n; i++) {
		ASSERT_EQ(svmgpu_cmd_fill(&cmd, buf + 16 * i, 64, (uint32_t)i + 1, 4, 0), 0);
		ASSERT_EQ(svmgpu_queue_submit(qs[i], &cmd, 1, &seqs[i]), 0);
	}
	for (i = 0; i < busy && i < n; i++) {
		EXPECT_EQ(svmgpu_queue_wait(qs[i], seqs[i], 30 * SEC, NULL), 0);
		EXPECT_EQ(buf[16 * i + 15], (uint32_t)i + 1);
	}
	for (i = 0; i < n; i++)
		EXPECT_EQ(svmgpu_queue_destroy(qs[i]), 0);
	free(buf);
}

TEST_F(lib, several_devices_and_queues_at_once)
{
	struct svmgpu_device *dev2;
	struct svmgpu_context *ctx2;
	struct svmgpu_queue *q2;
	uint32_t *a = aligned_alloc(64, 4096), *b = aligned_alloc(64, 4096);
	struct svmgpu_cmd cmd;
	uint64_t s1, s2;

	ASSERT_EQ(svmgpu_device_open(0, &dev2), 0);
	ASSERT_EQ(svmgpu_context_create(dev2, &ctx2), 0);
	ASSERT_EQ(svmgpu_queue_create(ctx2, 4, &q2), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&cmd, a, 4096, 0x11111111, 4, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, &cmd, 1, &s1), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&cmd, b, 4096, 0x22222222, 4, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(q2, &cmd, 1, &s2), 0);
	EXPECT_EQ(svmgpu_queue_wait(q2, s2, 30 * SEC, NULL), 0);
	EXPECT_EQ(svmgpu_queue_wait(self->q, s1, 30 * SEC, NULL), 0);
	EXPECT_EQ(a[1023], 0x11111111);
	EXPECT_EQ(b[1023], 0x22222222);
	EXPECT_EQ(svmgpu_queue_destroy(q2), 0);
	EXPECT_EQ(svmgpu_context_destroy(ctx2), 0);
	EXPECT_EQ(svmgpu_device_close(dev2), 0);
	free(a);
	free(b);
}

TEST_F(lib, forked_child_cannot_use_parent_queue)
{
	pid_t pid = fork();
	int status;

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct svmgpu_cmd cmd;
		uint64_t v;

		svmgpu_cmd_signal(&cmd, &v, 1, 0);
		_exit(svmgpu_queue_submit(self->q, &cmd, 1, NULL) == -EACCES ? 0 : 1);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(lib, coherence_check_agrees)
{
	size_t n = 5 * 4096 + 8;
	uint64_t *buf = malloc(n), i;
	struct svmgpu_coherence_result r;
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	int ret;

	ASSERT_NOT_NULL(buf);
	for (i = 0; i < n / 8; i++)
		buf[i] = i * 0x0101010101010101ull;
	ASSERT_EQ(svmgpu_coherence_check(self->q, buf, n, &r), 0);
	EXPECT_EQ(r.device_hash, r.cpu_hash);
	EXPECT_EQ(r.mismatches, 0);
	/* after the device changes the range, both views still agree */
	ASSERT_EQ(svmgpu_cmd_fill(&cmd, buf + 100, 4096, 0xabcdef, 8, 0), 0);
	ret = run1(self->q, &cmd, &err);
	if (ret)
		TH_LOG("fill of %p: %s at 0x%llx, %s access, reason %u", (void *)(buf + 100),
		       svmgpu_error_name(err.code), (unsigned long long)err.va,
		       svmgpu_access_name(err.access), err.reason);
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(buf[100], 0xabcdef);
	ASSERT_EQ(svmgpu_coherence_check(self->q, buf, n, &r), 0);
	EXPECT_EQ(svmgpu_coherence_check(self->q, (char *)buf + 4, 8, &r), -EINVAL);
	EXPECT_EQ(svmgpu_coherence_check(self->q, buf, 0, &r), -EINVAL);
	EXPECT_EQ(svmgpu_coherence_check(self->q, buf, 12, &r), -EINVAL);
	EXPECT_EQ(svmgpu_coherence_check(NULL, buf, 8, &r), -EINVAL);
	free(buf);
}

/*
 * A FILL of a PROT_NONE page submitted and not waited for fails; a
 * coherence check on the same queue meanwhile reports its own result (0),
 * and the caller's wait still gets the FILL's failure, with its seq and va.
 */
TEST_F(lib, coherence_check_leaves_the_callers_failure_to_its_wait)
{
	char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct svmgpu_coherence_result r;
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	uint64_t seq;

	ASSERT_NE(p, MAP_FAILED);
	memset(p, 0x3c, 2 * 4096);
	ASSERT_EQ(mprotect(p + 4096, 4096, PROT_NONE), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&cmd, p + 4096, 4096, 0x11, 1, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, &cmd, 1, &seq), 0);
	EXPECT_EQ(svmgpu_coherence_check(self->q, p, 4096, &r), 0);
	EXPECT_EQ(r.mismatches, 0);
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 10ull * SEC, &err), -EFAULT);
	EXPECT_EQ(err.seq, seq);
	EXPECT_EQ(err.code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(err.va, (uint64_t)(uintptr_t)(p + 4096));
	EXPECT_EQ(err.count, 1);
	/* reported once: the queue goes on clean */
	EXPECT_EQ(svmgpu_coherence_check(self->q, p, 4096, &r), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&cmd, p, 4096, 0x22, 1, 0), 0);
	EXPECT_EQ(run1(self->q, &cmd, &err), 0);
	EXPECT_EQ(p[4095], 0x22);
	munmap(p, 2 * 4096);
}

/*
 * A coherence check whose own command fails: every hardware queue hangs
 * (debugfs svmgpu_inject @inject "hang_queues"), so the driver's hang
 * detection fails the check's command with SVMGPU_ERROR_HANG after
 * hang_timeout_ms; the queue works again after it.  0 when the check said
 * -EIO.
 */
static int failing_check(struct svmgpu_queue *q, const char *inject)
{
	uint64_t *buf = aligned_alloc(64, 4096);
	struct svmgpu_coherence_result res;
	int ret;

	if (!buf)
		return -1;
	memset(buf, 0x6b, 4096);
	if (sysfs_write(inject, "hang_queues 65535")) {
		free(buf);
		return -2;
	}
	ret = svmgpu_coherence_check(q, buf, 4096, &res);
	sysfs_write(inject, "hang_queues 0");
	free(buf);
	return ret == -EIO ? 0 : ret;
}

/* Until *@p holds @v (a command's write seen without a wait): 0, or -1. */
static int seen(volatile uint64_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 5000 && *p != v; i++)
		usleep(1000);
	/* its completion record comes right after its data */
	usleep(50 * 1000);
	return *p == v ? 0 : -1;
}

/*
 * The check's own failure is the check's: a caller's command submitted
 * before it and not waited for, then one after it, are waited for clean;
 * with the earlier one failing, the caller's wait reports that one with a
 * count of 1 (not the check's), and the next wait is clean.
 */
TEST_TIMEOUT(60)
TEST_F(lib, coherence_check_failure_is_not_the_callers)
{
	static const char *hang_ms = "/sys/module/svmgpu/parameters/hang_timeout_ms";
	char *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t *ok = aligned_alloc(64, 4096), *flag = aligned_alloc(64, 64), first, seq;
	struct svmgpu_stats st0, st;
	struct svmgpu_device_desc d;
	struct svmgpu_cmd_error err;
	char dir[64], inject[96] = "";
	struct svmgpu_cmd cmd[2];

	if (svmgpu_device_list(&d, 1) >= 1 &&
	    !svmgpu_device_debugfs_dir(d.render_node, dir, sizeof(dir)))
		snprintf(inject, sizeof(inject), "%s/svmgpu_inject", dir);
	if (!inject[0] || access(inject, W_OK) || access(hang_ms, W_OK))
		SKIP(return, "no svmgpu_inject in debugfs or hang_timeout_ms");
	ASSERT_NE(bad, MAP_FAILED);
	ASSERT_NOT_NULL(ok);
	ASSERT_NOT_NULL(flag);
	ASSERT_EQ(svmgpu_test_restore_file(hang_ms), 0);
	ASSERT_EQ(sysfs_write(hang_ms, "300"), 0);
	/* mapped for the device: the commands below fault no more on them */
	ASSERT_EQ(svmgpu_cmd_fill(&cmd[0], ok, 4096, 0, 1, 0), 0);
	ASSERT_EQ(run1(self->q, &cmd[0], &err), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&cmd[0], flag, 64, 0, 1, 0), 0);
	ASSERT_EQ(run1(self->q, &cmd[0], &err), 0);

	/* before it: a FILL that works, done and not waited for */
	ASSERT_EQ(svmgpu_cmd_fill(&cmd[0], ok, 4096, 0x11, 1, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, cmd, 1, &first), 0);
	ASSERT_EQ(seen(ok, 0x1111111111111111ull), 0);
	ASSERT_EQ(failing_check(self->q, inject), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&cmd[0], ok, 4096, 0x22, 1, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, cmd, 1, &seq), 0);
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 10ull * SEC, &err), 0);
	EXPECT_EQ(err.count, 0);
	EXPECT_EQ(*ok, 0x2222222222222222ull);

	/* before it: a FILL that fails (a cancelled fault), not waited for */
	ASSERT_EQ(svmgpu_context_get_stats(self->ctx, &st0, 0), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&cmd[0], bad, 4096, 0x33, 1, 0), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&cmd[1], flag, 64, 0x55, 1, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, cmd, 2, &first), 0);
	ASSERT_EQ(seen(flag, 0x5555555555555555ull), 0);
	ASSERT_EQ(svmgpu_context_get_stats(self->ctx, &st, 0), 0);
	ASSERT_GT(st.cancels, st0.cancels);
	ASSERT_EQ(failing_check(self->q, inject), 0);
	ASSERT_EQ(svmgpu_cmd_fill(&cmd[0], ok, 4096, 0x44, 1, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, cmd, 1, &seq), 0);
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 10ull * SEC, &err), -EFAULT);
	EXPECT_EQ(err.seq, first - 1);
	EXPECT_EQ(err.va, (uint64_t)(uintptr_t)bad);
	EXPECT_EQ(err.count, 1);
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 10ull * SEC, &err), 0);
	EXPECT_EQ(*ok, 0x4444444444444444ull);
	munmap(bad, 4096);
	free(ok);
	free(flag);
}

/* A range the CPU cannot read is -EFAULT, not a SIGSEGV in the library. */
TEST_F(lib, coherence_check_of_unreadable_memory)
{
	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct svmgpu_coherence_result r;

	ASSERT_NE(p, MAP_FAILED);
	memset(p, 0x5a, 3 * 4096);
	ASSERT_EQ(svmgpu_coherence_check(self->q, p, 3 * 4096, &r), 0);
	/* the last page PROT_NONE, then gone */
	ASSERT_EQ(mprotect(p + 2 * 4096, 4096, PROT_NONE), 0);
	EXPECT_EQ(svmgpu_coherence_check(self->q, p, 3 * 4096, &r), -EFAULT);
	EXPECT_EQ(svmgpu_coherence_check(self->q, p + 2 * 4096, 8, &r), -EFAULT);
	ASSERT_EQ(munmap(p + 2 * 4096, 4096), 0);
	EXPECT_EQ(svmgpu_coherence_check(self->q, p, 3 * 4096, &r), -EFAULT);
	/* the readable part still agrees */
	EXPECT_EQ(svmgpu_coherence_check(self->q, p, 2 * 4096, &r), 0);
	munmap(p, 2 * 4096);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * A signal during a WAIT: a handler without SA_RESTART ends it with
 * -EINTR; with SA_RESTART it goes on to its deadline (-ETIMEDOUT).
 */
TEST_F(lib, wait_interrupted_by_a_signal)
{
	uint64_t *flag = aligned_alloc(64, 64), seq;
	struct itimerval it = { .it_value = { .tv_usec = 100000 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	struct timespec t0, t1;
	double took;

	ASSERT_NOT_NULL(flag);
	*flag = 0;
	ASSERT_EQ(svmgpu_cmd_wait(&cmd, flag, SVMGPU_WAIT_EQ, 1, ~0ull, 0, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, &cmd, 1, &seq), 0);

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(sigaction(SIGALRM, &sa, NULL), 0);
	ASSERT_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 10 * SEC, &err), -EINTR);

	sa.sa_flags = SA_RESTART;
	ASSERT_EQ(sigaction(SIGALRM, &sa, NULL), 0);
	it.it_value.tv_sec = 1;
	it.it_value.tv_usec = 0;
	ASSERT_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 2 * SEC, &err), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* restarted at 1 s, to the same deadline: not 1 + 2 s */
	EXPECT_GE(took, 1.95);
	EXPECT_LT(took, 2.7);
	TH_LOG("a 2 s WAIT restarted after 1 s took %.3f s", took);

	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 30 * SEC, &err), 0);
	signal(SIGALRM, SIG_DFL);
	free(flag);
}

struct waiter {
	struct svmgpu_queue *q;
	uint64_t seq;
	struct svmgpu_cmd_error err;
	int ret;
	pid_t tid;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	w->ret = svmgpu_queue_wait(w->q, w->seq, 30 * SEC, &w->err);
	return NULL;
}

/* Is thread @tid of this process asleep in the WAIT ioctl? */
static int asleep_in_wait(pid_t tid)
{
	char task[48];

	snprintf(task, sizeof(task), "/proc/self/task/%d", (int)tid);
	return sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_WAIT, "SD");
}

/*
 * Two threads wait on one queue with two failures in flight.  A thread's
 * wait up to the last command began first (its range starts at the first
 * failure) and blocks; meanwhile the main thread's wait reports the first
 * failure.  The blocked wait then reports the second failure, the one no
 * wait reported: before, it saw the first failure already reported and
 * returned 0, and the second was never reported.
 */
TEST_F(lib, concurrent_waits_report_every_failure)
{
	uint64_t *flag = aligned_alloc(64, 64), *v = aligned_alloc(64, 64), seq;
	struct svmgpu_cmd cmds[5];
	struct svmgpu_cmd_error err;
	struct waiter w = { 0 };
	pthread_t t;
	int i;

	ASSERT_NOT_NULL(flag);
	ASSERT_NOT_NULL(v);
	*flag = 0;
	v[0] = v[1] = 0;
	ASSERT_EQ(svmgpu_cmd_signal(&cmds[0], (uint64_t *)(uintptr_t)0x10000, 1, 0), 0);
	ASSERT_EQ(svmgpu_cmd_signal(&cmds[1], v, 1, 0), 0);
	ASSERT_EQ(svmgpu_cmd_wait(&cmds[2], flag, SVMGPU_WAIT_EQ, 1, ~0ull, 0, 0), 0);
	ASSERT_EQ(svmgpu_cmd_signal(&cmds[3], (uint64_t *)(uintptr_t)0x20000, 1, 0), 0);
	ASSERT_EQ(svmgpu_cmd_signal(&cmds[4], v + 1, 2, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, cmds, 5, &seq), 0);
	w.q = self->q;
	w.seq = seq;
	ASSERT_EQ(pthread_create(&t, NULL, wait_thread, &w), 0);
	for (i = 0; i < 2000 && !(__atomic_load_n(&w.tid, __ATOMIC_SEQ_CST) &&
				   asleep_in_wait(w.tid)); i++)
		usleep(5000);
	EXPECT_TRUE(asleep_in_wait(w.tid));
	/* the first failure, reported here */
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq - 3, 30 * SEC, &err), -EFAULT);
	EXPECT_EQ(err.seq, seq - 4);
	EXPECT_EQ(err.va, 0x10000);
	EXPECT_EQ(err.count, 1);
	__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	/* the second, reported by the thread */
	EXPECT_EQ(w.ret, -EFAULT);
	EXPECT_EQ(w.err.seq, seq - 1);
	EXPECT_EQ(w.err.va, 0x20000);
	EXPECT_EQ(w.err.count, 1);
	/* and nothing twice */
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 30 * SEC, &err), 0);
	EXPECT_EQ(v[0], 1);
	EXPECT_EQ(v[1], 2);
	free(flag);
	free(v);
}

struct checker {
	struct svmgpu_queue *q;
	void *buf;
	int ret;
	int done;
	pid_t tid;
};

static void *check_thread(void *arg)
{
	struct checker *c = arg;
	struct svmgpu_coherence_result r;

	__atomic_store_n(&c->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	c->ret = svmgpu_coherence_check(c->q, c->buf, 4096, &r);
	__atomic_store_n(&c->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int hold[2] = { -1, -1 };

/* Holds the check's thread out of its wait until a byte comes through @hold. */
static void on_usr1(int sig)
{
	int saved = errno;
	char c;

	(void)sig;
	while (read(hold[0], &c, 1) < 0 && errno == EINTR)
		;
	errno = saved;
}

/*
 * A coherence check's own command fails while a wait of the caller's, in
 * another thread, covers it, and returns first.  The queue is held by the
 * caller's WAIT on a flag; a thread's check takes its snapshot, queues its
 * command behind the WAIT and sleeps in its wait; its range is then
 * unmapped, so the device's read of it fails (-EFAULT).  The caller queues
 * a FILL after it; a signal takes the check's thread out of its wait (the
 * WAIT ioctl returns -EINTR and the handler runs before the library waits
 * again) and holds it there on a pipe; the flag is released, and the
 * caller's wait for the FILL ends before the check has looked: it is
 * clean (0, count 0).  Released, the check reports its own failure.
 * Before, the check's command became the library's only once its wait saw
 * it fail, and the caller's wait reported it.
 */
TEST_TIMEOUT(60)
TEST_F(lib, coherence_check_failing_beside_the_callers_wait)
{
	uint64_t *flag = aligned_alloc(64, 64), *ok = aligned_alloc(64, 4096), seq;
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	struct checker c = { .q = self->q };
	pthread_t t;
	int round, i;

	ASSERT_NOT_NULL(flag);
	ASSERT_NOT_NULL(ok);
	ASSERT_EQ(pipe(hold), 0);
	ASSERT_EQ(sigaction(SIGUSR1, &sa, NULL), 0);	/* no SA_RESTART */
	for (round = 1; round <= 4; round++) {
		c.buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
		ASSERT_NE(c.buf, MAP_FAILED);
		memset(c.buf, 0x6b, 4096);
		c.tid = 0;
		c.done = 0;
		__atomic_store_n(flag, 0, __ATOMIC_SEQ_CST);
		/* bounded: a failed assertion below leaves no queue held for good */
		ASSERT_EQ(svmgpu_cmd_wait(&cmd, flag, SVMGPU_WAIT_EQ, 1, ~0ull, 30 * SEC, 0), 0);
		ASSERT_EQ(svmgpu_queue_submit(self->q, &cmd, 1, &seq), 0);
		ASSERT_EQ(pthread_create(&t, NULL, check_thread, &c), 0);
		for (i = 0; i < 2000 && !(__atomic_load_n(&c.tid, __ATOMIC_SEQ_CST) &&
					   asleep_in_wait(c.tid)); i++)
			usleep(5000);
		ASSERT_TRUE(asleep_in_wait(c.tid));
		ASSERT_EQ(munmap(c.buf, 4096), 0);
		ASSERT_EQ(svmgpu_cmd_fill(&cmd, ok, 4096, round, 1, 0), 0);
		ASSERT_EQ(svmgpu_queue_submit(self->q, &cmd, 1, &seq), 0);
		/* taken as its WAIT returns, before the library calls it again */
		ASSERT_EQ(pthread_kill(t, SIGUSR1), 0);
		__atomic_store_n(flag, 1, __ATOMIC_SEQ_CST);
		EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 30 * SEC, &err), 0);
		EXPECT_EQ(err.count, 0);
		EXPECT_EQ(ok[511], 0x0101010101010101ull * round);
		/* the order this test is about: the check had not looked */
		EXPECT_FALSE(__atomic_load_n(&c.done, __ATOMIC_SEQ_CST));
		ASSERT_EQ(write(hold[1], "x", 1), 1);
		ASSERT_EQ(pthread_join(t, NULL), 0);
		EXPECT_EQ(c.ret, -EFAULT);
	}
	/* nothing left over: the next wait is clean */
	ASSERT_EQ(svmgpu_cmd_fill(&cmd, ok, 4096, 0x77, 1, 0), 0);
	EXPECT_EQ(run1(self->q, &cmd, &err), 0);
	EXPECT_EQ(err.count, 0);
	signal(SIGUSR1, SIG_DFL);
	close(hold[0]);
	close(hold[1]);
	free(flag);
	free(ok);
}

/*
 * The driver is unbound while the library holds a device, a context and a
 * queue (in a child, so that the test rebinds the driver whatever the
 * child does): every ioctl then fails with -ENODEV, and the objects still
 * close (the kernel frees the handles with the file).  Before,
 * QUEUE_DESTROY's -ENODEV kept the queue, so the context and the device
 * stayed -EBUSY and the fd leaked.
 */
TEST_TIMEOUT(60)
TEST(objects_close_after_the_driver_is_unbound)
{
	struct svmgpu_device_desc d;
	struct svmgpu_context *ctx;
	struct svmgpu_device *dev;
	struct svmgpu_queue *q;
	uint64_t *v = aligned_alloc(64, 64);
	int go[2], ready[2], status, unbound = -1, rebound = -1;
	struct svmgpu_cmd cmd;
	char slot[32], c = 0;
	pid_t pid;

	if (geteuid() || access("/sys/bus/pci/drivers/svmgpu/unbind", W_OK) ||
	    svmgpu_device_list(&d, 1) < 1)
		SKIP(return, "not root, no device or no driver unbind");
	ASSERT_NOT_NULL(v);
	snprintf(slot, sizeof(slot), "%04x:%02x:%02x.%u", d.pci_domain, d.pci_bus, d.pci_dev,
		 d.pci_func);
	ASSERT_EQ(pipe(go), 0);
	ASSERT_EQ(pipe(ready), 0);
	signal(SIGPIPE, SIG_IGN);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		close(go[1]);
		close(ready[0]);
		if (svmgpu_device_open_path(d.render_node, &dev) ||
		    svmgpu_context_create(dev, &ctx) || svmgpu_queue_create(ctx, 0, &q))
			_exit(10);
		if (svmgpu_cmd_signal(&cmd, v, 3, 0) || run1(q, &cmd, NULL) || *v != 3)
			_exit(11);
		if (write(ready[1], "1", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(12);
		/* unbound */
		if (svmgpu_queue_submit(q, &cmd, 1, NULL) != -ENODEV)
			_exit(13);
		if (svmgpu_queue_destroy(q) != -ENODEV)
			_exit(14);
		if (svmgpu_context_destroy(ctx) != -ENODEV)
			_exit(15);
		_exit(svmgpu_device_close(dev) ? 16 : 0);
	}
	close(go[0]);
	close(ready[1]);
	if (read(ready[0], &c, 1) == 1) {
		unbound = sysfs_write("/sys/bus/pci/drivers/svmgpu/unbind", slot);
		if (write(go[1], "1", 1) != 1)
			c = 0;
		if (!unbound)
			rebound = sysfs_write("/sys/bus/pci/drivers/svmgpu/bind", slot);
	}
	close(go[1]);
	close(ready[0]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_EQ(unbound, 0);
	ASSERT_EQ(rebound, 0);
	ASSERT_TRUE(WIFEXITED(status));
	/* 0, or the step of the child that failed */
	EXPECT_EQ(WEXITSTATUS(status), 0);

	/* the device is back, and works */
	ASSERT_EQ(svmgpu_device_open(0, &dev), 0);
	ASSERT_EQ(svmgpu_context_create(dev, &ctx), 0);
	ASSERT_EQ(svmgpu_queue_create(ctx, 0, &q), 0);
	ASSERT_EQ(svmgpu_cmd_signal(&cmd, v, 4, 0), 0);
	EXPECT_EQ(run1(q, &cmd, NULL), 0);
	EXPECT_EQ(*v, 4);
	EXPECT_EQ(svmgpu_queue_destroy(q), 0);
	EXPECT_EQ(svmgpu_context_destroy(ctx), 0);
	EXPECT_EQ(svmgpu_device_close(dev), 0);
	free(v);
}

/*
 * A device reset (the driver's debugfs svmgpu_reset) stops every queue:
 * a command waiting on memory that never changes is lost, its waiter gets
 * -ECANCELED, the queue refuses new work, and a new queue works.
 */
TEST_F(lib, reset_cancels_pending_commands)
{
	uint64_t *flag = aligned_alloc(64, 64), *out = aligned_alloc(64, 64), seq;
	struct svmgpu_queue *q2;
	struct svmgpu_cmd cmds[2];
	char dir[64], path[96] = "";
	struct svmgpu_device_desc d;
	struct svmgpu_cmd_error err;
	int ret;

	/* device 0's, the fixture's */
	if (svmgpu_device_list(&d, 1) >= 1 &&
	    !svmgpu_device_debugfs_dir(d.render_node, dir, sizeof(dir)))
		snprintf(path, sizeof(path), "%s/svmgpu_reset", dir);
	if (!path[0] || access(path, W_OK))
		SKIP(return, "no svmgpu_reset in debugfs");
	*flag = 0;
	*out = 0;
	ASSERT_EQ(svmgpu_cmd_wait(&cmds[0], flag, SVMGPU_WAIT_EQ, 1, ~0ull, 0, 0), 0);
	ASSERT_EQ(svmgpu_cmd_signal(&cmds[1], out, 9, 0), 0);
	ASSERT_EQ(svmgpu_queue_submit(self->q, cmds, 2, &seq), 0);
	EXPECT_EQ(svmgpu_queue_poll(self->q, seq, &err), -EBUSY);
	ASSERT_EQ(sysfs_write(path, "1"), 0);
	ret = svmgpu_queue_wait(self->q, seq, 10ull * SEC, &err);
	EXPECT_EQ(ret, -ECANCELED);
	/* the reset's casualties, from the first: the WAIT */
	EXPECT_GE(err.count, 1);
	EXPECT_EQ(err.code, SVMGPU_ERROR_RESET);
	EXPECT_EQ(err.seq, seq - 1);
	EXPECT_EQ(*out, 0);
	/*
	 * Reported once: the stop has ended every command (the lost ones as
	 * failed), and the first wait reported them: a later wait reports
	 * nothing again.
	 */
	EXPECT_EQ(svmgpu_queue_wait(self->q, seq, 0, &err), 0);
	EXPECT_EQ(err.count, 0);
	EXPECT_EQ(svmgpu_queue_poll(self->q, seq - 1, &err), 0);
	EXPECT_EQ(err.count, 0);
	EXPECT_EQ(svmgpu_queue_submit(self->q, cmds + 1, 1, &seq), -ECANCELED);
	/* the address space survived: a new queue of the same context works */
	ASSERT_EQ(svmgpu_queue_create(self->ctx, 0, &q2), 0);
	EXPECT_EQ(run1(q2, &cmds[1], &err), 0);
	EXPECT_EQ(*out, 9);
	EXPECT_EQ(svmgpu_queue_destroy(q2), 0);
	free(flag);
	free(out);
}

TEST_HARNESS_MAIN
