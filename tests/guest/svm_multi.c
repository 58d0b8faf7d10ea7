// SPDX-License-Identifier: MIT
/*
 * svm_multi: two svmgpu devices in one guest, one process using both on
 * the same malloc'd memory (docs/driver.md "Two devices").  Each device
 * mirrors the process on its own (its own mmu notifiers, page tables and
 * faults); a range in device A's memory that device B touches is resolved
 * by the HMM owner rules: A's private pages (debug kernel) are migrated
 * back to system memory through A's migrate_to_ram; A's coherent pages
 * (Debian's kernel) are ordinary memory to B's hmm_range_fault() and B
 * reaches them peer-to-peer through A's BAR4, where they stay.  Every byte
 * is checked, by the CPU and by both devices.  An unbind of one device
 * waits for nothing of the other's: a long PREFETCH walk, a process stuck
 * in a fault.
 *
 * make check runs it in a boot with a second device (QEMU_EXTRA='-device
 * svmgpu,local-mem-size=64M'); with one svmgpu PCI function it skips at
 * once, and with two whose render nodes never appear it fails.
 */
#define _GNU_SOURCE
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <svmgpu.h>

#include "svm_advise.h"

/* One device: its file, context, queue and debugfs directory. */
struct dev {
	int fd;
	uint32_t ctx;
	uint32_t q;
	char dbg[64];
};

/* A line "name: N" of this device's debugfs svmgpu_devmem, or -1. */
static long long dev_value(const struct dev *d, const char *name)
{
	return sg_debugfs_value_in(d->dbg, "svmgpu_devmem", name);
}

/*
 * Open the first @n svmgpu render nodes (waiting up to 10 s for them to
 * appear: the second device may probe after the runner started).
 * Returns how many were opened.
 */
static int open_devs(struct dev *d, int n)
{
	int got = 0, tries, i;

	for (tries = 0; tries < 100 && got < n; tries++) {
		got = 0;
		for (i = 128; i < 192 && got < n; i++) {
			int fd = sg_open_render(i);
			struct stat s;

			if (fd < 0)
				continue;
			if (fstat(fd, &s)) {
				close(fd);
				continue;
			}
			d[got].fd = fd;
			/* debugfs of the primary minor of this render node */
			snprintf(d[got].dbg, sizeof(d[got].dbg), "/sys/kernel/debug/dri/%d",
				 sg_render_card(minor(s.st_rdev)));
			got++;
		}
		if (got < n) {
			for (i = 0; i < got; i++)
				close(d[i].fd);
			usleep(100000);
		}
	}
	return got;
}

FIXTURE(two) {
	struct dev d[2];
	int n;
};

FIXTURE_SETUP(two)
{
	int i;

	/* One function: no 10 s wait for a render node that cannot come. */
	if (sg_pci_functions(NULL, 0) < 2)
		SKIP(return, "needs two svmgpu devices (QEMU_EXTRA='-device svmgpu,...')");
	self->n = open_devs(self->d, 2);
	if (self->n < 2)
		TH_LOG("two svmgpu PCI functions, %d render node(s) after 10 s", self->n);
	ASSERT_EQ(self->n, 2);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(sg_ctx_create(self->d[i].fd, &self->d[i].ctx), 0);
		ASSERT_EQ(sg_queue_create(self->d[i].fd, self->d[i].ctx, 0, &self->d[i].q), 0);
	}
}

FIXTURE_TEARDOWN(two)
{
	int i;

	for (i = 0; i < self->n; i++)
		close(self->d[i].fd);
}

/*
 * Both devices on one malloc'd buffer in system memory: A copies the lower
 * half out while B fills the upper half, then each reads what the other
 * wrote; the CPU checks every byte.  Two contexts, two page tables, one mm.
 */
TEST_F(two, both_devices_on_one_malloc_buffer)
{
	size_t size = 4 * MB, half = size / 2;
	unsigned char *buf = malloc(size), *oa = malloc(half), *ob = malloc(size);
	struct dev *a = &self->d[0], *b = &self->d[1];

	ASSERT_NE(buf, NULL);
	ASSERT_NE(oa, NULL);
	ASSERT_NE(ob, NULL);
	fill_pat(buf, size, 0x13);
	memset(oa, 0, half);
	memset(ob, 0, size);
	ASSERT_EQ(dev_copy(a->fd, a->q, oa, buf, half), 0);
	ASSERT_EQ(dev_fill(b->fd, b->q, buf + half, half, 0xb2), 0);
	EXPECT_EQ(check_pat(oa, half, 0x13), -1);
	EXPECT_TRUE(sg_all_bytes(buf + half, 0xb2, half));
	/* Each device reads the other's write and the untouched half. */
	ASSERT_EQ(dev_copy(a->fd, a->q, ob, buf, size), 0);
	EXPECT_EQ(check_pat(ob, half, 0x13), -1);
	EXPECT_TRUE(sg_all_bytes(ob + half, 0xb2, half));
	ASSERT_EQ(dev_fill(a->fd, a->q, buf, PAGE, 0xa1), 0);
	memset(ob, 0, size);
	ASSERT_EQ(dev_copy(b->fd, b->q, ob, buf, size), 0);
	EXPECT_TRUE(sg_all_bytes(ob, 0xa1, PAGE));
	{
		size_t i;
		long bad = -1;

		for (i = PAGE; i < half && bad < 0; i++)
			if (ob[i] != pat(i, 0x13))
				bad = (long)i;
		EXPECT_EQ(bad, -1);
	}
	EXPECT_TRUE(sg_all_bytes(ob + half, 0xb2, half));
	free(buf);
	free(oa);
	free(ob);
}

/*
 * A range prefetched to device A's memory, then read and written by device
 * B.  Private (debug kernel): B's faults migrate A's pages back to system
 * memory through A's migrate_to_ram (A's residency drops to 0, A's
 * cpu_faults counts them) before B maps them.  Coherent (Debian's kernel): B maps them
 * where they are, through A's BAR4, and they stay in A's memory.  Either
 * way A, B and the CPU then read exactly the same bytes, and a PREFETCH to
 * B leaves pages that are in A's memory there.
 */
