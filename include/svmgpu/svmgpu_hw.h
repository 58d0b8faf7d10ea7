/* SPDX-License-Identifier: MIT */
/*
 * svmgpu hardware interface: BAR0 registers, page-table entries, context
 * table, fault records, command-queue formats and the compute ISA encoding.
 *
 * This header is the one place these layouts are defined; the QEMU device
 * model, its host tests and the kernel driver all include it.
 * docs/hw-spec.md and docs/isa.md describe the meaning of every field.
 *
 * Everything the device reads or writes in memory is little-endian.
 * Access kinds beside registers: RO read-only, RW read/write, WO write-only
 * (reads return 0), W1C write 1 to clear.
 */
#ifndef SVMGPU_HW_H
#define SVMGPU_HW_H

#ifdef __KERNEL__
#include <linux/types.h>	/* uint8_t .. uint64_t are defined there too */
#else
#include <stdint.h>
#endif

/* PCI identity: Red Hat's experimental range (QEMU docs/specs/pci-ids.txt). */
#define SVMGPU_PCI_VENDOR_ID		0x1af4
#define SVMGPU_PCI_DEVICE_ID		0x10f5
#define SVMGPU_PCI_REVISION		0x01
#define SVMGPU_PCI_CLASS		0x0380	/* display controller, other */

/* BARs */
#define SVMGPU_BAR_REGS			0	/* BAR0: registers, 64-bit MMIO */
#define SVMGPU_BAR_REGS_SIZE		0x10000
#define SVMGPU_BAR_MSIX			2	/* BAR2: MSI-X table and PBA */
#define SVMGPU_BAR_LOCAL		4	/* BAR4: device-local memory, 64-bit prefetchable (only if LOCAL_MEM_SIZE != 0) */

/* Device-local memory (hw-spec 5a): size limits and granule. */
#define SVMGPU_LOCAL_MEM_GRANULE	(2ull << 20)	/* LOCAL_MEM_SIZE is a multiple of 2 MiB */
#define SVMGPU_LOCAL_MEM_MAX		(64ull << 30)

/* Device limits (the QOM properties may only lower them). */
#define SVMGPU_MAX_QUEUES		16
#define SVMGPU_MIN_QUEUES		1
#define SVMGPU_MAX_ENGINES		8
#define SVMGPU_MAX_CONTEXTS		4096
#define SVMGPU_FAULT_RING_MIN		4
#define SVMGPU_FAULT_RING_MAX		65536
#define SVMGPU_QUEUE_MIN_ENTRIES	2
#define SVMGPU_QUEUE_MAX_ENTRIES	65536

/* ---------------------------------------------------------------------
 * BAR0 global registers
 */
#define SVMGPU_REG_ID			0x0000	/* RO, 32: SVMGPU_ID_MAGIC */
#define SVMGPU_ID_MAGIC			0x474d5653	/* "SVMG" in little-endian byte order */
#define SVMGPU_REG_VERSION		0x0004	/* RO, 32: major << 16 | minor */
#define SVMGPU_VERSION_MAJOR		1
/* 1.1: preemption, priorities, Q_START (§16); 1.2: FFMA, DFMA (CAPS_FMA) */
#define SVMGPU_VERSION_MINOR		2
#define SVMGPU_VERSION			((SVMGPU_VERSION_MAJOR << 16) | SVMGPU_VERSION_MINOR)
#define SVMGPU_REG_NUM_QUEUES		0x0008	/* RO, 32 */
#define SVMGPU_REG_NUM_ENGINES		0x000c	/* RO, 32 */
#define SVMGPU_REG_TLB_SETS		0x0010	/* RO, 32 */
#define SVMGPU_REG_TLB_WAYS		0x0014	/* RO, 32 */
#define SVMGPU_REG_FAULT_RING_ENTRIES	0x0018	/* RO, 32: power of two */
#define SVMGPU_REG_NUM_CONTEXTS		0x001c	/* RO, 32: SVMGPU_MAX_CONTEXTS */
#define SVMGPU_REG_LOCAL_MEM_SIZE	0x0020	/* RO, 64: bytes of device-local memory (BAR4), 0 = none */
#define SVMGPU_REG_CAPS			0x0028	/* RO, 32 */
#define  SVMGPU_CAPS_LEAF_2M		(1u << 0)
#define  SVMGPU_CAPS_LEAF_1G		(1u << 1)
#define  SVMGPU_CAPS_FP64		(1u << 2)
#define  SVMGPU_CAPS_INTX		(1u << 3)
#define  SVMGPU_CAPS_LOCAL_MEM		(1u << 4)	/* LOCAL_MEM_SIZE != 0: BAR4 and aperture 1 */
#define  SVMGPU_CAPS_PREEMPT		(1u << 5)	/* Q_SAVE_ADDR, Q_PRIORITY, Q_START, PREEMPT/RESUME (§16) */
#define  SVMGPU_CAPS_FMA		(1u << 6)	/* ISA FFMA, DFMA (docs/isa.md) */
#define SVMGPU_REG_CONTROL		0x0030	/* RW, 32, reset 0 */
#define  SVMGPU_CONTROL_ENABLE		(1u << 0)	/* engines run */
#define  SVMGPU_CONTROL_RESET		(1u << 1)	/* W: soft reset, reads 0 */
#define SVMGPU_REG_STATUS		0x0034	/* RO, 32 */
#define  SVMGPU_STATUS_ENABLED		(1u << 0)
#define  SVMGPU_STATUS_IDLE		(1u << 1)	/* no queue has work */
#define  SVMGPU_STATUS_FAULT_STALL	(1u << 2)	/* a queue waits for a reply */
#define  SVMGPU_STATUS_FAULT_RING_FULL	(1u << 3)	/* a queue waits for ring space */
#define  SVMGPU_STATUS_INVAL_BUSY	(1u << 4)
#define  SVMGPU_STATUS_ERROR		(1u << 5)	/* ERROR_STATUS != 0 */
#define  SVMGPU_STATUS_RESET_PENDING	(1u << 6)	/* a step begun before the last reset still runs (writes nothing) */
#define SVMGPU_REG_ERROR_STATUS		0x0038	/* W1C, 32, reset 0 */
#define  SVMGPU_ERROR_QUEUE		(1u << 0)	/* a queue halted, see Q_ERROR_* */
#define  SVMGPU_ERROR_FAULT_RING_FULL	(1u << 1)	/* a fault waits for ring space */
#define  SVMGPU_ERROR_FAULT_RING_DMA	(1u << 2)	/* fault record write failed */
#define  SVMGPU_ERROR_CTX		(1u << 3)	/* CTX_ENABLE rejected */
#define  SVMGPU_ERROR_INVAL		(1u << 4)	/* bad invalidation request */
#define  SVMGPU_ERROR_REG		(1u << 5)	/* bad register write, ignored */
#define  SVMGPU_ERROR_COMPLETION_DMA	(1u << 6)	/* completion write failed */
#define  SVMGPU_ERROR_FATAL		(1u << 7)	/* engines stopped until reset; W1C ignored */
#define SVMGPU_REG_ERROR_ADDR		0x0040	/* RO, 64: DMA address or register of the last error */
#define SVMGPU_REG_TIMESTAMP		0x0048	/* RO, 64: device clock, ns; reading the low half latches the high half */
#define SVMGPU_REG_INTR_STATUS		0x0050	/* W1C, 32, reset 0 */
#define SVMGPU_REG_INTR_MASK		0x0054	/* RW, 32, reset 0; 1 = masked */
#define  SVMGPU_INTR_ERROR		(1u << 0)
#define  SVMGPU_INTR_FAULT		(1u << 1)
#define  SVMGPU_INTR_INVAL		(1u << 2)
#define  SVMGPU_INTR_QUEUE_SHIFT	8
#define  SVMGPU_INTR_QUEUE(q)		(1u << (SVMGPU_INTR_QUEUE_SHIFT + (q)))

