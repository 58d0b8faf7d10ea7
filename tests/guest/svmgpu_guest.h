/* SPDX-License-Identifier: MIT */
/*
 * svmgpu_guest.h - small helpers for the in-guest tests: open the render
 * node, create contexts and queues, build device commands from the layouts
 * of include/svmgpu/svmgpu_hw.h, submit and wait.  Every helper returns 0
 * or -errno (ioctl failures), never exits.
 */
#ifndef SVMGPU_GUEST_H
#define SVMGPU_GUEST_H

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/userfaultfd.h>
#include <xf86drm.h>

#include <svmgpu/svmgpu_hw.h>
#include <svmgpu_drm.h>

#include "svmgpu_proc.h"

#define SG_TIMEOUT_NS	(30ull * 1000000000ull)

static inline int sg_ioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret == -1 && (errno == EINTR || errno == EAGAIN));
	return ret ? -errno : 0;
}

/* /dev/dri/renderD@minor opened if it is an svmgpu, else -1. */
static inline int sg_open_render(int minor)
{
	char path[64];
	drmVersionPtr v;
	int fd, ours;

	snprintf(path, sizeof(path), "/dev/dri/renderD%d", minor);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	v = drmGetVersion(fd);
	ours = v && !strcmp(v->name, "svmgpu");
	if (v)
		drmFreeVersion(v);
	if (ours)
		return fd;
	close(fd);
	return -1;
}

/*
 * The DRM minors of the svmgpu PCI function @bdf (sysfs drm/renderDN and
 * drm/cardN): its render minor in @render and primary minor in @card (each
 * may be NULL), -1 for a node it does not have.  Returns the render minor.
 * The debugfs directory of a device is its primary minor's: with another
 * DRM driver's device in the guest (a VGA adapter has a card and no render
 * node), it is not render minor - 128.
 */
static inline int sg_drm_minors(const char *bdf, int *render, int *card)
{
	int r = -1, c = -1;
	char pat[128];
	glob_t n;
	size_t j;

	snprintf(pat, sizeof(pat), "/sys/bus/pci/devices/%s/drm/*", bdf);
	if (!glob(pat, 0, NULL, &n)) {
		for (j = 0; j < n.gl_pathc; j++) {
			const char *b = strrchr(n.gl_pathv[j], '/') + 1;

			if (!strncmp(b, "renderD", 7))
				r = atoi(b + 7);
			else if (!strncmp(b, "card", 4))
				c = atoi(b + 4);
		}
		globfree(&n);
	}
	if (render)
		*render = r;
	if (card)
		*card = c;
	return r;
}

/* The primary minor of the device of render minor @render, or -1. */
static inline int sg_render_card(int render)
{
	char pat[96];
	glob_t g;
	int c = -1;

	snprintf(pat, sizeof(pat), "/sys/class/drm/renderD%d/device/drm/card*", render);
	if (!glob(pat, 0, NULL, &g) && g.gl_pathc)
		c = atoi(strrchr(g.gl_pathv[0], '/') + 5);
	globfree(&g);
	return c;
}

/*
 * The test device, the one that sg_open(), sg_find_bdf() and the debugfs
 * helpers below all name, so that a test's ioctls, counters and resets go
 * to one device when the guest has several: of the svmgpu functions bound
 * and with a render node, the one with the lowest PCI address (the
 * library's device 0: svmgpu_device_list() sorts by address).  Chosen on
 * first use in a process (and its children) and kept while that function
 * exists, bound or not: a test that unbinds it and binds it again waits
 * for that device, never passes on to another one.  Chosen again once the
 * function is removed.
 */
static char sg_test_bdf[32];

/*
 * The test device's PCI address in @bdf, render minor in @render and
 * primary minor in @card (each may be NULL): 0, or -ENOENT while it has no
 * render node (unbound, or no svmgpu at all; @bdf is still set if there
 * is a test device).
 */
static inline int sg_test_device(char *bdf, size_t len, int *render, int *card)
{
	char path[300];
	int r = -1, c = -1;
	const char *b;
	glob_t g;
	size_t i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", sg_test_bdf);
	if (!sg_test_bdf[0] || access(path, F_OK)) {
		sg_test_bdf[0] = 0;
		/* bound functions' links, "DDDD:BB:DD.F": glob sorts them by address */
		if (glob("/sys/bus/pci/drivers/svmgpu/*:*", 0, NULL, &g))
			return -ENOENT;
		for (i = 0; i < g.gl_pathc && !sg_test_bdf[0]; i++) {
			b = strrchr(g.gl_pathv[i], '/') + 1;
			if (sg_drm_minors(b, NULL, NULL) >= 0 && strlen(b) < sizeof(sg_test_bdf))
				snprintf(sg_test_bdf, sizeof(sg_test_bdf), "%s", b);
		}
		globfree(&g);
		if (!sg_test_bdf[0])
			return -ENOENT;
	}
	if (bdf)
		snprintf(bdf, len, "%s", sg_test_bdf);
	sg_drm_minors(sg_test_bdf, &r, &c);
	if (render)
		*render = r;
	if (card)
		*card = c;
	return r < 0 ? -ENOENT : 0;
}

/* The test device's render node (sg_test_device()), or -1 (errno ENOENT). */
static inline int sg_open(void)
{
	int minor, fd;

	if (!sg_test_device(NULL, 0, &minor, NULL)) {
		fd = sg_open_render(minor);
		if (fd >= 0)
			return fd;
	}
	errno = ENOENT;
	return -1;
}

