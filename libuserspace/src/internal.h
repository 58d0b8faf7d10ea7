/* SPDX-License-Identifier: MIT */
/*
 * libsvmgpu internals shared between the library's source files.
 */
#ifndef SVMGPU_INTERNAL_H
#define SVMGPU_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "svmgpu.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * A device: the render node's file descriptor.  @lock protects
 * @nr_contexts, @nr_devmem and each of its buffers' @addr against two
 * svmgpu_devmem_map() at once (freeing a buffer in use is the caller's bug).
 */
struct svmgpu_device {
	int fd;
	pthread_mutex_t lock;
	unsigned int nr_contexts;
	unsigned int nr_devmem;
	int driver_minor;	/* the DRM driver's minor version, at open */
	char path[SVMGPU_PATH_MAX];
};

/* The first svmgpu.ko minor version with DRM_SVMGPU_PREFETCH_ASYNC. */
#define SVMGPU_DRIVER_MINOR_PREFETCH_ASYNC	3

/* A DAX-style device-memory buffer; @addr is the library's mapping or NULL. */
struct svmgpu_devmem {
	struct svmgpu_device *dev;
	pid_t pid;		/* the allocating process: a fork()ed child's copy frees locally */
	uint32_t handle;
	uint64_t size;
	uint64_t offset;
	uint64_t align;
	void *addr;
};

/* A context; @lock protects @nr_queues. */
struct svmgpu_context {
	struct svmgpu_device *dev;
	uint32_t handle;
	pthread_mutex_t lock;
	unsigned int nr_queues;
};

/* Library commands a queue remembers for the caller's waits to skip. */
#define SVMGPU_OWN_MAX	8

/*
 * A library command on a caller's queue (the coherence check's), from its
 * submission on: @failed once its own wait has seen it fail and reported
 * that to the library's caller.
 */
struct svmgpu_own_cmd {
	uint64_t seq;
	bool failed;
};

/*
 * A queue.  @lock protects @reported_seq: failures of commands up to it
 * have been reported by a wait; and @own: library commands above it, in
 * flight or failed, whose failure a wait of the caller's skips.
 */
struct svmgpu_queue {
	struct svmgpu_context *ctx;
	uint32_t handle;
	pthread_mutex_t lock;
	uint64_t reported_seq;
	struct svmgpu_own_cmd own[SVMGPU_OWN_MAX];
	unsigned int nown;
};

struct svmgpu_program {
	uint64_t *code;
	size_t len;
	char **labels;		/* label names, NULL-terminated list */
	size_t *label_index;
	size_t nlabels;
};

/* device.c: svmgpu_queue_run() of one command, reporting only its failure */
int queue_run_own(struct svmgpu_queue *q, const struct svmgpu_cmd *cmd, uint64_t timeout_ns,
		  struct svmgpu_cmd_error *err);

#endif /* SVMGPU_INTERNAL_H */
