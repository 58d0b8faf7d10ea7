// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * svmgpu-sim: run a kernel on the host, without QEMU, on the svmgpu device
 * core itself (qemu-device/core, the interpreter QEMU runs), on buffers
 * described as for svmgpu-run.  The device sees this process's memory
 * through a page-mirroring fault handler (qemu-device/tests/core-env.h):
 * each page the kernel faults on is copied into the core's RAM and mapped
 * at the same address, and the bytes the kernel changed are copied back.
 * It prints the faults (page, access, count), the instruction count and
 * the result.  (GPL because it links the core.)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core-env.h"

#include "cli.h"
#include "runargs.h"
#include "svmgpu.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-sim [options] KERNEL\n"
		"Run a kernel on the svmgpu device core on this host, without QEMU or a\n"
		"device, on malloc'd buffers, and print its faults and instruction count.\n"
		"KERNEL is assembly source, a flat binary from svmgpu-as (*.bin), or with -k\n"
		"the name of a ready kernel. The argument block (SR_ARGS) holds one u64 per\n"
		"-b/-a, in command-line order, as for svmgpu-run.\n"
		RUNARGS_USAGE
		"  -m, --memory SIZE            the simulated device's RAM for page tables and\n"
		"                               mirrored pages (default 256M)\n"
		"  -q, --quiet                  no fault table\n"
		"      --json                   print the result (and --print buffers) as JSON\n"
		"  -h, --help                   this text\n"
		"      --version                print the version\n"
		"Numbers are decimal or 0x hex with an optional k/M/G/T unit. svmgpu-sim\n"
		"uses no device and has no --device option.\n"
		"Exit status: 0 the kernel ran to its end, 1 it failed (fault, error,\n"
		"budget) or KERNEL could not be loaded, 2 bad command line, 3 the simulated\n"
		"device could not be set up or its --memory ran out.\n"
		"Example: svmgpu-sim -k vecadd -b 4K:f32seq -b 4K:f32seq -b 4K -a 1024 -n 1024 -w 256 -p 2:f32\n");
}

/* --memory SIZE: 4M..64G */
static uint64_t parse_memory(const char *arg)
{
	uint64_t v;
	int ret = cli_parse_u64(arg, &v);

	if (ret == -ERANGE)
		cli_usage_error("--memory: '%s' is too large", arg);
	if (ret)
		cli_usage_error("--memory: '%s' is not a size (digits or 0x hex, with an optional "
				"k/M/G/T unit)", arg);
	if (v < (4ull << 20) || v > (64ull << 30))
		cli_usage_error("--memory: %s is out of range (4M..64G)", arg);
	return v;
}

