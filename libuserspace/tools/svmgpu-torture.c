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

#include "torture.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-torture [options]\n"
		"Interleave random CPU-side changes to process memory (stores, mmap/munmap,\n"
		"mremap, mprotect, madvise(MADV_DONTNEED), fork with writes on both sides)\n"
		"with device reads, writes, atomics and coherence checks, and check every\n"
		"result against a CPU-side model.\n"
		"  -s, --seed N       seed (default: from the clock; always printed)\n"
		"  -n, --ops N        operations per worker (default 1000 unless --time)\n"
		"  -t, --time SECS    run for SECS seconds\n"
		"  -j, --threads N    worker threads per process (default 2)\n"
		"  -p, --procs N      extra worker processes (default 1)\n"
		"  -P, --pages N      pages per worker region (default 16, >= 4)\n"
		"  -o, --only W       replay worker W alone (from a divergence report)\n"
		"  -r, --replay LIST  with --only: run just these operations (a,b,c or none)\n"
		"  -M, --no-minimize  do not search for a shorter replay after a divergence\n"
		"  -v, --verbose      log every operation\n"
		"  -h, --help         this text\n"
		"Exit status: 0 no divergence, 1 divergence (seed, worker, operation\n"
		"index and a minimal replay command are printed), 2 setup error.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'n' },
		{ "time", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'j' },
		{ "procs", required_argument, NULL, 'p' },
		{ "pages", required_argument, NULL, 'P' },
		{ "only", required_argument, NULL, 'o' },
		{ "inject-at", required_argument, NULL, 'I' },
		{ "replay", required_argument, NULL, 'r' },
		{ "no-minimize", no_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct torture_opts o = {
		.seed = (uint64_t)time(NULL), .threads = 2, .procs = 1, .pages = 16, .only_worker = -1,
		.minimize = 1,
	};
	uint64_t *replay = NULL;
	size_t nreplay = 0;
	int c, ret;

	while ((c = getopt_long(argc, argv, "s:n:t:j:p:P:o:r:Mvh", opts, NULL)) != -1) {
		switch (c) {
		case 's': o.seed = strtoull(optarg, NULL, 0); break;
		case 'n': o.ops = strtoull(optarg, NULL, 0); break;
		case 't': o.seconds = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'j': o.threads = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'p': o.procs = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'P': o.pages = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'o': o.only_worker = atoi(optarg); break;
		case 'I': o.inject_at = strtoull(optarg, NULL, 0); break;
		case 'M': o.minimize = 0; break;
		case 'r': {
			char *p = optarg, *end;

			free(replay);
			replay = calloc(strlen(optarg) / 2 + 2, sizeof(*replay));
			nreplay = 0;
			if (!replay)
				return 2;
			if (!strcmp(optarg, "none"))
				break;
			for (;;) {
				replay[nreplay] = strtoull(p, &end, 0);
				if (end == p || (nreplay && replay[nreplay] <= replay[nreplay - 1])) {
					fprintf(stderr, "svmgpu-torture: bad --replay list\n");
					return 2;
				}
				nreplay++;
				if (*end != ',')
					break;
				p = end + 1;
			}
			if (*end) {
				fprintf(stderr, "svmgpu-torture: bad --replay list\n");
				return 2;
			}
			break;
		}
		case 'v': o.verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (replay) {
		if (o.only_worker < 0) {
			fprintf(stderr, "svmgpu-torture: --replay needs --only\n");
			return 2;
		}
		o.replay = replay;
		o.replay_len = nreplay;
		o.ops = 1;	/* unused with a replay list */
	}
	if (optind != argc || !o.threads || o.pages < 4) {
		usage(stderr);
		return 2;
	}
	if (!o.ops && !o.seconds)
		o.ops = 1000;
	printf("svmgpu-torture: seed %" PRIu64 ", %u thread(s) x %u process(es), %u pages each, %s\n",
	       o.seed, o.threads, o.only_worker >= 0 ? 1 : o.procs + 1, o.pages,
	       o.seconds ? "timed" : "counted");
	fflush(stdout);
	ret = torture_run(&o, stdout);
	if (ret < 0) {
		fprintf(stderr, "svmgpu-torture: %s\n", strerror(-ret));
		return 2;
	}
	printf("svmgpu-torture: %s (seed %" PRIu64 ")\n", ret ? "DIVERGED" : "passed", o.seed);
	return ret ? 1 : 0;
}
