// SPDX-License-Identifier: MIT
/*
 * svm_devmem_mm: pages in device-local memory on the mm's and the users'
 * hostile paths (docs/driver.md "Device memory", "Correctness").  fork()
 * with both sides writing and the device reading in each; O_DIRECT from and
 * into device pages; vmsplice; a long-term pin (io_uring fixed buffers),
 * which must move the pages out of device memory first; CPU, device and
 * migrations at once from three threads; SIGKILL in the middle of a large
 * PREFETCH and of a migration on device fault (nothing stays in device
 * memory); MADV_DONTNEED, MADV_FREE (a device write to a lazily freed
 * page kept through PREFETCH, CPU reads and a long-term pin), the split of
 * a THP by mprotect of its half, KSM on advised or device-resident ranges,
 * device pages reused after holding mlocked pages, MADV_WIPEONFORK, and a
 * vfork child submitting in the parent's mm and exec'ing.  Every byte is
 * checked, by the CPU and by the device.
 *
 * Coherent device memory on Debian's kernel (the CPU maps the pages in
 * place), private on the debug kernel (a CPU access migrates the page
 * back).  Needs a device with local memory (make check gives 256 MiB).
 */
#define _GNU_SOURCE
#include <linux/io_uring.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "svm_advise.h"

FIXTURE(mm) {
	int fd;
	uint32_t ctx;
	uint32_t q;
	int local;
	long long used0;
	double t0;
};

FIXTURE_SETUP(mm)
{
	self->t0 = sg_now_s();
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	self->local = sg_has_local_mem(self->fd);
	if (!self->local)
		SKIP(return, "the device has no local memory");
	self->used0 = sg_devmem_value("used");
	ASSERT_GE(self->used0, 0);
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &self->q), 0);
}

FIXTURE_TEARDOWN(mm)
{
	if (self->fd >= 0)
		close(self->fd);
	/* The program's time matters in make check (debug kernel): per test. */
	printf("# %.1f s\n", sg_now_s() - self->t0);
}

/* Offset of the first byte of p[first, first + n) not of pattern @seed. */
static long check_pat_at(const unsigned char *p, size_t first, size_t n, unsigned int seed)
{
	size_t i;

	for (i = first; i < first + n; i++)
		if (p[i] != pat(i, seed))
			return (long)i;
	return -1;
}

/* Offset of the first byte of p[0, n) not bytes [base, base + n) of @seed. */
static long check_pat_from(const unsigned char *p, size_t base, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != pat(base + i, seed))
			return (long)i;
	return -1;
}

static void fill_pat_at(unsigned char *p, size_t first, size_t n, unsigned int seed)
{
	size_t i;

	for (i = first; i < first + n; i++)
		p[i] = pat(i, seed);
}

/* A child's own device context: 0, or the step that failed. */
static int child_open(int *fd, uint32_t *ctx, uint32_t *q)
{
	*fd = sg_open();
	if (*fd < 0)
		return 10;
	if (sg_ctx_create(*fd, ctx))
		return 11;
	if (sg_queue_create(*fd, *ctx, 0, q))
		return 12;
	return 0;
}

/*
 * fork() of 2 MiB in device memory: the parent writes the upper half, then
 * the child writes the lower half; each sees only its own writes, with the
 * CPU and through its own device context (reads and a write).
 */
