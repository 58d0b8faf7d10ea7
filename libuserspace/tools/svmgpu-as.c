// SPDX-License-Identifier: MIT
/*
 * svmgpu-as: assemble svmgpu kernel source into a flat binary of 64-bit
 * little-endian instructions, or disassemble one.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svmgpu.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-as [-o OUT] [-l] SOURCE|-\n"
		"       svmgpu-as -d BINARY\n"
		"       svmgpu-as -k KERNEL\n"
		"Assemble svmgpu ISA source (docs/isa.md) into a flat binary of\n"
		"little-endian 64-bit instructions.\n"
		"  -o, --output FILE     write the binary to FILE (default: SOURCE.bin)\n"
		"  -l, --listing         print an address/encoding/disassembly listing\n"
		"  -d, --disassemble     disassemble a binary to standard output\n"
		"  -k, --kernel NAME     print the source of a ready kernel (\"list\": names)\n"
		"  -h, --help            this text\n"
		"Errors are printed as FILE:LINE: message; exit status 1.\n");
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 4096, n = 0;
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(cap + 1);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);

		n += r;
		if (n < cap)
			break;
		cap *= 2;
		buf = realloc(buf, cap + 1);
	}
	if (f != stdin)
		fclose(f);
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static int disassemble(const char *path)
{
	size_t len, i;
	char *buf = read_all(path, &len), text[96];

	if (!buf) {
		fprintf(stderr, "svmgpu-as: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (len % 8) {
		fprintf(stderr, "svmgpu-as: %s: size %zu is not a multiple of 8\n", path, len);
		free(buf);
		return 1;
	}
	for (i = 0; i < len / 8; i++) {
		uint64_t insn;

		memcpy(&insn, buf + 8 * i, 8);
		svmgpu_insn_disassemble(insn, text, sizeof(text));
		printf("%6zx:  %016" PRIx64 "  %s\n", i * 8, insn, text);
	}
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "listing", no_argument, NULL, 'l' },
		{ "disassemble", required_argument, NULL, 'd' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *src_path;
	struct svmgpu_asm_error err;
	struct svmgpu_program *prog;
	char *src, outbuf[4096];
	int c, listing = 0, ret;
	size_t len, i;
	FILE *f;

	while ((c = getopt_long(argc, argv, "o:ld:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'l': listing = 1; break;
		case 'd': return disassemble(optarg);
		case 'k':
			for (i = 0; i < SVMGPU_KERNEL_COUNT; i++) {
				if (!strcmp(optarg, "list")) {
					printf("%s\n", svmgpu_kernel_name(i));
				} else if (!strcmp(optarg, svmgpu_kernel_name(i))) {
					fputs(svmgpu_kernel_source(i), stdout);
					return 0;
				}
			}
			if (strcmp(optarg, "list")) {
				fprintf(stderr, "svmgpu-as: no ready kernel '%s'\n", optarg);
				return 1;
			}
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	src_path = argv[optind];
	src = read_all(src_path, &len);
	if (!src) {
		fprintf(stderr, "svmgpu-as: %s: %s\n", src_path, strerror(errno));
		return 1;
	}
	if (strlen(src) != len) {
		fprintf(stderr, "svmgpu-as: %s: contains a NUL byte\n", src_path);
		return 1;
	}
	ret = svmgpu_program_assemble(src, &prog, &err);
	free(src);
	if (ret) {
		if (ret == -EINVAL)
			fprintf(stderr, "%s:%u: %s\n", src_path, err.line,
				err.line ? strchr(err.message, ':') + 2 : err.message);
		else
			fprintf(stderr, "svmgpu-as: %s\n", strerror(-ret));
		return 1;
	}
	if (listing) {
		for (i = 0; i < svmgpu_program_length(prog); i++) {
			char text[96];
			uint64_t insn = svmgpu_program_code(prog)[i];

			svmgpu_insn_disassemble(insn, text, sizeof(text));
			printf("%6zx:  %016" PRIx64 "  %s\n", i * 8, insn, text);
		}
	}
	if (!out) {
		if (!strcmp(src_path, "-")) {
			if (listing) {
				svmgpu_program_destroy(prog);
				return 0;
			}
			out = "a.bin";
		} else {
			snprintf(outbuf, sizeof(outbuf), "%s.bin", src_path);
			out = outbuf;
		}
	}
	f = strcmp(out, "-") ? fopen(out, "wb") : stdout;
	if (!f || fwrite(svmgpu_program_code(prog), 8, svmgpu_program_length(prog), f) !=
		  svmgpu_program_length(prog) || (f != stdout && fclose(f))) {
		fprintf(stderr, "svmgpu-as: %s: %s\n", out, strerror(errno));
		svmgpu_program_destroy(prog);
		return 1;
	}
	svmgpu_program_destroy(prog);
	return 0;
}
