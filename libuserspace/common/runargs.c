// SPDX-License-Identifier: MIT
/*
 * runargs: the kernel-launch command line of svmgpu-run and svmgpu-sim
 * (runargs.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kref.h"
#include "runargs.h"

static const char *const print_types[] = { "u8", "u32", "u64", "i64", "f32", "hex64" };

int runargs_init(struct runargs *ra)
{
	memset(ra, 0, sizeof(*ra));
	ra->words = aligned_alloc(64, RUNARGS_MAX * 8);
	if (!ra->words)
		return -ENOMEM;
	memset(ra->words, 0, RUNARGS_MAX * 8);
	ra->launch.grid[0] = ra->launch.grid[1] = ra->launch.grid[2] = 1;
	ra->launch.wg_size = 1;
	return 0;
}

void runargs_free(struct runargs *ra)
{
	unsigned int i;

	for (i = 0; i < ra->nbufs; i++)
		free(ra->bufs[i].p);
	free(ra->words);
	ra->words = NULL;
	ra->nbufs = 0;
}

static void fill(uint8_t *p, uint64_t size, const char *pat)
{
	uint64_t i, seed = 1;

	if (!strcmp(pat, "zero")) {
	} else if (!strcmp(pat, "seq8")) {
		for (i = 0; i < size; i++)
			p[i] = (uint8_t)i;
	} else if (!strcmp(pat, "seq32")) {
		for (i = 0; i + 4 <= size; i += 4)
			*(uint32_t *)(p + i) = (uint32_t)(i / 4);
	} else if (!strcmp(pat, "seq64")) {
		for (i = 0; i + 8 <= size; i += 8)
			*(uint64_t *)(p + i) = i / 8;
	} else if (!strcmp(pat, "f32seq")) {
		for (i = 0; i + 4 <= size; i += 4)
			*(float *)(p + i) = (float)(i / 4);
	} else if (!strcmp(pat, "rand")) {
		for (i = 0; i + 8 <= size; i += 8)
			*(uint64_t *)(p + i) = kref_rand(&seed);
	} else if (!strncmp(pat, "value=", 6)) {
		uint64_t v;

		if (cli_parse_u64(pat + 6, &v))
			cli_usage_error("--buffer: value=%s is not a number", pat + 6);
		for (i = 0; i < size; i++)
			p[i] = (uint8_t)(v >> (8 * (i % 8)));
	} else if (!strncmp(pat, "file=", 5)) {
		FILE *f = fopen(pat + 5, "rb");

		/* shorter than the buffer: the rest stays 0 */
		if (!f || (fread(p, 1, size, f) < size && ferror(f))) {
			fprintf(stderr, "%s: --buffer: %s: %s\n", cli_tool(), pat + 5,
				strerror(f ? EIO : errno));
			exit(CLI_EXIT_FAIL);
		}
		fclose(f);
	} else {
		cli_usage_error("--buffer: unknown pattern '%s'", pat);
	}
}

static void add_buffer(struct runargs *ra, const char *spec)
{
	const char *pat = strchr(spec, ':');
	size_t len = pat ? (size_t)(pat - spec) : strlen(spec);
	uint64_t size;
	char num[32];
	uint8_t *p;

	if (ra->nwords == RUNARGS_MAX)
		cli_usage_error("--buffer: at most %d buffers and arguments", RUNARGS_MAX);
	snprintf(num, sizeof(num), "%.*s", (int)(len < 31 ? len : 31), spec);
	if (len > 31 || cli_parse_u64(num, &size))
		cli_usage_error("--buffer: '%.*s' is not a size (digits or 0x hex, with an optional "
				"k/M/G/T unit)", (int)len, spec);
	if (!size || size > (64ull << 30))
		cli_usage_error("--buffer: %s is out of range (1..64G)", num);
	p = aligned_alloc(64, (size + 63) & ~63ull);
	if (!p) {
		fprintf(stderr, "%s: --buffer %s: %s\n", cli_tool(), spec, strerror(ENOMEM));
		exit(CLI_EXIT_FAIL);
	}
	memset(p, 0, size);
	fill(p, size, pat ? pat + 1 : "zero");
	ra->bufs[ra->nbufs].p = p;
	ra->bufs[ra->nbufs++].size = size;
	ra->words[ra->nwords++] = (uint64_t)(uintptr_t)p;
}

