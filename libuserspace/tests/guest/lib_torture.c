// SPDX-License-Identifier: MIT
/*
 * lib_torture: a bounded svmgpu-torture run (threads and a second process,
 * every kind of CPU-side change, and PREFETCH/ADVISE/eviction under a
 * small device-memory cap) finds no divergence, and a deliberately
 * corrupted model is reported with the seed, operation index and replay.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "svmgpu.h"
#include "svmgpu_test.h"
#include "torture.h"

static int have_device(void)
{
	return svmgpu_device_list(NULL, 0) > 0;
}

/*
 * Operations for a run of @n on Debian's kernel: half as many on the debug
 * kernel (kmemleak, KASAN, lockdep), where each costs several times more
 * (lib_torture took 102 s of make check there, 11 s on Debian's kernel) and
 * make check's stress stage runs svmgpu-torture for a minute more.
 */
static int ops_for_kernel(int n)
{
	return access("/sys/kernel/debug/kmemleak", F_OK) ? n : n / 2;
}

TEST_TIMEOUT(120)
TEST(bounded_run_has_no_divergence)
{
	struct torture_opts o = {
		.seed = 12345, .ops = ops_for_kernel(300), .threads = 2, .procs = 1, .pages = 16,
		.only_worker = -1,
	};
	char *out = NULL, want[64];
	size_t len = 0;
	FILE *log;
	int ret;

	if (!have_device())
		SKIP(return, "no svmgpu device");
	snprintf(want, sizeof(want), "worker 0: %llu operations, no divergence",
		 (unsigned long long)o.ops);
	log = open_memstream(&out, &len);
	ASSERT_NOT_NULL(log);
	ret = torture_run(&o, log);
	fclose(log);
	if (ret)
		TH_LOG("%s", out);
	ASSERT_EQ(ret, 0);
	ASSERT_TRUE(strstr(out, want) != NULL);
	free(out);
}

TEST_TIMEOUT(120)
TEST(divergence_is_reported_with_replay)
{
	struct torture_opts o = {
		.seed = 777, .ops = 50, .threads = 1, .procs = 0, .pages = 8, .only_worker = -1,
		.inject_at = 10, .minimize = 1,
	};
	uint64_t ops[64];
	size_t len = 0, n = 0;
	char *out = NULL, *p, *end;
	FILE *log;
	int ret;

	if (!have_device())
		SKIP(return, "no svmgpu device");
	log = open_memstream(&out, &len);
	ASSERT_NOT_NULL(log);
	ret = torture_run(&o, log);
	fclose(log);
	TH_LOG("%s", out);
	ASSERT_EQ(ret, 1);
	ASSERT_TRUE(strstr(out, "DIVERGENCE seed=777 worker=0 op=") != NULL);
	ASSERT_TRUE(strstr(out, "replay: svmgpu-torture --seed 777 --only 0 --ops ") != NULL);
	p = strstr(out, "--only 0 --replay ");
	ASSERT_NOT_NULL(p);
	/* the corrupted operation must be in the minimal list, and it is short */
	for (p += strlen("--only 0 --replay "); n < 64; p = end + 1) {
		ops[n++] = strtoull(p, &end, 10);
		ASSERT_TRUE(end != p);
		if (*end != ',')
			break;
	}
	ASSERT_LT(n, 50);
	free(out);

	/* replaying exactly that list diverges again, without a search */
	o.only_worker = 0;
	o.replay = ops;
	o.replay_len = n;
	out = NULL;
	log = open_memstream(&out, &len);
	ASSERT_NOT_NULL(log);
	EXPECT_EQ(torture_run(&o, log), 1);
	fclose(log);
	EXPECT_TRUE(strstr(out, "minimal replay") == NULL);
	free(out);

	/* and without the corrupted operation it does not */
	o.inject_at = 0;
	out = NULL;
	log = open_memstream(&out, &len);
	ASSERT_NOT_NULL(log);
	EXPECT_EQ(torture_run(&o, log), 0);
	fclose(log);
	free(out);
}