static inline int sg_info(int fd, struct drm_svmgpu_get_info *info)
{
	memset(info, 0, sizeof(*info));
	return sg_ioctl(fd, DRM_IOCTL_SVMGPU_GET_INFO, info);
}

static inline int sg_ctx_create(int fd, uint32_t *ctx)
{
	struct drm_svmgpu_ctx_create a = { 0 };
	int ret = sg_ioctl(fd, DRM_IOCTL_SVMGPU_CTX_CREATE, &a);

	*ctx = a.handle;
	return ret;
}

static inline int sg_ctx_destroy(int fd, uint32_t ctx)
{
	struct drm_svmgpu_ctx_destroy a = { .handle = ctx };

	return sg_ioctl(fd, DRM_IOCTL_SVMGPU_CTX_DESTROY, &a);
}

static inline int sg_queue_create(int fd, uint32_t ctx, uint32_t entries, uint32_t *q)
{
	struct drm_svmgpu_queue_create a = { .ctx_handle = ctx, .ring_entries = entries };
	int ret = sg_ioctl(fd, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &a);

	*q = a.handle;
	return ret;
}

static inline int sg_queue_destroy(int fd, uint32_t q)
{
	struct drm_svmgpu_queue_destroy a = { .handle = q };

	return sg_ioctl(fd, DRM_IOCTL_SVMGPU_QUEUE_DESTROY, &a);
}

static inline int sg_submit(int fd, uint32_t q, const struct svmgpu_cmd *cmds,
			    uint32_t n, uint64_t *seq)
{
	struct drm_svmgpu_submit a = {
		.queue_handle = q, .count = n, .cmds = (uintptr_t)cmds,
	};
	int ret = sg_ioctl(fd, DRM_IOCTL_SVMGPU_SUBMIT, &a);

	if (seq)
		*seq = a.seq;
	return ret;
}

static inline int sg_wait(int fd, uint32_t q, uint64_t seq, uint64_t first,
			  uint64_t timeout_ns, struct drm_svmgpu_wait *out)
{
	struct drm_svmgpu_wait a = {
		.queue_handle = q, .seq = seq, .first_seq = first,
		.timeout_ns = timeout_ns,
	};
	int ret = sg_ioctl(fd, DRM_IOCTL_SVMGPU_WAIT, &a);

	if (out)
		*out = a;
	return ret;
}

static inline int sg_stats(int fd, uint32_t ctx, int clear, struct drm_svmgpu_get_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->ctx_handle = ctx;
	s->flags = clear ? DRM_SVMGPU_STATS_CLEAR : 0;
	return sg_ioctl(fd, DRM_IOCTL_SVMGPU_GET_STATS, s);
}

/* ---- command builders ---- */

static inline struct svmgpu_cmd sg_nop(void)
{
	struct svmgpu_cmd c;

	memset(&c, 0, sizeof(c));
	c.hdr.opcode = SVMGPU_CMD_NOP;
	return c;
}

static inline struct svmgpu_cmd sg_copy(const void *dst, const void *src, uint64_t size)
{
	struct svmgpu_cmd c = sg_nop();

	c.hdr.opcode = SVMGPU_CMD_COPY;
	c.copy.dst = (uintptr_t)dst;
	c.copy.src = (uintptr_t)src;
	c.copy.size = size;
	return c;
}

static inline struct svmgpu_cmd sg_fill(void *dst, uint64_t size, uint64_t value,
					uint32_t width)
{
	struct svmgpu_cmd c = sg_nop();

	c.hdr.opcode = SVMGPU_CMD_FILL;
	c.fill.dst = (uintptr_t)dst;
	c.fill.size = size;
	c.fill.value = value;
	c.fill.width = width;
	return c;
}

static inline struct svmgpu_cmd sg_signal(void *va, uint64_t value)
{
	struct svmgpu_cmd c = sg_nop();

	c.hdr.opcode = SVMGPU_CMD_SIGNAL;
	c.signal.va = (uintptr_t)va;
	c.signal.value = value;
	return c;
}

static inline struct svmgpu_cmd sg_atomic_add(void *va, uint64_t operand, uint32_t size)
{
	struct svmgpu_cmd c = sg_nop();

	c.hdr.opcode = SVMGPU_CMD_ATOMIC;
	c.atomic.va = (uintptr_t)va;
	c.atomic.operand = operand;
	c.atomic.op = SVMGPU_ATOMIC_ADD;
	c.atomic.size = size;
	return c;
}

/* Stall until *va == value (no timeout when timeout_ns is 0). */
static inline struct svmgpu_cmd sg_wait_eq(const void *va, uint64_t value,
					   uint64_t timeout_ns)
{
	struct svmgpu_cmd c = sg_nop();

	c.hdr.opcode = SVMGPU_CMD_WAIT;
	c.wait.va = (uintptr_t)va;
	c.wait.value = value;
	c.wait.mask = ~0ull;
	c.wait.cond = SVMGPU_WAIT_EQ;
	c.wait.timeout_ns = timeout_ns;
	return c;
}

static inline struct svmgpu_cmd sg_launch(const void *code, const void *args,
					  uint32_t grid_x, uint32_t wg_size,
					  uint64_t budget)
{
	struct svmgpu_cmd c = sg_nop();

	c.hdr.opcode = SVMGPU_CMD_LAUNCH;
	c.launch.code_va = (uintptr_t)code;
	c.launch.args_va = (uintptr_t)args;
	c.launch.grid_x = grid_x;
	c.launch.grid_y = 1;
	c.launch.grid_z = 1;
	c.launch.wg_size = wg_size;
	c.launch.budget = budget;
	return c;
}