TEST_F(mm, fork_both_sides_write_device_reads_in_each)
{
	size_t size = 2 * MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	int go[2], done[2], status;
	char c = 0;
	pid_t pid;

	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	fill_pat(a, size, 0x21);
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	ASSERT_EQ(pipe(go), 0);
	ASSERT_EQ(pipe(done), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		uint32_t cctx, cq;
		int cfd, ret = child_open(&cfd, &cctx, &cq);

		if (ret)
			_exit(ret);
		if (read(go[0], &c, 1) != 1)
			_exit(13);
		/* The parent's write of the upper half is not ours. */
		if (check_pat(a, size, 0x21) != -1)
			_exit(1);
		if (dev_copy(cfd, cq, b, a, size) || check_pat(b, size, 0x21) != -1)
			_exit(2);
		fill_pat_at(a, 0, MB, 0x42);
		memset(b, 0, size);
		if (dev_copy(cfd, cq, b, a, size) || check_pat_at(b, 0, MB, 0x42) != -1 ||
		    check_pat_at(b, MB, MB, 0x21) != -1)
			_exit(3);
		/* A device write of the child, on a page still shared with the parent. */
		if (dev_fill(cfd, cq, a + MB, PAGE, 0xc3) || !sg_all_bytes(a + MB, 0xc3, PAGE) ||
		    check_pat_at(a, MB + PAGE, MB - PAGE, 0x21) != -1)
			_exit(4);
		if (write(done[1], &c, 1) != 1)
			_exit(14);
		_exit(0);
	}
	fill_pat_at(a, MB, MB, 0x63);
	ASSERT_EQ(write(go[1], &c, 1), 1);
	ASSERT_EQ(read(done[0], &c, 1), 1);
	/* The child's writes are not the parent's. */
	EXPECT_EQ(check_pat_at(a, 0, MB, 0x21), -1);
	EXPECT_EQ(check_pat_at(a, MB, MB, 0x63), -1);
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat_at(b, 0, MB, 0x21), -1);
	EXPECT_EQ(check_pat_at(b, MB, MB, 0x63), -1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/*
 * vfork(): the child submits @cmd on the parent's queue @q (it runs in the
 * parent's mm, and writes *@ret there) and execs /bin/true.  Its pid.
 */
static __attribute__((noinline)) pid_t vfork_submit_exec(int fd, uint32_t q,
							  const struct svmgpu_cmd *cmd,
							  volatile int *ret)
{
	pid_t pid = vfork();

	if (!pid) {
		uint64_t seq;

		*ret = sg_submit(fd, q, cmd, 1, &seq);
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/*
 * MADV_WIPEONFORK on 2 MiB in device memory, beside 2 MiB without it: the
 * fork child finds the wiped range zero-filled (a new anonymous mapping)
 * and the other as the parent wrote it, with the CPU and through its own
 * device context, which then writes the wiped range; the parent's bytes
 * stay as they were.  Then vfork(), the parent's COPY in flight: the child
 * submits a FILL on the parent's queue (it runs in the parent's mm) and
 * execs; the mm they shared goes on with the parent, both commands exact.
 */
TEST_F(mm, wipeonfork_and_vfork_with_device_memory)
{
	size_t size = 2 * MB, n = size / PAGE;
	unsigned char *w = sg_map_2m(size), *k = sg_map_2m(size), *b = sg_map_2m(2 * size);
	volatile int vret = -1;
	struct drm_svmgpu_wait wt;
	struct svmgpu_cmd cmd;
	uint64_t seq;
	int status;
	pid_t pid;

	ASSERT_NE(w, NULL);
	ASSERT_NE(k, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_EQ(madvise(w, size, MADV_WIPEONFORK), 0);
	fill_pat(w, size, 0x35);
	fill_pat(k, size, 0x53);
	ASSERT_EQ(prefetch_resident(self->fd, w, size), (long long)n);
	ASSERT_EQ(prefetch_resident(self->fd, k, size), (long long)n);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		uint32_t cctx, cq;
		int cfd, ret = child_open(&cfd, &cctx, &cq);

		if (ret)
			_exit(ret);
		if (!sg_all_bytes(w, 0, size))
			_exit(1);
		if (check_pat(k, size, 0x53) != -1)
			_exit(2);
		memset(b, 0xff, 2 * size);
		if (dev_copy(cfd, cq, b, w, size) || !sg_all_bytes(b, 0, size))
			_exit(3);
		if (dev_copy(cfd, cq, b + size, k, size) || check_pat(b + size, size, 0x53) != -1)
			_exit(4);
		if (dev_fill(cfd, cq, w, size, 0x9a) || !sg_all_bytes(w, 0x9a, size))
			_exit(5);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	/* 0, or the child's step that failed */
	EXPECT_EQ(WEXITSTATUS(status), 0);
	memset(b, 0, 2 * size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, w, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x35), -1);
	EXPECT_EQ(check_pat(w, size, 0x35), -1);
	EXPECT_EQ(check_pat(k, size, 0x53), -1);

	memset(b, 0, 2 * size);
	cmd = sg_copy(b, k, size);
	ASSERT_EQ(sg_submit(self->fd, self->q, &cmd, 1, &seq), 0);
	cmd = sg_fill(b + size, size, 0x6e, 1);
	pid = vfork_submit_exec(self->fd, self->q, &cmd, &vret);
	ASSERT_GE(pid, 0);
	ASSERT_EQ(vret, 0);
	/* the child's FILL came after the COPY on the same queue */
	ASSERT_EQ(sg_wait(self->fd, self->q, seq + 1, seq, 10 * 1000000000ull, &wt), 0);
	EXPECT_EQ(wt.nr_errors, 0);
	EXPECT_EQ(check_pat(b, size, 0x53), -1);
	EXPECT_TRUE(sg_all_bytes(b + size, 0x6e, size));
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	munmap(w, size);
	munmap(k, size);
	munmap(b, 2 * size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/*
 * O_DIRECT to a RAM block device from a buffer in device memory, and from
 * the device into another buffer in device memory: the block layer takes
 * the user pages itself (coherent pages in place, private pages after
 * migrate_to_ram); the bytes are exact on both sides.
 */
TEST_F(mm, o_direct_write_from_and_read_into_device_memory)
{
	size_t size = MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *c = sg_map_2m(size), *b = sg_map_2m(size);
	struct stat s;
	int f;

	if (stat("/dev/ram1", &s) || !S_ISBLK(s.st_mode))
		SKIP(return, "no /dev/ram1 (brd)");
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_NE(c, NULL);
	f = open("/dev/ram1", O_RDWR | O_DIRECT);
	ASSERT_GE(f, 0);
	fill_pat(a, size, 0x31);
	memset(c, 0, size);
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	ASSERT_EQ(prefetch_resident(self->fd, c, size), (long long)n);
	ASSERT_EQ(pwrite(f, a, size, 0), (ssize_t)size);
	memset(b, 0, size);
	ASSERT_EQ(pread(f, b, size, 0), (ssize_t)size);
	EXPECT_EQ(check_pat(b, size, 0x31), -1);
	/* Into device memory: the device, then the CPU, read what came in. */
	ASSERT_EQ(pread(f, c, size, 0), (ssize_t)size);
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, c, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x31), -1);
	EXPECT_EQ(check_pat(c, size, 0x31), -1);
	EXPECT_EQ(check_pat(a, size, 0x31), -1);
	close(f);
	munmap(a, size);
	munmap(b, size);
	munmap(c, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/* vmsplice() of pages in device memory into a pipe: the reader gets every byte. */
TEST_F(mm, vmsplice_of_device_pages)
{
	size_t size = MB, n = size / PAGE, off, chunk = 64 * 1024;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	int p[2];

	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	fill_pat(a, size, 0x37);
	memset(b, 0, size);
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	ASSERT_EQ(pipe(p), 0);
	for (off = 0; off < size; off += chunk) {
		struct iovec iov = { .iov_base = a + off, .iov_len = chunk };
		size_t got = 0;

		ASSERT_EQ(vmsplice(p[1], &iov, 1, 0), (ssize_t)chunk);
		while (got < chunk) {
			ssize_t r = read(p[0], b + off + got, chunk - got);

			ASSERT_GT(r, 0);
			got += r;
		}
	}
	EXPECT_EQ(check_pat(b, size, 0x37), -1);
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x37), -1);
	close(p[0]);
	close(p[1]);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/*
 * Long-term pin [@a, @a + @len) as an io_uring fixed buffer (FOLL_LONGTERM):
 * the ring's fd, or -errno (-ENOSYS or -EPERM only when no ring could be
 * set up: no io_uring here; a refused pin is never one of those).
 */
static int pin_longterm(void *a, size_t len)
{
	struct io_uring_params params;
	struct iovec iov = { .iov_base = a, .iov_len = len };
	int ring, err;

	memset(&params, 0, sizeof(params));
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0)
		return -errno;
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1)) {
		err = errno == ENOSYS || errno == EPERM ? -EIO : -errno;
		close(ring);
		return err;
	}
	return ring;
}

/* Drop pin_longterm()'s pin and ring: 0 or -errno. */
static int unpin_longterm(int ring)
{
	int err = 0;

	if (syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS, NULL, 0))
		err = -errno;
	close(ring);
	return err;
}

/*
 * A long-term pin (io_uring fixed buffers: FOLL_LONGTERM) of pages in
 * device memory moves them to system memory first: device memory could not
 * be reclaimed or evicted while pinned.  The pinned pages are the
 * process's: the CPU and the device read and write them exactly, and a
 * PREFETCH to the device leaves pinned pages where they are.
 */
TEST_F(mm, long_term_pin_moves_pages_out_first)
{
	size_t size = MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	int ring;

	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	fill_pat(a, size, 0x3b);
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	ring = pin_longterm(a, size);
	if (ring == -ENOSYS || ring == -EPERM)
		SKIP(return, "no io_uring: %s", strerror(-ring));
	ASSERT_GE(ring, 0);
	EXPECT_EQ(sg_residency(self->fd, a, size), 0);
	EXPECT_EQ(check_pat(a, size, 0x3b), -1);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x3b), -1);
	ASSERT_EQ(dev_fill(self->fd, self->q, a + PAGE, PAGE, 0xa7), 0);
	EXPECT_TRUE(sg_all_bytes(a + PAGE, 0xa7, PAGE));
	fill_pat_at(a, PAGE, PAGE, 0x3b);
	/* Pinned: a PREFETCH to the device leaves the pages in system memory. */
	ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, NULL), 0);
	EXPECT_EQ(sg_residency(self->fd, a, size), 0);
	EXPECT_EQ(check_pat(a, size, 0x3b), -1);
	ASSERT_EQ(unpin_longterm(ring), 0);
	/* Unpinned, the range moves again. */
	EXPECT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x3b), -1);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/* Shared by the threads of concurrent_cpu_device_and_migrations. */
