/* SPDX-License-Identifier: MIT */
/*
 * Helpers of svm_advise and svm_oversub: patterns, ADVISE, device copies in
 * pieces.
 */
#ifndef SVM_ADVISE_H
#define SVM_ADVISE_H

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "svmgpu_guest.h"
#include "svmgpu_test.h"

#define PAGE	4096ul
#define MB	(1024ul * 1024)
/*
 * Device commands over at most this much: each completes well within
 * SG_TIMEOUT_NS even when every 2 MiB of it migrates and evicts (the debug
 * kernel under TCG).
 */
#define STEP	(4 * MB)

/*
 * PREFETCH [@p, @p + @size) to the device until all of it is resident: one
 * PREFETCH skips a page that is locked at that moment (khugepaged,
 * compaction; documented as "busy"), so a few are tried, with @between
 * (when not NULL: 0 or -errno) run between two tries.  Returns the
 * residency reached, or the -errno of the PREFETCH or of @between.
 */
static inline long long prefetch_resident_between(int fd, void *p, size_t size,
						  int (*between)(void))
{
	long long n = -1;
	int i, ret;

	for (i = 0; i < 20; i++) {
		ret = sg_prefetch(fd, p, size, DRM_SVMGPU_PREFETCH_DEVICE, NULL);
		if (ret)
			return ret;
		n = sg_residency(fd, p, size);
		if (n == (long long)(size / PAGE))
			break;
		if (between) {
			printf("# try %d: %lld of %zu pages resident\n", i, n, size / PAGE);
			ret = between();
			if (ret)
				return ret;
		}
		usleep(10000);
	}
	return n;
}

static inline long long prefetch_resident(int fd, void *p, size_t size)
{
	return prefetch_resident_between(fd, p, size, NULL);
}

/*
 * Pages a migration on device fault may leave behind: a page locked at that
 * moment (khugepaged, compaction) stays and is mapped where it is; at most
 * one huge page's worth in these tests.
 */
#define BUSY_SLACK	512ll

/* Byte i of pattern @seed. */
static inline unsigned char pat(unsigned long i, unsigned int seed)
{
	return (unsigned char)((i * 2654435761u) >> 13) ^ seed;
}

static inline void fill_pat(unsigned char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pat(i, seed);
}

/* Offset of the first byte of p[0, n) not of the pattern, or -1. */
static inline long check_pat(const unsigned char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != pat(i, seed))
			return (long)i;
	return -1;
}

static inline int advise(int fd, uint32_t ctx, const void *p, uint64_t size, uint32_t attr,
		  uint32_t value)
{
	struct drm_svmgpu_advise a = {
		.ctx_handle = ctx, .op = DRM_SVMGPU_ADVISE_SET,
		.start = (uintptr_t)p, .size = size, .attr = attr, .value = value,
	};

	return sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a);
}

/* The advice bits at @p, or -errno; *same: bytes with the same advice. */
static inline long long advice_at(int fd, uint32_t ctx, const void *p, uint64_t size,
			   uint64_t *same)
{
	struct drm_svmgpu_advise a = {
		.ctx_handle = ctx, .op = DRM_SVMGPU_ADVISE_GET,
		.start = (uintptr_t)p, .size = size,
	};
	int ret = sg_ioctl(fd, DRM_IOCTL_SVMGPU_ADVISE, &a);

	if (same)
		*same = ret ? 0 : a.size;
	return ret ? ret : (long long)a.value;
}

/*
 * munmap() [@p, @p + @size), then map fresh anonymous memory at the same
 * addresses: 0, or -1 if either call failed.
 */
static inline int unmap_and_map_again(void *p, size_t size)
{
	if (munmap(p, size))
		return -1;
	return mmap(p, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p ? 0 : -1;
}

/* COPY dst <- src in STEP pieces; 0 or the first failure. */
static inline int dev_copy(int fd, uint32_t q, void *dst, const void *src, size_t size)
{
	size_t off;
	int ret;

	for (off = 0; off < size; off += STEP) {
		ret = sg_run_ok(fd, q, sg_copy((char *)dst + off, (const char *)src + off,
					       size - off < STEP ? size - off : STEP));
		if (ret)
			return ret;
	}
	return 0;
}

static inline int dev_fill(int fd, uint32_t q, void *dst, size_t size, int v)
{
	size_t off;
	int ret;

	for (off = 0; off < size; off += STEP) {
		ret = sg_run_ok(fd, q, sg_fill((char *)dst + off,
					       size - off < STEP ? size - off : STEP, v, 1));
		if (ret)
			return ret;
	}
	return 0;
}

#endif /* SVM_ADVISE_H */
