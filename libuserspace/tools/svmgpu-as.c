// SPDX-License-Identifier: MIT
/*
 * svmgpu-as: assemble svmgpu kernel source into a flat binary of 64-bit
 * little-endian instructions, or disassemble one into source that
 * assembles back to the same binary.  Every error of a source is printed
 * as FILE:LINE:COLUMN: message.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "svmgpu.h"

static int json;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-as [-o OUT] [-l] [--json] SOURCE|-\n"
		"       svmgpu-as -d BINARY|- [--json]\n"
		"       svmgpu-as -k KERNEL|list\n"
		"Assemble svmgpu ISA source (docs/isa.md) into a flat binary of\n"
		"little-endian 64-bit instructions, or disassemble one.\n"
		"  -o, --output FILE        write the binary to FILE (default: SOURCE.bin;\n"
		"                           - for standard output)\n"
		"  -l, --listing            print offset, encoding and disassembly of each word\n"
		"  -d, --disassemble FILE   disassemble a flat binary to source that\n"
		"                           assembles back to the same words\n"
		"  -k, --kernel NAME        print the source of a ready kernel (list: names)\n"
		"      --json               print the result (words or errors) as JSON\n"
		"  -h, --help               this text\n"
		"      --version            print the version\n"
		"svmgpu-as uses no device. Errors are printed as FILE:LINE:COLUMN: message,\n"
		"all of them. Exit status: 0 done, 1 errors in the source or an I/O error,\n"
		"2 bad command line.\n");
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 4096, n = 0;
	char *buf, *b;

	if (!f)
		return NULL;
	buf = malloc(cap + 1);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);

		n += r;
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
	if (f != stdin)
		fclose(f);
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

/* A JSON array of {offset, encoding, text} for @prog. */
static json_object *json_words(const struct svmgpu_program *prog)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < svmgpu_program_length(prog); i++) {
		json_object *w = json_object_new_object();
		uint64_t insn = svmgpu_program_code(prog)[i];
		char text[160];

		svmgpu_insn_disassemble(insn, text, sizeof(text));
		json_object_object_add(w, "offset", cli_json_u64(i * 8));
		json_object_object_add(w, "encoding", cli_json_hex(insn));
		json_object_object_add(w, "text", json_object_new_string(text));
		json_object_array_add(arr, w);
	}
	return arr;
}

static int disassemble(const char *path)
{
	struct svmgpu_program *prog;
	size_t len;
	char *buf = read_all(path, &len), *text;
	int ret;

	if (!buf) {
		fprintf(stderr, "svmgpu-as: %s: %s\n", path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (len % 8 || !len) {
		fprintf(stderr, "svmgpu-as: %s: size %zu is not a non-zero multiple of 8\n", path, len);
		free(buf);
		return CLI_EXIT_FAIL;
	}
	ret = svmgpu_program_create((const uint64_t *)(const void *)buf, len / 8, &prog);
	free(buf);
	if (!ret && json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "file", json_object_new_string(path));
		json_object_object_add(o, "words", json_words(prog));
		cli_json_print(o);
		svmgpu_program_destroy(prog);
		return CLI_EXIT_OK;
	}
	if (!ret)
		ret = svmgpu_program_disassemble(prog, &text);
	if (ret) {
		fprintf(stderr, "svmgpu-as: %s: %s\n", path, strerror(-ret));
		return CLI_EXIT_FAIL;
	}
	fputs(text, stdout);
	free(text);
	svmgpu_program_destroy(prog);
	return CLI_EXIT_OK;
}

/* The message without its "line L, column C: " prefix. */
static const char *bare_message(const struct svmgpu_asm_error *e)
{
	char prefix[64];
	int n;

	if (!e->line)
		return e->message;
	if (e->column)
		n = snprintf(prefix, sizeof(prefix), "line %u, column %u: ", e->line, e->column);
	else
		n = snprintf(prefix, sizeof(prefix), "line %u: ", e->line);
	return strncmp(e->message, prefix, (size_t)n) ? e->message : e->message + n;
}

/* Print every diagnostic; returns CLI_EXIT_FAIL. */
static int report(const char *path, const char *src)
{
	struct svmgpu_asm_error *d;
	struct svmgpu_program *prog;
	json_object *o = NULL, *arr = NULL;
	size_t count = 0, i;

	svmgpu_program_assemble_diag(src, &prog, NULL, 0, &count);
	d = calloc(count ? count : 1, sizeof(*d));
	if (!d || svmgpu_program_assemble_diag(src, &prog, d, count, &count) != -EINVAL) {
		fprintf(stderr, "svmgpu-as: %s\n", strerror(ENOMEM));
		free(d);
		return CLI_EXIT_FAIL;
	}
	if (json) {
		o = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(o, "source", json_object_new_string(path));
		json_object_object_add(o, "errors", arr);
	}
	for (i = 0; i < count; i++) {
		if (arr) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "line", json_object_new_int64(d[i].line));
			json_object_object_add(e, "column", json_object_new_int64(d[i].column));
			json_object_object_add(e, "message", json_object_new_string(bare_message(&d[i])));
			json_object_array_add(arr, e);
		}
		if (d[i].line)
			fprintf(stderr, "%s:%u:%u: %s\n", path, d[i].line, d[i].column, bare_message(&d[i]));
		else
			fprintf(stderr, "%s: %s\n", path, d[i].message);
	}
	if (o)
		cli_json_print(o);
	free(d);
	return CLI_EXIT_FAIL;
}

