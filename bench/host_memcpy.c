// SPDX-License-Identifier: MIT
/*
 * host-memcpy: the host's memcpy bandwidth, the practical limit for an
 * emulated device's DMA.  Run on the host by scripts/bench.sh; prints BENCH
 * lines like svmgpu-bench.
 *
 *   host-memcpy [quick|full]
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* SGEMM 256x256x256 as a plain C loop: the baseline of the device's sgemm. */
static void host_sgemm(unsigned int reps)
{
	enum { N = 256 };
	static float a[N * N], b[N * N], c[N * N];
	double v[5];

	for (unsigned int i = 0; i < N * N; i++) {
		a[i] = (float)(i % 7);
		b[i] = (float)(i % 5) * 0.25f;
	}
	for (unsigned int r = 0; r <= reps; r++) {
		double t0 = now_s();

		for (unsigned int row = 0; row < N; row++)
			for (unsigned int col = 0; col < N; col++) {
				float acc = 0;

				for (unsigned int i = 0; i < N; i++)
					acc += a[row * N + i] * b[i * N + col];
				c[row * N + col] = acc;
			}
		__asm__ volatile("" : : "r"(c) : "memory");
		double t1 = now_s();

		if (r)
			v[r - 1] = 2.0 * N * N * N / (t1 - t0) / 1e9;
	}
	qsort(v, reps, sizeof(v[0]), cmp);
	printf("BENCH {\"group\": \"compute\", \"name\": \"host sgemm (plain C loop)\", \"size\": %u, "
	       "\"unit\": \"GFLOP/s\", \"min\": %.6g, \"median\": %.6g, \"max\": %.6g, "
	       "\"reps\": %u, \"baseline\": 0, \"baseline_name\": \"\", \"ratio\": 0, "
	       "\"note\": \"measured on the host, outside the guest\"}\n",
	       N, v[0], v[reps / 2], v[reps - 1], reps);
}

int main(int argc, char **argv)
{
	static const uint64_t sizes[] = { 64 << 10, 1 << 20, 16 << 20, 64 << 20, 256 << 20 };
	int full = argc > 1 && !strcmp(argv[1], "full");
	unsigned int nsizes = full ? 5 : 3, reps = full ? 5 : 3;

	for (unsigned int i = 0; i < nsizes; i++) {
		uint64_t size = sizes[i];
		char *src = malloc(size), *dst = malloc(size);
		double v[5];
		/* small sizes repeat inside one timing to rise above clock noise */
		unsigned int inner = size < (16 << 20) ? (unsigned int)((64 << 20) / size) : 1;

		if (!src || !dst)
			return 1;
		memset(src, 1, size);
		memset(dst, 2, size);
		for (unsigned int r = 0; r <= reps; r++) {
			double t0 = now_s();

			for (unsigned int k = 0; k < inner; k++) {
				memcpy(dst, src, size);
				__asm__ volatile("" : : "r"(dst) : "memory");
			}
			double t1 = now_s();

			if (r)
				v[r - 1] = (double)size * inner / (t1 - t0) / 1e9;
		}
		qsort(v, reps, sizeof(v[0]), cmp);
		printf("BENCH {\"group\": \"bandwidth\", \"name\": \"host memcpy\", \"size\": %llu, "
		       "\"unit\": \"GB/s\", \"min\": %.6g, \"median\": %.6g, \"max\": %.6g, "
		       "\"reps\": %u, \"baseline\": 0, \"baseline_name\": \"\", \"ratio\": 0, "
		       "\"note\": \"measured on the host, outside the guest\"}\n",
		       (unsigned long long)size, v[0], v[reps / 2], v[reps - 1], reps);
		free(src);
		free(dst);
	}
	host_sgemm(reps);
	return 0;
}
