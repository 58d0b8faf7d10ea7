// SPDX-License-Identifier: MIT
/*
 * svmgpu-bench: the in-guest half of `make bench`.
 *
 *   svmgpu-bench [-d DEVICE] [--json] [quick|full]
 *
 * Every figure is measured next to a baseline taken in the same run, so the
 * ratio holds on a noisy (emulated) machine: the device's first touch against
 * the CPU's, device COPY/FILL against the guest CPU's memcpy/memset,
 * invalidation of device-mapped ranges against ranges the device never saw,
 * PREFETCH to device memory against memcpy, demand migration against
 * PREFETCH, and so on.  Each result is one line on stdout:
 *
 *   BENCH {"group": ..., "name": ..., "size": bytes, "unit": ...,
 *          "min": ..., "median": ..., "max": ..., "baseline": ...,
 *          "baseline_name": ..., "ratio": ..., "note": ...}
 *
 * (with --json, one JSON object at the end instead: mode, device, results,
 * errors).  scripts/bench.py turns the lines into the table, JSON, CSV and
 * plots.  Each
 * measurement is repeated (one warm-up run discarded) and min/median/max
 * reported; "median" is the value the table shows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <svmgpu.h>

#include "cli.h"

#define KIB		(1024ull)
#define MIB		(1024ull * KIB)
#define GIB		(1024ull * MIB)
#define PAGE		4096ull
#define MAX_REPS	9
#define TIMEOUT_NS	(120ull * 1000000000ull)

static bool quick = true;
static unsigned int reps = 3;
static struct cli_device sel;		/* -d; index 0 by default */
static char node[SVMGPU_PATH_MAX];	/* its render node */
static char debugfs_path[96];		/* its debugfs file, or "" */
static struct json_object *jresults;	/* --json: the results, or NULL */
static struct json_object *jerrors;
static bool failed;
static const char *only;		/* --only: comma-separated groups, or NULL */

/* Is benchmark group @group selected (--only)? */
static bool wanted(const char *group)
{
	size_t len = strlen(group);

	for (const char *p = only; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
		if (!strncmp(p, group, len) && (p[len] == ',' || !p[len]))
			return true;
	return !only;
}

/* Only when --only names @group: groups that need a boot of their own. */
static bool asked(const char *group)
{
	return only && wanted(group);
}

struct sample {
	double v[MAX_REPS];
	unsigned int n;
};

struct result {
	const char *group;
	const char *name;
	uint64_t size;
	const char *unit;
	struct sample s;
	double baseline;
	const char *baseline_name;
	const char *note;
	const char *path;	/* devmem: which copy path ran, or NULL */
};

/* A device, context and queue for one process. */
struct gpu {
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const struct sample *s)
{
	double v[MAX_REPS];

	if (!s->n)
		return 0;
	memcpy(v, s->v, s->n * sizeof(v[0]));
	qsort(v, s->n, sizeof(v[0]), cmp_double);
	return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

static double smin(const struct sample *s)
{
	double m = s->n ? s->v[0] : 0;

	for (unsigned int i = 1; i < s->n; i++)
		m = s->v[i] < m ? s->v[i] : m;
	return m;
}

static double smax(const struct sample *s)
{
	double m = s->n ? s->v[0] : 0;

	for (unsigned int i = 1; i < s->n; i++)
		m = s->v[i] > m ? s->v[i] : m;
	return m;
}

static void add(struct sample *s, double v)
{
	if (s->n < MAX_REPS)
		s->v[s->n++] = v;
}

static void emit(const struct result *r)
{
	double med = median(&r->s);
	double ratio = r->baseline > 0 ? med / r->baseline : 0;

	if (jresults) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "group", json_object_new_string(r->group));
		json_object_object_add(o, "name", json_object_new_string(r->name));
		json_object_object_add(o, "size", cli_json_u64(r->size));
		json_object_object_add(o, "unit", json_object_new_string(r->unit));
		json_object_object_add(o, "min", json_object_new_double(smin(&r->s)));
		json_object_object_add(o, "median", json_object_new_double(med));
		json_object_object_add(o, "max", json_object_new_double(smax(&r->s)));
		json_object_object_add(o, "reps", json_object_new_int(r->s.n));
		json_object_object_add(o, "baseline", json_object_new_double(r->baseline));
		json_object_object_add(o, "baseline_name",
				       json_object_new_string(r->baseline_name ? r->baseline_name : ""));
		json_object_object_add(o, "ratio", json_object_new_double(ratio));
		json_object_object_add(o, "note", json_object_new_string(r->note ? r->note : ""));
		if (r->path)
			json_object_object_add(o, "path", json_object_new_string(r->path));
		json_object_array_add(jresults, o);
		return;
	}
	printf("BENCH {\"group\": \"%s\", \"name\": \"%s\", \"size\": %llu, \"unit\": \"%s\", "
	       "\"min\": %.6g, \"median\": %.6g, \"max\": %.6g, \"reps\": %u, "
	       "\"baseline\": %.6g, \"baseline_name\": \"%s\", \"ratio\": %.6g, \"note\": \"%s\"%s%s%s}\n",
	       r->group, r->name, (unsigned long long)r->size, r->unit,
	       smin(&r->s), med, smax(&r->s), r->s.n, r->baseline,
	       r->baseline_name ? r->baseline_name : "",
	       ratio, r->note ? r->note : "", r->path ? ", \"path\": \"" : "",
	       r->path ? r->path : "", r->path ? "\"" : "");
	fflush(stdout);
}

static void fail(const char *what, int err)
{
	failed = true;
	if (jerrors) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "what", json_object_new_string(what));
		json_object_object_add(o, "error", json_object_new_string(strerror(-err)));
		json_object_array_add(jerrors, o);
		return;
	}
	printf("BENCH-ERROR %s: %s\n", what, strerror(-err));
	fflush(stdout);
}

/* A context and queue on g->dev; closes g->dev when that fails. */
static int gpu_setup(struct gpu *g)
{
	int ret;

	ret = svmgpu_context_create(g->dev, &g->ctx);
	if (ret)
		goto err_dev;
	ret = svmgpu_queue_create(g->ctx, 0, &g->q);
	if (ret)
		goto err_ctx;
	return 0;
err_ctx:
	svmgpu_context_destroy(g->ctx);
err_dev:
	svmgpu_device_close(g->dev);
	return ret;
}

/* Each benchmark process opens the device -d selected (main found its node). */
static int gpu_open(struct gpu *g)
{
	int ret;

	memset(g, 0, sizeof(*g));
	ret = svmgpu_device_open_path(node, &g->dev);
	return ret ? ret : gpu_setup(g);
}

static void gpu_close(struct gpu *g)
{
	svmgpu_queue_destroy(g->q);
	svmgpu_context_destroy(g->ctx);
	svmgpu_device_close(g->dev);
}

static int run1(struct gpu *g, const struct svmgpu_cmd *cmd)
{
	struct svmgpu_cmd_error err;

	return svmgpu_queue_run(g->q, cmd, 1, TIMEOUT_NS, &err);
}

static int dev_fill(struct gpu *g, void *dst, uint64_t size, uint64_t value)
{
	struct svmgpu_cmd cmd;
	int ret = svmgpu_cmd_fill(&cmd, dst, size, value, 8, 0);

	return ret ? ret : run1(g, &cmd);
}

static int dev_copy(struct gpu *g, void *dst, const void *src, uint64_t size)
{
	struct svmgpu_cmd cmd;
	int ret = svmgpu_cmd_copy(&cmd, dst, src, size, 0);

	return ret ? ret : run1(g, &cmd);
}

static void *map_anon(uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Anonymous memory with THP on (2 MiB aligned) or off. */
static void *map_anon_thp(uint64_t size, bool huge)
{
	uint64_t len = size + 2 * MIB;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)(((uintptr_t)p + 2 * MIB - 1) & ~(2 * MIB - 1));
	if (a > p)
		munmap(p, a - p);
	if (a + size < p + len)
		munmap(a + size, p + len - (a + size));
	madvise(a, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return a;
}

/* The driver's debugfs file of the device (svmgpu_device_debugfs_dir()), or "". */
static void find_debugfs(void)
{
	char dir[64];

	if (svmgpu_device_debugfs_dir(node, dir, sizeof(dir)) ||
	    snprintf(debugfs_path, sizeof(debugfs_path), "%s/svmgpu_device", dir) >=
	    (int)sizeof(debugfs_path) || access(debugfs_path, R_OK))
		debugfs_path[0] = '\0';
}

/* Read a "name: value" line of the driver's debugfs device file. */
static long long debugfs_counter(const char *name)
{
	long long v = -1;
	char line[256];
	size_t len = strlen(name);
	FILE *f = debugfs_path[0] ? fopen(debugfs_path, "r") : NULL;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, len) && line[len] == ':') {
			v = atoll(line + len + 1);
			break;
		}
	}
	fclose(f);
	return v;
}

static int set_fault_around(unsigned int pages)
{
	FILE *f = fopen("/sys/module/svmgpu/parameters/fault_around", "w");

	if (!f)
		return -errno;
	fprintf(f, "%u\n", pages);
	return fclose(f) ? -errno : 0;
}

