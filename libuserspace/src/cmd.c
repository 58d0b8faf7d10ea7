// SPDX-License-Identifier: MIT
/*
 * Command builders: each fills one struct svmgpu_cmd (docs/hw-spec.md
 * §8.1) and rejects, with -EINVAL, what the device would fail with
 * ERR_BAD_COMMAND or ERR_INVALID_VA.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define VA_LIMIT	(1ull << SVMGPU_VA_BITS)

static int hdr(struct svmgpu_cmd *cmd, uint8_t opcode, unsigned int flags)
{
	if (!cmd || (flags & ~SVMGPU_CMD_FLAGS_VALID))
		return -EINVAL;
	memset(cmd, 0, sizeof(*cmd));
	cmd->hdr.opcode = opcode;
	cmd->hdr.flags = (uint8_t)flags;
	return 0;
}

static uint64_t va(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* [p, p + size) lies below 2^48 and does not wrap. */
static int range_ok(const void *p, uint64_t size)
{
	return va(p) < VA_LIMIT && size <= VA_LIMIT - va(p);
}

SVMGPU_PUBLIC int svmgpu_cmd_nop(struct svmgpu_cmd *cmd, unsigned int flags)
{
	return hdr(cmd, SVMGPU_CMD_NOP, flags);
}

SVMGPU_PUBLIC int svmgpu_cmd_copy(struct svmgpu_cmd *cmd, void *dst, const void *src, uint64_t size,
				  unsigned int flags)
{
	if (!range_ok(dst, size) || !range_ok(src, size))
		return -EINVAL;
	if (hdr(cmd, SVMGPU_CMD_COPY, flags))
		return -EINVAL;
	cmd->copy.dst = va(dst);
	cmd->copy.src = va(src);
	cmd->copy.size = size;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_cmd_fill(struct svmgpu_cmd *cmd, void *dst, uint64_t size, uint64_t value,
				  unsigned int width, unsigned int flags)
{
	if (width != 1 && width != 2 && width != 4 && width != 8)
		return -EINVAL;
	if ((va(dst) | size) & (width - 1) || !range_ok(dst, size))
		return -EINVAL;
	if (hdr(cmd, SVMGPU_CMD_FILL, flags))
		return -EINVAL;
	cmd->fill.dst = va(dst);
	cmd->fill.size = size;
	cmd->fill.value = width == 8 ? value : value & ((1ull << (8 * width)) - 1);
	cmd->fill.width = width;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_cmd_atomic(struct svmgpu_cmd *cmd, void *p, unsigned int op, unsigned int size,
				    uint64_t operand, uint64_t compare, void *result, unsigned int flags)
{
	if (op >= SVMGPU_ATOMIC_NUM_OPS || (size != 4 && size != 8))
		return -EINVAL;
	if (va(p) & (size - 1) || !p || !range_ok(p, size))
		return -EINVAL;
	if (result && (va(result) & (size - 1) || !range_ok(result, size)))
		return -EINVAL;
	if (hdr(cmd, SVMGPU_CMD_ATOMIC, flags))
		return -EINVAL;
	cmd->atomic.va = va(p);
	cmd->atomic.op = (uint8_t)op;
	cmd->atomic.size = (uint8_t)size;
	cmd->atomic.operand = operand;
	cmd->atomic.compare = op == SVMGPU_ATOMIC_CMPXCHG ? compare : 0;
	cmd->atomic.result_va = va(result);
	return 0;
}

SVMGPU_PUBLIC int svmgpu_cmd_signal(struct svmgpu_cmd *cmd, uint64_t *p, uint64_t value, unsigned int flags)
{
	if (!p || va(p) & 7 || !range_ok(p, 8))
		return -EINVAL;
	if (hdr(cmd, SVMGPU_CMD_SIGNAL, flags))
		return -EINVAL;
	cmd->signal.va = va(p);
	cmd->signal.value = value;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_cmd_wait(struct svmgpu_cmd *cmd, const uint64_t *p, unsigned int cond,
				  uint64_t value, uint64_t mask, uint64_t timeout_ns, unsigned int flags)
{
	if (!p || va(p) & 7 || !range_ok(p, 8) || cond >= SVMGPU_WAIT_NUM_CONDS)
		return -EINVAL;
	if (hdr(cmd, SVMGPU_CMD_WAIT, flags))
		return -EINVAL;
	cmd->wait.va = va(p);
	cmd->wait.cond = cond;
	cmd->wait.value = value;
	cmd->wait.mask = mask;
	cmd->wait.timeout_ns = timeout_ns;
	return 0;
}

SVMGPU_PUBLIC int svmgpu_cmd_timestamp(struct svmgpu_cmd *cmd, uint64_t *p, unsigned int flags)
{
	if (!p || va(p) & 7 || !range_ok(p, 8))
		return -EINVAL;
	if (hdr(cmd, SVMGPU_CMD_TIMESTAMP, flags))
		return -EINVAL;
	cmd->timestamp.va = va(p);
	return 0;
}

SVMGPU_PUBLIC int svmgpu_cmd_launch(struct svmgpu_cmd *cmd, const void *code, const void *args,
				    const struct svmgpu_launch *l, unsigned int flags)
{
	if (!code || !l || va(code) & 7 || !range_ok(code, 8) || va(args) >= VA_LIMIT)
		return -EINVAL;
	if (!l->grid[0] || !l->grid[1] || !l->grid[2] ||
	    !l->wg_size || l->wg_size > SVMGPU_ISA_MAX_WG_SIZE)
		return -EINVAL;
	if (hdr(cmd, SVMGPU_CMD_LAUNCH, flags))
		return -EINVAL;
	cmd->launch.code_va = va(code);
	cmd->launch.args_va = va(args);
	cmd->launch.grid_x = l->grid[0];
	cmd->launch.grid_y = l->grid[1];
	cmd->launch.grid_z = l->grid[2];
	cmd->launch.wg_size = l->wg_size;
	cmd->launch.budget = l->budget;
	return 0;
}

static const char *const error_names[] = {
	[SVMGPU_ERR_NONE] = "none",
	[SVMGPU_ERR_BAD_OPCODE] = "bad opcode",
	[SVMGPU_ERR_BAD_COMMAND] = "bad command",
	[SVMGPU_ERR_FAULT_CANCELLED] = "fault cancelled",
	[SVMGPU_ERR_INVALID_VA] = "invalid VA",
	[SVMGPU_ERR_CTX_INVALID] = "context invalid",
	[SVMGPU_ERR_DMA] = "DMA error",
	[SVMGPU_ERR_WAIT_TIMEOUT] = "wait timeout",
	[SVMGPU_ERR_WATCHDOG] = "watchdog",
	[SVMGPU_ERR_ILLEGAL_INSTRUCTION] = "illegal instruction",
	[SVMGPU_ERR_MISALIGNED] = "misaligned access",
	[SVMGPU_ERR_BAD_QUEUE_CONFIG] = "bad queue config",
	[SVMGPU_ERR_BAD_DOORBELL] = "bad doorbell",
	[SVMGPU_ERR_RING_DMA] = "ring DMA error",
	[SVMGPU_ERR_SAVE_AREA] = "save area error",
};

SVMGPU_PUBLIC const char *svmgpu_error_name(uint32_t code)
{
	if (code == SVMGPU_ERROR_RESET)
		return "device reset";
	if (code == SVMGPU_ERROR_HANG)
		return "queue hang";
	if (code < ARRAY_SIZE(error_names) && error_names[code])
		return error_names[code];
	return "unknown";
}

SVMGPU_PUBLIC const char *svmgpu_access_name(uint32_t access)
{
	static const char *const names[] = { "none", "read", "write", "atomic" };

	return access < ARRAY_SIZE(names) ? names[access] : "unknown";
}
