// SPDX-License-Identifier: MIT
/*
 * svm_aer: PCIe error recovery (AER) of an svmgpu with work in flight.
 *
 * The device has an AER capability (hw-spec 1); the kernel's aer_inject
 * (/dev/aer_inject: a module the image loads on Debian's kernel, built into
 * the debug kernel) makes the root port above it report an error, and the
 * AER driver runs the recovery the driver's pci_error_handlers take part in.
 * Runs in the boot with devices behind PCIe root ports (scripts/check.sh),
 * on the first of them, before svm_unplug powers the slots off; elsewhere it
 * skips.
 *
 * - fatal_error_resets_the_link: an uncorrectable fatal error (Data Link
 *   Protocol): error_detected (link frozen) holds the device, the AER driver
 *   resets the port's secondary bus, slot_reset restores config space and
 *   reprograms it (svmgpu_hw_resume()).  The WAIT in flight is reported lost
 *   (DRM_SVMGPU_ERR_RESET), the 2 MiB in device memory come back to the CPU
 *   exact (a bus reset keeps the device's memory), the address space works
 *   on: a FILL is exact, the device is usable, not wedged or gone, one reset
 *   counted.
 * - nonfatal_error_without_a_reset: an uncorrectable non-fatal error
 *   (Completer Abort): error_detected with the link up quiesces the device,
 *   slot_reset reprograms it without a bus reset; the same checks.
 * - corrected_error_changes_nothing: a corrected error is only logged: no
 *   reset, work goes on.
 * - cpu_copy_racing_a_fatal_recovery_is_done_again: a PREFETCH out of device
 *   memory copied by the CPU through BAR4 (copy_engine=0), slowed to 10 ms a
 *   page (debugfs svmgpu_inject_copy_delay), with a fatal error injected
 *   300 ms in (later in a next round): the recovery's bus reset turns BAR4's decoding off for a
 *   while, and a recovery that falls between two of the copy's checks is
 *   seen by error_detected's count, so the copy is done again
 *   (cpu_copies_redone): every byte exact.
 * - process_killed_during_a_recovery_of_its_copy: the same slowed copy in
 *   a child, killed 20 ms after a fatal error is injected: its copy stops
 *   at the next page and it exits while the recovery runs or just after;
 *   the recovery completes, its device memory is freed, the device works.
 * - failed_recovery_leaves_it_wedged_until_a_reset: a non-fatal error whose
 *   slot_reset cannot bring the device back (INJ_ENABLE_REFUSE, which the
 *   quiesce's CONTROL.RESET keeps): the recovery fails and the device is
 *   wedged (debugfs wedged 1, the WAIT in flight reported lost, new work
 *   fails at once) until a debugfs reset brings it back, exact FILLs.
 */
#define _GNU_SOURCE
#include <glob.h>
#include <limits.h>
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>

#include "svm_advise.h"

/* The kernel's struct aer_error_inj (drivers/pci/pcie/aer_inject.c). */
struct aer_error_inj {
	uint8_t bus;
	uint8_t dev;
	uint8_t fn;
	uint32_t uncor_status;
	uint32_t cor_status;
	uint32_t header_log0;
	uint32_t header_log1;
	uint32_t header_log2;
	uint32_t header_log3;
	uint32_t domain;
};

#define ERR_UNC_DLP		0x00000010	/* Data Link Protocol: fatal by default */
#define ERR_UNC_COMP_ABORT	0x00008000	/* Completer Abort: non-fatal by default */
#define ERR_COR_RCVR		0x00000001	/* Receiver Error */

#define DEVMEM_SIZE	(2 * MB)
#define COPY_ENGINE	"/sys/module/svmgpu/parameters/copy_engine"
#define SYS_SIZE	(256 * 1024)

FIXTURE(aer) {
	unsigned int domain, bus, dev, fn;
	char dbg[64];
	int fd, card;		/* card: its primary minor (debugfs) */
	uint32_t ctx;
	char copy_engine[8];	/* its value when a test turned it off, or "" */
};

/*
 * The first svmgpu function bound to the driver behind a PCIe port (its
 * sysfs parent is a bridge, not the host bridge): its address, primary
 * minor and render node minor; -1 if none.
 */