static unsigned int get_fault_around(void)
{
	FILE *f = fopen("/sys/module/svmgpu/parameters/fault_around", "r");
	unsigned int v = 0;

	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/*
 * 1. Fault service: a single device fault, then sequential first touch of
 * growing ranges, each against the CPU's first touch of the same amount of
 * fresh memory; then the fault-around window's effect.
 */
static void bench_faults(struct gpu *g)
{
	static const uint64_t full_sizes[] = { 4 * MIB, 16 * MIB, 64 * MIB, 256 * MIB, 1 * GIB };
	static const uint64_t quick_sizes[] = { 4 * MIB, 16 * MIB, 64 * MIB };
	const uint64_t *sizes = quick ? quick_sizes : full_sizes;
	size_t nsizes = quick ? 3 : 5;
	struct result dev = { "faults", "device single-fault latency", PAGE, "us" };
	struct result cpu_base = { 0 };
	int ret;

	/* One page, fresh each time: the device writes 8 bytes. */
	for (unsigned int r = 0; r <= reps; r++) {
		uint64_t *p = map_anon(PAGE);
		double t0, t1, c0, c1;

		if (!p)
			return;
		t0 = now_s();
		ret = dev_fill(g, p, 8, r);
		t1 = now_s();
		munmap(p, PAGE);
		p = map_anon(PAGE);
		c0 = now_s();
		*(volatile uint64_t *)p = r;
		c1 = now_s();
		munmap(p, PAGE);
		if (ret) {
			fail("single fault", ret);
			return;
		}
		if (r) {	/* the first run is the warm-up */
			add(&dev.s, (t1 - t0) * 1e6);
			add(&cpu_base.s, (c1 - c0) * 1e6);
		}
	}
	dev.baseline = median(&cpu_base.s);
	dev.baseline_name = "CPU first touch of one page";
	dev.note = "includes submit and wait round trip";
	emit(&dev);

	for (size_t i = 0; i < nsizes; i++) {
		uint64_t size = sizes[i];
		struct result d = { "faults", "device first touch, per page", size, "us/page" };
		struct sample cpu = { 0 };
		unsigned int n = size >= 256 * MIB ? 1 : reps;

		for (unsigned int r = 0; r <= n; r++) {
			uint8_t *p = map_anon_thp(size, false);
			double t0, t1;

			if (!p)
				return;
			t0 = now_s();
			ret = dev_fill(g, p, size, 0x5a5a5a5a5a5a5a5aull);
			t1 = now_s();
			munmap(p, size);
			if (ret) {
				fail("first touch", ret);
				return;
			}
			p = map_anon_thp(size, false);
			double c0 = now_s();

			memset(p, 0x5a, size);
			double c1 = now_s();

			munmap(p, size);
			if (r || n == 1) {
				add(&d.s, (t1 - t0) * 1e6 / (size / PAGE));
				add(&cpu, (c1 - c0) * 1e6 / (size / PAGE));
			}
		}
		d.baseline = median(&cpu);
		d.baseline_name = "CPU first touch (memset), per page";
		emit(&d);
	}

	/* Fault-around: the same 16 MiB first touch with windows 1, 16, 512. */
	unsigned int saved = get_fault_around();
	static const unsigned int windows[] = { 1, 16, 512 };
	struct sample w1 = { 0 };

	for (size_t wi = 0; wi < 3; wi++) {
		char name[64];
		struct result d = { "faults", NULL, 16 * MIB, "us/page" };
		struct svmgpu_stats st;

		if (set_fault_around(windows[wi])) {
			fail("fault_around parameter", -errno);
			break;
		}
		snprintf(name, sizeof(name), "fault-around window %u pages", windows[wi]);
		d.name = strdup(name);
		uint64_t batches = 0, faults = 0;

		for (unsigned int r = 0; r <= reps; r++) {
			uint8_t *p = map_anon_thp(16 * MIB, false);

			svmgpu_context_get_stats(g->ctx, &st, SVMGPU_STATS_CLEAR);
			double t0 = now_s();

			ret = dev_fill(g, p, 16 * MIB, 1);
			double t1 = now_s();

			svmgpu_context_get_stats(g->ctx, &st, SVMGPU_STATS_CLEAR);
			munmap(p, 16 * MIB);
			if (ret) {
				fail("fault-around", ret);
				break;
			}
			if (r) {
				add(&d.s, (t1 - t0) * 1e6 / (16 * MIB / PAGE));
				batches = st.fault_batches;
				faults = st.faults;
			}
		}
		if (wi == 0)
			w1 = d.s;
		d.baseline = median(&w1);
		d.baseline_name = "window 1 page";
		char note[96];

		snprintf(note, sizeof(note), "%llu faults in %llu batches",
			 (unsigned long long)faults, (unsigned long long)batches);
		d.note = strdup(note);
		emit(&d);
	}
	if (saved)
		set_fault_around(saved);
}

/* 2. Resident bandwidth: memory the device has already mapped. */
static void bench_bandwidth(struct gpu *g, const struct svmgpu_program *vecadd)
{
	static const uint64_t full_sizes[] = { 64 * KIB, 1 * MIB, 16 * MIB, 64 * MIB, 256 * MIB };
	static const uint64_t quick_sizes[] = { 64 * KIB, 1 * MIB, 16 * MIB };
	const uint64_t *sizes = quick ? quick_sizes : full_sizes;
	size_t nsizes = quick ? 3 : 5;
	int ret;

	for (size_t i = 0; i < nsizes; i++) {
		uint64_t size = sizes[i];
		uint8_t *src = map_anon(size), *dst = map_anon(size);
		struct result copy = { "bandwidth", "device COPY (resident)", size, "GB/s" };
		struct result fill = { "bandwidth", "device FILL (resident)", size, "GB/s" };
		struct sample mc = { 0 }, ms = { 0 };

		if (!src || !dst)
			return;
		memset(src, 1, size);
		memset(dst, 2, size);
		/* Map both on the device first: these figures exclude faults. */
		ret = dev_copy(g, dst, src, size);
		if (ret) {
			fail("bandwidth warm-up", ret);
			return;
		}
		for (unsigned int r = 0; r <= reps; r++) {
			double t0 = now_s();

			ret = dev_copy(g, dst, src, size);
			double t1 = now_s();

			if (!ret)
				ret = dev_fill(g, dst, size, r);
			double t2 = now_s();

			memcpy(dst, src, size);
			double t3 = now_s();

			memset(dst, r, size);
			double t4 = now_s();

			if (ret) {
				fail("bandwidth", ret);
				return;
			}
			if (r) {
				add(&copy.s, size / (t1 - t0) / 1e9);
				add(&fill.s, size / (t2 - t1) / 1e9);
				add(&mc, size / (t3 - t2) / 1e9);
				add(&ms, size / (t4 - t3) / 1e9);
			}
		}
		copy.baseline = median(&mc);
		copy.baseline_name = "guest CPU memcpy";
		fill.baseline = median(&ms);
		fill.baseline_name = "guest CPU memset";
		emit(&copy);
		emit(&fill);

		/* A streaming kernel: out = a + b over size/4 floats (3 streams). */
		if (vecadd) {
			uint64_t n = size / sizeof(float);
			float *a = (float *)src, *b = (float *)dst;
			float *out = map_anon(size);
			struct svmgpu_vecadd_args args = { a, b, out, n };
			struct svmgpu_launch launch;
			struct svmgpu_cmd cmd;
			struct result k = { "bandwidth", "streaming kernel (vecadd, 3 streams)", size, "GB/s" };
			struct sample cpu = { 0 };

			if (!out)
				return;
			memset(out, 0, size);
			if (svmgpu_kernel_launch_shape(SVMGPU_KERNEL_VECADD, &args, &launch) ||
			    svmgpu_cmd_launch(&cmd, svmgpu_program_code(vecadd), &args, &launch, 0)) {
				munmap(out, size);
				continue;
			}
			for (unsigned int r = 0; r <= reps; r++) {
				double t0 = now_s();

				ret = run1(g, &cmd);
				double t1 = now_s();

				for (uint64_t j = 0; j < n; j++)
					out[j] = a[j] + b[j];
				double t2 = now_s();

				if (ret) {
					fail("vecadd", ret);
					break;
				}
				if (r) {
					add(&k.s, 3.0 * size / (t1 - t0) / 1e9);
					add(&cpu, 3.0 * size / (t2 - t1) / 1e9);
				}
			}
			k.baseline = median(&cpu);
			k.baseline_name = "guest CPU loop";
			k.note = "fast engine (docs/compute-engine.md)";
			if (k.s.n)
				emit(&k);
			munmap(out, size);
		}
		munmap(src, size);
		munmap(dst, size);
	}
}

/*
 * 2b. Compute: the ready streaming kernels over 16 MiB per stream and SGEMM,
 * each against the same loop on the guest CPU.  Host-side baselines of the
 * same run: "host memcpy" and "host sgemm" (host-memcpy).
 */
#define SGEMM_N		256

static void cpu_kernel(enum svmgpu_kernel k, const void *args)
{
	switch (k) {
	case SVMGPU_KERNEL_VECADD: {
		const struct svmgpu_vecadd_args *a = args;

		for (uint64_t i = 0; i < a->n; i++)
			a->out[i] = a->a[i] + a->b[i];
		break;
	}
	case SVMGPU_KERNEL_SAXPY: {
		const struct svmgpu_saxpy_args *a = args;

		for (uint64_t i = 0; i < a->n; i++)
			a->y[i] = a->a * a->x[i] + a->y[i];
		break;
	}
	case SVMGPU_KERNEL_REDUCE_SUM: {
		const struct svmgpu_reduce_args *a = args;
		uint64_t sum = 0;

		for (uint64_t i = 0; i < a->n; i++)
			sum += a->in[i];
		*(volatile uint64_t *)a->scratch = sum;
		break;
	}
	default: {
		const struct svmgpu_sgemm_args *a = args;

		for (uint64_t r = 0; r < a->m; r++)
			for (uint64_t c = 0; c < a->n; c++) {
				float acc = 0;

				for (uint64_t i = 0; i < a->k; i++)
					acc += a->a[r * a->k + i] * a->b[i * a->n + c];
				a->c[r * a->n + c] = acc;
			}
		break;
	}
	}
}

/* Device launch against the CPU loop; value = work / time (GB/s or GFLOP/s). */
static void bench_kernel(struct gpu *g, enum svmgpu_kernel k, const void *args,
			 struct result *res, double work, const char *note)
{
	struct svmgpu_program *prog = NULL;
	struct svmgpu_launch launch;
	struct svmgpu_cmd cmd;
	struct sample cpu = { 0 };
	int ret;

	ret = svmgpu_kernel_program(k, &prog);
	if (!ret)
		ret = svmgpu_kernel_launch_shape(k, args, &launch);
	if (!ret)
		ret = svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), args, &launch, 0);
	if (!ret)
		ret = run1(g, &cmd);	/* maps everything: no faults below */
	for (unsigned int r = 0; r < reps && !ret; r++) {
		double t0 = now_s();

		ret = run1(g, &cmd);
		double t1 = now_s();

		cpu_kernel(k, args);
		double t2 = now_s();

		add(&res->s, work / (t1 - t0) / 1e9);
		add(&cpu, work / (t2 - t1) / 1e9);
	}
	svmgpu_program_destroy(prog);
	if (ret) {
		fail(res->name, ret);
		return;
	}
	res->baseline = median(&cpu);
	res->baseline_name = "guest CPU loop";
	res->note = note;
	emit(res);
}