/* Submit one command and wait for it; *w gets the completion report. */
static inline int sg_run(int fd, uint32_t q, struct svmgpu_cmd c,
			 struct drm_svmgpu_wait *w)
{
	struct drm_svmgpu_wait tmp;
	uint64_t seq;
	int ret;

	ret = sg_submit(fd, q, &c, 1, &seq);
	if (ret)
		return ret;
	return sg_wait(fd, q, seq, seq, SG_TIMEOUT_NS, w ? w : &tmp);
}

/* Submit one command that must succeed; returns 0, -errno or the device error. */
static inline int sg_run_ok(int fd, uint32_t q, struct svmgpu_cmd c)
{
	struct drm_svmgpu_wait w;
	int ret = sg_run(fd, q, c, &w);

	if (ret)
		return ret;
	if (w.err_code) {
		fprintf(stderr, "# command failed: error %u va 0x%llx access %u reason %u\n",
			w.err_code, (unsigned long long)w.err_va, w.err_access,
			w.err_reason);
		return (int)w.err_code;
	}
	return 0;
}

/*
 * On a wedged device new work fails at once: without the scheduler SUBMIT
 * returns -ENODEV; with it (@sched 1) SUBMIT takes the command and WAIT
 * reports it lost (DRM_SVMGPU_ERR_RESET); @sched -1 accepts either.  0 if
 * @c failed as it should; else the SUBMIT's or WAIT's -errno, or 1 if it
 * completed some other way.
 */
static inline int sg_run_fails_wedged(int fd, uint32_t q, struct svmgpu_cmd c, int sched)
{
	struct drm_svmgpu_wait w;
	uint64_t seq;
	int ret = sg_submit(fd, q, &c, 1, &seq);

	if (ret)
		return ret == -ENODEV && sched != 1 ? 0 : ret;
	if (sched == 0)
		return 1;
	ret = sg_wait(fd, q, seq, seq, SG_TIMEOUT_NS, &w);
	if (ret)
		return ret;
	return w.err_code == DRM_SVMGPU_ERR_RESET ? 0 : 1;
}

static inline int sg_all_bytes(const void *p, int v, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != (unsigned char)v)
			return 0;
	return 1;
}

/* A private anonymous read-write mapping, or NULL. */
static inline void *sg_map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * @size bytes of anonymous memory at a 2 MiB-aligned address, or NULL:
 * every PMD of it its own, whatever is mapped next to it, when @size is a
 * multiple of 2 MiB (else the last one may be shared with a later mapping).
 */