/* An integer (decimal, 0x hex, negative) or a float with an 'f' suffix. */
static void add_arg(struct runargs *ra, const char *s)
{
	size_t n = strlen(s);
	char *end = NULL;
	uint64_t v;
	const char *digits = s + (*s == '-');
	bool hex = !strncasecmp(digits, "0x", 2);

	if (ra->nwords == RUNARGS_MAX)
		cli_usage_error("--arg: at most %d buffers and arguments", RUNARGS_MAX);
	/* 0x1f and 0X1F are integers, not hex floats with an f suffix. */
	if (n && !hex && (s[n - 1] == 'f' || s[n - 1] == 'F')) {
		float f = strtof(s, &end);
		uint32_t bits;

		if (end == s || end != s + n - 1)
			goto bad;
		memcpy(&bits, &f, 4);
		v = bits;
	} else if (*s == '-') {
		if (cli_parse_u64(s + 1, &v) || v > (uint64_t)INT64_MAX + 1)
			goto bad;
		v = 0 - v;
	} else if (cli_parse_u64(s, &v)) {
		goto bad;
	}
	ra->words[ra->nwords++] = v;
	return;
bad:
	cli_usage_error("--arg: '%s' is not an integer or a float with an 'f' suffix", s);
}

static void parse_print(struct runargs *ra, const char *spec)
{
	char buf[64], *type, *count;
	unsigned int i, k = ra->nprints;
	uint64_t v;

	if (k == RUNARGS_MAX)
		cli_usage_error("--print: at most %d", RUNARGS_MAX);
	if (strlen(spec) >= sizeof(buf))
		cli_usage_error("--print: '%s' is too long", spec);
	snprintf(buf, sizeof(buf), "%s", spec);
	type = strchr(buf, ':');
	if (type)
		*type++ = '\0';
	count = type ? strchr(type, ':') : NULL;
	if (count)
		*count++ = '\0';
	if (cli_parse_u64(buf, &v) || v >= RUNARGS_MAX)
		cli_usage_error("--print: '%s' is not a buffer index (0..%d)", buf, RUNARGS_MAX - 1);
	ra->prints[k].idx = (unsigned int)v;
	for (i = 0; i < sizeof(print_types) / sizeof(print_types[0]); i++)
		if (!strcmp(type ? type : "u32", print_types[i]))
			break;
	if (i == sizeof(print_types) / sizeof(print_types[0]))
		cli_usage_error("--print: unknown type '%s' (u8, u32, u64, i64, f32, hex64)", type);
	snprintf(ra->prints[k].type, sizeof(ra->prints[k].type), "%s", print_types[i]);
	ra->prints[k].count = count ? cli_opt_u64("--print", count, 1, 1u << 20) : 16;
	ra->nprints++;
}

static void parse_grid(const char *spec, uint32_t grid[3])
{
	char buf[96], *p, *save = NULL;
	unsigned int i = 0;

	if (strlen(spec) >= sizeof(buf))
		cli_usage_error("--grid: '%s' is too long", spec);
	snprintf(buf, sizeof(buf), "%s", spec);
	grid[0] = grid[1] = grid[2] = 1;
	if (!buf[0] || buf[strlen(buf) - 1] == ',' || buf[0] == ',' || strstr(buf, ",,"))
		cli_usage_error("--grid: '%s' is not X[,Y[,Z]]", spec);
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (i == 3)
			cli_usage_error("--grid: '%s' is not X[,Y[,Z]]", spec);
		grid[i++] = (uint32_t)cli_opt_u64("--grid", p, 1, UINT32_MAX);
	}
}

bool runargs_option(struct runargs *ra, int c, const char *arg)
{
	switch (c) {
	case 'b': add_buffer(ra, arg); break;
	case 'a': add_arg(ra, arg); break;
	case 'g': parse_grid(arg, ra->launch.grid); break;
	case 'w': ra->launch.wg_size = cli_opt_uint("--wg-size", arg, 1, SVMGPU_ISA_MAX_WG_SIZE); break;
	case 'n': ra->items = cli_opt_u64("--items", arg, 1, UINT32_MAX); break;
	case 'B': ra->launch.budget = cli_opt_u64("--budget", arg, 0, UINT64_MAX); break;
	case 'k': ra->ready = true; break;
	case 'o': {
		const char *colon = strchr(arg, ':');
		char num[16];
		uint64_t v;

		if (ra->nout == RUNARGS_MAX)
			cli_usage_error("--output: at most %d", RUNARGS_MAX);
		if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof(num) || !colon[1])
			cli_usage_error("--output: '%s' is not IDX:FILE", arg);
		snprintf(num, sizeof(num), "%.*s", (int)(colon - arg), arg);
		if (cli_parse_u64(num, &v) || v >= RUNARGS_MAX)
			cli_usage_error("--output: '%s' is not IDX:FILE", arg);
		ra->outputs[ra->nout].idx = (unsigned int)v;
		ra->outputs[ra->nout++].path = colon + 1;
		break;
	}
	case 'p': parse_print(ra, arg); break;
	default: return false;
	}
	return true;
}

