// SPDX-License-Identifier: MIT
/*
 * Coherence check: the CPU snapshots a range, the device reads the same
 * range through its MMU, compares it word by word with the snapshot and
 * hashes it; any difference means the device saw other bytes than the CPU.
 */
#define _GNU_SOURCE	/* process_vm_readv() */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

/* Assembled once per process (again after a failure); never freed. */
static pthread_mutex_t hash_lock = PTHREAD_MUTEX_INITIALIZER;
static struct svmgpu_program *hash_prog;

static int hash_prog_get(struct svmgpu_program **prog)
{
	int ret = 0;

	pthread_mutex_lock(&hash_lock);
	if (!hash_prog)
		ret = svmgpu_kernel_program(SVMGPU_KERNEL_RANGE_HASH, &hash_prog);
	*prog = hash_prog;
	pthread_mutex_unlock(&hash_lock);
	return ret;
}

/*
 * The CPU's view of [addr, addr + size) into @snap: 0, or -EFAULT if part
 * of it cannot be read (unmapped, PROT_NONE), where a memcpy() would raise
 * SIGSEGV in the caller.  Read by the kernel for this process, as the CPU
 * would (a page in device memory comes back first).
 */
static int snapshot(void *snap, const void *addr, size_t size)
{
	/* this thread's id: the process's works only while its leader lives */
	pid_t tid = (pid_t)syscall(SYS_gettid);
	size_t done = 0;

	/* a call reads at most MAX_RW_COUNT (2 GiB - 4 KiB): the rest again */
	while (done < size) {
		struct iovec local = { (char *)snap + done, size - done };
		struct iovec remote = { (char *)addr + done, size - done };
		ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		/* 0: the next byte cannot be read (a short read stopped there) */
		if (n == 0 || errno == EFAULT)
			return -EFAULT;
		if (done || (errno != ENOSYS && errno != EPERM))
			return -errno;
		/* a seccomp filter refuses it: the plain copy */
		memcpy(snap, addr, size);
		return 0;
	}
	return 0;
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
	uint64_t *snap, cpu_hash = 0, i, nwords = size / 8;
	struct svmgpu_program *prog;
	struct hash_out *out;
	int ret;

	if (!q || !addr || ((uintptr_t)addr | size) & 7 || !size)
		return -EINVAL;
	ret = hash_prog_get(&prog);
	if (ret)
		return ret;

	snap = malloc(size);
	args = aligned_alloc(64, 64);
	out = aligned_alloc(64, sizeof(*out));
	if (!snap || !args || !out) {
		ret = -ENOMEM;
		goto out;
	}
	ret = snapshot(snap, addr, size);
	if (ret)
		goto out;
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
		ret = svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), args, &launch, 0);
	if (!ret)
		ret = queue_run_own(q, &cmd, SVMGPU_TIMEOUT_INFINITE, NULL);
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