/* Context table */
#define SVMGPU_REG_CTX_TABLE_BASE	0x0060	/* RW, 64, reset 0: DMA address, 4 KiB aligned */
#define SVMGPU_REG_CTX_TABLE_ENTRIES	0x0068	/* RW, 32, reset 0: 0..NUM_CONTEXTS */
#define SVMGPU_REG_CTX_ENABLE		0x006c	/* WO, 32: context id */
#define SVMGPU_REG_CTX_DISABLE		0x0070	/* WO, 32: context id */
#define SVMGPU_REG_CTX_SELECT		0x0074	/* RW, 32, reset 0 */
#define SVMGPU_REG_CTX_STATE		0x0078	/* RO, 32: state of CTX_SELECT */
#define  SVMGPU_CTX_STATE_ENABLED	(1u << 0)

/* TLB invalidation */
#define SVMGPU_REG_TLB_INV_CTX		0x0080	/* RW, 32, reset 0 */
#define SVMGPU_REG_TLB_INV_FLAGS	0x0084	/* RW, 32, reset 0 */
#define  SVMGPU_TLB_INV_ALL_CONTEXTS	(1u << 0)
#define  SVMGPU_TLB_INV_WHOLE_CONTEXT	(1u << 1)
#define SVMGPU_REG_TLB_INV_START	0x0088	/* RW, 64, reset 0: VA */
#define SVMGPU_REG_TLB_INV_SIZE		0x0090	/* RW, 64, reset 0: bytes */
#define SVMGPU_REG_TLB_INV_SUBMIT	0x0098	/* WO, 32: any value queues a request */
#define SVMGPU_REG_TLB_INV_REQ_SEQ	0x009c	/* RO, 32: requests queued so far */
#define SVMGPU_REG_TLB_INV_DONE_SEQ	0x00a0	/* RO, 32: requests completed so far */
#define SVMGPU_REG_TLB_INV_DONE_ADDR	0x00a8	/* RW, 64, reset 0: DMA address for DONE_SEQ (u64), 0 = none */

/* Fault ring */
#define SVMGPU_REG_FAULT_RING_BASE	0x00c0	/* RW, 64, reset 0: DMA address, 4 KiB aligned */
#define SVMGPU_REG_FAULT_PUT		0x00c8	/* RO, 32, reset 0: free-running producer index */
#define SVMGPU_REG_FAULT_GET		0x00cc	/* RW, 32, reset 0: free-running consumer index */
#define SVMGPU_REG_FAULT_REPLY		0x00d0	/* WO, 64 (or 32 low + 32 high, high last) */
#define  SVMGPU_FAULT_REPLY_OP_MASK	0xfull
#define  SVMGPU_FAULT_REPLY_REPLAY	0x1ull	/* every fault-stalled queue retries */
#define  SVMGPU_FAULT_REPLY_CANCEL	0x2ull	/* fail the faulting command of QUEUE if SEQ matches */
#define  SVMGPU_FAULT_REPLY_QUEUE_SHIFT	8
#define  SVMGPU_FAULT_REPLY_QUEUE_MASK	(0xffull << SVMGPU_FAULT_REPLY_QUEUE_SHIFT)
#define  SVMGPU_FAULT_REPLY_SEQ_SHIFT	32
#define  SVMGPU_FAULT_REPLY_CANCEL_VAL(q, seq) \
	(SVMGPU_FAULT_REPLY_CANCEL | ((uint64_t)(q) << SVMGPU_FAULT_REPLY_QUEUE_SHIFT) | \
	 ((uint64_t)(seq) << SVMGPU_FAULT_REPLY_SEQ_SHIFT))
