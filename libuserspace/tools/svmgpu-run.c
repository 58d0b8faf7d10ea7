// SPDX-License-Identifier: MIT
/*
 * svmgpu-run: run a kernel on buffers described on the command line.
 *
 * The kernel's argument block is an array of 64-bit words in command-line
 * order: the address of each --buffer and the value of each --arg.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "kref.h"
#include "svmgpu.h"

#define MAX_ARGS	32

struct buffer {
	uint8_t *p;
	uint64_t size;
};

static struct buffer bufs[MAX_ARGS];
static unsigned int nbufs;
static uint64_t *argv_words;
static unsigned int nargs;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-run [options] KERNEL\n"
		"Run a kernel on malloc'd buffers. KERNEL is assembly source, a flat binary\n"
		"from svmgpu-as (*.bin), or with -k the name of a ready kernel.\n"
		"The argument block (SR_ARGS) holds one u64 per -b/-a, in command-line order.\n"
		"  -b, --buffer SIZE[:PATTERN]  a buffer of SIZE bytes (k/M/G units); its\n"
		"                               address goes into the argument block.  PATTERN:\n"
		"                               zero (default), seq8, seq32, seq64, f32seq,\n"
		"                               rand, value=N (u64 repeated), file=PATH\n"
		"  -a, --arg VALUE              a scalar: a number, a negative integer, or a\n"
		"                               float with an 'f' suffix (1.5f)\n"
		"  -g, --grid X[,Y[,Z]]         workgroups (default 1)\n"
		"  -w, --wg-size N              lanes per workgroup (default 1)\n"
		"  -n, --items N                grid = ceil(N / wg-size) in x\n"
		"  -B, --budget N               wave-instruction budget (0: device default)\n"
		"  -k, --kernel                 KERNEL names a ready kernel\n"
		"  -o, --output IDX:FILE        write buffer IDX (0-based) to FILE afterwards\n"
		"  -p, --print IDX[:TYPE[:N]]   print N (16) elements of buffer IDX as TYPE:\n"
		"                               u8, u32 (default), u64, i64, f32, hex64\n"
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

static int add_buffer(const char *spec)
{
	const char *pat = strchr(spec, ':');
	struct buffer *b;
	uint64_t size, i, seed = 1;
	char num[32];
	size_t len = pat ? (size_t)(pat - spec) : strlen(spec);

	if (nbufs == MAX_ARGS || nargs == MAX_ARGS)
		cli_usage_error("--buffer: at most %d buffers and arguments", MAX_ARGS);
	snprintf(num, sizeof(num), "%.*s", (int)(len < 31 ? len : 31), spec);
	if (len > 31 || cli_parse_u64(num, &size))
		cli_usage_error("--buffer: '%.*s' is not a size (digits or 0x hex, with an optional "
				"k/M/G/T unit)", (int)len, spec);
	if (!size || size > (64ull << 30))
		cli_usage_error("--buffer: %s is out of range (1..64G)", num);
	b = &bufs[nbufs];
	b->size = size;
	b->p = aligned_alloc(64, (size + 63) & ~63ull);
	if (!b->p)
		return -ENOMEM;
	memset(b->p, 0, size);
	pat = pat ? pat + 1 : "zero";
	if (!strcmp(pat, "zero")) {
	} else if (!strcmp(pat, "seq8")) {
		for (i = 0; i < size; i++)
			b->p[i] = (uint8_t)i;
	} else if (!strcmp(pat, "seq32")) {
		for (i = 0; i + 4 <= size; i += 4)
			*(uint32_t *)(b->p + i) = (uint32_t)(i / 4);
	} else if (!strcmp(pat, "seq64")) {
		for (i = 0; i + 8 <= size; i += 8)
			*(uint64_t *)(b->p + i) = i / 8;
	} else if (!strcmp(pat, "f32seq")) {
		for (i = 0; i + 4 <= size; i += 4)
			*(float *)(b->p + i) = (float)(i / 4);
	} else if (!strcmp(pat, "rand")) {
		for (i = 0; i + 8 <= size; i += 8)
			*(uint64_t *)(b->p + i) = kref_rand(&seed);
	} else if (!strncmp(pat, "value=", 6)) {
		uint64_t v;

		if (cli_parse_u64(pat + 6, &v))
			cli_usage_error("--buffer: value=%s is not a number", pat + 6);

		for (i = 0; i < size; i++)
			b->p[i] = (uint8_t)(v >> (8 * (i % 8)));
	} else if (!strncmp(pat, "file=", 5)) {
		FILE *f = fopen(pat + 5, "rb");

		if (!f)
			return -errno;
		if (fread(b->p, 1, size, f) == 0 && ferror(f)) {
			fclose(f);
			return -EIO;
		}
		fclose(f);
	} else {
		cli_usage_error("--buffer: unknown pattern '%s'", pat);
	}
	argv_words[nargs++] = (uint64_t)(uintptr_t)b->p;
	nbufs++;
	return 0;
}

static int add_arg(const char *s)
{
	size_t n = strlen(s);
	char *end;

	if (nargs == MAX_ARGS || !n)
		return -EINVAL;
	if (strncmp(s, "0x", 2) && (s[n - 1] == 'f' || s[n - 1] == 'F')) {
		float f = strtof(s, &end);
		uint32_t bits;

		if (end != s + n - 1)
			return -EINVAL;
		memcpy(&bits, &f, 4);
		argv_words[nargs++] = bits;
		return 0;
	}
	if (*s == '-') {
		long long v;

		errno = 0;
		v = strtoll(s, &end, 0);
		if (*end || end == s + 1 || errno)
			return -EINVAL;
		argv_words[nargs++] = (uint64_t)v;
		return 0;
	}
	/* a number like any other: decimal or 0x hex, k/M/G/T units */
	return cli_parse_u64(s, &argv_words[nargs]) ? -EINVAL : (nargs++, 0);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
