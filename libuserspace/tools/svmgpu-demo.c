// SPDX-License-Identifier: MIT
/*
 * svmgpu-demo: the showcase.  Runs the ready kernels on memory the CPU
 * allocated with malloc (no copies, no registration), checks every result
 * against the CPU, and prints the time and the device faults each took.
 * Exit status 0 when every result matched (cli.h for the others).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-demo [-d DEVICE] [-s N] [-q] [--json]\n"
		"Run the ready kernels on malloc'd memory, verify against the CPU,\n"
		"print time and device fault counts.\n"
		"  -d, --device DEVICE  index (default 0), render node path or PCI address\n"
		"  -s, --scale N        multiply problem sizes by N (1..64, default 1)\n"
		"  -q, --quiet          print only failures and the final verdict\n"
		"      --json           print the results as JSON\n"
		"  -h, --help           this text\n"
		"      --version        print the version\n"
		"Exit status: 0 every result matched the CPU, 1 a mismatch or device\n"
		"error, 2 bad command line, 3 no such device or setup failed.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "scale", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
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
	int c, ret, quiet = 0, json = 0;

	cli_init(argv, "svmgpu-demo");
	while ((c = getopt_long(argc, argv, "d:s:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cli_opt_device("--device", optarg, &sel); break;
		case 's': scale = cli_opt_uint("--scale", optarg, 1, 64); break;
		case 'q': quiet = 1; break;
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
	} else if (!quiet) {
		printf("svmgpu-demo: device %s: svmgpu %u.%u, %u queues, %u engines, driver %s %d.%d.%d\n",
		       cli_device_str(&sel), info.hw_version >> 16, info.hw_version & 0xffff,
		       info.num_queues, info.num_engines, info.driver_name, info.driver_major,
		       info.driver_minor, info.driver_patch);
		printf("All buffers come from malloc(); the device reaches them through its MMU.\n\n");
		printf("%-12s %10s %10s %8s %8s  %s\n", "kernel", "items", "time(ms)", "faults",
		       "pages", "result");
	}
	for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++) {
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
