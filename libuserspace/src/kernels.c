// SPDX-License-Identifier: MIT
/*
 * Ready kernels, in svmgpu assembly.  Every kernel reads its argument block
 * through SR_ARGS (layouts in svmgpu.h) and uses one lane per element
 * (global id = workgroup * wg_size + lane) or, for the streaming ones, a
 * slice of elements per lane (BLOCK_SLICE; sgemm: eight rows of a column);
 * lanes past the end do nothing, so any grid works that covers the problem
 * (with slices: any grid).  Floating point follows the CPU references in
 * the tests operation for operation (sgemm's FFMA is fmaf there), so
 * results match bit for bit.
 */
#include <errno.h>
#include <stddef.h>

#include "internal.h"

/*
 * The block layout of vecadd, saxpy, reduce_sum and range_hash, as GPU
 * streaming kernels are written: a launch needs far fewer lanes than
 * elements (the library's shape: at most 64 workgroups), each workgroup
 * takes a contiguous block of the input and lane l of it elements
 * block + l, + wg_size, ... below the block's end, so one wave-instruction
 * of the loop reads wg_size consecutive elements and the next one those
 * right after them.  The device runs a launch's workgroups one after
 * another; with a grid-stride slice (each step a whole grid apart) every
 * workgroup went over every page of the input, 1.4x slower (bench-core
 * reduce).  Against one lane per element, the loop saves each element the
 * prologue, the bounds check and the workgroup switches: in the guest
 * (svmgpu-bench) vecadd 1.6x and saxpy 1.4x faster, range_hash 2.3x on
 * bench-core.
 *
 * BLOCK_SLICE(N, SHIFT): with n at [args + N] and elements of 1 << SHIFT
 * bytes, sets r1 = global id, r2 = args, r3 = n, r10 = lane id,
 * r11 = wg_size, r8 = i (the lane's first element), r28 = the block's end,
 * r5 = i << SHIFT and r24 = wg_size << SHIFT (a step, in bytes); uses
 * r23, r25, r26, r27.
 */
#define BLOCK_SLICE(N, SHIFT) \
	"    S2R   r1, GLOBAL_ID\n" \
	"    S2R   r2, ARGS\n" \
	"    S2R   r10, LANE_ID\n" \
	"    S2R   r11, WG_SIZE\n" \
	"    S2R   r23, GRID_X\n" \
	"    S2R   r24, GRID_Y\n" \
	"    MUL   r23, r23, r24\n" \
	"    S2R   r24, GRID_Z\n" \
	"    MUL   r23, r23, r24\n" \
	"    MUL   r23, r23, r11      ; lanes in the grid\n" \
	"    LD64  r3, [r2+" #N "]        ; n\n" \
	"    ADD   r26, r3, r23\n" \
	"    SUB   r26, r26, #1\n" \
	"    DIVU  r26, r26, r23      ; elements per lane, rounded up\n" \
	"    SUB   r25, r1, r10       ; workgroup * wg_size\n" \
	"    MUL   r27, r25, r26      ; the workgroup's block: its first element\n" \
	"    ADD   r8, r27, r10       ; i = block + lane\n" \
	"    MUL   r28, r26, r11\n" \
	"    ADD   r28, r27, r28\n" \
	"    MINU  r28, r28, r3       ; the block's end\n" \
	"    SHL   r24, r11, #" #SHIFT "       ; wg_size elements, in bytes\n" \
	"    SHL   r5, r8, #" #SHIFT "\n"

