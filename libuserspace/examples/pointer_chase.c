// SPDX-License-Identifier: MIT
/*
 * pointer_chase: the CPU builds linked lists node by node with malloc();
 * the device follows the next pointers itself (the LIST_WALK ready
 * kernel), one list per lane, and sums the values.  Nothing is copied or
 * flattened: the device walks the CPU's own pointers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmgpu.h>

#define NLISTS	64

int main(void)
{
	struct svmgpu_list_node **heads = calloc(NLISTS, sizeof(*heads));
	uint64_t *sums = calloc(NLISTS, 8), *lengths = calloc(NLISTS, 8), want[NLISTS];
	struct svmgpu_list_walk_args *args = malloc(sizeof(*args));
	struct svmgpu_program *prog;
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
	struct svmgpu_launch l;
	struct svmgpu_cmd cmd;
	int i, j, ret;

	for (i = 0; i < NLISTS; i++) {
		want[i] = 0;
		for (j = 0; j < i; j++) {		/* list i has i nodes */
			struct svmgpu_list_node *n = malloc(sizeof(*n));

			n->value = (uint64_t)(i * 100 + j);
			n->next = heads[i];
			heads[i] = n;
			want[i] += n->value;
		}
	}
	*args = (struct svmgpu_list_walk_args){ heads, sums, lengths, NLISTS };

	ret = svmgpu_device_open(0, &dev);
	if (ret) {
		fprintf(stderr, "no svmgpu device: %s\n", strerror(-ret));
		return 1;
	}
	if (svmgpu_context_create(dev, &ctx) || svmgpu_queue_create(ctx, 0, &q) ||
	    svmgpu_kernel_program(SVMGPU_KERNEL_LIST_WALK, &prog) ||
	    svmgpu_kernel_launch_shape(SVMGPU_KERNEL_LIST_WALK, args, &l) ||
	    svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), args, &l, 0))
		return 1;
	ret = svmgpu_queue_run(q, &cmd, 1, SVMGPU_TIMEOUT_INFINITE, NULL);
	if (ret) {
		fprintf(stderr, "walk failed: %s\n", strerror(-ret));
		return 1;
	}
	for (i = 0; i < NLISTS; i++)
		if (sums[i] != want[i] || lengths[i] != (uint64_t)i) {
			printf("list %d: device says %llu nodes, sum %llu; CPU %d, %llu\n", i,
			       (unsigned long long)lengths[i], (unsigned long long)sums[i], i,
			       (unsigned long long)want[i]);
			return 1;
		}
	printf("pointer_chase: the device walked %d malloc'd lists (%d nodes) and agrees with the CPU\n",
	       NLISTS, NLISTS * (NLISTS - 1) / 2);
	svmgpu_program_destroy(prog);
	svmgpu_queue_destroy(q);
	svmgpu_context_destroy(ctx);
	svmgpu_device_close(dev);
	return 0;
}
