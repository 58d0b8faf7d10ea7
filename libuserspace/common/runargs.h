/* SPDX-License-Identifier: MIT */
/*
 * runargs: the kernel-launch command line svmgpu-run and svmgpu-sim share
 * (not installed).  KERNEL is assembly source, a flat binary (*.bin) or,
 * with -k, a ready kernel's name; the argument block (SR_ARGS) holds one
 * u64 per -b (the buffer's address) and -a (the value), in command-line
 * order.  Like cli.h, these helpers print and exit on a bad command line
 * (exit CLI_EXIT_USAGE).
 */
#ifndef SVMGPU_RUNARGS_H
#define SVMGPU_RUNARGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "svmgpu.h"

#define RUNARGS_MAX	32

/* getopt_long() short options and long options of the shared part */
#define RUNARGS_SHORTOPTS	"b:a:g:w:n:B:ko:p:"
#define RUNARGS_LONGOPTS \
	{ "buffer", required_argument, NULL, 'b' }, { "arg", required_argument, NULL, 'a' }, \
	{ "grid", required_argument, NULL, 'g' }, { "wg-size", required_argument, NULL, 'w' }, \
	{ "items", required_argument, NULL, 'n' }, { "budget", required_argument, NULL, 'B' }, \
	{ "kernel", no_argument, NULL, 'k' }, { "output", required_argument, NULL, 'o' }, \
	{ "print", required_argument, NULL, 'p' }

/* The --help lines of the shared options. */
#define RUNARGS_USAGE \
	"  -b, --buffer SIZE[:PATTERN]  a buffer of SIZE bytes (k/M/G units); its\n" \
	"                               address goes into the argument block.  PATTERN:\n" \
	"                               zero (default), seq8, seq32, seq64, f32seq,\n" \
	"                               rand, value=N (u64 repeated), file=PATH\n" \
	"  -a, --arg VALUE              a scalar (integer, or float with an 'f' suffix)\n" \
	"  -g, --grid X[,Y[,Z]]         workgroups (default 1)\n" \
	"  -w, --wg-size N              lanes per workgroup (default 1)\n" \
	"  -n, --items N                grid = ceil(N / wg-size) in x\n" \
	"  -B, --budget N               wave-instruction budget (0: device default)\n" \
	"  -k, --kernel                 KERNEL names a ready kernel\n" \
	"  -o, --output IDX:FILE        write buffer IDX (0-based) to FILE afterwards\n" \
	"  -p, --print IDX[:TYPE[:N]]   print N (16) elements of buffer IDX as TYPE:\n" \
	"                               u8, u32 (default), u64, i64, f32, hex64\n"

struct runargs {
	struct { uint8_t *p; uint64_t size; } bufs[RUNARGS_MAX];
	unsigned int nbufs;
	uint64_t *words;		/* the argument block (64-byte aligned) */
	unsigned int nwords;
	struct { unsigned int idx; char type[8]; uint64_t count; } prints[RUNARGS_MAX];
	unsigned int nprints;
	struct { unsigned int idx; const char *path; } outputs[RUNARGS_MAX];
	unsigned int nout;
	struct svmgpu_launch launch;
	uint64_t items;
	bool ready;
};

/* Defaults: grid 1x1x1, one lane, no buffers.  0 or -ENOMEM. */
int runargs_init(struct runargs *ra);
void runargs_free(struct runargs *ra);

/*
 * runargs_option - handle option @c of RUNARGS_SHORTOPTS with @arg
 * Returns true if @c was one of them (bad values exit with a usage error;
 * a buffer that cannot be allocated or read, exit 1).
 */
bool runargs_option(struct runargs *ra, int c, const char *arg);

/* After the options: the grid from --items.  Usage errors exit. */
void runargs_finish(struct runargs *ra);

/*
 * runargs_load - the program KERNEL names
 * Assembler errors are printed as KERNEL:LINE:COLUMN: message (all of
 * them).  Returns CLI_EXIT_OK, CLI_EXIT_FAIL (unreadable file, assembly
 * errors, a .bin that is not a non-zero multiple of 8 bytes) or exits with
 * a usage error for an unknown ready kernel.
 */
int runargs_load(struct runargs *ra, const char *tool, const char *kernel,
		 struct svmgpu_program **prog);

/* Print the --print buffers (to stdout, or into @jarr when not NULL). */
void runargs_print(const struct runargs *ra, struct json_object *jarr);

/* Write the --output buffers.  0 or -errno (reported on stderr). */
int runargs_write_outputs(const struct runargs *ra, const char *tool);

#endif /* SVMGPU_RUNARGS_H */