static void bench_compute(struct gpu *g)
{
	const uint64_t size = 16 * MIB, n = size / sizeof(float);
	float *a = map_anon(size), *b = map_anon(size), *out = map_anon(size);
	uint64_t *scratch = map_anon(n * sizeof(uint64_t)), sum = 0;
	float *ma = map_anon(SGEMM_N * SGEMM_N * sizeof(float));
	float *mb = map_anon(SGEMM_N * SGEMM_N * sizeof(float));
	float *mc = map_anon(SGEMM_N * SGEMM_N * sizeof(float));

	if (!a || !b || !out || !scratch || !ma || !mb || !mc) {
		fail("compute buffers", -ENOMEM);
		return;
	}
	for (uint64_t i = 0; i < n; i++) {
		a[i] = (float)(i % 1000);
		b[i] = 0.5f;
	}
	memset(out, 0, size);
	memset(scratch, 0, n * sizeof(uint64_t));
	for (uint64_t i = 0; i < SGEMM_N * SGEMM_N; i++) {
		ma[i] = (float)(i % 7);
		mb[i] = (float)(i % 5) * 0.25f;
	}
	memset(mc, 0, SGEMM_N * SGEMM_N * sizeof(float));
	{
		struct svmgpu_vecadd_args args = { a, b, out, n };
		struct result r = { "compute", "vecadd (3 streams)", size, "GB/s" };

		bench_kernel(g, SVMGPU_KERNEL_VECADD, &args, &r, 3.0 * size,
			     "fast engine; host memcpy: bandwidth group");
	}
	{
		struct svmgpu_saxpy_args args = { a, out, n, 1.5f, 0 };
		struct result r = { "compute", "saxpy (3 streams)", size, "GB/s" };

		bench_kernel(g, SVMGPU_KERNEL_SAXPY, &args, &r, 3.0 * size,
			     "fast engine; host memcpy: bandwidth group");
	}
	{
		struct svmgpu_reduce_args args = { (const uint32_t *)a, &sum, scratch, n };
		struct result r = { "compute", "reduce_sum (input stream)", size, "GB/s" };

		bench_kernel(g, SVMGPU_KERNEL_REDUCE_SUM, &args, &r, (double)size,
			     "u32 input; plus 2 scratch words per element");
	}
	{
		struct svmgpu_sgemm_args args = { ma, mb, mc, SGEMM_N, SGEMM_N, SGEMM_N };
		struct result r = { "compute", "sgemm 256x256x256", SGEMM_N, "GFLOP/s" };

		bench_kernel(g, SVMGPU_KERNEL_SGEMM, &args, &r,
			     2.0 * SGEMM_N * SGEMM_N * SGEMM_N, "host C loop: host sgemm row");
	}
	munmap(a, size);
	munmap(b, size);
	munmap(out, size);
	munmap(scratch, n * sizeof(uint64_t));
	munmap(ma, SGEMM_N * SGEMM_N * sizeof(float));
	munmap(mb, SGEMM_N * SGEMM_N * sizeof(float));
	munmap(mc, SGEMM_N * SGEMM_N * sizeof(float));
}

/* 3. Invalidation cost: munmap/mprotect/MADV_DONTNEED, mapped vs not. */
enum inval_op { OP_MUNMAP, OP_MPROTECT, OP_DONTNEED };

static double time_op(enum inval_op op, uint8_t *p, uint64_t size)
{
	double t0 = now_s();

	switch (op) {
	case OP_MUNMAP:
		munmap(p, size);
		break;
	case OP_MPROTECT:
		mprotect(p, size, PROT_READ);
		break;
	case OP_DONTNEED:
		madvise(p, size, MADV_DONTNEED);
		break;
	}
	return now_s() - t0;
}

static void bench_invalidation(struct gpu *g)
{
	static const uint64_t full_sizes[] = { 4 * KIB, 64 * KIB, 1 * MIB, 16 * MIB, 256 * MIB, 1 * GIB };
	static const uint64_t quick_sizes[] = { 4 * KIB, 64 * KIB, 1 * MIB, 16 * MIB };
	static const char *const names[] = { "munmap", "mprotect(PROT_READ)", "madvise(DONTNEED)" };
	const uint64_t *sizes = quick ? quick_sizes : full_sizes;
	size_t nsizes = quick ? 4 : 6;

	for (int op = OP_MUNMAP; op <= OP_DONTNEED; op++) {
		for (size_t i = 0; i < nsizes; i++) {
			uint64_t size = sizes[i];
			char name[64];
			struct result d = { "invalidation", NULL, size, "us" };
			struct sample cpu = { 0 };
			unsigned int n = size >= 256 * MIB ? 1 : reps;

			snprintf(name, sizeof(name), "%s of device-mapped range", names[op]);
			d.name = strdup(name);
			for (unsigned int r = 0; r <= n; r++) {
				uint8_t *p = map_anon_thp(size, false);
				int ret;

				if (!p)
					return;
				memset(p, 1, size);
				ret = dev_fill(g, p, size, 3);	/* now device-mapped */
				if (ret) {
					fail("invalidation setup", ret);
					munmap(p, size);
					return;
				}
				double td = time_op(op, p, size);

				if (op != OP_MUNMAP)
					munmap(p, size);
				p = map_anon_thp(size, false);
				memset(p, 1, size);
				double tc = time_op(op, p, size);

				if (op != OP_MUNMAP)
					munmap(p, size);
				if (r || n == 1) {
					add(&d.s, td * 1e6);
					add(&cpu, tc * 1e6);
				}
			}
			d.baseline = median(&cpu);
			d.baseline_name = "same call, range not device-mapped";
			emit(&d);
		}
	}
}

/*
 * 4. TLB: the device hashes a working set twice; the second pass is timed
 * and the device's TLB counters give its hit rate.  4 KiB mappings (THP off)
 * against 2 MiB device mappings (THP on).
 */
static void bench_tlb(struct gpu *g, const struct svmgpu_program *hash)
{
	static const uint64_t full_sizes[] = { 64 * KIB, 1 * MIB, 4 * MIB, 16 * MIB, 64 * MIB };
	static const uint64_t quick_sizes[] = { 64 * KIB, 1 * MIB, 8 * MIB };
	const uint64_t *sizes = quick ? quick_sizes : full_sizes;
	size_t nsizes = quick ? 3 : 5;

	if (!hash)
		return;
	for (int huge = 0; huge <= 1; huge++) {
		for (size_t i = 0; i < nsizes; i++) {
			uint64_t size = sizes[i];
			uint64_t *data = map_anon_thp(size < 2 * MIB ? 2 * MIB : size, huge);
			uint64_t out[3] = { 0 };
			struct svmgpu_range_hash_args args = {
				data, NULL, size / 8, &out[0], &out[1], &out[2],
			};
			struct svmgpu_launch launch;
			struct svmgpu_cmd cmd;
			struct result d = { "tlb", huge ? "device access cost, 2 MiB mappings" :
					    "device access cost, 4 KiB mappings", size, "ns/word" };
			struct result hr = { "tlb", huge ? "TLB hit rate, 2 MiB mappings" :
					     "TLB hit rate, 4 KiB mappings", size, "%" };
			int ret;

			if (!data)
				return;
			memset(data, 7, size);
			if (svmgpu_kernel_launch_shape(SVMGPU_KERNEL_RANGE_HASH, &args, &launch) ||
			    svmgpu_cmd_launch(&cmd, svmgpu_program_code(hash), &args, &launch, 0))
				return;
			ret = run1(g, &cmd);	/* map everything */
			for (unsigned int r = 0; r < reps && !ret; r++) {
				long long h0 = debugfs_counter("hw_tlb_hits");
				long long m0 = debugfs_counter("hw_tlb_misses");
				double t0 = now_s();

				ret = run1(g, &cmd);
				double t1 = now_s();
				long long h1 = debugfs_counter("hw_tlb_hits");
				long long m1 = debugfs_counter("hw_tlb_misses");

				add(&d.s, (t1 - t0) * 1e9 / (size / 8));
				if (h0 >= 0 && m0 >= 0 && h1 + m1 > h0 + m0)
					add(&hr.s, 100.0 * (h1 - h0) / ((h1 - h0) + (m1 - m0)));
			}
			if (ret) {
				fail("tlb", ret);
				return;
			}
			emit(&d);
			if (hr.s.n)
				emit(&hr);
			munmap(data, size < 2 * MIB ? 2 * MIB : size);
		}
	}
}