out:
	fclose(f);
	return buf;
}

struct print_spec {
	unsigned int idx;
	char type[8];
	uint64_t count;
};

static const char *const print_types[] = { "u8", "u32", "u64", "i64", "f32", "hex64" };

/* IDX[:TYPE[:N]], or a usage error. */
static void parse_print(const char *spec, struct print_spec *ps)
{
	char buf[64], *type, *count;
	uint64_t v;
	unsigned int i;

	if (strlen(spec) >= sizeof(buf))
		cli_usage_error("--print: '%s' is too long", spec);
	snprintf(buf, sizeof(buf), "%s", spec);
	type = strchr(buf, ':');
	if (type)
		*type++ = '\0';
	count = type ? strchr(type, ':') : NULL;
	if (count)
		*count++ = '\0';
	if (cli_parse_u64(buf, &v) || v >= MAX_ARGS)
		cli_usage_error("--print: '%s' is not a buffer index (0..%d)", buf, MAX_ARGS - 1);
	ps->idx = (unsigned int)v;
	snprintf(ps->type, sizeof(ps->type), "%s", type ? type : "u32");
	for (i = 0; i < sizeof(print_types) / sizeof(print_types[0]); i++)
		if (!strcmp(ps->type, print_types[i]))
			break;
	if (i == sizeof(print_types) / sizeof(print_types[0]) || (type && strlen(type) >= 8))
		cli_usage_error("--print: unknown type '%s' (u8, u32, u64, i64, f32, hex64)", type);
	ps->count = count ? cli_opt_u64("--print", count, 1, 1u << 20) : 16;
}

static void print_buffer(const struct print_spec *ps, struct json_object *jarr)
{
	struct json_object *jv = NULL;
	const char *type = ps->type;
	uint64_t i, esize;
	unsigned int idx = ps->idx;

	esize = !strcmp(type, "u8") ? 1 : !strcmp(type, "u64") || !strcmp(type, "i64") ||
		!strcmp(type, "hex64") ? 8 : 4;
	if (jarr) {
		struct json_object *o = json_object_new_object();

		jv = json_object_new_array();
		json_object_object_add(o, "index", json_object_new_int((int)idx));
		json_object_object_add(o, "type", json_object_new_string(type));
		json_object_object_add(o, "values", jv);
		json_object_array_add(jarr, o);
	} else {
		printf("buffer %u (%s):", idx, type);
	}
	for (i = 0; i < ps->count && (i + 1) * esize <= bufs[idx].size; i++) {
		const uint8_t *e = bufs[idx].p + i * esize;

		if (jv) {
			struct json_object *x;

			if (!strcmp(type, "u8"))
				x = json_object_new_int(*e);
			else if (!strcmp(type, "u64"))
				x = cli_json_u64(*(const uint64_t *)e);
			else if (!strcmp(type, "i64"))
				x = json_object_new_int64(*(const int64_t *)e);
			else if (!strcmp(type, "hex64"))
				x = cli_json_hex(*(const uint64_t *)e);
			else if (!strcmp(type, "f32"))
				x = json_object_new_double((double)*(const float *)e);
			else
				x = json_object_new_int64(*(const uint32_t *)e);
			json_object_array_add(jv, x);
			continue;
		}
		if (i % 8 == 0)
			printf("\n  [%4" PRIu64 "]", i);
		if (!strcmp(type, "u8"))
			printf(" %u", *e);
		else if (!strcmp(type, "u64"))
			printf(" %" PRIu64, *(const uint64_t *)e);
		else if (!strcmp(type, "i64"))
			printf(" %" PRId64, *(const int64_t *)e);
		else if (!strcmp(type, "hex64"))
			printf(" 0x%016" PRIx64, *(const uint64_t *)e);
		else if (!strcmp(type, "f32"))
			printf(" %g", (double)*(const float *)e);
		else
			printf(" %u", *(const uint32_t *)e);
	}
	if (!jv)
		printf("\n");
}

