// SPDX-License-Identifier: MIT
/*
 * Devices, contexts and queues over the svmgpu DRM uapi
 * (kernel-driver/include/uapi/drm/svmgpu_drm.h).
 */
#define _GNU_SOURCE	/* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>
#include <svmgpu_drm.h>

#include "internal.h"

#define MAX_DRM_DEVICES	64
#define LINUX_DRM_MAJOR	226	/* the character major of every DRM node */

SVMGPU_PUBLIC int svmgpu_version_major(void)
{
	return SVMGPU_LIB_VERSION_MAJOR;
}

SVMGPU_PUBLIC int svmgpu_version_minor(void)
{
	return SVMGPU_LIB_VERSION_MINOR;
}

SVMGPU_PUBLIC int svmgpu_check_version(int major, int minor)
{
	return SVMGPU_LIB_VERSION_MAJOR > major ||
	       (SVMGPU_LIB_VERSION_MAJOR == major && SVMGPU_LIB_VERSION_MINOR >= minor);
}

static int ioctl_err(int fd, unsigned long req, void *arg)
{
	return drmIoctl(fd, req, arg) ? -errno : 0;
}

/*
 * For the calls that sleep until something happens (a blocking SUBMIT, a
 * WAIT): not drmIoctl(), which restarts after every signal, so that a
 * handler installed without SA_RESTART ends the wait with -EINTR.  With
 * SA_RESTART the kernel restarts it, keeping a WAIT's deadline.
 */
static int ioctl_sleeping(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

/*
 * Looks @path up once and opens nothing (O_PATH: opening a watchdog arms
 * it): an O_PATH descriptor of the node and its stat in *@st if it is a DRM
 * device node (a character device of major 226), -ENODEV if not, or the
 * error of open(2).  drm_node_open() then opens that very node.
 */
static int drm_node_lookup(const char *path, struct stat *st)
{
	int fd, ret;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st))
		ret = -errno;
	else if (!S_ISCHR(st->st_mode) || major(st->st_rdev) != LINUX_DRM_MAJOR)
		ret = -ENODEV;
	else
		return fd;
	close(fd);
	return ret;
}

/*
 * Opens the node drm_node_lookup() found (@pfd, *@st) with @flags through
 * /proc/self/fd: the same inode, whatever @path names by now.  Without
 * /proc, @path again, which must still be that node (-ENODEV if not).
 * Returns the descriptor or the error of open(2).
 */
static int drm_node_open(int pfd, const char *path, const struct stat *st, int flags)
{
	char proc[32];
	struct stat now;
	int fd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, flags);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	fd = open(path, flags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &now) || !S_ISCHR(now.st_mode) || now.st_rdev != st->st_rdev) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

/*
 * The driver of the device behind DRM node @st, from sysfs, which needs no
 * permission on the node: 0 for svmgpu, -ENODEV for another, or the error
 * of readlink(2) (no sysfs, no driver bound).
 */
static int sysfs_driver_is_svmgpu(const struct stat *st)
{
	char path[96], link[256];
	const char *name;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/device/driver",
		 major(st->st_rdev), minor(st->st_rdev));
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	name = strrchr(link, '/');
	return !strcmp(name ? name + 1 : link, "svmgpu") ? 0 : -ENODEV;
}

/*
 * An svmgpu device has a render node bound to the "svmgpu" DRM driver:
 * sysfs says which, else the node's DRM version (it is opened).  So a
 * node the caller may not open is still listed, and opening it gives
 * open(2)'s -EACCES rather than no device.  Returns 0 and the node's stat
 * in *@st, -ENODEV for another driver's node or no DRM node, or the error
 * of open(2).
 */
static int check_svmgpu_node(const char *path, struct stat *st)
{
	drmVersionPtr ver;
	int pfd, fd, ok;

	pfd = drm_node_lookup(path, st);
	if (pfd < 0)
		return pfd;
	ok = sysfs_driver_is_svmgpu(st);
	if (!ok || ok == -ENODEV) {
		close(pfd);
		return ok;
	}
	fd = drm_node_open(pfd, path, st, O_RDWR | O_CLOEXEC);
	close(pfd);
	if (fd < 0)
		return fd;
	/* NULL: its allocation or ioctl failed (errno), not another driver */
	ver = drmGetVersion(fd);
	ok = !ver ? (errno ? -errno : -ENOMEM) :
	     ver->name && !strcmp(ver->name, "svmgpu") ? 0 : -ENODEV;
	drmFreeVersion(ver);
	close(fd);
	return ok;
}

/* PCI address (domain, bus, device, function), then render node. */
static int desc_cmp(const void *a, const void *b)
{
	const struct svmgpu_device_desc *x = a, *y = b;
	const uint64_t kx = (uint64_t)x->pci_domain << 24 | x->pci_bus << 16 |
			    x->pci_dev << 8 | x->pci_func;
	const uint64_t ky = (uint64_t)y->pci_domain << 24 | y->pci_bus << 16 |
			    y->pci_dev << 8 | y->pci_func;

	if (kx != ky)
		return kx < ky ? -1 : 1;
	return strcmp(x->render_node, y->render_node);
}

/*
 * libdrm lists devices in /dev/dri's directory order, which is neither
 * stable nor the PCI order other tools count in (svmgpu-reg's indexes,
 * lspci): sorted by PCI address, an index names the same device in every
 * run, and in every tool while every svmgpu function is bound (svmgpu-reg
 * also counts unbound ones).
 */