static int find_behind_port(struct svmgpu_fixture_aer *self)
{
	char bdf[64], path[PATH_MAX], real[PATH_MAX], *parent;
	int n = sg_pci_scan(0, NULL, 0), i, minor = -1;

	for (i = 0; i < n && minor < 0; i++) {
		sg_pci_scan(i, bdf, sizeof(bdf));
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
		if (!realpath(path, real))
			continue;
		parent = basename(dirname(real));
		if (!strncmp(parent, "pci", 3))
			continue;	/* on the root bus: no port reports for it */
		minor = sg_drm_minors(bdf, NULL, &self->card);
		if (minor < 0)
			continue;
		if (sscanf(bdf, "%x:%x:%x.%x", &self->domain, &self->bus, &self->dev,
			   &self->fn) != 4)
			minor = -1;
	}
	return minor;
}

FIXTURE_SETUP(aer)
{
	int minor;

	self->fd = -1;
	if (access("/dev/aer_inject", W_OK))
		return;		/* each test skips */
	minor = find_behind_port(self);
	if (minor < 0)
		return;
	self->fd = sg_open_render(minor);
	snprintf(self->dbg, sizeof(self->dbg), "/sys/kernel/debug/dri/%d", self->card);
	if (self->fd >= 0)
		ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
}


static long long dev_value(struct svmgpu_fixture_aer *self, const char *name)
{
	return sg_debugfs_value_in(self->dbg, "svmgpu_device", name);
}

/* This device's debugfs file @name: write @val, 0 or -errno. */
static int dbg_write(struct svmgpu_fixture_aer *self, const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", self->dbg, name);
	return sg_write_file(path, val);
}

/*
 * Copies by the CPU through BAR4 from here (copy_engine=0), the parameter's
 * value kept for copy_engine_restore() and the teardown: 0 or -errno.
 */
static int copy_engine_off(struct svmgpu_fixture_aer *self)
{
	int ret = sg_read_str(COPY_ENGINE, self->copy_engine, sizeof(self->copy_engine));

	if (!ret && !self->copy_engine[0])
		ret = -EIO;
	return ret ? ret : sg_write_file(COPY_ENGINE, "0");
}

static void copy_engine_restore(struct svmgpu_fixture_aer *self)
{
	if (self->copy_engine[0])
		sg_write_file(COPY_ENGINE, self->copy_engine);
	self->copy_engine[0] = 0;
}

/*
 * Inject through /dev/aer_inject: 0 or -errno (-ENODEV, -EPROTONOSUPPORT:
 * the root port has no AER service, as with pcie_ports=compat or
 * pci=noaer).
 */
static int aer_inject(struct svmgpu_fixture_aer *self, uint32_t uncor, uint32_t cor)
{
	struct aer_error_inj e = {
		.bus = self->bus, .dev = self->dev, .fn = self->fn,
		.uncor_status = uncor, .cor_status = cor, .domain = self->domain,
	};
	int f = open("/dev/aer_inject", O_WRONLY), ret = 0;

	if (f < 0)
		return -errno;
	if (write(f, &e, sizeof(e)) != sizeof(e))
		ret = -errno;
	close(f);
	return ret;
}

/*
 * An error injected with a WAIT in flight and 2 MiB in device memory; the
 * recovery (@resets: how many device resets it counts) leaves the data
 * exact and the device working.
 */