/* X[,Y[,Z]], each 1..2^32-1. */
static void parse_grid(const char *spec, uint32_t grid[3])
{
	char buf[96], *p, *save = NULL;
	unsigned int i = 0;

	if (strlen(spec) >= sizeof(buf))
		cli_usage_error("--grid: '%s' is too long", spec);
	snprintf(buf, sizeof(buf), "%s", spec);
	grid[0] = grid[1] = grid[2] = 1;
	if (!buf[0] || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,"))
		cli_usage_error("--grid: '%s' is not X[,Y[,Z]]", spec);
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (i == 3)
			cli_usage_error("--grid: '%s' is not X[,Y[,Z]]", spec);
		grid[i++] = (uint32_t)cli_opt_u64("--grid", p, 1, UINT32_MAX);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "buffer", required_argument, NULL, 'b' }, { "arg", required_argument, NULL, 'a' },
		{ "grid", required_argument, NULL, 'g' }, { "wg-size", required_argument, NULL, 'w' },
		{ "items", required_argument, NULL, 'n' }, { "budget", required_argument, NULL, 'B' },
		{ "kernel", no_argument, NULL, 'k' }, { "output", required_argument, NULL, 'o' },
		{ "print", required_argument, NULL, 'p' }, { "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, CLI_OPT_JSON }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION }, { NULL, 0, NULL, 0 },
	};
	struct svmgpu_launch l = { { 1, 1, 1 }, 1, 0, { 0, 0 } };
	struct print_spec prints[MAX_ARGS];
	const char *outputs[MAX_ARGS];
	unsigned int nout = 0, nprint = 0, outidx[MAX_ARGS], i;
	uint64_t items = 0, v;
	int c, ready = 0, ret, json = 0;
	struct cli_device sel = { 0 };
	struct svmgpu_program *prog = NULL;
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
	struct svmgpu_cmd_error err;
	struct svmgpu_stats st;
	struct svmgpu_cmd cmd;
	struct timespec t0, t1;
	uint64_t ns;

	cli_init(argv, "svmgpu-run");
	argv_words = aligned_alloc(64, MAX_ARGS * 8);
	if (!argv_words)
		return CLI_EXIT_DEVICE;
	memset(argv_words, 0, MAX_ARGS * 8);
	while ((c = getopt_long(argc, argv, "b:a:g:w:n:B:ko:p:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			ret = add_buffer(optarg);
			if (ret) {
				fprintf(stderr, "svmgpu-run: buffer '%s': %s\n", optarg, strerror(-ret));
				return ret == -ENOMEM ? CLI_EXIT_DEVICE : CLI_EXIT_USAGE;
			}
			break;
		case 'a':
			if (add_arg(optarg))
				cli_usage_error("--arg: '%s' is not an integer or a float with an 'f' "
						"suffix (at most %d buffers and arguments)", optarg,
						MAX_ARGS);
			break;
		case 'g': parse_grid(optarg, l.grid); break;
		case 'w': l.wg_size = cli_opt_uint("--wg-size", optarg, 1, SVMGPU_ISA_MAX_WG_SIZE); break;
		case 'n': items = cli_opt_u64("--items", optarg, 1, UINT32_MAX); break;
		case 'B': l.budget = cli_opt_u64("--budget", optarg, 0, UINT64_MAX); break;
		case 'k': ready = 1; break;
		case 'o': {
			const char *path = strchr(optarg, ':');
			char num[16];

			if (nout == MAX_ARGS)
				cli_usage_error("--output: at most %d", MAX_ARGS);
			snprintf(num, sizeof(num), "%.*s", path ? (int)(path - optarg) : 0, optarg);
			if (!path || !path[1] || path - optarg >= (long)sizeof(num) ||
			    cli_parse_u64(num, &v) || v >= MAX_ARGS)
				cli_usage_error("--output: '%s' is not IDX:FILE", optarg);
			outidx[nout] = (unsigned int)v;
			outputs[nout++] = path + 1;
			break;
		}
		case 'p':
			if (nprint == MAX_ARGS)
				cli_usage_error("--print: at most %d", MAX_ARGS);
			parse_print(optarg, &prints[nprint++]);
			break;
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
	for (i = 0; i < nprint; i++)
		if (prints[i].idx >= nbufs)
			cli_usage_error("--print: no buffer %u (%u given)", prints[i].idx, nbufs);
	for (i = 0; i < nout; i++)
		if (outidx[i] >= nbufs)
			cli_usage_error("--output: no buffer %u (%u given)", outidx[i], nbufs);
	if (items)
		l.grid[0] = (uint32_t)((items + l.wg_size - 1) / l.wg_size);

	if (ready) {
		for (i = 0; i < SVMGPU_KERNEL_COUNT; i++)
			if (!strcmp(argv[optind], svmgpu_kernel_name(i)))
				break;
		if (i == SVMGPU_KERNEL_COUNT)
			cli_usage_error("no ready kernel '%s' (svmgpu-as -k list)", argv[optind]);
		ret = svmgpu_kernel_program(i, &prog);
	} else {
		size_t len, n = strlen(argv[optind]);
		char *src = read_file(argv[optind], &len);

		if (!src) {
			fprintf(stderr, "svmgpu-run: %s: %s\n", argv[optind], strerror(errno));
			return CLI_EXIT_FAIL;
		}
		if (n > 4 && !strcmp(argv[optind] + n - 4, ".bin")) {
			ret = len % 8 || !len ? -EINVAL : svmgpu_program_create((uint64_t *)src, len / 8, &prog);
		} else {
			struct svmgpu_asm_error aerr;

			ret = svmgpu_program_assemble(src, &prog, &aerr);
			if (ret == -EINVAL)
				fprintf(stderr, "%s: %s\n", argv[optind], aerr.message);
		}
		free(src);
	}
	if (ret) {
		fprintf(stderr, "svmgpu-run: cannot load the kernel: %s\n", strerror(-ret));
		return CLI_EXIT_FAIL;
	}
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
	ret = svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), argv_words, &l, 0);
	if (ret)
		cli_usage_error("bad launch shape (grid %u x %u x %u, %u lanes per workgroup)",
				l.grid[0], l.grid[1], l.grid[2], l.wg_size);
	svmgpu_context_get_stats(ctx, &st, SVMGPU_STATS_CLEAR);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = svmgpu_queue_run(q, &cmd, 1, SVMGPU_TIMEOUT_INFINITE, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	svmgpu_context_get_stats(ctx, &st, 0);
	ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)t1.tv_nsec -
	     (uint64_t)t0.tv_nsec;
	if (json) {
		struct json_object *j = json_object_new_object(), *g = json_object_new_array();
		struct json_object *bufs_j = json_object_new_array();

		json_object_object_add(j, "instructions", cli_json_u64(svmgpu_program_length(prog)));
		for (i = 0; i < 3; i++)
			json_object_array_add(g, json_object_new_int64(l.grid[i]));
		json_object_object_add(j, "grid", g);
		json_object_object_add(j, "wg_size", json_object_new_int64(l.wg_size));
		json_object_object_add(j, "args", json_object_new_int((int)nargs));
		json_object_object_add(j, "time_ns", cli_json_u64(ns));
		json_object_object_add(j, "faults", cli_json_u64(st.faults));
		json_object_object_add(j, "pages_mapped", cli_json_u64(st.pages_mapped));
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
		for (i = 0; i < nprint; i++)
			print_buffer(&prints[i], bufs_j);
		json_object_object_add(j, "buffers", bufs_j);
		if (cli_json_print(j))
			ret = ret ? ret : -EIO;
	} else {
		printf("kernel: %zu instructions, grid %u x %u x %u, %u lanes per workgroup, %u args\n",
		       svmgpu_program_length(prog), l.grid[0], l.grid[1], l.grid[2], l.wg_size, nargs);
		printf("time: %.3f ms, device faults %" PRIu64 ", pages mapped %" PRIu64 "\n",
		       (double)ns / 1e6, st.faults, st.pages_mapped);
		if (ret) {
			printf("FAILED: %s: %s at 0x%" PRIx64 " (%s access, queue %u)\n", strerror(-ret),
			       svmgpu_error_name(err.code), err.va, svmgpu_access_name(err.access),
			       err.queue);
		}
		for (i = 0; i < nprint; i++)
			print_buffer(&prints[i], NULL);
	}
	for (i = 0; i < nout; i++) {
		unsigned int idx = outidx[i];
		FILE *f = fopen(outputs[i], "wb");

		if (!f || fwrite(bufs[idx].p, 1, bufs[idx].size, f) != bufs[idx].size || fclose(f)) {
			fprintf(stderr, "svmgpu-run: %s: %s\n", outputs[i], strerror(errno));
			ret = ret ? ret : -EIO;
		}
	}
	svmgpu_queue_destroy(q);
	svmgpu_context_destroy(ctx);
	svmgpu_device_close(dev);
	svmgpu_program_destroy(prog);
	return ret ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