/* out[i] = a[i] + b[i] */
static const char vecadd_src[] =
	"; vecadd: args = { f32 *a, f32 *b, f32 *out, u64 n }\n"
	BLOCK_SLICE(24, 2)
	"    LD64  r6, [r2+0]\n"
	"    ADD   r6, r6, r5         ; &a[i]\n"
	"    LD64  r12, [r2+8]\n"
	"    ADD   r12, r12, r5       ; &b[i]\n"
	"    LD64  r13, [r2+16]\n"
	"    ADD   r13, r13, r5       ; &out[i]\n"
	"    LOOP\n"
	"      SLEU  r4, r28, r8      ; i >= end\n"
	"      BREAK r4\n"
	"      LD32  r7, [r6+0]\n"
	"      LD32  r9, [r12+0]\n"
	"      FADD  r7, r7, r9\n"
	"      ST32  [r13+0], r7\n"
	"      ADD   r6, r6, r24\n"
	"      ADD   r12, r12, r24\n"
	"      ADD   r13, r13, r24\n"
	"      ADD   r8, r8, r11\n"
	"    ENDLOOP\n"
	"    EXIT\n";

/* y[i] = a * x[i] + y[i], one fused multiply-add (FFMA: fmaf(a, x[i], y[i])) */
static const char saxpy_src[] =
	"; saxpy: args = { f32 *x, f32 *y, u64 n, f32 a }\n"
	BLOCK_SLICE(16, 2)
	"    LD64  r6, [r2+0]\n"
	"    ADD   r6, r6, r5         ; &x[i]\n"
	"    LD64  r12, [r2+8]\n"
	"    ADD   r12, r12, r5       ; &y[i]\n"
	"    LD32  r9, [r2+24]        ; a\n"
	"    LOOP\n"
	"      SLEU  r4, r28, r8      ; i >= end\n"
	"      BREAK r4\n"
	"      LD32  r7, [r6+0]\n"
	"      LD32  r13, [r12+0]\n"
	"      FFMA  r13, r9, r7      ; y[i] + a * x[i], one rounding\n"
	"      ST32  [r12+0], r13\n"
	"      ADD   r6, r6, r24\n"
	"      ADD   r12, r12, r24\n"
	"      ADD   r8, r8, r11\n"
	"    ENDLOOP\n"
	"    EXIT\n";

/*
 * Sum reduction, as GPU reductions are written: each lane first sums its
 * slice of the input in a register (BLOCK_SLICE; four elements a loop
 * turn, which halves the instructions per element: the loop's count,
 * test and branch are a wave-instruction each, as many as the load and the
 * add; bench-core reduce 2.0-3.4 -> 4.7-4.8 GB/s), then it puts its partial
 * sum in its scratch slot, a tree reduction over the workgroup's slots
 * follows, one workgroup barrier per level, and lane 0 adds the
 * workgroup's total to *sum atomically.  wg_size must be a power of two.
 */