static int print_kernel(const char *name)
{
	unsigned int i;

	for (i = 0; i < SVMGPU_KERNEL_COUNT; i++) {
		if (!strcmp(name, "list"))
			printf("%s\n", svmgpu_kernel_name(i));
		else if (!strcmp(name, svmgpu_kernel_name(i)))
			return fputs(svmgpu_kernel_source(i), stdout) < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	}
	if (strcmp(name, "list"))
		cli_usage_error("no ready kernel '%s' (-k list prints their names)", name);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "listing", no_argument, NULL, 'l' },
		{ "disassemble", required_argument, NULL, 'd' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *src_path, *dis = NULL, *kernel = NULL;
	struct svmgpu_program *prog;
	char *src, outbuf[4096];
	int c, listing = 0, ret;
	size_t len, i;
	FILE *f;

	cli_init(argv, "svmgpu-as");
	while ((c = getopt_long(argc, argv, "o:ld:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'l': listing = 1; break;
		case 'd': dis = optarg; break;
		case 'k': kernel = optarg; break;
		case CLI_OPT_JSON: json = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case CLI_OPT_VERSION: cli_version();
		default: cli_bad_option();
		}
	}
	if (kernel || dis) {
		if (optind != argc)
			cli_usage_error("unexpected argument '%s'", argv[optind]);
		if (kernel && dis)
			cli_usage_error("-k and -d exclude each other");
		return kernel ? print_kernel(kernel) : disassemble(dis);
	}
	if (optind == argc)
		cli_usage_error("SOURCE missing");
	if (optind != argc - 1)
		cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
	src_path = argv[optind];
	src = read_all(src_path, &len);
	if (!src) {
		fprintf(stderr, "svmgpu-as: %s: %s\n", src_path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (strlen(src) != len) {
		fprintf(stderr, "svmgpu-as: %s: contains a NUL byte\n", src_path);
		free(src);
		return CLI_EXIT_FAIL;
	}
	ret = svmgpu_program_assemble_diag(src, &prog, NULL, 0, NULL);
	if (ret == -EINVAL) {
		ret = report(src_path, src);
		free(src);
		return ret;
	}
	free(src);
	if (ret) {
		fprintf(stderr, "svmgpu-as: %s\n", strerror(-ret));
		return CLI_EXIT_FAIL;
	}
	if (listing && !json) {
		for (i = 0; i < svmgpu_program_length(prog); i++) {
			char text[160];
			uint64_t insn = svmgpu_program_code(prog)[i];

			svmgpu_insn_disassemble(insn, text, sizeof(text));
			printf("%6zx:  %016" PRIx64 "  %s\n", i * 8, insn, text);
		}
	}
	if (!out) {
		if (!strcmp(src_path, "-")) {
			out = listing || json ? NULL : "a.bin";
		} else {
			/* truncated, the name could be the source's itself */
			if (snprintf(outbuf, sizeof(outbuf), "%s.bin", src_path) >=
			    (int)sizeof(outbuf)) {
				fprintf(stderr, "svmgpu-as: %s.bin: output name too long (-o)\n",
					src_path);
				svmgpu_program_destroy(prog);
				return CLI_EXIT_FAIL;
			}
			out = outbuf;
		}
	}
	if (out && json && !strcmp(out, "-"))
		cli_usage_error("--json and -o - both write to standard output");
	if (out) {
		int err;

		f = strcmp(out, "-") ? fopen(out, "wb") : stdout;
		err = f ? 0 : errno;
		if (f && fwrite(svmgpu_program_code(prog), 8, svmgpu_program_length(prog), f) !=
			 svmgpu_program_length(prog))
			err = errno ? errno : EIO;
		/* closed whatever the write did; stdout at exit (cli_init()) */
		if (f && f != stdout && fclose(f) && !err)
			err = errno;
		if (err) {
			fprintf(stderr, "svmgpu-as: %s: %s\n", out, strerror(err));
			svmgpu_program_destroy(prog);
			return CLI_EXIT_FAIL;
		}
	}
	if (json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "source", json_object_new_string(src_path));
		json_object_object_add(o, "output", out ? json_object_new_string(out) : NULL);
		json_object_object_add(o, "errors", json_object_new_array());
		json_object_object_add(o, "words", json_words(prog));
		cli_json_print(o);
	}
	svmgpu_program_destroy(prog);
	return CLI_EXIT_OK;
}
