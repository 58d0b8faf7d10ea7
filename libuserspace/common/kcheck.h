/* SPDX-License-Identifier: MIT */
/*
 * Checks of the ready kernels against their CPU references, written once
 * and run by the host tests (on the device core, test_kernels_core.c), the
 * in-guest tests and svmgpu-demo (on the device).
 */
#ifndef SVMGPU_KCHECK_H
#define SVMGPU_KCHECK_H

#include <stdint.h>

#include "svmgpu.h"

/* Runs one LAUNCH command; returns 0 or a negative error. */
typedef int (*kcheck_run_fn)(void *priv, const struct svmgpu_cmd *cmd);

struct kcheck_result {
	uint64_t items;		/* elements (or lists/keys/cells) processed */
	uint64_t bytes;		/* bytes of input and output touched */
	char message[200];	/* first mismatch or error */
};

/*
 * Run ready kernel @k on a problem of size @n (elements; the shapes for
 * the other kernels are described at the top of kcheck.c)
 * with data from @seed; compare with the CPU.  Returns 0 when equal,
 * -EILSEQ on a mismatch, or the error of @run / an allocation.
 */
int kcheck_kernel(enum svmgpu_kernel k, uint64_t n, uint64_t seed, kcheck_run_fn run, void *priv,
		  struct kcheck_result *res);

#endif
