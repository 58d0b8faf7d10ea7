/* SPDX-License-Identifier: MIT */
/*
 * svmgpu userspace interface.
 *
 * Every structure uses only __u32/__u64 fields, is 64-bit aligned, carries
 * explicit flags and pad fields, and passes pointers as __u64.  Unknown
 * flags and non-zero pad are rejected with -EINVAL before anything else.
 *
 * Model: a *context* is bound to the address space (mm) of the process that
 * creates it; the device uses the process's virtual addresses directly.  A
 * *queue* belongs to a context and executes device commands (struct
 * svmgpu_cmd of include/svmgpu/svmgpu_hw.h) submitted with SUBMIT.  Each
 * command gets a 64-bit sequence number, increasing by one per command on
 * its queue; WAIT blocks until a sequence number has completed and reports
 * failed commands (see docs/driver.md, "Completions").
 *
 * Handles are per open file.  Only the process (mm) that created a context
 * may use it or its queues: other processes (a fork() child sharing the file)
 * get -EACCES.
 */
#ifndef _UAPI_SVMGPU_DRM_H_
#define _UAPI_SVMGPU_DRM_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_SVMGPU_GET_INFO		0x00
#define DRM_SVMGPU_CTX_CREATE		0x01
#define DRM_SVMGPU_CTX_DESTROY		0x02
#define DRM_SVMGPU_QUEUE_CREATE		0x03
#define DRM_SVMGPU_QUEUE_DESTROY	0x04
#define DRM_SVMGPU_SUBMIT		0x05
#define DRM_SVMGPU_WAIT			0x06
#define DRM_SVMGPU_GET_STATS		0x07
#define DRM_SVMGPU_PREFETCH		0x08
#define DRM_SVMGPU_RESIDENCY		0x09
#define DRM_SVMGPU_ADVISE		0x0a
#define DRM_SVMGPU_DEVMEM_ALLOC		0x0d
#define DRM_SVMGPU_DEVMEM_FREE		0x0e

#define DRM_IOCTL_SVMGPU_GET_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_GET_INFO, struct drm_svmgpu_get_info)
#define DRM_IOCTL_SVMGPU_CTX_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_CTX_CREATE, struct drm_svmgpu_ctx_create)
#define DRM_IOCTL_SVMGPU_CTX_DESTROY \
	DRM_IOW(DRM_COMMAND_BASE + DRM_SVMGPU_CTX_DESTROY, struct drm_svmgpu_ctx_destroy)
#define DRM_IOCTL_SVMGPU_QUEUE_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_QUEUE_CREATE, struct drm_svmgpu_queue_create)
#define DRM_IOCTL_SVMGPU_QUEUE_DESTROY \
	DRM_IOW(DRM_COMMAND_BASE + DRM_SVMGPU_QUEUE_DESTROY, struct drm_svmgpu_queue_destroy)
#define DRM_IOCTL_SVMGPU_SUBMIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_SUBMIT, struct drm_svmgpu_submit)
#define DRM_IOCTL_SVMGPU_WAIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_WAIT, struct drm_svmgpu_wait)
#define DRM_IOCTL_SVMGPU_GET_STATS \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_GET_STATS, struct drm_svmgpu_get_stats)
#define DRM_IOCTL_SVMGPU_PREFETCH \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_PREFETCH, struct drm_svmgpu_prefetch)
#define DRM_IOCTL_SVMGPU_RESIDENCY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_RESIDENCY, struct drm_svmgpu_residency)
#define DRM_IOCTL_SVMGPU_ADVISE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_ADVISE, struct drm_svmgpu_advise)
#define DRM_IOCTL_SVMGPU_DEVMEM_ALLOC \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_DEVMEM_ALLOC, struct drm_svmgpu_devmem_alloc)
#define DRM_IOCTL_SVMGPU_DEVMEM_FREE \
	DRM_IOW(DRM_COMMAND_BASE + DRM_SVMGPU_DEVMEM_FREE, struct drm_svmgpu_devmem_free)

/**
 * struct drm_svmgpu_get_info - what the device is
 *
 * Filled in by the kernel from the device's identification and capability
 * registers.
 */