/* Bytes of each part of struct conc's r: CPU, device writes, device reads (2 parts). */
#define CONC_PART	(256 * 1024ul)

struct conc {
	unsigned char *r;	/* 4 parts: CPU, device writes, device reads (2) */
	int fd;
	volatile int stop;
	int migrations;
	int mig_err;
	long cpu_bad;
};

/*
 * Moves all of r to the device and back, CONC_MOVES times, 10 ms apart: a
 * migration thread that never paused could take every page away again
 * before the device's replay, and a device command waits at most 30 s.
 */
#define CONC_MOVES	8

static void *conc_migrate(void *arg)
{
	struct conc *c = arg;

	while (!c->stop && c->migrations < CONC_MOVES) {
		int ret = sg_prefetch(c->fd, c->r, 4 * CONC_PART, c->migrations & 1 ?
				      DRM_SVMGPU_PREFETCH_SYSTEM :
				      DRM_SVMGPU_PREFETCH_DEVICE, NULL);

		if (ret) {
			c->mig_err = ret;
			break;
		}
		c->migrations++;
		usleep(10000);
	}
	return NULL;
}

/* Writes a new pattern over r's first part and checks it, again and again. */
static void *conc_cpu(void *arg)
{
	struct conc *c = arg;
	unsigned int seed = 0;

	while (!c->stop && c->cpu_bad < 0) {
		seed = (seed + 1) & 0xff;
		fill_pat(c->r, CONC_PART, seed);
		c->cpu_bad = check_pat(c->r, CONC_PART, seed);
	}
	return NULL;
}

/*
 * One thread moves 1 MiB between device and system memory without pause,
 * another writes and checks its first quarter with the CPU, and the device
 * (main thread) fills the second quarter and copies the second half out:
 * no byte is lost or stale, and the migrations really ran in between.
 * Private memory under TCG and the debug kernel's checkers makes each
 * round slow (every CPU write after a move is a migrate_to_ram).
 */
TEST_TIMEOUT(120)
TEST_F(mm, concurrent_cpu_device_and_migrations)
{
	size_t part = CONC_PART;
	unsigned char *r = sg_map_2m(4 * part), *b = sg_map_2m(2 * part);
	struct conc c = { .r = r, .fd = self->fd, .cpu_bad = -1 };
	long long to_dev0 = sg_devmem_value("to_device_pages");
	pthread_t tm, tc;
	int i;

	ASSERT_NE(r, NULL);
	ASSERT_NE(b, NULL);
	memset(r, 0, 4 * part);
	fill_pat_at(r, 2 * part, 2 * part, 0x6d);
	ASSERT_EQ(pthread_create(&tm, NULL, conc_migrate, &c), 0);
	ASSERT_EQ(pthread_create(&tc, NULL, conc_cpu, &c), 0);
	for (i = 0; i < 4; i++) {
		int v = 0x10 + i;

		ASSERT_EQ(dev_fill(self->fd, self->q, r + part, part, v), 0);
		ASSERT_TRUE(sg_all_bytes(r + part, v, part));
		memset(b, 0, 2 * part);
		ASSERT_EQ(dev_copy(self->fd, self->q, b, r + 2 * part, 2 * part), 0);
		ASSERT_EQ(check_pat_from(b, 2 * part, 2 * part, 0x6d), -1);
	}
	/* At least two migrations while the others worked. */
	for (i = 0; i < 3000 && c.migrations < 2 && !c.mig_err; i++)
		usleep(10000);
	c.stop = 1;
	pthread_join(tm, NULL);
	pthread_join(tc, NULL);
	EXPECT_EQ(c.mig_err, 0);
	EXPECT_EQ(c.cpu_bad, -1);
	EXPECT_GE(c.migrations, 2);
	EXPECT_GT(sg_devmem_value("to_device_pages"), to_dev0);
	EXPECT_TRUE(sg_all_bytes(r + part, 0x13, part));
	EXPECT_EQ(check_pat_at(r, 2 * part, 2 * part, 0x6d), -1);
	munmap(r, 4 * part);
	munmap(b, 2 * part);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/* Shared by zero_page_mapped_during_a_move_is_unmapped's reader thread. */
struct zread {
	int fd;
	uint32_t q;
	unsigned char *a, *b;
	size_t size;
	volatile int stop;
	int err;
	int copies;
};

/* Device COPYs b <- a, again and again, until told to stop. */
static void *zread_loop(void *arg)
{
	struct zread *z = arg;

	while (!z->stop && !z->err) {
		z->err = dev_copy(z->fd, z->q, z->b, z->a, z->size);
		z->copies++;
	}
	return NULL;
}

/*
 * Rounds of zero_page_mapped_during_a_move_is_unmapped: 24 on coherent
 * memory, 2 on private memory, where the race is harmless (the new page is
 * zero-filled and a CPU write moves it back first, which unmaps) and every
 * round is slow (512 migrate_to_ram).
 */
#define ZREAD_ROUNDS		24
#define ZREAD_ROUNDS_PRIVATE	2

/*
 * The device reads a range the CPU never touched (the zero page, in 4 KiB
 * pages: no huge zero page) while a PREFETCH moves it to the device.  The
 * move removes the device's zero-page PTEs, but the CPU PTE stays the zero
 * page until migrate_vma_pages() puts the new page in, so the reader may
 * map the zero page again meanwhile; that mapping must go with the zero
 * page.  Then the CPU writes a pattern (coherent memory: into the device
 * page in place, no notifier) and the device must read it, not zeros.
 * Repeated: the reader has to fault inside the window (it did in round 1
 * or 2 of 24 with the zero-page leaves left mapped, Debian's kernel).
 */
TEST_TIMEOUT(120)
TEST_F(mm, zero_page_mapped_during_a_move_is_unmapped)
{
	size_t size = 2 * MB;
	unsigned char *b = sg_map_2m(size);
	struct zread z = { .fd = self->fd, .b = b, .size = size };
	long long to_dev0 = sg_devmem_value("to_device_pages");
	int round, rounds = sg_devmem_private(NULL) ? ZREAD_ROUNDS_PRIVATE : ZREAD_ROUNDS;
	long bad = -1;
	pthread_t t;

	ASSERT_NE(b, NULL);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &z.q), 0);
	for (round = 0; round < rounds && bad < 0; round++) {
		unsigned char *a = mmap(NULL, size, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		ASSERT_NE(a, MAP_FAILED);
		ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
		z.a = a;
		z.stop = 0;
		z.copies = 0;
		ASSERT_EQ(pthread_create(&t, NULL, zread_loop, &z), 0);
		/* The reader maps the zero page before the move starts. */
		while (!z.copies && !z.err)
			usleep(1000);
		EXPECT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE,
				      NULL), 0);
		z.stop = 1;
		pthread_join(t, NULL);
		ASSERT_EQ(z.err, 0);
		fill_pat(a, size, 0x5e + round);
		memset(b, 0, size);
		ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
		bad = check_pat(b, size, 0x5e + round);
		if (bad >= 0)
			TH_LOG("round %d: byte %ld read 0x%02x", round, bad, b[bad]);
		munmap(a, size);
	}
	EXPECT_EQ(bad, -1);
	EXPECT_GT(sg_devmem_value("to_device_pages"), to_dev0);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/*
 * A child with @size bytes of pattern starts a PREFETCH to the device
 * (@on_fault: a device read of a range preferring the device, migrating on
 * fault) and is SIGKILLed once device memory use rose: nothing of it stays
 * in device memory.  Returns how the child ended in *status.
 */
