// SPDX-License-Identifier: MIT
/*
 * svmgpu-demo: the showcase.  Runs the ready kernels on memory the CPU
 * allocated with malloc (no copies, no registration), checks every result
 * against the CPU, and prints the time and the device faults each took.
 * With --devmem, one kernel (vecadd) on system memory, after a PREFETCH to
 * device-local memory and with demand migration, with times and the bytes
 * the device moved over the link and in its local memory.
 * Exit status 0 when every result matched (cli.h for the others).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "kcheck.h"
#include "svmgpu.h"

struct demo {
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
	uint64_t ns;		/* device time of the last run */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int demo_run(void *priv, const struct svmgpu_cmd *cmd)
{
	struct demo *d = priv;
	struct svmgpu_cmd_error err;
	uint64_t t0 = now_ns();
	int ret = svmgpu_queue_run(d->q, cmd, 1, SVMGPU_TIMEOUT_INFINITE, &err);

	d->ns = now_ns() - t0;
	if (ret)
		fprintf(stderr, "svmgpu-demo: command failed: %s (%s at 0x%" PRIx64 ", %s access)\n",
			strerror(-ret), svmgpu_error_name(err.code), err.va,
			svmgpu_access_name(err.access));
	return ret;
}

static const struct {
	enum svmgpu_kernel k;
	uint64_t n;
	const char *what;
} workloads[] = {
	{ SVMGPU_KERNEL_VECADD, 1u << 18, "c[i] = a[i] + b[i], f32" },
	{ SVMGPU_KERNEL_SAXPY, (1u << 18) + 3, "y = 1.5 * x + y, f32" },
	{ SVMGPU_KERNEL_REDUCE_SUM, (1u << 18) + 17, "sum of u32, workgroup barrier tree" },
	{ SVMGPU_KERNEL_SGEMM, 96, "C = A * B, f32, 96 x 51 (k = 97)" },
	{ SVMGPU_KERNEL_HISTOGRAM, 1u << 18, "atomic histogram" },
	{ SVMGPU_KERNEL_STENCIL2D, 4099, "5-point stencil, 4099 x 5 grid" },
	{ SVMGPU_KERNEL_LIST_WALK, 4096, "4096 malloc'd linked lists walked by the device" },
	{ SVMGPU_KERNEL_TREE_LOOKUP, 20000, "40000 lookups in a 20000-node malloc'd search tree" },
	{ SVMGPU_KERNEL_RANGE_HASH, 1u << 17, "device hash of 1 MiB vs the CPU's" },
};

/* The driver's debugfs svmgpu_device of @node (svmgpu_device_debugfs_dir()), or "". */
static void find_debugfs(const char *node, char *path, size_t len)
{
	char dir[64];

	if (svmgpu_device_debugfs_dir(node, dir, sizeof(dir)) ||
	    snprintf(path, len, "%s/svmgpu_device", dir) >= (int)len || access(path, R_OK))
		path[0] = '\0';
}

/* A "name: value" line of the debugfs file @file beside @devfile, or -1. */
static long long debugfs_value(const char *devfile, const char *file, const char *name)
{
	const char *slash = strrchr(devfile, '/');
	size_t len = strlen(name);
	char path[128], line[256];
	long long v = -1;
	FILE *f;

	if (!slash)
		return -1;
	snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - devfile), devfile, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':') {
			v = atoll(line + len + 1);
			break;
		}
	fclose(f);
	return v;
}

/* Data bytes over the link and in local memory, pages migrated (debugfs, root). */
struct traffic {
	long long link, local, to_dev;
};

static void traffic_read(const char *devfile, struct traffic *t)
{
	long long lr = debugfs_value(devfile, "svmgpu_device", "hw_link_read_bytes");
	long long lw = debugfs_value(devfile, "svmgpu_device", "hw_link_write_bytes");
	long long cr = debugfs_value(devfile, "svmgpu_device", "hw_local_read_bytes");
	long long cw = debugfs_value(devfile, "svmgpu_device", "hw_local_write_bytes");

	t->link = lr < 0 || lw < 0 ? -1 : lr + lw;
	t->local = cr < 0 || cw < 0 ? -1 : cr + cw;
	t->to_dev = debugfs_value(devfile, "svmgpu_devmem", "to_device_pages");
}

static long long delta(long long a, long long b)
{
	return a < 0 || b < 0 ? -1 : b - a;
}