static inline void *sg_map_2m(size_t size)
{
	const size_t huge = 2ul << 20;
	unsigned char *p = mmap(NULL, size + huge, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (unsigned char *)(((uintptr_t)p + huge - 1) & ~(huge - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + size, p + size + huge - (a + size));
	return a;
}

/*
 * A range whose synchronous PREFETCH provably runs for minutes, or NULL:
 * SG_BLOCKER bytes of MAP_NORESERVE anonymous memory with its first page
 * touched (an anon_vma, so a PREFETCH to system memory cannot skip the VMA
 * whole but walks it 2 MiB at a time: 8 M windows).  Its size costs
 * nothing until touched; it only has to outlast any stall of a test on a
 * loaded host.
 */
#define SG_BLOCKER	(16ul << 40)

static inline void *sg_map_blocker(void)
{
	unsigned char *p = mmap(NULL, SG_BLOCKER, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	p[0] = 1;
	return p;
}

/* Kernel code of an endless loop (LOOP; ENDLOOP; EXIT): it ends when stopped. */
static inline const uint64_t *sg_spin_kernel(void)
{
	static const uint64_t code[] __attribute__((aligned(8))) = {
		SVMGPU_ISA_ENCODE(SVMGPU_OP_LOOP, 0, 0, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_ENDLOOP, 0, 0, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_EXIT, 0, 0, 0, 0),
	};

	return code;
}

static inline double sg_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Write a string to a sysfs/debugfs file: 0 or -errno. */
/* Write "mov eax, @v; ret" (x86-64) at @code, which is executable. */
static inline void sg_put_ret(unsigned char *code, unsigned char v)
{
	const unsigned char insn[] = { 0xb8, v, 0, 0, 0, 0xc3 };

	memcpy(code, insn, sizeof(insn));
	__builtin___clear_cache((char *)code, (char *)code + sizeof(insn));
}

/* Call the function at @code (one written by sg_put_ret()). */
static inline int sg_call_code(const unsigned char *code)
{
	int (*fn)(void);

	memcpy(&fn, &code, sizeof(fn));
	return fn();
}

static inline int sg_write_file(const char *path, const char *val)
{
	int f = open(path, O_WRONLY), ret = 0;

	if (f < 0)
		return -errno;
	if (write(f, val, strlen(val)) < 0)
		ret = -errno;
	close(f);
	return ret;
}

/* ---- memory cgroups (cgroup2 mounted by the tests themselves) ---- */

#define SG_CG_ROOT	"/tmp/svmgpu-cgroup"

/* The number at the start of file @path, or -1. */
static inline long long sg_file_ll(const char *path)
{
	char buf[64] = "";
	int f = open(path, O_RDONLY), n;

	if (f < 0)
		return -1;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	return n > 0 ? atoll(buf) : -1;
}

/*
 * Mount cgroup2 at SG_CG_ROOT with the memory controller for its children:
 * 0, or 1 with @why set if the kernel cannot (the test skips).
 */
static inline int sg_cg_memory(const char **why)
{
	mkdir(SG_CG_ROOT, 0755);
	if (mount("none", SG_CG_ROOT, "cgroup2", 0, NULL) && errno != EBUSY) {
		*why = strerror(errno);
		return 1;
	}
	if (sg_write_file(SG_CG_ROOT "/cgroup.subtree_control", "+memory")) {
		*why = "no memory controller";
		return 1;
	}
	return 0;
}

/*
 * Create cgroup SG_CG_ROOT/@name and move this process into it; its
 * memory.current path in @mem.  0 or -errno.
 */
static inline int sg_cg_enter(const char *name, char *mem, size_t len)
{
	char path[128], pid[32];

	snprintf(path, sizeof(path), SG_CG_ROOT "/%s", name);
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), SG_CG_ROOT "/%s/cgroup.procs", name);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (sg_write_file(path, pid))
		return -EIO;
	snprintf(mem, len, SG_CG_ROOT "/%s/memory.current", name);
	return 0;
}

/* Back to the root cgroup, and remove SG_CG_ROOT/@name (0 or -errno). */
static inline int sg_cg_leave(const char *name)
{
	char path[128], pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	if (sg_write_file(SG_CG_ROOT "/cgroup.procs", pid))
		return -EIO;
	snprintf(path, sizeof(path), SG_CG_ROOT "/%s", name);
	return rmdir(path) ? -errno : 0;
}

#define SG_NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

/* The huge page pool's size: read (@set < 0) or written; -1 if it cannot be. */
static inline long sg_nr_hugepages(long set)
{
	char buf[32];
	FILE *fp;
	long v = -1;

	if (set >= 0) {
		snprintf(buf, sizeof(buf), "%ld", set);
		return sg_write_file(SG_NR_HUGEPAGES, buf) ? -1 : set;
	}
	fp = fopen(SG_NR_HUGEPAGES, "r");
	if (!fp)
		return -1;
	if (fscanf(fp, "%ld", &v) != 1)
		v = -1;
	fclose(fp);
	return v;
}

/*
 * Read the (sysfs) file @path into @buf, NUL-terminated and cut at the first
 * newline: 0 or -errno (-EIO if the read fails).
 */
static inline int sg_read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

#define SG_DRV "/sys/bus/pci/drivers/svmgpu"

/* Bind (@bind) or unbind the PCI function @bdf to or from svmgpu: 0 or -errno. */
static inline int sg_driver_bind(const char *bdf, bool bind)
{
	return sg_write_file(bind ? SG_DRV "/bind" : SG_DRV "/unbind", bdf);
}

/* The PCI function @bdf is bound to svmgpu. */
static inline bool sg_driver_bound(const char *bdf)
{
	char path[128];

	snprintf(path, sizeof(path), SG_DRV "/%s", bdf);
	return !access(path, F_OK);
}

/*
 * sg_open() every 20 ms, for at most @secs seconds (a device being bound):
 * the fd, or a negative value if there is still no svmgpu render node.
 */
static inline int sg_open_wait(int secs)
{
	int i, fd = -1;

	for (i = 0; i < secs * 50 && (fd = sg_open()) < 0; i++)
		usleep(20000);
	return fd;
}

#define SG_PARAMS "/sys/module/svmgpu/parameters/"

/* Module parameter @name as a number; -1 if it cannot be read. */
static inline long long sg_param_read(const char *name)
{
	char path[128], buf[32] = "";
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), SG_PARAMS "%s", name);
	f = open(path, O_RDONLY);
	if (f < 0)
		return -1;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	return n > 0 ? atoll(buf) : -1;
}

/* Set module parameter @name to @v: 0 or -errno. */
static inline int sg_param_write(const char *name, long long v)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), SG_PARAMS "%s", name);
	snprintf(buf, sizeof(buf), "%lld", v);
	return sg_write_file(path, buf);
}

/*
 * The path of the test device's debugfs file @name (in its primary minor's
 * directory, else its render minor's): 0, or -ENOENT if it has none (or is
 * unbound).  With no test device at all, the first DRM minor's that has
 * it.
 */
static inline int sg_debugfs_path(const char *name, char *out, size_t len)
{
	int ret = -ENOENT, render, card;
	char pat[128];
	glob_t g;

	if (!sg_test_device(NULL, 0, &render, &card)) {
		snprintf(out, len, "/sys/kernel/debug/dri/%d/%s", card, name);
		if (card >= 0 && !access(out, F_OK))
			return 0;
		snprintf(out, len, "/sys/kernel/debug/dri/%d/%s", render, name);
		return access(out, F_OK) ? -ENOENT : 0;
	}
	if (sg_test_bdf[0])
		return -ENOENT;		/* it is unbound */
	snprintf(pat, sizeof(pat), "/sys/kernel/debug/dri/*/%s", name);
	if (!glob(pat, 0, NULL, &g) && g.gl_pathc) {
		snprintf(out, len, "%s", g.gl_pathv[0]);
		ret = 0;
	}
	globfree(&g);
	return ret;
}

/*
 * Read debugfs file @name of the DRM minor directory @dir (NULL: the test
 * device's, sg_debugfs_path()) into @buf, NUL-terminated; @buf[0] is a '\n'
 * so that "\nkey: " also finds the first line.  Returns the length read or
 * -1.
 */