static int kill_mid_migration(int on_fault, size_t size, long long used0, int *status,
			      int *mid)
{
	int ready[2], i, ret = 0;
	char c = 0;
	pid_t pid;

	if (pipe(ready))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
		uint32_t cctx, cq;
		int cfd, r = child_open(&cfd, &cctx, &cq);

		if (r || !a || !b)
			_exit(r ? r : 20);
		fill_pat(a, size, 0x4b);
		if (on_fault && advise(cfd, cctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
				       DRM_SVMGPU_LOC_DEVICE))
			_exit(21);
		if (write(ready[1], &c, 1) != 1)
			_exit(22);
		if (on_fault)
			r = dev_copy(cfd, cq, b, a, size);
		else
			r = sg_prefetch(cfd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, NULL);
		pause();
		_exit(r ? 23 : 0);
	}
	if (read(ready[0], &c, 1) != 1)
		ret = -EIO;
	/* Kill as soon as the migration has begun (device memory in use grew). */
	for (i = 0; i < 20000 && sg_devmem_value("used") <= used0; i++)
		usleep(500);
	*mid = sg_devmem_value("used") < used0 + (long long)size;
	kill(pid, SIGKILL);
	if (waitpid(pid, status, 0) != pid && !ret)
		ret = -errno;
	close(ready[0]);
	close(ready[1]);
	return ret;
}