static void *alloc_2m(size_t size)
{
	void *p = NULL;

	return posix_memalign(&p, 2 << 20, size) ? NULL : p;
}

/*
 * --devmem: vecadd over three malloc'd arrays of @n floats, placed three
 * ways: left in system memory; moved to device memory by PREFETCH first;
 * advised to prefer the device, so that the kernel's first touch migrates
 * them (demand migration).  For each: the PREFETCH time, the first and a
 * second run of the kernel, the data bytes the device moved over the link
 * and in its local memory during the first run, the pages migrated to the
 * device, and the result checked against the CPU.  Returns the number of
 * failed placements, or -errno when the device has no local memory.
 */
static int demo_devmem(struct svmgpu_device *dev, struct demo *d, const char *devfile,
		       uint64_t n, int quiet, struct json_object *jres)
{
	static const char *const names[] = { "system", "prefetch", "demand" };
	struct svmgpu_program *prog;
	size_t size = (n * sizeof(float) + (2 << 20) - 1) & ~(size_t)((2 << 20) - 1);
	unsigned int failed = 0;
	int ret;

	if (svmgpu_kernel_program(SVMGPU_KERNEL_VECADD, &prog))
		return -ENOMEM;
	if (!jres && !quiet) {
		printf("vecadd of %" PRIu64 " floats (3 arrays of %zu MiB), placed three ways:\n",
		       n, size >> 20);
		printf("%-9s %12s %12s %10s %14s %14s %10s  %s\n", "placement", "prefetch(ms)",
		       "1st run(ms)", "again(ms)", "link bytes", "local bytes", "migrated",
		       "result");
	}
	for (unsigned int p = 0; p < 3; p++) {
		float *a = alloc_2m(size), *b = alloc_2m(size), *out = alloc_2m(size);
		/* every lane reads the arguments: they are placed with the data */
		struct svmgpu_vecadd_args *args = alloc_2m(4096);
		struct traffic t0, t1, t2;
		struct svmgpu_launch launch;
		struct svmgpu_cmd cmd;
		uint64_t pf_ns = 0, run1_ns = 0, run2_ns = 0, bad = n;
		void *arr[4] = { a, b, out, args };
		size_t len[4] = { size, size, size, 4096 };

		ret = a && b && out && args ? 0 : -ENOMEM;
		if (!ret)
			*args = (struct svmgpu_vecadd_args){ a, b, out, n };
		for (uint64_t i = 0; !ret && i < n; i++) {
			a[i] = (float)(i % 1000);
			b[i] = 0.5f;
			out[i] = -1.0f;
		}
		ret = ret ? ret : svmgpu_kernel_launch_shape(SVMGPU_KERNEL_VECADD, args, &launch);
		ret = ret ? ret : svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), args,
						    &launch, 0);
		traffic_read(devfile, &t0);
		for (unsigned int k = 0; !ret && p == 1 && k < 4; k++) {
			uint64_t s = now_ns();

			ret = svmgpu_device_prefetch(dev, arr[k], len[k], SVMGPU_PREFETCH_DEVICE,
						     NULL);
			pf_ns += now_ns() - s;
		}
		for (unsigned int k = 0; !ret && p == 2 && k < 4; k++)
			ret = svmgpu_context_advise(d->ctx, arr[k], len[k],
						    SVMGPU_ADVISE_PREFERRED_LOCATION,
						    SVMGPU_LOCATION_DEVICE);
		traffic_read(devfile, &t1);
		ret = ret ? ret : demo_run(d, &cmd);
		run1_ns = d->ns;
		traffic_read(devfile, &t2);
		ret = ret ? ret : demo_run(d, &cmd);
		run2_ns = d->ns;
		if (!ret)
			for (bad = 0; bad < n && out[bad] == (float)(bad % 1000) + 0.5f; bad++)
				;
		free(a);
		free(b);
		free(out);
		free(args);
		if (ret == -EOPNOTSUPP)
			break;
		failed += ret || bad != n;
		if (jres) {
			struct json_object *o = json_object_new_object();
			long long v;

			json_object_object_add(o, "kernel", json_object_new_string("vecadd"));
			json_object_object_add(o, "placement", json_object_new_string(names[p]));
			json_object_object_add(o, "items", cli_json_u64(n));
			json_object_object_add(o, "prefetch_ns", cli_json_u64(pf_ns));
			json_object_object_add(o, "time_ns", cli_json_u64(run1_ns));
			json_object_object_add(o, "again_ns", cli_json_u64(run2_ns));
			v = delta(t1.link, t2.link);
			json_object_object_add(o, "link_bytes", v < 0 ? NULL : cli_json_u64(v));
			v = delta(t1.local, t2.local);
			json_object_object_add(o, "local_bytes", v < 0 ? NULL : cli_json_u64(v));
			v = delta(t0.to_dev, t2.to_dev);
			json_object_object_add(o, "pages_to_device", v < 0 ? NULL : cli_json_u64(v));
			json_object_object_add(o, "matches_cpu", json_object_new_boolean(!ret &&
										     bad == n));
			if (ret)
				json_object_object_add(o, "error", json_object_new_string(strerror(-ret)));
			json_object_array_add(jres, o);
			continue;
		}
		if (quiet && !ret && bad == n)
			continue;
		printf("%-9s %12.2f %12.2f %10.2f %14lld %14lld %10lld  %s\n", names[p],
		       pf_ns / 1e6, run1_ns / 1e6, run2_ns / 1e6, delta(t1.link, t2.link),
		       delta(t1.local, t2.local), delta(t0.to_dev, t2.to_dev),
		       ret ? strerror(-ret) : bad != n ? "MISMATCH" : "matches CPU");
	}
	svmgpu_program_destroy(prog);
	if (ret == -EOPNOTSUPP)
		return ret;
	if (!jres && !quiet)
		printf("(bytes and pages from debugfs, -1 without it: run as root; link bytes\n"
		       " cross the bus to system memory, local bytes stay in device memory)\n");
	return (int)failed;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-demo [-d DEVICE] [-s N] [-m] [-q] [--json]\n"
		"Run the ready kernels on malloc'd memory, verify against the CPU,\n"
		"print time and device fault counts.\n"
		"  -d, --device DEVICE  index (default 0), render node path or PCI address\n"
		"  -s, --scale N        multiply problem sizes by N (1..64, default 1)\n"
		"  -m, --devmem         instead: vecadd on system memory, after a PREFETCH\n"
		"                       to device memory and with demand migration (ADVISE\n"
		"                       preferred location device): times, bytes over the\n"
		"                       link and in local memory (debugfs, root)\n"
		"  -q, --quiet          print only failures and the final verdict\n"
		"      --json           print the results as JSON\n"
		"  -h, --help           this text\n"
		"      --version        print the version\n"
		"Exit status: 0 every result matched the CPU, 1 a mismatch or device\n"
		"error, 2 bad command line, 3 no such device or setup failed (--devmem:\n"
		"the device has no local memory).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "scale", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "devmem", no_argument, NULL, 'm' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct svmgpu_device_info info;
	struct svmgpu_device *dev;
	struct cli_device sel = { 0 };
	struct demo d = { 0 };
	struct json_object *jroot = NULL, *jres = NULL;
	unsigned int scale = 1, i, failed = 0;
	int c, ret, quiet = 0, json = 0, devmem = 0;

	cli_init(argv, "svmgpu-demo");
	while ((c = getopt_long(argc, argv, "d:s:mqh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cli_opt_device("--device", optarg, &sel); break;
		case 's': scale = cli_opt_uint("--scale", optarg, 1, 64); break;
		case 'q': quiet = 1; break;
		case 'm': devmem = 1; break;
		case CLI_OPT_JSON: json = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case CLI_OPT_VERSION: cli_version();
		default: cli_bad_option();
		}
	}
	if (optind != argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	ret = cli_device_open(&sel, &dev);
	if (ret) {
		fprintf(stderr, "svmgpu-demo: no svmgpu device %s: %s\n", cli_device_str(&sel),
			strerror(-ret));
		return CLI_EXIT_DEVICE;
	}
	ret = svmgpu_device_get_info(dev, &info);
	if (!ret)
		ret = svmgpu_context_create(dev, &d.ctx);
	if (!ret)
		ret = svmgpu_queue_create(d.ctx, 0, &d.q);
	if (ret) {
		fprintf(stderr, "svmgpu-demo: setup: %s\n", strerror(-ret));
		return CLI_EXIT_DEVICE;
	}
	if (json) {
		char hv[16];

		jroot = json_object_new_object();
		jres = json_object_new_array();
		json_object_object_add(jroot, "device", json_object_new_string(cli_device_str(&sel)));
		snprintf(hv, sizeof(hv), "%u.%u", info.hw_version >> 16, info.hw_version & 0xffff);
		json_object_object_add(jroot, "hw_version", json_object_new_string(hv));
		json_object_object_add(jroot, "driver", json_object_new_string(info.driver_name));
		json_object_object_add(jroot, "scale", json_object_new_int((int)scale));
		json_object_object_add(jroot, "mode", json_object_new_string(devmem ? "devmem" :
										       "kernels"));
	} else if (!quiet) {
		printf("svmgpu-demo: device %s: svmgpu %u.%u, %u queues, %u engines, driver %s %d.%d.%d\n",
		       cli_device_str(&sel), info.hw_version >> 16, info.hw_version & 0xffff,
		       info.num_queues, info.num_engines, info.driver_name, info.driver_major,
		       info.driver_minor, info.driver_patch);
		printf("All buffers come from malloc(); the device reaches them through its MMU.\n\n");
		if (!devmem)
			printf("%-12s %10s %10s %8s %8s  %s\n", "kernel", "items", "time(ms)",
			       "faults", "pages", "result");
	}
	if (devmem) {
		char node[SVMGPU_PATH_MAX], devfile[96] = "";

		if (!cli_device_node(&sel, node, sizeof(node)))
			find_debugfs(node, devfile, sizeof(devfile));
		ret = demo_devmem(dev, &d, devfile, (1u << 20) * (uint64_t)scale, quiet, jres);
		if (ret == -EOPNOTSUPP || ret == -ENOMEM) {
			fprintf(stderr, "svmgpu-demo: --devmem: %s\n", ret == -ENOMEM ?
				strerror(ENOMEM) : "the device has no local memory (local-mem-size 0)");
			json_object_put(jroot);
			svmgpu_queue_destroy(d.q);
			svmgpu_context_destroy(d.ctx);
			svmgpu_device_close(dev);
			return CLI_EXIT_DEVICE;
		}
		failed = (unsigned int)ret;
	}
	for (i = 0; !devmem && i < sizeof(workloads) / sizeof(workloads[0]); i++) {
		struct svmgpu_stats st;
		struct kcheck_result res;
		uint64_t n = workloads[i].n * scale;

		svmgpu_context_get_stats(d.ctx, &st, SVMGPU_STATS_CLEAR);
		d.ns = 0;
		ret = kcheck_kernel(workloads[i].k, n, 42 + i, demo_run, &d, &res);
		memset(&st, 0, sizeof(st));
		svmgpu_context_get_stats(d.ctx, &st, 0);
		failed += ret != 0;
		if (json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "kernel",
					       json_object_new_string(svmgpu_kernel_name(workloads[i].k)));
			json_object_object_add(o, "items", cli_json_u64(res.items));
			json_object_object_add(o, "time_ns", cli_json_u64(d.ns));
			json_object_object_add(o, "faults", cli_json_u64(st.faults));
			json_object_object_add(o, "pages_mapped", cli_json_u64(st.pages_mapped));
			json_object_object_add(o, "matches_cpu", json_object_new_boolean(!ret));
			if (ret)
				json_object_object_add(o, "error", json_object_new_string(
					res.message[0] ? res.message : strerror(-ret)));
			json_object_object_add(o, "what", json_object_new_string(workloads[i].what));
			json_object_array_add(jres, o);
			continue;
		}
		if (quiet && !ret)
			continue;
		printf("%-12s %10" PRIu64 " %10.2f %8" PRIu64 " %8" PRIu64 "  %s",
		       svmgpu_kernel_name(workloads[i].k), res.items, d.ns / 1e6, st.faults,
		       st.pages_mapped, ret ? "MISMATCH" : "matches CPU");
		if (ret)
			printf(" (%s)", res.message[0] ? res.message : strerror(-ret));
		printf("   %s\n", workloads[i].what);
	}
	if (json) {
		json_object_object_add(jroot, "results", jres);
		json_object_object_add(jroot, "failed", json_object_new_int((int)failed));
		if (cli_json_print(jroot))
			failed++;
	} else {
		printf("%ssvmgpu-demo: %s\n", quiet ? "" : "\n",
		       failed ? "FAILED" : "all results verified against the CPU");
	}
	svmgpu_queue_destroy(d.q);
	svmgpu_context_destroy(d.ctx);
	svmgpu_device_close(dev);
	return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
