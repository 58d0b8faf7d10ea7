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
		"  -b, --buffer SIZE[:PATTERN]  a buffer of SIZE bytes (K/M/G suffixes); its\n"
		"                               address goes into the argument block.  PATTERN:\n"
		"                               zero (default), seq8, seq32, seq64, f32seq,\n"
		"                               rand, value=N (u64 repeated), file=PATH\n"
		"  -a, --arg VALUE              a scalar (integer, or float with an 'f' suffix)\n"
		"  -g, --grid X[,Y[,Z]]         workgroups (default 1)\n"
		"  -w, --wg-size N              lanes per workgroup (default 1)\n"
		"  -n, --items N                grid = ceil(N / wg-size) in x\n"
		"  -B, --budget N               wave-instruction budget (0: device default)\n"
		"  -k, --kernel                 KERNEL names a ready kernel\n"
		"  -o, --output IDX:FILE        write buffer IDX (0-based) to FILE afterwards\n"
		"  -p, --print IDX[:TYPE[:N]]   print N (16) elements of buffer IDX as TYPE:\n"
		"                               u8, u32 (default), u64, i64, f32, hex64\n"
		"  -d, --device N               device index (default 0)\n"
		"  -h, --help                   this text\n"
		"Example: svmgpu-run -k vecadd -b 4K:f32seq -b 4K:f32seq -b 4K -a 1024 -n 1024 -w 256 -p 2:f32\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end && *end != ':')
		return -EINVAL;
	*out = v;
	return 0;
}

