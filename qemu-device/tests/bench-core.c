/*
 * Host microbenchmark of the svmgpu core (not a test): a streaming vecadd
 * kernel, a RANGE_HASH-like kernel (load + atomic per word), and COPY/FILL
 * over resident 4 KiB pages, run in sync mode against the fake RAM of
 * test-env.h.  Prints ns per word and GB/s.  Build: ninja -C build/meson
 * qemu-device/tests/bench-core; run: build/meson/qemu-device/tests/bench-core
 * [WORDS] (default 1M words per buffer).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <time.h>

#include "test-env.h"

#define I(op, rd, ra, rb, imm) SVMGPU_ISA_ENCODE(SVMGPU_OP_##op, rd, ra, rb, imm)
#define IMM     0xff
#define CODE    0x10000ull
#define ARGS    0x20000ull
#define BUF_A   0x1000000ull
#define BUF_B   0x2000000ull
#define BUF_C   0x3000000ull

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double run_kernel(TestDev *t, const uint64_t *prog, size_t n,
                         uint32_t groups, uint32_t wg)
{
    struct svmgpu_cmd c;
    double t0;
    size_t i;

    for (i = 0; i < n; i++) {
        ((uint64_t *)va_ptr(t, 0, CODE))[i] = prog[i];
    }
    memset(&c, 0, sizeof(c));
    c.hdr.opcode = SVMGPU_CMD_LAUNCH;
    c.launch.code_va = CODE;
    c.launch.args_va = ARGS;
    c.launch.grid_x = groups;
    c.launch.grid_y = c.launch.grid_z = 1;
    c.launch.wg_size = wg;
    c.launch.budget = 1ull << 40;
    t0 = now_s();
    submit(t, 0, &c);
    t0 = now_s() - t0;
    if (compl(t, 0)->err_code) {
        printf("# kernel failed: %u\n", compl(t, 0)->err_code);
    }
    return t0;
}

static double run_cmd(TestDev *t, struct svmgpu_cmd *c)
{
    double t0 = now_s();

    submit(t, 0, c);
    t0 = now_s() - t0;
    if (compl(t, 0)->err_code) {
        printf("# command failed: %u\n", compl(t, 0)->err_code);
    }
    return t0;
}

int main(int argc, char **argv)
{
    const uint64_t words = argc > 1 ? (uint64_t)atol(argv[1]) : 1u << 20;
    const uint64_t bytes = words * 8;
    uint64_t vecadd[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_GLOBAL_ID),
        I(S2R, 9, 0, 0, SVMGPU_SR_ARGS),
        I(SHL, 1, 1, IMM, 3),
        I(LD64, 2, 9, 0, 0),
        I(LD64, 3, 9, 0, 8),
        I(LD64, 4, 9, 0, 16),
        I(ADD, 2, 2, 1, 0),
        I(ADD, 3, 3, 1, 0),
        I(ADD, 4, 4, 1, 0),
        I(LD64, 5, 2, 0, 0),
        I(LD64, 6, 3, 0, 0),
        I(ADD, 5, 5, 6, 0),
        I(ST64, 0, 4, 5, 0),
        I(EXIT, 0, 0, 0, 0),
    };
    uint64_t hash[] = {
        I(S2R, 1, 0, 0, SVMGPU_SR_GLOBAL_ID),
        I(S2R, 9, 0, 0, SVMGPU_SR_ARGS),
        I(SHL, 1, 1, IMM, 3),
        I(LD64, 2, 9, 0, 0),
        I(LD64, 4, 9, 0, 16),
        I(ADD, 2, 2, 1, 0),
        I(LD64, 5, 2, 0, 0),
        I(MUL, 5, 5, IMM, 0x3b9),
        I(XOR, 5, 5, 1, 0),
        I(ATOM64, 6, 4, 5, SVMGPU_ISA_ATOM_IMM(SVMGPU_ATOMIC_ADD, 0)),
        I(EXIT, 0, 0, 0, 0),
    };
    struct svmgpu_cmd c;
    TestDev t;
    uint64_t *args, i;
    double dt;

    td_init(&t);
    ctx_create(&t, 0);
    queue_setup(&t, 0, 0, 64);
    map_range(&t, 0, CODE, 0x1000, 0);
    map_range(&t, 0, ARGS, 0x1000, SVMGPU_PTE_WRITABLE);
    map_range(&t, 0, BUF_A, bytes, SVMGPU_PTE_WRITABLE);
    map_range(&t, 0, BUF_B, bytes, SVMGPU_PTE_WRITABLE);
    map_range(&t, 0, BUF_C, bytes, SVMGPU_PTE_WRITABLE);
    args = va_ptr(&t, 0, ARGS);
    args[0] = BUF_A;
    args[1] = BUF_B;
    args[2] = BUF_C;

    dt = run_kernel(&t, vecadd, 14, words / 256, 256);
    printf("vecadd      %8.1f ns/word %8.4f GB/s (3 streams)\n",
           dt * 1e9 / words, 3.0 * bytes / dt / 1e9);
    args[2] = ARGS + 64;
    dt = run_kernel(&t, hash, 11, words / 256, 256);
    printf("range_hash  %8.1f ns/word\n", dt * 1e9 / words);

    for (i = 0; i < 3; i++) {
        memset(&c, 0, sizeof(c));
        c.hdr.opcode = SVMGPU_CMD_COPY;
        c.copy.src = BUF_A;
        c.copy.dst = BUF_B;
        c.copy.size = bytes;
        dt = run_cmd(&t, &c);
        printf("copy  %4llu MiB %8.2f GB/s\n",
               (unsigned long long)(bytes >> 20), bytes / dt / 1e9);
        memset(&c, 0, sizeof(c));
        c.hdr.opcode = SVMGPU_CMD_FILL;
        c.fill.dst = BUF_C;
        c.fill.size = bytes;
        c.fill.width = 4;
        c.fill.value = 0x12345678;
        dt = run_cmd(&t, &c);
        printf("fill  %4llu MiB %8.2f GB/s\n",
               (unsigned long long)(bytes >> 20), bytes / dt / 1e9);
    }
    printf("TLB hits %llu misses %llu walks %llu\n",
           (unsigned long long)rd(&t, SVMGPU_REG_CNT_TLB_HITS),
           (unsigned long long)rd(&t, SVMGPU_REG_CNT_TLB_MISSES),
           (unsigned long long)rd(&t, SVMGPU_REG_CNT_PAGE_WALKS));
    td_fini(&t);
    return 0;
}