SVMGPU_PUBLIC int svmgpu_device_list(struct svmgpu_device_desc *descs, unsigned int max)
{
	drmDevicePtr devs[MAX_DRM_DEVICES];
	struct svmgpu_device_desc *all;
	int n, i, found = 0;

	if (max && !descs)
		return -EINVAL;
	n = drmGetDevices2(DRM_DEVICE_GET_PCI_REVISION, devs, MAX_DRM_DEVICES);
	if (n == -ENOENT)
		return 0;	/* no /dev/dri at all */
	if (n < 0)
		return n;
	/* the count of all DRM devices: only the first MAX_DRM_DEVICES are in devs */
	if (n > MAX_DRM_DEVICES)
		n = MAX_DRM_DEVICES;
	all = calloc(MAX_DRM_DEVICES, sizeof(*all));
	if (!all) {
		drmFreeDevices(devs, n);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		drmDevicePtr d = devs[i];
		struct svmgpu_device_desc *o = &all[found];
		struct stat st;

		if (!(d->available_nodes & (1 << DRM_NODE_RENDER)))
			continue;
		if (check_svmgpu_node(d->nodes[DRM_NODE_RENDER], &st))
			continue;
		snprintf(o->render_node, sizeof(o->render_node), "%s", d->nodes[DRM_NODE_RENDER]);
		if (d->bustype == DRM_BUS_PCI) {
			o->pci_domain = d->businfo.pci->domain;
			o->pci_bus = d->businfo.pci->bus;
			o->pci_dev = d->businfo.pci->dev;
			o->pci_func = d->businfo.pci->func;
			o->vendor_id = d->deviceinfo.pci->vendor_id;
			o->device_id = d->deviceinfo.pci->device_id;
			o->revision = d->deviceinfo.pci->revision_id;
		}
		found++;
	}
	drmFreeDevices(devs, n);
	qsort(all, found, sizeof(*all), desc_cmp);
	if (max)
		memcpy(descs, all, ((unsigned int)found < max ? (unsigned int)found : max) * sizeof(*all));
	free(all);
	return found;
}

/*
 * The driver's debugfs files are in its primary (card) minor's directory on
 * every kernel; before Linux 6.3 each render minor had a copy.  The primary
 * minor is not the render minor - 128 once another DRM driver's device (a
 * VGA adapter: a card, no render node) or a rebind takes minors in between,
 * so it is looked up: libdrm reads the function's sysfs drm/cardN.
 */
SVMGPU_PUBLIC int svmgpu_device_debugfs_dir(const char *render_node, char *dir, size_t len)
{
	drmDevicePtr d;
	const char *card;
	struct stat st;
	int ret, n;

	if (!dir || !len)
		return -EINVAL;
	dir[0] = '\0';
	if (!render_node)
		return -EINVAL;
	ret = check_svmgpu_node(render_node, &st);
	if (ret)
		return ret;
	ret = drmGetDeviceFromDevId(st.st_rdev, 0, &d);
	if (ret)
		return ret < 0 ? ret : -ENODEV;
	card = d->available_nodes & (1 << DRM_NODE_PRIMARY) ?
	       strrchr(d->nodes[DRM_NODE_PRIMARY], '/') : NULL;
	if (!card || strncmp(card, "/card", 5)) {
		drmFreeDevice(&d);
		return -ENODEV;
	}
	n = snprintf(dir, len, "/sys/kernel/debug/dri/%d", atoi(card + 5));
	drmFreeDevice(&d);
	if (n < 0 || (size_t)n >= len) {
		dir[0] = '\0';
		return -ENAMETOOLONG;
	}
	if (access(dir, X_OK)) {
		ret = -errno;
		dir[0] = '\0';
		return ret;
	}
	return 0;
}