static const char reduce_src[] =
	"; reduce_sum: args = { u32 *in, u64 *sum, u64 *scratch, u64 n }\n"
	BLOCK_SLICE(24, 2)
	"    LD64  r6, [r2+0]\n"
	"    ADD   r6, r6, r5         ; &in[i]\n"
	"    MOVI  r7, #0             ; this lane's sum\n"
	"    ADD   r30, r6, r24       ; &in[i + wg_size]\n"
	"    ADD   r31, r30, r24      ; &in[i + 2 wg_size]\n"
	"    ADD   r29, r31, r24      ; &in[i + 3 wg_size]\n"
	"    SHL   r22, r24, #2       ; 4 steps, in bytes\n"
	"    SHL   r21, r11, #2       ; 4 steps, in elements\n"
	"    SUB   r20, r21, r11      ; 3 steps\n"
	"    LOOP                     ; four elements a turn\n"
	"      ADD   r4, r8, r20\n"
	"      SLEU  r4, r28, r4      ; i + 3 wg_size >= end\n"
	"      BREAK r4\n"
	"      LD32  r9, [r6+0]\n"
	"      ADD   r7, r7, r9\n"
	"      LD32  r9, [r30+0]\n"
	"      ADD   r7, r7, r9\n"
	"      LD32  r9, [r31+0]\n"
	"      ADD   r7, r7, r9\n"
	"      LD32  r9, [r29+0]\n"
	"      ADD   r7, r7, r9\n"
	"      ADD   r6, r6, r22\n"
	"      ADD   r30, r30, r22\n"
	"      ADD   r31, r31, r22\n"
	"      ADD   r29, r29, r22\n"
	"      ADD   r8, r8, r21\n"
	"    ENDLOOP\n"
	"    LOOP                     ; the last three at most\n"
	"      SLEU  r4, r28, r8      ; i >= end\n"
	"      BREAK r4\n"
	"      LD32  r9, [r6+0]\n"
	"      ADD   r7, r7, r9\n"
	"      ADD   r6, r6, r24\n"
	"      ADD   r8, r8, r11\n"
	"    ENDLOOP\n"
	"    LD64  r12, [r2+16]       ; scratch\n"
	"    SHL   r13, r1, #3\n"
	"    ADD   r13, r12, r13      ; &scratch[gid]\n"
	"    ST64  [r13+0], r7\n"
	"    BAR\n"
	"    SHR   r14, r11, #1       ; stride = wg_size / 2\n"
	"    LOOP\n"
	"      SEQ   r15, r14, #0\n"
	"      BREAK r15\n"
	"      SLTU  r16, r10, r14\n"
	"      IF    r16\n"
	"        SHL   r17, r14, #3\n"
	"        ADD   r17, r13, r17\n"
	"        LD64  r18, [r17+0]\n"
	"        LD64  r19, [r13+0]\n"
	"        ADD   r19, r19, r18\n"
	"        ST64  [r13+0], r19\n"
	"      ENDIF\n"
	"      BAR\n"
	"      SHR   r14, r14, #1\n"
	"    ENDLOOP\n"
	"    SEQ   r20, r10, #0\n"
	"    IF    r20\n"
	"      LD64  r19, [r13+0]\n"
	"      LD64  r21, [r2+8]\n"
	"      ATOM64 r22, [r21], r19, ADD\n"
	"    ENDIF\n"
	"    EXIT\n";

/*
 * C[row][col] = sum over i of A[row][i] * B[i][col], i ascending, each
 * step one fused multiply-add (FFMA: acc = fmaf(a, b, acc)).  A lane
 * computes eight rows of one column (lane g: column g % n of rows
 * 8 * (g / n) .. + 7): each B element it loads serves eight products, and
 * the loop's counting is shared by eight, so a multiply-add costs about
 * three wave-instructions instead of nine with one row per lane.  Rows
 * past m read the last row (in bounds) and are not stored.
 */