static int add_buffer(const char *spec)
{
	const char *pat = strchr(spec, ':');
	struct buffer *b;
	uint64_t size, i, seed = 1;

	if (nbufs == MAX_ARGS || nargs == MAX_ARGS || parse_size(spec, &size) || !size)
		return -EINVAL;
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
		uint64_t v = strtoull(pat + 6, NULL, 0);

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
		return -EINVAL;
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
	argv_words[nargs++] = strtoull(s, &end, 0);
	if (*s == '-')
		argv_words[nargs - 1] = (uint64_t)strtoll(s, &end, 0);
	return *end ? -EINVAL : 0;
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

static void print_buffer(const char *spec)
{
	char type[16] = "u32";
	unsigned int idx = 0;
	uint64_t count = 16, i, esize;
	const char *p = strchr(spec, ':');

	idx = (unsigned int)strtoul(spec, NULL, 0);
	if (p) {
		const char *q = strchr(p + 1, ':');

		snprintf(type, sizeof(type), "%.*s", (int)(q ? q - p - 1 : (long)strlen(p + 1)), p + 1);
		if (q)
			count = strtoull(q + 1, NULL, 0);
	}
	if (idx >= nbufs) {
		fprintf(stderr, "svmgpu-run: no buffer %u\n", idx);
		return;
	}
	esize = !strcmp(type, "u8") ? 1 : !strcmp(type, "u64") || !strcmp(type, "i64") ||
		!strcmp(type, "hex64") ? 8 : 4;
	printf("buffer %u (%s):", idx, type);
	for (i = 0; i < count && (i + 1) * esize <= bufs[idx].size; i++) {
		const uint8_t *e = bufs[idx].p + i * esize;

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
	printf("\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "buffer", required_argument, NULL, 'b' }, { "arg", required_argument, NULL, 'a' },
		{ "grid", required_argument, NULL, 'g' }, { "wg-size", required_argument, NULL, 'w' },
		{ "items", required_argument, NULL, 'n' }, { "budget", required_argument, NULL, 'B' },
		{ "kernel", no_argument, NULL, 'k' }, { "output", required_argument, NULL, 'o' },
		{ "print", required_argument, NULL, 'p' }, { "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct svmgpu_launch l = { { 1, 1, 1 }, 1, 0, { 0, 0 } };
	const char *outputs[MAX_ARGS], *prints[MAX_ARGS];
	unsigned int nout = 0, nprint = 0, devidx = 0, i;
	uint64_t items = 0;
	int c, ready = 0, ret;
	struct svmgpu_program *prog = NULL;
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
	struct svmgpu_cmd_error err;
	struct svmgpu_stats st;
	struct svmgpu_cmd cmd;
	struct timespec t0, t1;

	argv_words = aligned_alloc(64, MAX_ARGS * 8);
	if (!argv_words)
		return 1;
	memset(argv_words, 0, MAX_ARGS * 8);
	while ((c = getopt_long(argc, argv, "b:a:g:w:n:B:ko:p:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			ret = add_buffer(optarg);
			if (ret) {
				fprintf(stderr, "svmgpu-run: bad buffer '%s': %s\n", optarg, strerror(-ret));
				return 2;
			}
			break;
		case 'a':
			if (add_arg(optarg)) {
				fprintf(stderr, "svmgpu-run: bad argument '%s'\n", optarg);
				return 2;
			}
			break;
		case 'g':
			if (sscanf(optarg, "%u,%u,%u", &l.grid[0], &l.grid[1], &l.grid[2]) < 1) {
				usage(stderr);
				return 2;
			}
			break;
		case 'w': l.wg_size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'n': items = strtoull(optarg, NULL, 0); break;
		case 'B': l.budget = strtoull(optarg, NULL, 0); break;
		case 'k': ready = 1; break;
		case 'o': if (nout < MAX_ARGS) outputs[nout++] = optarg; break;
		case 'p': if (nprint < MAX_ARGS) prints[nprint++] = optarg; break;
		case 'd': devidx = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || !l.wg_size || l.wg_size > SVMGPU_ISA_MAX_WG_SIZE) {
		usage(stderr);
		return 2;
	}
	if (items)
		l.grid[0] = (uint32_t)((items + l.wg_size - 1) / l.wg_size);

	if (ready) {
		for (i = 0; i < SVMGPU_KERNEL_COUNT; i++)
			if (!strcmp(argv[optind], svmgpu_kernel_name(i)))
				break;
		if (i == SVMGPU_KERNEL_COUNT) {
			fprintf(stderr, "svmgpu-run: no ready kernel '%s' (svmgpu-as -k list)\n", argv[optind]);
			return 2;
		}
		ret = svmgpu_kernel_program(i, &prog);
	} else {
		size_t len, n = strlen(argv[optind]);
		char *src = read_file(argv[optind], &len);

		if (!src) {
			fprintf(stderr, "svmgpu-run: %s: %s\n", argv[optind], strerror(errno));
			return 1;
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
		return 1;
	}
	ret = svmgpu_device_open(devidx, &dev);
	if (!ret)
		ret = svmgpu_context_create(dev, &ctx);
	if (!ret)
		ret = svmgpu_queue_create(ctx, 0, &q);
	if (ret) {
		fprintf(stderr, "svmgpu-run: device %u: %s\n", devidx, strerror(-ret));
		return 1;
	}
	ret = svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), argv_words, &l, 0);
	if (ret) {
		fprintf(stderr, "svmgpu-run: bad launch shape\n");
		return 2;
	}
	svmgpu_context_get_stats(ctx, &st, SVMGPU_STATS_CLEAR);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = svmgpu_queue_run(q, &cmd, 1, SVMGPU_TIMEOUT_INFINITE, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	svmgpu_context_get_stats(ctx, &st, 0);
	printf("kernel: %zu instructions, grid %u x %u x %u, %u lanes per workgroup, %u args\n",
	       svmgpu_program_length(prog), l.grid[0], l.grid[1], l.grid[2], l.wg_size, nargs);
	printf("time: %.3f ms, device faults %" PRIu64 ", pages mapped %" PRIu64 "\n",
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e6,
	       st.faults, st.pages_mapped);
	if (ret) {
		printf("FAILED: %s: %s at 0x%" PRIx64 " (%s access, queue %u)\n", strerror(-ret),
		       svmgpu_error_name(err.code), err.va, svmgpu_access_name(err.access), err.queue);
	}
	for (i = 0; i < nprint; i++)
		print_buffer(prints[i]);
	for (i = 0; i < nout; i++) {
		unsigned int idx = (unsigned int)strtoul(outputs[i], NULL, 0);
		const char *path = strchr(outputs[i], ':');
		FILE *f;

		if (!path || idx >= nbufs) {
			fprintf(stderr, "svmgpu-run: bad --output '%s'\n", outputs[i]);
			ret = ret ? ret : -EINVAL;
			continue;
		}
		f = fopen(path + 1, "wb");
		if (!f || fwrite(bufs[idx].p, 1, bufs[idx].size, f) != bufs[idx].size || fclose(f)) {
			fprintf(stderr, "svmgpu-run: %s: %s\n", path + 1, strerror(errno));
			ret = ret ? ret : -EIO;
		}
	}
	svmgpu_queue_destroy(q);
	svmgpu_context_destroy(ctx);
	svmgpu_device_close(dev);
	svmgpu_program_destroy(prog);
	return ret ? 1 : 0;
}
