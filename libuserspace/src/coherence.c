// SPDX-License-Identifier: MIT
/*
 * Coherence check: the CPU snapshots a range, the device reads the same
 * range through its MMU, compares it word by word with the snapshot and
 * hashes it; any difference means the device saw other bytes than the CPU.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Assembled once per process; the program is never freed. */
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;
static struct svmgpu_program *hash_prog;
static int hash_prog_err;

static void hash_prog_init(void)
{
	hash_prog_err = svmgpu_kernel_program(SVMGPU_KERNEL_RANGE_HASH, &hash_prog);
}

/* Device-written results, one cache line. */
struct hash_out {
	uint64_t hash;
	uint64_t mismatches;
	uint64_t first;
	uint64_t pad[5];
};

SVMGPU_PUBLIC int svmgpu_coherence_check(struct svmgpu_queue *q, const void *addr, size_t size,
					 struct svmgpu_coherence_result *result)
{
	struct svmgpu_range_hash_args *args;
	struct svmgpu_launch launch;
	struct svmgpu_cmd cmd;
	struct hash_out *out;
	uint64_t *snap, cpu_hash = 0, i, nwords = size / 8;
	int ret;

	if (!q || !addr || ((uintptr_t)addr | size) & 7 || !size)
		return -EINVAL;
	pthread_once(&hash_once, hash_prog_init);
	if (hash_prog_err)
		return hash_prog_err;

	snap = malloc(size);
	args = aligned_alloc(64, 64);
	out = aligned_alloc(64, sizeof(*out));
	if (!snap || !args || !out) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(snap, addr, size);
	for (i = 0; i < nwords; i++)
		cpu_hash += svmgpu_hash_word(snap[i], i);

	memset(out, 0, sizeof(*out));
	out->first = UINT64_MAX;
	memset(args, 0, 64);
	args->data = addr;
	args->expect = snap;
	args->nwords = nwords;
	args->hash = &out->hash;
	args->mismatches = &out->mismatches;
	args->first_mismatch = &out->first;
	ret = svmgpu_kernel_launch_shape(SVMGPU_KERNEL_RANGE_HASH, args, &launch);
	if (!ret)
		ret = svmgpu_cmd_launch(&cmd, svmgpu_program_code(hash_prog), args, &launch, 0);
	if (!ret)
		ret = svmgpu_queue_run(q, &cmd, 1, SVMGPU_TIMEOUT_INFINITE, NULL);
	if (ret)
		goto out;
	if (result) {
		memset(result, 0, sizeof(*result));
		result->device_hash = out->hash;
		result->cpu_hash = cpu_hash;
		result->mismatches = out->mismatches;
		result->first_mismatch = out->mismatches ?
			(uint64_t)(uintptr_t)addr + 8 * out->first : 0;
	}
	ret = out->mismatches || out->hash != cpu_hash ? -EILSEQ : 0;
out:
	free(snap);
	free(args);
	free(out);
	return ret;
}