static const char sgemm_src[] =
	"; sgemm: args = { f32 *a, f32 *b, f32 *c, u64 m, u64 n, u64 k }\n"
	"; lane g: C[row0 .. row0 + 7][col], row0 = 8 * (g / n), col = g % n\n"
	"    .macro rowptr p, q          ; p = &A[min(row0 + q, m - 1)][0]\n"
	"      ADD   \\p, r8, #\\q\n"
	"      MINU  \\p, \\p, r6\n"
	"      MUL   \\p, \\p, r7\n"
	"      ADD   \\p, r10, \\p\n"
	"    .endm\n"
	"    .macro step p, acc          ; acc = fmaf(A[row][i], B[i][col], acc)\n"
	"        LD32  r31, [\\p+0]\n"
	"        FFMA  \\acc, r31, r13\n"
	"        ADD   \\p, \\p, #4\n"
	"    .endm\n"
	"    .macro store acc            ; C[row0 + ...][col], the next row if below m\n"
	"      ADD   r8, r8, #1\n"
	"      SLTU  r31, r8, r3\n"
	"      IF    r31\n"
	"        ADD   r10, r10, r14\n"
	"        ST32  [r10+0], \\acc\n"
	"      ENDIF\n"
	"    .endm\n"
	"    S2R   r1, GLOBAL_ID\n"
	"    S2R   r2, ARGS\n"
	"    LD64  r3, [r2+24]        ; m\n"
	"    LD64  r4, [r2+32]        ; n\n"
	"    LD64  r5, [r2+40]        ; k\n"
	"    ADD   r6, r3, #7\n"
	"    SHR   r6, r6, #3         ; blocks of 8 rows\n"
	"    MUL   r6, r6, r4\n"
	"    SLTU  r7, r1, r6\n"
	"    IF    r7\n"
	"      DIVU  r8, r1, r4\n"
	"      SHL   r8, r8, #3       ; row0\n"
	"      REMU  r9, r1, r4       ; col\n"
	"      SUB   r6, r3, #1       ; last row\n"
	"      SHL   r7, r5, #2       ; row stride of A\n"
	"      LD64  r10, [r2+0]\n"
	"      rowptr r11, 0\n"
	"      rowptr r23, 1\n"
	"      rowptr r24, 2\n"
	"      rowptr r25, 3\n"
	"      rowptr r26, 4\n"
	"      rowptr r27, 5\n"
	"      rowptr r28, 6\n"
	"      rowptr r29, 7\n"
	"      LD64  r12, [r2+8]\n"
	"      SHL   r13, r9, #2\n"
	"      ADD   r12, r12, r13    ; &B[0][col]\n"
	"      SHL   r14, r4, #2      ; row stride of B and C\n"
	"      MOVI  r15, #0\n"
	"      MOVI  r16, #0\n"
	"      MOVI  r17, #0\n"
	"      MOVI  r18, #0\n"
	"      MOVI  r19, #0\n"
	"      MOVI  r20, #0\n"
	"      MOVI  r21, #0\n"
	"      MOVI  r22, #0\n"
	"      MOV   r30, r5          ; steps left\n"
	"      LOOP\n"
	"        SEQ   r31, r30, #0\n"
	"        BREAK r31\n"
	"        LD32  r13, [r12+0]   ; B[i][col], for the 8 rows\n"
	"        step  r11, r15\n"
	"        step  r23, r16\n"
	"        step  r24, r17\n"
	"        step  r25, r18\n"
	"        step  r26, r19\n"
	"        step  r27, r20\n"
	"        step  r28, r21\n"
	"        step  r29, r22\n"
	"        ADD   r12, r12, r14\n"
	"        SUB   r30, r30, #1\n"
	"      ENDLOOP\n"
	"      LD64  r10, [r2+16]\n"
	"      MUL   r13, r8, r4\n"
	"      ADD   r13, r13, r9\n"
	"      SHL   r13, r13, #2\n"
	"      ADD   r10, r10, r13    ; &C[row0][col]\n"
	"      ST32  [r10+0], r15\n"
	"      store r16\n"
	"      store r17\n"
	"      store r18\n"
	"      store r19\n"
	"      store r20\n"
	"      store r21\n"
	"      store r22\n"
	"    ENDIF\n"
	"    EXIT\n";

/* hist[in[i] % nbins] += 1, atomically */
static const char histogram_src[] =
	"; histogram: args = { u32 *in, u32 *hist, u64 n, u64 nbins }\n"
	"    S2R   r1, GLOBAL_ID\n"
	"    S2R   r2, ARGS\n"
	"    LD64  r3, [r2+16]        ; n\n"
	"    SLTU  r4, r1, r3\n"
	"    IF    r4\n"
	"      SHL   r5, r1, #2\n"
	"      LD64  r6, [r2+0]\n"
	"      ADD   r6, r6, r5\n"
	"      LD32  r7, [r6+0]\n"
	"      LD64  r8, [r2+24]      ; nbins\n"
	"      REMU  r7, r7, r8\n"
	"      SHL   r7, r7, #2\n"
	"      LD64  r9, [r2+8]\n"
	"      ADD   r9, r9, r7\n"
	"      MOVI  r10, #1\n"
	"      ATOM32 r11, [r9], r10, ADD\n"
	"    ENDIF\n"
	"    EXIT\n";

/*
 * out = in on the border; inside, ((((c + w) + e) + n) + s) * 0.2f
 */
