// SPDX-License-Identifier: MIT
/*
 * svm_faults: how device faults end when the kernel cannot or will not
 * resolve them quickly.
 *
 * - userfaultfd: hmm_range_fault() cannot wait for a userfaultfd handler,
 *   so a device fault on a registered range the CPU has not populated fails
 *   the command with the fault error at that address; populated pages work.
 * - isolation: every address space resolves its faults on its own work
 *   item, so one process whose fault is slow (a file on a slow filesystem:
 *   here a FUSE server that answers after 3 s) does not delay another's.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/fuse.h>
#include <linux/userfaultfd.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define PAGE	4096ul
#define MB	(1024ul * 1024)

FIXTURE(faults) {
	int fd;
	uint32_t ctx;
	uint32_t q;
};

FIXTURE_SETUP(faults)
{
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &self->q), 0);
}

FIXTURE_TEARDOWN(faults)
{
	char hook[256];

	/* a test that failed half-way leaves no fault out of memory */
	if (!sg_debugfs_path("svmgpu_inject_fault_nomem", hook, sizeof(hook)))
		sg_write_file(hook, "0");
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * A device read of a userfaultfd-registered (missing mode) page nobody
 * populated fails with the fault error at that address and access; the
 * page the handler populated (UFFDIO_ZEROPAGE / UFFDIO_COPY) is read and
 * written; the queue and the driver keep working.
 */
TEST_F(faults, userfaultfd_missing_page_fails_with_fault_error)
{
	size_t size = 8 * PAGE;
	unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *dst = mmap(NULL, size, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_copy copy;
	struct drm_svmgpu_get_stats st;
	struct drm_svmgpu_wait w;
	unsigned char *src;
	int u;

	ASSERT_NE(p, MAP_FAILED);
	ASSERT_NE(dst, MAP_FAILED);
	memset(dst, 0xee, size);
	u = sg_uffd_register(p, size, UFFDIO_REGISTER_MODE_MISSING);
	if (u < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));

	ASSERT_EQ(sg_stats(self->fd, self->ctx, 1, &st), 0);
	ASSERT_EQ(sg_run(self->fd, self->q, sg_copy(dst, p + 2 * PAGE + 40, 64), &w), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(w.err_va, (uintptr_t)(p + 2 * PAGE + 40));
	EXPECT_EQ(w.err_access, SVMGPU_ACCESS_READ);
	ASSERT_TRUE(sg_all_bytes(dst, 0xee, size));

	/* A device write there fails the same way. */
	ASSERT_EQ(sg_run(self->fd, self->q, sg_fill(p + 5 * PAGE, 16, 0x12, 1), &w), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(w.err_va, (uintptr_t)(p + 5 * PAGE));
	EXPECT_EQ(w.err_access, SVMGPU_ACCESS_WRITE);
	ASSERT_EQ(sg_stats(self->fd, self->ctx, 0, &st), 0);
	/* A stale duplicate record of a stall may be cancelled too. */
	EXPECT_GE(st.cancels, 2);
	EXPECT_EQ(st.failed, 2);

	/* The handler's answer: page 2 copied in; the device reads and writes it. */
	src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(src, MAP_FAILED);
	memset(src, 0x34, PAGE);
	copy = (struct uffdio_copy){ .dst = (uintptr_t)(p + 2 * PAGE),
				     .src = (uintptr_t)src, .len = PAGE };
	ASSERT_EQ(ioctl(u, UFFDIO_COPY, &copy), 0);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(dst, p + 2 * PAGE, PAGE)), 0);
	ASSERT_TRUE(sg_all_bytes(dst, 0x34, PAGE));
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p + 2 * PAGE, PAGE, 0x56, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p + 2 * PAGE, 0x56, PAGE));

	/* Unregistered, the rest is ordinary memory again. */
	close(u);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p + 5 * PAGE, 16, 0x12, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p + 5 * PAGE, 0x12, 16));
}

/*
 * Pages of a registered range that are populated need no handler: the
 * device reads and writes them, and a write to the zero page is an ordinary
 * copy-on-write.  Under write-protect tracking, a device write to a
 * protected page would need the handler: it fails with the fault error.
 */
