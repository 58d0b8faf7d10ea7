// SPDX-License-Identifier: MIT
/*
 * svmgpu-torture engine (see torture.h).
 *
 * Every worker owns a region of anonymous memory, a CPU-side model of what
 * the region must contain, and a device queue.  It draws operations from
 * its own generator (seeded from the run's seed and the worker id, so a
 * worker's operation stream is reproducible whatever the other workers
 * do), applies each to the region and to the model, and checks every value
 * the device returns against the model.  Workers are threads of this
 * process and of --procs forked processes (each opening the device
 * itself).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kref.h"
#include "svmgpu.h"
#include "torture.h"

#define HIST		16
#define WAIT_NS		(60ull * 1000000000ull)

enum op {
	OP_CPU_STORE, OP_DEV_FILL, OP_DEV_READ, OP_DEV_ATOMIC, OP_DEV_HASH, OP_REMAP,
	OP_MREMAP, OP_MPROTECT, OP_DONTNEED, OP_FORK, OP_PREFETCH, OP_ADVISE, OP_EVICT, OP_NUM
};

static const unsigned int weights[OP_NUM] = { 20, 15, 15, 10, 5, 5, 3, 5, 5, 3, 8, 5, 2 };

struct worker {
	const struct torture_opts *o;
	FILE *log;
	int id;
	uint64_t rng;
	uint64_t op;
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
	uint8_t *base;
	size_t size;
	uint8_t *model;
	uint8_t *readback;	/* device COPY destination, size bytes */
	uint64_t *words;	/* 8 result words */
	long pg;
	struct timespec deadline;
	char hist[HIST][160];
	uint64_t diverged_op;
	int result;		/* 0, 1 diverged, -errno */
	int done;		/* worker_main returned (read by the progress loop) */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t rnd(struct worker *w, uint64_t n)
{
	return n ? kref_rand(&w->rng) % n : 0;
}

static __attribute__((format(printf, 2, 3))) void note(struct worker *w, const char *fmt, ...)
{
	char *h = w->hist[w->op % HIST];
	va_list ap;
	int n = snprintf(h, 160, "#%" PRIu64 " ", w->op);

	va_start(ap, fmt);
	vsnprintf(h + n, 160 - n, fmt, ap);
	va_end(ap);
	if (w->o->verbose) {
		pthread_mutex_lock(&log_lock);
		fprintf(w->log, "[w%d] %s\n", w->id, h);
		pthread_mutex_unlock(&log_lock);
	}
}

static __attribute__((format(printf, 2, 3))) int diverge(struct worker *w, const char *fmt, ...)
{
	uint64_t i, first = w->op + 1 > HIST ? w->op + 1 - HIST : 0;
	va_list ap;

	w->diverged_op = w->op;
	if (w->o->quiet) {
		w->result = 1;
		return 1;
	}
	pthread_mutex_lock(&log_lock);
	fprintf(w->log, "svmgpu-torture: DIVERGENCE seed=%" PRIu64 " worker=%d op=%" PRIu64 ": ",
		w->o->seed, w->id, w->op);
	va_start(ap, fmt);
	vfprintf(w->log, fmt, ap);
	va_end(ap);
	fprintf(w->log, "\n  last operations of worker %d:\n", w->id);
	for (i = first; i <= w->op; i++)
		fprintf(w->log, "    %s\n", w->hist[i % HIST]);
	fprintf(w->log, "  replay: svmgpu-torture --seed %" PRIu64 " --only %d --ops %" PRIu64
		" --verbose\n", w->o->seed, w->id, w->op + 1);
	fflush(w->log);
	pthread_mutex_unlock(&log_lock);
	w->result = 1;
	return 1;
}

static int run(struct worker *w, struct svmgpu_cmd *cmd, struct svmgpu_cmd_error *err)
{
	return svmgpu_queue_run(w->q, cmd, 1, WAIT_NS, err);
}

static int expect_ok(struct worker *w, int ret, const struct svmgpu_cmd_error *err, const char *what)
{
	if (!ret)
		return 0;
	return diverge(w, "%s failed: %s (%s at 0x%" PRIx64 ", %s)", what, strerror(-ret),
		       svmgpu_error_name(err->code), err->va, svmgpu_access_name(err->access));
}

