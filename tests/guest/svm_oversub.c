// SPDX-License-Identifier: MIT
/*
 * svm_oversub: a working set larger than device-local memory still runs
 * (docs/driver.md "Eviction").  Working sets of 1.5x and 3x the device
 * memory, preferring the device, go through prefetches and device faults
 * with least-recently-used eviction, alone and in two processes at once,
 * and swept in order until the thrashing mitigation stops the evictions;
 * every byte is checked and the eviction counters must move.  Eviction
 * works in the owners' address spaces: a victim unmapping and exiting
 * during its eviction, a buffer mremap()ed after it moved, one that lost
 * read access after it moved, and pages outliving their owner process.
 *
 * The device memory is capped at 8 MiB for the duration (module parameter
 * devmem_limit_mb, like amdgpu's vramlimit) so that the suite runs in its
 * time under TCG; the sizes come from debugfs svmgpu_devmem "capacity".
 * Needs a device with local-mem-size > 0 (make run/check give it 256 MiB).
 */
#define _GNU_SOURCE
#include <sched.h>

#include "svm_advise.h"

#define PARAM	"/sys/module/svmgpu/parameters/"
#define CAP_MB	"8"

/*
 * The module parameters this program changes, as it found them: read once
 * before the harness forks the tests, so that each test's setup and
 * teardown put back what was there even after an earlier test was killed
 * by its timeout (its teardown never ran).  The guest runner restores the
 * parameters between programs as well.
 */
static char saved_limit[32] = "0", saved_min_age[32] = "20", saved_thrash[32] = "1000";
static char saved_engine[32] = "Y";

static void read_param(const char *name, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), PARAM "%s", name);
	f = open(path, O_RDONLY);
	if (f < 0)
		return;
	n = read(f, buf, len - 1);
	if (n > 0)
		buf[n] = 0;
	close(f);
}

static void restore_params(void)
{
	sg_write_file(PARAM "devmem_limit_mb", saved_limit);
	sg_write_file(PARAM "evict_min_age_ms", saved_min_age);
	sg_write_file(PARAM "thrash_ms", saved_thrash);
	sg_write_file(PARAM "copy_engine", saved_engine);
}

static void __attribute__((constructor)) save_params(void)
{
	read_param("devmem_limit_mb", saved_limit, sizeof(saved_limit));
	read_param("evict_min_age_ms", saved_min_age, sizeof(saved_min_age));
	read_param("thrash_ms", saved_thrash, sizeof(saved_thrash));
	read_param("copy_engine", saved_engine, sizeof(saved_engine));
}

FIXTURE(ovs) {
	int fd;
	uint32_t ctx;
	uint32_t q;
	long long cap;
};

FIXTURE_SETUP(ovs)
{
	self->fd = sg_open();
	if (self->fd < 0)
		SKIP(return, "no render node: %s", strerror(errno));
	if (!sg_has_local_mem(self->fd))
		SKIP(return, "the device has no local memory");
	restore_params();
	ASSERT_EQ(sg_write_file(PARAM "devmem_limit_mb", CAP_MB), 0);
	self->cap = sg_devmem_value("capacity");
	ASSERT_EQ(self->cap, 8ll << 20);
	ASSERT_EQ(sg_ctx_create(self->fd, &self->ctx), 0);
	ASSERT_EQ(sg_queue_create(self->fd, self->ctx, 0, &self->q), 0);
}