/* 5. Submission: empty-command round trip, and small-command throughput. */
static void bench_submission(struct gpu *g)
{
	struct result rt = { "submission", "NOP round trip (submit to completion seen)", 64, "us" };
	struct result tp = { "submission", "NOP throughput, 1 queue", 64, "cmds/s" };
	struct result tpa = { "submission", "NOP throughput, all queues", 64, "cmds/s" };
	struct svmgpu_cmd cmds[127];
	struct svmgpu_device_info info;
	unsigned int batches = quick ? 20 : 100;
	int ret;

	for (unsigned int i = 0; i < 127; i++)
		svmgpu_cmd_nop(&cmds[i], 0);
	for (unsigned int r = 0; r <= reps; r++) {
		const unsigned int n = 200;
		double t0 = now_s();

		for (unsigned int i = 0; i < n; i++) {
			ret = run1(g, &cmds[0]);
			if (ret) {
				fail("nop", ret);
				return;
			}
		}
		double t1 = now_s();

		for (unsigned int i = 0; i < batches; i++) {
			ret = svmgpu_queue_run(g->q, cmds, 127, TIMEOUT_NS, NULL);
			if (ret) {
				fail("nop batch", ret);
				return;
			}
		}
		double t2 = now_s();

		if (r) {
			add(&rt.s, (t1 - t0) * 1e6 / n);
			add(&tp.s, batches * 127 / (t2 - t1));
		}
	}
	rt.baseline = 0;
	rt.note = "ioctl submit + wait on the completion interrupt";
	emit(&rt);
	emit(&tp);

	/* All queues: one process per hardware queue, each with its own context. */
	if (svmgpu_device_get_info(g->dev, &info) || info.num_queues < 2)
		return;
	unsigned int nq = info.num_queues - 1;	/* ours stays open */

	for (unsigned int r = 0; r <= reps; r++) {
		double t0 = now_s(), t1;

		for (unsigned int p = 0; p < nq; p++) {
			if (fork() == 0) {
				struct gpu c;
				int ok = gpu_open(&c) == 0;

				for (unsigned int i = 0; ok && i < batches; i++)
					ok = svmgpu_queue_run(c.q, cmds, 127, TIMEOUT_NS, NULL) == 0;
				if (c.q)
					gpu_close(&c);
				_exit(ok ? 0 : 1);
			}
		}
		for (unsigned int i = 0; i < batches; i++)
			svmgpu_queue_run(g->q, cmds, 127, TIMEOUT_NS, NULL);
		int bad = 0, st;

		while (wait(&st) > 0)
			bad |= !WIFEXITED(st) || WEXITSTATUS(st);
		t1 = now_s();
		if (bad) {
			fail("all queues", -EIO);
			return;
		}
		if (r)
			add(&tpa.s, (double)(nq + 1) * batches * 127 / (t1 - t0));
	}
	tpa.baseline = median(&tp.s);
	tpa.baseline_name = "1 queue";
	emit(&tpa);
}

/*
 * One process of the scale rows: open the device, fault its buffers in with
 * one untimed run, say it is ready (a byte on @ready), wait for the common
 * start (EOF on @go), run @iters commands and record its finish time from
 * the start in *@fin.  Exits 0, or 1 (a command failed) / 2 (setup failed)
 * after telling the parent why.
 */
static void scale_child(const struct svmgpu_program *vecadd, uint64_t size, unsigned int iters,
			int ready, int go, const double *t_go, double *fin, unsigned int p,
			unsigned int np)
{
	struct svmgpu_cmd_error err = { 0 };
	struct svmgpu_vecadd_args args;
	struct svmgpu_launch launch;
	struct svmgpu_cmd cmd;
	float *a, *bb;
	struct gpu c;
	double s0 = now_s();
	int ret = -EBUSY;
	char b = 'r';

	while (ret == -EBUSY && now_s() - s0 < 300) {
		ret = gpu_open(&c);
		if (ret == -EBUSY)
			usleep(2000);
	}
	if (ret) {
		fprintf(stderr, "scale: process %u of %u: open: %s\n", p, np, strerror(-ret));
		_exit(write(ready, "x", 1) == 1 ? 2 : 3);
	}
	a = map_anon(size);
	bb = map_anon(size);
	memset(a, 0, size);
	memset(bb, 0, size);
	args = (struct svmgpu_vecadd_args){ a, bb, map_anon(size), size / 4 };
	ret = svmgpu_kernel_launch_shape(SVMGPU_KERNEL_VECADD, &args, &launch);
	ret = ret ? ret : svmgpu_cmd_launch(&cmd, svmgpu_program_code(vecadd), &args, &launch, 0);
	/* Untimed: the first touch of the buffers is not the scheduler's. */
	ret = ret ? ret : svmgpu_queue_run(c.q, &cmd, 1, TIMEOUT_NS, &err);
	if (ret)
		b = 'x';
	if (write(ready, &b, 1) != 1 || ret) {
		fprintf(stderr, "scale: process %u of %u: warm-up: %s (device error %u)\n", p, np,
			strerror(ret ? -ret : errno), err.code);
		_exit(2);
	}
	/* Everyone starts at once: the parent closes the pipe's write end. */
	while (read(go, &b, 1) < 0 && errno == EINTR)
		;
	for (unsigned int i = 0; !ret && i < iters; i++)
		ret = svmgpu_queue_run(c.q, &cmd, 1, TIMEOUT_NS, &err);
	fin[p] = now_s() - *t_go;
	gpu_close(&c);
	if (ret)
		fprintf(stderr, "scale: process %u of %u: %s (device error %u)\n", p, np,
			strerror(-ret), err.code);
	_exit(ret ? 1 : 0);
}

/*
 * 6. Scale: N processes, each with its own context, stream a kernel over
 * its own buffer.  The device has a fixed number of hardware queues, so
 * beyond that processes take turns: the driver's scheduler timeslices them.
 * Every process is set up (device opened, buffers faulted in) before any is
 * timed; then all start at once, each runs the same number of commands, and
 * each one's finish is taken from that common start.  Reports total
 * throughput (all the bytes over the last finish) and fairness: the first
 * finish over the last.  A fair scheduler has every process finish near the
 * end: with n commands each, round robin gives about (n - 1) / n, the
 * figure's resolution (32 commands: 31/32; the quick run's 4: 3/4); first
 * come, first served has the first processes done before the last have
 * started.
 */
static void bench_scale(const struct svmgpu_program *vecadd)
{
	static const unsigned int full_procs[] = { 1, 4, 16, 64, 256 };
	static const unsigned int quick_procs[] = { 1, 4, 16 };
	const unsigned int *procs = quick ? quick_procs : full_procs;
	size_t nprocs = quick ? 3 : 5;
	const uint64_t size = 1 * MIB;
	const unsigned int iters = quick ? 4 : 32;
	double base = 0;

	if (!vecadd)
		return;
	for (size_t pi = 0; pi < nprocs; pi++) {
		unsigned int np = procs[pi];
		struct result tot = { "scale", NULL, size, "GB/s" };
		struct result fair = { "scale", NULL, size, "first/last finish" };
		char name[64], fname[64];
		/* fin[0..np-1], then the common start time. */
		double *fin = mmap(NULL, (np + 1) * sizeof(double), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		if (fin == MAP_FAILED)
			return;
		snprintf(name, sizeof(name), "%u processes, total", np);
		snprintf(fname, sizeof(fname), "%u processes, fairness", np);
		tot.name = strdup(name);
		fair.name = strdup(fname);
		for (unsigned int r = 0; r <= (quick ? 1 : 2); r++) {
			int ready[2], go[2], bad = 0, st;
			unsigned int nready = 0, nf = 0;
			char b;

			if (pipe(ready) || pipe(go)) {
				fail("scale: pipe", -errno);
				break;
			}
			for (unsigned int p = 0; p < np; p++) {
				pid_t pid = fork();

				if (pid < 0) {
					bad = 1;
					break;
				}
				if (pid) {
					nf++;
					continue;
				}
				close(ready[0]);
				close(go[1]);
				scale_child(vecadd, size, iters, ready[1], go[0], &fin[np], fin, p,
					    np);
			}
			close(ready[1]);
			close(go[0]);
			/* Every child writes one byte, 'x' if its setup failed. */
			while (nready < nf && read(ready[0], &b, 1) == 1) {
				bad |= b != 'r';
				nready++;
			}
			bad |= nready < np;
			fin[np] = now_s();
			close(go[1]);
			close(ready[0]);
			while (wait(&st) > 0)
				bad |= !WIFEXITED(st) || WEXITSTATUS(st);
			if (bad) {
				fail("scale", -EIO);
				break;
			}
			if (r) {
				double lo = fin[0], hi = fin[0];

				for (unsigned int p = 1; p < np; p++) {
					lo = fin[p] < lo ? fin[p] : lo;
					hi = fin[p] > hi ? fin[p] : hi;
				}
				add(&tot.s, 3.0 * size * iters * np / hi / 1e9);
				add(&fair.s, hi > 0 ? lo / hi : 0);
			}
		}
		munmap(fin, (np + 1) * sizeof(double));
		if (!tot.s.n)
			return;
		if (pi == 0)
			base = median(&tot.s);
		tot.baseline = base;
		tot.baseline_name = "1 process";
		fair.note = quick ? "from a common start; 4 commands: about 3/4 = round robin"
				  : "from a common start; 32 commands: about 31/32 = round robin";
		emit(&tot);
		emit(&fair);
	}
}

/*
 * A "name: value" line of the driver's debugfs file @file (svmgpu_devmem,
 * svmgpu_sched, ...) beside svmgpu_device, or -1 (no root, no such file).
 */
static long long debugfs_file_counter(const char *file, const char *name)
{
	char path[sizeof(debugfs_path) + 32], *slash;
	long long v = -1;
	char line[512];
	size_t len = strlen(name);
	FILE *f;

	snprintf(path, sizeof(path), "%s", debugfs_path);
	slash = strrchr(path, '/');
	if (!slash)
		return -1;
	snprintf(slash, sizeof(path) - (slash - path), "/%s", file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, len) && line[len] == ':') {
			v = atoll(line + len + 1);
			break;
		}
	}
	fclose(f);
	return v;
}