static const char stencil2d_src[] =
	"; stencil2d: args = { f32 *in, f32 *out, u64 width, u64 height }\n"
	"    S2R   r1, GLOBAL_ID\n"
	"    S2R   r2, ARGS\n"
	"    LD64  r3, [r2+16]        ; width\n"
	"    LD64  r4, [r2+24]        ; height\n"
	"    MUL   r5, r3, r4\n"
	"    SLTU  r6, r1, r5\n"
	"    IF    r6\n"
	"      REMU  r7, r1, r3       ; x\n"
	"      DIVU  r8, r1, r3       ; y\n"
	"      LD64  r9, [r2+0]\n"
	"      SHL   r10, r1, #2\n"
	"      ADD   r9, r9, r10      ; &in[y][x]\n"
	"      LD32  r11, [r9+0]\n"
	"      SUB   r12, r3, #1\n"
	"      SLTU  r13, r7, r12     ; x < width - 1\n"
	"      SUB   r14, r4, #1\n"
	"      SLTU  r15, r8, r14     ; y < height - 1\n"
	"      AND   r13, r13, r15\n"
	"      SNE   r15, r7, #0\n"
	"      AND   r13, r13, r15\n"
	"      SNE   r15, r8, #0\n"
	"      AND   r13, r13, r15\n"
	"      IF    r13\n"
	"        LD32  r16, [r9-4]\n"
	"        FADD  r11, r11, r16\n"
	"        LD32  r16, [r9+4]\n"
	"        FADD  r11, r11, r16\n"
	"        SHL   r17, r3, #2\n"
	"        SUB   r18, r9, r17\n"
	"        LD32  r16, [r18+0]\n"
	"        FADD  r11, r11, r16\n"
	"        ADD   r18, r9, r17\n"
	"        LD32  r16, [r18+0]\n"
	"        FADD  r11, r11, r16\n"
	"        FMUL  r11, r11, #0.2f\n"
	"      ENDIF\n"
	"      LD64  r19, [r2+8]\n"
	"      ADD   r19, r19, r10\n"
	"      ST32  [r19+0], r11\n"
	"    ENDIF\n"
	"    EXIT\n";

/* One lane per list: follow next pointers, sum the values. */
static const char list_walk_src[] =
	"; list_walk: args = { node **heads, u64 *sums, u64 *lengths, u64 nlists }\n"
	";            node = { node *next, u64 value }\n"
	"    S2R   r1, GLOBAL_ID\n"
	"    S2R   r2, ARGS\n"
	"    LD64  r3, [r2+24]        ; nlists\n"
	"    SLTU  r4, r1, r3\n"
	"    IF    r4\n"
	"      SHL   r5, r1, #3\n"
	"      LD64  r6, [r2+0]\n"
	"      ADD   r6, r6, r5\n"
	"      LD64  r7, [r6+0]       ; node = heads[i]\n"
	"      MOVI  r8, #0           ; sum\n"
	"      MOVI  r9, #0           ; length\n"
	"      LOOP\n"
	"        SEQ   r10, r7, #0\n"
	"        BREAK r10\n"
	"        LD64  r11, [r7+8]\n"
	"        ADD   r8, r8, r11\n"
	"        ADD   r9, r9, #1\n"
	"        LD64  r7, [r7+0]\n"
	"      ENDLOOP\n"
	"      LD64  r12, [r2+8]\n"
	"      ADD   r12, r12, r5\n"
	"      ST64  [r12+0], r8\n"
	"      LD64  r12, [r2+16]\n"
	"      ADD   r12, r12, r5\n"
	"      ST64  [r12+0], r9\n"
	"    ENDIF\n"
	"    EXIT\n";