#define SVMGPU_REG_FAULT_SEQ		0x00d8	/* RO, 32: seq of the last fault record written */

/* Link model (hw-spec 5a): 0 = not modelled (full speed) */
#define SVMGPU_REG_LINK_BANDWIDTH	0x00e0	/* RO, 32: MB/s of system-memory data traffic, 0 = unlimited */
#define SVMGPU_REG_LINK_LATENCY		0x00e4	/* RO, 32: ns added per link burst, 0 = none */

/* Counters: RO, 64, reset 0, wrap */
#define SVMGPU_REG_CNT_TLB_HITS		0x0100
#define SVMGPU_REG_CNT_TLB_MISSES	0x0108
#define SVMGPU_REG_CNT_TLB_EVICTIONS	0x0110
#define SVMGPU_REG_CNT_TLB_INVALIDATIONS 0x0118
#define SVMGPU_REG_CNT_PAGE_WALKS	0x0120
#define SVMGPU_REG_CNT_FAULTS		0x0128
#define SVMGPU_REG_CNT_REPLAYS		0x0130
#define SVMGPU_REG_CNT_CANCELS		0x0138
#define SVMGPU_REG_CNT_COMMANDS		0x0140
#define SVMGPU_REG_CNT_INSTRUCTIONS	0x0148
/* 0x150..0x16f: data bytes moved by the engines (hw-spec 5a) */
#define SVMGPU_REG_CNT_LINK_READ_BYTES	0x0150	/* system memory (aperture 0) read */
#define SVMGPU_REG_CNT_LINK_WRITE_BYTES	0x0158	/* system memory (aperture 0) written */
#define SVMGPU_REG_CNT_LOCAL_READ_BYTES	0x0160	/* device-local memory (aperture 1) read */
#define SVMGPU_REG_CNT_LOCAL_WRITE_BYTES 0x0168	/* device-local memory (aperture 1) written */
#define SVMGPU_REG_CNT_PREEMPTIONS	0x0170	/* queue states saved (§16) */
/* 0x170..0x1ff: free for further counters; 0x200..0x2ff: fault injection (hw-spec 15) */

/* Fault injection (bring-up, hw-spec 15); all reset to the x-inject-* properties (0) */
#define SVMGPU_REG_INJ_HANG_QUEUES	0x0200	/* RW, 32: bit q set: queue q makes no progress */
#define SVMGPU_REG_INJ_DROP_IRQS	0x0204	/* RW, 32: the next N interrupt messages are not sent */
#define SVMGPU_REG_INJ_INVAL_REFUSE	0x0208	/* RW, 32: refuse the next N TLB invalidation requests */
#define SVMGPU_REG_INJ_CORRUPT_COMPL	0x020c	/* RW, 32: corrupt the next N completion records */
#define SVMGPU_REG_INJ_FATAL		0x0210	/* WO, 32: bit0: raise ERROR_STATUS.FATAL */
#define SVMGPU_REG_CNT_INJECTED		0x0218	/* RO, 64: injected failures applied */
#define SVMGPU_REG_INJ_IRQ_DELAY_US	0x0220	/* RW, 32: every interrupt message is sent this many µs late, 0 = off */
#define SVMGPU_REG_INJ_INVAL_DELAY_US	0x0224	/* RW, 32: every invalidation completes this many µs late, 0 = off */
#define SVMGPU_REG_INJ_STALL_FAULT_RING	0x0228	/* RW, 32: bit0: no fault record is written (faulting queues stall as RING_FULL) */
#define SVMGPU_REG_INJ_ENABLE_REFUSE	0x022c	/* RW, 32: the next N CONTROL.ENABLE writes leave the device disabled; kept by CONTROL.RESET */
#define SVMGPU_INJ_DELAY_MAX_US		1000000u

/* ---------------------------------------------------------------------
 * Per-queue registers: SVMGPU_REG_Q(q, reg)
 */