/* debugfs svmgpu_devmem "type": coherent, private, none, or "unknown". */
static const char *devmem_type(void)
{
	static char type[16];
	char path[sizeof(debugfs_path) + 32], line[128], *slash;
	FILE *f;

	snprintf(type, sizeof(type), "unknown");
	snprintf(path, sizeof(path), "%s", debugfs_path);
	slash = strrchr(path, '/');
	if (!slash)
		return type;
	snprintf(slash, sizeof(path) - (slash - path), "/svmgpu_devmem");
	f = fopen(path, "r");
	if (!f)
		return type;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "type: %15s", type) == 1)
			break;
	fclose(f);
	return type;
}

/*
 * The counters that tell how data moved: the device's data bytes in its
 * local memory and over the link (hw-spec 5a, debugfs svmgpu_device) and
 * the driver's migration counters (debugfs svmgpu_devmem).
 */
struct moves {
	long long local_rd, local_wr, link_rd, link_wr;
	long long to_dev, to_sys, evicted, fault_to_dev;
};

static void moves_read(struct moves *m)
{
	m->local_rd = debugfs_counter("hw_local_read_bytes");
	m->local_wr = debugfs_counter("hw_local_write_bytes");
	m->link_rd = debugfs_counter("hw_link_read_bytes");
	m->link_wr = debugfs_counter("hw_link_write_bytes");
	m->to_dev = debugfs_file_counter("svmgpu_devmem", "to_device_pages");
	m->to_sys = debugfs_file_counter("svmgpu_devmem", "to_system_pages");
	m->evicted = debugfs_file_counter("svmgpu_devmem", "lru_evicted_pages");
	m->fault_to_dev = debugfs_file_counter("svmgpu_devmem", "fault_to_device_pages");
}

/*
 * Which copy path moved @bytes between @a and @b: the device's COPY engine
 * writes (to device) or reads (to system) them in local memory; a CPU copy
 * through BAR4 leaves the device's local-memory counters alone.
 */
static const char *copy_path(const struct moves *a, const struct moves *b, uint64_t bytes,
			     bool to_device)
{
	long long d = to_device ? b->local_wr - a->local_wr : b->local_rd - a->local_rd;

	if (a->local_wr < 0 || b->local_wr < 0)
		return "unknown (no debugfs: run as root)";
	if (d >= (long long)bytes)
		return "device COPY engine";
	return d > 0 ? "device COPY engine and CPU copy" : "CPU copy";
}

static int devmem_limit(const char *mb)
{
	FILE *f = fopen("/sys/module/svmgpu/parameters/devmem_limit_mb", "w");

	if (!f)
		return -errno;
	fprintf(f, "%s\n", mb);
	return fclose(f) ? -errno : 0;
}

/* Every 64-bit word of [p, p + size) is @v, or the first bad offset. */
static bool all_words(const void *p, uint64_t size, uint64_t v, uint64_t *bad)
{
	const uint64_t *w = p;

	for (uint64_t i = 0; i < size / 8; i++) {
		if (w[i] != v) {
			*bad = i * 8;
			return false;
		}
	}
	return true;
}

static double cpu_read_gbs(const void *p, uint64_t size)
{
	const uint64_t *w = p;
	volatile uint64_t sink;
	uint64_t sum = 0;
	double t0 = now_s();

	for (uint64_t i = 0; i < size / 8; i++)
		sum += w[i];
	sink = sum;
	(void)sink;
	return size / (now_s() - t0) / 1e9;
}

