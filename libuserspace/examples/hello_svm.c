// SPDX-License-Identifier: MIT
/*
 * hello_svm: the device increments every element of an array the CPU
 * allocated with malloc().  No copies, no registration: the device
 * translates the pointer through its own MMU.
 *
 * Build: cc hello_svm.c $(pkg-config --cflags --libs svmgpu)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmgpu.h>

/* args = { u32 *data, u64 n }: data[i] += 1 for i < n */
static const char increment[] =
	"    S2R   r1, GLOBAL_ID\n"
	"    S2R   r2, ARGS\n"
	"    LD64  r3, [r2+8]         ; n\n"
	"    SLTU  r4, r1, r3\n"
	"    IF    r4\n"
	"      LD64  r5, [r2+0]       ; data\n"
	"      SHL   r6, r1, #2\n"
	"      ADD   r5, r5, r6\n"
	"      LD32  r7, [r5+0]\n"
	"      ADD   r7, r7, #1\n"
	"      ST32  [r5+0], r7\n"
	"    ENDIF\n"
	"    EXIT\n";

int main(void)
{
	struct { uint32_t *data; uint64_t n; } *args;
	struct svmgpu_launch launch = { { 0, 1, 1 }, 256, 0, { 0, 0 } };
	struct svmgpu_asm_error aerr;
	struct svmgpu_cmd_error err;
	struct svmgpu_program *prog;
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
	struct svmgpu_cmd cmd;
	uint64_t i, n = 1000;
	int ret;

	if (!svmgpu_check_version(SVMGPU_LIB_VERSION_MAJOR, SVMGPU_LIB_VERSION_MINOR)) {
		fprintf(stderr, "libsvmgpu is older than this program's header\n");
		return 1;
	}
	ret = svmgpu_device_open(0, &dev);
	if (ret) {
		fprintf(stderr, "no svmgpu device: %s\n", strerror(-ret));
		return 1;
	}
	if (svmgpu_context_create(dev, &ctx) || svmgpu_queue_create(ctx, 0, &q))
		return 1;
	if (svmgpu_program_assemble(increment, &prog, &aerr)) {
		fprintf(stderr, "%s\n", aerr.message);
		return 1;
	}

	args = malloc(sizeof(*args));
	args->data = malloc(n * sizeof(uint32_t));	/* plain malloc'd memory */
	args->n = n;
	for (i = 0; i < n; i++)
		args->data[i] = (uint32_t)i;

	launch.grid[0] = (uint32_t)((n + launch.wg_size - 1) / launch.wg_size);
	svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), args, &launch, 0);
	ret = svmgpu_queue_run(q, &cmd, 1, SVMGPU_TIMEOUT_INFINITE, &err);
	if (ret) {
		fprintf(stderr, "kernel failed: %s (%s at 0x%llx)\n", strerror(-ret),
			svmgpu_error_name(err.code), (unsigned long long)err.va);
		return 1;
	}
	for (i = 0; i < n; i++)
		if (args->data[i] != i + 1) {
			printf("data[%llu] = %u, expected %llu\n", (unsigned long long)i,
			       args->data[i], (unsigned long long)i + 1);
			return 1;
		}
	printf("hello_svm: the device incremented %llu malloc'd integers in place\n",
	       (unsigned long long)n);
	free(args->data);
	free(args);
	svmgpu_program_destroy(prog);
	svmgpu_queue_destroy(q);
	svmgpu_context_destroy(ctx);
	svmgpu_device_close(dev);
	return 0;
}