#define SVMGPU_REG_QUEUE_BASE		0x1000
#define SVMGPU_REG_QUEUE_STRIDE		0x80
#define SVMGPU_REG_Q(q, reg)		(SVMGPU_REG_QUEUE_BASE + (q) * SVMGPU_REG_QUEUE_STRIDE + (reg))
#define SVMGPU_Q_BASE			0x00	/* RW, 64, reset 0: ring DMA address, 64 B aligned */
#define SVMGPU_Q_SIZE			0x08	/* RW, 32, reset 0: entries, power of two */
#define SVMGPU_Q_CTX			0x0c	/* RW, 32, reset 0: context id */
#define SVMGPU_Q_COMPL_ADDR		0x10	/* RW, 64, reset 0: completion record DMA address, 64 B aligned, 0 = none */
#define SVMGPU_Q_CONTROL		0x18	/* RW, 32, reset 0 */
#define  SVMGPU_Q_CONTROL_ENABLE	(1u << 0)
#define  SVMGPU_Q_CONTROL_CLEAR_ERROR	(1u << 1)	/* W: resume after an error, reads 0 */
#define  SVMGPU_Q_CONTROL_PREEMPT	(1u << 2)	/* W with ENABLE: save the state and stop (§16), reads 0 */
#define  SVMGPU_Q_CONTROL_RESUME		(1u << 3)	/* W with ENABLE 0->1: continue from Q_SAVE_ADDR's state, reads 0 */
#define SVMGPU_Q_STATUS			0x1c	/* RO, 32 */
#define  SVMGPU_Q_STATUS_ENABLED	(1u << 0)
#define  SVMGPU_Q_STATUS_IDLE		(1u << 1)	/* no step running; disabled, halted or drained */
#define  SVMGPU_Q_STATUS_FAULT_STALL	(1u << 2)
#define  SVMGPU_Q_STATUS_RING_FULL_STALL (1u << 3)
#define  SVMGPU_Q_STATUS_WAITING	(1u << 4)	/* in a WAIT command */
#define  SVMGPU_Q_STATUS_ERROR		(1u << 5)	/* halted, see Q_ERROR_* */
#define  SVMGPU_Q_STATUS_ENABLE_PENDING	(1u << 6)	/* enabled; a step begun before still runs, the queue starts after it */
#define  SVMGPU_Q_STATUS_PREEMPT_PENDING	(1u << 7)	/* PREEMPT requested, state not saved yet */
#define  SVMGPU_Q_STATUS_PREEMPTED	(1u << 8)	/* state saved at Q_SAVE_ADDR, queue disabled; cleared by the next enable */
#define SVMGPU_Q_HEAD			0x20	/* RO, 32, reset 0: next entry the device reads */
#define SVMGPU_Q_TAIL			0x24	/* RW, 32, reset 0: doorbell, one past the last valid entry */
#define SVMGPU_Q_COMPL_SEQ		0x28	/* RO, 64, reset 0: seq of the last completed command */
#define SVMGPU_Q_ERROR_CODE		0x30	/* RO, 32: enum svmgpu_error */
#define SVMGPU_Q_ERROR_INFO		0x34	/* RO, 32: SVMGPU_ERROR_INFO(access, reason) */
#define SVMGPU_Q_ERROR_VA		0x38	/* RO, 64 */
#define SVMGPU_Q_ERROR_SEQ		0x40	/* RO, 64: seq of the failed command */
#define SVMGPU_Q_SAVE_ADDR		0x48	/* RW, 64, reset 0: save area DMA address, 4 KiB aligned, 0 = none; latched at enable */
#define SVMGPU_Q_PRIORITY		0x50	/* RW, 32, reset 0: 0..SVMGPU_Q_PRIORITY_MAX, higher served first; latched at enable */
#define SVMGPU_Q_PRIORITY_MAX		3
#define SVMGPU_Q_START			0x54	/* RW, 32, reset 0: ring index an enable starts at (Q_HEAD = Q_TAIL = Q_START); latched at enable */

#define SVMGPU_ERROR_INFO(access, reason)	((uint32_t)(access) | ((uint32_t)(reason) << 8))
#define SVMGPU_ERROR_INFO_ACCESS(info)		((info) & 0xff)
#define SVMGPU_ERROR_INFO_REASON(info)		(((info) >> 8) & 0xff)

/* ---------------------------------------------------------------------
 * MSI-X vectors (fixed assignment); MSI-X table size = 3 + NUM_QUEUES.
 */
#define SVMGPU_VEC_ERROR		0
#define SVMGPU_VEC_FAULT		1
#define SVMGPU_VEC_INVAL		2
#define SVMGPU_VEC_QUEUE(q)		(3 + (q))
#define SVMGPU_NUM_VECTORS(nq)		(3 + (nq))

/* ---------------------------------------------------------------------
 * Context table entry (32 bytes), at CTX_TABLE_BASE + id * 32.
 */
struct svmgpu_ctx_entry {
	uint64_t pt_root;	/* DMA address of the level-4 table, 4 KiB aligned */
	uint32_t flags;		/* SVMGPU_CTX_VALID */
	uint32_t rsvd0;
	uint64_t rsvd1[2];
};
#define SVMGPU_CTX_VALID		(1u << 0)

/* ---------------------------------------------------------------------
 * Page tables: 4 levels of 512 64-bit entries, 48-bit virtual addresses.
 * Level 4 is the root; level 1 entries map 4 KiB pages.  Level 3 and 2
 * entries with LEAF map 1 GiB and 2 MiB pages.
 */
#define SVMGPU_VA_BITS			48
#define SVMGPU_PAGE_SHIFT		12
#define SVMGPU_PAGE_SIZE		(1ull << SVMGPU_PAGE_SHIFT)
#define SVMGPU_PT_LEVELS		4
#define SVMGPU_PT_ENTRIES		512
#define SVMGPU_PT_LEVEL_SHIFT(lvl)	(SVMGPU_PAGE_SHIFT + 9 * ((lvl) - 1))	/* lvl 1..4 */
#define SVMGPU_PT_INDEX(va, lvl)	(((va) >> SVMGPU_PT_LEVEL_SHIFT(lvl)) & 0x1ff)
#define SVMGPU_LEAF_2M_SHIFT		21
#define SVMGPU_LEAF_1G_SHIFT		30

#define SVMGPU_PTE_VALID		(1ull << 0)
#define SVMGPU_PTE_WRITABLE		(1ull << 1)
#define SVMGPU_PTE_LEAF			(1ull << 2)	/* level 3/2 only */
#define SVMGPU_PTE_APERTURE_SHIFT	3
#define SVMGPU_PTE_APERTURE_MASK	(3ull << SVMGPU_PTE_APERTURE_SHIFT)
#define  SVMGPU_APERTURE_SYSTEM		0ull
#define  SVMGPU_APERTURE_LOCAL		1ull	/* ADDR = byte offset in device-local memory */
#define SVMGPU_PTE_SW_MASK		(0x7full << 5)	/* bits 11:5, ignored by the device */
#define SVMGPU_PTE_ADDR_MASK		0x000ffffffffff000ull	/* bits 51:12 */
#define SVMGPU_PTE_RSVD_MASK		0xfff0000000000000ull	/* bits 63:52, must be 0 */

/* ---------------------------------------------------------------------
 * Fault ring record (32 bytes), slot = index % FAULT_RING_ENTRIES.
 */
enum svmgpu_access {
	SVMGPU_ACCESS_NONE = 0,
	SVMGPU_ACCESS_READ = 1,
	SVMGPU_ACCESS_WRITE = 2,
	SVMGPU_ACCESS_ATOMIC = 3,	/* read-modify-write: needs WRITABLE */
};