static double cpu_write_gbs(void *p, uint64_t size, int v)
{
	double t0 = now_s();

	memset(p, v, size);
	return size / (now_s() - t0) / 1e9;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/*
 * 9a. PREFETCH to device memory and back, against the guest CPU's memcpy
 * of the same size (bench.py adds host memcpy); the path that copied
 * (device COPY engine or CPU) is in "path".
 */
static void bench_prefetch(struct gpu *g, uint64_t capacity)
{
	static const uint64_t full_sizes[] = { 16 * MIB, 64 * MIB, 256 * MIB };
	static const uint64_t quick_sizes[] = { 16 * MIB };
	const uint64_t *sizes = quick ? quick_sizes : full_sizes;
	size_t nsizes = quick ? 1 : 3;

	for (size_t i = 0; i < nsizes; i++) {
		uint64_t size = sizes[i], pages = 0, bad;
		struct result to = { "devmem", "PREFETCH to device", size, "GB/s" };
		struct result back = { "devmem", "PREFETCH to system", size, "GB/s" };
		struct sample mc = { 0 };
		const char *path_to = NULL, *path_back = NULL;
		uint8_t *buf = map_anon_thp(size, true), *cpy = map_anon(size);
		int ret = 0;

		if (size > capacity) {
			fprintf(stderr, "svmgpu-bench: PREFETCH %llu MiB skipped: device memory "
				"holds %llu MiB\n", (unsigned long long)(size / MIB),
				(unsigned long long)(capacity / MIB));
			munmap(buf, size);
			munmap(cpy, size);
			continue;
		}
		if (!buf || !cpy) {
			fail("prefetch: mmap", -ENOMEM);
			return;
		}
		memset(cpy, 0, size);
		for (unsigned int r = 0; r <= reps && !ret; r++) {
			struct moves m0, m1, m2;
			double t0, t1, t2, t3;

			memset(buf, 0x40 + r, size);
			moves_read(&m0);
			t0 = now_s();
			ret = svmgpu_device_prefetch(g->dev, buf, size, SVMGPU_PREFETCH_DEVICE,
						     &pages);
			t1 = now_s();
			moves_read(&m1);
			if (!ret && pages != size / PAGE)
				ret = -ENOSPC;
			ret = ret ? ret : svmgpu_device_prefetch(g->dev, buf, size,
								 SVMGPU_PREFETCH_SYSTEM, &pages);
			t2 = now_s();
			moves_read(&m2);
			memcpy(cpy, buf, size);
			t3 = now_s();
			if (!ret && !all_words(buf, size, 0x0101010101010101ull * (0x40 + r), &bad)) {
				fprintf(stderr, "svmgpu-bench: PREFETCH %llu MiB: byte %llu wrong\n",
					(unsigned long long)(size / MIB), (unsigned long long)bad);
				ret = -EIO;
			}
			if (ret)
				break;
			if (r) {
				add(&to.s, size / (t1 - t0) / 1e9);
				add(&back.s, size / (t2 - t1) / 1e9);
				add(&mc, size / (t3 - t2) / 1e9);
				path_to = copy_path(&m0, &m1, size, true);
				path_back = copy_path(&m1, &m2, size, false);
			}
		}
		munmap(buf, size);
		munmap(cpy, size);
		if (ret) {
			fail("prefetch", ret);
			return;
		}
		to.baseline = back.baseline = median(&mc);
		to.baseline_name = back.baseline_name = "guest CPU memcpy";
		to.path = path_to;
		back.path = path_back;
		to.note = fmt("copied by: %s; goal >= 0.5x host memcpy", path_to);
		back.note = fmt("copied by: %s", path_back);
		emit(&to);
		emit(&back);
	}
}

/*
 * 9b. Demand migration: the range prefers the device (ADVISE) and a device
 * COPY reading it is its first device touch, against a PREFETCH of the same
 * fresh range followed by the same COPY.  Goal: within 5x.
 */
static void bench_demand(struct gpu *g)
{
	uint64_t size = quick ? 16 * MIB : 64 * MIB, bad;
	struct result dem = { "devmem", "demand migration + COPY (ADVISE device)", size, "ms" };
	struct sample pre = { 0 };
	uint8_t *dst = map_anon(size);
	long long migrated = 0;
	int ret;

	if (!dst) {
		fail("demand: mmap", -ENOMEM);
		return;
	}
	memset(dst, 0, size);
	ret = dev_fill(g, dst, size, 0);	/* mapped on the device: not timed below */
	for (unsigned int r = 0; r <= reps && !ret; r++) {
		uint8_t *a = map_anon_thp(size, true), *b = map_anon_thp(size, true);
		struct moves m0, m1;
		double t0, t1, t2, t3;

		if (!a || !b) {
			ret = -ENOMEM;
			break;
		}
		memset(a, 0x20 + r, size);
		memset(b, 0x60 + r, size);
		ret = svmgpu_context_advise(g->ctx, a, size, SVMGPU_ADVISE_PREFERRED_LOCATION,
					    SVMGPU_LOCATION_DEVICE);
		moves_read(&m0);
		t0 = now_s();
		ret = ret ? ret : dev_copy(g, dst, a, size);
		t1 = now_s();
		moves_read(&m1);
		if (!ret && !all_words(dst, size, 0x0101010101010101ull * (0x20 + r), &bad))
			ret = -EIO;
		t2 = now_s();
		ret = ret ? ret : svmgpu_device_prefetch(g->dev, b, size, SVMGPU_PREFETCH_DEVICE,
							 NULL);
		ret = ret ? ret : dev_copy(g, dst, b, size);
		t3 = now_s();
		if (!ret && !all_words(dst, size, 0x0101010101010101ull * (0x60 + r), &bad))
			ret = -EIO;
		munmap(a, size);
		munmap(b, size);
		if (!ret && r) {
			add(&dem.s, (t1 - t0) * 1e3);
			add(&pre, (t3 - t2) * 1e3);
			migrated = m1.fault_to_dev - m0.fault_to_dev;
		}
	}
	munmap(dst, size);
	if (ret) {
		fail("demand migration", ret);
		return;
	}
	dem.baseline = median(&pre);
	dem.baseline_name = "PREFETCH then the same COPY";
	dem.note = fmt("%lld of %llu pages migrated on fault; goal ratio <= 5", migrated,
		       (unsigned long long)(size / PAGE));
	emit(&dem);
}

/*
 * 9c. Oversubscription: working sets of 0.5x to 3x the device memory
 * (quick: 0.5x, 1.5x, 3x; device memory capped with devmem_limit_mb at 16
 * MiB, full: 32 MiB), preferring the device, each run through
 * in-place vecadd passes (a += b over its two halves); throughput against
 * the 0.5x set's, eviction counts, and every element checked at the end
 * (a lost page fails the bench: BENCH-ERROR).
 */
static void bench_oversub(struct gpu *g, const struct svmgpu_program *vecadd)
{
	static const unsigned int full_tenths[] = { 5, 10, 15, 20, 30 };
	static const unsigned int quick_tenths[] = { 5, 15, 30 };
	const unsigned int *tenths = quick ? quick_tenths : full_tenths;
	size_t ntenths = quick ? 3 : 5;
	const char *cap_mb = quick ? "16" : "32";
	unsigned int passes = quick ? 2 : 4;
	long long cap;
	double base = 0;
	int ret;

	ret = devmem_limit(cap_mb);
	cap = debugfs_file_counter("svmgpu_devmem", "capacity");
	if (ret || cap <= 0) {
		fail("oversubscription: devmem_limit_mb and debugfs svmgpu_devmem (root)",
		     ret ? ret : -ENOENT);
		devmem_limit("0");
		return;
	}
	for (size_t i = 0; i < ntenths && !ret; i++) {
		uint64_t ws = ((uint64_t)cap * tenths[i] / 10) & ~(4 * MIB - 1);
		uint64_t n = ws / 2 / sizeof(float), wrong = 0;
		float *a = map_anon_thp(ws, true), *b = a ? a + n : NULL;
		struct svmgpu_vecadd_args args = { a, b, a, n };
		struct result k = { "devmem", NULL, ws, "GB/s" };
		struct svmgpu_launch launch;
		struct svmgpu_cmd cmd;
		struct moves m0, m1;

		if (!a) {
			ret = -ENOMEM;
			break;
		}
		for (uint64_t j = 0; j < n; j++) {
			a[j] = (float)(j & 1023);
			b[j] = 1.0f;
		}
		ret = svmgpu_context_advise(g->ctx, a, ws, SVMGPU_ADVISE_PREFERRED_LOCATION,
					    SVMGPU_LOCATION_DEVICE);
		ret = ret ? ret : svmgpu_kernel_launch_shape(SVMGPU_KERNEL_VECADD, &args, &launch);
		ret = ret ? ret : svmgpu_cmd_launch(&cmd, svmgpu_program_code(vecadd), &args,
						    &launch, 0);
		moves_read(&m0);
		for (unsigned int p = 0; p <= passes && !ret; p++) {
			double t0 = now_s();

			ret = run1(g, &cmd);
			if (!ret && p)
				add(&k.s, 3.0 * n * sizeof(float) / (now_s() - t0) / 1e9);
		}
		moves_read(&m1);
		/* passes + 1 runs: every a[j] grew by exactly that much */
		for (uint64_t j = 0; !ret && j < n; j++)
			wrong += a[j] != (float)((j & 1023) + passes + 1) || b[j] != 1.0f;
		munmap(a, ws);
		if (ret)
			break;
		if (wrong) {
			fprintf(stderr, "svmgpu-bench: oversubscription %u.%ux: %llu of %llu "
				"elements wrong\n", tenths[i] / 10, tenths[i] % 10,
				(unsigned long long)wrong, (unsigned long long)(2 * n));
			ret = -EIO;
			break;
		}
		k.name = fmt("vecadd passes, working set %u.%ux device memory", tenths[i] / 10,
			     tenths[i] % 10);
		if (!i)
			base = median(&k.s);
		k.baseline = base;
		k.baseline_name = "working set 0.5x (fits)";
		k.note = fmt("device memory %lld MiB; %lld pages evicted, %lld migrated on fault; "
			     "every element checked%s", cap >> 20, m1.evicted - m0.evicted,
			     m1.fault_to_dev - m0.fault_to_dev,
			     tenths[i] == 15 ? "; goal ratio >= 0.5" : "");
		emit(&k);
	}
	devmem_limit("0");
	if (ret)
		fail("oversubscription", ret);
}

/*
 * 9d. CPU access to device memory: read (a sum) and write (memset)
 * bandwidth of the guest CPU on pages PREFETCHed to device memory and on a
 * DAX buffer, against the same on system memory.  On coherent memory the
 * CPU maps device pages in place; on private memory each access first
 * migrates the page back (debugfs svmgpu_devmem type, in the note).
 */
static void bench_cpu_access(struct gpu *g)
{
	uint64_t size = 16 * MIB, res = 0;
	struct result rd = { "devmem", "CPU read of device memory (PREFETCHed)", size, "GB/s" };
	struct result wr = { "devmem", "CPU write of device memory (PREFETCHed)", size, "GB/s" };
	/* 8 MiB: one user may hold half of the default 32 MiB DAX pool */
	struct result drd = { "devmem", "CPU read of a DAX buffer", 8 * MIB, "GB/s" };
	struct result dwr = { "devmem", "CPU write of a DAX buffer", 8 * MIB, "GB/s" };
	struct sample srd = { 0 }, swr = { 0 };
	uint8_t *buf = map_anon_thp(size, true), *sys = map_anon_thp(size, true);
	const char *type = devmem_type();
	struct svmgpu_devmem *dm = NULL;
	void *dax = NULL;
	int ret = buf && sys ? 0 : -ENOMEM;

	if (!ret) {
		memset(buf, 1, size);
		memset(sys, 1, size);
	}
	for (unsigned int r = 0; r <= reps && !ret; r++) {
		double vr, vw;

		ret = svmgpu_device_prefetch(g->dev, buf, size, SVMGPU_PREFETCH_DEVICE, NULL);
		if (ret)
			break;
		vr = cpu_read_gbs(buf, size);
		ret = svmgpu_device_prefetch(g->dev, buf, size, SVMGPU_PREFETCH_DEVICE, NULL);
		if (ret)
			break;
		vw = cpu_write_gbs(buf, size, r);
		ret = svmgpu_device_residency(g->dev, buf, size, &res);
		if (r) {
			add(&rd.s, vr);
			add(&wr.s, vw);
			add(&srd, cpu_read_gbs(sys, size));
			add(&swr, cpu_write_gbs(sys, size, r));
		}
	}
	if (ret) {
		fail("CPU access to device memory", ret);
	} else {
		rd.baseline = median(&srd);
		wr.baseline = median(&swr);
		rd.baseline_name = "CPU read of system memory";
		wr.baseline_name = "CPU write of system memory";
		rd.note = fmt("device memory %s%s", type,
			      strcmp(type, "private") ? "" : ": each access migrates back first");
		wr.note = fmt("device memory %s; %llu of %llu pages still in device memory after "
			      "the write", type, (unsigned long long)res,
			      (unsigned long long)(size / PAGE));
		emit(&rd);
		emit(&wr);
	}
	ret = svmgpu_devmem_alloc(g->dev, 8 * MIB, &dm);
	ret = ret ? ret : svmgpu_devmem_map(dm, &dax, NULL);
	for (unsigned int r = 0; r <= reps && !ret; r++) {
		double vw = cpu_write_gbs(dax, 8 * MIB, r), vr = cpu_read_gbs(dax, 8 * MIB);

		if (r) {
			add(&drd.s, vr);
			add(&dwr.s, vw);
		}
	}
	if (dm)
		svmgpu_devmem_free(dm);
	if (ret == -EOPNOTSUPP) {
		fprintf(stderr, "svmgpu-bench: no DAX pool: DAX rows skipped\n");
	} else if (ret) {
		fail("CPU access to a DAX buffer", ret);
	} else {
		drd.baseline = rd.baseline;
		dwr.baseline = wr.baseline;
		drd.baseline_name = rd.baseline_name;
		dwr.baseline_name = wr.baseline_name;
		drd.note = dwr.note = "device-DAX style mapping (svmgpu_devmem_map)";
		emit(&drd);
		emit(&dwr);
	}
	munmap(buf, size);
	munmap(sys, size);
}

/* 9. Device-local memory (issue 11): needs local memory and debugfs (root). */
static void bench_devmem(struct gpu *g, const struct svmgpu_program *vecadd)
{
	long long cap = debugfs_file_counter("svmgpu_devmem", "capacity");

	if (cap <= 0) {
		fail("devmem: no device memory, or no debugfs svmgpu_devmem (root)", -ENODEV);
		return;
	}
	bench_prefetch(g, cap);
	bench_demand(g);
	if (vecadd)
		bench_oversub(g, vecadd);
	bench_cpu_access(g);
}

/*
 * 10. The link model (hw-spec 5a), in its own boot with link-bandwidth and
 * link-latency set (scripts/bench.sh; SVMGPU_BENCH_LINK describes them):
 * a streaming kernel on device-resident (PREFETCHed) data against the same
 * on system-resident data, and PREFETCH over the paced link.
 */
static void bench_link(struct gpu *g, const struct svmgpu_program *vecadd)
{
	static const uint64_t full_sizes[] = { 16 * MIB, 64 * MIB };
	static const uint64_t quick_sizes[] = { 16 * MIB };
	const uint64_t *sizes = quick ? quick_sizes : full_sizes;
	size_t nsizes = quick ? 1 : 2;
	const char *link = getenv("SVMGPU_BENCH_LINK");
	int ret = 0;

	if (!link)
		link = "link model as QEMU was started";
	for (size_t i = 0; i < nsizes && vecadd && !ret; i++) {
		uint64_t size = sizes[i], n = size / sizeof(float);
		float *a = map_anon_thp(size, true), *b = map_anon_thp(size, true);
		float *out = map_anon_thp(size, true), *cpy = map_anon(size);
		/* every lane reads the arguments: they move with the data */
		struct svmgpu_vecadd_args *args = map_anon(PAGE);
		struct result dev = { "link", "streaming kernel (vecadd), device-resident", size,
				      "GB/s" };
		struct result pf = { "link", "PREFETCH to device, link model on", size, "GB/s" };
		struct sample sys = { 0 }, mc = { 0 };
		long long link_bytes = 0, local_bytes = 0;
		struct svmgpu_launch launch;
		struct svmgpu_cmd cmd;
		uint64_t wrong = 0;

		if (!a || !b || !out || !cpy || !args) {
			ret = -ENOMEM;
			break;
		}
		*args = (struct svmgpu_vecadd_args){ a, b, out, n };
		for (uint64_t j = 0; j < n; j++) {
			a[j] = (float)(j & 255);
			b[j] = 2.0f;
		}
		memset(out, 0, size);
		ret = svmgpu_kernel_launch_shape(SVMGPU_KERNEL_VECADD, args, &launch);
		ret = ret ? ret : svmgpu_cmd_launch(&cmd, svmgpu_program_code(vecadd), args,
						    &launch, 0);
		/* system-resident: mapped by a first run, then timed */
		ret = ret ? ret : run1(g, &cmd);
		for (unsigned int r = 0; r < reps && !ret; r++) {
			struct moves m0, m1;
			double t0 = now_s();

			moves_read(&m0);
			t0 = now_s();
			ret = run1(g, &cmd);
			add(&sys, 3.0 * size / (now_s() - t0) / 1e9);
			moves_read(&m1);
			link_bytes = m1.link_rd + m1.link_wr - m0.link_rd - m0.link_wr;
		}
		for (unsigned int r = 0; r <= reps && !ret; r++) {
			struct moves m0, m1;
			double t0, t1, t2;

			ret = svmgpu_device_prefetch(g->dev, a, size, SVMGPU_PREFETCH_SYSTEM, NULL);
			t0 = now_s();
			ret = ret ? ret : svmgpu_device_prefetch(g->dev, a, size,
								 SVMGPU_PREFETCH_DEVICE, NULL);
			t1 = now_s();
			memcpy(cpy, b, size);
			t2 = now_s();
			ret = ret ? ret : svmgpu_device_prefetch(g->dev, b, size,
								 SVMGPU_PREFETCH_DEVICE, NULL);
			ret = ret ? ret : svmgpu_device_prefetch(g->dev, out, size,
								 SVMGPU_PREFETCH_DEVICE, NULL);
			ret = ret ? ret : svmgpu_device_prefetch(g->dev, args, PAGE,
								 SVMGPU_PREFETCH_DEVICE, NULL);
			ret = ret ? ret : run1(g, &cmd);	/* maps them on the device */
			moves_read(&m0);
			double t3 = now_s();

			ret = ret ? ret : run1(g, &cmd);
			double t4 = now_s();

			moves_read(&m1);
			if (!ret && r) {
				add(&pf.s, size / (t1 - t0) / 1e9);
				add(&mc, size / (t2 - t1) / 1e9);
				add(&dev.s, 3.0 * size / (t4 - t3) / 1e9);
				local_bytes = m1.local_rd + m1.local_wr - m0.local_rd - m0.local_wr;
			}
		}
		for (uint64_t j = 0; !ret && j < n; j++)
			wrong += out[j] != (float)((j & 255) + 2);
		munmap(a, size);
		munmap(b, size);
		munmap(out, size);
		munmap(cpy, size);
		munmap(args, PAGE);
		if (!ret && wrong)
			ret = -EIO;
		if (ret)
			break;
		dev.baseline = median(&sys);
		dev.baseline_name = "the same on system-resident data";
		dev.note = fmt("%s; per run %lld bytes over the link (system), %lld local "
			       "(device)", link, link_bytes, local_bytes);
		pf.baseline = median(&mc);
		pf.baseline_name = "guest CPU memcpy";
		pf.note = fmt("%s", link);
		emit(&dev);
		emit(&pf);
	}
	if (ret)
		fail("link", ret);
}

/* A "name: value" line of the driver's debugfs svmgpu_sched file, or -1. */
static long long sched_counter(const char *name)
{
	return debugfs_file_counter("svmgpu_sched", name);
}

/* Median NOP round trip (submit, interrupt, wait) on @q over @n (<= 64) runs, in µs. */
static double nop_latency_us(struct svmgpu_queue *q, unsigned int n)
{
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	double t[64];

	n = n > 64 ? 64 : n;
	svmgpu_cmd_nop(&cmd, 0);
	for (unsigned int i = 0; i < n; i++) {
		double t0 = now_s();

		if (svmgpu_queue_run(q, &cmd, 1, TIMEOUT_NS, &err))
			return -1;
		t[i] = (now_s() - t0) * 1e6;
	}
	qsort(t, n, sizeof(t[0]), cmp_double);
	return t[n / 2];
}

/*
 * 7. Scheduling: a HIGH-priority queue's NOP round trip on an idle device
 * and with every hardware queue saturated by LOW-priority endless kernels
 * (2 x NUM_QUEUES of them: each is preempted at once for the HIGH queue),
 * and the preemption latency the driver measured meanwhile (PREEMPT
 * written to the state saved and the hardware queue given back, debugfs
 * svmgpu_sched preempt_ns_total / preemptions).
 */
static void bench_sched(void)
{
	static const uint64_t spin[] __attribute__((aligned(8))) = {
		SVMGPU_ISA_ENCODE(SVMGPU_OP_LOOP, 0, 0, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_ENDLOOP, 0, 0, 0, 0),
		SVMGPU_ISA_ENCODE(SVMGPU_OP_EXIT, 0, 0, 0, 0),
	};
	struct result idle = { "sched", "HIGH NOP round trip, idle device", 0, "us" };
	struct result busy = { "sched", "HIGH NOP round trip, all hardware queues busy with LOW kernels",
			       0, "us" };
	struct result pre = { "sched", "preemption latency (PREEMPT to hardware queue free)", 0, "us" };
	struct svmgpu_queue *hq = NULL, **low = NULL;
	struct svmgpu_device_info info;
	struct svmgpu_launch launch = { .grid = { 4, 1, 1 }, .wg_size = 64,
					.budget = ~0ull >> 8 };
	struct svmgpu_cmd cmd;
	unsigned int nlow = 0, r;
	struct gpu g;
	int ret;

	ret = gpu_open(&g);
	if (ret) {
		fail("sched", ret);
		return;
	}
	ret = svmgpu_device_get_info(g.dev, &info);
	ret = ret ? ret : svmgpu_queue_create_priority(g.ctx, 0, SVMGPU_PRIORITY_HIGH, &hq);
	if (ret) {
		fail("sched: HIGH queue", ret);
		gpu_close(&g);
		return;
	}
	for (r = 0; r < reps; r++) {
		double v = nop_latency_us(hq, 51);

		if (v > 0)
			add(&idle.s, v);
	}
	nlow = 2 * info.num_queues;
	low = calloc(nlow, sizeof(*low));
	ret = low ? svmgpu_cmd_launch(&cmd, spin, NULL, &launch, 0) : -ENOMEM;
	for (unsigned int i = 0; !ret && i < nlow; i++) {
		ret = svmgpu_queue_create_priority(g.ctx, 0, SVMGPU_PRIORITY_LOW, &low[i]);
		ret = ret ? ret : svmgpu_queue_submit(low[i], &cmd, 1, NULL);
	}
	if (!ret) {
		long long n0 = sched_counter("preemptions");
		long long ns0 = sched_counter("preempt_ns_total");

		usleep(200000);
		for (r = 0; r < reps; r++) {
			double v = nop_latency_us(hq, 51);

			if (v > 0)
				add(&busy.s, v);
		}
		long long n1 = sched_counter("preemptions");
		long long ns1 = sched_counter("preempt_ns_total");

		if (n1 > n0 && ns1 >= ns0)
			add(&pre.s, (double)(ns1 - ns0) / (n1 - n0) / 1e3);
	} else {
		fail("sched: LOW queues", ret);
	}
	/* Destroying a queue abandons its endless kernel. */
	for (unsigned int i = 0; low && i < nlow; i++)
		svmgpu_queue_destroy(low[i]);
	free(low);
	svmgpu_queue_destroy(hq);
	gpu_close(&g);
	if (!idle.s.n)
		return;
	emit(&idle);
	if (busy.s.n) {
		busy.baseline = median(&idle.s);
		busy.baseline_name = "idle device";
		busy.note = "goal <= 2x idle";
		emit(&busy);
	}
	if (pre.s.n) {
		pre.note = "mean over the preemptions of the saturated run";
		emit(&pre);
	}
}

/* Write "NAME VALUE" to the driver's debugfs svmgpu_inject: 0 or -errno. */
static int inject(const char *name, unsigned int value)
{
	char path[sizeof(debugfs_path)], *slash;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s", debugfs_path);
	slash = strrchr(path, '/');
	if (!slash)
		return -ENOENT;
	snprintf(slash, sizeof(path) - (slash - path), "/svmgpu_inject");
	f = fopen(path, "w");
	if (!f)
		return -errno;
	ok = fprintf(f, "%s %u\n", name, value) > 0;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

/*
 * 8. Recovery: how long the driver takes to notice and recover from each
 * failure the device injects (hw-spec 15, through debugfs svmgpu_inject)
 * that does not end on a timeout of its own:
 * - a dropped interrupt: a 1 MiB FILL's round trip when its completion
 *   interrupt is not sent (the watchdog polls), against the same FILL's;
 * - a corrupt completion record: SUBMIT to the command reported failed
 *   (SVMGPU_ERROR_RESET, the queue reset), then the queue runs a FILL;
 * - a fatal device error: the error injected to the device reset done
 *   (debugfs "resets"), with a WAIT in flight that then completes, replayed.
 * A hung queue (hang_timeout_ms), a refused invalidation (the invalidation
 * timeout) and a stalled fault ring (the watchdog's stall time) recover
 * after their documented timeouts; the svm_hang guest test logs those.
 */
static void bench_recovery(void)
{
	struct result irq = { "recovery", "FILL round trip, its interrupt dropped", MIB, "ms" };
	struct result corrupt = { "recovery", "corrupt completion to failed command",
				  MIB, "ms" };
	struct result fatal = { "recovery", "fatal error to device reset done, WAIT replayed", 0,
				"ms" };
	struct sample plain = { 0 };
	struct svmgpu_cmd_error err;
	uint64_t *word = map_anon(PAGE), seq;
	uint8_t *buf = map_anon(MIB);
	struct svmgpu_cmd fill, wait;
	struct gpu g;
	int ret;

	if (!debugfs_path[0] || !word || !buf) {
		fail("recovery: no debugfs (root?)", -ENOENT);
		return;
	}
	ret = gpu_open(&g);
	if (ret) {
		fail("recovery", ret);
		return;
	}
	svmgpu_cmd_fill(&fill, buf, MIB, 0x5a, 1, 0);
	/* Mirrored first: no fault interrupt takes the dropped one. */
	ret = svmgpu_queue_run(g.q, &fill, 1, TIMEOUT_NS, &err);
	for (unsigned int r = 0; !ret && r < reps; r++) {
		double t0 = now_s();

		ret = svmgpu_queue_run(g.q, &fill, 1, TIMEOUT_NS, &err);
		add(&plain, (now_s() - t0) * 1e3);
		ret = ret ? ret : inject("drop_irqs", 1);
		t0 = now_s();
		ret = ret ? ret : svmgpu_queue_run(g.q, &fill, 1, TIMEOUT_NS, &err);
		add(&irq.s, (now_s() - t0) * 1e3);
	}
	if (ret)
		fail("recovery: dropped interrupt", ret);
	for (unsigned int r = 0; !ret && r < reps; r++) {
		double t0 = now_s();

		ret = inject("corrupt_compl", 1);
		ret = ret ? ret : svmgpu_queue_submit(g.q, &fill, 1, &seq);
		ret = ret ? ret : svmgpu_queue_wait(g.q, seq, TIMEOUT_NS, &err);
		if (ret == -ECANCELED && err.code == SVMGPU_ERROR_RESET) {
			add(&corrupt.s, (now_s() - t0) * 1e3);
			ret = svmgpu_queue_run(g.q, &fill, 1, TIMEOUT_NS, &err);
		} else {
			ret = ret ? ret : -EPROTO;	/* not detected */
		}
	}
	if (ret)
		fail("recovery: corrupt completion", ret);
	svmgpu_cmd_wait(&wait, word, SVMGPU_WAIT_EQ, 1, ~0ull, 0, 0);
	for (unsigned int r = 0; !ret && r < reps; r++) {
		long long resets = debugfs_counter("resets");
		double t0;

		__atomic_store_n(word, 0, __ATOMIC_SEQ_CST);
		ret = svmgpu_queue_submit(g.q, &wait, 1, &seq);
		usleep(20000);
		t0 = now_s();
		ret = ret ? ret : inject("fatal", 1);
		while (!ret && debugfs_counter("resets") <= resets && now_s() - t0 < 30)
			usleep(1000);
		if (!ret && debugfs_counter("resets") > resets)
			add(&fatal.s, (now_s() - t0) * 1e3);
		else
			ret = ret ? ret : -ETIMEDOUT;
		__atomic_store_n(word, 1, __ATOMIC_SEQ_CST);
		/* Replayed, not lost: the WAIT completes without an error. */
		ret = ret ? ret : svmgpu_queue_wait(g.q, seq, TIMEOUT_NS, &err);
	}
	if (ret)
		fail("recovery: fatal error", ret);
	gpu_close(&g);
	if (irq.s.n) {
		irq.baseline = median(&plain);
		irq.baseline_name = "interrupt sent";
		irq.note = "the watchdog polls";
		emit(&irq);
	}
	if (corrupt.s.n) {
		corrupt.note = "queue reset; it runs again at once";
		emit(&corrupt);
	}
	if (fatal.s.n) {
		fatal.note = "work in flight saved and replayed";
		emit(&fatal);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-bench [-d DEVICE] [--json] [--only GROUPS] [quick|full]\n"
		"The in-guest half of make bench: device faults, bandwidth, compute,\n"
		"invalidation, TLB, submission and multi-process scaling, each measured next\n"
		"to a baseline taken in the same run. quick (the default): smaller sizes,\n"
		"3 repetitions; full: larger sizes, 5 repetitions.\n"
		"Each result is a line 'BENCH {json}' on stdout, a failed measurement a line\n"
		"'BENCH-ERROR WHAT: ERROR'; the run starts with 'BENCH-MODE MODE' and ends\n"
		"with 'BENCH-END' (scripts/bench.py reads these lines).\n"
		"  -d, --device DEVICE  index, render node path or PCI address (default: 0)\n"
		"      --only GROUPS    run only these comma-separated groups: faults,\n"
		"                       bandwidth, compute, invalidation, tlb, submission,\n"
		"                       scale, sched, recovery, devmem (these two need\n"
		"                       debugfs: root; devmem needs device-local memory),\n"
		"                       link (only when named: for a QEMU started with the\n"
		"                       link model on; SVMGPU_BENCH_LINK describes it in\n"
		"                       the notes)\n"
		"      --json           print one JSON object at the end instead: mode,\n"
		"                       device, results and errors\n"
		"  -h, --help           this text\n"
		"      --version        print the version\n"
		"Exit status: 0 success, 1 a measurement failed, 2 bad command line,\n"
		"3 no svmgpu device, or no context and queue on it.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "only", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct svmgpu_program *vecadd = NULL, *hash = NULL;
	struct json_object *jroot = NULL;
	struct gpu g;
	int ret, c;

	cli_init(argv, "svmgpu-bench");
	while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cli_opt_device("--device", optarg, &sel); break;
		case CLI_OPT_JSON: jroot = json_object_new_object(); break;
		case 'o': only = optarg; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case CLI_OPT_VERSION: cli_version();
		default: cli_bad_option();
		}
	}
	if (argc - optind > 1)
		cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc && !strcmp(argv[optind], "full")) {
		quick = false;
		reps = 5;
	} else if (optind < argc && strcmp(argv[optind], "quick")) {
		cli_usage_error("unknown mode '%s' (quick or full)", argv[optind]);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&g, 0, sizeof(g));
	ret = cli_device_node(&sel, node, sizeof(node));
	ret = ret ? ret : svmgpu_device_open_path(node, &g.dev);
	if (ret) {
		fprintf(stderr, "svmgpu-bench: no svmgpu device %s: %s\n", cli_device_str(&sel),
			strerror(-ret));
		json_object_put(jroot);
		return CLI_EXIT_DEVICE;
	}
	ret = gpu_setup(&g);
	if (ret) {
		fprintf(stderr, "svmgpu-bench: %s: no context and queue: %s\n", node,
			strerror(-ret));
		json_object_put(jroot);
		return CLI_EXIT_DEVICE;
	}
	find_debugfs();
	if (jroot) {
		jresults = json_object_new_array();
		jerrors = json_object_new_array();
		json_object_object_add(jroot, "mode", json_object_new_string(quick ? "quick" : "full"));
		json_object_object_add(jroot, "device", json_object_new_string(node));
		json_object_object_add(jroot, "results", jresults);
		json_object_object_add(jroot, "errors", jerrors);
	}
	if (svmgpu_kernel_program(SVMGPU_KERNEL_VECADD, &vecadd))
		vecadd = NULL;
	if (svmgpu_kernel_program(SVMGPU_KERNEL_RANGE_HASH, &hash))
		hash = NULL;
	if (!jroot)
		printf("BENCH-MODE %s\n", quick ? "quick" : "full");
	if (wanted("faults"))
		bench_faults(&g);
	if (wanted("bandwidth"))
		bench_bandwidth(&g, vecadd);
	if (wanted("compute"))
		bench_compute(&g);
	if (wanted("invalidation"))
		bench_invalidation(&g);
	if (wanted("tlb"))
		bench_tlb(&g, hash);
	if (wanted("submission"))
		bench_submission(&g);
	if (wanted("devmem"))
		bench_devmem(&g, vecadd);
	if (asked("link"))
		bench_link(&g, vecadd);
	gpu_close(&g);
	if (wanted("scale"))
		bench_scale(vecadd);
	if (wanted("sched"))
		bench_sched();
	if (wanted("recovery"))
		bench_recovery();
	svmgpu_program_destroy(vecadd);
	svmgpu_program_destroy(hash);
	if (jroot) {
		if (cli_json_print(jroot))
			return CLI_EXIT_FAIL;
	} else {
		printf("BENCH-END\n");
	}
	return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