struct drm_svmgpu_get_info {
	/** @flags: in, must be zero. */
	__u32 flags;
	/** @pad: in, must be zero. */
	__u32 pad;
	/** @hw_id: out, the ID register (SVMGPU_ID_MAGIC). */
	__u32 hw_id;
	/** @hw_version: out, the VERSION register: major << 16 | minor. */
	__u32 hw_version;
	/** @pci_vendor: out, PCI vendor ID. */
	__u32 pci_vendor;
	/** @pci_device: out, PCI device ID. */
	__u32 pci_device;
	/**
	 * @num_queues: out, hardware queues processes share: NUM_QUEUES, less
	 * the one the driver keeps for migration copies on a device with
	 * local memory.
	 */
	__u32 num_queues;
	/** @num_engines: out, engines (NUM_ENGINES register). */
	__u32 num_engines;
	/** @caps: out, the CAPS register (SVMGPU_CAPS_*). */
	__u32 caps;
	/** @fault_ring_entries: out, FAULT_RING_ENTRIES register. */
	__u32 fault_ring_entries;
	/** @tlb_sets: out, TLB_SETS register. */
	__u32 tlb_sets;
	/** @tlb_ways: out, TLB_WAYS register. */
	__u32 tlb_ways;
	/** @max_contexts: out, contexts (address spaces) the driver can bind. */
	__u32 max_contexts;
	/** @max_ring_entries: out, largest @ring_entries of QUEUE_CREATE. */
	__u32 max_ring_entries;
};

/**
 * struct drm_svmgpu_ctx_create - bind a device context to the caller's mm
 *
 * Every context of one process on one device shares one device address
 * space, which mirrors the whole address space of the process.
 */
struct drm_svmgpu_ctx_create {
	/** @flags: in, must be zero. */
	__u32 flags;
	/** @pad: in, must be zero. */
	__u32 pad;
	/** @handle: out, the context handle (non-zero). */
	__u32 handle;
	/** @pad2: in, must be zero. */
	__u32 pad2;
};

/**
 * struct drm_svmgpu_ctx_destroy - destroy a context
 *
 * Fails with -EBUSY while the context still has queues.
 */
struct drm_svmgpu_ctx_destroy {
	/** @flags: in, must be zero. */
	__u32 flags;
	/** @pad: in, must be zero. */
	__u32 pad;
	/** @handle: in, the context handle. */
	__u32 handle;
	/** @pad2: in, must be zero. */
	__u32 pad2;
};

/**
 * struct drm_svmgpu_queue_create - create a command queue on a context
 *
 * Queues are not limited by the hardware: a queue borrows one of the
 * device's hardware queues while it has work and gives it back when idle;
 * on a device that preempts (SVMGPU_CAPS_PREEMPT) the driver's scheduler
 * timeslices the hardware queues among the queues with work, otherwise
 * SUBMIT waits for one to be free.  -EBUSY when the file already has 256
 * queues.
 */
struct drm_svmgpu_queue_create {
	/** @flags: in, must be zero. */
	__u32 flags;
	/**
	 * @priority: in, 0 (DRM_SVMGPU_PRIORITY_NORMAL) or one of
	 * DRM_SVMGPU_PRIORITY_*.  The scheduler hands hardware queues to
	 * higher priorities first and preempts lower ones for them
	 * (docs/driver.md, "Scheduling"); LOW, NORMAL and HIGH are the
	 * device's Q_PRIORITY 0, 1 and 2 (3 is the kernel's).  HIGH needs
	 * CAP_SYS_NICE (-EACCES without it); other values are -EINVAL.
	 */
	__u32 priority;
#define DRM_SVMGPU_PRIORITY_DEFAULT	0	/* NORMAL */
#define DRM_SVMGPU_PRIORITY_LOW		1
#define DRM_SVMGPU_PRIORITY_NORMAL	2
#define DRM_SVMGPU_PRIORITY_HIGH	3
	/** @ctx_handle: in, the context the queue's commands run in. */
	__u32 ctx_handle;
	/**
	 * @ring_entries: in, ring size in commands: 0 for the default (256), or
	 * a power of two from 2 to &drm_svmgpu_get_info.max_ring_entries.  At
	 * most @ring_entries - 1 commands are outstanding.
	 */
	__u32 ring_entries;
	/** @handle: out, the queue handle (non-zero). */
	__u32 handle;
	/** @hw_queue: in, must be zero; out, zero (reserved). */
	__u32 hw_queue;
};