static const char *access_str(uint8_t access)
{
	const char *s = svmgpu_access_name(access);

	return s ? s : "?";
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		RUNARGS_LONGOPTS,
		{ "memory", required_argument, NULL, 'm' }, { "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, CLI_OPT_JSON }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION }, { NULL, 0, NULL, 0 },
	};
	static CoreMirror mirror;	/* static: off the pages the kernel may touch */
	struct svmgpu_completion done;
	struct svmgpu_program *prog;
	uint64_t memory = 256ull << 20;
	struct runargs ra;
	struct svmgpu_cmd cmd;
	int c, json = 0, quiet = 0, ret;
	size_t i;

	cli_init(argv, "svmgpu-sim");
	if (runargs_init(&ra)) {
		fprintf(stderr, "svmgpu-sim: %s\n", strerror(ENOMEM));
		return CLI_EXIT_FAIL;
	}
	while ((c = getopt_long(argc, argv, RUNARGS_SHORTOPTS "m:qh", opts, NULL)) != -1) {
		if (runargs_option(&ra, c, optarg))
			continue;
		switch (c) {
		case 'm': memory = parse_memory(optarg); break;
		case 'q': quiet = 1; break;
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
	ret = runargs_load(&ra, "svmgpu-sim", argv[optind], &prog);
	if (ret)
		return ret;
	ret = svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), ra.words, &ra.launch, 0);
	if (ret)
		cli_usage_error("bad launch shape: grid %u x %u x %u, %u lanes per workgroup",
				ra.launch.grid[0], ra.launch.grid[1], ra.launch.grid[2],
				ra.launch.wg_size);

	core_mirror_init(&mirror, memory);
	ret = core_mirror_run(&mirror, &cmd, &done);
	if (ret) {
		if (ret == -ENOMEM)
			fprintf(stderr, "svmgpu-sim: the simulated device's memory ran out "
				"(--memory %" PRIu64 "M, %zu pages mirrored)\n", memory >> 20,
				mirror.npages);
		else
			fprintf(stderr, "svmgpu-sim: the simulated device could not run the kernel: %s\n",
				strerror(-ret));
		return CLI_EXIT_DEVICE;
	}

	if (json) {
		json_object *o = json_object_new_object(), *k = json_object_new_object();
		json_object *f = json_object_new_array(), *p = json_object_new_array();

		json_object_object_add(k, "instructions", cli_json_u64(svmgpu_program_length(prog)));
		json_object_object_add(k, "grid", json_object_new_array());
		for (i = 0; i < 3; i++)
			json_object_array_add(json_object_object_get(k, "grid"),
					      cli_json_u64(ra.launch.grid[i]));
		json_object_object_add(k, "wg_size", cli_json_u64(ra.launch.wg_size));
		json_object_object_add(k, "args", cli_json_u64(ra.nwords));
		json_object_object_add(o, "kernel", k);
		json_object_object_add(o, "wave_instructions", cli_json_u64(mirror.instructions));
		json_object_object_add(o, "fault_records", cli_json_u64(mirror.fault_records));
		json_object_object_add(o, "pages_mirrored", cli_json_u64(mirror.npages));
		json_object_object_add(o, "tlb_hits", cli_json_u64(mirror.tlb_hits));
		json_object_object_add(o, "tlb_misses", cli_json_u64(mirror.tlb_misses));
		for (i = 0; i < mirror.nfaults; i++) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "page", cli_json_hex(mirror.faults[i].page));
			json_object_object_add(e, "access",
					       json_object_new_string(access_str(mirror.faults[i].access)));
			json_object_object_add(e, "count", cli_json_u64(mirror.faults[i].count));
			json_object_object_add(e, "resolved",
					       json_object_new_boolean(mirror.faults[i].resolved));
			json_object_array_add(f, e);
		}
		json_object_object_add(o, "faults", f);
		json_object_object_add(o, "status", json_object_new_string(done.err_code ? "failed" :
									       "completed"));
		if (done.err_code) {
			json_object_object_add(o, "error",
					       json_object_new_string(svmgpu_error_name(done.err_code)));
			json_object_object_add(o, "error_va", cli_json_hex(done.err_va));
			json_object_object_add(o, "error_access", json_object_new_string(
				access_str(SVMGPU_ERROR_INFO_ACCESS(done.err_info))));
		}
		runargs_print(&ra, p);
		json_object_object_add(o, "buffers", p);
		cli_json_print(o);
	} else {
		printf("kernel: %zu instructions, grid %u x %u x %u, %u lanes per workgroup, %u args\n",
		       svmgpu_program_length(prog), ra.launch.grid[0], ra.launch.grid[1],
		       ra.launch.grid[2], ra.launch.wg_size, ra.nwords);
		printf("executed: %" PRIu64 " wave-instructions, %" PRIu64 " faults, %zu pages mirrored, "
		       "TLB %" PRIu64 " hits %" PRIu64 " misses\n", mirror.instructions,
		       mirror.fault_records, mirror.npages, mirror.tlb_hits, mirror.tlb_misses);
		if (!quiet && mirror.nfaults) {
			printf("faults (page, access, count):\n");
			for (i = 0; i < mirror.nfaults; i++)
				printf("  0x%016" PRIx64 "  %-6s  %u%s\n", mirror.faults[i].page,
				       access_str(mirror.faults[i].access), mirror.faults[i].count,
				       mirror.faults[i].resolved ? "" : "  cancelled: not accessible");
		}
		if (done.err_code)
			printf("FAILED: %s at 0x%" PRIx64 " (%s access)\n", svmgpu_error_name(done.err_code),
			       done.err_va, access_str(SVMGPU_ERROR_INFO_ACCESS(done.err_info)));
		else
			printf("completed\n");
		runargs_print(&ra, NULL);
	}
	ret = runargs_write_outputs(&ra, "svmgpu-sim");
	core_mirror_free(&mirror);
	svmgpu_program_destroy(prog);
	runargs_free(&ra);
	return done.err_code || ret ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