TEST_F(two, range_in_device_a_memory_touched_by_device_b)
{
	size_t size = 2 * MB, n = size / PAGE;
	unsigned char *buf = sg_map_2m(size), *out = sg_map_2m(size);
	struct dev *a = &self->d[0], *b = &self->d[1];
	long long used_a0 = dev_value(a, "used"), used_b0 = dev_value(b, "used");
	long long mig0 = dev_value(a, "cpu_faults"), res;
	int priv = sg_devmem_private(a->dbg);

	ASSERT_GE(used_a0, 0);
	ASSERT_GE(used_b0, 0);
	ASSERT_NE(buf, NULL);
	ASSERT_NE(out, NULL);
	fill_pat(buf, size, 0x27);
	ASSERT_EQ(prefetch_resident(a->fd, buf, size), (long long)n);
	EXPECT_EQ(sg_residency(b->fd, buf, size), 0);

	/* A PREFETCH to B leaves what is in A's memory in A's memory. */
	ASSERT_EQ(sg_prefetch(b->fd, buf, size, DRM_SVMGPU_PREFETCH_DEVICE, NULL), 0);
	EXPECT_EQ(sg_residency(a->fd, buf, size), (long long)n);
	EXPECT_EQ(sg_residency(b->fd, buf, size), 0);

	/* B reads the range. */
	memset(out, 0, size);
	ASSERT_EQ(dev_copy(b->fd, b->q, out, buf, size), 0);
	EXPECT_EQ(check_pat(out, size, 0x27), -1);
	res = sg_residency(a->fd, buf, size);
	if (priv) {
		/* Migrated back by A's migrate_to_ram. */
		EXPECT_EQ(res, 0);
		EXPECT_GT(dev_value(a, "cpu_faults"), mig0);
	} else {
		/* Peer-to-peer: still in A's memory. */
		EXPECT_EQ(res, (long long)n);
		EXPECT_EQ(dev_value(a, "cpu_faults"), mig0);
	}
	EXPECT_EQ(sg_residency(b->fd, buf, size), 0);

	/* B writes a page of it; A and the CPU see the write. */
	ASSERT_EQ(dev_fill(b->fd, b->q, buf + PAGE, PAGE, 0xbb), 0);
	memset(out, 0, size);
	ASSERT_EQ(dev_copy(a->fd, a->q, out, buf, size), 0);
	EXPECT_TRUE(sg_all_bytes(out + PAGE, 0xbb, PAGE));
	EXPECT_TRUE(sg_all_bytes(buf + PAGE, 0xbb, PAGE));
	{
		size_t i;
		long bad = -1;

		for (i = 0; i < size && bad < 0; i++)
			if ((i < PAGE || i >= 2 * PAGE) && (out[i] != pat(i, 0x27) ||
							   buf[i] != pat(i, 0x27)))
				bad = (long)i;
		EXPECT_EQ(bad, -1);
	}
	munmap(buf, size);
	munmap(out, size);
	EXPECT_EQ(sg_devmem_used_settles(a->dbg, used_a0), used_a0);
	EXPECT_EQ(sg_devmem_used_settles(b->dbg, used_b0), used_b0);
}

/*
 * The same 4 MiB prefetched to A, then its upper half to B after a
 * PREFETCH to system memory: each device's memory holds its half, both
 * devices read all of it exactly, and munmap frees both.
 */
TEST_F(two, halves_in_each_device_memory)
{
	size_t size = 4 * MB, half = size / 2;
	unsigned char *buf = sg_map_2m(size), *out = sg_map_2m(size);
	struct dev *a = &self->d[0], *b = &self->d[1];
	long long used_a0 = dev_value(a, "used"), used_b0 = dev_value(b, "used");
	int i;

	ASSERT_NE(buf, NULL);
	ASSERT_NE(out, NULL);
	fill_pat(buf, size, 0x35);
	ASSERT_EQ(prefetch_resident(a->fd, buf, size), (long long)(size / PAGE));
	ASSERT_EQ(sg_prefetch(a->fd, buf + half, half, DRM_SVMGPU_PREFETCH_SYSTEM, NULL), 0);
	ASSERT_EQ(prefetch_resident(b->fd, buf + half, half), (long long)(half / PAGE));
	EXPECT_EQ(sg_residency(a->fd, buf, size), (long long)(half / PAGE));
	EXPECT_EQ(sg_residency(b->fd, buf, size), (long long)(half / PAGE));
	EXPECT_EQ(dev_value(a, "used") - used_a0, (long long)half);
	EXPECT_EQ(dev_value(b, "used") - used_b0, (long long)half);
	for (i = 0; i < 2; i++) {
		memset(out, 0, size);
		ASSERT_EQ(dev_copy(self->d[i].fd, self->d[i].q, out, buf, size), 0);
		EXPECT_EQ(check_pat(out, size, 0x35), -1);
	}
	EXPECT_EQ(check_pat(buf, size, 0x35), -1);
	munmap(buf, size);
	munmap(out, size);
	EXPECT_EQ(sg_devmem_used_settles(a->dbg, used_a0), used_a0);
	EXPECT_EQ(sg_devmem_used_settles(b->dbg, used_b0), used_b0);
}

/*
 * The owner rule of migration notifiers: device X's own MMU_NOTIFY_MIGRATE
 * is skipped by X (it unmaps what it selected itself), never by the other
 * device.  Both devices map a range of system memory; one of them (the
 * mover) PREFETCHes it to its memory; the CPU writes a new pattern (on
 * private memory through the mover's migrate_to_ram, on coherent memory in
 * place); then the other device (the holder) and the mover read, and the
 * holder writes a page: every byte is checked on both devices and the
 * CPU.  Both ways round (A moves while B holds, then B while A holds), in
 * 4 KiB pages.  A holder that skipped the mover's MIGRATE (owner compared
 * wrongly) would read the old pattern from the pages the migration freed.
 */
TEST_F(two, owner_rule_holder_sees_mover_migration)
{
	size_t size = 2 * MB, n = size / PAGE;
	unsigned char *buf, *out = sg_map_2m(size);
	int k;

	ASSERT_NE(out, NULL);
	for (k = 0; k < 2; k++) {
		struct dev *mv = &self->d[k], *hd = &self->d[1 - k];
		long long used_m0 = dev_value(mv, "used"), used_h0 = dev_value(hd, "used");
		long long mig0 = dev_value(mv, "cpu_faults");
		int priv = sg_devmem_private(mv->dbg);
		size_t i;
		long bad = -1;

		buf = sg_map_2m(size);
		ASSERT_NE(buf, NULL);
		/*
		 * 4 KiB pages: the split of a THP would send a CLEAR, which
		 * unmaps the holder whatever the owner rule says.
		 */
		ASSERT_EQ(madvise(buf, size, MADV_NOHUGEPAGE), 0);
		fill_pat(buf, size, 0x41 + k);
		/* Both devices map the system pages. */
		memset(out, 0, size);
		ASSERT_EQ(dev_copy(hd->fd, hd->q, out, buf, size), 0);
		EXPECT_EQ(check_pat(out, size, 0x41 + k), -1);
		memset(out, 0, size);
		ASSERT_EQ(dev_copy(mv->fd, mv->q, out, buf, size), 0);
		EXPECT_EQ(check_pat(out, size, 0x41 + k), -1);
		/* The mover takes them into its memory. */
		ASSERT_EQ(prefetch_resident(mv->fd, buf, size), (long long)n);
		EXPECT_EQ(sg_residency(hd->fd, buf, size), 0);
		/* The CPU writes a new pattern. */
		fill_pat(buf, size, 0x61 + k);
		if (priv)
			EXPECT_GT(dev_value(mv, "cpu_faults"), mig0);
		/* The holder reads it, then the mover. */
		memset(out, 0, size);
		ASSERT_EQ(dev_copy(hd->fd, hd->q, out, buf, size), 0);
		EXPECT_EQ(check_pat(out, size, 0x61 + k), -1);
		memset(out, 0, size);
		ASSERT_EQ(dev_copy(mv->fd, mv->q, out, buf, size), 0);
		EXPECT_EQ(check_pat(out, size, 0x61 + k), -1);
		/* The holder writes a page: the mover and the CPU see it. */
		ASSERT_EQ(dev_fill(hd->fd, hd->q, buf + 3 * PAGE, PAGE, 0xc4), 0);
		memset(out, 0, size);
		ASSERT_EQ(dev_copy(mv->fd, mv->q, out, buf, size), 0);
		EXPECT_TRUE(sg_all_bytes(out + 3 * PAGE, 0xc4, PAGE));
		EXPECT_TRUE(sg_all_bytes(buf + 3 * PAGE, 0xc4, PAGE));
		for (i = 0; i < size && bad < 0; i++)
			if ((i < 3 * PAGE || i >= 4 * PAGE) && (out[i] != pat(i, 0x61 + k) ||
								buf[i] != pat(i, 0x61 + k)))
				bad = (long)i;
		EXPECT_EQ(bad, -1);
		munmap(buf, size);
		EXPECT_EQ(sg_devmem_used_settles(mv->dbg, used_m0), used_m0);
		EXPECT_EQ(sg_devmem_used_settles(hd->dbg, used_h0), used_h0);
	}
	munmap(out, size);
}