static void recover_with_work(struct svmgpu_fixture_aer *self,
			      uint32_t uncor, uint32_t cor, int resets)
{
	unsigned char *dm, *buf;
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	long long before;
	uint64_t *word;
	uint64_t seq;
	uint32_t q;
	double t0;
	int i, ret;

	if (self->fd < 0)
		SKIP(return, "no /dev/aer_inject (a kernel without PCIEAER_INJECT) or no svmgpu behind a PCIe port");
	dm = sg_map_anon(DEVMEM_SIZE);
	buf = sg_map_anon(SYS_SIZE);
	word = sg_map_anon(4096);
	before = dev_value(self, "resets");
	ASSERT_NOT_NULL(dm);
	ASSERT_NOT_NULL(buf);
	ASSERT_NOT_NULL(word);
	ASSERT_GE(before, 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	fill_pat(dm, DEVMEM_SIZE, 0x3a);
	if (sg_has_local_mem(self->fd))
		ASSERT_EQ(prefetch_resident(self->fd, dm, DEVMEM_SIZE),
			  (long long)(DEVMEM_SIZE / PAGE));
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SYS_SIZE, 0x21, 1)), 0);
	*word = 0;
	c = sg_wait_eq(word, 1, 0);
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);

	t0 = sg_now_s();
	ret = aer_inject(self, uncor, cor);
	if (ret == -ENODEV || ret == -EPROTONOSUPPORT)
		SKIP(return, "the root port has no AER service");
	ASSERT_EQ(ret, 0);
	for (i = 0; i < 1000 && dev_value(self, "resets") < before + resets; i++)
		usleep(10000);
	/* The AER driver works in a thread: let it finish (resume). */
	for (i = 0; i < 100 && dev_value(self, "hw_ready") != 1; i++)
		usleep(10000);
	TH_LOG("recovered in %.3f s (to within 10 ms)", sg_now_s() - t0);
	usleep(200000);		/* and past resume() */
	EXPECT_EQ(dev_value(self, "resets"), before + resets);
	EXPECT_EQ(dev_value(self, "hw_ready"), 1);
	EXPECT_EQ(dev_value(self, "in_reset"), 0);
	EXPECT_EQ(dev_value(self, "wedged"), 0);
	EXPECT_EQ(dev_value(self, "gone"), 0);

	if (resets) {
		/* In flight when the device was stopped: reported lost. */
		ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
	} else {
		/* Nothing happened to it: it completes once its word is written. */
		EXPECT_EQ(sg_wait(self->fd, q, seq, seq, 0, &w), -ETIMEDOUT);
		__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
		ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
		EXPECT_EQ(w.err_code, 0);
	}
	/* Device memory kept its data. */
	EXPECT_EQ(check_pat(dm, DEVMEM_SIZE, 0x3a), -1);
	EXPECT_TRUE(sg_all_bytes(buf, 0x21, SYS_SIZE));
	/* The address space works on. */
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SYS_SIZE, 0x22, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x22, SYS_SIZE));
	if (sg_has_local_mem(self->fd)) {
		ASSERT_EQ(prefetch_resident(self->fd, dm, DEVMEM_SIZE),
			  (long long)(DEVMEM_SIZE / PAGE));
		EXPECT_EQ(check_pat(dm, DEVMEM_SIZE, 0x3a), -1);
	}
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	munmap(dm, DEVMEM_SIZE);
	munmap(buf, SYS_SIZE);
	munmap(word, 4096);
}

FIXTURE_TEARDOWN(aer)
{
	/*
	 * A test that failed or skipped half-way may leave the device wedged,
	 * or the injection armed: bring it back, disarm it.
	 */
	if (self->fd < 0)
		return;
	sg_unwedge(self->dbg);
	dbg_write(self, "svmgpu_inject", "enable_refuse 0");
	dbg_write(self, "svmgpu_inject_copy_delay", "0");
	copy_engine_restore(self);
	close(self->fd);
}

TEST_TIMEOUT(90)
TEST_F(aer, fatal_error_resets_the_link)
{
	recover_with_work(self, ERR_UNC_DLP, 0, 1);
}

TEST_TIMEOUT(90)
TEST_F(aer, nonfatal_error_without_a_reset)
{
	recover_with_work(self, ERR_UNC_COMP_ABORT, 0, 1);
}

TEST_TIMEOUT(90)
TEST_F(aer, corrected_error_changes_nothing)
{
	recover_with_work(self, 0, ERR_COR_RCVR, 0);
}

struct prefetch_job {
	int fd;
	void *p;
	int ret;
};

static void *prefetch_out(void *opaque)
{
	struct prefetch_job *j = opaque;

	j->ret = sg_prefetch(j->fd, j->p, DEVMEM_SIZE, DRM_SVMGPU_PREFETCH_SYSTEM, NULL);
	return NULL;
}

static long long devmem_value(struct svmgpu_fixture_aer *self, const char *name)
{
	return sg_debugfs_value_in(self->dbg, "svmgpu_devmem", name);
}