enum svmgpu_fault_reason {
	SVMGPU_FAULT_NONE = 0,
	SVMGPU_FAULT_NOT_PRESENT = 1,	/* a walked entry lacks VALID */
	SVMGPU_FAULT_WRITE_PROTECT = 2,	/* write/atomic to a leaf without WRITABLE */
	SVMGPU_FAULT_BAD_PTE = 3,	/* reserved bits, misaligned leaf, LEAF at level 4, aperture */
	SVMGPU_FAULT_WALK_DMA = 4,	/* a page-table read failed (not RAM, bus master off) */
};

struct svmgpu_fault_record {
	uint64_t va;		/* faulting virtual address (byte, not page) */
	uint64_t timestamp;	/* device clock, ns */
	uint32_t ctx;		/* context id */
	uint32_t seq;		/* fault sequence number, for CANCEL */
	uint16_t queue;		/* queue whose command faulted */
	uint8_t access;		/* enum svmgpu_access */
	uint8_t reason;		/* enum svmgpu_fault_reason */
	uint32_t flags;		/* SVMGPU_FAULT_RECORD_VALID */
};
#define SVMGPU_FAULT_RECORD_VALID	(1u << 0)

/* ---------------------------------------------------------------------
 * Per-queue completion record (64 bytes) at Q_COMPL_ADDR.  The device
 * writes bytes 8..63 first and the seq field last.
 */
struct svmgpu_completion {
	uint64_t seq;		/* seq of the last completed (or failed) command */
	uint64_t err_seq;	/* seq of the last failed command */
	uint64_t err_va;	/* fault VA / pc / offending VA of that failure */
	uint32_t err_code;	/* enum svmgpu_error */
	uint32_t err_info;	/* SVMGPU_ERROR_INFO(access, reason) */
	uint32_t head;		/* Q_HEAD after the command */
	uint32_t status;	/* Q_STATUS after the command */
	uint64_t timestamp;	/* device clock at completion, ns */
	uint64_t rsvd[2];
};

enum svmgpu_error {
	SVMGPU_ERR_NONE = 0,
	SVMGPU_ERR_BAD_OPCODE = 1,	/* unknown command opcode */
	SVMGPU_ERR_BAD_COMMAND = 2,	/* reserved field/flag, size, width, alignment, op */
	SVMGPU_ERR_FAULT_CANCELLED = 3,	/* err_va, access, reason of the fault */
	SVMGPU_ERR_INVALID_VA = 4,	/* VA beyond 48 bits or range wraps */
	SVMGPU_ERR_CTX_INVALID = 5,	/* queue's context not enabled */
	SVMGPU_ERR_DMA = 6,		/* a translated access failed on the bus */
	SVMGPU_ERR_WAIT_TIMEOUT = 7,
	SVMGPU_ERR_WATCHDOG = 8,	/* LAUNCH instruction budget exhausted; err_va = pc */
	SVMGPU_ERR_ILLEGAL_INSTRUCTION = 9,	/* err_va = pc */
	SVMGPU_ERR_MISALIGNED = 10,	/* kernel memory access not naturally aligned */
	SVMGPU_ERR_BAD_QUEUE_CONFIG = 11,	/* enable with bad BASE/SIZE/CTX/COMPL_ADDR */
	SVMGPU_ERR_BAD_DOORBELL = 12,	/* TAIL >= SIZE */
	SVMGPU_ERR_RING_DMA = 13,	/* command fetch failed */
	SVMGPU_ERR_SAVE_AREA = 14,	/* save area write failed (PREEMPT) or its state was refused (RESUME); err_va = Q_SAVE_ADDR */
};

/* ---------------------------------------------------------------------
 * Commands: 64 bytes each in the queue ring.
 */
#define SVMGPU_CMD_SIZE			64

enum svmgpu_cmd_opcode {
	SVMGPU_CMD_NOP = 0x00,
	SVMGPU_CMD_COPY = 0x01,
	SVMGPU_CMD_FILL = 0x02,
	SVMGPU_CMD_ATOMIC = 0x03,
	SVMGPU_CMD_SIGNAL = 0x04,
	SVMGPU_CMD_WAIT = 0x05,
	SVMGPU_CMD_LAUNCH = 0x06,
	SVMGPU_CMD_TIMESTAMP = 0x07,
};

#define SVMGPU_CMD_FLAG_IRQ		(1u << 0)	/* raise the queue vector on completion */
#define SVMGPU_CMD_FLAGS_VALID		SVMGPU_CMD_FLAG_IRQ

struct svmgpu_cmd_hdr {
	uint8_t opcode;		/* enum svmgpu_cmd_opcode */
	uint8_t flags;		/* SVMGPU_CMD_FLAG_* */
	uint16_t rsvd0;		/* must be 0 */
	uint32_t rsvd1;		/* must be 0 */
	uint64_t seq;		/* reported in the completion record */
};

struct svmgpu_cmd_copy {
	uint64_t dst;		/* VA */
	uint64_t src;		/* VA */
	uint64_t size;		/* bytes, any alignment; 0 is a no-op */
	uint64_t rsvd[3];
};

struct svmgpu_cmd_fill {
	uint64_t dst;		/* VA, aligned to width */
	uint64_t size;		/* bytes, multiple of width */
	uint64_t value;		/* pattern: low `width` bytes */
	uint32_t width;		/* 1, 2, 4 or 8 */
	uint32_t rsvd0;
	uint64_t rsvd[2];
};

enum svmgpu_atomic_op {
	SVMGPU_ATOMIC_ADD = 0,
	SVMGPU_ATOMIC_XCHG = 1,
	SVMGPU_ATOMIC_CMPXCHG = 2,	/* if (*va == compare) *va = operand */
	SVMGPU_ATOMIC_UMIN = 3,
	SVMGPU_ATOMIC_UMAX = 4,
	SVMGPU_ATOMIC_SMIN = 5,
	SVMGPU_ATOMIC_SMAX = 6,
	SVMGPU_ATOMIC_NUM_OPS = 7,
};