static inline int sg_debugfs_read_in(const char *dir, const char *name, char *buf,
				     size_t size)
{
	char path[256];
	int f, len;

	if (dir)
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	else if (sg_debugfs_path(name, path, sizeof(path)))
		return -1;
	f = open(path, O_RDONLY);
	if (f < 0)
		return -1;
	buf[0] = '\n';
	len = read(f, buf + 1, size - 2);
	close(f);
	if (len < 0)
		return -1;
	buf[len + 1] = 0;
	return len;
}

static inline int sg_debugfs_read(const char *name, char *buf, size_t size)
{
	return sg_debugfs_read_in(NULL, name, buf, size);
}

/*
 * A line "key: N" (decimal, or 0x hex) of debugfs file @file of DRM minor
 * directory @dir (NULL: the test device's); -1 if none.
 */
static inline long long sg_debugfs_value_in(const char *dir, const char *file,
					    const char *name)
{
	char buf[8192], key[64], *l;

	if (sg_debugfs_read_in(dir, file, buf, sizeof(buf)) < 0)
		return -1;
	snprintf(key, sizeof(key), "\n%s: ", name);
	l = strstr(buf, key);
	return l ? strtoll(l + strlen(key), NULL, 0) : -1;
}

static inline long long sg_debugfs_value(const char *file, const char *name)
{
	return sg_debugfs_value_in(NULL, file, name);
}

/*
 * Kernel log records after sequence number @since (/dev/kmsg's
 * "prio,seq,..."; 0: all) that contain @what, or with @what NULL the
 * sequence number of the last record; -1 without /dev/kmsg.  Counting from
 * a sequence number, records that the ring drops meanwhile do not change
 * the count.
 */
static inline long long sg_kmsg_count(const char *what, unsigned long long since)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	unsigned long long seq, last = 0;
	long long n = 0;
	char rec[8192];
	ssize_t len;

	if (fd < 0)
		return -1;
	for (;;) {
		len = read(fd, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (len <= 0)
			break;
		rec[len] = 0;
		if (sscanf(rec, "%*u,%llu,", &seq) != 1)
			continue;
		last = seq;
		n += what && seq > since && strstr(rec, what);
	}
	close(fd);
	return what ? n : (long long)last;
}

/* A counter line "name: N" of debugfs svmgpu_device; -1 if there is none. */
static inline long long sg_dev_counter(const char *name)
{
	return sg_debugfs_value("svmgpu_device", name);
}

/*
 * For a test's teardown: a device that a failed (or half-run) test left
 * wedged (debugfs svmgpu_device "wedged: 1") is reset through debugfs
 * svmgpu_reset until it is not, three tries at most.  @dir: its DRM minor's
 * debugfs directory, NULL for the test device.
 */
static inline void sg_unwedge(const char *dir)
{
	char path[256];
	int i;

	if (dir)
		snprintf(path, sizeof(path), "%s/svmgpu_reset", dir);
	else if (sg_debugfs_path("svmgpu_reset", path, sizeof(path)))
		return;
	for (i = 0; i < 3 && sg_debugfs_value_in(dir, "svmgpu_device", "wedged") == 1; i++)
		sg_write_file(path, "1");
}

/*
 * The svmgpu PCI functions, bound or not, in /sys/bus/pci/devices order:
 * how many there are, and the address of the @nth (from 0; -1: the last) in
 * @bdf (may be NULL; left alone if there is no @nth).
 */
static inline int sg_pci_scan(int nth, char *bdf, size_t len)
{
	char path[300], id[2][32];
	int found = 0;
	glob_t g;
	size_t i;

	if (glob("/sys/bus/pci/devices/*", 0, NULL, &g))
		return 0;
	for (i = 0; i < g.gl_pathc; i++) {
		snprintf(path, sizeof(path), "%s/vendor", g.gl_pathv[i]);
		if (sg_read_str(path, id[0], sizeof(id[0])))
			continue;
		snprintf(path, sizeof(path), "%s/device", g.gl_pathv[i]);
		if (sg_read_str(path, id[1], sizeof(id[1])))
			continue;
		if (strtoul(id[0], NULL, 16) != SVMGPU_PCI_VENDOR_ID ||
		    strtoul(id[1], NULL, 16) != SVMGPU_PCI_DEVICE_ID)
			continue;
		if (bdf && (nth < 0 || found == nth))
			snprintf(bdf, len, "%s", strrchr(g.gl_pathv[i], '/') + 1);
		found++;
	}
	globfree(&g);
	return found;
}

/*
 * The svmgpu PCI functions, bound or not, in /sys/bus/pci/devices order:
 * how many there are, and the address of the first in @bdf (may be NULL).
 */
static inline int sg_pci_functions(char *bdf, size_t len)
{
	return sg_pci_scan(0, bdf, len);
}

/*
 * The address of the @nth svmgpu PCI function (from 0, in
 * /sys/bus/pci/devices order; -1: the last), bound or not: 0 or -ENOENT.
 */
static inline int sg_pci_function_nth(int nth, char *bdf, size_t len)
{
	int n = sg_pci_scan(nth, bdf, len);

	return (nth < 0 ? n > 0 : nth < n) ? 0 : -ENOENT;
}

/*
 * The PCI address of the test device (sg_test_device(), bound or not), or
 * without one of the first svmgpu function: 0 or -ENOENT.
 */
static inline int sg_find_bdf(char *bdf, size_t len)
{
	if (!sg_test_device(bdf, len, NULL, NULL) || sg_test_bdf[0])
		return 0;
	return sg_pci_functions(bdf, len) ? 0 : -ENOENT;
}