SVMGPU_PUBLIC int svmgpu_device_open_path(const char *path, struct svmgpu_device **out)
{
	struct svmgpu_device *dev;
	drmVersionPtr ver;
	int pfd, fd, ok, minor;
	struct stat st;

	if (!path || !out)
		return -EINVAL;
	if (strlen(path) >= SVMGPU_PATH_MAX)
		return -ENAMETOOLONG;
	pfd = drm_node_lookup(path, &st);
	if (pfd < 0)
		return pfd;
	/*
	 * O_NONBLOCK only changes read(): svmgpu_device_reap_events() never
	 * sleeps.  ioctls ignore it.
	 */
	fd = drm_node_open(pfd, path, &st, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	close(pfd);
	if (fd < 0)
		return fd;
	ver = drmGetVersion(fd);
	if (!ver) {
		/* its allocation or ioctl failed (errno), not another driver */
		ok = errno ? -errno : -ENOMEM;
		close(fd);
		return ok;
	}
	ok = ver->name && !strcmp(ver->name, "svmgpu");
	minor = ok ? ver->version_minor : 0;
	drmFreeVersion(ver);
	if (!ok) {
		close(fd);
		return -ENODEV;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		close(fd);
		return -ENOMEM;
	}
	dev->fd = fd;
	dev->driver_minor = minor;
	pthread_mutex_init(&dev->lock, NULL);
	snprintf(dev->path, sizeof(dev->path), "%s", path);
	*out = dev;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_device_open(unsigned int index, struct svmgpu_device **out)
{
	struct svmgpu_device_desc descs[MAX_DRM_DEVICES];
	int n;

	if (!out)
		return -EINVAL;
	n = svmgpu_device_list(descs, MAX_DRM_DEVICES);
	if (n < 0)
		return n;
	if (index >= (unsigned int)n || index >= MAX_DRM_DEVICES)
		return -ENODEV;
	return svmgpu_device_open_path(descs[index].render_node, out);
}

SVMGPU_PUBLIC int svmgpu_device_close(struct svmgpu_device *dev)
{
	if (!dev)
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	if (dev->nr_contexts || dev->nr_devmem) {
		pthread_mutex_unlock(&dev->lock);
		return -EBUSY;
	}
	pthread_mutex_unlock(&dev->lock);
	pthread_mutex_destroy(&dev->lock);
	close(dev->fd);
	free(dev);
	return 0;
}

SVMGPU_PUBLIC int svmgpu_device_fd(const struct svmgpu_device *dev)
{
	return dev ? dev->fd : -EINVAL;
}

SVMGPU_PUBLIC int svmgpu_device_get_info(struct svmgpu_device *dev, struct svmgpu_device_info *info)
{
	struct drm_svmgpu_get_info gi = { 0 };
	struct svmgpu_device_info in = { 0 };
	drmVersionPtr ver;
	int ret;

	if (!dev || !info)
		return -EINVAL;
	ret = ioctl_err(dev->fd, DRM_IOCTL_SVMGPU_GET_INFO, &gi);
	if (ret)
		return ret;
	in.hw_id = gi.hw_id;
	in.hw_version = gi.hw_version;
	in.pci_vendor = gi.pci_vendor;
	in.pci_device = gi.pci_device;
	in.num_queues = gi.num_queues;
	in.num_engines = gi.num_engines;
	in.caps = gi.caps;
	in.fault_ring_entries = gi.fault_ring_entries;
	in.tlb_sets = gi.tlb_sets;
	in.tlb_ways = gi.tlb_ways;
	in.max_contexts = gi.max_contexts;
	in.max_ring_entries = gi.max_ring_entries;
	ver = drmGetVersion(dev->fd);
	if (!ver)
		return -ENOMEM;
	snprintf(in.driver_name, sizeof(in.driver_name), "%s", ver->name ? ver->name : "");
	in.driver_major = ver->version_major;
	in.driver_minor = ver->version_minor;
	in.driver_patch = ver->version_patchlevel;
	drmFreeVersion(ver);
	/* on failure @info is left as it was */
	*info = in;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_context_create(struct svmgpu_device *dev, struct svmgpu_context **out)
{
	struct drm_svmgpu_ctx_create cc = { 0 };
	struct svmgpu_context *ctx;
	int ret;

	if (!dev || !out)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ret = ioctl_err(dev->fd, DRM_IOCTL_SVMGPU_CTX_CREATE, &cc);
	if (ret) {
		free(ctx);
		return ret;
	}
	ctx->dev = dev;
	ctx->handle = cc.handle;
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_mutex_lock(&dev->lock);
	dev->nr_contexts++;
	pthread_mutex_unlock(&dev->lock);
	*out = ctx;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_context_destroy(struct svmgpu_context *ctx)
{
	struct drm_svmgpu_ctx_destroy cd = { 0 };
	struct svmgpu_device *dev;
	int ret;

	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock(&ctx->lock);
	if (ctx->nr_queues) {
		pthread_mutex_unlock(&ctx->lock);
		return -EBUSY;
	}
	pthread_mutex_unlock(&ctx->lock);
	dev = ctx->dev;
	cd.handle = ctx->handle;
	ret = ioctl_err(dev->fd, DRM_IOCTL_SVMGPU_CTX_DESTROY, &cd);
	/*
	 * -EACCES: a fork()ed child cannot destroy its parent's context; the
	 * handle still goes away with the child's copy of the library state.
	 * -ENODEV: the device was removed; the kernel frees the handle with
	 * the file.
	 */
	if (ret && ret != -EACCES && ret != -ENODEV)
		return ret;
	pthread_mutex_lock(&dev->lock);
	dev->nr_contexts--;
	pthread_mutex_unlock(&dev->lock);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
	return ret;
}

SVMGPU_PUBLIC int svmgpu_context_get_stats(struct svmgpu_context *ctx, struct svmgpu_stats *st,
					   unsigned int flags)
{
	struct drm_svmgpu_get_stats gs = { 0 };
	int ret;

	if (!ctx || !st || (flags & ~SVMGPU_STATS_CLEAR))
		return -EINVAL;
	gs.ctx_handle = ctx->handle;
	gs.flags = flags & SVMGPU_STATS_CLEAR ? DRM_SVMGPU_STATS_CLEAR : 0;
	ret = ioctl_err(ctx->dev->fd, DRM_IOCTL_SVMGPU_GET_STATS, &gs);
	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->faults = gs.faults;
	st->fault_batches = gs.fault_batches;
	st->replays = gs.replays;
	st->cancels = gs.cancels;
	st->pages_mapped = gs.pages_mapped;
	st->huge_2m_mapped = gs.huge_2m_mapped;
	st->huge_1g_mapped = gs.huge_1g_mapped;
	st->pages_unmapped = gs.pages_unmapped;
	st->invalidations = gs.invalidations;
	st->tlb_invalidations = gs.tlb_invalidations;
	st->tlb_inval_ns = gs.tlb_inval_ns;
	st->submitted = gs.submitted;
	st->failed = gs.failed;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_queue_create(struct svmgpu_context *ctx, unsigned int ring_entries,
				      struct svmgpu_queue **out)
{
	return svmgpu_queue_create_priority(ctx, ring_entries, SVMGPU_PRIORITY_NORMAL, out);
}

_Static_assert(SVMGPU_PRIORITY_LOW == DRM_SVMGPU_PRIORITY_LOW &&
	       SVMGPU_PRIORITY_NORMAL == DRM_SVMGPU_PRIORITY_NORMAL &&
	       SVMGPU_PRIORITY_HIGH == DRM_SVMGPU_PRIORITY_HIGH, "priorities");

SVMGPU_PUBLIC int svmgpu_queue_create_priority(struct svmgpu_context *ctx,
					       unsigned int ring_entries,
					       unsigned int priority, struct svmgpu_queue **out)
{
	struct drm_svmgpu_queue_create qc = { 0 };
	struct svmgpu_queue *q;
	int ret;

	if (!ctx || !out)
		return -EINVAL;
	if (ring_entries && (ring_entries < 2 || (ring_entries & (ring_entries - 1))))
		return -EINVAL;
	if (priority < SVMGPU_PRIORITY_LOW || priority > SVMGPU_PRIORITY_HIGH)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	qc.ctx_handle = ctx->handle;
	qc.ring_entries = ring_entries;
	qc.priority = priority;	/* the uapi's values, asserted below */
	ret = ioctl_err(ctx->dev->fd, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &qc);
	if (ret) {
		free(q);
		return ret;
	}
	q->ctx = ctx;
	q->handle = qc.handle;
	pthread_mutex_init(&q->lock, NULL);
	pthread_mutex_lock(&ctx->lock);
	ctx->nr_queues++;
	pthread_mutex_unlock(&ctx->lock);
	*out = q;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_queue_destroy(struct svmgpu_queue *q)
{
	struct drm_svmgpu_queue_destroy qd = { 0 };
	struct svmgpu_context *ctx;
	int ret;

	if (!q)
		return -EINVAL;
	ctx = q->ctx;
	qd.handle = q->handle;
	ret = ioctl_err(ctx->dev->fd, DRM_IOCTL_SVMGPU_QUEUE_DESTROY, &qd);
	/*
	 * -EACCES: a fork()ed child's copy; -ENODEV: the device was removed.
	 * Either way the kernel frees the handle with the file: free ours.
	 */
	if (ret && ret != -EACCES && ret != -ENODEV)
		return ret;
	pthread_mutex_lock(&ctx->lock);
	ctx->nr_queues--;
	pthread_mutex_unlock(&ctx->lock);
	pthread_mutex_destroy(&q->lock);
	free(q);
	return ret;
}

SVMGPU_PUBLIC int svmgpu_queue_id(const struct svmgpu_queue *q)
{
	return q ? (int)q->handle : -EINVAL;
}

static int queue_submit(struct svmgpu_queue *q, const struct svmgpu_cmd *cmds, unsigned int count,
			unsigned int flags, uint64_t user_data, uint64_t *seq)
{
	struct drm_svmgpu_submit s = { 0 };
	int ret;

	if (!q || !cmds || !count || (flags & ~(SVMGPU_SUBMIT_EVENT | SVMGPU_SUBMIT_NONBLOCK)))
		return -EINVAL;
	if (user_data && !(flags & SVMGPU_SUBMIT_EVENT))
		return -EINVAL;
	s.flags = (flags & SVMGPU_SUBMIT_EVENT ? DRM_SVMGPU_SUBMIT_EVENT : 0) |
		  (flags & SVMGPU_SUBMIT_NONBLOCK ? DRM_SVMGPU_SUBMIT_NONBLOCK : 0);
	s.queue_handle = q->handle;
	s.count = count;
	s.cmds = (uint64_t)(uintptr_t)cmds;
	s.user_data = user_data;
	if (flags & SVMGPU_SUBMIT_NONBLOCK) {
		/* Not drmIoctl(): it retries EAGAIN, which would spin here. */
		do {
			ret = ioctl(q->ctx->dev->fd, DRM_IOCTL_SVMGPU_SUBMIT, &s) ? -errno : 0;
		} while (ret == -EINTR);
	} else {
		ret = ioctl_sleeping(q->ctx->dev->fd, DRM_IOCTL_SVMGPU_SUBMIT, &s);
	}
	if (ret)
		return ret;
	if (seq)
		*seq = s.seq;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_queue_submit(struct svmgpu_queue *q, const struct svmgpu_cmd *cmds,
				      unsigned int count, uint64_t *seq)
{
	return queue_submit(q, cmds, count, 0, 0, seq);
}

SVMGPU_PUBLIC int svmgpu_queue_submit_flags(struct svmgpu_queue *q, const struct svmgpu_cmd *cmds,
					    unsigned int count, unsigned int flags,
					    uint64_t user_data, uint64_t *seq)
{
	return queue_submit(q, cmds, count, flags, user_data, seq);
}

static int error_errno(uint32_t code)
{
	switch (code) {
	case SVMGPU_ERR_FAULT_CANCELLED:
	case SVMGPU_ERR_INVALID_VA:
	case SVMGPU_ERR_MISALIGNED:
		return -EFAULT;
	case DRM_SVMGPU_ERR_RESET:
		return -ECANCELED;
	default:
		return -EIO;
	}
}

static void err_from_wait(struct svmgpu_cmd_error *err, const struct drm_svmgpu_wait *w,
			  const struct svmgpu_queue *q)
{
	if (!err || !w->nr_errors)
		return;
	err->seq = w->err_seq;
	err->va = w->err_va;
	err->code = w->err_code;
	err->access = w->err_access;
	err->reason = w->err_reason;
	err->queue = q->handle;
	err->count = w->nr_errors;
}

/* Whether @seq is a library command's (q->lock held). */
static bool own_has(const struct svmgpu_queue *q, uint64_t seq)
{
	unsigned int i;

	for (i = 0; i < q->nown; i++)
		if (q->own[i].seq == seq)
			return true;
	return false;
}

/* Remember library command @seq; the oldest goes if full (q->lock held). */
static void own_add(struct svmgpu_queue *q, uint64_t seq, bool failed)
{
	if (q->nown == SVMGPU_OWN_MAX)
		memmove(q->own, q->own + 1, --q->nown * sizeof(q->own[0]));
	q->own[q->nown].seq = seq;
	q->own[q->nown++].failed = failed;
}

/* Forget library command @seq (q->lock held). */
static void own_del(struct svmgpu_queue *q, uint64_t seq)
{
	unsigned int i;

	for (i = 0; i < q->nown; i++)
		if (q->own[i].seq == seq) {
			memmove(q->own + i, q->own + i + 1, (--q->nown - i) * sizeof(q->own[0]));
			return;
		}
}

/* Forget those at or below reported_seq: no wait asks for them (q->lock held). */
static void own_prune(struct svmgpu_queue *q)
{
	unsigned int i, n = 0;

	for (i = 0; i < q->nown; i++)
		if (q->own[i].seq > q->reported_seq)
			q->own[n++] = q->own[i];
	q->nown = n;
}

/*
 * Whether library command @o failed: its wait saw it, or, while that wait
 * has not looked yet, the driver's error log says so (a wait of the
 * caller's beyond it returned: it completed or its queue stopped, and the
 * driver fills the err_* fields for -ECANCELED too).  q->lock held.
 */
static bool own_failed(const struct svmgpu_queue *q, const struct svmgpu_own_cmd *o)
{
	struct drm_svmgpu_wait w = { 0 };
	int ret;

	if (o->failed)
		return true;
	w.queue_handle = q->handle;
	w.seq = o->seq;
	w.first_seq = o->seq;
	ret = ioctl_err(q->ctx->dev->fd, DRM_IOCTL_SVMGPU_WAIT, &w);
	return (!ret || ret == -ECANCELED) && w.nr_errors;
}

/*
 * Wait for @seq; report the earliest failure no wait reported yet.
 * @restart: wait on through signals, to the same deadline (the driver writes
 * the time left back), for a caller that holds no seq to wait again with.
 * @own: @seq is the library's own command on a caller's queue
 * (queue_run_own(), which put it in q->own): only its failure is reported,
 * the caller's before it stay for the caller's waits, and its own is
 * skipped by theirs.
 * A queue stopped before @seq completed (-ECANCELED from the driver: device
 * removed, address space gone) reports what failed before the stop the
 * same way, once, and returns -ECANCELED.
 */
static int queue_wait(struct svmgpu_queue *q, uint64_t seq, uint64_t timeout_ns,
		      struct svmgpu_cmd_error *err, bool restart, bool own)
{
	struct drm_svmgpu_wait w = { 0 };
	bool cancelled = false;
	uint64_t first;
	int ret;

	if (!q || !seq)
		return -EINVAL;
	if (err)
		memset(err, 0, sizeof(*err));
	pthread_mutex_lock(&q->lock);
	first = q->reported_seq < seq && !own ? q->reported_seq + 1 : seq;
	pthread_mutex_unlock(&q->lock);

	for (;;) {
		w.queue_handle = q->handle;
		w.seq = seq;
		w.first_seq = first;
		w.timeout_ns = timeout_ns;
		ret = ioctl_sleeping(q->ctx->dev->fd, DRM_IOCTL_SVMGPU_WAIT, &w);
		if (ret == -EINTR && restart) {
			timeout_ns = w.timeout_ns;
			continue;
		}
		/* stopped for good: the err_* fields are filled as for 0 */
		if (ret == -ECANCELED) {
			cancelled = true;
			ret = 0;
		}
		if (ret) {
			if (own) {
				pthread_mutex_lock(&q->lock);
				own_del(q, seq);
				pthread_mutex_unlock(&q->lock);
			}
			/* a retry after the stop: the device is gone (-ENODEV) */
			return cancelled ? -ECANCELED : ret;
		}
		pthread_mutex_lock(&q->lock);
		if (own) {
			own_del(q, seq);
			if (q->reported_seq + 1 >= seq) {
				/* nothing of the caller's left before it */
				if (q->reported_seq < seq)
					q->reported_seq = seq;
				own_prune(q);
			} else if (w.nr_errors) {
				/* the caller's waits go on skipping it */
				own_add(q, seq, true);
			}
			pthread_mutex_unlock(&q->lock);
			break;
		}
		if (w.nr_errors && own_has(q, w.err_seq)) {
			/* the library's: the next failure after it */
			pthread_mutex_unlock(&q->lock);
			if (w.err_seq >= seq) {
				w.nr_errors = 0;
				pthread_mutex_lock(&q->lock);
				break;
			}
			first = w.err_seq + 1;
			memset(&w, 0, sizeof(w));
			timeout_ns = 0;
			continue;
		}
		if (!w.nr_errors || first > q->reported_seq)
			break;
		/* Another thread's wait reported part of the range meanwhile. */
		if (q->reported_seq >= seq) {
			w.nr_errors = 0;
			break;
		}
		/* The rest of it, from the first seq no one reported: seq completed. */
		first = q->reported_seq + 1;
		pthread_mutex_unlock(&q->lock);
		memset(&w, 0, sizeof(w));
		timeout_ns = 0;
	}
	if (!own) {
		unsigned int i;

		/* the count is of the caller's failures: not the library's */
		for (i = 0; i < q->nown && w.nr_errors > 1; i++)
			if (q->own[i].seq > w.err_seq && q->own[i].seq <= seq &&
			    own_failed(q, &q->own[i]))
				w.nr_errors--;
		if (q->reported_seq < seq)
			q->reported_seq = seq;
		own_prune(q);
		pthread_mutex_unlock(&q->lock);
	}
	if (!w.nr_errors)
		return cancelled ? -ECANCELED : 0;
	err_from_wait(err, &w, q);
	return cancelled ? -ECANCELED : error_errno(w.err_code);
}

SVMGPU_PUBLIC int svmgpu_queue_wait(struct svmgpu_queue *q, uint64_t seq, uint64_t timeout_ns,
				    struct svmgpu_cmd_error *err)
{
	return queue_wait(q, seq, timeout_ns, err, false, false);
}

SVMGPU_PUBLIC int svmgpu_queue_poll(struct svmgpu_queue *q, uint64_t seq, struct svmgpu_cmd_error *err)
{
	int ret = queue_wait(q, seq, 0, err, false, false);

	return ret == -ETIMEDOUT ? -EBUSY : ret;
}

SVMGPU_PUBLIC int svmgpu_queue_run(struct svmgpu_queue *q, const struct svmgpu_cmd *cmds,
				   unsigned int count, uint64_t timeout_ns, struct svmgpu_cmd_error *err)
{
	uint64_t seq;
	int ret;

	if (err)
		memset(err, 0, sizeof(*err));
	ret = svmgpu_queue_submit(q, cmds, count, &seq);
	if (ret)
		return ret;
	/* Queued: the commands may use the caller's memory until they end. */
	return queue_wait(q, seq, timeout_ns, err, true, false);
}

/*
 * svmgpu_queue_run() of one command of the library's own on a caller's
 * queue (the coherence check): only its failure is reported; the caller's
 * earlier commands' are left for the caller's own waits, which skip this
 * one's (queue_wait()).
 */
int queue_run_own(struct svmgpu_queue *q, const struct svmgpu_cmd *cmd, uint64_t timeout_ns,
		  struct svmgpu_cmd_error *err)
{
	uint64_t seq;
	int ret;

	if (err)
		memset(err, 0, sizeof(*err));
	ret = svmgpu_queue_submit(q, cmd, 1, &seq);
	if (ret)
		return ret;
	/*
	 * The library's from now on, not only once its wait below has seen it
	 * fail: another thread's wait that covers it skips its failure.  (One
	 * that returns between the SUBMIT and this still reports it: closing
	 * that would take q->lock across a SUBMIT, which may sleep for ring
	 * room while a poll of the caller's waits for the lock.)
	 */
	pthread_mutex_lock(&q->lock);
	own_add(q, seq, false);
	pthread_mutex_unlock(&q->lock);
	return queue_wait(q, seq, timeout_ns, err, true, true);
}

static void event_from_drm(struct svmgpu_queue_event *ev, const struct drm_svmgpu_event_complete *e)
{
	memset(ev, 0, sizeof(*ev));
	ev->user_data = e->user_data;
	ev->first_seq = e->first_seq;
	ev->seq = e->seq;
	ev->queue = e->queue_handle;
	if (e->nr_errors) {
		ev->err.seq = e->err_seq;
		ev->err.va = e->err_va;
		ev->err.code = e->err_code;
		ev->err.access = e->err_access;
		ev->err.reason = e->err_reason;
		ev->err.queue = e->queue_handle;
		ev->err.count = e->nr_errors;
	}
	if (e->result)
		ev->result = e->result;
	else
		ev->result = e->nr_errors ? error_errno(e->err_code) : 0;
}

static void event_from_prefetch(struct svmgpu_queue_event *ev,
				const struct drm_svmgpu_event_prefetch *e)
{
	memset(ev, 0, sizeof(*ev));
	ev->user_data = e->id;
	ev->seq = e->pages;
	ev->queue = SVMGPU_EVENT_PREFETCH;
	ev->result = e->result;
}

/*
 * Events read at a time.  The DRM core hands out as many whole events as
 * fit in the read, and the events differ in size: a read for k events is
 * k + 1 of the smallest less a byte, so it can never return more than k of
 * them, and takes one grown by appended fields (up to that size: 95 bytes
 * for one, the largest known being 80).
 */
#define REAP_CHUNK	16
#define EV_MIN		sizeof(struct drm_svmgpu_event_prefetch)
#define EV_MAX		sizeof(struct drm_svmgpu_event_complete)
_Static_assert(EV_MIN <= EV_MAX && 2 * EV_MIN - 1 >= EV_MAX,
	       "a read for one event must take the largest");
_Static_assert((REAP_CHUNK + 1) * EV_MIN - 1 <= REAP_CHUNK * EV_MAX,
	       "a read for REAP_CHUNK events must fit the buffer");

SVMGPU_PUBLIC int svmgpu_device_reap_events(struct svmgpu_device *dev, struct svmgpu_queue_event *ev,
					    unsigned int max)
{
	struct drm_svmgpu_event_complete buf[REAP_CHUNK];
	bool malformed = false;
	unsigned int n = 0;

	if (!dev || !ev || !max || max > INT_MAX)
		return -EINVAL;
	while (n < max) {
		size_t want = max - n < REAP_CHUNK ? max - n : REAP_CHUNK;
		size_t bytes = (want + 1) * EV_MIN - 1;
		ssize_t len = read(dev->fd, buf, bytes);
		size_t off = 0;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return n ? (int)n : -errno;
		}
		/*
		 * Nothing fit although an event is pending (a non-blocking
		 * read() with none is -EAGAIN): one larger than any this
		 * library knows.  It stays first: an error, not a busy loop
		 * of svmgpu_device_wait_events().
		 */
		if (!len)
			return n ? (int)n : -EPROTO;
		while (n < max && off + sizeof(struct drm_event) <= (size_t)len) {
			const struct drm_event *h = (const void *)((const char *)buf + off);

			/*
			 * svmgpu's events are u64 fields after the header: a
			 * length not a multiple of 8 is malformed, and would
			 * leave the next event misaligned.
			 */
			if (h->length < sizeof(*h) || (h->length & 7) ||
			    off + h->length > (size_t)len)
				return n ? (int)n : -EPROTO;
			/*
			 * A known event may have grown (fields appended, as
			 * uapi structs grow): its known part counts.  One
			 * shorter than this library's struct is malformed,
			 * an unknown type is not for this library: skipped.
			 */
			if (h->type == DRM_SVMGPU_EVENT_COMPLETE &&
			    h->length >= sizeof(struct drm_svmgpu_event_complete))
				event_from_drm(&ev[n++], (const void *)h);
			else if (h->type == DRM_SVMGPU_EVENT_PREFETCH &&
				 h->length >= sizeof(struct drm_svmgpu_event_prefetch))
				event_from_prefetch(&ev[n++], (const void *)h);
			else if (h->type == DRM_SVMGPU_EVENT_COMPLETE ||
				 h->type == DRM_SVMGPU_EVENT_PREFETCH)
				malformed = true;
			off += h->length;
		}
	}
	return n || !malformed ? (int)n : -EPROTO;
}

/* CLOCK_MONOTONIC in ns. */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The events are the driver's DRM events on the one fd, so waiting on many
 * queues is ppoll() on it: no ioctl is needed (docs/api.md).
 */
SVMGPU_PUBLIC int svmgpu_device_wait_events(struct svmgpu_device *dev, struct svmgpu_queue_event *ev,
					    unsigned int max, uint64_t timeout_ns)
{
	uint64_t end = 0, now;
	struct pollfd p;
	int n;

	if (!dev || !ev || !max || max > INT_MAX)
		return -EINVAL;
	if (timeout_ns != SVMGPU_TIMEOUT_INFINITE) {
		now = mono_ns();
		end = timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
	}
	for (;;) {
		int ms = -1;

		n = svmgpu_device_reap_events(dev, ev, max);
		if (n)
			return n;
		if (timeout_ns != SVMGPU_TIMEOUT_INFINITE) {
			uint64_t left_ms;

			now = mono_ns();
			if (now >= end)
				return -ETIMEDOUT;
			/* Rounded up: never back before the deadline with nothing. */
			left_ms = (end - now + 999999) / 1000000;
			ms = left_ms > INT_MAX ? INT_MAX : (int)left_ms;
		}
		p = (struct pollfd){ .fd = dev->fd, .events = POLLIN };
		if (poll(&p, 1, ms) < 0 && errno != EINTR)
			return -errno;
	}
}

SVMGPU_PUBLIC int svmgpu_device_prefetch(struct svmgpu_device *dev, const void *addr, size_t size,
					 unsigned int where, uint64_t *pages)
{
	struct drm_svmgpu_prefetch pf = {
		.flags = where,
		.start = (uintptr_t)addr,
		.size = size,
	};
	int ret;

	if (pages)
		*pages = 0;
	/* DRM_SVMGPU_PREFETCH_ASYNC is svmgpu_device_prefetch_async()'s. */
	if (!dev || (where & DRM_SVMGPU_PREFETCH_ASYNC))
		return -EINVAL;
	ret = ioctl_err(dev->fd, DRM_IOCTL_SVMGPU_PREFETCH, &pf);
	if (pages)
		*pages = pf.pages;
	return ret;
}

SVMGPU_PUBLIC int svmgpu_device_prefetch_async(struct svmgpu_device *dev, const void *addr,
					       size_t size, unsigned int where, uint64_t *id)
{
	struct drm_svmgpu_prefetch pf = {
		.flags = where | DRM_SVMGPU_PREFETCH_ASYNC,
		.start = (uintptr_t)addr,
		.size = size,
	};
	int ret;

	if (id)
		*id = 0;
	if (!dev || (where & DRM_SVMGPU_PREFETCH_ASYNC))
		return -EINVAL;
	/* Older drivers take the ASYNC bit for an unknown flag: -EINVAL. */
	if (dev->driver_minor < SVMGPU_DRIVER_MINOR_PREFETCH_ASYNC)
		return -EOPNOTSUPP;
	ret = ioctl_err(dev->fd, DRM_IOCTL_SVMGPU_PREFETCH, &pf);
	if (!ret && id)
		*id = pf.id;
	return ret;
}

SVMGPU_PUBLIC int svmgpu_devmem_alloc(struct svmgpu_device *dev, size_t size,
				      struct svmgpu_devmem **mem)
{
	struct drm_svmgpu_devmem_alloc da = { .size = size };
	struct svmgpu_devmem *m;
	int ret;

	if (!dev || !mem || !size)
		return -EINVAL;
	*mem = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = ioctl_err(dev->fd, DRM_IOCTL_SVMGPU_DEVMEM_ALLOC, &da);
	if (ret) {
		free(m);
		return ret;
	}
	m->dev = dev;
	m->pid = getpid();
	m->handle = da.handle;
	m->size = da.size;
	m->offset = da.offset;
	m->align = da.align;
	pthread_mutex_lock(&dev->lock);
	dev->nr_devmem++;
	pthread_mutex_unlock(&dev->lock);
	*mem = m;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_devmem_map(struct svmgpu_devmem *mem, void **addr, size_t *size)
{
	int ret = 0;
	void *p;

	if (!mem || !addr)
		return -EINVAL;
	/* two threads mapping at once get the one mapping */
	pthread_mutex_lock(&mem->dev->lock);
	if (!mem->addr) {
		p = mmap(NULL, mem->size, PROT_READ | PROT_WRITE, MAP_SHARED, mem->dev->fd,
			 (off_t)mem->offset);
		if (p == MAP_FAILED)
			ret = -errno;
		else
			mem->addr = p;
	}
	if (!ret) {
		*addr = mem->addr;
		if (size)
			*size = mem->size;
	}
	pthread_mutex_unlock(&mem->dev->lock);
	return ret;
}

SVMGPU_PUBLIC int svmgpu_devmem_free(struct svmgpu_devmem *mem)
{
	struct drm_svmgpu_devmem_free df = { 0 };
	int ret;

	if (!mem)
		return -EINVAL;
	if (mem->addr && munmap(mem->addr, mem->size))
		return -errno;
	mem->addr = NULL;
	/*
	 * A fork()ed child shares its parent's file, so its FREE would drop
	 * the parent's handle (and a later alloc would reuse it): the child's
	 * copy is released locally, as a context's.
	 */
	if (getpid() != mem->pid) {
		ret = -EACCES;
	} else {
		df.handle = mem->handle;
		ret = ioctl_err(mem->dev->fd, DRM_IOCTL_SVMGPU_DEVMEM_FREE, &df);
	}
	pthread_mutex_lock(&mem->dev->lock);
	mem->dev->nr_devmem--;
	pthread_mutex_unlock(&mem->dev->lock);
	free(mem);
	return ret;
}

SVMGPU_PUBLIC int svmgpu_context_advise(struct svmgpu_context *ctx, const void *addr, size_t size,
					unsigned int attr, unsigned int value)
{
	struct drm_svmgpu_advise a = {
		.op = DRM_SVMGPU_ADVISE_SET,
		.start = (uintptr_t)addr,
		.size = size,
		.attr = attr,
		.value = value,
	};

	if (!ctx)
		return -EINVAL;
	a.ctx_handle = ctx->handle;
	return ioctl_err(ctx->dev->fd, DRM_IOCTL_SVMGPU_ADVISE, &a);
}

SVMGPU_PUBLIC int svmgpu_context_get_advice(struct svmgpu_context *ctx, const void *addr,
					    size_t size, unsigned int *advice, size_t *same)
{
	struct drm_svmgpu_advise a = {
		.op = DRM_SVMGPU_ADVISE_GET,
		.start = (uintptr_t)addr,
		.size = size,
	};
	int ret;

	if (!ctx || !advice)
		return -EINVAL;
	a.ctx_handle = ctx->handle;
	ret = ioctl_err(ctx->dev->fd, DRM_IOCTL_SVMGPU_ADVISE, &a);
	*advice = ret ? 0 : a.value;
	if (same)
		*same = ret ? 0 : a.size;
	return ret;
}

SVMGPU_PUBLIC int svmgpu_device_residency(struct svmgpu_device *dev, const void *addr, size_t size,
					  uint64_t *pages)
{
	struct drm_svmgpu_residency rs = {
		.start = (uintptr_t)addr,
		.size = size,
	};
	int ret;

	if (!dev || !pages)
		return -EINVAL;
	*pages = 0;
	ret = ioctl_err(dev->fd, DRM_IOCTL_SVMGPU_RESIDENCY, &rs);
	if (!ret)
		*pages = rs.pages;
	return ret;
}