/* Wait up to 10 s for PCI function @bdf's render node: true once it is there. */
static bool render_node_appears(const char *bdf)
{
	char path[128];
	bool there = false;
	glob_t g;
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/drm/renderD*", bdf);
	for (i = 0; i < 500 && !there; i++) {
		there = !glob(path, 0, NULL, &g) && g.gl_pathc;
		globfree(&g);
		if (!there)
			usleep(20000);
	}
	return there;
}

/*
 * The library lists the devices in PCI address order, whatever order
 * /dev/dri lists them in: index i is the same device for every tool and
 * every run.  The first two functions are unbound and bound again in
 * reverse order first, so that the lower one gets the higher render minor
 * (DRM hands out the lowest free one): the list is then in neither minor
 * nor creation order.  Each entry's render node belongs to its PCI
 * function, svmgpu_device_open(i) opens entry i, and a short array gets
 * the first entries of that order and nothing past its end.
 */
TEST(library_lists_devices_in_pci_order)
{
	struct svmgpu_device_desc descs[8], few[2];
	char path[PATH_MAX], real[PATH_MAX], bdf[32], fn[2][32];
	struct svmgpu_device *dev;
	struct stat node, opened;
	bool swapped = false;
	size_t i;
	int n;

	if (sg_pci_functions(NULL, 0) < 2)
		SKIP(return, "needs two svmgpu devices (QEMU_EXTRA='-device svmgpu,...')");
	ASSERT_EQ(sg_pci_function_nth(0, fn[0], sizeof(fn[0])), 0);
	ASSERT_EQ(sg_pci_function_nth(1, fn[1], sizeof(fn[1])), 0);
	if (sg_driver_bound(fn[0]) && sg_driver_bound(fn[1]) && !access(SG_DRV "/unbind", W_OK)) {
		ASSERT_EQ(sg_driver_bind(fn[0], false), 0);
		ASSERT_EQ(sg_driver_bind(fn[1], false), 0);
		ASSERT_EQ(sg_driver_bind(fn[1], true), 0);
		ASSERT_TRUE(render_node_appears(fn[1]));
		ASSERT_EQ(sg_driver_bind(fn[0], true), 0);
		ASSERT_TRUE(render_node_appears(fn[0]));
		swapped = true;
	}
	n = svmgpu_device_list(descs, 8);
	ASSERT_GE(n, 2);
	ASSERT_LE(n, 8);
	EXPECT_EQ(svmgpu_device_list(NULL, 0), n);
	for (i = 0; i < (unsigned int)n; i++) {
		const struct svmgpu_device_desc *d = &descs[i];

		snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%x", d->pci_domain, d->pci_bus,
			 d->pci_dev, d->pci_func);
		TH_LOG("%zu: %s %s", i, bdf, d->render_node);
		if (i) {
			const struct svmgpu_device_desc *p = &descs[i - 1];

			EXPECT_LT((uint64_t)p->pci_domain << 24 | p->pci_bus << 16 |
				  p->pci_dev << 8 | p->pci_func,
				  (uint64_t)d->pci_domain << 24 | d->pci_bus << 16 |
				  d->pci_dev << 8 | d->pci_func);
		}
		snprintf(path, sizeof(path), "/sys/class/drm/%s/device",
			 strrchr(d->render_node, '/') + 1);
		ASSERT_NE(realpath(path, real), NULL);
		EXPECT_EQ(strcmp(basename(real), bdf), 0);
		ASSERT_EQ(stat(d->render_node, &node), 0);
		ASSERT_EQ(svmgpu_device_open(i, &dev), 0);
		ASSERT_EQ(fstat(svmgpu_device_fd(dev), &opened), 0);
		EXPECT_EQ(opened.st_rdev, node.st_rdev);
		EXPECT_EQ(svmgpu_device_close(dev), 0);
	}
	if (swapped) {
		/* the first function first, with a higher minor than the second */
		snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%x", descs[0].pci_domain,
			 descs[0].pci_bus, descs[0].pci_dev, descs[0].pci_func);
		EXPECT_EQ(strcmp(bdf, fn[0]), 0);
		EXPECT_GT(strcmp(descs[0].render_node, descs[1].render_node), 0);
	}
	EXPECT_EQ(svmgpu_device_open(n, &dev), -ENODEV);
	memset(few, 0xa5, sizeof(few));
	EXPECT_EQ(svmgpu_device_list(few, 1), n);
	EXPECT_EQ(memcmp(&few[0], &descs[0], sizeof(few[0])), 0);
	for (i = 0; i < sizeof(few[1]) && ((const unsigned char *)&few[1])[i] == 0xa5; i++)
		;
	EXPECT_EQ(i, sizeof(few[1]));	/* nothing written past max */
}

/*
 * The first two svmgpu PCI functions in @fn, both bound to the driver and
 * unbindable by this process: 0; 1 with *@why, the test skips; -1, they
 * could not be listed (a failure).
 */
static int two_bound_functions(char fn[2][32], const char **why)
{
	if (sg_pci_functions(NULL, 0) < 2) {
		*why = "needs two svmgpu devices (QEMU_EXTRA='-device svmgpu,...')";
		return 1;
	}
	if (sg_pci_function_nth(0, fn[0], 32) || sg_pci_function_nth(1, fn[1], 32))
		return -1;
	if (!sg_driver_bound(fn[0]) || !sg_driver_bound(fn[1]) || access(SG_DRV "/unbind", W_OK)) {
		*why = "both devices bound and root needed";
		return 1;
	}
	return 0;
}

/*
 * A synchronous PREFETCH to system memory over 16 TiB with one page
 * touched walks every 2 MiB window of the range (minutes), on the second
 * device; the first device is unbound meanwhile.  6.1's drm_dev_unplug()
 * waits for the drm_dev_enter() sections of every DRM device, not only its
 * own (one SRCU); the driver's sections are its own (svmgpu_dev_enter()),
 * and a walk begins a new one at every window: the unbind returns within
 * seconds, the walk still running.  When the walk was one drm_dev_enter()
 * section, the unbind waited for the whole walk; here, until the walker's
 * alarm (30 s) killed it.  The first device is bound again, and the walker
 * killed.
 */