/* The device has local memory (GET_INFO caps). */
static inline int sg_has_local_mem(int fd)
{
	struct drm_svmgpu_get_info info;

	return !sg_info(fd, &info) && (info.caps & SVMGPU_CAPS_LOCAL_MEM);
}

/*
 * Test data that differs within and across pages: byte i of pattern @seed,
 * written and checked over [first, first + n) of p.
 */
static inline unsigned char sg_pat(unsigned long i, unsigned int seed)
{
	return (unsigned char)((i * 2654435761u) >> 13) ^ seed;
}

static inline void sg_fill_pat_at(unsigned char *p, size_t first, size_t n, unsigned int seed)
{
	size_t i;

	for (i = first; i < first + n; i++)
		p[i] = sg_pat(i, seed);
}

static inline void sg_fill_pat(unsigned char *p, size_t n, unsigned int seed)
{
	sg_fill_pat_at(p, 0, n, seed);
}

/* Offset of the first byte of p[first, first + n) not of the pattern, or -1. */
static inline long sg_check_pat_at(const unsigned char *p, size_t first, size_t n,
				   unsigned int seed)
{
	size_t i;

	for (i = first; i < first + n; i++)
		if (p[i] != sg_pat(i, seed))
			return (long)i;
	return -1;
}

static inline long sg_check_pat(const unsigned char *p, size_t n, unsigned int seed)
{
	return sg_check_pat_at(p, 0, n, seed);
}

/* PREFETCH [p, p + size) to DRM_SVMGPU_PREFETCH_DEVICE/_SYSTEM: 0 or -errno. */
static inline int sg_prefetch(int fd, const void *p, uint64_t size, uint32_t flags,
			      uint64_t *pages)
{
	struct drm_svmgpu_prefetch pf = {
		.flags = flags, .start = (uintptr_t)p, .size = size,
	};
	int ret = sg_ioctl(fd, DRM_IOCTL_SVMGPU_PREFETCH, &pf);

	if (pages)
		*pages = pf.pages;
	return ret;
}

/* Pages of [p, p + size) in device memory, or -errno. */
static inline long long sg_residency(int fd, const void *p, uint64_t size)
{
	struct drm_svmgpu_residency rs = { .start = (uintptr_t)p, .size = size };
	int ret = sg_ioctl(fd, DRM_IOCTL_SVMGPU_RESIDENCY, &rs);

	return ret ? ret : (long long)rs.pages;
}

/* A line "name: N" of debugfs svmgpu_devmem; -1 if there is none. */
static inline long long sg_devmem_value(const char *name)
{
	return sg_debugfs_value("svmgpu_devmem", name);
}

/*
 * Is the device memory of the device of debugfs directory @dir (NULL: the
 * first device) MEMORY_DEVICE_PRIVATE (svmgpu_devmem "type: private")?
 */
static inline int sg_devmem_private(const char *dir)
{
	char buf[1024];

	return sg_debugfs_read_in(dir, "svmgpu_devmem", buf, sizeof(buf)) >= 0 &&
	       !strncmp(buf, "\ntype: private", 14);
}

/*
 * Wait (at most 10 s) until svmgpu_devmem "used" of the device of debugfs
 * directory @dir (NULL: the test device) is @want; returns the last value.
 */
static inline long long sg_devmem_used_settles(const char *dir, long long want)
{
	long long v = -1;
	int i;

	for (i = 0; i < 500; i++) {
		v = sg_debugfs_value_in(dir, "svmgpu_devmem", "used");
		if (v == want)
			break;
		usleep(20000);
	}
	return v;
}

/* Is that task asleep uninterruptibly inside system call @nr? */
static inline int sg_blocked_in(const char *task, long nr)
{
	return sg_asleep_in(task, nr, "D");
}

/* A userfaultfd with @p..@p+@size registered in @mode, or -1. */
static inline int sg_uffd_register(void *p, size_t size, uint64_t mode)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = size },
		.mode = mode,
	};
	int u = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (u < 0)
		return -1;
	if (ioctl(u, UFFDIO_API, &api) || ioctl(u, UFFDIO_REGISTER, &reg)) {
		close(u);
		return -1;
	}
	return u;
}

/*
 * A hibernation test cycle (/sys/power/pm_test "devices": the freeze and
 * thaw callbacks, no image): 0 or -errno.  The kernel busy-waits 5 s in
 * between (hibernation_debug_sleep()), which a TCG host may stretch: the
 * soft-lockup and RCU stall thresholds are raised meanwhile.
 */
static inline int sg_hibernate_test(void)
{
	static const char *thresh = "/proc/sys/kernel/watchdog_thresh";
	static const char *stall = "/sys/module/rcupdate/parameters/rcu_cpu_stall_timeout";
	char t0[16] = "10", s0[16] = "21";
	int ret;

	sg_read_str(thresh, t0, sizeof(t0));
	sg_read_str(stall, s0, sizeof(s0));
	sg_write_file(thresh, "60");
	sg_write_file(stall, "300");
	ret = sg_write_file("/sys/power/pm_test", "devices");
	if (!ret)
		ret = sg_write_file("/sys/power/state", "disk");
	sg_write_file("/sys/power/pm_test", "none");
	sg_write_file(stall, s0);
	sg_write_file(thresh, t0);
	return ret;
}