TEST_TIMEOUT(120)
TEST_F(aer, cpu_copy_racing_a_fatal_recovery_is_done_again)
{
	unsigned char *dm;
	struct prefetch_job j;
	pthread_t th;
	long long redone, resets;
	int round, i, ret;
	double t0;

	if (self->fd < 0)
		SKIP(return, "no /dev/aer_inject (a kernel without PCIEAER_INJECT) or no svmgpu behind a PCIe port");
	if (!sg_has_local_mem(self->fd))
		SKIP(return, "no device memory");
	dm = sg_map_anon(DEVMEM_SIZE);
	ASSERT_NOT_NULL(dm);
	redone = devmem_value(self, "cpu_copies_redone");
	ASSERT_GE(redone, 0);
	fill_pat(dm, DEVMEM_SIZE, 0x5c);
	/*
	 * A check of the copy (every 64 pages, 640 ms apart here) may fall
	 * inside the recovery (tens of ms; the bus reset's wait for the link
	 * alone may take 100): that PREFETCH fails (-EIO), its pages stay in
	 * device memory, and the round is tried again, the error injected at
	 * another point of the copy.
	 */
	for (round = 0; round < 4 && devmem_value(self, "cpu_copies_redone") == redone;
	     round++) {
		ASSERT_EQ(prefetch_resident(self->fd, dm, DEVMEM_SIZE),
			  (long long)(DEVMEM_SIZE / PAGE));
		resets = dev_value(self, "resets");
		ASSERT_EQ(copy_engine_off(self), 0);
		ASSERT_EQ(dbg_write(self, "svmgpu_inject_copy_delay", "10000"), 0);
		j.fd = self->fd;
		j.p = dm;
		j.ret = 1;
		ASSERT_EQ(pthread_create(&th, NULL, prefetch_out, &j), 0);
		usleep(300000 + round * 170000);
		t0 = sg_now_s();
		ret = aer_inject(self, ERR_UNC_DLP, 0);
		if (!ret) {
			for (i = 0; i < 1000 && dev_value(self, "resets") < resets + 1; i++)
				usleep(10000);
			for (i = 0; i < 100 && dev_value(self, "hw_ready") != 1; i++)
				usleep(10000);
			TH_LOG("round %d: recovered in %.3f s (to within 10 ms)", round,
			       sg_now_s() - t0);
		}
		pthread_join(th, NULL);
		usleep(200000);		/* past resume() */
		dbg_write(self, "svmgpu_inject_copy_delay", "0");
		copy_engine_restore(self);
		if (ret == -ENODEV || ret == -EPROTONOSUPPORT)
			SKIP(return, "the root port has no AER service");
		ASSERT_EQ(ret, 0);
		EXPECT_EQ(dev_value(self, "resets"), resets + 1);
		TH_LOG("round %d: PREFETCH %d, %lld copies redone", round, j.ret,
		       devmem_value(self, "cpu_copies_redone") - redone);
		if (j.ret) {
			/*
			 * Stopped inside the recovery: the batch it was in did
			 * not move (one before it may have), nothing is lost.
			 */
			EXPECT_EQ(j.ret, -EIO);
			EXPECT_GT(sg_residency(self->fd, dm, DEVMEM_SIZE), 0);
			EXPECT_EQ(check_pat(dm, DEVMEM_SIZE, 0x5c), -1);
			continue;
		}
		EXPECT_EQ(sg_residency(self->fd, dm, DEVMEM_SIZE), 0);
		/* every byte as written: none of what BAR4 gave during the reset */
		EXPECT_EQ(check_pat(dm, DEVMEM_SIZE, 0x5c), -1);
	}
	EXPECT_GT(devmem_value(self, "cpu_copies_redone"), redone);
	EXPECT_EQ(dev_value(self, "wedged"), 0);
	EXPECT_EQ(dev_value(self, "gone"), 0);
	munmap(dm, DEVMEM_SIZE);
}

/*
 * A process whose CPU copy out of device memory (slowed to 10 ms a page) a
 * fatal error's recovery falls inside is killed 20 ms after the error is
 * injected.  Its copy stops at the next page (the batch does not move)
 * and its exit frees its device pages while the recovery (tens of ms)
 * runs or just after.  The recovery completes (one reset, not wedged),
 * nothing of the dead process stays in device memory, and another
 * process's 2 MiB go through device memory exact.
 */
