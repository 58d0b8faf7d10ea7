// SPDX-License-Identifier: MIT
/*
 * svmgpu-run: run a kernel on buffers described on the command line.
 *
 * The kernel's argument block is an array of 64-bit words in command-line
 * order: the address of each --buffer and the value of each --arg
 * (runargs.h, shared with svmgpu-sim).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "runargs.h"
#include "svmgpu.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-run [options] KERNEL\n"
		"Run a kernel on malloc'd buffers. KERNEL is assembly source, a flat binary\n"
		"from svmgpu-as (*.bin), or with -k the name of a ready kernel.\n"
		"The argument block (SR_ARGS) holds one u64 per -b/-a, in command-line order.\n"
		RUNARGS_USAGE
		"  -d, --device DEVICE          index (default 0), render node path or PCI\n"
		"                               address\n"
		"      --json                   print the result (and --print buffers) as JSON\n"
		"  -h, --help                   this text\n"
		"      --version                print the version\n"
		"Numbers are decimal or 0x hex with an optional k/M/G/T unit.\n"
		"Exit status: 0 the kernel ran to its end, 1 it failed (fault, error,\n"
		"budget) or KERNEL could not be loaded, 2 bad command line, 3 no such\n"
		"device or setup failed.\n"
		"Example: svmgpu-run -k vecadd -b 4K:f32seq -b 4K:f32seq -b 4K -a 1024 -n 1024 -w 256 -p 2:f32\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		RUNARGS_LONGOPTS,
		{ "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, CLI_OPT_JSON }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION }, { NULL, 0, NULL, 0 },
	};
	struct cli_device sel = { 0 };
	struct svmgpu_program *prog = NULL;
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
	struct svmgpu_cmd_error err = { 0 };
	struct svmgpu_stats st = { 0 };
	struct svmgpu_cmd cmd;
	struct timespec t0, t1;
	struct runargs ra;
	unsigned int i;
	int c, ret, json = 0, have_stats;
	uint64_t ns;

	cli_init(argv, "svmgpu-run");
	if (runargs_init(&ra)) {
		fprintf(stderr, "svmgpu-run: %s\n", strerror(ENOMEM));
		return CLI_EXIT_DEVICE;
	}
	while ((c = getopt_long(argc, argv, RUNARGS_SHORTOPTS "d:h", opts, NULL)) != -1) {
		if (runargs_option(&ra, c, optarg))
			continue;
		switch (c) {
		case 'd': cli_opt_device("--device", optarg, &sel); break;
		case CLI_OPT_JSON: json = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case CLI_OPT_VERSION: cli_version();
		default: cli_bad_option();
		}
	}
	if (optind == argc)
		cli_usage_error("KERNEL is missing");
	if (optind != argc - 1)
		cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
	runargs_finish(&ra);
	ret = runargs_load(&ra, "svmgpu-run", argv[optind], &prog);
	if (ret)
		return ret;
	ret = cli_device_open(&sel, &dev);
	if (ret) {
		fprintf(stderr, "svmgpu-run: no svmgpu device %s: %s\n", cli_device_str(&sel),
			strerror(-ret));
		return CLI_EXIT_DEVICE;
	}
	ret = svmgpu_context_create(dev, &ctx);
	if (!ret)
		ret = svmgpu_queue_create(ctx, 0, &q);
	if (ret) {
		fprintf(stderr, "svmgpu-run: device %s: %s\n", cli_device_str(&sel), strerror(-ret));
		return CLI_EXIT_DEVICE;
	}
	ret = svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), ra.words, &ra.launch, 0);
	if (ret)
		cli_usage_error("bad launch shape (grid %u x %u x %u, %u lanes per workgroup)",
				ra.launch.grid[0], ra.launch.grid[1], ra.launch.grid[2],
				ra.launch.wg_size);
	/* no counters (device gone) are shown as such, not as numbers */
	have_stats = !svmgpu_context_get_stats(ctx, &st, SVMGPU_STATS_CLEAR);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = svmgpu_queue_run(q, &cmd, 1, SVMGPU_TIMEOUT_INFINITE, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	have_stats = have_stats && !svmgpu_context_get_stats(ctx, &st, 0);
	ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)t1.tv_nsec -
	     (uint64_t)t0.tv_nsec;
	if (json) {
		struct json_object *j = json_object_new_object(), *g = json_object_new_array();
		struct json_object *bufs_j = json_object_new_array();

		json_object_object_add(j, "instructions", cli_json_u64(svmgpu_program_length(prog)));
		for (i = 0; i < 3; i++)
			json_object_array_add(g, json_object_new_int64(ra.launch.grid[i]));
		json_object_object_add(j, "grid", g);
		json_object_object_add(j, "wg_size", json_object_new_int64(ra.launch.wg_size));
		json_object_object_add(j, "args", json_object_new_int((int)ra.nwords));
		json_object_object_add(j, "time_ns", cli_json_u64(ns));
		json_object_object_add(j, "faults", have_stats ? cli_json_u64(st.faults) : NULL);
		json_object_object_add(j, "pages_mapped",
				       have_stats ? cli_json_u64(st.pages_mapped) : NULL);
		json_object_object_add(j, "ok", json_object_new_boolean(!ret));
		if (ret) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "errno", json_object_new_string(strerror(-ret)));
			json_object_object_add(e, "code", json_object_new_string(svmgpu_error_name(err.code)));
			json_object_object_add(e, "va", cli_json_hex(err.va));
			json_object_object_add(e, "access",
					       json_object_new_string(svmgpu_access_name(err.access)));
			json_object_object_add(e, "queue", json_object_new_int((int)err.queue));
			json_object_object_add(j, "error", e);
		}
		runargs_print(&ra, bufs_j);
		json_object_object_add(j, "buffers", bufs_j);
		if (cli_json_print(j))
			ret = ret ? ret : -EIO;
	} else {
		printf("kernel: %zu instructions, grid %u x %u x %u, %u lanes per workgroup, %u args\n",
		       svmgpu_program_length(prog), ra.launch.grid[0], ra.launch.grid[1],
		       ra.launch.grid[2], ra.launch.wg_size, ra.nwords);
		if (have_stats)
			printf("time: %.3f ms, device faults %" PRIu64 ", pages mapped %" PRIu64 "\n",
			       (double)ns / 1e6, st.faults, st.pages_mapped);
		else
			printf("time: %.3f ms, device faults n/a, pages mapped n/a\n",
			       (double)ns / 1e6);
		if (ret) {
			printf("FAILED: %s: %s at 0x%" PRIx64 " (%s access, queue %u)\n", strerror(-ret),
			       svmgpu_error_name(err.code), err.va, svmgpu_access_name(err.access),
			       err.queue);
		}
		runargs_print(&ra, NULL);
	}
	if (runargs_write_outputs(&ra, "svmgpu-run"))
		ret = ret ? ret : -EIO;
	svmgpu_queue_destroy(q);
	svmgpu_context_destroy(ctx);
	svmgpu_device_close(dev);
	svmgpu_program_destroy(prog);
	runargs_free(&ra);
	return ret ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