/**
 * struct drm_svmgpu_queue_destroy - destroy a queue
 *
 * Commands still running are abandoned; waiters get -ECANCELED.
 */
struct drm_svmgpu_queue_destroy {
	/** @flags: in, must be zero. */
	__u32 flags;
	/** @pad: in, must be zero. */
	__u32 pad;
	/** @handle: in, the queue handle. */
	__u32 handle;
	/** @pad2: in, must be zero. */
	__u32 pad2;
};

/**
 * struct drm_svmgpu_submit - copy commands into a queue's ring
 *
 * The kernel copies @count struct svmgpu_cmd from @cmds, checks every
 * header (known opcode, only SVMGPU_CMD_FLAG_IRQ in flags, reserved fields
 * and seq zero) and rejects the whole submission with -EINVAL if one is
 * bad; nothing is written to the ring then.  It assigns the sequence
 * numbers and asks for a completion interrupt on every command.  The
 * device itself fails a command whose payload is invalid
 * (SVMGPU_ERR_BAD_COMMAND, reported by WAIT).  Blocks (interruptibly)
 * while the ring has no room or, for an idle queue on a device without the
 * scheduler (no SVMGPU_CAPS_PREEMPT), until a hardware queue is free,
 * unless DRM_SVMGPU_SUBMIT_NONBLOCK is set.  With the scheduler the
 * commands are queued at once and run when the queue gets a hardware queue.
 *
 * With DRM_SVMGPU_SUBMIT_EVENT, exactly one struct
 * drm_svmgpu_event_complete is queued on the file (read() it, poll() the
 * file) once the last command of this submission has completed or the
 * queue was stopped before that; the submission fails with -ENOSPC, and
 * submits nothing, when the file's event space (4 KiB of unread and
 * pending events, the DRM core's limit) cannot take one more.
 */
struct drm_svmgpu_submit {
	/** @flags: in, DRM_SVMGPU_SUBMIT_* flags. */
	__u32 flags;
/* Queue a struct drm_svmgpu_event_complete when the submission completes. */
#define DRM_SVMGPU_SUBMIT_EVENT		0x1u
/*
 * Fail with -EAGAIN, submitting nothing, instead of sleeping when the ring
 * has no room for @count commands or (without the scheduler) no hardware
 * queue is free for an idle queue.
 */
#define DRM_SVMGPU_SUBMIT_NONBLOCK	0x2u
	/** @pad: in, must be zero. */
	__u32 pad;
	/** @queue_handle: in, the queue. */
	__u32 queue_handle;
	/** @count: in, number of commands, 1 .. ring_entries - 1. */
	__u32 count;
	/** @cmds: in, user pointer to @count struct svmgpu_cmd (64 bytes each). */
	__u64 cmds;
	/** @seq: out, sequence number of the last command (the first is @seq - @count + 1). */
	__u64 seq;
	/**
	 * @user_data: in, copied into the event of DRM_SVMGPU_SUBMIT_EVENT;
	 * must be zero without it.  (Appended: an older caller's shorter
	 * structure reads as zero.)
	 */
	__u64 user_data;
};

/* drm_event.type of struct drm_svmgpu_event_complete (driver-private range). */
#define DRM_SVMGPU_EVENT_COMPLETE	0x80000000u

/**
 * struct drm_svmgpu_event_complete - a submission completed
 *
 * Read from the file after SUBMIT with DRM_SVMGPU_SUBMIT_EVENT.  The err_*
 * fields are those WAIT reports for @seq with @first_seq (the first command
 * of the submission), @result what it returns: 0, or -ECANCELED when the
 * queue was stopped (destroyed, its address space gone, the device removed)
 * before @seq completed.  Commands lost in a device reset complete with
 * err_code DRM_SVMGPU_ERR_RESET, those of a hung queue with
 * DRM_SVMGPU_ERR_HANG, as WAIT reports them.
 */