TEST_TIMEOUT(120)
TEST(unbind_waits_one_window_of_another_devices_prefetch)
{
	char fn[2][32], c = 0;
	const char *why = NULL;
	int go[2], minor, st = 0, ret;
	double t0, took;
	pid_t pid, r;

	ret = two_bound_functions(fn, &why);
	ASSERT_GE(ret, 0);
	if (ret)
		SKIP(return, "%s", why);
	ASSERT_GE(sg_drm_minors(fn[1], &minor, NULL), 0);
	ASSERT_EQ(pipe(go), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		int fd = sg_open_render(minor);
		unsigned char *a;

		close(go[0]);
		if (fd < 0)
			_exit(10);
		a = sg_map_blocker();
		/* 's': nothing to walk with (no local memory, or no 16 TiB mapping) */
		if (!sg_has_local_mem(fd) || !a)
			_exit(write(go[1], "s", 1) == 1 ? 0 : 11);
		alarm(30);	/* before the fix: what ends the walk and the unbind */
		if (write(go[1], "g", 1) != 1)
			_exit(12);
		_exit(sg_prefetch(fd, a, SG_BLOCKER, DRM_SVMGPU_PREFETCH_SYSTEM, NULL) ? 13 : 14);
	}
	close(go[1]);
	ASSERT_EQ(read(go[0], &c, 1), 1);
	close(go[0]);
	if (c == 's') {
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		SKIP(return, "no local memory on %s, or no 16 TiB MAP_NORESERVE mapping", fn[1]);
	}
	usleep(300000);		/* in the walk */
	t0 = sg_now_s();
	EXPECT_EQ(sg_driver_bind(fn[0], false), 0);
	took = sg_now_s() - t0;
	/* the walker is still at it */
	r = waitpid(pid, &st, WNOHANG);
	EXPECT_EQ(r, 0);
	TH_LOG("unbind of %s took %.2f s beside %s's PREFETCH walk", fn[0], took, fn[1]);
	EXPECT_LT(took, 10.0);
	EXPECT_EQ(sg_driver_bind(fn[0], true), 0);
	EXPECT_TRUE(render_node_appears(fn[0]));
	if (!r) {
		/* still walking?  A walk too short says so rather than fail below */
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid && WIFEXITED(st))
			TH_LOG("the walk ended (exit %d) before the test killed it: too short",
			       WEXITSTATUS(st));
		if (!r) {
			kill(pid, SIGKILL);
			ASSERT_EQ(waitpid(pid, &st, 0), pid);
		}
	}
	/* killed in the walk, not ended by it (nor failed before it) */
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* The child's second thread: a PREFETCH queued behind its creator. */
struct stuck_walk {
	int fd;
	pid_t creator;
	unsigned char *buf;
	int ready;
	int ret;
};

/* Its stack, touched before the mmap_lock is stuck: no fault on it after. */
#define WALK_STACK	(256 * 1024)

static void *prefetch_behind_creator(void *arg)
{
	struct stuck_walk *w = arg;
	char task[48];
	int i;

	snprintf(task, sizeof(task), "/proc/self/task/%d", (int)w->creator);
	for (i = 0; i < 8000 && !sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D"); i++) {
		__atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
		usleep(5000);
	}
	w->ret = sg_prefetch(w->fd, w->buf, 4 * MB, DRM_SVMGPU_PREFETCH_DEVICE, NULL);
	return NULL;
}

/*
 * For the tests of a process stuck on the test device: its name, the
 * other device's, and the test device's debugfs fault-delay hook.
 * Return: 0; 1, skip (*@why); -1, fail.
 */
static int stuck_devices(char test[32], char other[32], char inject[256], const char **why)
{
	char fn[2][32];
	int i, ret = two_bound_functions(fn, why);

	if (ret)
		return ret;
	if (sg_debugfs_path("svmgpu_inject_fault_delay", inject, 256) ||
	    sg_dev_counter("fault_delays_injected") < 0) {
		*why = "no debugfs fault-delay hook";
		return 1;
	}
	if (sg_test_device(test, 32, NULL, NULL))
		return -1;
	other[0] = 0;
	for (i = 0; i < 2; i++)
		if (strcmp(fn[i], test))
			snprintf(other, 32, "%s", fn[i]);
	return other[0] ? 0 : -1;
}

/*
 * A process of the test device whose device fault is stuck for 20 s
 * (the fault-delay hook: its mmap_lock read-held, as in I/O); its
 * CTX_CREATE waits for that lock for writing, and its PREFETCH (with local
 * memory) for reading, behind the creator.  The other device is unbound
 * meanwhile: that must not wait for them, nor for the stuck fault.  With
 * drm_dev_enter() sections it did, for as long as the fault was stuck
 * (12.6 s of a 12 s stall): 6.1's drm_dev_unplug() waits for the
 * sections of every DRM device (one SRCU), and both ioctls waited inside
 * theirs; and with the fault work on the module's shared workqueue,
 * remove's flush of it waited for the stuck fault itself.  The process's
 * creation and PREFETCH then succeed, every byte in place.
 */