TEST_F(faults, userfaultfd_populated_pages_work_write_protected_fails)
{
	size_t size = 4 * PAGE;
	unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_writeprotect wp;
	struct uffdio_zeropage zp;
	struct uffdio_copy copy;
	struct drm_svmgpu_wait w;
	unsigned char *src;
	int u;

	ASSERT_NE(p, MAP_FAILED);
	u = sg_uffd_register(p, size, UFFDIO_REGISTER_MODE_MISSING);
	if (u < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	/* Page 0: populated by the handler (a CPU touch would wait for one). */
	src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(src, MAP_FAILED);
	memset(src, 0x21, PAGE);
	copy = (struct uffdio_copy){ .dst = (uintptr_t)p, .src = (uintptr_t)src, .len = PAGE };
	ASSERT_EQ(ioctl(u, UFFDIO_COPY, &copy), 0);
	zp = (struct uffdio_zeropage){ .range = { .start = (uintptr_t)(p + PAGE), .len = PAGE } };
	ASSERT_EQ(ioctl(u, UFFDIO_ZEROPAGE, &zp), 0);	/* page 1: zero page */

	memset(src, 0, PAGE);
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(src, p, PAGE)), 0);
	ASSERT_TRUE(sg_all_bytes(src, 0x21, PAGE));
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p, PAGE, 0x22, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p, 0x22, PAGE));
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_fill(p + PAGE + 8, 8, 0x23, 1)), 0);
	ASSERT_TRUE(sg_all_bytes(p + PAGE, 0, 8));
	ASSERT_TRUE(sg_all_bytes(p + PAGE + 8, 0x23, 8));
	close(u);

	/* Write-protect tracking on a populated page. */
	u = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_GE(u, 0);
	{
		struct uffdio_api api = { .api = UFFD_API,
					  .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)(p + 2 * PAGE), .len = PAGE },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};

		memset(p + 2 * PAGE, 0x31, PAGE);
		if (ioctl(u, UFFDIO_API, &api) || ioctl(u, UFFDIO_REGISTER, &reg)) {
			close(u);
			SKIP(return, "userfaultfd write-protect: %s", strerror(errno));
		}
	}
	wp = (struct uffdio_writeprotect){
		.range = { .start = (uintptr_t)(p + 2 * PAGE), .len = PAGE },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	ASSERT_EQ(ioctl(u, UFFDIO_WRITEPROTECT, &wp), 0);
	ASSERT_EQ(sg_run(self->fd, self->q, sg_fill(p + 2 * PAGE + 16, 8, 0x32, 1), &w), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(w.err_va, (uintptr_t)(p + 2 * PAGE + 16));
	EXPECT_EQ(w.err_access, SVMGPU_ACCESS_WRITE);
	ASSERT_TRUE(sg_all_bytes(p + 2 * PAGE, 0x31, PAGE));
	/* Reading it is fine. */
	ASSERT_EQ(sg_run_ok(self->fd, self->q, sg_copy(src, p + 2 * PAGE, PAGE)), 0);
	ASSERT_TRUE(sg_all_bytes(src, 0x31, PAGE));
	close(u);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * A minimal FUSE server: a root directory holding one 1 MiB file "f" whose
 * every READ is answered after FUSE_DELAY_MS, like a slow network
 * filesystem.  Runs until the filesystem is unmounted.
 */
#define FUSE_DELAY_MS	3000
#define FUSE_FILE_SIZE	MB

static void fuse_reply(int fd, uint64_t unique, int error, const void *arg, size_t len)
{
	char buf[sizeof(struct fuse_out_header) + 4096];
	struct fuse_out_header *oh = (void *)buf;

	if (len > sizeof(buf) - sizeof(*oh))
		len = sizeof(buf) - sizeof(*oh);
	oh->len = sizeof(*oh) + (error ? 0 : len);
	oh->error = error;
	oh->unique = unique;
	if (!error && len)
		memcpy(buf + sizeof(*oh), arg, len);
	if (write(fd, buf, oh->len) < 0)
		return;
}

static void fuse_attr_of(uint64_t node, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = node;
	a->nlink = 1;
	a->blksize = 4096;
	if (node == FUSE_ROOT_ID) {
		a->mode = S_IFDIR | 0755;
	} else {
		a->mode = S_IFREG | 0444;
		a->size = FUSE_FILE_SIZE;
		a->blocks = FUSE_FILE_SIZE / 512;
	}
}

static void fuse_serve(int fd)
{
	static char req[(1 << 20) + 4096];

	for (;;) {
		struct fuse_in_header *ih = (void *)req;
		void *arg = req + sizeof(*ih);
		ssize_t n = read(fd, req, sizeof(req));

		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(*ih))
			_exit(0);	/* unmounted */
		switch (ih->opcode) {
		case FUSE_INIT: {
			struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION,
						   .minor = FUSE_KERNEL_MINOR_VERSION,
						   .max_write = 4096, .time_gran = 1 };

			fuse_reply(fd, ih->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out o = { 0 };

			if (ih->nodeid != FUSE_ROOT_ID || strcmp(arg, "f")) {
				fuse_reply(fd, ih->unique, -ENOENT, NULL, 0);
				break;
			}
			o.nodeid = 2;
			o.entry_valid = o.attr_valid = 3600;
			fuse_attr_of(2, &o.attr);
			fuse_reply(fd, ih->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out o = { .attr_valid = 3600 };

			fuse_attr_of(ih->nodeid, &o.attr);
			fuse_reply(fd, ih->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_OPEN:
		case FUSE_OPENDIR: {
			struct fuse_open_out o = { .fh = 1 };

			fuse_reply(fd, ih->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_READ: {
			struct fuse_read_in *ri = arg;
			static char data[4096];
			size_t len = ri->size;

			memset(data, 0x5e, sizeof(data));
			if (ri->offset >= FUSE_FILE_SIZE)
				len = 0;
			else if (len > FUSE_FILE_SIZE - ri->offset)
				len = FUSE_FILE_SIZE - ri->offset;
			if (len > sizeof(data))
				len = sizeof(data);
			usleep(FUSE_DELAY_MS * 1000);
			fuse_reply(fd, ih->unique, 0, data, len);
			break;
		}
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;	/* no reply */
		case FUSE_FLUSH:
		case FUSE_RELEASE:
		case FUSE_RELEASEDIR:
		case FUSE_DESTROY:
			fuse_reply(fd, ih->unique, 0, NULL, 0);
			break;
		default:
			fuse_reply(fd, ih->unique, -ENOSYS, NULL, 0);
			break;
		}
	}
}

#define FUSE_MNT	"/tmp/svmgpu-fuse"

/*
 * Process A's device reads a page of a file on a slow filesystem (a FUSE
 * server answering each READ after 3 s): resolving A's fault blocks in
 * hmm_range_fault() for 3 s, holding A's mmap_lock.  Process B's device
 * faults meanwhile are resolved at once: B's 16 commands all complete while
 * A's command is still waiting.  Once the read arrives, A's command
 * completes with the file's data.
 */
/* The count left in debugfs svmgpu_inject_fault_nomem, or -1. */
static long long nomem_left(const char *hook)
{
	char buf[32] = "";
	ssize_t n;
	int fd = open(hook, O_RDONLY);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoll(buf, NULL, 10) : -1;
}

/*
 * Out of the driver's own memory (svmgpu_inject_fault_nomem), a fault is
 * replayed after a growing pause: 8 batches out of memory in a row and the
 * ninth maps the page, every byte written; past that, the ninth cancels
 * it (FAULT_CANCELLED at its address, the page untouched), having taken
 * exactly 9 groups of the count; memory back, the queue works.
 */
TEST_F(faults, out_of_memory_faults_are_replayed_8_times_then_cancelled)
{
	unsigned char *p = sg_map_anon(2 * PAGE);
	struct drm_svmgpu_wait w;
	char hook[256];

	if (sg_debugfs_path("svmgpu_inject_fault_nomem", hook, sizeof(hook)))
		SKIP(return, "no debugfs svmgpu_inject_fault_nomem");
	ASSERT_NOT_NULL(p);
	ASSERT_EQ(sg_write_file(hook, "8"), 0);
	ASSERT_EQ(sg_run(self->fd, self->q, sg_fill(p, PAGE, 0x21, 1), &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_EQ(nomem_left(hook), 0);
	EXPECT_TRUE(sg_all_bytes(p, 0x21, PAGE));

	ASSERT_EQ(sg_write_file(hook, "100"), 0);
	ASSERT_EQ(sg_run(self->fd, self->q, sg_fill(p + PAGE, PAGE, 0x22, 1), &w), 0);
	EXPECT_EQ(nomem_left(hook), 91);
	ASSERT_EQ(sg_write_file(hook, "0"), 0);
	EXPECT_EQ(w.err_code, SVMGPU_ERR_FAULT_CANCELLED);
	EXPECT_EQ(w.err_va, (uintptr_t)(p + PAGE));
	EXPECT_EQ(w.err_access, SVMGPU_ACCESS_WRITE);
	EXPECT_TRUE(sg_all_bytes(p + PAGE, 0, PAGE));

	ASSERT_EQ(sg_run(self->fd, self->q, sg_fill(p + PAGE, PAGE, 0x23, 1), &w), 0);
	EXPECT_EQ(w.err_code, 0);
	EXPECT_TRUE(sg_all_bytes(p + PAGE, 0x23, PAGE));
	munmap(p, 2 * PAGE);
}

TEST_TIMEOUT(60)
TEST(slow_fault_of_one_process_does_not_delay_another)
{
	size_t bsize = 16 * PAGE;
	int go[2], ffd, fd, i, st;
	unsigned char *b;
	uint32_t ctx, q;
	double t0, total;
	pid_t srv, a;
	char opts[128], c;

	ffd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (ffd < 0)
		SKIP(return, "no /dev/fuse: %s", strerror(errno));
	mkdir(FUSE_MNT, 0755);
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other",
		 ffd);
	if (mount("svmgpu", FUSE_MNT, "fuse", MS_NODEV | MS_NOSUID, opts))
		SKIP(return, "mount fuse: %s", strerror(errno));
	/* The server reads requests only once mounted (EPERM before). */
	srv = fork();
	ASSERT_GE(srv, 0);
	if (srv == 0)
		fuse_serve(ffd);
	close(ffd);

	ASSERT_EQ(pipe(go), 0);
	a = fork();
	ASSERT_GE(a, 0);
	if (a == 0) {
		int afd = sg_open(), f = open(FUSE_MNT "/f", O_RDONLY);
		unsigned char *m, *dst;
		struct drm_svmgpu_wait w;
		uint32_t actx = 0, aq = 0;
		int err = errno;

		c = afd < 0 ? 10 : f < 0 ? 11 : 0;
		if (!c && (sg_ctx_create(afd, &actx) || sg_queue_create(afd, actx, 0, &aq))) {
			c = 12;
			err = errno;
		}
		m = mmap(NULL, FUSE_FILE_SIZE, PROT_READ, MAP_PRIVATE, f, 0);
		dst = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (!c && (m == MAP_FAILED || dst == MAP_FAILED)) {
			c = 13;
			err = errno;
		}
		if (c) {
			fprintf(stderr, "# process A: step %d failed: %s\n", c, strerror(err));
			if (write(go[1], &c, 1) != 1)
				_exit(1);
			_exit(1);
		}
		memset(dst, 0, PAGE);
		c = 1;
		if (write(go[1], &c, 1) != 1)
			_exit(1);
		/* The device's read of m faults; the page comes in 3 s later. */
		if (sg_run(afd, aq, sg_copy(dst, m + 8 * PAGE, PAGE), &w) || w.err_code)
			_exit(2);
		_exit(sg_all_bytes(dst, 0x5e, PAGE) ? 0 : 3);
	}
	close(go[1]);

	fd = sg_open();
	ASSERT_GE(fd, 0);
	ASSERT_EQ(sg_ctx_create(fd, &ctx), 0);
	ASSERT_EQ(sg_queue_create(fd, ctx, 0, &q), 0);
	b = mmap(NULL, bsize * 16, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(b, MAP_FAILED);
	ASSERT_EQ(read(go[0], &c, 1), 1);
	ASSERT_EQ(c, 1);
	usleep(500 * 1000);	/* A's fault is being resolved, stuck in the read */

	t0 = now_ms();
	for (i = 0; i < 16; i++) {
		ASSERT_EQ(sg_run_ok(fd, q, sg_fill(b + i * bsize, bsize, 0x88, 1)), 0);
		ASSERT_TRUE(sg_all_bytes(b + i * bsize, 0x88, bsize));
	}
	total = now_ms() - t0;
	/* B is done while A still waits for its page. */
	EXPECT_EQ(waitpid(a, &st, WNOHANG), 0);
	TH_LOG("B's 16 faulting commands took %.1f ms while A's fault was blocked", total);
	EXPECT_LT(total, 1500.0);

	ASSERT_EQ(waitpid(a, &st, 0), a);
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
	umount2(FUSE_MNT, MNT_DETACH);
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	close(fd);
}

TEST_HARNESS_MAIN