/* Compare [off, off+len) of @got with the model. */
static int compare(struct worker *w, const uint8_t *got, size_t off, size_t len, const char *what)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (got[i] != w->model[off + i])
			return diverge(w, "%s: byte at region+0x%zx (%p) is 0x%02x, model 0x%02x", what,
				       off + i, (void *)(w->base + off + i), got[i], w->model[off + i]);
	return 0;
}

static int device_read(struct worker *w, size_t off, size_t len, const char *what)
{
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	int ret;

	memset(w->readback, 0xee, len);
	svmgpu_cmd_copy(&cmd, w->readback, w->base + off, len, 0);
	ret = expect_ok(w, run(w, &cmd, &err), &err, what);
	return ret ? ret : compare(w, w->readback, off, len, what);
}

static int op_cpu_store(struct worker *w)
{
	unsigned int i, n = 1 + (unsigned int)rnd(w, 16);

	note(w, "cpu store %u words", n);
	for (i = 0; i < n; i++) {
		size_t off = rnd(w, w->size / 8) * 8;
		uint64_t v = kref_rand(&w->rng);

		memcpy(w->base + off, &v, 8);
		memcpy(w->model + off, &v, 8);
	}
	return 0;
}

static int op_dev_fill(struct worker *w)
{
	size_t off = rnd(w, w->size / 8) * 8, len = 8 * (1 + rnd(w, (size_t)(2 * w->pg) / 8));
	uint64_t v = kref_rand(&w->rng), i;
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;

	if (off + len > w->size)
		len = w->size - off;
	note(w, "device fill region+0x%zx len %zu value 0x%" PRIx64, off, len, v);
	svmgpu_cmd_fill(&cmd, w->base + off, len, v, 8, 0);
	if (expect_ok(w, run(w, &cmd, &err), &err, "fill"))
		return 1;
	for (i = 0; i < len; i += 8)
		memcpy(w->model + off + i, &v, 8);
	return 0;
}

static int op_dev_read(struct worker *w)
{
	size_t off = rnd(w, w->size), len = 1 + rnd(w, 3 * (size_t)w->pg);

	if (off + len > w->size)
		len = w->size - off;
	note(w, "device read region+0x%zx len %zu", off, len);
	return device_read(w, off, len, "device read");
}

static int op_dev_atomic(struct worker *w)
{
	size_t off = rnd(w, w->size / 8) * 8;
	uint64_t add = kref_rand(&w->rng), old, nv;
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;

	note(w, "device atomic add region+0x%zx += 0x%" PRIx64, off, add);
	w->words[0] = 0xdeadbeef;
	svmgpu_cmd_atomic(&cmd, w->base + off, SVMGPU_ATOMIC_ADD, 8, add, 0, &w->words[0], 0);
	if (expect_ok(w, run(w, &cmd, &err), &err, "atomic"))
		return 1;
	memcpy(&old, w->model + off, 8);
	if (w->words[0] != old)
		return diverge(w, "atomic old value 0x%" PRIx64 ", model 0x%" PRIx64, w->words[0], old);
	nv = old + add;
	memcpy(w->model + off, &nv, 8);
	memcpy(&old, w->base + off, 8);
	if (old != nv)
		return diverge(w, "after atomic the CPU reads 0x%" PRIx64 ", model 0x%" PRIx64, old, nv);
	return 0;
}

static int op_dev_hash(struct worker *w)
{
	struct svmgpu_coherence_result r;
	int ret;

	note(w, "coherence check of the region");
	if (memcmp(w->base, w->model, w->size))
		return compare(w, w->base, 0, w->size, "CPU view");
	ret = svmgpu_coherence_check(w->q, w->base, w->size, &r);
	if (ret == -EILSEQ)
		return diverge(w, "coherence: %" PRIu64 " words differ, first at 0x%" PRIx64
			       ", hashes device 0x%" PRIx64 " CPU 0x%" PRIx64,
			       r.mismatches, r.first_mismatch, r.device_hash, r.cpu_hash);
	if (ret)
		return diverge(w, "coherence check failed: %s", strerror(-ret));
	return 0;
}