struct drm_svmgpu_event_complete {
	/** @base: type DRM_SVMGPU_EVENT_COMPLETE, length sizeof(*this). */
	struct drm_event base;
	/** @user_data: &drm_svmgpu_submit.user_data. */
	__u64 user_data;
	/** @first_seq: first command of the submission. */
	__u64 first_seq;
	/** @seq: last command of the submission (&drm_svmgpu_submit.seq). */
	__u64 seq;
	/** @completed_seq: last completed command of the queue. */
	__u64 completed_seq;
	/** @err_seq: the earliest failed command in [@first_seq, @seq], 0 if none. */
	__u64 err_seq;
	/** @err_va: as &drm_svmgpu_wait.err_va. */
	__u64 err_va;
	/** @queue_handle: the queue. */
	__u32 queue_handle;
	/** @result: 0 or -ECANCELED, as WAIT would return. */
	__s32 result;
	/** @err_code: as &drm_svmgpu_wait.err_code. */
	__u32 err_code;
	/** @err_access: as &drm_svmgpu_wait.err_access. */
	__u32 err_access;
	/** @err_reason: as &drm_svmgpu_wait.err_reason. */
	__u32 err_reason;
	/** @nr_errors: failures logged in [@first_seq, @seq]. */
	__u32 nr_errors;
};

/**
 * struct drm_svmgpu_wait - wait for a command to complete
 *
 * Returns 0 once command @seq has completed, successfully or not;
 * -ETIMEDOUT if it has not when @timeout_ns has passed; -EINTR/-ERESTARTSYS
 * on a signal; -ECANCELED if the queue was stopped (its process's address
 * space went away, the device was reset or removed) before @seq completed.
 * The err_* fields describe the earliest failed command with a sequence
 * number in [@first_seq, @seq] that is still in the queue's error log (the
 * last 32 failures, where the commands one reset, hang or stop fails count
 * as one); they are all zero when there is none.
 */
struct drm_svmgpu_wait {
	/** @flags: in, must be zero. */
	__u32 flags;
	/** @pad: in, must be zero. */
	__u32 pad;
	/** @queue_handle: in, the queue. */
	__u32 queue_handle;
	/** @pad2: in, must be zero. */
	__u32 pad2;
	/** @seq: in, the command to wait for; must have been submitted. */
	__u64 seq;
	/** @first_seq: in, start of the range failures are reported for, <= @seq. */
	__u64 first_seq;
	/**
	 * @timeout_ns: in, relative timeout; 0 polls, ~0ull waits forever.
	 * The driver fixes the deadline on entry; when a signal interrupts
	 * the wait it writes the time left here (at least 1), so a restarted
	 * (SA_RESTART) or retried call ends at the same deadline.
	 */
	__u64 timeout_ns;
	/** @completed_seq: out, last completed command of the queue. */
	__u64 completed_seq;
	/** @err_seq: out, sequence number of the failed command, 0 if none. */
	__u64 err_seq;
	/**
	 * @err_va: out, the faulting VA for SVMGPU_ERR_FAULT_CANCELLED, the
	 * kernel pc or offending VA for other errors (docs/hw-spec.md 8.2).
	 */
	__u64 err_va;
	/**
	 * @err_code: out, enum svmgpu_error of the device,
	 * DRM_SVMGPU_ERR_RESET when the command was lost in a device reset, or
	 * DRM_SVMGPU_ERR_HANG when the queue made no progress for the module
	 * parameter hang_timeout_ms and was reset (every command pending then
	 * fails with it; the queue stays usable).
	 */
	__u32 err_code;
#define DRM_SVMGPU_ERR_RESET		0x100
#define DRM_SVMGPU_ERR_HANG		0x101
	/** @err_access: out, enum svmgpu_access of the failed access. */
	__u32 err_access;
	/** @err_reason: out, enum svmgpu_fault_reason for a cancelled fault. */
	__u32 err_reason;
	/** @nr_errors: out, failures logged in [@first_seq, @seq]. */
	__u32 nr_errors;
};

/**
 * struct drm_svmgpu_get_stats - read (and optionally clear) a context's counters
 *
 * Faults, batches, replays and cancels count the faults of this context's
 * queues; pages mapped/unmapped, invalidations and TLB invalidation time
 * count events of the address space the context shares with every other
 * context of its process, since the context was created or last cleared.
 */