/* Is a file system of type @type mounted (/proc/mounts)? */
static inline int sg_mounted_fs(const char *type)
{
	char dev[256], dir[256], fstype[64];
	FILE *f = fopen("/proc/mounts", "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fscanf(f, "%255s %255s %63s %*[^\n]", dev, dir, fstype) == 3)
		found = !strcmp(fstype, type);
	fclose(f);
	return found;
}

/*
 * Write an INJ_ register through debugfs svmgpu_inject (@name "hang_queues",
 * "fatal", ...; hw-spec 15): 0, -ENOENT without the file, or -errno.
 */
static inline int sg_inject(const char *name, unsigned int v)
{
	char path[256], buf[64];

	if (sg_debugfs_path("svmgpu_inject", path, sizeof(path)))
		return -ENOENT;
	snprintf(buf, sizeof(buf), "%s %u", name, v);
	return sg_write_file(path, buf);
}

/*
 * Wait up to @ms for the task of /proc directory @task to sleep
 * uninterruptibly inside system call @nr: 1 once it does, 0 if it never did.
 */
static inline int sg_await_blocked(const char *task, long nr, unsigned int ms)
{
	unsigned int waited;

	for (waited = 0; waited < ms && !sg_blocked_in(task, nr); waited += 5)
		usleep(5000);
	return sg_blocked_in(task, nr);
}

/*
 * Wait up to @ms for the forked child @pid to sleep uninterruptibly inside
 * system call @nr: @pid once it does, else -ETIMEDOUT with the child killed
 * and reaped.
 */
static inline pid_t sg_child_blocked(pid_t pid, long nr, unsigned int ms)
{
	char task[32];

	snprintf(task, sizeof(task), "/proc/%d", (int)pid);
	if (sg_await_blocked(task, nr, ms))
		return pid;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -ETIMEDOUT;
}

/*
 * In a forked child: an untouched page in *@p, and a context and a queue
 * on the test device; the fd, or _exit(10) if any of it fails.
 */
static inline int sg_child_queue(unsigned char **p, uint32_t *ctx, uint32_t *q)
{
	int fd = sg_open();

	*p = sg_map_anon(4096);
	if (fd < 0 || !*p || sg_ctx_create(fd, ctx) || sg_queue_create(fd, *ctx, 0, q))
		_exit(10);
	return fd;
}

/*
 * A forked child that dies with the test and steps in turn with it over two
 * pipes.  sg_peer_fork() returns the child's pid in the parent, 0 in the
 * child, or -errno; the child is killed if the parent dies (its
 * PR_SET_PDEATHSIG, checked against a parent already gone: _exit(125)), and
 * each side keeps only its own ends.  Either side then sends a byte with
 * sg_peer_post() and waits for one with sg_peer_wait(), which fails at EOF:
 * the other side exited (a child that fails before its post is seen at
 * once, not on a timeout).  A post to a side that exited raises SIGPIPE,
 * as any pipe write does: post only to a side that waits.  sg_peer_close() closes this side's ends; the
 * parent reaps the child itself, to assert on its status.
 */
struct sg_peer {
	pid_t pid;
	int rd;		/* this side's read end */
	int wr;		/* this side's write end */
};

static inline pid_t sg_peer_fork(struct sg_peer *pe)
{
	pid_t parent = getpid();
	int up[2], down[2], err;

	pe->rd = pe->wr = -1;
	if (pipe(up))
		return -errno;
	if (pipe(down)) {
		err = -errno;
		goto close_up;
	}
	pe->pid = fork();
	if (pe->pid < 0) {
		err = -errno;
		close(down[0]);
		close(down[1]);
		goto close_up;
	}
	if (!pe->pid) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(125);
		close(up[0]);
		close(down[1]);
		pe->rd = down[0];
		pe->wr = up[1];
		return 0;
	}
	close(up[1]);
	close(down[0]);
	pe->rd = up[0];
	pe->wr = down[1];
	return pe->pid;
close_up:
	close(up[0]);
	close(up[1]);
	return err;
}

/* 0 once a byte went to the other side (SIGPIPE if it is gone), else -1. */
static inline int sg_peer_post(struct sg_peer *pe)
{
	char b = 'p';

	return write(pe->wr, &b, 1) == 1 ? 0 : -1;
}

/* 0 once the other side posted, -1 if it exited first. */
static inline int sg_peer_wait(struct sg_peer *pe)
{
	char b;

	return read(pe->rd, &b, 1) == 1 ? 0 : -1;
}

static inline void sg_peer_close(struct sg_peer *pe)
{
	close(pe->rd);
	close(pe->wr);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/*
 * Map every page of the process's file mappings for reading (its code, its
 * libraries' code and data; not device files, memfds or SysV segments,
 * which that would allocate, or wait for a userfaultfd): a forked child
 * maps them again on first use, and a first use while the mmap_lock is
 * stalled (a writer queued behind a stuck reader) would wait for it.  A
 * first write (copy-on-write) to data, heap or stack still would.
 */
static inline void sg_prefault_files(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512], *path;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		path = strchr(line, '/');
		if (!path || !strncmp(path, "/dev/", 5) || !strncmp(path, "/memfd:", 7) ||
		    !strncmp(path, "/SYSV", 5) ||
		    sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		/* PROT_NONE guards fail: nothing to map there */
		madvise((void *)lo, hi - lo, MADV_POPULATE_READ);
	}
	fclose(f);
}