/* One lane per key: binary search tree descent. */
static const char tree_lookup_src[] =
	"; tree_lookup: args = { node *root, u64 *keys, u64 *values, u64 nkeys }\n"
	";              node = { node *left, node *right, u64 key, u64 value }\n"
	"    S2R   r1, GLOBAL_ID\n"
	"    S2R   r2, ARGS\n"
	"    LD64  r3, [r2+24]        ; nkeys\n"
	"    SLTU  r4, r1, r3\n"
	"    IF    r4\n"
	"      SHL   r5, r1, #3\n"
	"      LD64  r6, [r2+8]\n"
	"      ADD   r6, r6, r5\n"
	"      LD64  r7, [r6+0]       ; key\n"
	"      LD64  r8, [r2+0]       ; node = root\n"
	"      MOVI  r9, #-1          ; not found\n"
	"      LOOP\n"
	"        SEQ   r10, r8, #0\n"
	"        BREAK r10\n"
	"        LD64  r11, [r8+16]   ; node->key\n"
	"        SEQ   r12, r11, r7\n"
	"        IF    r12\n"
	"          LD64  r9, [r8+24]  ; node->value\n"
	"          MOVI  r8, #0\n"
	"        ELSE\n"
	"          SLTU  r13, r7, r11\n"
	"          LD64  r14, [r8+0]\n"
	"          LD64  r15, [r8+8]\n"
	"          SEL   r8, r14, r15, r13\n"
	"        ENDIF\n"
	"      ENDLOOP\n"
	"      LD64  r16, [r2+16]\n"
	"      ADD   r16, r16, r5\n"
	"      ST64  [r16+0], r9\n"
	"    ENDIF\n"
	"    EXIT\n";

/*
 * Coherence: hash every word, count and locate words that differ from
 * expect.  A lane sums its slice's hashes (BLOCK_SLICE) in a register and
 * adds the sum to *hash once at the end.  The comparison with expect is a
 * loop of its own: a branch on expect inside the loop, which no lane takes
 * when expect is NULL, made the hash-only loop 1.4x slower (bench-core
 * hash: a region no lane runs is still fetched, docs/isa.md).
 */
static const char range_hash_src[] =
	"; range_hash: args = { u64 *data, u64 *expect, u64 nwords, u64 *hash,\n"
	";                      u64 *mismatches, u64 *first_mismatch }\n"
	BLOCK_SLICE(16, 3)
	"    LD64  r6, [r2+0]\n"
	"    ADD   r6, r6, r5         ; &data[i]\n"
	"    LD64  r12, [r2+8]        ; expect\n"
	"    SNE   r13, r12, #0\n"
	"    ADD   r12, r12, r5       ; &expect[i]\n"
	"    LI    r18, 0x9e3779b97f4a7c15\n"
	"    LI    r19, 0xbf58476d1ce4e5b9\n"
	"    MUL   r20, r8, r18       ; i * 0x9e3779b97f4a7c15\n"
	"    MUL   r21, r11, r18      ; and its step\n"
	"    MOVI  r7, #0             ; this lane's sum\n"
	"    SLTU  r29, r8, r28       ; has it a word?\n"
	"    IF    r13\n"
	"      LOOP\n"
	"        SLEU  r4, r28, r8    ; i >= end\n"
	"        BREAK r4\n"
	"        LD64  r9, [r6+0]     ; word\n"
	"        XOR   r14, r20, r9\n"
	"        MUL   r14, r14, r19\n"
	"        SHR   r15, r14, #29\n"
	"        XOR   r14, r14, r15\n"
	"        ADD   r7, r7, r14\n"
	"        LD64  r16, [r12+0]\n"
	"        SNE   r17, r16, r9\n"
	"        IF    r17\n"
	"          LD64  r16, [r2+32]\n"
	"          MOVI  r17, #1\n"
	"          ATOM64 r22, [r16], r17, ADD\n"
	"          LD64  r16, [r2+40]\n"
	"          ATOM64 r22, [r16], r8, UMIN\n"
	"        ENDIF\n"
	"        ADD   r12, r12, r24\n"
	"        ADD   r6, r6, r24\n"
	"        ADD   r8, r8, r11\n"
	"        ADD   r20, r20, r21\n"
	"      ENDLOOP\n"
	"    ELSE\n"
	"      LOOP                   ; the same without expect\n"
	"        SLEU  r4, r28, r8\n"
	"        BREAK r4\n"
	"        LD64  r9, [r6+0]\n"
	"        XOR   r14, r20, r9\n"
	"        MUL   r14, r14, r19\n"
	"        SHR   r15, r14, #29\n"
	"        XOR   r14, r14, r15\n"
	"        ADD   r7, r7, r14\n"
	"        ADD   r6, r6, r24\n"
	"        ADD   r8, r8, r11\n"
	"        ADD   r20, r20, r21\n"
	"      ENDLOOP\n"
	"    ENDIF\n"
	"    IF    r29                ; a lane with no word writes nothing\n"
	"      LD64  r16, [r2+24]\n"
	"      ATOM64 r22, [r16], r7, ADD\n"
	"    ENDIF\n"
	"    EXIT\n";