/*
 * The workers of one process share its address space: a range one of them
 * unmaps can be handed at once to any other thread's mmap(NULL) or malloc.
 * While @stealing, these interposers make that deterministic: every range
 * munmap() frees is taken at once (PROT_NONE, MAP_FIXED_NOREPLACE), as
 * another thread could, and a later mmap(MAP_FIXED), munmap() or
 * mremap(MREMAP_FIXED) reaching into a taken range is counted: it would
 * destroy memory the caller no longer owns (torture once did munmap() then
 * mmap(MAP_FIXED) of a worker's pages; another worker's region, given the
 * hole meanwhile, then overlapped it and both diverged).
 */
#define MAX_STOLEN 4096

static pthread_mutex_t steal_lock = PTHREAD_MUTEX_INITIALIZER;
static int stealing;
static unsigned int nstolen, clobbered;
static uintptr_t stolen[MAX_STOLEN][2];
static char clobber_msg[160];

/* Caller holds steal_lock. */
static void check_clobber(const char *what, void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr, e = s + len;
	unsigned int i;

	for (i = 0; i < nstolen; i++) {
		if (s < stolen[i][1] && stolen[i][0] < e) {
			if (!clobbered++)
				snprintf(clobber_msg, sizeof(clobber_msg),
					 "%s [%#lx, %#lx) reaches into [%#lx, %#lx), unmapped earlier and taken since",
					 what, (unsigned long)s, (unsigned long)e,
					 (unsigned long)stolen[i][0], (unsigned long)stolen[i][1]);
			return;
		}
	}
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (flags & MAP_FIXED) {
		pthread_mutex_lock(&steal_lock);
		check_clobber("mmap(MAP_FIXED)", addr, len);
		pthread_mutex_unlock(&steal_lock);
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new = NULL;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new = va_arg(ap, void *);
		va_end(ap);
		pthread_mutex_lock(&steal_lock);
		check_clobber("mremap(MREMAP_FIXED)", new, new_len);
		pthread_mutex_unlock(&steal_lock);
	}
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new);
}