/*
 * Stall a device fault of queue @q of @fd for @ms: arm the debugfs
 * fault-delay hook @inject, submit @fill (a FILL of a page not yet
 * touched: it faults) and wait up to 20 s for the fault work to be asleep
 * in the hook (fault_delays_injected past @before, read before).  The
 * fault then holds the process's mmap_lock for reading, as one stuck in
 * I/O would: first the process's code is mapped (sg_prefault_files()),
 * so that none of its threads waits behind a writer to run it.  Returns
 * 0, or 1, 2 or 3: arming, submitting or the wait failed.
 */
static inline int sg_stall_fault(const char *inject, unsigned int ms, int fd, uint32_t q,
				 struct svmgpu_cmd *fill, long long before)
{
	char val[16];
	int i;

	sg_prefault_files();

	snprintf(val, sizeof(val), "%u", ms);
	if (sg_write_file(inject, val))
		return 1;
	if (sg_submit(fd, q, fill, 1, NULL))
		return 2;
	for (i = 0; i < 2000 && sg_dev_counter("fault_delays_injected") == before; i++)
		usleep(10000);
	return sg_dev_counter("fault_delays_injected") == before ? 3 : 0;
}

/*
 * Fork a process whose fault is stuck: its fault work sleeps @ms (debugfs
 * svmgpu_inject_fault_delay) holding the svm reference a teardown waits for
 * and the process's mmap_lock for reading, as a fault stuck in I/O would.
 * Meanwhile the process closes its last context (@create 0: it sits in
 * close()) or creates another one (@create 1: it sits in that ioctl).
 * Returns the pid once it is blocked there (reap it with waitpid(): exit
 * status 0 if the call then succeeded), -ENOENT without the debugfs hook,
 * or another -errno.
 */
static inline pid_t sg_fork_stuck(unsigned int ms, int create)
{
	char inject[256];
	long long before = sg_dev_counter("fault_delays_injected");
	long nr = create ? SYS_ioctl : SYS_close;
	pid_t pid;

	if (sg_debugfs_path("svmgpu_inject_fault_delay", inject, sizeof(inject)) || before < 0)
		return -ENOENT;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		unsigned char *p;
		uint32_t ctx, q;
		int fd = sg_child_queue(&p, &ctx, &q), fd2;
		struct svmgpu_cmd fill = sg_fill(p, 4096, 0x7e, 1);

		int stalled = sg_stall_fault(inject, ms, fd, q, &fill, before);

		if (stalled)
			_exit(10 + stalled);
		if (!create) {
			close(fd);
			_exit(0);
		}
		fd2 = sg_open();
		if (fd2 < 0 || sg_ctx_create(fd2, &ctx))
			_exit(14);
		_exit(0);
	}
	return sg_child_blocked(pid, nr, 20000);
}

/*
 * Fork a process whose last-context teardown waits for the fault thread
 * (svmgpu_fault_flush()): its FILL faults with the device's interrupt
 * dropped (INJ_DROP_IRQS, debugfs svmgpu_inject) and the next dispatch
 * made @ms slow (debugfs svmgpu_inject_dispatch_delay), then it closes the
 * device, and the teardown must wait until that record is taken.  Returns
 * the pid once it sits in close() and the wait has begun (fault_flushes
 * moved; reap it with waitpid(): exit status 0 if close() returned),
 * -ENOENT without the debugfs hooks, -EAGAIN if the child's close() did
 * not wait (its record taken before it, or this missed the wait: try
 * again), -EIO if the child failed (its status on stderr), or another
 * -errno.
 */
static inline pid_t sg_fork_records_pending(unsigned int ms)
{
	char inject[256], delay[256], task[32], val[16];
	long long before = sg_dev_counter("fault_flushes");
	int i, status, ret = -ETIMEDOUT;
	pid_t pid;

	if (sg_debugfs_path("svmgpu_inject", inject, sizeof(inject)) ||
	    sg_debugfs_path("svmgpu_inject_dispatch_delay", delay, sizeof(delay)) || before < 0)
		return -ENOENT;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		unsigned char *p;
		uint32_t ctx, q;
		int fd = sg_child_queue(&p, &ctx, &q);
		struct svmgpu_cmd fill = sg_fill(p, 4096, 0x7e, 1);

		snprintf(val, sizeof(val), "%u", ms);
		if (sg_write_file(delay, val) || sg_write_file(inject, "drop_irqs 1"))
			_exit(11);
		/* The FILL faults on the untouched page; its interrupt is dropped. */
		if (sg_submit(fd, q, &fill, 1, NULL))
			_exit(12);
		for (i = 0; i < 2000 && sg_debugfs_value("svmgpu_inject", "drop_irqs") > 0; i++)
			usleep(1000);
		if (sg_debugfs_value("svmgpu_inject", "drop_irqs"))
			_exit(13);
		close(fd);
		_exit(0);
	}
	snprintf(task, sizeof(task), "/proc/%d", (int)pid);
	for (i = 0; i < 2000; i++) {
		if (sg_blocked_in(task, SYS_close) && sg_dev_counter("fault_flushes") > before)
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			/* ended without waiting: its record went before the close */
			ret = WIFEXITED(status) && !WEXITSTATUS(status) ? -EAGAIN : -EIO;
			if (ret == -EIO)
				fprintf(stderr, "# sg_fork_records_pending: child status 0x%x\n",
					status);
			pid = 0;
			break;
		}
		usleep(5000);
	}
	if (pid) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	sg_write_file(inject, "drop_irqs 0");
	sg_write_file(delay, "0");
	return ret;
}

#endif /* SVMGPU_GUEST_H */