static const struct {
	const char *name;
	const char *src;
} kernels[SVMGPU_KERNEL_COUNT] = {
	[SVMGPU_KERNEL_VECADD] = { "vecadd", vecadd_src },
	[SVMGPU_KERNEL_SAXPY] = { "saxpy", saxpy_src },
	[SVMGPU_KERNEL_REDUCE_SUM] = { "reduce_sum", reduce_src },
	[SVMGPU_KERNEL_SGEMM] = { "sgemm", sgemm_src },
	[SVMGPU_KERNEL_HISTOGRAM] = { "histogram", histogram_src },
	[SVMGPU_KERNEL_STENCIL2D] = { "stencil2d", stencil2d_src },
	[SVMGPU_KERNEL_LIST_WALK] = { "list_walk", list_walk_src },
	[SVMGPU_KERNEL_TREE_LOOKUP] = { "tree_lookup", tree_lookup_src },
	[SVMGPU_KERNEL_RANGE_HASH] = { "range_hash", range_hash_src },
};

SVMGPU_PUBLIC const char *svmgpu_kernel_source(enum svmgpu_kernel k)
{
	return (unsigned int)k < SVMGPU_KERNEL_COUNT ? kernels[k].src : NULL;
}

SVMGPU_PUBLIC const char *svmgpu_kernel_name(enum svmgpu_kernel k)
{
	return (unsigned int)k < SVMGPU_KERNEL_COUNT ? kernels[k].name : NULL;
}

SVMGPU_PUBLIC int svmgpu_kernel_program(enum svmgpu_kernel k, struct svmgpu_program **prog)
{
	if ((unsigned int)k >= SVMGPU_KERNEL_COUNT || !prog)
		return -EINVAL;
	return svmgpu_program_assemble(kernels[k].src, prog, NULL);
}

#define WG		256ull
/*
 * The grid of the kernels with BLOCK_SLICE: at most BLOCK_LANES lanes (64
 * workgroups: few enough that the prologues, reduce_sum's trees and the
 * per-lane atomics cost nothing next to the loads), and a lane per
 * SLICE_MIN elements below that (up to SLICE_MIN each, the grid rounded
 * up to whole workgroups): with one element per lane the prologue, and
 * range_hash's loop that no lane runs (still fetched), took 5x the time
 * (bench-core hash of 8192 words: 21 ns/word on 32 workgroups, 4.2 on 4).
 */
#define BLOCK_LANES	(64 * WG)
#define SLICE_MIN	8
#define WAVES(lanes)	(((lanes) + SVMGPU_ISA_WAVE_SIZE - 1) / SVMGPU_ISA_WAVE_SIZE)

/*
 * One lane per item, workgroups of 256; the budget is the kernel's
 * wave-instruction count for @items with @per_item instructions per lane
 * (loops included), with headroom.
 */
static int shape(uint64_t items, uint64_t per_item, struct svmgpu_launch *l)
{
	uint64_t groups;

	if (!items)
		return -ENODATA;
	groups = items / WG + (items % WG != 0);	/* no wrap near UINT64_MAX */
	if (groups > UINT32_MAX)
		return -E2BIG;
	l->grid[0] = (uint32_t)groups;
	l->grid[1] = 1;
	l->grid[2] = 1;
	l->wg_size = (uint32_t)(items < WG ? items : WG);
	if (per_item > UINT64_MAX / 2 / (groups * (WG / SVMGPU_ISA_WAVE_SIZE)))
		l->budget = UINT64_MAX;
	else
		l->budget = 2 * groups * (WG / SVMGPU_ISA_WAVE_SIZE) * per_item;
	if (l->budget < SVMGPU_DEFAULT_BUDGET)
		l->budget = SVMGPU_DEFAULT_BUDGET;
	return 0;
}