struct svmgpu_cmd_atomic {
	uint64_t va;		/* VA, aligned to size */
	uint64_t operand;
	uint64_t compare;	/* CMPXCHG only */
	uint64_t result_va;	/* VA receiving the old value (size bytes), 0 = none */
	uint8_t op;		/* enum svmgpu_atomic_op */
	uint8_t size;		/* 4 or 8 */
	uint16_t rsvd0;
	uint32_t rsvd1;
	uint64_t rsvd2;
};

struct svmgpu_cmd_signal {
	uint64_t va;		/* VA, 8-byte aligned: receives value (64-bit store) */
	uint64_t value;
	uint64_t rsvd[4];
};

enum svmgpu_wait_cond {
	SVMGPU_WAIT_EQ = 0,	/* (*va & mask) == value */
	SVMGPU_WAIT_NE = 1,	/* (*va & mask) != value */
	SVMGPU_WAIT_GEU = 2,	/* (*va & mask) >= value, unsigned */
	SVMGPU_WAIT_LTU = 3,	/* (*va & mask) <  value, unsigned */
	SVMGPU_WAIT_GE_SEQ = 4,	/* (int64_t)((*va & mask) - value) >= 0 */
	SVMGPU_WAIT_NUM_CONDS = 5,
};

struct svmgpu_cmd_wait {
	uint64_t va;		/* VA, 8-byte aligned, 64-bit load */
	uint64_t value;
	uint64_t mask;
	uint64_t timeout_ns;	/* 0 = no timeout */
	uint32_t cond;		/* enum svmgpu_wait_cond */
	uint32_t rsvd0;
	uint64_t rsvd1;
};

struct svmgpu_cmd_launch {
	uint64_t code_va;	/* first instruction, 8-byte aligned */
	uint64_t args_va;	/* read by kernels via SR_ARGS */
	uint32_t grid_x;	/* workgroups in each dimension, >= 1 */
	uint32_t grid_y;
	uint32_t grid_z;
	uint32_t wg_size;	/* lanes per workgroup, 1..SVMGPU_ISA_MAX_WG_SIZE */
	uint64_t budget;	/* max wave-instructions, 0 = SVMGPU_DEFAULT_BUDGET */
	uint64_t rsvd;
};
#define SVMGPU_DEFAULT_BUDGET		(1ull << 24)

struct svmgpu_cmd_timestamp {
	uint64_t va;		/* VA, 8-byte aligned, receives the device clock (ns) */
	uint64_t rsvd[5];
};

struct svmgpu_cmd {
	struct svmgpu_cmd_hdr hdr;
	union {
		struct svmgpu_cmd_copy copy;
		struct svmgpu_cmd_fill fill;
		struct svmgpu_cmd_atomic atomic;
		struct svmgpu_cmd_signal signal;
		struct svmgpu_cmd_wait wait;
		struct svmgpu_cmd_launch launch;
		struct svmgpu_cmd_timestamp timestamp;
		uint64_t raw[6];
	};
};

/* ---------------------------------------------------------------------
 * Compute ISA (docs/isa.md): 64-bit instructions.
 *   bits  7:0   opcode
 *   bits 15:8   rd
 *   bits 23:16  ra
 *   bits 31:24  rb (SVMGPU_ISA_RB_IMM: operand B is imm)
 *   bits 63:32  imm (signed 32-bit)
 */
#define SVMGPU_ISA_INSN_SIZE		8
#define SVMGPU_ISA_NUM_REGS		32
#define SVMGPU_ISA_WAVE_SIZE		32
#define SVMGPU_ISA_MAX_WG_SIZE		256
#define SVMGPU_ISA_MAX_NEST		16	/* IF/LOOP nesting depth */
#define SVMGPU_ISA_RB_IMM		0xff

#define SVMGPU_ISA_OP(insn)		((uint8_t)((insn) & 0xff))
#define SVMGPU_ISA_RD(insn)		((uint8_t)(((insn) >> 8) & 0xff))
#define SVMGPU_ISA_RA(insn)		((uint8_t)(((insn) >> 16) & 0xff))
#define SVMGPU_ISA_RB(insn)		((uint8_t)(((insn) >> 24) & 0xff))
#define SVMGPU_ISA_IMM(insn)		((int32_t)(uint32_t)((insn) >> 32))
#define SVMGPU_ISA_ENCODE(op, rd, ra, rb, imm) \
	((uint64_t)(uint8_t)(op) | ((uint64_t)(uint8_t)(rd) << 8) | \
	 ((uint64_t)(uint8_t)(ra) << 16) | ((uint64_t)(uint8_t)(rb) << 24) | \
	 ((uint64_t)(uint32_t)(imm) << 32))
/* imm fields of SEL and ATOM32/64 */
#define SVMGPU_ISA_IMM_RC(imm)		((uint8_t)((imm) & 0xff))
#define SVMGPU_ISA_IMM_ATOMIC_OP(imm)	((uint8_t)(((imm) >> 8) & 0xff))
#define SVMGPU_ISA_ATOM_IMM(op, rc)	((int32_t)(((uint32_t)(op) << 8) | (uint8_t)(rc)))