FIXTURE_TEARDOWN(ovs)
{
	restore_params();
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * A working set of @mult/2 times the device memory, halves A and B both
 * preferring the device: prefetched in turn in quarters of the device
 * memory (each prefetch evicts the least recently used), then copied back
 * and forth by the device, which migrates on fault and evicts; every
 * byte checked.  Eviction on fault is made deterministic with
 * evict_min_age_ms=0 (one process: no livelock to guard against) and
 * thrash_ms=0 (no thrashing mitigation: swept_working_set_stops_thrashing
 * tests that).
 */
static void oversubscribe(struct svmgpu_fixture_ovs *self, unsigned int mult, unsigned int seed)
{
	int fd = self->fd;
	uint32_t ctx = self->ctx, q = self->q;
	size_t half = (size_t)self->cap * mult / 4, piece = (size_t)self->cap / 4, off;
	unsigned char *a = sg_map_2m(half), *b = sg_map_2m(half);
	long long ev0 = sg_devmem_value("lru_evictions"), ev1, fm0;
	long long used0 = sg_devmem_value("used");

	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_GE(ev0, 0);
	ASSERT_EQ(sg_write_file(PARAM "evict_min_age_ms", "0"), 0);
	ASSERT_EQ(sg_write_file(PARAM "thrash_ms", "0"), 0);
	fill_pat(a, half, seed);
	memset(b, 0, half);
	ASSERT_EQ(advise(fd, ctx, a, half, DRM_SVMGPU_ATTR_PREFERRED_LOC, DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(advise(fd, ctx, b, half, DRM_SVMGPU_ATTR_PREFERRED_LOC, DRM_SVMGPU_LOC_DEVICE), 0);
	for (off = 0; off < 2 * half; off += piece) {
		unsigned char *p = off < half ? a + off : b + off - half;

		EXPECT_EQ(prefetch_resident(fd, p, piece), (long long)(piece / PAGE));
	}
	/* The last pieces are in, the earliest were evicted. */
	ev1 = sg_devmem_value("lru_evictions");
	EXPECT_GT(ev1, ev0);
	EXPECT_LT(sg_residency(fd, a, piece), (long long)(piece / PAGE));
	EXPECT_LE(sg_residency(fd, a, half) + sg_residency(fd, b, half),
		  (long long)(self->cap / PAGE));
	EXPECT_LE(sg_devmem_value("used") - used0, self->cap);
	EXPECT_EQ(check_pat(a, half, seed), -1);

	fm0 = sg_devmem_value("fault_migrations");
	ASSERT_EQ(dev_copy(fd, q, b, a, half), 0);
	ASSERT_EQ(dev_fill(fd, q, a, half, 0), 0);
	ASSERT_EQ(dev_copy(fd, q, a, b, half), 0);
	EXPECT_EQ(check_pat(a, half, seed), -1);
	EXPECT_EQ(check_pat(b, half, seed), -1);
	/* The device faults migrated and evicted too. */
	EXPECT_GT(sg_devmem_value("fault_migrations"), fm0);
	EXPECT_GT(sg_devmem_value("lru_evictions"), ev1);
	EXPECT_LE(sg_devmem_value("used") - used0, self->cap);
	TH_LOG("%u/2 x device memory: %lld LRU evictions (%lld on faults), %lld fault migrations",
	       mult, sg_devmem_value("lru_evictions") - ev0, sg_devmem_value("lru_evictions") - ev1,
	       sg_devmem_value("fault_migrations") - fm0);
	munmap(a, half);
	munmap(b, half);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * A working set that fits exactly in the device memory (two buffers
 * preferring the device, prefetched to fill it): prefetching either again
 * and the device reading and writing both (its faults find every page in
 * place) evict nothing and migrate nothing; every byte checked.
 */
TEST_TIMEOUT(120)
TEST_F(ovs, fitting_working_set_is_not_evicted)
{
	long long used0 = sg_devmem_value("used"), ev0, fm0;
	size_t half = (size_t)((self->cap - used0) / 2) & ~(2 * MB - 1);
	unsigned char *a, *b;
	int fd = self->fd;

	ASSERT_GE(half, 2 * MB);
	a = sg_map_2m(half);
	b = sg_map_2m(half);
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	fill_pat(a, half, 0x61);
	fill_pat(b, half, 0x62);
	ASSERT_EQ(advise(fd, self->ctx, a, half, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(advise(fd, self->ctx, b, half, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(prefetch_resident(fd, a, half), (long long)(half / PAGE));
	ASSERT_EQ(prefetch_resident(fd, b, half), (long long)(half / PAGE));
	ev0 = sg_devmem_value("lru_evictions");
	fm0 = sg_devmem_value("fault_migrations");

	ASSERT_EQ(sg_prefetch(fd, a, half, DRM_SVMGPU_PREFETCH_DEVICE, NULL), 0);
	ASSERT_EQ(sg_prefetch(fd, b, half, DRM_SVMGPU_PREFETCH_DEVICE, NULL), 0);
	EXPECT_EQ(sg_devmem_value("lru_evictions"), ev0);
	ASSERT_EQ(dev_fill(fd, self->q, a, half, 0x17), 0);
	ASSERT_EQ(dev_copy(fd, self->q, a, b, half), 0);
	EXPECT_EQ(sg_devmem_value("lru_evictions"), ev0);
	EXPECT_EQ(sg_devmem_value("fault_migrations"), fm0);
	EXPECT_EQ(sg_residency(fd, a, half), (long long)(half / PAGE));
	EXPECT_EQ(sg_residency(fd, b, half), (long long)(half / PAGE));
	EXPECT_EQ(check_pat(a, half, 0x62), -1);
	EXPECT_EQ(check_pat(b, half, 0x62), -1);
	munmap(a, half);
	munmap(b, half);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

TEST_TIMEOUT(120)
TEST_F(ovs, oversubscription_1_5x_every_byte)
{
	oversubscribe(self, 3, 0x71);
}

TEST_TIMEOUT(180)
TEST_F(ovs, oversubscription_3x_every_byte)
{
	oversubscribe(self, 6, 0x72);
}

/*
 * One pass of a sweep: the device copies all of @a into @b, at once, or
 * with @slow_us (a slow machine, or a program that computes between
 * accesses) in 1 MiB pieces with a pause of @slow_us before each.
 */
static int sweep(int fd, uint32_t q, unsigned char *b, unsigned char *a, size_t size,
		 unsigned int slow_us)
{
	size_t off;
	int ret;

	if (!slow_us)
		return dev_copy(fd, q, b, a, size);
	for (off = 0; off < size; off += MB) {
		usleep(slow_us);
		ret = dev_copy(fd, q, b + off, a + off, MB);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A working set of 1.5x the device memory, preferring the device, swept in
 * order by the device again and again (a COPY of all of it into system
 * memory, every byte checked each pass), with the default thrash_ms.
 * Least-recently-used eviction alone evicts exactly what the next sweep
 * needs: every pass would migrate all of it in and out again.  The second
 * pass refaults (migrates back chunks evicted less than a device memory of
 * evictions ago); once that has migrated a quarter of the device memory
 * a period begins and the faults map what does not fit where it is.  From
 * the third pass on nothing migrates or is evicted, and the part of the
 * working set in device memory stays there, however long a pass takes:
 * with @slow_us a pass takes longer than thrash_ms, the period ends during
 * a pass, and the refaults of what it unpinned begin the next one at once,
 * twice as long.  Before, detection needed half of the device memory
 * evicted within thrash_ms: a slow pass never started a period.
 */
static void swept_working_set(struct svmgpu_fixture_ovs *self, unsigned int slow_us)
{
	long long used0 = sg_devmem_value("used"), ev, fm, td, per0, rf0, un;
	long long un0 = sg_devmem_value("thrash_unpinned");
	size_t size = (size_t)self->cap * 3 / 2;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	int fd = self->fd, pass;
	struct timespec t0, t1;
	char ms[32] = "";

	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	read_param("thrash_ms", ms, sizeof(ms));
	ASSERT_EQ(atoi(ms), 1000);
	ASSERT_EQ(sg_write_file(PARAM "evict_min_age_ms", "0"), 0);
	per0 = sg_devmem_value("thrash_periods");
	rf0 = sg_devmem_value("thrash_refaults");
	ASSERT_GE(per0, 0);
	ASSERT_GE(un0, 0);
	ASSERT_GE(rf0, 0);
	fill_pat(a, size, 0x91);
	memset(b, 0, size);
	ASSERT_EQ(advise(fd, self->ctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	for (pass = 0; pass < 5; pass++) {
		ev = sg_devmem_value("lru_evictions");
		fm = sg_devmem_value("fault_migrations");
		td = sg_devmem_value("to_device_pages");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ASSERT_EQ(sweep(fd, self->q, b, a, size, slow_us), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ASSERT_EQ(check_pat(b, size, 0x91), -1);
		memset(b, 0, size);
		TH_LOG("pass %d (%.2f s): %lld evictions, %lld fault migrations, %lld pages to device, %lld resident, %lld periods",
		       pass, t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		       sg_devmem_value("lru_evictions") - ev,
		       sg_devmem_value("fault_migrations") - fm,
		       sg_devmem_value("to_device_pages") - td, sg_residency(fd, a, size),
		       sg_devmem_value("thrash_periods") - per0);
		if (slow_us) {
			/* Each pass takes longer than a period of thrash_ms. */
			EXPECT_GT(t1.tv_sec - t0.tv_sec, 0);
		}
		if (pass == 0) {
			/* The first sweep filled device memory and evicted. */
			EXPECT_GT(sg_devmem_value("lru_evictions"), ev);
			EXPECT_EQ(sg_devmem_value("thrash_periods"), per0);
		} else if (pass >= 2) {
			EXPECT_EQ(sg_devmem_value("lru_evictions"), ev);
			EXPECT_EQ(sg_devmem_value("fault_migrations"), fm);
			EXPECT_EQ(sg_devmem_value("to_device_pages"), td);
		}
	}
	/* A quarter of the device memory of refaults began the period. */
	EXPECT_GE(sg_devmem_value("thrash_refaults") - rf0, self->cap / 4 / PAGE);
	EXPECT_GT(sg_devmem_value("thrash_periods"), per0);
	if (slow_us) {
		/* Periods ended in a pass: the next began at once, longer. */
		EXPECT_GE(sg_devmem_value("thrash_periods") - per0, 2);
		EXPECT_GE(sg_devmem_value("thrash_period_ms"), 2000);
	}
	/* Half of the device memory or more stayed in use by the sweep. */
	EXPECT_GE(sg_residency(fd, a, size), (long long)(self->cap / 2 / PAGE));
	EXPECT_LE(sg_residency(fd, a, size), (long long)(self->cap / PAGE));
	/*
	 * (The CPU checks a only at the end: on private memory its reads
	 * migrate the resident part back to system memory, and the next
	 * sweep's faults would migrate into the room that leaves.)
	 */
	/*
	 * A smaller thrash_ms ends a running period at once, and the pin
	 * with it: the device mappings of what the period mapped in place go
	 * (if the last period already ended, they went then; each debugfs
	 * read runs a pending unpin at once: wait until the count no longer
	 * moves).  The next sweep faults there again: a re-thrash at once, a
	 * new period begins before anything migrates or is evicted.  It runs
	 * with thrash_ms back at 1000, so that the whole sweep is in that
	 * period (periods of 1 ms, 1 jiffy on the debug kernel's HZ=1000, end
	 * all through a sweep there).
	 */
	ASSERT_EQ(sg_write_file(PARAM "thrash_ms", "1"), 0);
	usleep(20000);
	EXPECT_EQ(sg_devmem_value("thrashing"), 0);
	for (pass = 0; pass < 250; pass++) {
		un = sg_devmem_value("thrash_unpinned");
		usleep(20000);
		/* moved past un0 (the end work ran), then no longer moving */
		if (un > un0 && sg_devmem_value("thrash_unpinned") == un)
			break;
	}
	EXPECT_GT(sg_devmem_value("thrash_unpinned"), un0);
	ASSERT_EQ(sg_write_file(PARAM "thrash_ms", "1000"), 0);
	EXPECT_EQ(sg_devmem_value("thrashing"), 0);
	per0 = sg_devmem_value("thrash_periods");
	ev = sg_devmem_value("lru_evictions");
	fm = sg_devmem_value("fault_migrations");
	un = sg_devmem_value("thrash_unpinned");
	ASSERT_EQ(dev_copy(fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x91), -1);
	memset(b, 0, size);
	EXPECT_GT(sg_devmem_value("thrash_periods"), per0);
	EXPECT_EQ(sg_devmem_value("lru_evictions"), ev);
	EXPECT_EQ(sg_devmem_value("fault_migrations"), fm);
	/*
	 * With the mitigation off (thrash_ms=0) the ranges are unpinned and
	 * the next sweep migrates again: the pin is never for good.  (Each
	 * debugfs read unpins what a period left, at once: wait until that
	 * has run, the count no longer moving.)
	 */
	ASSERT_EQ(sg_write_file(PARAM "thrash_ms", "0"), 0);
	for (pass = 0; pass < 100; pass++) {
		long long v = sg_devmem_value("thrash_unpinned");

		usleep(20000);
		if (v > un && sg_devmem_value("thrash_unpinned") == v)
			break;
	}
	EXPECT_GT(sg_devmem_value("thrash_unpinned"), un);
	fm = sg_devmem_value("fault_migrations");
	td = sg_devmem_value("to_device_pages");
	ASSERT_EQ(dev_copy(fd, self->q, b, a, size), 0);
	EXPECT_EQ(check_pat(b, size, 0x91), -1);
	TH_LOG("after the periods: %lld fault migrations, %lld pages to device",
	       sg_devmem_value("fault_migrations") - fm, sg_devmem_value("to_device_pages") - td);
	EXPECT_GT(sg_devmem_value("fault_migrations"), fm);
	EXPECT_GT(sg_devmem_value("to_device_pages"), td);
	EXPECT_EQ(check_pat(a, size, 0x91), -1);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

TEST_TIMEOUT(180)
TEST_F(ovs, swept_working_set_stops_thrashing)
{
	swept_working_set(self, 0);
}

TEST_TIMEOUT(300)
TEST_F(ovs, slowly_swept_working_set_stops_thrashing)
{
	swept_working_set(self, 250000);
}

/*
 * A phase change after thrashing (review-thrash3 M1): a 1.5x working set
 * swept until periods pin part of it remote, then the device works on the
 * remote part R alone (0.5x: it fits once the cold rest is evicted).  The
 * clock that ages pins stands still during periods, so before the fix each
 * end re-pinned R and the next touch re-thrashed at once, for good.  Now a
 * period of the maximum back-off marks no pins: R's next faults migrate
 * (evicting the cold part), and within a bounded time R is resident; every
 * byte checked each pass.  thrash_ms=20: the maximum period is 640 ms.
 */
TEST_TIMEOUT(180)
TEST_F(ovs, pinned_part_alone_becomes_resident)
{
	long long used0 = sg_devmem_value("used"), per0, rpages = 0, res = 0;
	size_t size = (size_t)self->cap * 3 / 2, chunk = 2ul << 20, off, rsz;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	size_t r[4];
	unsigned int nr = 0, i;
	int fd = self->fd, pass;
	double t0;

	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_EQ(sg_write_file(PARAM "evict_min_age_ms", "0"), 0);
	ASSERT_EQ(sg_write_file(PARAM "thrash_ms", "20"), 0);
	per0 = sg_devmem_value("thrash_periods");
	fill_pat(a, size, 0x5e);
	memset(b, 0, size);
	ASSERT_EQ(advise(fd, self->ctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	for (pass = 0; pass < 4; pass++) {
		ASSERT_EQ(sweep(fd, self->q, b, a, size, 0), 0);
		ASSERT_EQ(check_pat(b, size, 0x5e), -1);
		memset(b, 0, size);
	}
	EXPECT_GT(sg_devmem_value("thrash_periods"), per0);
	/* R: the 2 MiB chunks not resident, half of the device memory at most. */
	for (off = 0; off < size && nr < 2; off += chunk)
		if (sg_residency(fd, a + off, chunk) < (long long)(chunk / PAGE))
			r[nr++] = off;
	ASSERT_GT(nr, 0);
	rsz = nr * chunk;
	t0 = sg_now_s();
	for (pass = 0; sg_now_s() - t0 < 30; pass++) {
		for (i = 0; i < nr; i++)
			ASSERT_EQ(dev_copy(fd, self->q, b + r[i], a + r[i], chunk), 0);
		for (i = 0; i < nr; i++) {
			ASSERT_EQ(sg_check_pat_at(b, r[i], chunk, 0x5e), -1);
			memset(b + r[i], 0, chunk);
		}
		for (i = 0, res = 0; i < nr; i++)
			res += sg_residency(fd, a + r[i], chunk);
		if (res == (long long)(rsz / PAGE))
			break;
		usleep(100000);
	}
	rpages = rsz / PAGE;
	TH_LOG("R: %zu MiB, %lld pages resident after %d passes (%.1f s), %lld periods",
	       rsz >> 20, res, pass, sg_now_s() - t0, sg_devmem_value("thrash_periods") - per0);
	EXPECT_EQ(res, rpages);
	EXPECT_EQ(check_pat(a, size, 0x5e), -1);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * A period that ends while a fault of it has noted its range (mapped in
 * place) but not yet mapped it: the end waits for the mapping, so nothing
 * stays mapped over the link for good (review-blit2 M5).  With thrash_ms=1
 * periods begin and end all through six sweeps of 1.5x the device memory.
 * Then, the mitigation off and every pending unpin run, each half of the
 * device memory's worth of the working set, moved to system memory by a
 * PREFETCH, is read by the device alone: every page of it faults and
 * migrates, none is still reached where it was.  (Before, an end between
 * the note and the map unmapped nothing there and the fault then mapped
 * the range in place for good: resident pages short by that range.  The
 * window is a fault's mapping time: such a race, not a certainty, in a run.
 * A fault maps a 2 MiB window, so a lost range is 512 pages: the buffer has
 * no huge pages, so that a page locked at the wrong moment costs 1 page,
 * not BUSY_SLACK's 512.)
 */
TEST_TIMEOUT(300)
TEST_F(ovs, period_ending_mid_fault_leaves_nothing_remote)
{
	long long used0 = sg_devmem_value("used"), per0 = sg_devmem_value("thrash_periods");
	size_t size = (size_t)self->cap * 3 / 2, piece = (size_t)self->cap / 2, off;
	unsigned char *a = sg_map_2m(size), *b = sg_map_2m(size);
	int fd = self->fd, pass;
	long long un;

	ASSERT_GE(per0, 0);
	ASSERT_NE(a, NULL);
	ASSERT_NE(b, NULL);
	ASSERT_EQ(madvise(a, size, MADV_NOHUGEPAGE), 0);
	ASSERT_EQ(sg_write_file(PARAM "evict_min_age_ms", "0"), 0);
	ASSERT_EQ(sg_write_file(PARAM "thrash_ms", "1"), 0);
	fill_pat(a, size, 0x4d);
	ASSERT_EQ(advise(fd, self->ctx, a, size, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	for (pass = 0; pass < 6; pass++) {
		memset(b, 0, size);
		ASSERT_EQ(dev_copy(fd, self->q, b, a, size), 0);
		ASSERT_EQ(check_pat(b, size, 0x4d), -1);
	}
	TH_LOG("%lld periods, %lld unpins", sg_devmem_value("thrash_periods") - per0,
	       sg_devmem_value("thrash_unpinned"));
	/* Periods began (and ended): else this tested nothing. */
	ASSERT_GT(sg_devmem_value("thrash_periods"), per0);
	ASSERT_EQ(sg_write_file(PARAM "thrash_ms", "0"), 0);
	/* Each debugfs read runs a pending unpin: until the count stays. */
	for (pass = 0; pass < 100; pass++) {
		un = sg_devmem_value("thrash_unpinned");
		usleep(20000);
		if (sg_devmem_value("thrash_unpinned") == un)
			break;
	}
	EXPECT_EQ(sg_devmem_value("thrashing"), 0);
	memset(b, 0, size);
	for (off = 0; off < size; off += piece) {
		ASSERT_EQ(sg_prefetch(fd, a, size, DRM_SVMGPU_PREFETCH_SYSTEM, NULL), 0);
		EXPECT_LE(sg_residency(fd, a, size), 32);
		ASSERT_EQ(dev_copy(fd, self->q, b + off, a + off, piece), 0);
		TH_LOG("[%zu MiB, +%zu MiB): %lld of %zu pages resident", off / MB, piece / MB,
		       sg_residency(fd, a + off, piece), piece / PAGE);
		EXPECT_GE(sg_residency(fd, a + off, piece), (long long)(piece / PAGE) - 32);
	}
	EXPECT_EQ(check_pat(b, size, 0x4d), -1);
	EXPECT_EQ(check_pat(a, size, 0x4d), -1);
	munmap(a, size);
	munmap(b, size);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * A phase change is not thrashing: device memory full of a buffer X the
 * program no longer uses (prefetched), then at once a new buffer Y of 0.9x
 * the device memory, preferring the device, first touched by the device.
 * Its faults evict X, which never comes back: no refault, so all of Y ends
 * in device memory and no thrash period begins.  (Counting evictions of
 * regions brought in within thrash_ms, as before, began one once half of
 * the memory was evicted and mapped the rest of Y over the link.)
 */
TEST_TIMEOUT(120)
TEST_F(ovs, cold_buffer_gives_way_to_new_working_set)
{
	long long used0 = sg_devmem_value("used"), per0 = sg_devmem_value("thrash_periods");
	long long rf0 = sg_devmem_value("thrash_refaults");
	size_t xsz = (size_t)(self->cap - used0) & ~(2 * MB - 1);
	size_t ysz = (size_t)(self->cap * 9 / 10) & ~(PAGE - 1);
	unsigned char *x = sg_map_2m(xsz), *y = sg_map_2m(ysz);
	int fd = self->fd;

	ASSERT_GE(per0, 0);
	ASSERT_GE(rf0, 0);
	ASSERT_GE(xsz, 4 * MB);
	ASSERT_NE(x, NULL);
	ASSERT_NE(y, NULL);
	ASSERT_EQ(sg_write_file(PARAM "evict_min_age_ms", "0"), 0);
	fill_pat(x, xsz, 0x3a);
	ASSERT_EQ(prefetch_resident(fd, x, xsz), (long long)(xsz / PAGE));
	ASSERT_EQ(advise(fd, self->ctx, y, ysz, DRM_SVMGPU_ATTR_PREFERRED_LOC,
			 DRM_SVMGPU_LOC_DEVICE), 0);
	ASSERT_EQ(dev_fill(fd, self->q, y, ysz, 0x5c), 0);
	TH_LOG("Y: %lld of %zu pages resident, X: %lld, %lld thrash periods",
	       sg_residency(fd, y, ysz), ysz / PAGE, sg_residency(fd, x, xsz),
	       sg_devmem_value("thrash_periods") - per0);
	/* A locked page may stay behind (BUSY_SLACK); the old rule left 800. */
	EXPECT_GE(sg_residency(fd, y, ysz), (long long)(ysz / PAGE) - BUSY_SLACK);
	EXPECT_EQ(sg_devmem_value("thrash_periods"), per0);
	EXPECT_EQ(sg_devmem_value("thrash_refaults"), rf0);
	EXPECT_TRUE(sg_all_bytes(y, 0x5c, ysz));
	EXPECT_EQ(check_pat(x, xsz, 0x3a), -1);
	munmap(x, xsz);
	munmap(y, ysz);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * Two processes, each with a working set of the whole device memory,
 * prefetching and copying through it at once with the default
 * evict_min_age_ms: both finish (no livelock) with every byte.  A prefetch
 * may find all of the memory just used by the other (-ENOSPC, documented).
 */
TEST_TIMEOUT(180)
TEST_F(ovs, two_processes_oversubscribe_at_once)
{
	long long used0 = sg_devmem_value("used"), ev0 = sg_devmem_value("lru_evictions");
	pid_t pid[2];
	int i, status;

	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (!pid[i]) {
			size_t half = (size_t)self->cap / 2;
			unsigned char *a = sg_map_2m(half), *b = sg_map_2m(half);
			uint32_t ctx, q;
			int fd = sg_open(), pass, ret;

			if (fd < 0 || !a || !b || sg_ctx_create(fd, &ctx) ||
			    sg_queue_create(fd, ctx, 0, &q))
				_exit(10);
			fill_pat(a, half, 0x80 + i);
			if (advise(fd, ctx, a, half, DRM_SVMGPU_ATTR_PREFERRED_LOC,
				   DRM_SVMGPU_LOC_DEVICE) ||
			    advise(fd, ctx, b, half, DRM_SVMGPU_ATTR_PREFERRED_LOC,
				   DRM_SVMGPU_LOC_DEVICE))
				_exit(11);
			for (pass = 0; pass < 2; pass++) {
				ret = sg_prefetch(fd, a, half, DRM_SVMGPU_PREFETCH_DEVICE, NULL);
				if (ret && ret != -ENOSPC) {
					fprintf(stderr, "# child %d: prefetch %d\n", i, ret);
					_exit(12);
				}
				ret = dev_copy(fd, q, b, a, half);
				if (!ret)
					ret = dev_fill(fd, q, a, half, 0);
				if (!ret)
					ret = dev_copy(fd, q, a, b, half);
				if (ret) {
					fprintf(stderr, "# child %d: device %d\n", i, ret);
					_exit(13);
				}
				if (check_pat(a, half, 0x80 + i) != -1 ||
				    check_pat(b, half, 0x80 + i) != -1)
					_exit(14);
			}
			_exit(0);
		}
	}
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(waitpid(pid[i], &status, 0), pid[i]);
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(WEXITSTATUS(status), 0);
	}
	/*
	 * No eviction count to expect: a prefetch of pages already in device
	 * memory evicts nothing, faults may find only regions younger than
	 * evict_min_age_ms (mapped in place, fault_no_room), and one child may
	 * finish before the other starts.  The single-process tests count
	 * evictions with evict_min_age_ms=0.
	 */
	TH_LOG("two processes: %lld LRU evictions, %lld migrations on fault without room",
	       sg_devmem_value("lru_evictions") - ev0, sg_devmem_value("fault_no_room"));
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * Run on each CPU this task may use in turn, then on all of them again:
 * 0, or -errno of the first sched_*affinity() that failed.
 */
static int visit_every_cpu(void)
{
	cpu_set_t all, one;
	int cpu;

	if (sched_getaffinity(0, sizeof(all), &all))
		return -errno;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			return -errno;
		usleep(1000);
	}
	return sched_setaffinity(0, sizeof(all), &all) ? -errno : 0;
}

/* Do bytes [@off, @off + @n) of a buffer filled with fill_pat(@seed) hold it? */
static bool pat_holds(const unsigned char *p, size_t off, size_t n, unsigned int seed)
{
	size_t i;

	for (i = off; i < off + n; i++)
		if (p[i] != pat(i, seed))
			return false;
	return true;
}

/*
 * Another process's pages are evicted in that process's address space,
 * under its mmap_lock (docs/driver.md "Eviction"): here the victim
 * munmap()s half of its buffer and reads the other half while its regions
 * are being evicted, then exits, the eviction's CPU copies slowed to 2 ms a
 * page (copy_engine off, debugfs svmgpu_inject_copy_delay).  An eviction
 * by pfn (migrate_device_range(), the first design) held nothing of the
 * victim's across the copy: its munmap() could free the anon_vma the
 * eviction's last rmap walk then used.  That use-after-free is silent
 * (anon_vmas are SLAB_TYPESAFE_BY_RCU, which KASAN does not poison), so
 * this cannot tell the two designs apart: it checks that the race loses
 * nothing and hangs nothing.  The victim's half is exact, the prefetching
 * process gets all of its buffer resident and exact (a PREFETCH that met
 * the victim's munmap() waiting for its mmap_lock may find no room:
 * -ENOSPC, tried again), and device memory empties.
 */
TEST_TIMEOUT(120)
TEST_F(ovs, victim_unmaps_and_exits_while_evicted)
{
	long long used0 = sg_devmem_value("used"), ev0 = sg_devmem_value("lru_evicted_pages");
	size_t size = (size_t)(self->cap - used0) & ~(2 * MB - 1), half = size / 2;
	unsigned char *y = sg_map_2m(half);
	long long resident = 0;
	struct sg_peer victim;
	char delay[128];
	int status, i;
	pid_t pid;

	ASSERT_NE(y, NULL);
	ASSERT_GE(size, 4 * MB);
	if (sg_debugfs_path("svmgpu_inject_copy_delay", delay, sizeof(delay)))
		SKIP(return, "no debugfs svmgpu_inject_copy_delay");
	ASSERT_EQ(sg_write_file(PARAM "copy_engine", "N"), 0);
	pid = sg_peer_fork(&victim);
	ASSERT_GE(pid, 0);
	if (!pid) {
		unsigned char *x = sg_map_2m(size);
		int fd = sg_open();

		if (fd < 0 || !x)
			_exit(10);
		fill_pat(x, size, 0x61);
		if (prefetch_resident(fd, x, size) != (long long)(size / PAGE))
			_exit(11);
		if (sg_peer_post(&victim) || sg_peer_wait(&victim))
			_exit(12);
		usleep(150000);		/* about 75 pages into the first region */
		if (munmap(x, half))
			_exit(13);
		_exit(pat_holds(x, half, half, 0x61) ? 0 : 14);
	}
	ASSERT_EQ(sg_peer_wait(&victim), 0);
	fill_pat(y, half, 0x62);
	ASSERT_EQ(sg_write_file(delay, "2000"), 0);
	ASSERT_EQ(sg_peer_post(&victim), 0);
	for (i = 0; i < 50; i++) {
		resident = prefetch_resident(self->fd, y, half);
		if (resident != -ENOSPC)
			break;
		usleep(20000);
	}
	EXPECT_EQ(resident, (long long)(half / PAGE));
	sg_write_file(delay, "0");
	EXPECT_EQ(check_pat(y, half, 0x62), -1);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	sg_peer_close(&victim);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(WEXITSTATUS(status), 0);
	EXPECT_GT(sg_devmem_value("lru_evicted_pages"), ev0);
	TH_LOG("%lld pages evicted, %lld owners left busy",
	       sg_devmem_value("lru_evicted_pages") - ev0, sg_devmem_value("evict_owners_busy"));
	munmap(y, half);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * A buffer mremap()ed after it moved to device memory: its pages' owner
 * records name the old address, and eviction finds them again from their
 * linear index (page->index, which mremap() keeps) and evicts them all the
 * same: a PREFETCH that needs their room gets it, every byte kept.
 */
TEST_F(ovs, mremapped_buffer_is_still_evicted)
{
	long long used0 = sg_devmem_value("used"), busy0 = sg_devmem_value("evict_owners_busy");
	size_t size = (size_t)(self->cap - used0) & ~(2 * MB - 1), half = size / 2;
	unsigned char *x = sg_map_2m(size), *to = sg_map_2m(size), *y = sg_map_2m(half);
	int fd = self->fd;

	ASSERT_GE(size, 4 * MB);
	ASSERT_NE(x, NULL);
	ASSERT_NE(to, NULL);
	ASSERT_NE(y, NULL);
	fill_pat(x, size, 0x71);
	ASSERT_EQ(prefetch_resident(fd, x, size), (long long)(size / PAGE));
	ASSERT_EQ(mremap(x, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to), (void *)to);
	EXPECT_EQ(sg_residency(fd, to, size), (long long)(size / PAGE));
	fill_pat(y, half, 0x72);
	EXPECT_EQ(prefetch_resident(fd, y, half), (long long)(half / PAGE));
	EXPECT_LE(sg_residency(fd, to, size), (long long)((size - half) / PAGE));
	EXPECT_EQ(check_pat(y, half, 0x72), -1);
	EXPECT_EQ(check_pat(to, size, 0x71), -1);
	EXPECT_EQ(sg_devmem_value("evict_owners_busy"), busy0);
	munmap(to, size);
	munmap(y, half);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * A buffer that lost read access after it moved to device memory (half
 * PROT_NONE, half PROT_WRITE alone): hmm sees no page in a mapping without
 * read access, and eviction, which looked with it, found nothing there to
 * move; the process kept the device memory for as long as it liked.  Now
 * a PREFETCH that needs the room evicts it, a PREFETCH to system memory
 * takes the rest back, and every byte is there once it is readable again.
 */
TEST_F(ovs, unreadable_buffer_is_still_evicted)
{
	long long used0 = sg_devmem_value("used");
	size_t room = (size_t)(self->cap - used0), size = room & ~(4 * MB - 1);
	/* y takes half of x's room, and whatever else is free */
	size_t half = size / 2, ysize = half + (room - size);
	unsigned char *x = sg_map_2m(size), *y = sg_map_2m(ysize);
	uint64_t pages = 0;
	int fd = self->fd;

	ASSERT_GE(size, 4 * MB);
	ASSERT_NE(x, NULL);
	ASSERT_NE(y, NULL);
	/* PROT_NONE after it moved: a PREFETCH to system memory takes it all back */
	fill_pat(x, 2 * MB, 0x75);
	ASSERT_EQ(prefetch_resident(fd, x, 2 * MB), (long long)(2 * MB / PAGE));
	ASSERT_EQ(mprotect(x, 2 * MB, PROT_NONE), 0);
	EXPECT_EQ(sg_prefetch(fd, x, 2 * MB, DRM_SVMGPU_PREFETCH_SYSTEM, &pages), 0);
	EXPECT_EQ(pages, 2 * MB / PAGE);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
	ASSERT_EQ(mprotect(x, 2 * MB, PROT_READ | PROT_WRITE), 0);
	EXPECT_EQ(check_pat(x, 2 * MB, 0x75), -1);

	/* all of the device memory, then half of it unreadable, half write-only */
	fill_pat(x, size, 0x73);
	ASSERT_EQ(prefetch_resident(fd, x, size), (long long)(size / PAGE));
	ASSERT_EQ(mprotect(x, half, PROT_NONE), 0);
	ASSERT_EQ(mprotect(x + half, half, PROT_WRITE), 0);
	fill_pat(y, ysize, 0x74);
	EXPECT_EQ(prefetch_resident(fd, y, ysize), (long long)(ysize / PAGE));
	/* what is left of x comes back to system memory */
	pages = 0;
	EXPECT_EQ(sg_prefetch(fd, x, size, DRM_SVMGPU_PREFETCH_SYSTEM, &pages), 0);
	TH_LOG("%llu of x's %zu pages evicted for y, %llu prefetched back",
	       (unsigned long long)(size / PAGE - pages), size / PAGE, (unsigned long long)pages);
	EXPECT_LE(pages, (size - half) / PAGE);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0 + ysize), used0 + (long long)ysize);
	ASSERT_EQ(mprotect(x, size, PROT_READ | PROT_WRITE), 0);
	EXPECT_EQ(sg_residency(fd, x, size), 0);
	EXPECT_EQ(check_pat(x, size, 0x73), -1);
	EXPECT_EQ(check_pat(y, ysize, 0x74), -1);
	munmap(x, size);
	munmap(y, ysize);
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
}

/*
 * Device pages that outlive their owner: a process moves a buffer to
 * device memory, forks, and exits; its child, sharing the pages, reads
 * every byte (migrate_to_ram() moves them back) and exits.  The pages'
 * owner records held the exited process's mm_struct, the last reference
 * to it: page_free, which may run where __mmdrop() may not, leaves it to
 * the reaper (debugfs owners_reaped), and device memory empties.
 */
TEST_F(ovs, pages_outliving_their_owner_release_it)
{
	long long used0 = sg_devmem_value("used"), reaped0 = sg_devmem_value("owners_reaped");
	size_t size = 4 * MB;
	int res[2], go[2], status, i;
	char c = 0;
	pid_t pid;

	ASSERT_GE(reaped0, 0);
	ASSERT_EQ(pipe(res), 0);
	ASSERT_EQ(pipe(go), 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		unsigned char *x = sg_map_2m(size);
		int fd = sg_open();
		pid_t child;

		if (fd < 0 || !x)
			_exit(10);
		fill_pat(x, size, 0x73);
		if (prefetch_resident(fd, x, size) != (long long)(size / PAGE))
			_exit(11);
		close(fd);
		child = fork();
		if (child < 0)
			_exit(12);
		if (!child) {
			/* after the parent was reaped */
			if (read(go[0], &c, 1) != 1)
				_exit(13);
			c = pat_holds(x, 0, size, 0x73) ? 'y' : 'n';
			_exit(write(res[1], &c, 1) == 1 ? 0 : 14);
		}
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/*
	 * A CPU that went idle after the parent exited still holds its mm
	 * (lazy TLB): run on each CPU first, so that the records' references
	 * are the last.
	 */
	ASSERT_EQ(visit_every_cpu(), 0);
	close(res[1]);
	ASSERT_EQ(write(go[1], "g", 1), 1);
	ASSERT_EQ(read(res[0], &c, 1), 1);
	EXPECT_EQ(c, 'y');
	EXPECT_EQ(sg_devmem_used_settles(NULL, used0), used0);
	for (i = 0; i < 100 && sg_devmem_value("owners_reaped") == reaped0; i++)
		usleep(20000);
	EXPECT_GT(sg_devmem_value("owners_reaped"), reaped0);
}

TEST_HARNESS_MAIN