int munmap(void *addr, size_t len)
{
	long ret;

	pthread_mutex_lock(&steal_lock);
	check_clobber("munmap", addr, len);
	ret = syscall(SYS_munmap, addr, len);
	if (!ret && stealing && nstolen < MAX_STOLEN &&
	    (void *)syscall(SYS_mmap, addr, len, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == addr) {
		stolen[nstolen][0] = (uintptr_t)addr;
		stolen[nstolen][1] = (uintptr_t)addr + len;
		nstolen++;
	}
	pthread_mutex_unlock(&steal_lock);
	return (int)ret;
}

/* A worker never maps over or unmaps address space it has given up. */
TEST_TIMEOUT(120)
TEST(workers_keep_to_their_own_address_space)
{
	struct torture_opts o = {
		.seed = 4242, .ops = 200, .threads = 2, .procs = 0, .pages = 16, .only_worker = -1,
	};
	char *out = NULL;
	size_t len = 0;
	FILE *log;
	int ret;

	if (!have_device())
		SKIP(return, "no svmgpu device");
	log = open_memstream(&out, &len);
	ASSERT_NOT_NULL(log);
	stealing = 1;
	ret = torture_run(&o, log);
	stealing = 0;
	fclose(log);
	if (ret)
		TH_LOG("%s", out);
	TH_LOG("%u unmapped ranges taken", nstolen);
	if (clobbered)
		TH_LOG("%u clobbered, first: %s", clobbered, clobber_msg);
	EXPECT_GT(nstolen, 0);
	EXPECT_EQ(clobbered, 0);
	EXPECT_EQ(ret, 0);
	free(out);
}

/* debugfs svmgpu_devmem "@name" of device 0, or -1 (no root, no debugfs). */
static long long devmem_counter(const char *name)
{
	struct svmgpu_device_desc d;
	char dir[64], path[96], line[128];
	size_t len = strlen(name);
	long long v = -1;
	FILE *f;

	if (svmgpu_device_list(&d, 1) < 1 ||
	    svmgpu_device_debugfs_dir(d.render_node, dir, sizeof(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s/svmgpu_devmem", dir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':')
			v = atoll(line + len + 1);
	if (f)
		fclose(f);
	return v;
}

static int write_param(const char *name, const char *value)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/svmgpu/parameters/%s", name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", value);
	return fclose(f) ? -errno : 0;
}

/*
 * The placement operations (PREFETCH to device and system, ADVISE, the
 * eviction trigger) among all the others, with device memory capped at
 * 4 MiB (devmem_limit_mb) so that the 4 MiB eviction trigger may evict the
 * workers' pages: no divergence (every byte checked after each of them and
 * at the end), every kind ran, and the driver counted migrations to the
 * device (evictions are logged: whether a random run needs one varies).
 */
TEST_TIMEOUT(240)
TEST(placement_and_eviction_have_no_divergence)
{
	struct torture_opts o = {
		.seed = 2026, .ops = ops_for_kernel(400), .threads = 2, .procs = 1, .pages = 64,
		.only_worker = -1, .verbose = 1, .evict_size = 4 << 20,
	};
	long long evicted, to_dev;
	struct svmgpu_device *dev;
	char *out = NULL, limit[32] = "0";
	size_t len = 0;
	FILE *log, *f;
	void *page;
	int ret;

	if (!have_device())
		SKIP(return, "no svmgpu device");
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(page, MAP_FAILED);
	memset(page, 1, 4096);
	ASSERT_EQ(svmgpu_device_open(0, &dev), 0);
	ret = svmgpu_device_prefetch(dev, page, 4096, SVMGPU_PREFETCH_DEVICE, NULL);
	svmgpu_device_close(dev);
	munmap(page, 4096);
	if (ret == -EOPNOTSUPP)
		SKIP(return, "no device-local memory");
	ASSERT_EQ(ret, 0);
	evicted = devmem_counter("lru_evicted_pages");
	to_dev = devmem_counter("to_device_pages");
	if (evicted < 0)
		SKIP(return, "no debugfs svmgpu_devmem (root)");
	f = fopen("/sys/module/svmgpu/parameters/devmem_limit_mb", "r");
	ASSERT_NOT_NULL(f);
	ASSERT_NOT_NULL(fgets(limit, sizeof(limit), f));
	fclose(f);
	limit[strcspn(limit, "\n")] = '\0';
	ASSERT_EQ(write_param("devmem_limit_mb", "4"), 0);
	log = open_memstream(&out, &len);
	ASSERT_NOT_NULL(log);
	ret = torture_run(&o, log);
	fclose(log);
	EXPECT_EQ(write_param("devmem_limit_mb", limit), 0);
	if (ret)
		TH_LOG("%s", out);
	ASSERT_EQ(ret, 0);
	/* the workers of this process (the other process's log stays in its memory) */
	for (int w = 0; w < 2; w++) {
		char want[64];

		snprintf(want, sizeof(want), "worker %d: %llu operations, no divergence", w,
			 (unsigned long long)o.ops);
		EXPECT_TRUE(strstr(out, want) != NULL);
	}
	EXPECT_TRUE(strstr(out, " to device\n") != NULL);
	EXPECT_TRUE(strstr(out, " to system\n") != NULL);
	EXPECT_TRUE(strstr(out, " preferred location = 2\n") != NULL);
	EXPECT_TRUE(strstr(out, " accessed-by = ") != NULL);
	EXPECT_TRUE(strstr(out, " read-mostly = ") != NULL);
	EXPECT_TRUE(strstr(out, "eviction trigger: 4096 KiB") != NULL);
	TH_LOG("evicted %lld pages, %lld to the device", devmem_counter("lru_evicted_pages") -
	       evicted, devmem_counter("to_device_pages") - to_dev);
	/*
	 * Whether this random run evicts is its sequence's business: a worker
	 * that moved its pages back itself, or pages in use while the
	 * trigger's PREFETCH ran (never evicted for it), leave it -ENOSPC or
	 * room without evicting: 0 pages in 2 of ~10 CI runs (31256 and 14507
	 * pages to the device).  svm_oversub asserts LRU eviction.
	 */
	EXPECT_GT(devmem_counter("to_device_pages"), to_dev);
	free(out);
}

TEST(bad_options)
{
	struct torture_opts o = { .seed = 1, .ops = 1, .threads = 0, .pages = 16, .only_worker = -1 };

	EXPECT_EQ(torture_run(&o, stderr), -EINVAL);
	o.threads = 1;
	o.pages = 2;
	EXPECT_EQ(torture_run(&o, stderr), -EINVAL);
}

TEST_HARNESS_MAIN
