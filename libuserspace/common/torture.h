/* SPDX-License-Identifier: MIT */
/*
 * The svmgpu-torture engine: random CPU-side changes to process memory
 * interleaved with device reads, writes and atomics, every result checked
 * against a CPU-side model.  Used by the svmgpu-torture tool and the
 * in-guest test lib_torture.
 */
#ifndef SVMGPU_TORTURE_H
#define SVMGPU_TORTURE_H

#include <stdint.h>
#include <stdio.h>

struct torture_opts {
	uint64_t seed;
	uint64_t ops;		/* per worker; 0 = until @seconds */
	unsigned int seconds;	/* 0 = until @ops */
	unsigned int threads;	/* worker threads in this process (>= 1) */
	unsigned int procs;	/* extra worker processes, each with its own device */
	unsigned int pages;	/* size of each worker's region */
	int only_worker;	/* >= 0: run just this worker (replay) */
	uint64_t inject_at;	/* test hook: corrupt the model at this op (0 = never) */
	int verbose;		/* log every op to @log */
	const uint64_t *replay;	/* run only these operation indexes, ascending */
	size_t replay_len;
	int minimize;		/* on a divergence, search for a smaller replay */
	int quiet;		/* do not report divergences (minimization trials) */
	const char *node;	/* render node to open; NULL: the first svmgpu device */
	unsigned int progress;	/* seconds between progress lines on @log; 0: none */
	size_t evict_size;	/* bytes the eviction trigger prefetches; 0: 2 MiB */
};

/*
 * Run the torture; progress and divergences go to @log.  With @progress,
 * the first process prints "svmgpu-torture: progress: ..." lines (time or
 * operations done of the total, so far without divergence) every
 * @progress seconds.  Returns 0 when
 * every check passed, 1 on a divergence (the seed, worker, operation
 * index and a replay command are printed), or a negative errno when the
 * run could not be set up.
 *
 * Operation k of worker w draws its parameters from a generator seeded
 * with (seed, w, k) alone, so any subset of a worker's operations can be
 * replayed (@replay).  With @minimize, a divergence is followed by a
 * search (removing ever smaller runs of operations, in this process,
 * worker alone) for a shorter list that still diverges, printed as
 * "minimal replay".
 */
int torture_run(const struct torture_opts *o, FILE *log);

#endif
