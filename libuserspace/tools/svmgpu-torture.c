// SPDX-License-Identifier: MIT
/*
 * svmgpu-torture: random CPU-side memory changes interleaved with device
 * reads, writes and atomics, checked against a CPU model.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "svmgpu.h"
#include "torture.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-torture [options]\n"
		"Interleave random CPU-side changes to process memory (stores, mmap/munmap,\n"
		"mremap, mprotect, madvise(MADV_DONTNEED), fork with writes on both sides)\n"
		"and placement changes (PREFETCH to device or system memory, ADVISE, an\n"
		"eviction trigger) with device reads, writes, atomics and coherence checks,\n"
		"and check every result against a CPU-side model.\n"
		"  -d, --device DEVICE  index (default 0), render node path or PCI address\n"
		"  -s, --seed N         seed (default: from the clock; always printed)\n"
		"  -n, --ops N          operations per worker (default 1000 unless --time)\n"
		"  -t, --time SECS      run for SECS seconds\n"
		"  -j, --threads N      worker threads per process (1..64, default 2)\n"
		"  -p, --procs N        extra worker processes (0..64, default 1)\n"
		"  -P, --pages N        pages per worker region (4..65536, default 16)\n"
		"  -E, --evict-size N   bytes of scratch memory the eviction trigger\n"
		"                       prefetches to device memory (4k..1G, default 2M)\n"
		"  -o, --only W         replay worker W alone (from a divergence report)\n"
		"  -r, --replay LIST    with --only: run just these operations (a,b,c or none)\n"
		"  -M, --no-minimize    do not search for a shorter replay after a divergence\n"
		"  -v, --verbose        log every operation\n"
		"      --progress SECS  print how far the run is every SECS seconds\n"
		"      --json           log to stderr, print the summary as JSON on stdout\n"
		"  -h, --help           this text\n"
		"      --version        print the version\n"
		"Numbers are decimal or 0x hex with an optional k/M/G/T unit.\n"
		"Exit status: 0 no divergence, 1 divergence (seed, worker, operation\n"
		"index and a minimal replay command are printed), 2 bad command line,\n"
		"3 no such device or setup error.\n");
}

enum { OPT_PROGRESS = CLI_OPT_JSON + 1 };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'n' },
		{ "time", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'j' },
		{ "procs", required_argument, NULL, 'p' },
		{ "pages", required_argument, NULL, 'P' },
		{ "evict-size", required_argument, NULL, 'E' },
		{ "only", required_argument, NULL, 'o' },
		{ "inject-at", required_argument, NULL, 'I' },
		{ "replay", required_argument, NULL, 'r' },
		{ "no-minimize", no_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct torture_opts o = {
		.seed = (uint64_t)time(NULL), .threads = 2, .procs = 1, .pages = 16, .only_worker = -1,
		.minimize = 1,
	};
	struct cli_device sel = { 0 };
	char node[SVMGPU_PATH_MAX];
	uint64_t *replay = NULL;
	size_t nreplay = 0;
	int c, ret, json = 0, selected = 0;
	FILE *log = stdout;

	cli_init(argv, "svmgpu-torture");
	while ((c = getopt_long(argc, argv, "d:s:n:t:j:p:P:E:o:r:Mvh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cli_opt_device("--device", optarg, &sel); selected = 1; break;
		case 's': o.seed = cli_opt_u64("--seed", optarg, 0, UINT64_MAX); break;
		case 'n': o.ops = cli_opt_u64("--ops", optarg, 0, UINT64_MAX); break;
		case 't': o.seconds = cli_opt_uint("--time", optarg, 0, 7 * 86400); break;
		case 'j': o.threads = cli_opt_uint("--threads", optarg, 1, 64); break;
		case 'p': o.procs = cli_opt_uint("--procs", optarg, 0, 64); break;
		case 'P': o.pages = cli_opt_uint("--pages", optarg, 4, 65536); break;
		case 'E':
			o.evict_size = cli_opt_u64("--evict-size", optarg, 4096, 1ull << 30);
			if (o.evict_size % 4096)
				cli_usage_error("--evict-size: %s is not a multiple of 4096", optarg);
			break;
		case 'o': o.only_worker = (int)cli_opt_uint("--only", optarg, 0, 64 * 65 - 1); break;
		case 'I': o.inject_at = cli_opt_u64("--inject-at", optarg, 0, UINT64_MAX); break;
		case 'M': o.minimize = 0; break;
		case OPT_PROGRESS: o.progress = cli_opt_uint("--progress", optarg, 1, 86400); break;
		case 'r': {
			char *p = optarg, *end;

			free(replay);
			replay = calloc(strlen(optarg) / 2 + 2, sizeof(*replay));
			nreplay = 0;
			if (!replay)
				return CLI_EXIT_DEVICE;
			if (!strcmp(optarg, "none"))
				break;
			for (;;) {
				char item[32];
				size_t len = strcspn(p, ",");

				end = p + len;
				snprintf(item, sizeof(item), "%.*s", (int)(len < 31 ? len : 31), p);
				if (len > 31 || cli_parse_u64(item, &replay[nreplay]) ||
				    (nreplay && replay[nreplay] <= replay[nreplay - 1]))
					cli_usage_error("--replay: '%s' is not an ascending list of "
							"operation numbers (a,b,c) or 'none'", optarg);
				nreplay++;
				if (*end != ',')
					break;
				p = end + 1;
			}
			break;
		}
		case 'v': o.verbose = 1; break;
		case CLI_OPT_JSON: json = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case CLI_OPT_VERSION: cli_version();
		default: cli_bad_option();
		}
	}
	if (optind != argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (replay) {
		if (o.only_worker < 0)
			cli_usage_error("--replay needs --only");
		o.replay = replay;
		o.replay_len = nreplay;
		o.ops = 1;	/* unused with a replay list */
	}
	if (!o.ops && !o.seconds)
		o.ops = 1000;
	if (selected) {
		ret = cli_device_node(&sel, node, sizeof(node));
		if (ret) {
			fprintf(stderr, "svmgpu-torture: no svmgpu device %s: %s\n",
				cli_device_str(&sel), strerror(-ret));
			return CLI_EXIT_DEVICE;
		}
		o.node = node;
	}
	if (json)
		log = stderr;
	fprintf(log, "svmgpu-torture: seed %" PRIu64 ", %u thread(s) x %u process(es), %u pages each, %s\n",
		o.seed, o.threads, o.only_worker >= 0 ? 1 : o.procs + 1, o.pages,
		o.seconds ? "timed" : "counted");
	fflush(log);
	ret = torture_run(&o, log);
	if (ret < 0) {
		fprintf(stderr, "svmgpu-torture: %s\n", strerror(-ret));
		return CLI_EXIT_DEVICE;
	}
	fprintf(log, "svmgpu-torture: %s (seed %" PRIu64 ")\n", ret ? "DIVERGED" : "passed", o.seed);
	if (json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "seed", cli_json_u64(o.seed));
		json_object_object_add(j, "threads", json_object_new_int((int)o.threads));
		json_object_object_add(j, "processes",
				       json_object_new_int(o.only_worker >= 0 ? 1 : (int)o.procs + 1));
		json_object_object_add(j, "pages", json_object_new_int((int)o.pages));
		json_object_object_add(j, "mode", json_object_new_string(o.seconds ? "timed" : "counted"));
		if (o.seconds)
			json_object_object_add(j, "seconds", json_object_new_int((int)o.seconds));
		else
			json_object_object_add(j, "ops_per_worker", cli_json_u64(o.ops));
		json_object_object_add(j, "result", json_object_new_string(ret ? "diverged" : "passed"));
		/* The report lost: exit 1, as every tool's write error. */
		if (cli_json_print(j))
			return CLI_EXIT_FAIL;
	}
	return ret ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
