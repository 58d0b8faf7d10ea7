// SPDX-License-Identifier: MIT
/*
 * asm_kernel: a kernel written in svmgpu assembly and assembled at run
 * time: each lane computes the length of a 2D vector (f32) with a loop-free
 * body, and lane 0 of every workgroup records the workgroup's maximum with
 * an atomic.  Shows loads, float math, IF, and ATOM32 UMAX (the lengths
 * are non-negative, so their bit patterns order like the floats).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmgpu.h>

static const char source[] =
	"; args = { f32 (*xy)[2], f32 *len, u32 *max_bits, u64 n }\n"
	"        S2R   r1, GLOBAL_ID\n"
	"        S2R   r2, ARGS\n"
	"        LD64  r3, [r2+24]\n"
	"        SLTU  r4, r1, r3\n"
	"        IF    r4\n"
	"          LD64  r5, [r2+0]\n"
	"          SHL   r6, r1, #3\n"
	"          ADD   r5, r5, r6\n"
	"          LD32  r7, [r5+0]        ; x\n"
	"          LD32  r8, [r5+4]        ; y\n"
	"          FMUL  r7, r7, r7\n"
	"          FMUL  r8, r8, r8\n"
	"          FADD  r7, r7, r8\n"
	"          FSQRT r7, r7\n"
	"          LD64  r9, [r2+8]\n"
	"          SHL   r10, r1, #2\n"
	"          ADD   r9, r9, r10\n"
	"          ST32  [r9+0], r7\n"
	"          LD64  r11, [r2+16]\n"
	"          ATOM32 r12, [r11], r7, UMAX\n"
	"        ENDIF\n"
	"        EXIT\n";

int main(void)
{
	const uint64_t n = 300;
	struct { float (*xy)[2]; float *len; uint32_t *max_bits; uint64_t n; } *args;
	struct svmgpu_launch l = { { 0, 1, 1 }, 64, 0, { 0, 0 } };
	struct svmgpu_asm_error aerr;
	struct svmgpu_program *prog;
	struct svmgpu_device *dev;
	struct svmgpu_context *ctx;
	struct svmgpu_queue *q;
	struct svmgpu_cmd cmd;
	float maxlen = 0, got;
	uint64_t i;

	if (svmgpu_program_assemble(source, &prog, &aerr)) {
		fprintf(stderr, "%s\n", aerr.message);
		return 1;
	}
	args = malloc(sizeof(*args));
	args->xy = malloc(n * sizeof(*args->xy));
	args->len = malloc(n * sizeof(float));
	args->max_bits = calloc(1, sizeof(uint32_t));
	args->n = n;
	for (i = 0; i < n; i++) {
		args->xy[i][0] = (float)i * 0.5f;
		args->xy[i][1] = (float)(n - i);
	}
	if (svmgpu_device_open(0, &dev) || svmgpu_context_create(dev, &ctx) ||
	    svmgpu_queue_create(ctx, 0, &q)) {
		fprintf(stderr, "no svmgpu device\n");
		return 1;
	}
	l.grid[0] = (uint32_t)((n + l.wg_size - 1) / l.wg_size);
	svmgpu_cmd_launch(&cmd, svmgpu_program_code(prog), args, &l, 0);
	if (svmgpu_queue_run(q, &cmd, 1, SVMGPU_TIMEOUT_INFINITE, NULL))
		return 1;
	for (i = 0; i < n; i++) {
		float x = args->xy[i][0], y = args->xy[i][1], want;

		x = x * x;
		y = y * y;
		want = sqrtf(x + y);
		if (args->len[i] != want) {
			printf("len[%llu] = %g, CPU %g\n", (unsigned long long)i, (double)args->len[i],
			       (double)want);
			return 1;
		}
		if (want > maxlen)
			maxlen = want;
	}
	memcpy(&got, args->max_bits, 4);
	printf("asm_kernel: %llu lengths match the CPU; longest %g (device says %g)\n",
	       (unsigned long long)n, (double)maxlen, (double)got);
	svmgpu_program_destroy(prog);
	svmgpu_queue_destroy(q);
	svmgpu_context_destroy(ctx);
	svmgpu_device_close(dev);
	return got == maxlen ? 0 : 1;
}