/*
 * A kernel with BLOCK_SLICE over @n elements: a lane per SLICE_MIN
 * elements, at most BLOCK_LANES lanes; @per_element wave-instructions per
 * element of a lane plus a prologue (and reduce_sum's tree) of 200.
 */
static int sliced(uint64_t n, uint64_t per_element, struct svmgpu_launch *l)
{
	uint64_t lanes = n / SLICE_MIN + (n % SLICE_MIN != 0);

	if (lanes > BLOCK_LANES)
		lanes = BLOCK_LANES;
	return shape(lanes, 200 + per_element * (lanes ? n / lanes + 1 : 0), l);
}

SVMGPU_PUBLIC int svmgpu_kernel_launch_shape(enum svmgpu_kernel k, const void *args,
					     struct svmgpu_launch *l)
{
	int ret;

	if (!args || !l)
		return -EINVAL;
	*l = (struct svmgpu_launch){ { 1, 1, 1 }, 1, 0, { 0, 0 } };
	switch (k) {
	case SVMGPU_KERNEL_VECADD:
		/* 11 wave-instructions per element of a lane */
		return sliced(((const struct svmgpu_vecadd_args *)args)->n, 16, l);
	case SVMGPU_KERNEL_SAXPY:
		return sliced(((const struct svmgpu_saxpy_args *)args)->n, 16, l);
	case SVMGPU_KERNEL_REDUCE_SUM:
		/* the block loop: 7 wave-instructions per element of a lane */
		ret = sliced(((const struct svmgpu_reduce_args *)args)->n, 8, l);
		l->wg_size = SVMGPU_REDUCE_WG_SIZE;	/* the tree needs a power of two */
		return ret;
	case SVMGPU_KERNEL_SGEMM: {
		const struct svmgpu_sgemm_args *a = args;

		if (a->m && a->n > UINT64_MAX / a->m)
			return -E2BIG;
		if (a->k > UINT64_MAX / 16)
			return -E2BIG;
		/* a lane per 8 rows of a column; 30 wave-instructions per i */
		return shape((a->m / 8 + (a->m % 8 != 0)) * a->n,
			     a->k > (UINT64_MAX - 160) / 32 ? UINT64_MAX : 160 + 32 * a->k, l);
	}
	case SVMGPU_KERNEL_HISTOGRAM:
		if (!((const struct svmgpu_histogram_args *)args)->nbins)
			return -EINVAL;
		return shape(((const struct svmgpu_histogram_args *)args)->n, 32, l);
	case SVMGPU_KERNEL_STENCIL2D: {
		const struct svmgpu_stencil2d_args *a = args;

		if (a->width && a->height > UINT64_MAX / a->width)
			return -E2BIG;
		return shape(a->width * a->height, 64, l);
	}
	case SVMGPU_KERNEL_LIST_WALK:
		/* the walk length is unknown: a generous budget still stops a cycle */
		ret = shape(((const struct svmgpu_list_walk_args *)args)->nlists, 1ull << 20, l);
		return ret;
	case SVMGPU_KERNEL_TREE_LOOKUP:
		return shape(((const struct svmgpu_tree_lookup_args *)args)->nkeys, 1ull << 12, l);
	case SVMGPU_KERNEL_RANGE_HASH:
		/* the compare loop, every word a mismatch: 22 wave-instructions per word */
		return sliced(((const struct svmgpu_range_hash_args *)args)->nwords, 24, l);
	default:
		return -EINVAL;
	}
}

SVMGPU_PUBLIC uint64_t svmgpu_hash_word(uint64_t word, uint64_t index)
{
	uint64_t h = (0x9e3779b97f4a7c15ull * index) ^ word;

	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 29);
}