void runargs_finish(struct runargs *ra)
{
	unsigned int i;

	if (ra->items)
		ra->launch.grid[0] = (uint32_t)((ra->items + ra->launch.wg_size - 1) /
						ra->launch.wg_size);
	for (i = 0; i < ra->nprints; i++)
		if (ra->prints[i].idx >= ra->nbufs)
			cli_usage_error("--print: no buffer %u (%u given)", ra->prints[i].idx, ra->nbufs);
	for (i = 0; i < ra->nout; i++)
		if (ra->outputs[i].idx >= ra->nbufs)
			cli_usage_error("--output: no buffer %u (%u given)", ra->outputs[i].idx, ra->nbufs);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	char *buf, *b;

	if (!f)
		return NULL;
	buf = malloc(cap + 1);
	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		cap *= 2;
		b = realloc(buf, cap + 1);
		if (!b)
			free(buf);
		buf = b;
	}
	if (buf && ferror(f)) {
		free(buf);
		buf = NULL;
		errno = EIO;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* Print every assembler error as KERNEL:LINE:COLUMN: message. */
static void report(const char *path, const char *src)
{
	struct svmgpu_asm_error *d;
	struct svmgpu_program *prog;
	size_t count = 0, i;

	svmgpu_program_assemble_diag(src, &prog, NULL, 0, &count);
	d = calloc(count ? count : 1, sizeof(*d));
	if (!d || svmgpu_program_assemble_diag(src, &prog, d, count, &count) != -EINVAL) {
		fprintf(stderr, "%s: %s\n", cli_tool(), strerror(ENOMEM));
		free(d);
		return;
	}
	for (i = 0; i < count; i++) {
		const char *msg = strstr(d[i].message, ": ");

		if (d[i].line && msg)
			fprintf(stderr, "%s:%u:%u: %s\n", path, d[i].line, d[i].column, msg + 2);
		else
			fprintf(stderr, "%s: %s\n", path, d[i].message);
	}
	free(d);
}

int runargs_load(struct runargs *ra, const char *tool, const char *kernel,
		 struct svmgpu_program **prog)
{
	size_t len, n = strlen(kernel);
	unsigned int i;
	char *src;
	int ret;

	if (ra->ready) {
		for (i = 0; i < SVMGPU_KERNEL_COUNT; i++)
			if (!strcmp(kernel, svmgpu_kernel_name(i)))
				break;
		if (i == SVMGPU_KERNEL_COUNT)
			cli_usage_error("no ready kernel '%s' (svmgpu-as -k list)", kernel);
		ret = svmgpu_kernel_program(i, prog);
		if (ret) {
			fprintf(stderr, "%s: %s: %s\n", tool, kernel, strerror(-ret));
			return CLI_EXIT_FAIL;
		}
		return CLI_EXIT_OK;
	}
	src = read_file(kernel, &len);
	if (!src) {
		fprintf(stderr, "%s: %s: %s\n", tool, kernel, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (n > 4 && !strcmp(kernel + n - 4, ".bin")) {
		ret = len % 8 || !len ? -EINVAL :
		      svmgpu_program_create((const uint64_t *)(const void *)src, len / 8, prog);
		if (ret == -EINVAL)
			fprintf(stderr, "%s: %s: size %zu is not a non-zero multiple of 8\n", tool,
				kernel, len);
	} else if (strlen(src) != len) {
		fprintf(stderr, "%s: %s: contains a NUL byte\n", tool, kernel);
		ret = -EINVAL;
	} else {
		ret = svmgpu_program_assemble_diag(src, prog, NULL, 0, NULL);
		if (ret == -EINVAL)
			report(kernel, src);
	}
	free(src);
	if (ret && ret != -EINVAL)
		fprintf(stderr, "%s: %s: %s\n", tool, kernel, strerror(-ret));
	return ret ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

void runargs_print(const struct runargs *ra, struct json_object *jarr)
{
	unsigned int k;

	for (k = 0; k < ra->nprints; k++) {
		const char *type = ra->prints[k].type;
		unsigned int idx = ra->prints[k].idx;
		struct json_object *jv = NULL;
		uint64_t i, esize;

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
		for (i = 0; i < ra->prints[k].count && (i + 1) * esize <= ra->bufs[idx].size; i++) {
			const uint8_t *e = ra->bufs[idx].p + i * esize;

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
}

int runargs_write_outputs(const struct runargs *ra, const char *tool)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < ra->nout; i++) {
		unsigned int idx = ra->outputs[i].idx;
		FILE *f = fopen(ra->outputs[i].path, "wb");
		int err = f ? 0 : errno;

		if (f && fwrite(ra->bufs[idx].p, 1, ra->bufs[idx].size, f) != ra->bufs[idx].size)
			err = errno ? errno : EIO;
		/* closed whatever the write did */
		if (f && fclose(f) && !err)
			err = errno;
		if (err) {
			fprintf(stderr, "%s: %s: %s\n", tool, ra->outputs[i].path, strerror(err));
			ret = ret ? ret : -EIO;
		}
	}
	return ret;
}