struct drm_svmgpu_get_stats {
	/** @flags: in, DRM_SVMGPU_STATS_* flags. */
	__u32 flags;
/* Zero the counters after reading them. */
#define DRM_SVMGPU_STATS_CLEAR		0x1u
	/** @pad: in, must be zero. */
	__u32 pad;
	/** @ctx_handle: in, the context. */
	__u32 ctx_handle;
	/** @pad2: in, must be zero. */
	__u32 pad2;
	/** @faults: out, fault records received for this context's queues. */
	__u64 faults;
	/** @fault_batches: out, fault-handler batches with faults of this context. */
	__u64 fault_batches;
	/** @replays: out, REPLAYs written for batches with faults of this context. */
	__u64 replays;
	/** @cancels: out, faults of this context that were cancelled. */
	__u64 cancels;
	/** @pages_mapped: out, 4 KiB pages made present in the device page table. */
	__u64 pages_mapped;
	/** @huge_2m_mapped: out, 2 MiB device leaves written. */
	__u64 huge_2m_mapped;
	/** @huge_1g_mapped: out, 1 GiB device leaves written. */
	__u64 huge_1g_mapped;
	/** @pages_unmapped: out, 4 KiB pages removed by invalidations. */
	__u64 pages_unmapped;
	/** @invalidations: out, notifier invalidations that removed device PTEs. */
	__u64 invalidations;
	/** @tlb_invalidations: out, device TLB invalidations waited for. */
	__u64 tlb_invalidations;
	/** @tlb_inval_ns: out, total time spent waiting for them, ns. */
	__u64 tlb_inval_ns;
	/** @submitted: out, commands submitted on this context's queues. */
	__u64 submitted;
	/** @failed: out, commands of this context's queues that failed. */
	__u64 failed;
	/** @reserved: out, zero. */
	__u64 reserved[3];
};

/**
 * struct drm_svmgpu_prefetch - migrate a range of the caller's memory
 *
 * Moves the pages of [@start, @start + @size) of the calling process to the
 * device's local memory or back to system memory (docs/driver.md, "Device
 * memory").  Only private anonymous memory migrates; other pages
 * (file-backed, shared, pinned, or busy at that moment) stay where they are
 * and are not counted in @pages.  Device PTEs of moved pages are removed;
 * the next device access faults and maps the new location.
 *
 * Synchronous by default: when the ioctl returns the pages have moved.
 * With DRM_SVMGPU_PREFETCH_ASYNC the ioctl checks the arguments, the device
 * and that every page of the range is mapped, queues the migration on the
 * file and returns at once with @id; a struct drm_svmgpu_event_prefetch
 * with that @id is queued on the file (read() it, poll() the file) when it
 * is done.  The file's asynchronous PREFETCHes run one after the other in
 * the order they were made.  Closing the file (or the process's exit)
 * cancels those not done: no event, nothing moves any more.
 *
 * Errors: -EINVAL for unknown flags, non-zero @pad, neither or both of
 * DEVICE and SYSTEM, @size 0, @start or @size not page-aligned, or a range
 * that wraps or leaves user space; -EOPNOTSUPP if the device has no local
 * memory; -ENOSPC if @size is larger than the device's local memory (nothing
 * moved) or local memory ran out part way (what fit moved, @pages says how
 * much); -EFAULT if a page of the range is not mapped (pages before it
 * moved; ASYNC: nothing queued); -ENODEV once the device is gone (also part
 * way, an unbind during the walk: @pages says what moved); ASYNC
 * only: -ENOBUFS when the file's event space (4 KiB of unread and pending
 * events, the DRM core's limit) cannot take the completion event (nothing
 * queued: read events and retry), -ENOMEM.
 */
struct drm_svmgpu_prefetch {
	/**
	 * @flags: in, exactly one of DRM_SVMGPU_PREFETCH_DEVICE/_SYSTEM,
	 * optionally DRM_SVMGPU_PREFETCH_ASYNC.
	 */
	__u32 flags;
#define DRM_SVMGPU_PREFETCH_DEVICE	0x1u
#define DRM_SVMGPU_PREFETCH_SYSTEM	0x2u
#define DRM_SVMGPU_PREFETCH_WHERE_MASK	0x3u
/* Queue the migration and return; a struct drm_svmgpu_event_prefetch follows. */
#define DRM_SVMGPU_PREFETCH_ASYNC	0x4u
	/** @pad: in, must be zero. */
	__u32 pad;
	/** @start: in, first byte, page-aligned. */
	__u64 start;
	/** @size: in, bytes, page-aligned, non-zero. */
	__u64 size;
	/**
	 * @pages: out, pages moved (also on -ENOSPC, -EFAULT, -EINTR); 0 with
	 * DRM_SVMGPU_PREFETCH_ASYNC (the event has them).
	 */
	__u64 pages;
	/**
	 * @id: out, with DRM_SVMGPU_PREFETCH_ASYNC: the request's id in its
	 * event, non-zero, increasing per file; 0 otherwise.  (Appended: an
	 * older caller's shorter structure has no ASYNC and gets no @id.)
	 */
	__u64 id;
};

