/* SPDX-License-Identifier: MIT */
/*
 * A reference interpreter of the svmgpu ISA (docs/isa.md) for host tests.
 * It runs a LAUNCH on host memory: VAs are this process's pointers, as
 * they are for the device.  It has no MMU (every address is present) and
 * runs workgroups one after another, waves interleaved one instruction at
 * a time, like the device.
 */
#ifndef ISA_SIM_H
#define ISA_SIM_H

#include <stdint.h>

#include <svmgpu/svmgpu_hw.h>

struct sim_result {
	uint32_t error;		/* enum svmgpu_error */
	uint64_t err_va;	/* pc or address */
	uint64_t instructions;	/* wave-instructions executed */
};

/* Run @l's kernel; returns 0 or the enum svmgpu_error of the failure. */
int sim_launch(const struct svmgpu_cmd_launch *l, struct sim_result *res);

#endif
