// SPDX-License-Identifier: MIT
/*
 * hello: y = 2 * x + y on the device, over arrays the CPU allocated with
 * malloc() and never registered anywhere: the device reaches them through
 * its own MMU, faulting their pages in as it goes.  The result is checked
 * element by element; the exit status says whether it was right.
 *
 * Built by this directory's Makefile with pkg-config; see docs/tutorial.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmgpu.h>

/* 1 MiB per array: more than malloc's mmap threshold, so free() unmaps it */
#define N (256 * 1024)

static int run(struct svmgpu_queue *q, struct svmgpu_saxpy_args *args)
{
	struct svmgpu_launch launch;
	struct svmgpu_program *prog;
	struct svmgpu_cmd_error err;
	struct svmgpu_cmd cmd;
	int ret;

	ret = svmgpu_kernel_program(SVMGPU_KERNEL_SAXPY, &prog);
	if (ret)
		return ret;
	ret = svmgpu_kernel_launch_shape(SVMGPU_KERNEL_SAXPY, args, &launch);
	if (!ret)
		ret = svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), args, &launch, 0);
	if (!ret) {
		ret = svmgpu_queue_run(q, &cmd, 1, SVMGPU_TIMEOUT_INFINITE, &err);
		if (ret)
			fprintf(stderr, "hello: the kernel failed: %s at 0x%llx\n",
				svmgpu_error_name(err.code), (unsigned long long)err.va);
	}
	svmgpu_program_destroy(prog);
	return ret;
}

int main(void)
{
	struct svmgpu_saxpy_args args = { .n = N, .a = 2.0f };
	struct svmgpu_device *dev = NULL;
	struct svmgpu_context *ctx = NULL;
	struct svmgpu_queue *q = NULL;
	float *x, *y;
	uint64_t i, bad = 0;
	int ret;

	x = malloc(N * sizeof(*x));
	y = malloc(N * sizeof(*y));
	if (!x || !y)
		return 1;
	for (i = 0; i < N; i++) {
		x[i] = (float)i;	/* whole numbers: the result is exact */
		y[i] = 1.0f;
	}
	args.x = x;
	args.y = y;

	ret = svmgpu_device_open(0, &dev);
	if (!ret)
		ret = svmgpu_context_create(dev, &ctx);
	if (!ret)
		ret = svmgpu_queue_create(ctx, 0, &q);
	if (!ret)
		ret = run(q, &args);
	if (ret) {
		fprintf(stderr, "hello: %s\n", strerror(-ret));
		return 1;
	}

	for (i = 0; i < N; i++)
		if (y[i] != 2.0f * (float)i + 1.0f && bad++ == 0)
			fprintf(stderr, "hello: y[%llu] = %g, expected %g\n",
				(unsigned long long)i, y[i], 2.0f * (float)i + 1.0f);
	if (bad) {
		fprintf(stderr, "hello: %llu of %d elements wrong\n", (unsigned long long)bad, N);
		return 1;
	}
	printf("hello: y = 2x + y on %d malloc'd floats: all correct, y[%d] = %.0f\n",
	       N, N - 1, y[N - 1]);

	/*
	 * Freed while the context still mirrors this process: free() unmaps
	 * them, and the driver invalidates the device's view of those pages
	 * (the svmgpu_invalidate tracepoint, docs/tutorial.md).
	 */
	free(x);
	free(y);
	svmgpu_queue_destroy(q);
	svmgpu_context_destroy(ctx);
	svmgpu_device_close(dev);
	return 0;
}