/* drm_event.type of struct drm_svmgpu_event_prefetch (driver-private range). */
#define DRM_SVMGPU_EVENT_PREFETCH	0x80000001u

/**
 * struct drm_svmgpu_event_prefetch - an asynchronous PREFETCH is done
 *
 * @result is what the synchronous PREFETCH would have returned: 0,
 * -ENOSPC (device memory ran out part way), -EFAULT (a page of the range
 * was unmapped meanwhile: pages before it moved), -EINVAL (a part of the
 * range the synchronous call refuses too), -ENOMEM; or -ENODEV when the
 * device was unbound before it was done, -ECANCELED when the address space
 * it belongs to exited first.  @pages moved in any case.
 */
struct drm_svmgpu_event_prefetch {
	/** @base: type DRM_SVMGPU_EVENT_PREFETCH, length sizeof(*this). */
	struct drm_event base;
	/** @id: &drm_svmgpu_prefetch.id. */
	__u64 id;
	/** @start: &drm_svmgpu_prefetch.start. */
	__u64 start;
	/** @size: &drm_svmgpu_prefetch.size. */
	__u64 size;
	/** @pages: pages moved. */
	__u64 pages;
	/** @flags: &drm_svmgpu_prefetch.flags. */
	__u32 flags;
	/** @result: 0 or a negative errno, see above. */
	__s32 result;
};

/**
 * struct drm_svmgpu_residency - pages of a range in the device's memory
 *
 * A snapshot of the caller's [@start, @start + @size): how many of its
 * pages are in this device's local memory.  Same range rules and errors as
 * PREFETCH (-EINVAL, -EOPNOTSUPP, -EFAULT, -ENODEV).
 */
struct drm_svmgpu_residency {
	/** @flags: in, must be zero. */
	__u32 flags;
	/** @pad: in, must be zero. */
	__u32 pad;
	/** @start: in, first byte, page-aligned. */
	__u64 start;
	/** @size: in, bytes, page-aligned, non-zero. */
	__u64 size;
	/** @pages: out, pages of the range in device-local memory. */
	__u64 pages;
};

/**
 * struct drm_svmgpu_advise - placement advice for a range of an address space
 *
 * SET gives [@start, @start + @size) of the context's address space one
 * attribute (@attr = @value), keeping its other attributes; GET reports the
 * attributes of the page at @start in @value and in @size how many bytes
 * from @start (at most the @size given) have exactly those attributes.
 * The advice is kept per address range of the process, shared by every
 * context of the process on this device, dropped by munmap()/mremap() of
 * its addresses, kept by mprotect() (docs/driver.md, "Advice"):
 *
 * DRM_SVMGPU_ATTR_PREFERRED_LOC: @value DRM_SVMGPU_LOC_NONE (no advice),
 *   _SYSTEM (a device fault moves this device's pages in the faulting 2 MiB
 *   neighbourhood back to system memory) or _DEVICE (a device fault
 *   migrates the 2 MiB-aligned neighbourhood of the faulting page, clamped
 *   to its VMA and to this advice, to device memory, evicting the least
 *   recently used device memory when full).
 * DRM_SVMGPU_ATTR_ACCESSED_BY: @value 1: device faults never migrate the
 *   range, the device reaches it where it is; 0 clears it.
 * DRM_SVMGPU_ATTR_READ_MOSTLY: @value 1: device read faults do not migrate
 *   the range, writes do; 0 clears it.
 *
 * Errors: -EINVAL for an unknown @op or @attr, a @value out of range, GET
 * with a non-zero @attr or @value, non-zero @flags or @pad, and the range
 * rules of PREFETCH; -ENOENT
 * for an unknown context; -EACCES for a context of another process;
 * -EOPNOTSUPP for PREFERRED_LOC DEVICE without local memory; -EFAULT (SET)
 * if a page of the range is not mapped (nothing changes); -ENOMEM, -EINTR;
 * -ENODEV once the device or the context's address space is gone.
 */