/*
 * Replace pages with fresh anonymous memory in one mmap(MAP_FIXED), which
 * unmaps the old pages (the same munmap path and MMU_NOTIFY_UNMAP) and maps
 * the new ones under one mmap_lock hold.  Not munmap() then mmap(): between
 * the two, another thread of this process (a worker's mmap(NULL), malloc)
 * may be given the hole, and MAP_FIXED would then silently replace its
 * memory while this worker's region overlapped it from then on.
 */
static int op_remap(struct worker *w)
{
	size_t pgs = w->size / (size_t)w->pg, p = rnd(w, pgs), n = 1 + rnd(w, pgs - p < 4 ? pgs - p : 4);
	void *m;

	note(w, "mmap(MAP_FIXED) over pages %zu..%zu", p, p + n - 1);
	m = mmap(w->base + p * w->pg, n * w->pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (m == MAP_FAILED)
		return diverge(w, "mmap: %s", strerror(errno));
	memset(w->model + p * w->pg, 0, n * w->pg);
	return device_read(w, p * w->pg, n * w->pg, "read after remap");
}

static int op_mremap(struct worker *w)
{
	uint8_t *old = w->base, *dst, *guard;
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	size_t off;
	int ret;

	dst = mmap(NULL, w->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		return diverge(w, "mmap: %s", strerror(errno));
	note(w, "mremap region %p -> %p", (void *)old, (void *)dst);
	/* page by page: earlier operations split the region into several VMAs */
	for (off = 0; off < w->size; off += (size_t)w->pg) {
		if (mremap(old + off, (size_t)w->pg, (size_t)w->pg, MREMAP_MAYMOVE | MREMAP_FIXED,
			   dst + off) == MAP_FAILED) {
			ret = errno;
			munmap(dst, w->size);
			w->base = old;
			return diverge(w, "mremap of page %zu: %s", off / (size_t)w->pg, strerror(ret));
		}
	}
	w->base = dst;
	/* hold the old range inaccessible: the device must no longer reach it */
	guard = mmap(old, w->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (guard == old) {
		svmgpu_cmd_copy(&cmd, w->readback, old, 8, 0);
		ret = run(w, &cmd, &err);
		munmap(guard, w->size);
		if (ret != -EFAULT || err.va != (uint64_t)(uintptr_t)old)
			return diverge(w, "device read of the old range after mremap: %d (%s at 0x%"
				       PRIx64 "), want -EFAULT at %p", ret, svmgpu_error_name(err.code),
				       err.va, (void *)old);
	} else if (guard != MAP_FAILED) {
		munmap(guard, w->size);
	}
	return device_read(w, 0, w->size, "read after mremap");
}

static int op_mprotect(struct worker *w)
{
	size_t pgs = w->size / (size_t)w->pg, p = rnd(w, pgs), off = p * w->pg + rnd(w, (size_t)w->pg / 8) * 8;
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	int ret;

	note(w, "mprotect page %zu read-only, device write at region+0x%zx", p, off);
	if (mprotect(w->base + p * w->pg, w->pg, PROT_READ))
		return diverge(w, "mprotect: %s", strerror(errno));
	ret = device_read(w, p * w->pg, w->pg, "read of a read-only page");
	if (ret)
		return ret;
	svmgpu_cmd_fill(&cmd, w->base + off, 8, 0x5555, 8, 0);
	ret = run(w, &cmd, &err);
	if (ret != -EFAULT || err.va != (uint64_t)(uintptr_t)(w->base + off) ||
	    err.access != SVMGPU_ACCESS_WRITE || err.code != SVMGPU_ERR_FAULT_CANCELLED)
		return diverge(w, "device write to a read-only page: %d (%s, %s at 0x%" PRIx64
			       "), want -EFAULT, write at %p", ret, svmgpu_error_name(err.code),
			       svmgpu_access_name(err.access), err.va, (void *)(w->base + off));
	if (mprotect(w->base + p * w->pg, w->pg, PROT_READ | PROT_WRITE))
		return diverge(w, "mprotect: %s", strerror(errno));
	return device_read(w, p * w->pg, w->pg, "read after mprotect");
}

static int op_dontneed(struct worker *w)
{
	size_t pgs = w->size / (size_t)w->pg, p = rnd(w, pgs), n = 1 + rnd(w, pgs - p < 4 ? pgs - p : 4);

	note(w, "madvise(DONTNEED) pages %zu..%zu", p, p + n - 1);
	if (madvise(w->base + p * w->pg, n * w->pg, MADV_DONTNEED))
		return diverge(w, "madvise: %s", strerror(errno));
	memset(w->model + p * w->pg, 0, n * w->pg);
	return device_read(w, p * w->pg, n * w->pg, "read after DONTNEED");
}

/*
 * fork(): the child scribbles over its copy of the region and exits; the
 * parent writes too, then the device writes and reads.  The device must
 * see the parent's memory only (copy-on-write broken on both sides).
 */
static int op_fork(struct worker *w)
{
	size_t off = rnd(w, w->size / 8) * 8;
	uint64_t v = kref_rand(&w->rng), cv = ~v;
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	int status;
	pid_t pid;

	note(w, "fork: both sides write region+0x%zx, then the device writes", off);
	pid = fork();
	if (pid < 0)
		return diverge(w, "fork: %s", strerror(errno));
	if (pid == 0) {
		size_t i;

		for (i = 0; i < w->size; i += (size_t)w->pg / 2)
			memcpy(w->base + i, &cv, 8);
		_exit(0);
	}
	memcpy(w->base + off, &v, 8);
	memcpy(w->model + off, &v, 8);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return diverge(w, "fork child did not exit normally");
	off = rnd(w, w->size / 8) * 8;
	svmgpu_cmd_signal(&cmd, (uint64_t *)(w->base + off), v ^ 0xf0f0, 0);
	if (expect_ok(w, run(w, &cmd, &err), &err, "signal after fork"))
		return 1;
	v ^= 0xf0f0;
	memcpy(w->model + off, &v, 8);
	if (compare(w, w->base, 0, w->size, "CPU view after fork"))
		return 1;
	return device_read(w, 0, w->size, "read after fork");
}

/*
 * Device-local memory (PREFETCH and ADVISE, docs/api.md): the placement
 * of pages must never change what the CPU or the device reads.  A device
 * without local memory answers -EOPNOTSUPP, and the operation is a no-op.
 */
static int placement_ok(struct worker *w, int ret, const char *what)
{
	/* -ENOSPC: local memory ran out although LRU pages were evicted (what fit moved) */
	if (!ret || ret == -EOPNOTSUPP || ret == -ENOSPC)
		return 0;
	return diverge(w, "%s: %s", what, strerror(-ret));
}

/* PREFETCH of random pages to device or system memory, then both views read. */
static int op_prefetch(struct worker *w)
{
	size_t pgs = w->size / (size_t)w->pg, p = rnd(w, pgs), n = 1 + rnd(w, pgs - p < 8 ? pgs - p : 8);
	unsigned int where = rnd(w, 2) ? SVMGPU_PREFETCH_DEVICE : SVMGPU_PREFETCH_SYSTEM;
	uint64_t moved = 0;

	note(w, "prefetch pages %zu..%zu to %s", p, p + n - 1,
	     where == SVMGPU_PREFETCH_DEVICE ? "device" : "system");
	if (placement_ok(w, svmgpu_device_prefetch(w->dev, w->base + p * w->pg, n * w->pg, where,
						   &moved), "prefetch"))
		return 1;
	if (moved > n)
		return diverge(w, "prefetch of %zu pages moved %" PRIu64, n, moved);
	if (device_read(w, p * w->pg, n * w->pg, "device read after prefetch"))
		return 1;
	return compare(w, w->base + p * w->pg, p * w->pg, n * w->pg, "CPU view after prefetch");
}

/* ADVISE of random pages (one attribute, random value), read back, then a device read. */
static int op_advise(struct worker *w)
{
	static const char *const attr_name[] = { "", "preferred location", "accessed-by",
						 "read-mostly" };
	size_t pgs = w->size / (size_t)w->pg, p = rnd(w, pgs), n = 1 + rnd(w, pgs - p);
	unsigned int attr = 1 + (unsigned int)rnd(w, 3), value, advice = 0, got;
	int ret;

	value = (unsigned int)rnd(w, attr == SVMGPU_ADVISE_PREFERRED_LOCATION ? 3 : 2);
	note(w, "advise pages %zu..%zu %s = %u", p, p + n - 1, attr_name[attr], value);
	ret = svmgpu_context_advise(w->ctx, w->base + p * w->pg, n * w->pg, attr, value);
	if (ret == -EOPNOTSUPP && attr == SVMGPU_ADVISE_PREFERRED_LOCATION &&
	    value == SVMGPU_LOCATION_DEVICE)
		return device_read(w, p * w->pg, n * w->pg, "device read after advise");
	if (ret)
		return diverge(w, "advise: %s", strerror(-ret));
	ret = svmgpu_context_get_advice(w->ctx, w->base + p * w->pg, n * w->pg, &advice, NULL);
	if (ret)
		return diverge(w, "get_advice: %s", strerror(-ret));
	got = attr == SVMGPU_ADVISE_PREFERRED_LOCATION ? advice & SVMGPU_ADVICE_LOCATION_MASK :
	      attr == SVMGPU_ADVISE_ACCESSED_BY ? !!(advice & SVMGPU_ADVICE_ACCESSED_BY) :
	      !!(advice & SVMGPU_ADVICE_READ_MOSTLY);
	if (got != value)
		return diverge(w, "advice 0x%x after setting %s to %u", advice, attr_name[attr], value);
	return device_read(w, p * w->pg, n * w->pg, "device read after advise");
}

/*
 * An eviction trigger: a scratch range of o->evict_size bytes (2 MiB by
 * default) prefetched to the device pushes the least recently used device
 * memory out when local memory is full (a small devmem_limit_mb makes it
 * so); then the whole region must read the same from both sides.
 */
static int op_evict(struct worker *w)
{
	size_t len = w->o->evict_size ? w->o->evict_size : 2u << 20;
	uint8_t *scratch;
	int ret;

	note(w, "eviction trigger: %zu KiB of scratch prefetched to the device", len >> 10);
	scratch = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED)
		return diverge(w, "mmap: %s", strerror(errno));
	memset(scratch, 0x3c, len);
	ret = svmgpu_device_prefetch(w->dev, scratch, len, SVMGPU_PREFETCH_DEVICE, NULL);
	for (size_t i = 0; !ret && i < len; i++)
		if (scratch[i] != 0x3c)
			ret = -EILSEQ;
	munmap(scratch, len);
	if (ret == -EILSEQ)
		return diverge(w, "eviction trigger: the scratch range lost its bytes");
	if (placement_ok(w, ret, "eviction trigger"))
		return 1;
	if (compare(w, w->base, 0, w->size, "CPU view after eviction"))
		return 1;
	return device_read(w, 0, w->size, "device read after eviction");
}

static int (*const op_fn[OP_NUM])(struct worker *) = {
	op_cpu_store, op_dev_fill, op_dev_read, op_dev_atomic, op_dev_hash, op_remap,
	op_mremap, op_mprotect, op_dontneed, op_fork, op_prefetch, op_advise, op_evict,
};

static int expired(const struct worker *w)
{
	struct timespec now;

	if (!w->o->seconds)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > w->deadline.tv_sec ||
	       (now.tv_sec == w->deadline.tv_sec && now.tv_nsec >= w->deadline.tv_nsec);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int total = 0, i;
	uint64_t k;
	int ret;

	for (i = 0; i < OP_NUM; i++)
		total += weights[i];
	ret = svmgpu_queue_create(w->ctx, 0, &w->q);
	if (ret) {
		w->result = ret;
		__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	w->base = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	w->model = calloc(1, w->size);
	w->readback = aligned_alloc(64, w->size);
	w->words = aligned_alloc(64, 64);
	if (w->base == MAP_FAILED || !w->model || !w->readback || !w->words) {
		w->result = -ENOMEM;
		goto out;
	}
	for (k = 0; !w->result; k++) {
		unsigned int r;

		if (w->o->replay) {
			if (k >= w->o->replay_len)
				break;
			w->op = w->o->replay[k];
		} else {
			__atomic_store_n(&w->op, k, __ATOMIC_RELAXED);
			if ((w->o->ops && w->op >= w->o->ops) || expired(w) ||
			    (!w->o->ops && !w->o->seconds))
				break;
		}
		w->rng = (w->o->seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)w->id << 48) ^
			 (w->op * 0xbf58476d1ce4e5b9ull);
		if (w->o->inject_at && w->op == w->o->inject_at)
			w->model[rnd(w, w->size)] ^= 0x40;	/* a deliberate model bug */
		r = (unsigned int)rnd(w, total);
		for (i = 0; r >= weights[i]; i++)
			r -= weights[i];
		op_fn[i](w);
	}
	if (!w->result) {
		note(w, "final check of the whole region");
		if (!compare(w, w->base, 0, w->size, "final CPU view"))
			device_read(w, 0, w->size, "final device read");
	}
out:
	if (w->base != MAP_FAILED && w->base)
		munmap(w->base, w->size);
	free(w->model);
	free(w->readback);
	free(w->words);
	svmgpu_queue_destroy(w->q);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Until the workers of this process end: a progress line every o->progress s. */
static void progress_loop(const struct torture_opts *o, FILE *log, struct worker *ws,
			  unsigned int n, const struct timespec *start)
{
	struct timespec now;
	unsigned int i, running;
	long next = o->progress, el;
	uint64_t ops;

	for (;;) {
		usleep(200000);
		for (i = 0, running = 0, ops = 0; i < n; i++) {
			running += !__atomic_load_n(&ws[i].done, __ATOMIC_ACQUIRE);
			ops += __atomic_load_n(&ws[i].op, __ATOMIC_RELAXED);
		}
		if (!running)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		el = now.tv_sec - start->tv_sec;
		if (el < next)
			continue;
		next = el + o->progress;
		pthread_mutex_lock(&log_lock);
		if (o->seconds)
			fprintf(log, "svmgpu-torture: progress: %ld of %u s (%ld%%), %" PRIu64
				" operations by %u worker(s) of this process\n", el, o->seconds,
				el * 100 / o->seconds, ops, n);
		else
			fprintf(log, "svmgpu-torture: progress: %" PRIu64 " of %" PRIu64
				" operations (%" PRIu64 "%%) by %u worker(s) of this process, %ld s\n",
				ops, o->ops * n, o->ops ? ops * 100 / (o->ops * n) : 0, n, el);
		fflush(log);
		pthread_mutex_unlock(&log_lock);
	}
}

#define MIN_TRIALS	64
#define MIN_TRIAL_OPS	20000

/* Replay @ops of worker @id alone, in this thread; 1 if it diverges. */
static int trial(const struct torture_opts *o, FILE *log, struct svmgpu_device *dev,
		 struct svmgpu_context *ctx, int id, const uint64_t *ops, size_t n)
{
	struct torture_opts t = *o;
	struct worker *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return -ENOMEM;
	t.replay = ops;
	t.replay_len = n;
	t.quiet = 1;
	t.verbose = 0;
	t.seconds = 0;
	w->o = &t;
	w->log = log;
	w->id = id;
	w->dev = dev;
	w->ctx = ctx;
	w->pg = sysconf(_SC_PAGESIZE);
	w->size = (size_t)o->pages * (size_t)w->pg;
	worker_main(w);
	ret = w->result;
	free(w);
	return ret;
}

/*
 * Shrink the operation list 0..@last of worker @id while it still
 * diverges: remove runs of operations, halving the run length when no run
 * can go, within a bounded number of trials.
 */
static void minimize(const struct torture_opts *o, FILE *log, struct svmgpu_device *dev,
		     struct svmgpu_context *ctx, int id,
		     uint64_t last)
{
	uint64_t *ops = calloc(last + 1, sizeof(*ops)), *cand = calloc(last + 1, sizeof(*cand));
	size_t n = last + 1, chunk, start, i, c, spent = 0;
	unsigned int trials = 1;

	if (!ops || !cand)
		goto out;
	for (i = 0; i < n; i++)
		ops[i] = i;
	if (trial(o, log, dev, ctx, id, ops, n) != 1) {
		fprintf(log, "  minimal replay: none: worker %d alone does not diverge "
			"(an interplay with other workers)\n", id);
		goto out;
	}
	spent = n;
	for (chunk = (n + 1) / 2; chunk >= 1 && trials < MIN_TRIALS && spent < MIN_TRIAL_OPS;) {
		int removed = 0;

		for (start = 0; start < n && trials < MIN_TRIALS && spent < MIN_TRIAL_OPS;) {
			for (i = 0, c = 0; i < n; i++)
				if (i < start || i >= start + chunk)
					cand[c++] = ops[i];
			trials++;
			spent += c;
			if (trial(o, log, dev, ctx, id, cand, c) == 1) {
				memcpy(ops, cand, c * sizeof(*ops));
				n = c;
				removed = 1;
			} else {
				start += chunk;
			}
		}
		if (!removed) {
			if (chunk == 1)
				break;
			chunk /= 2;
		}
	}
	pthread_mutex_lock(&log_lock);
	fprintf(log, "  minimal replay (%zu of %" PRIu64 " operations, %u trials): "
		"svmgpu-torture --seed %" PRIu64 " --only %d --replay ", n, last + 1, trials, o->seed, id);
	for (i = 0; i < n; i++)
		fprintf(log, "%s%" PRIu64, i ? "," : "", ops[i]);
	if (!n)
		fprintf(log, "none");
	fprintf(log, " --verbose\n");
	fflush(log);
	pthread_mutex_unlock(&log_lock);
out:
	free(ops);
	free(cand);
}

/* Run workers [first, first + n) as threads of this process. */
static int run_process(const struct torture_opts *o, FILE *log, int first, unsigned int n)
{
	struct svmgpu_device *dev = NULL;
	struct svmgpu_context *ctx = NULL;
	struct worker *ws = calloc(n, sizeof(*ws));
	pthread_t *th = calloc(n, sizeof(*th));
	struct timespec start;
	unsigned int i;
	int ret;

	if (!ws || !th) {
		ret = -ENOMEM;
		goto out;
	}
	ret = o->node ? svmgpu_device_open_path(o->node, &dev) : svmgpu_device_open(0, &dev);
	if (!ret)
		ret = svmgpu_context_create(dev, &ctx);
	if (ret) {
		fprintf(log, "svmgpu-torture: cannot open the device: %s\n", strerror(-ret));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < n; i++) {
		struct worker *w = &ws[i];

		w->o = o;
		w->log = log;
		w->id = first + (int)i;
		w->dev = dev;
		w->ctx = ctx;
		w->pg = sysconf(_SC_PAGESIZE);
		w->size = (size_t)o->pages * (size_t)w->pg;
		w->deadline = start;
		w->deadline.tv_sec += o->seconds;
		if (pthread_create(&th[i], NULL, worker_main, w)) {
			n = i;
			ret = -EAGAIN;
			break;
		}
	}
	if (o->progress && first == 0 && !o->quiet && n)
		progress_loop(o, log, ws, n, &start);
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (ws[i].result < 0 && !ret) {
			fprintf(log, "svmgpu-torture: worker %d: %s\n", ws[i].id, strerror(-ws[i].result));
			ret = ws[i].result;
		} else if (ws[i].result > 0) {
			if (ret != 1 && o->minimize && !o->replay)
				minimize(o, log, dev, ctx, ws[i].id, ws[i].diverged_op);
			ret = 1;
		}
		if (!ws[i].result)
			fprintf(log, "svmgpu-torture: worker %d: %" PRIu64 " operations, no divergence\n",
				ws[i].id, ws[i].op);
	}
out:
	if (ctx)
		svmgpu_context_destroy(ctx);
	if (dev)
		svmgpu_device_close(dev);
	free(ws);
	free(th);
	return ret;
}

int torture_run(const struct torture_opts *o, FILE *log)
{
	unsigned int p;
	pid_t *pids;
	int ret, status;

	if (!o->threads || o->pages < 4 || (!o->ops && !o->seconds))
		return -EINVAL;
	if (o->only_worker >= 0)
		return run_process(o, log, o->only_worker, 1);
	pids = calloc(o->procs + 1, sizeof(*pids));
	if (!pids)
		return -ENOMEM;
	fflush(log);
	for (p = 1; p <= o->procs; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			ret = run_process(o, log, (int)(p * o->threads), o->threads);
			fflush(log);
			_exit(ret == 0 ? 0 : ret == 1 ? 1 : 2);
		}
	}
	ret = run_process(o, log, 0, o->threads);
	for (p = 1; p <= o->procs; p++) {
		if (pids[p] < 0) {
			ret = ret ? ret : -EAGAIN;
			continue;
		}
		if (waitpid(pids[p], &status, 0) != pids[p] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) == 2) {
			ret = ret ? ret : -EIO;
		} else if (WEXITSTATUS(status) == 1) {
			ret = 1;
		}
	}
	free(pids);
	return ret;
}