TEST_TIMEOUT(120)
TEST(unbind_waits_for_no_stuck_process_of_another_device)
{
	char test[32], inject[256], task[64], other[32];
	const char *why = NULL;
	long long before = sg_dev_counter("fault_delays_injected");
	int local, fd, st = 0, i, ret;
	double t0, took;
	pid_t pid;

	ret = stuck_devices(test, other, inject, &why);
	ASSERT_GE(ret, 0);
	if (ret)
		SKIP(return, "%s", why);
	fd = sg_open();
	ASSERT_GE(fd, 0);
	local = sg_has_local_mem(fd);
	close(fd);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct stuck_walk w = { .creator = getpid(), .buf = sg_map_2m(4 * MB) };
		unsigned char *p, *stack = sg_map_anon(WALK_STACK);
		uint32_t ctx, q;
		struct svmgpu_cmd fill;
		pthread_attr_t attr;
		pthread_t t;
		int fd2;

		w.fd = sg_child_queue(&p, &ctx, &q);
		fill = sg_fill(p, 4096, 0x7e, 1);
		if (!w.buf || !stack)
			_exit(11);
		sg_fill_pat(w.buf, 4 * MB, 0x31);
		/*
		 * The thread and the file first: a thread's stack (mmap, its
		 * first touch) and memory for the open would wait for the
		 * stuck mmap_lock too; the thread is running before the stall.
		 */
		fd2 = sg_open();
		if (fd2 < 0)
			_exit(12);
		memset(stack, 0, WALK_STACK);
		if (local && (pthread_attr_init(&attr) ||
			      pthread_attr_setstack(&attr, stack, WALK_STACK) ||
			      pthread_create(&t, &attr, prefetch_behind_creator, &w)))
			_exit(13);
		for (i = 0; local && i < 2000 && !__atomic_load_n(&w.ready, __ATOMIC_ACQUIRE); i++)
			usleep(5000);
		ret = sg_stall_fault(inject, 20000, w.fd, q, &fill, before);
		if (ret)
			_exit(13 + ret);
		if (sg_ctx_create(fd2, &ctx))
			_exit(17);
		if (local && (pthread_join(t, NULL) || w.ret))
			_exit(18);
		/* every byte where the PREFETCH put it */
		_exit(sg_check_pat(w.buf, 4 * MB, 0x31) == -1 ? 0 : 19);
	}
	/* the creator asleep in its CTX_CREATE (a child that failed says why) */
	t0 = sg_now_s();
	snprintf(task, sizeof(task), "/proc/%d", (int)pid);
	for (i = 0; i < 4000 && !sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D"); i++) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			TH_LOG("the child ended first: status 0x%x", st);
			ASSERT_TRUE(0);
		}
		usleep(5000);
	}
	if (!sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D")) {
		char st1[512] = "", sc[256] = "", wc[64] = "";

		sg_proc_read(task, "stat", st1, sizeof(st1));
		sg_proc_read(task, "syscall", sc, sizeof(sc));
		sg_proc_read(task, "wchan", wc, sizeof(wc));
		st1[strcspn(st1, "\n")] = 0;
		sc[strcspn(sc, "\n")] = 0;
		TH_LOG("creator not asleep in CTX_CREATE after %.1f s: syscall %s wchan %s; delays %lld (before %lld); stat %.60s",
		       sg_now_s() - t0, sc, wc, sg_dev_counter("fault_delays_injected"), before, strchr(st1, ')'));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		ASSERT_TRUE(0);
	}
	if (local) {
		glob_t g;
		bool behind = false;

		/* the child's other thread, asleep in its PREFETCH */
		snprintf(task, sizeof(task), "/proc/%d/task/*", (int)pid);
		for (i = 0; i < 2000 && !behind; i++) {
			size_t j;

			if (glob(task, 0, NULL, &g))
				continue;
			for (j = 0; j < g.gl_pathc; j++)
				if (sg_asleep_in_ioctl(g.gl_pathv[j], DRM_IOCTL_SVMGPU_PREFETCH, "D"))
					behind = true;
			globfree(&g);
			if (!behind)
				usleep(5000);
		}
		EXPECT_TRUE(behind);
	} else {
		TH_LOG("no local memory on %s: CTX_CREATE only", test);
	}
	t0 = sg_now_s();
	EXPECT_EQ(sg_driver_bind(other, false), 0);
	took = sg_now_s() - t0;
	TH_LOG("unbind of %s took %.2f s beside %s's process stuck 20 s", other, took, test);
	/* still stuck: the unbind did not wait for it */
	snprintf(task, sizeof(task), "/proc/%d", (int)pid);
	EXPECT_TRUE(sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D"));
	EXPECT_LT(took, 6.0);
	EXPECT_EQ(sg_driver_bind(other, true), 0);
	EXPECT_TRUE(render_node_appears(other));
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
}

/*
 * The walks of the other device, one thread each (own_walks), and one
 * more thread that destroys the context the ADVISE uses while it waits.
 */
enum { OW_PREFETCH, OW_PREFETCH_ASYNC, OW_RESIDENCY, OW_ADVISE, OW_WALKS,
	OW_DESTROY = OW_WALKS, OW_COUNT };

struct own_walks {
	int fd;			/* the other device's file */
	uint32_t ctx;		/* a context of it */
	pid_t creator;
	unsigned char *buf;	/* 4 MiB, in the other device's memory */
	int ready;
	int *destroyed;		/* shared with the parent: 1 once the destroy returned */
	pid_t tid[OW_COUNT];
	int ret[OW_COUNT];
};

struct own_walk {
	struct own_walks *w;
	int which;
};

/*
 * Destroy @ctx of @w once the ADVISE thread is asleep in its ioctl (at
 * once if not @wait).  Called first with neither, before the stall: its
 * code is then paged in (a fault on it would wait for the mmap_lock).
 */
static int destroy_behind_advise(struct own_walks *w, uint32_t ctx, bool wait)
{
	char task[48];
	int i;

	snprintf(task, sizeof(task), "/proc/self/task/%d",
		 (int)__atomic_load_n(&w->tid[OW_ADVISE], __ATOMIC_ACQUIRE));
	for (i = 0; wait && i < 8000 && !sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_ADVISE, "D");
	     i++)
		usleep(5000);
	return sg_ctx_destroy(w->fd, ctx);
}