TEST_TIMEOUT(120)
TEST_F(aer, process_killed_during_a_recovery_of_its_copy)
{
	int r[2], g[2], status, i, ret, minor;
	long long used0, resets;
	unsigned char *dm;
	double *copy_t, t_inject, t_kill, t_dead;
	char c = 1;
	pid_t pid;

	if (self->fd < 0)
		SKIP(return, "no /dev/aer_inject (a kernel without PCIEAER_INJECT) or no svmgpu behind a PCIe port");
	if (!sg_has_local_mem(self->fd))
		SKIP(return, "no device memory");
	minor = atoi(strrchr(self->dbg, '/') + 1) + 128;
	used0 = devmem_value(self, "used");
	resets = dev_value(self, "resets");
	ASSERT_GE(used0, 0);
	copy_t = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(copy_t, MAP_FAILED);
	copy_t[0] = copy_t[1] = 0;	/* the copy's start and end */
	ASSERT_EQ(pipe(r), 0);
	ASSERT_EQ(pipe(g), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int cfd = sg_open_render(minor);
		unsigned char *p = sg_map_2m(DEVMEM_SIZE);	/* one batch */

		close(r[0]);
		close(g[1]);
		if (cfd < 0 || !p)
			_exit(11);
		fill_pat(p, DEVMEM_SIZE, 0x6b);
		if (prefetch_resident(cfd, p, DEVMEM_SIZE) != DEVMEM_SIZE / PAGE)
			_exit(12);
		if (write(r[1], &c, 1) != 1 || read(g[0], &c, 1) != 1)
			_exit(13);
		copy_t[0] = sg_now_s();
		sg_prefetch(cfd, p, DEVMEM_SIZE, DRM_SVMGPU_PREFETCH_SYSTEM, NULL);
		/* Seldom: the copy stopped (-EIO) inside the 20 ms. */
		copy_t[1] = sg_now_s();
		for (;;)
			pause();
	}
	close(r[1]);
	close(g[0]);
	/* No assertion until the child is waited for: it must not be left. */
	ret = read(r[0], &c, 1) == 1 ? 0 : -EIO;
	EXPECT_EQ(ret, 0);
	EXPECT_EQ(devmem_value(self, "used"), used0 + DEVMEM_SIZE);
	ret = ret ? ret : copy_engine_off(self);
	ret = ret ? ret : dbg_write(self, "svmgpu_inject_copy_delay", "10000");
	if (!ret && write(g[1], &c, 1) != 1)
		ret = -EIO;
	t_inject = t_kill = 0;
	if (!ret) {
		usleep(300000);
		t_inject = sg_now_s();
		ret = aer_inject(self, ERR_UNC_DLP, 0);
		usleep(20000);
		t_kill = sg_now_s();
	}
	kill(pid, SIGKILL);
	close(r[0]);
	close(g[1]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	t_dead = sg_now_s();
	for (i = 0; !ret && i < 1000 && dev_value(self, "resets") < resets + 1; i++)
		usleep(10000);
	for (i = 0; !ret && i < 100 && dev_value(self, "hw_ready") != 1; i++)
		usleep(10000);
	usleep(200000);		/* past resume() */
	dbg_write(self, "svmgpu_inject_copy_delay", "0");
	copy_engine_restore(self);
	if (ret == -ENODEV || ret == -EPROTONOSUPPORT)
		SKIP(return, "the root port has no AER service");
	ASSERT_EQ(ret, 0);
	TH_LOG("error injected %.0f ms into the copy, SIGKILL %.0f ms after it (%s), the child gone %.0f ms after it",
	       (t_inject - copy_t[0]) * 1e3, (t_kill - t_inject) * 1e3,
	       copy_t[1] ? "after the copy stopped" : "during the copy", (t_dead - t_inject) * 1e3);
	ASSERT_GT(copy_t[0], 0);
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(WTERMSIG(status), SIGKILL);
	EXPECT_EQ(dev_value(self, "resets"), resets + 1);
	EXPECT_EQ(dev_value(self, "hw_ready"), 1);
	EXPECT_EQ(dev_value(self, "wedged"), 0);
	EXPECT_EQ(dev_value(self, "gone"), 0);
	for (i = 0; i < 250 && devmem_value(self, "used") != used0; i++)
		usleep(20000);
	EXPECT_EQ(devmem_value(self, "used"), used0);
	/* The device works on: 2 MiB of this process through its memory. */
	dm = sg_map_anon(DEVMEM_SIZE);
	ASSERT_NOT_NULL(dm);
	fill_pat(dm, DEVMEM_SIZE, 0x6c);
	ASSERT_EQ(prefetch_resident(self->fd, dm, DEVMEM_SIZE), (long long)(DEVMEM_SIZE / PAGE));
	ASSERT_EQ(sg_prefetch(self->fd, dm, DEVMEM_SIZE, DRM_SVMGPU_PREFETCH_SYSTEM, NULL), 0);
	EXPECT_EQ(sg_residency(self->fd, dm, DEVMEM_SIZE), 0);
	EXPECT_EQ(check_pat(dm, DEVMEM_SIZE, 0x6c), -1);
	EXPECT_EQ(devmem_value(self, "used"), used0);
	munmap(dm, DEVMEM_SIZE);
	munmap(copy_t, PAGE);
}

TEST_TIMEOUT(90)
TEST_F(aer, failed_recovery_leaves_it_wedged_until_a_reset)
{
	unsigned char *buf = sg_map_anon(SYS_SIZE);
	uint64_t *word = sg_map_anon(4096);
	struct drm_svmgpu_wait w;
	struct svmgpu_cmd c;
	uint64_t seq;
	uint32_t q;
	int i, ret;

	if (self->fd < 0)
		SKIP(return, "no /dev/aer_inject (a kernel without PCIEAER_INJECT) or no svmgpu behind a PCIe port");
	ASSERT_NOT_NULL(buf);
	ASSERT_NOT_NULL(word);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SYS_SIZE, 0x31, 1)), 0);
	*word = 0;
	c = sg_wait_eq(word, 1, 0);
	ASSERT_EQ(sg_submit(self->fd, q, &c, 1, &seq), 0);

	/* Kept by the quiesce's CONTROL.RESET: slot_reset's enable is refused. */
	ASSERT_EQ(dbg_write(self, "svmgpu_inject", "enable_refuse 1"), 0);
	ret = aer_inject(self, ERR_UNC_COMP_ABORT, 0);
	if (ret == -ENODEV || ret == -EPROTONOSUPPORT)
		SKIP(return, "the root port has no AER service");	/* teardown disarms */
	ASSERT_EQ(ret, 0);
	for (i = 0; i < 1000 && dev_value(self, "wedged") != 1; i++)
		usleep(10000);
	EXPECT_EQ(dev_value(self, "wedged"), 1);
	EXPECT_EQ(dev_value(self, "hw_ready"), 0);
	EXPECT_EQ(dev_value(self, "in_reset"), 0);
	EXPECT_EQ(dev_value(self, "gone"), 0);
	ASSERT_EQ(sg_wait(self->fd, q, seq, seq, SG_TIMEOUT_NS, &w), 0);
	EXPECT_EQ(w.err_code, DRM_SVMGPU_ERR_RESET);
	/* New work fails at once: -ENODEV, or, with the scheduler, reported lost. */
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	EXPECT_EQ(sg_run_fails_wedged(self->fd, q, sg_fill(buf, SYS_SIZE, 0x32, 1),
				      sg_debugfs_value_in(self->dbg, "svmgpu_sched", "enabled") == 1), 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x31, SYS_SIZE));
	/* The count is spent: a reset brings it back. */
	EXPECT_EQ(dbg_write(self, "svmgpu_reset", "1"), 0);
	EXPECT_EQ(dev_value(self, "wedged"), 0);
	EXPECT_EQ(dev_value(self, "hw_ready"), 1);
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &q), 0);
	ASSERT_EQ(sg_run_ok(self->fd, q, sg_fill(buf, SYS_SIZE, 0x33, 1)), 0);
	EXPECT_TRUE(sg_all_bytes(buf, 0x33, SYS_SIZE));
	EXPECT_EQ(sg_queue_destroy(self->fd, q), 0);
}

TEST_HARNESS_MAIN