enum svmgpu_isa_opcode {
	/* control */
	SVMGPU_OP_NOP = 0x00,
	SVMGPU_OP_EXIT = 0x01,
	SVMGPU_OP_BAR = 0x02,
	SVMGPU_OP_JMP = 0x03,	/* pc += imm * 8, all active lanes */
	SVMGPU_OP_IF = 0x04,	/* ra */
	SVMGPU_OP_ELSE = 0x05,
	SVMGPU_OP_ENDIF = 0x06,
	SVMGPU_OP_LOOP = 0x07,
	SVMGPU_OP_BREAK = 0x08,	/* ra */
	SVMGPU_OP_ENDLOOP = 0x09,
	/* moves */
	SVMGPU_OP_MOVI = 0x10,	/* rd = sext(imm) */
	SVMGPU_OP_MOVHI = 0x11,	/* rd = (rd & 0xffffffff) | imm << 32 */
	SVMGPU_OP_S2R = 0x12,	/* rd = special register imm */
	SVMGPU_OP_SEL = 0x13,	/* rd = r[imm.rc] ? ra : rb */
	SVMGPU_OP_MOV = 0x14,	/* rd = B */
	/* integer, rd = ra op B (B = rb, or sext(imm) if rb == RB_IMM) */
	SVMGPU_OP_ADD = 0x20,
	SVMGPU_OP_SUB = 0x21,
	SVMGPU_OP_MUL = 0x22,
	SVMGPU_OP_MULHU = 0x23,
	SVMGPU_OP_DIVU = 0x24,
	SVMGPU_OP_DIVS = 0x25,
	SVMGPU_OP_REMU = 0x26,
	SVMGPU_OP_REMS = 0x27,
	SVMGPU_OP_AND = 0x28,
	SVMGPU_OP_OR = 0x29,
	SVMGPU_OP_XOR = 0x2a,
	SVMGPU_OP_SHL = 0x2b,
	SVMGPU_OP_SHR = 0x2c,
	SVMGPU_OP_SAR = 0x2d,
	SVMGPU_OP_MINU = 0x2e,
	SVMGPU_OP_MAXU = 0x2f,
	SVMGPU_OP_MINS = 0x30,
	SVMGPU_OP_MAXS = 0x31,
	SVMGPU_OP_SEQ = 0x32,
	SVMGPU_OP_SNE = 0x33,
	SVMGPU_OP_SLTU = 0x34,
	SVMGPU_OP_SLTS = 0x35,
	SVMGPU_OP_SLEU = 0x36,
	SVMGPU_OP_SLES = 0x37,
	/* float32 in the low 32 bits (result zero-extended) */
	SVMGPU_OP_FADD = 0x40,
	SVMGPU_OP_FSUB = 0x41,
	SVMGPU_OP_FMUL = 0x42,
	SVMGPU_OP_FDIV = 0x43,
	SVMGPU_OP_FMIN = 0x44,
	SVMGPU_OP_FMAX = 0x45,
	SVMGPU_OP_FSLT = 0x46,
	SVMGPU_OP_FSEQ = 0x47,
	SVMGPU_OP_FSLE = 0x48,
	SVMGPU_OP_FSQRT = 0x49,	/* unary: ra */
	SVMGPU_OP_I2F = 0x4a,	/* int64 ra -> f32 */
	SVMGPU_OP_F2I = 0x4b,	/* f32 ra -> int64, truncating, saturating, NaN -> 0 */
	SVMGPU_OP_FFMA = 0x4c,	/* rd = ra * B + rd, fused (one rounding) */
	/* float64 */
	SVMGPU_OP_DADD = 0x50,
	SVMGPU_OP_DSUB = 0x51,
	SVMGPU_OP_DMUL = 0x52,
	SVMGPU_OP_DDIV = 0x53,
	SVMGPU_OP_DMIN = 0x54,
	SVMGPU_OP_DMAX = 0x55,
	SVMGPU_OP_DSLT = 0x56,
	SVMGPU_OP_DSEQ = 0x57,
	SVMGPU_OP_DSLE = 0x58,
	SVMGPU_OP_DSQRT = 0x59,
	SVMGPU_OP_I2D = 0x5a,
	SVMGPU_OP_D2I = 0x5b,
	SVMGPU_OP_F2D = 0x5c,
	SVMGPU_OP_D2F = 0x5d,
	SVMGPU_OP_DFMA = 0x5e,	/* rd = ra * B + rd, fused (one rounding) */
	/* memory: address = ra + sext(imm), naturally aligned */
	SVMGPU_OP_LD8 = 0x60,
	SVMGPU_OP_LD16 = 0x61,
	SVMGPU_OP_LD32 = 0x62,
	SVMGPU_OP_LD64 = 0x63,
	SVMGPU_OP_LDS8 = 0x64,
	SVMGPU_OP_LDS16 = 0x65,
	SVMGPU_OP_LDS32 = 0x66,
	SVMGPU_OP_ST8 = 0x68,	/* mem = rb */
	SVMGPU_OP_ST16 = 0x69,
	SVMGPU_OP_ST32 = 0x6a,
	SVMGPU_OP_ST64 = 0x6b,
	SVMGPU_OP_ATOM32 = 0x70,	/* rd = old; mem[ra] op= rb; compare r[imm.rc] */
	SVMGPU_OP_ATOM64 = 0x71,
};

enum svmgpu_isa_sreg {
	SVMGPU_SR_LANE_ID = 0,		/* lane within the workgroup */
	SVMGPU_SR_WG_ID_X = 1,
	SVMGPU_SR_WG_ID_Y = 2,
	SVMGPU_SR_WG_ID_Z = 3,
	SVMGPU_SR_WG_SIZE = 4,
	SVMGPU_SR_GRID_X = 5,
	SVMGPU_SR_GRID_Y = 6,
	SVMGPU_SR_GRID_Z = 7,
	SVMGPU_SR_GLOBAL_ID = 8,	/* wg_linear * wg_size + lane */
	SVMGPU_SR_ARGS = 9,		/* LAUNCH args_va */
	SVMGPU_SR_WAVE_ID = 10,		/* wave within the workgroup */
	SVMGPU_SR_QUEUE = 11,
	SVMGPU_SR_NUM = 12,
};