static void *walk_behind_creator(void *arg)
{
	struct own_walk *a = arg;
	struct own_walks *w = a->w;
	char task[48];
	int i;

	__atomic_store_n(&w->tid[a->which], (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	if (a->which == OW_DESTROY && destroy_behind_advise(w, UINT32_MAX, false) != -ENOENT)
		w->ret[a->which] = -1;
	snprintf(task, sizeof(task), "/proc/self/task/%d", (int)w->creator);
	for (i = 0; i < 8000 && !sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D"); i++) {
		__atomic_add_fetch(&w->ready, 1, __ATOMIC_RELEASE);
		usleep(5000);
	}
	switch (a->which) {
	case OW_DESTROY:
		/* the context's last, while the ADVISE on it waits */
		if (!w->ret[a->which])
			w->ret[a->which] = destroy_behind_advise(w, w->ctx, true);
		__atomic_store_n(w->destroyed, 1, __ATOMIC_RELEASE);
		break;
	case OW_PREFETCH:
		w->ret[a->which] = sg_prefetch(w->fd, w->buf, 4 * MB,
					       DRM_SVMGPU_PREFETCH_SYSTEM, NULL);
		break;
	case OW_PREFETCH_ASYNC:
		w->ret[a->which] = sg_prefetch(w->fd, w->buf, 4 * MB, DRM_SVMGPU_PREFETCH_DEVICE |
					       DRM_SVMGPU_PREFETCH_ASYNC, NULL);
		break;
	case OW_RESIDENCY:
		w->ret[a->which] = (int)sg_residency(w->fd, w->buf, 4 * MB);
		break;
	default:
		w->ret[a->which] = advise(w->fd, w->ctx, w->buf, 4 * MB,
					  DRM_SVMGPU_ATTR_ACCESSED_BY, 1);
	}
	return NULL;
}

/* Log where each thread of @pid is (for a test that did not see it stuck). */
static void log_threads(pid_t pid)
{
	char pat[48], sc[128], stk[512];
	glob_t g;
	size_t j;

	snprintf(pat, sizeof(pat), "/proc/%d/task/*", (int)pid);
	if (glob(pat, 0, NULL, &g))
		return;
	for (j = 0; j < g.gl_pathc; j++) {
		sc[0] = stk[0] = 0;
		sg_proc_read(g.gl_pathv[j], "syscall", sc, sizeof(sc));
		sg_proc_read(g.gl_pathv[j], "stack", stk, sizeof(stk));
		sc[strcspn(sc, "\n")] = 0;
		stk[strcspn(stk, "\n")] = 0;
		fprintf(stderr, "# %s: syscall %.40s, %s\n", g.gl_pathv[j], sc, stk);
	}
	globfree(&g);
}

/*
 * Threads of @pid in one of @states inside system call @nr (an ioctl():
 * of @request), with @fn on their kernel stack if given and readable.
 */
static int threads_in_call(pid_t pid, long nr, unsigned long request, const char *states,
			   const char *fn)
{
	char pat[48], stk[4096];
	glob_t g;
	size_t j;
	int n = 0;

	snprintf(pat, sizeof(pat), "/proc/%d/task/*", (int)pid);
	if (glob(pat, 0, NULL, &g))
		return 0;
	for (j = 0; j < g.gl_pathc; j++) {
		if (nr == SYS_ioctl ? !sg_asleep_in_ioctl(g.gl_pathv[j], request, states) :
		    !sg_asleep_in(g.gl_pathv[j], nr, states))
			continue;
		/* without a readable stack, the system call says enough */
		if (!fn || !sg_proc_read(g.gl_pathv[j], "stack", stk, sizeof(stk)) ||
		    strstr(stk, fn))
			n++;
	}
	globfree(&g);
	return n;
}

/* Threads of @pid asleep in @request, in one of @states. */
static int threads_in(pid_t pid, unsigned long request, const char *states)
{
	return threads_in_call(pid, SYS_ioctl, request, states, NULL);
}

/* Threads of @pid asleep ("D") in @request. */
static int asleep_in(pid_t pid, unsigned long request)
{
	return threads_in(pid, request, "D");
}

/*
 * The same stuck process (its fault on the test device stalled 20 s, its
 * mmap_lock read-held), but the ioctls behind it are the other device's:
 * a CTX_CREATE waiting for the lock for writing, and behind it a
 * PREFETCH to system memory of a buffer in the other device's memory, an
 * asynchronous PREFETCH, a RESIDENCY and an ADVISE, each waiting for it
 * for reading; while the ADVISE waits, another thread destroys the context
 * it names, its last (the teardown waits for the svm's references, so the
 * ADVISE holds none while it waits: before, the destroy waited inside its
 * section for the ADVISE).  The other device is unbound meanwhile: its own ioctls
 * wait for the lock outside their sections (svmgpu_dev_lock_mm()), so the
 * unbind waits for none of them; inside their sections it waited for the
 * stuck fault.  Removal moves the buffer back without the process's
 * mmap_lock (by pfn), every byte in place; each ioctl, once the lock is
 * free, fails with -ENODEV.
 */
TEST_TIMEOUT(120)
TEST(unbind_waits_for_none_of_its_ioctls_behind_a_stuck_process)
{
	static const unsigned long requests[] = {
		DRM_IOCTL_SVMGPU_PREFETCH, DRM_IOCTL_SVMGPU_RESIDENCY, DRM_IOCTL_SVMGPU_ADVISE,
	};
	char test[32], inject[256], task[64], other[32], dbg[64];
	const char *why = NULL;
	long long before = sg_dev_counter("fault_delays_injected");
	int fd, st = 0, i, ret, minor, asleep;
	long long waits0;
	bool logged = false;
	int *destroyed;
	double t0, took;
	pid_t pid;

	ret = stuck_devices(test, other, inject, &why);
	ASSERT_GE(ret, 0);
	if (ret)
		SKIP(return, "%s", why);
	ASSERT_GE(sg_drm_minors(other, &minor, NULL), 0);
	fd = sg_open_render(minor);
	ASSERT_GE(fd, 0);
	ret = sg_has_local_mem(fd);
	close(fd);
	if (!ret)
		SKIP(return, "no local memory on %s", other);
	snprintf(dbg, sizeof(dbg), "/sys/kernel/debug/dri/%d", sg_render_card(minor));
	waits0 = sg_debugfs_value_in(dbg, "svmgpu_device", "mm_lock_waits");
	ASSERT_GE(waits0, 0);
	destroyed = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(destroyed, MAP_FAILED);
	*destroyed = 0;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct own_walks w = { .creator = getpid(), .buf = sg_map_2m(4 * MB),
				       .destroyed = destroyed };
		struct own_walk args[OW_COUNT];
		pthread_t t[OW_COUNT];
		unsigned char *p;
		uint32_t ctx, q;
		struct svmgpu_cmd fill;
		uint64_t moved = 0;
		int qfd;

		qfd = sg_child_queue(&p, &ctx, &q);
		fill = sg_fill(p, 4096, 0x7e, 1);
		w.fd = sg_open_render(minor);
		if (qfd < 0 || w.fd < 0 || !w.buf || sg_ctx_create(w.fd, &w.ctx))
			_exit(11);
		sg_fill_pat(w.buf, 4 * MB, 0x47);
		/* a shared page's first touch in the child faults: before the stall */
		*destroyed = 0;
		if (sg_prefetch(w.fd, w.buf, 4 * MB, DRM_SVMGPU_PREFETCH_DEVICE, &moved) ||
		    moved != 4 * MB / PAGE)
			_exit(12);
		/* Each thread's stack touched before the stall (see above). */
		for (i = 0; i < OW_COUNT; i++) {
			unsigned char *stack = sg_map_anon(WALK_STACK);
			pthread_attr_t attr;

			args[i] = (struct own_walk){ .w = &w, .which = i };
			if (!stack)
				_exit(13);
			memset(stack, 0, WALK_STACK);
			if (pthread_attr_init(&attr) ||
			    pthread_attr_setstack(&attr, stack, WALK_STACK) ||
			    pthread_create(&t[i], &attr, walk_behind_creator, &args[i]))
				_exit(13);
		}
		for (i = 0; i < 2000 && __atomic_load_n(&w.ready, __ATOMIC_ACQUIRE) < OW_COUNT;
		     i++)
			usleep(5000);
		ret = sg_stall_fault(inject, 20000, qfd, q, &fill, before);
		if (ret)
			_exit(13 + ret);
		/* the other device is gone by the time the lock is had */
		if (sg_ctx_create(w.fd, &ctx) != -ENODEV)
			_exit(17);
		for (i = 0; i < OW_COUNT; i++)
			if (pthread_join(t[i], NULL) || w.ret[i] != (i == OW_DESTROY ? 0 : -ENODEV))
				_exit(20 + i);
		/* every byte back in system memory */
		_exit(sg_check_pat(w.buf, 4 * MB, 0x47) == -1 ? 0 : 19);
	}
	/*
	 * The creator asleep in its CTX_CREATE, the four walks behind it, the
	 * context's destroy returned (the ADVISE waiting for the lock holds
	 * no reference to what the destroy tears down).
	 */
	snprintf(task, sizeof(task), "/proc/%d", (int)pid);
	t0 = sg_now_s();
	for (i = 0; i < 4000; i++) {
		asleep = asleep_in(pid, DRM_IOCTL_SVMGPU_PREFETCH) +
			 asleep_in(pid, DRM_IOCTL_SVMGPU_RESIDENCY) +
			 asleep_in(pid, DRM_IOCTL_SVMGPU_ADVISE);
		if (sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D") &&
		    asleep == OW_WALKS && __atomic_load_n(destroyed, __ATOMIC_ACQUIRE))
			break;
		if (!logged && sg_now_s() - t0 > 8) {
			log_threads(pid);
			logged = true;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			TH_LOG("the child ended first: status 0x%x", st);
			ASSERT_TRUE(0);
		}
		usleep(5000);
	}
	if (i == 4000) {
		for (i = 0; i < (int)(sizeof(requests) / sizeof(requests[0])); i++)
			TH_LOG("ioctl 0x%lx: %d threads asleep in it", requests[i],
			       asleep_in(pid, requests[i]));
		TH_LOG("creator asleep in CTX_CREATE: %d; destroy returned %d (%d asleep in it)",
		       sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D"), *destroyed,
		       asleep_in(pid, DRM_IOCTL_SVMGPU_CTX_DESTROY));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		ASSERT_TRUE(0);
	}
	/*
	 * The walks left their sections to wait (svmgpu_dev_lock_mm()); the
	 * RESIDENCY too: the CTX_CREATE registered the interval tree, which
	 * its notifier would have waited to register, before its section.
	 */
	EXPECT_GE(sg_debugfs_value_in(dbg, "svmgpu_device", "mm_lock_waits") - waits0, OW_WALKS);
	t0 = sg_now_s();
	EXPECT_EQ(sg_driver_bind(other, false), 0);
	took = sg_now_s() - t0;
	TH_LOG("unbind of %s took %.2f s, its CTX_CREATE and %d walks waiting behind a process stuck 20 s",
	       other, took, OW_WALKS);
	/* still stuck: the unbind did not wait for it */
	EXPECT_TRUE(sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D"));
	/* 2 s of it: removal tries the owner's mmap_lock, then moves by pfn */
	EXPECT_LT(took, 8.0);
	EXPECT_EQ(sg_driver_bind(other, true), 0);
	EXPECT_TRUE(render_node_appears(other));
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
	munmap(destroyed, 4096);
}

/* What the thread of the other device's fault does once its fault waits. */
enum own_end {
	OWN_WAIT,	/* WAITs for its FILL */
	OWN_CLOSE,	/* closes the file: its last context's teardown */
	OWN_DESTROY,	/* destroys the queue, then the context (its last) */
};

/* Shared by the test and its child: the child's first touch faults before the stall. */
struct own_shared {
	long long waits0;	/* mm_lock_waits before the FILL; -1 until read */
	int go;			/* the test saw the fault work wait: end it */
};

/* The thread of the other device's fault, behind the creator (below). */
struct own_fault {
	int fd;			/* the other device's file */
	uint32_t ctx;		/* its context */
	uint32_t q;		/* a queue of it */
	pid_t creator;
	unsigned char *dst;	/* the page the FILL faults on */
	enum own_end end;
	struct own_shared *sh;
	int ready;
	int ret;		/* OWN_WAIT: the FILL's WAIT; else the teardown's */
};

/*
 * Runs on a stack touched before the stall, and touches nothing else that
 * might fault (the mmap_lock has a writer queued): no stdio, no malloc.
 */
static void *fault_behind_creator(void *arg)
{
	struct own_fault *f = arg;
	struct svmgpu_cmd fill = sg_fill(f->dst, PAGE, 0x7e, 1);
	char task[48];
	uint64_t seq = 0;
	int i;

	snprintf(task, sizeof(task), "/proc/self/task/%d", (int)f->creator);
	for (i = 0; i < 8000 && !sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D"); i++) {
		__atomic_store_n(&f->ready, 1, __ATOMIC_RELEASE);
		usleep(5000);
	}
	f->ret = sg_submit(f->fd, f->q, &fill, 1, &seq);
	if (f->ret)
		return NULL;
	if (f->end == OWN_WAIT) {
		f->ret = sg_wait(f->fd, f->q, seq, seq, 60ull * 1000000000, NULL);
		return NULL;
	}
	for (i = 0; i < 3000 && !__atomic_load_n(&f->sh->go, __ATOMIC_ACQUIRE); i++)
		usleep(5000);
	if (f->end == OWN_CLOSE) {
		f->ret = close(f->fd) ? -errno : 0;
	} else {
		f->ret = sg_queue_destroy(f->fd, f->q);
		if (!f->ret)
			f->ret = sg_ctx_destroy(f->fd, f->ctx);
	}
	return NULL;
}

/* Threads of @pid asleep in the teardown of @end (their kernel stack says so). */
static int own_tearing_down(pid_t pid, enum own_end end)
{
	if (end == OWN_CLOSE)
		return threads_in_call(pid, SYS_close, 0, "D", "svmgpu_svm_put_ctx");
	return threads_in_call(pid, SYS_ioctl, DRM_IOCTL_SVMGPU_CTX_DESTROY, "D",
			       "svmgpu_svm_put_ctx");
}

/*
 * The same stuck process (its fault on the test device stalled 20 s, 12 s
 * for @end a teardown, its mmap_lock read-held, a CTX_CREATE waiting for
 * it for writing), and behind them a device fault on the other device: its
 * FILL of a page the CPU has filled but the device does not map, whose
 * fault work waits for the mmap_lock with a reference to the process's
 * svm.  Then @end: the
 * FILL's thread WAITs for it, or tears down the other device's last
 * context of the process (closing the file, or destroying the queue and
 * the context), which waits for that reference.  The other device is
 * unbound meanwhile: it must wait for neither.  The fault work waits
 * outside its section (before, remove flushed the device's fault work:
 * it waited for the stuck fault, 20 s), and the teardown waits for it
 * holding neither teardown_sem nor a section (before, the unbind waited
 * for the first on close, and for the section of CTX_DESTROY).  The FILL
 * never runs: its WAIT fails with -ECANCELED (the removal stopped the
 * queue), the teardown succeeds once the fault work, having the lock,
 * finds the device gone and drops its record; the page keeps every byte
 * the CPU wrote.
 */
static void unbind_behind_a_stuck_fault(enum own_end end)
{
	char test[32], inject[256], task[64], other[32], dbg[64];
	/* 12 s for the teardowns: the program sleeps through five stalls */
	unsigned int stall = end == OWN_WAIT ? 20000 : 12000;
	const char *why = NULL;
	long long before = sg_dev_counter("fault_delays_injected"), waits = 0;
	struct own_shared *sh;
	int fd, st = 0, i, ret, minor;
	double t0, took;
	bool there;
	pid_t pid;

	ret = stuck_devices(test, other, inject, &why);
	ASSERT_GE(ret, 0);
	if (ret)
		SKIP(return, "%s", why);
	ASSERT_GE(sg_drm_minors(other, &minor, NULL), 0);
	snprintf(dbg, sizeof(dbg), "/sys/kernel/debug/dri/%d", sg_render_card(minor));
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(sh, MAP_FAILED);
	sh->waits0 = -1;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		struct own_fault f = { .creator = getpid(), .end = end, .sh = sh };
		unsigned char *p, *buf = sg_map_anon(8 * MB), *stack = sg_map_anon(WALK_STACK);
		struct svmgpu_cmd fill, warm;
		pthread_attr_t attr;
		uint32_t ctx, tq;
		pthread_t t;
		int qfd, fd2;

		/* no khugepaged collapse (an mmap_lock writer) meanwhile */
		prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
		qfd = sg_child_queue(&p, &ctx, &tq);
		fill = sg_fill(p, PAGE, 0x7e, 1);
		f.fd = sg_open_render(minor);
		fd2 = sg_open();
		if (f.fd < 0 || fd2 < 0 || !buf || !stack || sg_ctx_create(f.fd, &f.ctx) ||
		    sg_queue_create(f.fd, f.ctx, 0, &f.q))
			_exit(11);
		/*
		 * Every page filled by the CPU; the device writes the first
		 * (and maps its window), the FILL below faults 6 MiB further.
		 */
		memset(buf, 0x5a, 8 * MB);
		warm = sg_fill(buf, PAGE, 0x11, 1);
		if (sg_run_ok(f.fd, f.q, warm))
			_exit(12);
		f.dst = buf + 6 * MB;
		sh->waits0 = sg_debugfs_value_in(dbg, "svmgpu_device", "mm_lock_waits");
		memset(stack, 0, WALK_STACK);
		if (pthread_attr_init(&attr) || pthread_attr_setstack(&attr, stack, WALK_STACK) ||
		    pthread_create(&t, &attr, fault_behind_creator, &f))
			_exit(13);
		for (i = 0; i < 2000 && !__atomic_load_n(&f.ready, __ATOMIC_ACQUIRE); i++)
			usleep(5000);
		ret = sg_stall_fault(inject, stall, qfd, tq, &fill, before);
		if (ret)
			_exit(13 + ret);
		if (sg_ctx_create(fd2, &ctx))
			_exit(17);
		if (pthread_join(t, NULL))
			_exit(18);
		if (f.ret != (end == OWN_WAIT ? -ECANCELED : 0)) {
			fprintf(stderr, "# the other device's FILL (end %d): %d\n", end, f.ret);
			_exit(19);
		}
		/* the device wrote the first page before; nothing else */
		if (!sg_all_bytes(buf, 0x11, PAGE) ||
		    !sg_all_bytes(buf + PAGE, 0x5a, 8 * MB - PAGE))
			_exit(20);
		_exit(0);
	}
	snprintf(task, sizeof(task), "/proc/%d", (int)pid);
	t0 = sg_now_s();
	for (i = 0; i < 4000; i++) {
		waits = sg_debugfs_value_in(dbg, "svmgpu_device", "mm_lock_waits");
		/*
		 * The creator asleep; the other device's fault work waiting
		 * behind it; then the FILL's thread in its WAIT, or in the
		 * teardown, which waits for that fault work.
		 */
		if (sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D") &&
		    sh->waits0 >= 0 && waits > sh->waits0)
			__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
		there = end == OWN_WAIT ? threads_in(pid, DRM_IOCTL_SVMGPU_WAIT, "SD") :
			own_tearing_down(pid, end);
		if (sh->go && there)
			break;
		if (sg_now_s() - t0 > 15)
			break;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			TH_LOG("the child ended first: status 0x%x", st);
			ASSERT_TRUE(0);
		}
		usleep(5000);
	}
	if (!sh->go || !there)
		log_threads(pid);
	EXPECT_TRUE(sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D"));
	EXPECT_GE(sh->waits0, 0);
	EXPECT_GT(waits, sh->waits0);
	EXPECT_TRUE(there);
	t0 = sg_now_s();
	EXPECT_EQ(sg_driver_bind(other, false), 0);
	took = sg_now_s() - t0;
	TH_LOG("unbind of %s took %.2f s, its fault (end %d) waiting behind a process stuck %u s",
	       other, took, end, stall / 1000);
	/* still stuck: the unbind did not wait for it, nor for the teardown */
	EXPECT_TRUE(sg_asleep_in_ioctl(task, DRM_IOCTL_SVMGPU_CTX_CREATE, "D"));
	if (end != OWN_WAIT)
		EXPECT_TRUE(own_tearing_down(pid, end));
	EXPECT_LT(took, stall * 0.6 / 1000);
	EXPECT_EQ(sg_driver_bind(other, true), 0);
	EXPECT_TRUE(render_node_appears(other));
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
	fd = sg_open();
	ASSERT_GE(fd, 0);
	close(fd);
	munmap(sh, 4096);
}

TEST_TIMEOUT(120)
TEST(unbind_waits_for_none_of_its_faults_behind_a_stuck_process)
{
	unbind_behind_a_stuck_fault(OWN_WAIT);
}

TEST_TIMEOUT(120)
TEST(unbind_waits_for_no_close_waiting_for_a_stuck_fault)
{
	unbind_behind_a_stuck_fault(OWN_CLOSE);
}

TEST_TIMEOUT(120)
TEST(unbind_waits_for_no_ctx_destroy_waiting_for_a_stuck_fault)
{
	unbind_behind_a_stuck_fault(OWN_DESTROY);
}

/*
 * A process's first device fault inserts its first interval notifier;
 * that registered the address space's interval tree, taking its mmap_lock
 * for writing (uninterruptibly, in the device's fault work), so a fault of
 * the process stuck in I/O on one device, holding the lock for reading,
 * held up its first fault on the other for as long (20 s here): the
 * process's first CTX_CREATE registers the tree now.  A FILL on the other
 * device of memory the CPU filled, while the test device's fault is
 * stalled 20 s, completes in far less, every byte written.
 */
TEST_TIMEOUT(120)
TEST(a_first_device_fault_takes_no_mmap_write_lock)
{
	char test[32], inject[256], other[32];
	const char *why = NULL;
	long long before = sg_dev_counter("fault_delays_injected");
	int st = 0, ret, minor;
	pid_t pid;

	ret = stuck_devices(test, other, inject, &why);
	ASSERT_GE(ret, 0);
	if (ret)
		SKIP(return, "%s", why);
	ASSERT_GE(sg_drm_minors(other, &minor, NULL), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		unsigned char *p, *buf;
		struct svmgpu_cmd fill;
		uint32_t ctx, tq, octx, oq;
		int qfd, ofd;
		double t0, took;

		/* no khugepaged collapse (an mmap_lock writer) meanwhile */
		prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
		buf = sg_map_anon(2 * MB);
		qfd = sg_child_queue(&p, &ctx, &tq);
		fill = sg_fill(p, PAGE, 0x7e, 1);
		ofd = sg_open_render(minor);
		if (ofd < 0 || !buf || sg_ctx_create(ofd, &octx) || sg_queue_create(ofd, octx, 0, &oq))
			_exit(11);
		memset(buf, 0x5a, 2 * MB);
		ret = sg_stall_fault(inject, 20000, qfd, tq, &fill, before);
		if (ret)
			_exit(11 + ret);
		t0 = sg_now_s();
		if (sg_run_ok(ofd, oq, sg_fill(buf, 2 * MB, 0x3c, 1)))
			_exit(15);
		took = sg_now_s() - t0;
		fprintf(stderr, "# the other device's first fault resolved in %.2f s beside a fault stuck 20 s\n",
			took);
		if (took > 10.0)
			_exit(16);
		_exit(sg_all_bytes(buf, 0x3c, 2 * MB) ? 0 : 17);
	}
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST_HARNESS_MAIN