struct drm_svmgpu_advise {
	/** @ctx_handle: in, a context of the caller. */
	__u32 ctx_handle;
	/** @op: in, DRM_SVMGPU_ADVISE_SET or DRM_SVMGPU_ADVISE_GET. */
	__u32 op;
#define DRM_SVMGPU_ADVISE_SET		1
#define DRM_SVMGPU_ADVISE_GET		2
	/** @start: in, first byte, page-aligned. */
	__u64 start;
	/** @size: in, bytes, page-aligned, non-zero; GET: out, see above. */
	__u64 size;
	/** @attr: SET: in, DRM_SVMGPU_ATTR_*; GET: in, zero. */
	__u32 attr;
#define DRM_SVMGPU_ATTR_PREFERRED_LOC	1
#define DRM_SVMGPU_ATTR_ACCESSED_BY	2
#define DRM_SVMGPU_ATTR_READ_MOSTLY	3
	/**
	 * @value: SET: in, the attribute's value; GET: in, zero, out, the
	 * DRM_SVMGPU_ADVICE_* bits of @start.
	 */
	__u32 value;
#define DRM_SVMGPU_LOC_NONE		0
#define DRM_SVMGPU_LOC_SYSTEM		1
#define DRM_SVMGPU_LOC_DEVICE		2
#define DRM_SVMGPU_ADVICE_LOC_MASK	0x3u	/* DRM_SVMGPU_LOC_* */
#define DRM_SVMGPU_ADVICE_ACCESSED_BY	0x4u
#define DRM_SVMGPU_ADVICE_READ_MOSTLY	0x8u
	/** @flags: in, zero (reserved for future behaviour, e.g. asynchronous). */
	__u32 flags;
	/** @pad: zero. */
	__u32 pad;
};

/**
 * struct drm_svmgpu_devmem_alloc - a device-memory buffer for mmap (DAX-style)
 *
 * Allocates @size bytes (rounded up to 2 MiB) of the device's DAX pool, a
 * part of its local memory (module parameter dax_mb, docs/driver.md
 * "DAX-style device memory"), zero-filled.  The buffer is mapped with
 * mmap(MAP_SHARED) of the render node at @offset (or at @offset plus a
 * multiple of @align, for part of it); the length must be a multiple of
 * @align.  The kernel chooses addresses aligned to @align; a MAP_FIXED
 * address that is not aligned, a MAP_PRIVATE mapping, an offset that is not
 * the buffer's or a length past its end are refused with -EINVAL.  The CPU
 * faults it in 2 MiB at a time (with 4 KiB page-table entries on Linux
 * 6.1), the device maps it with 2 MiB (1 GiB) leaves of aperture 1.  A
 * mapping keeps the buffer alive after FREE and after the file is closed;
 * the memory returns to the pool when the last mapping and the handle are
 * gone.  Once the device is unbound every
 * mapping is removed: a later access gets SIGBUS, a new mmap() -ENODEV.
 *
 * Errors: -EINVAL for non-zero @flags, @handle, @offset or @align, @size 0
 * or larger than the pool; -EOPNOTSUPP if the device has no DAX pool;
 * -ENOSPC if the pool has no room; -EDQUOT past the user's share
 * (dax_user_percent); -ENOMEM; -ENODEV once the device is gone.
 */
struct drm_svmgpu_devmem_alloc {
	/** @size: in, bytes, non-zero; out, rounded up to 2 MiB. */
	__u64 size;
	/** @flags: in, must be zero. */
	__u32 flags;
	/** @handle: in, zero; out, the buffer's handle in this file. */
	__u32 handle;
	/** @offset: in, zero; out, the mmap() offset of the buffer's first byte. */
	__u64 offset;
	/** @align: in, zero; out, 2 MiB, or 1 GiB when the size is a multiple of it. */
	__u64 align;
};

/**
 * struct drm_svmgpu_devmem_free - drop a device-memory buffer's handle
 *
 * Mappings of the buffer stay valid; its memory is freed when the last one
 * goes.  Errors: -EINVAL for non-zero @pad, -ENOENT for an unknown @handle.
 */
struct drm_svmgpu_devmem_free {
	/** @handle: in, from DEVMEM_ALLOC. */
	__u32 handle;
	/** @pad: in, must be zero. */
	__u32 pad;
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_SVMGPU_DRM_H_ */