/* SIGKILL in the middle of a 16 MiB PREFETCH: no device memory leaked. */
TEST_F(mm, sigkill_mid_prefetch_leaks_nothing)
{
	int status = 0, mid = 0;

	ASSERT_EQ(kill_mid_migration(0, 16 * MB, self->used0, &status, &mid), 0);
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(WTERMSIG(status), SIGKILL);
	if (!mid)
		printf("# the PREFETCH had finished when the kill came\n");
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/* SIGKILL in the middle of 8 MiB of migration on device fault: no leak. */
TEST_F(mm, sigkill_mid_migrate_on_fault_leaks_nothing)
{
	int status = 0, mid = 0;

	ASSERT_EQ(kill_mid_migration(1, 8 * MB, self->used0, &status, &mid), 0);
	ASSERT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(WTERMSIG(status), SIGKILL);
	if (!mid)
		printf("# the migration had finished when the kill came\n");
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/*
 * MADV_DONTNEED on device pages frees them (zero on the next touch, by the
 * CPU or the device); MADV_FREE leaves each page whole (its bytes or, if
 * reclaimed, zero) and a later write sticks.
 */
TEST_F(mm, madv_dontneed_and_free_on_device_pages)
{
	size_t size = 4 * MB, n = size / PAGE, i;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	long long used1;
	long bad = -1;

	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	fill_pat(a, size, 0x41);
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	used1 = sg_devmem_value("used");
	ASSERT_EQ(madvise(a, MB, MADV_DONTNEED), 0);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used1 - (long long)MB), used1 - (long long)MB);
	EXPECT_EQ(sg_residency(self->fd, a, MB), 0);
	ASSERT_EQ(madvise(a + MB, MB, MADV_FREE), 0);
	memset(b, 0xee, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_TRUE(sg_all_bytes(b, 0, MB));
	for (i = MB; i < 2 * MB && bad < 0; i += PAGE)
		if (!sg_all_bytes(b + i, 0, PAGE) && check_pat_at(b, i, PAGE, 0x41) != -1)
			bad = (long)i;
	EXPECT_EQ(bad, -1);
	EXPECT_EQ(check_pat_at(b, 2 * MB, 2 * MB, 0x41), -1);
	/* Writes after the advice stick: the device's in the freed range, the CPU's in the lazy one. */
	ASSERT_EQ(dev_fill(self->fd, self->q, a, PAGE, 0x77), 0);
	fill_pat_at(a, MB, MB, 0x43);
	EXPECT_TRUE(sg_all_bytes(a, 0x77, PAGE));
	EXPECT_TRUE(sg_all_bytes(a + PAGE, 0, MB - PAGE));
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_TRUE(sg_all_bytes(b, 0x77, PAGE));
	EXPECT_EQ(check_pat_at(b, MB, MB, 0x43), -1);
	EXPECT_EQ(check_pat_at(a, 2 * MB, 2 * MB, 0x41), -1);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/*
 * A page freed lazily (MADV_FREE: clean, no longer swap-backed), moved to
 * device memory and written there by the device holds written data: on its
 * way back, by a PREFETCH to system memory or (private memory) a CPU read,
 * it comes back dirty, and MADV_PAGEOUT keeps it.  Before, it came back
 * clean and still lazily freed, and reclaim discarded what the device
 * wrote: the next read gave zeros (when the device page had never held a
 * swap-backed page).  Coherent pages the CPU reads in place stay.
 */
TEST_F(mm, device_write_to_a_lazily_freed_page_survives_pageout)
{
	size_t size = 2 * MB, half = size / 2, n = size / PAGE, i;
	unsigned char *a = sg_map_anon(size);
	int private = sg_devmem_private(NULL);
	volatile unsigned char sink;
	size_t lost[2] = { 0, 0 };

	ASSERT_NE(a, NULL);
	ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
	memset(a, 0x11, size);
	ASSERT_EQ(madvise(a, size, MADV_FREE), 0);
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	ASSERT_EQ(dev_fill(self->fd, self->q, a, size, 0x5a), 0);
	/* Back: the first half by PREFETCH, the second by the CPU's reads. */
	ASSERT_EQ(sg_prefetch(self->fd, a, half, DRM_SVMGPU_PREFETCH_SYSTEM, NULL), 0);
	for (i = half; i < size; i += PAGE)
		sink = a[i];
	(void)sink;
	EXPECT_EQ(sg_residency(self->fd, a, size), private ? 0 : (long long)(n / 2));
	ASSERT_EQ(madvise(a, size, MADV_PAGEOUT), 0);
	for (i = 0; i < size; i += PAGE)
		lost[i >= half] += !sg_all_bytes(a + i, 0x5a, PAGE);
	EXPECT_EQ(lost[0], 0);
	EXPECT_EQ(lost[1], 0);
	TH_LOG("pages that lost the device's write: %zu of %zu back by PREFETCH, %zu of %zu read",
	       lost[0], n / 2, lost[1], n / 2);
	munmap(a, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/*
 * The same, the pages brought back by a long-term pin (io_uring fixed
 * buffers): the core moves them out itself, migrate_device_coherent_page()
 * for coherent memory, a CPU-style fault for private, without the driver's
 * copy.  They must come back dirty too, and MADV_PAGEOUT after the unpin
 * keep what the device wrote.
 */
TEST_F(mm, device_write_to_a_lazily_freed_page_survives_a_long_term_pin)
{
	size_t size = MB, n = size / PAGE, i, lost = 0;
	unsigned char *a = sg_map_anon(size);
	int ring;

	ASSERT_NE(a, NULL);
	ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
	memset(a, 0x22, size);
	ASSERT_EQ(madvise(a, size, MADV_FREE), 0);
	ASSERT_EQ(prefetch_resident(self->fd, a, size), (long long)n);
	ASSERT_EQ(dev_fill(self->fd, self->q, a, size, 0x6c), 0);
	ring = pin_longterm(a, size);
	if (ring == -ENOSYS || ring == -EPERM)
		SKIP(return, "no io_uring: %s", strerror(-ring));
	ASSERT_GE(ring, 0);
	EXPECT_EQ(sg_residency(self->fd, a, size), 0);
	ASSERT_EQ(unpin_longterm(ring), 0);
	ASSERT_EQ(madvise(a, size, MADV_PAGEOUT), 0);
	for (i = 0; i < size; i += PAGE)
		lost += !sg_all_bytes(a + i, 0x6c, PAGE);
	EXPECT_EQ(lost, 0);
	TH_LOG("pages that lost the device's write: %zu of %zu", lost, n);
	munmap(a, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25	/* Linux 6.1 */
#endif

/*
 * MADV_COLLAPSE of [p, p + size): 0 or -errno (EAGAIN, a page locked or
 * off the LRU for a moment, is tried again).
 */
static int collapse(void *p, size_t size)
{
	int ret = -EAGAIN, i;

	for (i = 0; i < 5 && ret == -EAGAIN; i++) {
		if (i)
			usleep(10000);
		ret = madvise(p, size, MADV_COLLAPSE) ? -errno : 0;
	}
	return ret;
}

/*
 * A THP collapse (MADV_COLLAPSE: khugepaged's own path, without its
 * limits) of 2 MiB whose upper half is in device memory.  Private memory:
 * the collapse swaps each device-private entry in (do_swap_page() ->
 * migrate_to_ram(), a CPU fault per page) and makes one huge page of system
 * memory; coherent memory: a device page refuses the collapse (EINVAL) and
 * every page stays.  Either way every byte is exact, for the CPU and the
 * device.  khugepaged does the same to a PMD with at most 64 device-private
 * entries: why PREFETCH migrates in PMD-aligned windows (docs/driver.md
 * "Busy pages").
 */
TEST_F(mm, thp_collapse_of_a_range_half_in_device_memory)
{
	size_t size = 2 * MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	long long faults0;
	int ret;

	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	fill_pat(a, size, 0x5d);
	/* The control: MADV_COLLAPSE collapses small pages of system memory here. */
	ASSERT_EQ(madvise(b, size, MADV_NOHUGEPAGE), 0);
	memset(b, 0, size);
	ASSERT_EQ(madvise(b, size, MADV_HUGEPAGE), 0);
	ASSERT_EQ(collapse(b, size), 0);
	ASSERT_EQ(prefetch_resident(self->fd, a + MB, MB), (long long)n / 2);
	EXPECT_EQ(sg_residency(self->fd, a, size), (long long)n / 2);
	faults0 = sg_devmem_value("cpu_faults");
	ASSERT_GE(faults0, 0);

	ret = collapse(a, size);
	if (sg_devmem_private(NULL)) {
		EXPECT_EQ(ret, 0);
		EXPECT_EQ(sg_residency(self->fd, a, size), 0);
		EXPECT_GE(sg_devmem_value("cpu_faults") - faults0, (long long)n / 2);
	} else {
		EXPECT_EQ(ret, -EINVAL);
		EXPECT_EQ(sg_residency(self->fd, a, size), (long long)n / 2);
		EXPECT_EQ(sg_devmem_value("cpu_faults"), faults0);
	}
	TH_LOG("MADV_COLLAPSE: %d, %lld CPU faults, %lld pages in device memory", ret,
	       sg_devmem_value("cpu_faults") - faults0, sg_residency(self->fd, a, size));
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x5d), -1);
	EXPECT_EQ(check_pat(a, size, 0x5d), -1);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/*
 * A 2 MiB THP the device maps whole, advised to the device, split by an
 * mprotect of its upper half: the device's next reads migrate it, the
 * bytes stay exact, and a device-resident 2 MiB split the same way too.
 */
TEST_F(mm, thp_split_by_mprotect_of_half_advised_and_resident)
{
	size_t size = 2 * MB, n = size / PAGE;
	unsigned char *a = sg_map_2m(size), *d = sg_map_2m(size), *b = sg_map_2m(size);

	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_NE(d, NULL);
	madvise(a, size, MADV_HUGEPAGE);
	fill_pat(a, size, 0x51);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	ASSERT_EQ(advise(self->fd, self->ctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(mprotect(a + MB, MB, PROT_READ), 0);
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x51), -1);
	EXPECT_GE(sg_residency(self->fd, a, size), (long long)n - BUSY_SLACK);
	ASSERT_EQ(dev_fill(self->fd, self->q, a, PAGE, 0x5c), 0);
	EXPECT_TRUE(sg_all_bytes(a, 0x5c, PAGE));
	EXPECT_EQ(check_pat_at(a, PAGE, size - PAGE, 0x51), -1);
	ASSERT_EQ(mprotect(a + MB, MB, PROT_READ | PROT_WRITE), 0);
	ASSERT_EQ(dev_fill(self->fd, self->q, a + MB, PAGE, 0x5d), 0);
	EXPECT_TRUE(sg_all_bytes(a + MB, 0x5d, PAGE));
	EXPECT_EQ(check_pat_at(a, MB + PAGE, MB - PAGE, 0x51), -1);

	/* Device-resident first, then split. */
	madvise(d, size, MADV_HUGEPAGE);
	fill_pat(d, size, 0x52);
	ASSERT_EQ(prefetch_resident(self->fd, d, size), (long long)n);
	ASSERT_EQ(mprotect(d, MB, PROT_READ), 0);
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, d, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x52), -1);
	EXPECT_EQ(check_pat(d, size, 0x52), -1);
	ASSERT_EQ(mprotect(d, MB, PROT_READ | PROT_WRITE), 0);
	ASSERT_EQ(dev_fill(self->fd, self->q, d + PAGE, PAGE, 0x5e), 0);
	EXPECT_TRUE(sg_all_bytes(d + PAGE, 0x5e, PAGE));
	EXPECT_EQ(check_pat_at(d, 0, PAGE, 0x52), -1);
	EXPECT_EQ(check_pat_at(d, 2 * PAGE, size - 2 * PAGE, 0x52), -1);
	munmap(a, size);
	munmap(b, size);
	munmap(d, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/* Bits of /proc/kpageflags (include/uapi/linux/kernel-page-flags.h). */
#define KPF_ACTIVE_BIT		(1ull << 6)
#define KPF_KSM_BIT		(1ull << 21)
#define KPF_UNEVICTABLE_BIT	(1ull << 18)
#define KPF_MLOCKED_BIT		(1ull << 33)
#define PAGEMAP_PRESENT		(1ull << 63)
#define PAGEMAP_PFN		((1ull << 55) - 1)

/* Pages of first_page_without()'s reads: runs of consecutive PFNs at once. */
#define KPF_CHUNK	512

/*
 * The first of the @n pages at @p that is not in system memory or whose
 * /proc/kpageflags lack a bit of @want (its flags in *flags, 0 if it has
 * no PFN), or -1: all have them.  Needs root (PFNs in /proc/self/pagemap).
 */
static long first_page_without(const void *p, size_t n, uint64_t want, uint64_t *flags)
{
	int pm = open("/proc/self/pagemap", O_RDONLY), kf = open("/proc/kpageflags", O_RDONLY);
	uint64_t e[KPF_CHUNK], f[KPF_CHUNK];
	size_t i, j, k, c;
	long bad = -1;

	for (i = 0; i < n && bad < 0; i += c) {
		c = n - i < KPF_CHUNK ? n - i : KPF_CHUNK;
		memset(f, 0, sizeof(f));
		if (pread(pm, e, c * sizeof(e[0]), ((uintptr_t)p / PAGE + i) * sizeof(e[0])) !=
		    (ssize_t)(c * sizeof(e[0])))
			memset(e, 0, sizeof(e));
		for (j = 0; j < c; j = k) {
			for (k = j + 1; k < c && (e[k] & PAGEMAP_PFN) == (e[j] & PAGEMAP_PFN) + k - j;
			     k++)
				;
			if ((e[j] & PAGEMAP_PFN) &&
			    pread(kf, f + j, (k - j) * sizeof(f[0]),
				  (e[j] & PAGEMAP_PFN) * sizeof(f[0])) != (ssize_t)((k - j) * sizeof(f[0])))
				memset(f + j, 0, (k - j) * sizeof(f[0]));
		}
		for (j = 0; j < c && bad < 0; j++) {
			if (!(e[j] & PAGEMAP_PRESENT) || !(e[j] & PAGEMAP_PFN) ||
			    (f[j] & want) != want) {
				*flags = f[j];
				bad = (long)(i + j);
			}
		}
	}
	if (pm >= 0)
		close(pm);
	if (kf >= 0)
		close(kf);
	return bad;
}

static long long prefetch_drained(int fd, void *p, size_t size);

/* Read a number from /sys/kernel/mm/ksm/@name, or -1. */
static long ksm_read(const char *name)
{
	char path[128], buf[32] = "";
	int f;
	ssize_t r;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	f = open(path, O_RDONLY);
	if (f < 0)
		return -1;
	r = read(f, buf, sizeof(buf) - 1);
	close(f);
	return r > 0 ? strtol(buf, NULL, 10) : -1;
}

static int ksm_write(const char *name, long v)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	snprintf(buf, sizeof(buf), "%ld", v);
	return sg_write_file(path, buf);
}

/*
 * Turn ksmd on for a test: its settings come back however the test ends
 * (the harness).  0, 1: no KSM in this kernel, or -errno.
 */
static int ksm_start(long sleep_ms)
{
	if (ksm_read("run") < 0)
		return 1;
	if (svmgpu_test_restore_file("/sys/kernel/mm/ksm/run") ||
	    svmgpu_test_restore_file("/sys/kernel/mm/ksm/pages_to_scan") ||
	    svmgpu_test_restore_file("/sys/kernel/mm/ksm/sleep_millisecs"))
		return -EIO;
	if (ksm_write("pages_to_scan", 4096) || ksm_write("sleep_millisecs", sleep_ms))
		return -EIO;
	return ksm_write("run", 1) ? -EIO : 0;
}

/*
 * The start of each KSM test: ksmd running (ksm_start(@sleep_ms)) and two
 * 2 MiB-aligned buffers of @size at *@a and *@b: 0, 1 without KSM, or
 * -errno.
 */
static int ksm_setup(long sleep_ms, size_t size, unsigned char **a, unsigned char **b)
{
	int ret = ksm_start(sleep_ms);

	if (ret)
		return ret;
	*a = sg_map_2m(size);
	*b = sg_map_2m(size);
	return *a && *b ? 0 : -ENOMEM;
}

/*
 * Wait (up to 20 s) until ksmd has merged all @n pages at @p: the index
 * of the first page not merged, or -1 (0 at once without /proc/kpageflags).
 */
static long ksm_wait_merged(const void *p, size_t n)
{
	uint64_t flags = 0;
	long bad = 0;
	int i;

	if (access("/proc/kpageflags", R_OK)) {
		printf("# /proc/kpageflags: %s\n", strerror(errno));
		return 0;
	}
	for (i = 0; i < 1000 && bad >= 0; i++) {
		bad = first_page_without(p, n, KPF_KSM_BIT, &flags);
		if (bad >= 0)
			usleep(20000);
	}
	if (bad >= 0)
		printf("# page %ld of %zu not merged: kpageflags 0x%llx\n", bad, n,
		       (unsigned long long)flags);
	return bad;
}

/*
 * KSM over 2 MiB of identical pages, half in device memory, all advised to
 * the device: a mergeable range never moves to device memory (ksmd could
 * make a page a KSM page under a migration, which 6.1 cannot undo:
 * docs/driver.md), so ksmd merges the whole system half and device faults
 * there map it in place; the device half stays until it moves back (here
 * the CPU's reads, on private memory).
 * Every byte is as written, the device reads them, and a device write to
 * a page (merged pages are write-protected) changes that page only.
 */
TEST_F(mm, ksm_merge_of_advised_and_resident_range)
{
	size_t size = 2 * MB;
	unsigned char *a, *b;
	uint64_t moved = 1;
	int ret;

	ret = ksm_setup(10, size, &a, &b);
	if (ret == 1)
		SKIP(return, "no KSM in this kernel");
	ASSERT_EQ(ret, 0);
	memset(a, 0x5a, size);
	ASSERT_EQ(prefetch_resident(self->fd, a, MB), (long long)(MB / PAGE));
	ASSERT_EQ(advise(self->fd, self->ctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(madvise(a, size, MADV_MERGEABLE), 0);
	EXPECT_EQ(ksm_wait_merged(a + MB, MB / PAGE), -1);
	printf("# ksm: pages_sharing %ld, pages_shared %ld\n", ksm_read("pages_sharing"),
	       ksm_read("pages_shared"));
	ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, &moved), 0);
	EXPECT_EQ(moved, 0);
	EXPECT_EQ(sg_residency(self->fd, a, size), (long long)(MB / PAGE));
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_TRUE(sg_all_bytes(b, 0x5a, size));
	ASSERT_EQ(dev_fill(self->fd, self->q, a + MB + PAGE, PAGE, 0x11), 0);
	ASSERT_EQ(dev_fill(self->fd, self->q, a + PAGE, PAGE, 0x12), 0);
	/* the device half stayed, the system half stayed (the CPU reads follow) */
	EXPECT_EQ(sg_residency(self->fd, a, size), (long long)(MB / PAGE));
	EXPECT_TRUE(sg_all_bytes(a + MB + PAGE, 0x11, PAGE));
	EXPECT_TRUE(sg_all_bytes(a + PAGE, 0x12, PAGE));
	EXPECT_TRUE(sg_all_bytes(a, 0x5a, PAGE));
	EXPECT_TRUE(sg_all_bytes(a + 2 * PAGE, 0x5a, MB - PAGE));
	EXPECT_TRUE(sg_all_bytes(a + MB + 2 * PAGE, 0x5a, MB - 2 * PAGE));
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_TRUE(sg_all_bytes(b + MB + PAGE, 0x11, PAGE));
	EXPECT_TRUE(sg_all_bytes(b + PAGE, 0x12, PAGE));
	EXPECT_TRUE(sg_all_bytes(b + 2 * PAGE, 0x5a, MB - PAGE));
	ASSERT_EQ(madvise(a, size, MADV_UNMERGEABLE), 0);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/* Rounds of ksmd_without_pause_against_device_faults_and_prefetch. */
#define KSM_ROUNDS	12

/*
 * ksmd scanning without pause a 2 MiB mergeable range advised to the
 * device, while each round rewrites it (identical pages in odd rounds,
 * which ksmd merges, distinct ones in even rounds, which break every
 * merge), PREFETCHes it to the device and has the device copy and write
 * it: nothing moves to device memory, and every byte reads back as
 * written, by the CPU and the device.  The BUG this guards against (a
 * migration entry left on a page ksmd had just made a KSM page) needed
 * ksmd and a migration on the same pages.  Made unmergeable, the range
 * moves to the device whole.
 */
TEST_F(mm, ksmd_without_pause_against_device_faults_and_prefetch)
{
	size_t size = 2 * MB;
	unsigned char *a, *b;
	uint64_t moved;
	int round, ret;

	ret = ksm_setup(0, size, &a, &b);
	if (ret == 1)
		SKIP(return, "no KSM in this kernel");
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(advise(self->fd, self->ctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(madvise(a, size, MADV_MERGEABLE), 0);
	for (round = 0; round < KSM_ROUNDS; round++) {
		unsigned int seed = 0x30 + round;

		if (round & 1)
			memset(a, seed, size);
		else
			fill_pat(a, size, seed);
		moved = 1;
		ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, &moved), 0);
		EXPECT_EQ(moved, 0);
		memset(b, 0, size);
		ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
		if (round & 1)
			EXPECT_TRUE(sg_all_bytes(b, seed, size));
		else
			EXPECT_EQ(check_pat(b, size, seed), -1);
		/* a device write to every 16th page, merged or not */
		for (size_t off = round * PAGE; off < size; off += 16 * PAGE)
			ASSERT_EQ(dev_fill(self->fd, self->q, a + off, PAGE, seed ^ 0xff), 0);
		for (size_t off = 0; off < size; off += PAGE) {
			bool written = off >= round * PAGE && (off - round * PAGE) % (16 * PAGE) == 0;

			if (written)
				ASSERT_TRUE(sg_all_bytes(a + off, seed ^ 0xff, PAGE));
			else if (round & 1)
				ASSERT_TRUE(sg_all_bytes(a + off, seed, PAGE));
			else
				ASSERT_EQ(check_pat_at(a, off, PAGE, seed), -1);
		}
		EXPECT_EQ(sg_residency(self->fd, a, size), 0);
	}
	printf("# ksm: full_scans %ld, pages_sharing %ld\n", ksm_read("full_scans"),
	       ksm_read("pages_sharing"));
	ASSERT_EQ(madvise(a, size, MADV_UNMERGEABLE), 0);
	fill_pat(a, size, 0x77);
	/* new pages: some may sit in another CPU's LRU batch (busy) */
	ASSERT_EQ(prefetch_drained(self->fd, a, size), (long long)(size / PAGE));
	EXPECT_EQ(check_pat(a, size, 0x77), -1);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/*
 * The fork() half of the KSM race: pages the process shares copy-on-write
 * with a child whose own mapping is mergeable (the child called
 * MADV_MERGEABLE after the fork), ksmd scanning without pause.  ksmd
 * merges the child's mapping, and so the shared page, holding only the
 * child's mmap_lock: a migration of the parent's mapping in that gap left a
 * migration entry on an unlocked page (the kernel BUG of the same-process
 * case).  A page mapped more than once never moves to device memory.  Each
 * round, a new child, the pages identical so that ksmd merges them: right
 * after the fork a PREFETCH moves nothing (every page is shared); then,
 * the child's mapping mergeable, PREFETCHes race ksmd (a page whose child
 * mapping ksmd replaced with a KSM page is the parent's alone and may
 * move), and the device and the CPU read every byte; the child gone, the
 * range moves whole.
 */
TEST_TIMEOUT(180)
TEST_F(mm, ksmd_merging_a_fork_childs_shared_pages_against_prefetch)
{
	size_t size = 2 * MB;
	unsigned char *a, *b;
	int round, i, ret, st;
	uint64_t moved;

	ret = ksm_setup(0, size, &a, &b);
	if (ret == 1)
		SKIP(return, "no KSM in this kernel");
	ASSERT_EQ(ret, 0);
	ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(madvise(b, size, MADV_DONTFORK), 0);
	for (round = 0; round < KSM_ROUNDS / 2; round++) {
		unsigned int seed = 0x50 + round;
		struct sg_peer child;
		pid_t pid;

		/* the last round's pages back (coherent memory is written in place) */
		for (i = 0; i < 5; i++) {
			ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_SYSTEM,
					      NULL), 0);
			if (!sg_residency(self->fd, a, size))
				break;
			usleep(10000);	/* a page busy at that moment */
		}
		ASSERT_EQ(sg_residency(self->fd, a, size), 0);
		memset(a, seed, size);
		pid = sg_peer_fork(&child);
		ASSERT_GE(pid, 0);
		if (!pid) {
			if (sg_peer_post(&child) || sg_peer_wait(&child))
				_exit(1);
			if (madvise(a, size, MADV_MERGEABLE))
				_exit(2);
			if (sg_peer_post(&child) || sg_peer_wait(&child))
				_exit(3);
			_exit(0);
		}
		ASSERT_EQ(sg_peer_wait(&child), 0);
		moved = 1;
		ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE, &moved), 0);
		EXPECT_EQ(moved, 0);
		EXPECT_EQ(sg_residency(self->fd, a, size), 0);
		ASSERT_EQ(sg_peer_post(&child), 0);
		ASSERT_EQ(sg_peer_wait(&child), 0);
		for (i = 0; i < 8; i++) {
			ASSERT_EQ(sg_prefetch(self->fd, a, size, DRM_SVMGPU_PREFETCH_DEVICE,
					      NULL), 0);
			memset(b, 0, size);
			ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
			EXPECT_TRUE(sg_all_bytes(b, seed, size));
		}
		EXPECT_TRUE(sg_all_bytes(a, seed, size));
		ASSERT_EQ(sg_peer_post(&child), 0);
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		EXPECT_EQ(st, 0);
		sg_peer_close(&child);
	}
	printf("# ksm: full_scans %ld, pages_sharing %ld\n", ksm_read("full_scans"),
	       ksm_read("pages_sharing"));
	/* Mapped once again: the pages (KSM ones too, after a write) move. */
	fill_pat(a, size, 0x78);
	ASSERT_EQ(prefetch_drained(self->fd, a, size), (long long)(size / PAGE));
	EXPECT_EQ(check_pat(a, size, 0x78), -1);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

/*
 * Empty every CPU's LRU batches (new pages, activations, mlocks), as
 * move_pages(2) does first (lru_cache_disable()): 0 or -errno.  A page
 * moved to node 0, where it is (mlock() drains only the caller's CPU).
 */
static int lru_drain_all(void)
{
	static unsigned char page[PAGE] __attribute__((aligned(PAGE)));
	void *pages[1] = { page };
	int node = 0, status = 0;

	page[0] = 1;
	if (syscall(SYS_move_pages, 0, 1, pages, &node, &status, 0) < 0)
		return -errno;
	return 0;
}

/*
 * prefetch_resident() with the LRU batches emptied between tries: a page
 * a try put back (busy at that moment) sits in a CPU's batch, holding a
 * reference that keeps it from moving, until that CPU drains it.
 */
static long long prefetch_drained(int fd, void *p, size_t size)
{
	return prefetch_resident_between(fd, p, size, lru_drain_all);
}

/*
 * A device page keeps its flags when it is freed, and a migration copies
 * its source's LRU flags onto it: one that held an mlocked page
 * (Unevictable) and was unmapped in device memory, then given an active
 * page, was Active and Unevictable, and the CPU's migration back hit
 * VM_BUG_ON_FOLIO(folio_test_unevictable) in folio_migrate_flags() (the
 * debug kernel; found by syscall_fuzz, fixed in b3b4c07).  A page mlocked
 * once is no longer Unevictable when it moves: migrate_vma's unmap of it
 * munlocks it and drains that before isolating it.  Mlocked twice (a
 * forked child mlocks the shared pages too), it stays Unevictable, and
 * that is how the bug was reached; such a page is shared with the child,
 * and a page mapped more than once no longer moves to device memory (the
 * KSM race, docs/driver.md): while the child lives, a PREFETCH moves
 * nothing.  Once it exited, all of device memory gets the mlocked pages
 * (checked Unevictable and Mlocked) and they are unmapped there; then 64
 * pages the CPU made active (two reads through /proc/self/mem each,
 * checked Active) move to the device and the CPU reads them: every byte
 * exact, one migrate_to_ram per page (private memory; coherent memory is
 * read in place).
 */
TEST_TIMEOUT(200)
TEST_F(mm, device_page_reused_after_mlocked_page_starts_clean)
{
	long long cap = sg_devmem_value("capacity"), cf0, sys0;
	size_t n = 64, size = n * PAGE, fsize, fn;
	int private = sg_devmem_private(NULL), mem;
	unsigned char *f, *a, *b;
	uint64_t flags = 0;
	long bad;

	/* No devmem_limit_mb: filling the capacity uses every device page. */
	ASSERT_EQ(cap, sg_devmem_value("size"));
	ASSERT_GT(cap, self->used0);
	fsize = (size_t)(cap - self->used0);
	fn = fsize / PAGE;

	/* Every free device page gets an mlocked page, then is freed with it. */
	f = sg_map_2m(fsize);
	ASSERT_NE(f, NULL);
	ASSERT_EQ(madvise(f, fsize, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(mlock(f, fsize), 0);
	ASSERT_EQ(lru_drain_all(), 0);
	bad = first_page_without(f, fn, KPF_UNEVICTABLE_BIT | KPF_MLOCKED_BIT, &flags);
	if (bad >= 0)
		TH_LOG("mlocked page %ld: kpageflags 0x%llx", bad, (unsigned long long)flags);
	ASSERT_EQ(bad, -1);
	{
		struct sg_peer child;
		uint64_t moved = 1;
		int st = 0;
		pid_t pid;

		pid = sg_peer_fork(&child);
		ASSERT_GE(pid, 0);
		if (!pid) {
			/* Each shared page mlocked a second time (mlock_count 2). */
			if (syscall(SYS_mlock2, f, fsize, 1 /* MLOCK_ONFAULT */))
				_exit(1);
			if (sg_peer_post(&child) || sg_peer_wait(&child))
				_exit(2);
			_exit(0);
		}
		ASSERT_EQ(sg_peer_wait(&child), 0);
		ASSERT_EQ(lru_drain_all(), 0);
		/* Shared with the child: nothing moves. */
		EXPECT_EQ(sg_prefetch(self->fd, f, fsize, DRM_SVMGPU_PREFETCH_DEVICE, &moved), 0);
		EXPECT_EQ(moved, 0);
		EXPECT_EQ(sg_residency(self->fd, f, fsize), 0);
		ASSERT_EQ(sg_peer_post(&child), 0);
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
		EXPECT_EQ(st, 0);
		sg_peer_close(&child);
		ASSERT_EQ(lru_drain_all(), 0);
		ASSERT_EQ(prefetch_drained(self->fd, f, fsize), (long long)fn);
		EXPECT_EQ(sg_devmem_value("used"), cap);
		ASSERT_EQ(munmap(f, fsize), 0);
	}
	/* The unmap's munlocks hold the last pages in a batch until drained. */
	ASSERT_EQ(lru_drain_all(), 0);
	ASSERT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);

	/* Active pages: faulted, on the LRU, touched twice by GUP, activated. */
	a = sg_map_2m(size);
	b = sg_map_2m(size);
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
	fill_pat(a, size, 0x6b);
	ASSERT_EQ(lru_drain_all(), 0);
	mem = open("/proc/self/mem", O_RDONLY);
	ASSERT_GE(mem, 0);
	ASSERT_EQ(pread(mem, b, size, (uintptr_t)a), (ssize_t)size);
	memset(b, 0, size);
	ASSERT_EQ(pread(mem, b, size, (uintptr_t)a), (ssize_t)size);
	close(mem);
	EXPECT_EQ(check_pat(b, size, 0x6b), -1);
	ASSERT_EQ(lru_drain_all(), 0);
	bad = first_page_without(a, n, KPF_ACTIVE_BIT, &flags);
	if (bad >= 0)
		TH_LOG("page %ld not active: kpageflags 0x%llx", bad, (unsigned long long)flags);
	ASSERT_EQ(bad, -1);

	/* Onto device pages that all held mlocked pages, and back by CPU reads. */
	ASSERT_EQ(prefetch_drained(self->fd, a, size), (long long)n);
	cf0 = sg_devmem_value("cpu_faults");
	sys0 = sg_devmem_value("to_system_pages");
	EXPECT_EQ(check_pat(a, size, 0x6b), -1);
	if (private) {
		EXPECT_EQ(sg_residency(self->fd, a, size), 0);
		EXPECT_EQ(sg_devmem_value("cpu_faults") - cf0, (long long)n);
		EXPECT_EQ(sg_devmem_value("to_system_pages") - sys0, (long long)n);
	} else {
		EXPECT_EQ(sg_residency(self->fd, a, size), (long long)n);
		EXPECT_EQ(sg_devmem_value("cpu_faults"), cf0);
	}
	memset(b, 0, size);
	ASSERT_EQ(dev_copy(self->fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x6b), -1);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, self->used0), self->used0);
}

TEST_HARNESS_MAIN