/* ---------------------------------------------------------------------
 * Queue save area (§16.2), SVMGPU_SAVE_AREA_SIZE bytes at Q_SAVE_ADDR,
 * written by PREEMPT and read by RESUME.  Little-endian.  The device
 * writes everything else first and `magic` last; RESUME validates every
 * field and refuses the state (ERR_SAVE_AREA) rather than trust it.
 */
#define SVMGPU_SAVE_MAGIC		0x41535653	/* "SVSA" */
#define SVMGPU_SAVE_VERSION		1
#define SVMGPU_SAVE_AREA_SIZE		0x12000	/* 72 KiB */
#define SVMGPU_SAVE_MAX_WAVES		(SVMGPU_ISA_MAX_WG_SIZE / SVMGPU_ISA_WAVE_SIZE)

enum svmgpu_save_kind {
	SVMGPU_SAVE_NONE = 0,		/* no command in progress: start by fetching at head */
	SVMGPU_SAVE_COMMAND = 1,	/* `cmd` (the ring entry at head) is in progress */
};

struct svmgpu_save_stack {
	uint8_t kind;		/* 1 IF, 2 LOOP */
	uint8_t rsvd0[3];
	uint32_t saved;		/* mask restored at ENDIF/ENDLOOP */
	uint32_t else_mask;	/* IF: lanes of the ELSE branch */
	uint32_t rsvd1;
	uint64_t loop_pc;	/* LOOP: first instruction of the body */
};

struct svmgpu_save_wave {
	uint64_t pc;
	uint32_t exec;		/* active lanes (bit i = lane 32 * wave + i) */
	uint32_t alive;		/* lanes that have not executed EXIT */
	uint32_t done;		/* lanes that completed the faulted instruction at pc */
	uint8_t sp;		/* stack entries in use, 0..SVMGPU_ISA_MAX_NEST */
	uint8_t at_barrier;	/* 0 or 1 */
	uint8_t finished;	/* 0 or 1 */
	uint8_t rsvd0;
	struct svmgpu_save_stack stack[SVMGPU_ISA_MAX_NEST];
};

struct svmgpu_save_area {
	uint32_t magic;		/* SVMGPU_SAVE_MAGIC, written last */
	uint16_t version;	/* SVMGPU_SAVE_VERSION */
	uint16_t kind;		/* enum svmgpu_save_kind */
	uint32_t head;		/* Q_HEAD at the save: the command in progress or next to fetch */
	uint32_t queue;		/* hardware queue that saved it (information only) */
	uint64_t compl_seq;	/* Q_COMPL_SEQ at the save; restored by RESUME */
	uint64_t rsvd0;
	struct svmgpu_cmd cmd;	/* kind COMMAND: the command in progress */
	/* COPY/FILL */
	uint64_t progress;	/* bytes done */
	/* WAIT */
	uint64_t wait_elapsed_ns;	/* time spent waiting so far (timeout_ns counts on from it) */
	/* LAUNCH */
	uint64_t wg;		/* linear index of the workgroup in progress (or next) */
	uint64_t executed;	/* wave-instructions counted against the budget */
	uint32_t wg_running;	/* 1: waves[] and regs[] hold workgroup wg in flight */
	uint32_t nwaves;	/* waves of a workgroup: ceil(wg_size / 32) */
	uint32_t cur;		/* wave that runs next */
	uint32_t rsvd1;
	uint64_t rsvd2[4];
	struct svmgpu_save_wave waves[SVMGPU_SAVE_MAX_WAVES];
	uint64_t regs[SVMGPU_ISA_MAX_WG_SIZE][SVMGPU_ISA_NUM_REGS];	/* [lane][reg] */
};

/* ---------------------------------------------------------------------
 * Build-time layout checks.
 */
_Static_assert(sizeof(struct svmgpu_ctx_entry) == 32, "ctx entry");
_Static_assert(sizeof(struct svmgpu_fault_record) == 32, "fault record");
_Static_assert(sizeof(struct svmgpu_completion) == 64, "completion record");
_Static_assert(sizeof(struct svmgpu_cmd_hdr) == 16, "command header");
_Static_assert(sizeof(struct svmgpu_cmd_copy) == 48, "copy");
_Static_assert(sizeof(struct svmgpu_cmd_fill) == 48, "fill");
_Static_assert(sizeof(struct svmgpu_cmd_atomic) == 48, "atomic");
_Static_assert(sizeof(struct svmgpu_cmd_signal) == 48, "signal");
_Static_assert(sizeof(struct svmgpu_cmd_wait) == 48, "wait");
_Static_assert(sizeof(struct svmgpu_cmd_launch) == 48, "launch");
_Static_assert(sizeof(struct svmgpu_cmd_timestamp) == 48, "timestamp");
_Static_assert(sizeof(struct svmgpu_cmd) == SVMGPU_CMD_SIZE, "command");
_Static_assert(SVMGPU_INTR_QUEUE_SHIFT + SVMGPU_MAX_QUEUES <= 32, "intr bits");
_Static_assert(sizeof(struct svmgpu_save_stack) == 24, "save stack entry");
_Static_assert(sizeof(struct svmgpu_save_wave) == 24 + 24 * SVMGPU_ISA_MAX_NEST, "save wave");
_Static_assert(sizeof(struct svmgpu_save_area) <= SVMGPU_SAVE_AREA_SIZE, "save area");
_Static_assert(SVMGPU_Q_START + 4 <= SVMGPU_REG_QUEUE_STRIDE, "queue register stride");
_Static_assert(SVMGPU_REG_Q(SVMGPU_MAX_QUEUES, 0) <= SVMGPU_BAR_REGS_SIZE, "queue regs");

#endif /* SVMGPU_HW_H */
