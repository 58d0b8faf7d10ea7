/* SPDX-License-Identifier: MIT */
/*
 * libsvmgpu: run GPU-like work on ordinary process memory with svmgpu.
 *
 * svmgpu's engines translate process virtual addresses through their own
 * MMU, so every pointer the program owns (malloc, mmap, the stack) can be
 * handed to the device as it is.  This library opens svmgpu devices through
 * their DRM render nodes, creates contexts and queues, builds device
 * commands, submits them and waits for them, assembles compute kernels and
 * ships a set of ready kernels.  docs/api.md documents every function.
 *
 * Conventions:
 *  - Functions that can fail return 0 (or a non-negative count) on success
 *    and a negative errno value on failure; errno itself is not used.
 *  - Objects are opaque handles with create/destroy (open/close) pairs.
 *  - The library never prints, exits or aborts.
 *  - Thread safety: a device, its contexts and its queues may be used from
 *    several threads at once; the library serialises what needs it.  A
 *    handle must not be destroyed while another thread uses it.  Command
 *    builders (svmgpu_cmd_*) and the assembler touch only their arguments.
 *  - A context and its queues belong to the process that created them: a
 *    fork()ed child cannot use its parent's handles (-EACCES); it opens the
 *    device again.
 */
#ifndef SVMGPU_H
#define SVMGPU_H

#include <stddef.h>
#include <stdint.h>

#include <svmgpu/svmgpu_hw.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SVMGPU_BUILDING_LIBRARY)
#define SVMGPU_PUBLIC __attribute__((visibility("default")))
#else
#define SVMGPU_PUBLIC
#endif

/* Compile-time version of this header. */
#define SVMGPU_LIB_VERSION_MAJOR	0
#define SVMGPU_LIB_VERSION_MINOR	1
#define SVMGPU_LIB_VERSION_PATCH	0
#define SVMGPU_LIB_VERSION \
	((SVMGPU_LIB_VERSION_MAJOR << 16) | (SVMGPU_LIB_VERSION_MINOR << 8) | \
	 SVMGPU_LIB_VERSION_PATCH)
/* True when this header is at least version major.minor. */
#define SVMGPU_LIB_CHECK_VERSION(major, minor) \
	(SVMGPU_LIB_VERSION_MAJOR > (major) || \
	 (SVMGPU_LIB_VERSION_MAJOR == (major) && SVMGPU_LIB_VERSION_MINOR >= (minor)))

/* Runtime version of the library that is loaded. */
SVMGPU_PUBLIC int svmgpu_version_major(void);
SVMGPU_PUBLIC int svmgpu_version_minor(void);
/* Returns 1 if the loaded library is at least major.minor, else 0. */
SVMGPU_PUBLIC int svmgpu_check_version(int major, int minor);

/* Opaque handles. */
struct svmgpu_device;
struct svmgpu_context;
struct svmgpu_queue;
struct svmgpu_program;

/* ------------------------------------------------------------------------
 * Devices
 */

#define SVMGPU_PATH_MAX		64

/* One svmgpu device found by svmgpu_device_list(). */
struct svmgpu_device_desc {
	char render_node[SVMGPU_PATH_MAX];	/* e.g. /dev/dri/renderD128 */
	uint16_t pci_domain;
	uint8_t pci_bus;
	uint8_t pci_dev;
	uint8_t pci_func;
	uint8_t pad[3];
	uint16_t vendor_id;
	uint16_t device_id;
	uint8_t revision;
	uint8_t pad2[7];
	uint64_t reserved[4];
};

/*
 * svmgpu_device_list - find the svmgpu devices of the system
 * @descs: [out] array receiving up to @max descriptions (may be NULL if @max is 0)
 * @max:   [in]  capacity of @descs
 *
 * The devices (render nodes of the svmgpu driver) are in PCI address
 * order (domain, bus, device, function), so an index names the same
 * device in every run.
 *
 * Returns the number of svmgpu devices present (may exceed @max; only the
 * first @max are written), or -errno.
 */
SVMGPU_PUBLIC int svmgpu_device_list(struct svmgpu_device_desc *descs, unsigned int max);

/*
 * svmgpu_device_open - open the @index'th device of svmgpu_device_list()
 * @index: [in]  device index
 * @dev:   [out] the device handle
 *
 * Returns 0, -ENODEV if there is no such device, or -errno from open(2).
 */
SVMGPU_PUBLIC int svmgpu_device_open(unsigned int index, struct svmgpu_device **dev);

/*
 * svmgpu_device_open_path - open a render node by path
 * Returns 0, -ENODEV if the node is not an svmgpu device, or -errno.
 */
SVMGPU_PUBLIC int svmgpu_device_open_path(const char *path, struct svmgpu_device **dev);

/*
 * svmgpu_device_debugfs_dir - the driver's debugfs directory of a device
 * @render_node: [in]  its render node (svmgpu_device_desc.render_node) or
 *                     primary node
 * @dir:         [out] e.g. "/sys/kernel/debug/dri/1" (NUL-terminated)
 * @len:         [in]  size of @dir
 *
 * The directory of the device's primary node, which holds the driver's
 * files (svmgpu_device, svmgpu_sched, svmgpu_devmem, ...; docs/driver.md).
 * Returns 0, -EINVAL, -ENODEV if @render_node is not an svmgpu node,
 * -ENAMETOOLONG if @len is too small, or the error of open(2) on the
 * node or of access(2) on the directory (-ENOENT: debugfs not
 * mounted; -EACCES: not root).  On error @dir is "" (when @len > 0).
 */
SVMGPU_PUBLIC int svmgpu_device_debugfs_dir(const char *render_node, char *dir, size_t len);

/*
 * svmgpu_device_close - close a device
 *
 * Returns 0, -EINVAL for NULL, or -EBUSY while it still has contexts or
 * device-memory buffers.
 */
SVMGPU_PUBLIC int svmgpu_device_close(struct svmgpu_device *dev);

/*
 * The DRM file descriptor of @dev (owned by the library), or -EINVAL.
 * poll()/epoll report POLLIN on it while completion events of
 * SVMGPU_SUBMIT_EVENT submissions or of svmgpu_device_prefetch_async() are
 * pending (svmgpu_device_reap_events()).
 */
SVMGPU_PUBLIC int svmgpu_device_fd(const struct svmgpu_device *dev);

/* What the driver read from the device. */
struct svmgpu_device_info {
	uint32_t hw_id;			/* SVMGPU_ID_MAGIC */
	uint32_t hw_version;		/* major << 16 | minor */
	uint32_t pci_vendor;
	uint32_t pci_device;
	uint32_t num_queues;
	uint32_t num_engines;
	uint32_t caps;			/* SVMGPU_CAPS_* */
	uint32_t fault_ring_entries;
	uint32_t tlb_sets;
	uint32_t tlb_ways;
	uint32_t max_contexts;
	uint32_t max_ring_entries;
	char driver_name[32];
	int driver_major, driver_minor, driver_patch;
	uint32_t pad;
	uint64_t reserved[4];
};

/*
 * svmgpu_device_get_info - describe a device
 * @dev:  [in]
 * @info: [out]
 * Returns 0 or -errno.
 */
SVMGPU_PUBLIC int svmgpu_device_get_info(struct svmgpu_device *dev, struct svmgpu_device_info *info);

/* ------------------------------------------------------------------------
 * Device-local memory: placement of the calling process's pages.
 */

#define SVMGPU_PREFETCH_DEVICE	0x1u	/* into the device's local memory */
#define SVMGPU_PREFETCH_SYSTEM	0x2u	/* back to system memory */

/*
 * svmgpu_device_prefetch - migrate [addr, addr + size) of the calling process
 * @dev:   [in]
 * @addr:  [in]  page-aligned
 * @size:  [in]  bytes, page-aligned, non-zero
 * @where: [in]  SVMGPU_PREFETCH_DEVICE or SVMGPU_PREFETCH_SYSTEM
 * @pages: [out] pages moved (may be NULL); set on -ENOSPC/-EFAULT too
 * Synchronous. Returns 0, -EINVAL (where, alignment, size 0, wrap),
 * -EOPNOTSUPP (no local memory), -ENOSPC (larger than local memory: nothing
 * moved; or local memory ran out: what fit moved), -EFAULT (unmapped page),
 * -ENODEV (device gone) or -errno.
 */
SVMGPU_PUBLIC int svmgpu_device_prefetch(struct svmgpu_device *dev, const void *addr, size_t size,
					 unsigned int where, uint64_t *pages);

/*
 * svmgpu_device_prefetch_async - svmgpu_device_prefetch() without waiting
 * @dev:   [in]
 * @addr:  [in]  page-aligned
 * @size:  [in]  bytes, page-aligned, non-zero
 * @where: [in]  SVMGPU_PREFETCH_DEVICE or SVMGPU_PREFETCH_SYSTEM
 * @id:    [out] the request's id (non-zero, increasing per device handle);
 *               may be NULL
 * Checks the arguments and that every page of the range is mapped, queues
 * the migration and returns.  When it is done, a struct svmgpu_queue_event
 * with queue == SVMGPU_EVENT_PREFETCH, user_data == *@id, seq == pages
 * moved and result == what svmgpu_device_prefetch() would have returned
 * (-ENODEV: device removed first, -ECANCELED: the process's address space
 * went first) comes out of svmgpu_device_reap_events()/_wait_events().
 * The device handle's prefetches run in order; closing it drops those not
 * done.  Placement is a hint: commands submitted meanwhile are correct.
 * Returns 0, the errors of svmgpu_device_prefetch() (-EFAULT: an unmapped
 * page, nothing queued), -ENOBUFS (4 KiB of unreaped events pending: reap
 * and retry), -EOPNOTSUPP (also: svmgpu.ko older than minor version 3),
 * -ENOMEM or -errno.
 */
SVMGPU_PUBLIC int svmgpu_device_prefetch_async(struct svmgpu_device *dev, const void *addr,
					       size_t size, unsigned int where, uint64_t *id);

/*
 * svmgpu_device_residency - pages of [addr, addr + size) in device memory
 * @dev:   [in]
 * @addr:  [in]  page-aligned
 * @size:  [in]  bytes, page-aligned, non-zero
 * @pages: [out] pages of the range in @dev's local memory (a snapshot)
 * Returns 0, -EINVAL, -EOPNOTSUPP, -EFAULT, -ENODEV or -errno.
 */
SVMGPU_PUBLIC int svmgpu_device_residency(struct svmgpu_device *dev, const void *addr, size_t size,
					  uint64_t *pages);

/* ------------------------------------------------------------------------
 * DAX-style device-memory buffers (docs/api.md "Device-memory buffers").
 * Lifetime: a mapping (the library's or one made with mmap() on the fd at
 * the buffer's offset) keeps the memory alive after svmgpu_devmem_free()
 * and after the device is closed; the memory goes back to the device when
 * the handle and the last mapping are gone.  Free every buffer before
 * svmgpu_device_close() (-EBUSY otherwise).  After the device is removed,
 * touching a mapping raises SIGBUS.
 */
struct svmgpu_devmem;

/*
 * svmgpu_devmem_alloc - allocate device memory for mapping
 * @dev:  [in]
 * @size: [in]  bytes, non-zero; rounded up to 2 MiB
 * @mem:  [out]
 * Zero-filled.  Returns 0, -EINVAL (size 0 or larger than the device's DAX
 * pool, NULL), -EOPNOTSUPP (no DAX pool), -ENOSPC (pool full), -EDQUOT (past
 * the user's share of the pool), -ENODEV (device gone) or -errno.
 */
SVMGPU_PUBLIC int svmgpu_devmem_alloc(struct svmgpu_device *dev, size_t size,
				      struct svmgpu_devmem **mem);

/*
 * svmgpu_devmem_map - map a buffer into the calling process (MAP_SHARED,
 * read/write), once: later calls return the same mapping
 * @mem:  [in]
 * @addr: [out] aligned to 2 MiB (1 GiB for a multiple of 1 GiB, where the
 *              device allows it); the CPU and the device use it like any
 *              other memory of the process
 * @size: [out] the buffer's size (may be NULL)
 * Returns 0, -EINVAL, -ENODEV (device gone) or -errno of mmap().
 */
SVMGPU_PUBLIC int svmgpu_devmem_map(struct svmgpu_devmem *mem, void **addr, size_t *size);

/*
 * svmgpu_devmem_free - unmap the library's mapping and drop the handle
 * @mem: [in] freed, unless munmap() fails (its -errno, nothing done)
 * Returns 0, -EINVAL for NULL, -errno of munmap(), -EACCES in a fork()ed
 * child (its copy is released, the parent's handle kept; @mem is freed), or
 * -errno of the ioctl (-ENODEV once the device is gone: the handle went with
 * it; @mem is freed).
 */
SVMGPU_PUBLIC int svmgpu_devmem_free(struct svmgpu_devmem *mem);

/* ------------------------------------------------------------------------
 * Contexts: one device address space mirroring the calling process's.
 */

/*
 * svmgpu_context_create - bind a context to the calling process
 * @dev: [in]
 * @ctx: [out]
 * Returns 0 or -errno: -EBUSY when the device has no context left, -EMFILE
 * past the user's share of them (max_user_contexts), -ENODEV (device gone).
 */
SVMGPU_PUBLIC int svmgpu_context_create(struct svmgpu_device *dev, struct svmgpu_context **ctx);

/*
 * Returns 0, -EINVAL for NULL, -EBUSY while the context still has queues, or
 * the driver's error: @ctx is freed also on -EACCES (a fork()ed child's
 * copy) and -ENODEV (the device was removed), kept on any other.
 */
SVMGPU_PUBLIC int svmgpu_context_destroy(struct svmgpu_context *ctx);

/* Fault and mapping counters of a context (see the driver's GET_STATS). */
struct svmgpu_stats {
	uint64_t faults;
	uint64_t fault_batches;
	uint64_t replays;
	uint64_t cancels;
	uint64_t pages_mapped;
	uint64_t huge_2m_mapped;
	uint64_t huge_1g_mapped;
	uint64_t pages_unmapped;
	uint64_t invalidations;
	uint64_t tlb_invalidations;
	uint64_t tlb_inval_ns;
	uint64_t submitted;
	uint64_t failed;
	uint64_t reserved[3];
};

#define SVMGPU_STATS_CLEAR	(1u << 0)	/* zero the counters after reading */

/*
 * svmgpu_context_get_stats - read a context's counters
 * @ctx:   [in]
 * @stats: [out]
 * @flags: [in] 0 or SVMGPU_STATS_CLEAR
 * Returns 0 or -errno.
 */
SVMGPU_PUBLIC int svmgpu_context_get_stats(struct svmgpu_context *ctx, struct svmgpu_stats *stats,
					   unsigned int flags);

/* svmgpu_context_advise() attributes and their values */
#define SVMGPU_ADVISE_PREFERRED_LOCATION 1	/* SVMGPU_LOCATION_* */
#define SVMGPU_ADVISE_ACCESSED_BY	2	/* 1: device faults never migrate; 0: clear */
#define SVMGPU_ADVISE_READ_MOSTLY	3	/* 1: device reads never migrate; 0: clear */
#define SVMGPU_LOCATION_NONE		0	/* no preference (the default) */
#define SVMGPU_LOCATION_SYSTEM		1	/* device faults move device pages back */
#define SVMGPU_LOCATION_DEVICE		2	/* device faults migrate 2 MiB to device memory */
/* svmgpu_context_get_advice() bits */
#define SVMGPU_ADVICE_LOCATION_MASK	0x3u	/* SVMGPU_LOCATION_* */
#define SVMGPU_ADVICE_ACCESSED_BY	0x4u
#define SVMGPU_ADVICE_READ_MOSTLY	0x8u

/*
 * svmgpu_context_advise - placement advice for [addr, addr + size)
 * @ctx:   [in]  its process's address space keeps the advice, shared by
 *               every context of the process on this device
 * @addr:  [in]  page-aligned
 * @size:  [in]  bytes, page-aligned, non-zero; every page mapped
 * @attr:  [in]  SVMGPU_ADVISE_*
 * @value: [in]  the attribute's value; the range's other attributes stay
 * Kept until changed, munmap()/mremap() of the addresses, or the last
 * context of the process on the device.  Returns 0, -EINVAL (attr, value,
 * alignment, size 0, wrap), -EOPNOTSUPP (LOCATION_DEVICE without local
 * memory), -EFAULT (unmapped page: nothing changed), -ENOENT/-EACCES (not
 * a context of this process), -ENODEV or -errno.
 */
SVMGPU_PUBLIC int svmgpu_context_advise(struct svmgpu_context *ctx, const void *addr, size_t size,
					unsigned int attr, unsigned int value);

/*
 * svmgpu_context_get_advice - the advice of the page at @addr
 * @ctx:    [in]
 * @addr:   [in]  page-aligned
 * @size:   [in]  bytes, page-aligned, non-zero: how far to look
 * @advice: [out] SVMGPU_ADVICE_* bits of @addr (0: none)
 * @same:   [out] bytes from @addr with exactly that advice, at most @size
 *               (may be NULL)
 * Returns 0, -EINVAL, -ENOENT/-EACCES, -ENODEV or -errno.
 */
SVMGPU_PUBLIC int svmgpu_context_get_advice(struct svmgpu_context *ctx, const void *addr,
					    size_t size, unsigned int *advice, size_t *same);

/* ------------------------------------------------------------------------
 * Queues
 */

/*
 * svmgpu_queue_create - create a command queue
 * @ctx:          [in]
 * @ring_entries: [in] 0 for the driver's default, else a power of two >= 2
 * @q:            [out]
 *
 * Queues are not limited by the hardware: the driver lends a queue one of
 * the device's hardware queues while it has work.  Returns 0, -EBUSY when
 * the device handle already has the driver's maximum of queues, or -errno.
 */
SVMGPU_PUBLIC int svmgpu_queue_create(struct svmgpu_context *ctx, unsigned int ring_entries,
				      struct svmgpu_queue **q);

/* svmgpu_queue_create_priority() priorities */
enum svmgpu_priority {
	SVMGPU_PRIORITY_LOW = 1,	/* served after NORMAL and HIGH */
	SVMGPU_PRIORITY_NORMAL = 2,	/* svmgpu_queue_create()'s */
	SVMGPU_PRIORITY_HIGH = 3,	/* needs CAP_SYS_NICE */
};

/*
 * svmgpu_queue_create_priority - svmgpu_queue_create() with a priority
 * @ctx:          [in]
 * @ring_entries: [in] as svmgpu_queue_create()
 * @priority:     [in] an enum svmgpu_priority
 * @q:            [out]
 *
 * The driver's scheduler hands hardware queues to higher priorities first
 * and preempts lower-priority work for them.  Returns as
 * svmgpu_queue_create(), -EACCES for SVMGPU_PRIORITY_HIGH without
 * CAP_SYS_NICE, -EINVAL for an unknown priority.
 */
SVMGPU_PUBLIC int svmgpu_queue_create_priority(struct svmgpu_context *ctx,
					       unsigned int ring_entries,
					       unsigned int priority, struct svmgpu_queue **q);

/*
 * Commands still running are abandoned.  Returns 0, -EINVAL for NULL, or
 * the driver's error: @q is freed also on -EACCES (a forked child's copy)
 * and -ENODEV (the device was removed), kept on any other.
 */
SVMGPU_PUBLIC int svmgpu_queue_destroy(struct svmgpu_queue *q);

/*
 * The id of @q (the driver's queue handle: unique among the queues of its
 * device handle, and the `queue` of error reports), or -EINVAL.
 */
SVMGPU_PUBLIC int svmgpu_queue_id(const struct svmgpu_queue *q);

/*
 * svmgpu_queue_submit - queue commands
 * @q:     [in]
 * @cmds:  [in] @count commands built with svmgpu_cmd_*(); their seq fields
 *              must be 0 (the driver assigns them)
 * @count: [in] 1 .. ring entries - 1
 * @seq:   [out] sequence number of the last command (may be NULL); the
 *              first is *@seq - @count + 1
 * Returns 0 or -errno (-EINVAL for a bad header; nothing is queued then).
 */
SVMGPU_PUBLIC int svmgpu_queue_submit(struct svmgpu_queue *q, const struct svmgpu_cmd *cmds,
				      unsigned int count, uint64_t *seq);

/* Why a command failed. */
struct svmgpu_cmd_error {
	uint64_t seq;		/* sequence number of the failed command */
	uint64_t va;		/* fault VA, kernel pc or offending VA */
	uint32_t code;		/* enum svmgpu_error, SVMGPU_ERROR_RESET or _HANG */
	uint32_t access;	/* enum svmgpu_access */
	uint32_t reason;	/* enum svmgpu_fault_reason */
	uint32_t queue;		/* svmgpu_queue_id() of the queue */
	uint32_t count;		/* failures reported by this call */
	uint32_t pad;
	uint64_t reserved[2];
};

/* err->code when the command was lost in a device reset. */
#define SVMGPU_ERROR_RESET	0x100
/* err->code when its queue made no progress for hang_timeout_ms and was reset. */
#define SVMGPU_ERROR_HANG	0x101

#define SVMGPU_TIMEOUT_INFINITE	UINT64_MAX

/*
 * svmgpu_queue_wait - wait for command @seq of @q to complete
 * @q:          [in]
 * @seq:        [in]  a sequence number returned by svmgpu_queue_submit()
 * @timeout_ns: [in]  relative timeout; 0 polls; SVMGPU_TIMEOUT_INFINITE
 * @err:        [out] filled when a command failed (may be NULL)
 *
 * Every failure of a command up to @seq is reported once, by the first
 * wait that covers it.  Returns 0 when @seq completed and no command since
 * the previous report failed; -EFAULT when the earliest unreported failed
 * command faulted (cancelled fault, invalid or misaligned address: @err
 * has the address and access kind); -EIO for other command failures (@err
 * has the code); -ETIMEDOUT if @seq has not completed in time; -ECANCELED
 * if the queue was stopped (reset, address space gone); -EINVAL for a
 * sequence number never submitted; or another -errno.
 */
SVMGPU_PUBLIC int svmgpu_queue_wait(struct svmgpu_queue *q, uint64_t seq, uint64_t timeout_ns,
				    struct svmgpu_cmd_error *err);

/*
 * svmgpu_queue_poll - has command @seq completed?
 * Returns as svmgpu_queue_wait() with timeout 0, except -EBUSY instead of
 * -ETIMEDOUT when it has not completed yet.
 */
SVMGPU_PUBLIC int svmgpu_queue_poll(struct svmgpu_queue *q, uint64_t seq, struct svmgpu_cmd_error *err);

/*
 * svmgpu_queue_run - submit @count commands and wait for the last one
 * Returns as svmgpu_queue_submit() and svmgpu_queue_wait().
 */
SVMGPU_PUBLIC int svmgpu_queue_run(struct svmgpu_queue *q, const struct svmgpu_cmd *cmds,
				   unsigned int count, uint64_t timeout_ns, struct svmgpu_cmd_error *err);

/* svmgpu_queue_submit_flags() flags */
/* Queue a struct svmgpu_queue_event for svmgpu_device_reap_events(). */
#define SVMGPU_SUBMIT_EVENT	0x1u
/* -EAGAIN instead of sleeping for ring room or a hardware queue. */
#define SVMGPU_SUBMIT_NONBLOCK	0x2u

/*
 * svmgpu_queue_submit_flags - svmgpu_queue_submit() with flags
 * @flags:     [in] SVMGPU_SUBMIT_* flags
 * @user_data: [in] copied into the event (0 without SVMGPU_SUBMIT_EVENT)
 *
 * With SVMGPU_SUBMIT_EVENT, exactly one event is queued on the device's fd
 * (svmgpu_device_fd(): poll()/epoll for POLLIN) when the last command has
 * completed or the queue was stopped; -ENOSPC, nothing queued, when 4 KiB
 * of unreaped events (51 events) are pending.  With SVMGPU_SUBMIT_NONBLOCK,
 * -EAGAIN, nothing queued, when the ring has no room for @count commands
 * or no hardware queue is free.  -EINVAL for unknown flags or @user_data
 * without SVMGPU_SUBMIT_EVENT.  Otherwise as svmgpu_queue_submit().
 */
SVMGPU_PUBLIC int svmgpu_queue_submit_flags(struct svmgpu_queue *q, const struct svmgpu_cmd *cmds,
					    unsigned int count, unsigned int flags,
					    uint64_t user_data, uint64_t *seq);

/*
 * svmgpu_queue_event.queue of an svmgpu_device_prefetch_async() completion
 * (no queue has id 0): user_data is its id, first_seq 0, seq the pages
 * moved, result its status, err all zero.
 */
#define SVMGPU_EVENT_PREFETCH	0u

/*
 * A submission with SVMGPU_SUBMIT_EVENT completed (or, queue ==
 * SVMGPU_EVENT_PREFETCH, an asynchronous prefetch is done).
 */
struct svmgpu_queue_event {
	uint64_t user_data;	/* as submitted */
	uint64_t first_seq;	/* first command of the submission */
	uint64_t seq;		/* its last command */
	uint32_t queue;		/* svmgpu_queue_id() of the queue */
	/*
	 * 0; -EFAULT / -EIO for the earliest failed command of the submission
	 * (in @err) as svmgpu_queue_wait() reports it; -ECANCELED if the queue
	 * was stopped (destroyed, address space gone) or the device reset.
	 */
	int32_t result;
	struct svmgpu_cmd_error err;	/* all zero when no command failed */
};

/*
 * svmgpu_device_reap_events - take completion events off the device's fd
 * @dev: [in]
 * @ev:  [out] up to @max events, oldest first
 * @max: [in] at least 1
 *
 * Never sleeps: wait with poll()/epoll on svmgpu_device_fd() for POLLIN.
 * Events report failures independently of svmgpu_queue_wait().  Returns
 * the number of events (0 if none is pending) or -errno (-EINVAL; -EPROTO
 * for a malformed event from the kernel).
 */
SVMGPU_PUBLIC int svmgpu_device_reap_events(struct svmgpu_device *dev, struct svmgpu_queue_event *ev,
					    unsigned int max);

/*
 * svmgpu_device_wait_events - wait for completion events of any queues
 * @dev:        [in]
 * @ev:         [out] up to @max events, oldest first
 * @max:        [in] at least 1
 * @timeout_ns: [in] relative timeout; 0 takes only what is pending;
 *              SVMGPU_TIMEOUT_INFINITE
 *
 * WAIT across several queues: sleeps until at least one
 * SVMGPU_SUBMIT_EVENT submission of any queue of @dev has completed (or
 * failed, or its queue was stopped) or an svmgpu_device_prefetch_async()
 * is done, then reaps as
 * svmgpu_device_reap_events().  Returns the number of events (at least 1),
 * -ETIMEDOUT if none came in time, -EINVAL (NULL, @max 0 or above
 * INT_MAX), or -errno.
 */
SVMGPU_PUBLIC int svmgpu_device_wait_events(struct svmgpu_device *dev, struct svmgpu_queue_event *ev,
					    unsigned int max, uint64_t timeout_ns);

/* Name of an enum svmgpu_error / SVMGPU_ERROR_RESET, "unknown" otherwise. */
SVMGPU_PUBLIC const char *svmgpu_error_name(uint32_t code);
/* Name of an enum svmgpu_access, "unknown" otherwise. */
SVMGPU_PUBLIC const char *svmgpu_access_name(uint32_t access);

/* ------------------------------------------------------------------------
 * Command builders: fill one struct svmgpu_cmd (all other bytes zero).
 * They validate what the device would reject and return 0 or -EINVAL.
 * @flags is 0 or SVMGPU_CMD_FLAG_IRQ.
 */
SVMGPU_PUBLIC int svmgpu_cmd_nop(struct svmgpu_cmd *cmd, unsigned int flags);
SVMGPU_PUBLIC int svmgpu_cmd_copy(struct svmgpu_cmd *cmd, void *dst, const void *src, uint64_t size,
				  unsigned int flags);
/* @width: 1, 2, 4 or 8; @dst and @size multiples of it. */
SVMGPU_PUBLIC int svmgpu_cmd_fill(struct svmgpu_cmd *cmd, void *dst, uint64_t size, uint64_t value,
				  unsigned int width, unsigned int flags);
/* @op: enum svmgpu_atomic_op; @size 4 or 8; @result may be NULL. */
SVMGPU_PUBLIC int svmgpu_cmd_atomic(struct svmgpu_cmd *cmd, void *va, unsigned int op, unsigned int size,
				    uint64_t operand, uint64_t compare, void *result, unsigned int flags);
/* 64-bit store of @value to 8-aligned @va. */
SVMGPU_PUBLIC int svmgpu_cmd_signal(struct svmgpu_cmd *cmd, uint64_t *va, uint64_t value, unsigned int flags);
/* Stall the queue until cond((*va & mask), value); @timeout_ns 0 = none. */
SVMGPU_PUBLIC int svmgpu_cmd_wait(struct svmgpu_cmd *cmd, const uint64_t *va, unsigned int cond,
				  uint64_t value, uint64_t mask, uint64_t timeout_ns, unsigned int flags);
/* 64-bit store of the device clock (ns) to 8-aligned @va. */
SVMGPU_PUBLIC int svmgpu_cmd_timestamp(struct svmgpu_cmd *cmd, uint64_t *va, unsigned int flags);

/* Shape of a kernel launch. */
struct svmgpu_launch {
	uint32_t grid[3];	/* workgroups per dimension, each >= 1 */
	uint32_t wg_size;	/* lanes per workgroup, 1..SVMGPU_ISA_MAX_WG_SIZE */
	uint64_t budget;	/* wave-instruction budget, 0 = device default */
	uint64_t reserved[2];
};

/* Run @code (8-aligned device instructions) with argument block @args. */
SVMGPU_PUBLIC int svmgpu_cmd_launch(struct svmgpu_cmd *cmd, const void *code, const void *args,
				    const struct svmgpu_launch *launch, unsigned int flags);

/* ------------------------------------------------------------------------
 * Assembler (docs/isa.md; syntax in docs/api.md)
 */
struct svmgpu_asm_error {
	unsigned int line;	/* 1-based source line, 0 if not tied to a line */
	unsigned int column;	/* 1-based column, 0 if not tied to a line */
	char message[160];	/* "line L, column C: ..." ("..." alone if line is 0) */
};

/*
 * svmgpu_program_assemble - assemble kernel source text
 * @source: [in]  NUL-terminated assembly text
 * @prog:   [out] the program (code in ordinary memory the device can read)
 * @err:    [out] on -EINVAL, the first error (may be NULL)
 * Returns 0, -EINVAL on a syntax error, -ENOMEM.
 */
SVMGPU_PUBLIC int svmgpu_program_assemble(const char *source, struct svmgpu_program **prog,
					  struct svmgpu_asm_error *err);
/*
 * svmgpu_program_assemble_diag - assemble, reporting every error
 * @source:    [in]  NUL-terminated assembly text
 * @prog:      [out] the program, NULL on error
 * @diags:     [out] the first @max_diags errors in source order (may be
 *             NULL if @max_diags is 0)
 * @max_diags: [in]  room in @diags
 * @count:     [out] the number of errors found, which may exceed
 *             @max_diags (may be NULL)
 * Returns 0, -EINVAL (errors in the source, or a bad argument), -ENOMEM.
 */
SVMGPU_PUBLIC int svmgpu_program_assemble_diag(const char *source, struct svmgpu_program **prog,
					       struct svmgpu_asm_error *diags, size_t max_diags,
					       size_t *count);
/* Create a program from @count already encoded instructions. */
SVMGPU_PUBLIC int svmgpu_program_create(const uint64_t *insns, size_t count, struct svmgpu_program **prog);
SVMGPU_PUBLIC int svmgpu_program_destroy(struct svmgpu_program *prog);
/* The encoded instructions (8-byte aligned) and their number. */
SVMGPU_PUBLIC const uint64_t *svmgpu_program_code(const struct svmgpu_program *prog);
SVMGPU_PUBLIC size_t svmgpu_program_length(const struct svmgpu_program *prog);
/*
 * svmgpu_program_symbol - instruction index of a label
 * Returns the index (>= 0), -ENOENT, or -EINVAL for a NULL argument.
 */
SVMGPU_PUBLIC long svmgpu_program_symbol(const struct svmgpu_program *prog, const char *label);

/*
 * svmgpu_insn_disassemble - one instruction as text
 * @insn: [in] @buf: [out] @size: [in]
 * The text assembles back to @insn (control instructions in a balanced
 * context: see svmgpu_program_disassemble()): a word with bits in fields
 * its instruction ignores is ".word 0x... ; TEXT".
 * Returns the text length (as snprintf), or -EINVAL for an undecodable word
 * (unknown opcode, register >= 32, unknown sreg or atomic op; then @buf
 * holds ".word 0x...").
 */
SVMGPU_PUBLIC int svmgpu_insn_disassemble(uint64_t insn, char *buf, size_t size);

/*
 * svmgpu_program_disassemble - a whole program as source text
 * @prog: [in]
 * @text: [out] NUL-terminated text to free(): one line per word,
 *        "    TEXT ; OFFSET: ENCODING"
 * The text assembles back to the same words: a word that cannot stand as
 * its instruction where it is (undecodable, bits in ignored fields, an
 * ELSE/ENDIF/ENDLOOP/BREAK outside its region, an IF/LOOP never closed)
 * is a ".word" line with the instruction as a comment.
 * Returns 0, -EINVAL, -ENOMEM.
 */
SVMGPU_PUBLIC int svmgpu_program_disassemble(const struct svmgpu_program *prog, char **text);

/* ------------------------------------------------------------------------
 * Ready kernels.  Each has an argument block (struct below) read by the
 * kernel through SR_ARGS; the argument block and every buffer are ordinary
 * process memory.  svmgpu_kernel_launch_shape() gives the launch shape.
 */
enum svmgpu_kernel {
	SVMGPU_KERNEL_VECADD = 0,	/* out[i] = a[i] + b[i], f32 */
	SVMGPU_KERNEL_SAXPY,		/* y[i] = a * x[i] + y[i], f32, fused */
	SVMGPU_KERNEL_REDUCE_SUM,	/* *sum += sum(in[i]), u32 in, u64 sum */
	SVMGPU_KERNEL_SGEMM,		/* C = A * B, f32, row-major */
	SVMGPU_KERNEL_HISTOGRAM,	/* hist[in[i] % nbins]++, u32 */
	SVMGPU_KERNEL_STENCIL2D,	/* 5-point average, f32, borders copied */
	SVMGPU_KERNEL_LIST_WALK,	/* sum and length of linked lists */
	SVMGPU_KERNEL_TREE_LOOKUP,	/* look keys up in a binary search tree */
	SVMGPU_KERNEL_RANGE_HASH,	/* coherence: hash of a byte range */
	SVMGPU_KERNEL_COUNT
};

struct svmgpu_vecadd_args {
	const float *a, *b;
	float *out;
	uint64_t n;
};

struct svmgpu_saxpy_args {
	const float *x;
	float *y;
	uint64_t n;
	float a;
	uint32_t pad;
};

/* @scratch: n rounded up to the workgroup size (256) u64, any contents. */
struct svmgpu_reduce_args {
	const uint32_t *in;
	uint64_t *sum;		/* added to atomically */
	uint64_t *scratch;
	uint64_t n;
};
#define SVMGPU_REDUCE_WG_SIZE	256

struct svmgpu_sgemm_args {
	const float *a;		/* m x k */
	const float *b;		/* k x n */
	float *c;		/* m x n */
	uint64_t m, n, k;
};

struct svmgpu_histogram_args {
	const uint32_t *in;
	uint32_t *hist;		/* nbins counters, added to atomically */
	uint64_t n;
	uint64_t nbins;		/* >= 1 */
};

struct svmgpu_stencil2d_args {
	const float *in;
	float *out;
	uint64_t width, height;
};

/* Linked list node walked by SVMGPU_KERNEL_LIST_WALK. */
struct svmgpu_list_node {
	struct svmgpu_list_node *next;
	uint64_t value;
};

struct svmgpu_list_walk_args {
	struct svmgpu_list_node *const *heads;	/* nlists list heads (NULL = empty) */
	uint64_t *sums;		/* per list: sum of values */
	uint64_t *lengths;	/* per list: number of nodes */
	uint64_t nlists;
};

/* Binary search tree node for SVMGPU_KERNEL_TREE_LOOKUP. */
struct svmgpu_tree_node {
	struct svmgpu_tree_node *left, *right;
	uint64_t key;
	uint64_t value;
};

struct svmgpu_tree_lookup_args {
	const struct svmgpu_tree_node *root;
	const uint64_t *keys;
	uint64_t *values;	/* value of keys[i], or SVMGPU_TREE_NOT_FOUND */
	uint64_t nkeys;
};
#define SVMGPU_TREE_NOT_FOUND	UINT64_MAX

/*
 * Coherence hash of 8-byte words, a slice of them per lane: hash += the sum
 * over words of svmgpu_hash_word(word, index), each lane adding its part
 * atomically.  Words whose value differs from expect[i] are counted and
 * the lowest index is kept with an atomic minimum.
 */
struct svmgpu_range_hash_args {
	const uint64_t *data;
	const uint64_t *expect;	/* NULL: hash only */
	uint64_t nwords;
	uint64_t *hash;		/* added to */
	uint64_t *mismatches;	/* added to */
	uint64_t *first_mismatch;	/* atomic unsigned min of word index */
};

/* Source text of ready kernel @k, or NULL. */
SVMGPU_PUBLIC const char *svmgpu_kernel_source(enum svmgpu_kernel k);
/* Name ("vecadd", "saxpy", ...) of @k, or NULL. */
SVMGPU_PUBLIC const char *svmgpu_kernel_name(enum svmgpu_kernel k);
/* Assemble ready kernel @k. Returns 0, -EINVAL for an unknown kernel, -ENOMEM. */
SVMGPU_PUBLIC int svmgpu_kernel_program(enum svmgpu_kernel k, struct svmgpu_program **prog);
/*
 * svmgpu_kernel_launch_shape - launch shape for ready kernel @k over @args
 * Returns 0 or -EINVAL (unknown kernel, zero-sized problem that needs no
 * launch: -ENODATA, too large a grid: -E2BIG).
 */
SVMGPU_PUBLIC int svmgpu_kernel_launch_shape(enum svmgpu_kernel k, const void *args,
					     struct svmgpu_launch *launch);

/* ------------------------------------------------------------------------
 * Coherence
 */
/* The per-word hash the RANGE_HASH kernel sums. */
SVMGPU_PUBLIC uint64_t svmgpu_hash_word(uint64_t word, uint64_t index);

struct svmgpu_coherence_result {
	uint64_t device_hash;	/* what the device computed */
	uint64_t cpu_hash;	/* what the CPU computed over the same words */
	uint64_t mismatches;	/* words whose device view differs from the CPU's */
	uint64_t first_mismatch;	/* address of the first, if any */
	uint64_t reserved[4];
};

/*
 * svmgpu_coherence_check - do the CPU and the device see the same bytes?
 * @q:      [in]  queue to run the check on
 * @addr:   [in]  8-byte aligned range start
 * @size:   [in]  bytes, multiple of 8
 * @result: [out] (may be NULL)
 *
 * Snapshots the range on the CPU, has the device compare every word
 * through its MMU against the snapshot and hash the range, and compares
 * hashes.  The range must not change during the call.  Returns 0 when the
 * views agree, -EILSEQ when they differ (@result has the first differing
 * address), or an error of svmgpu_queue_run().
 */
SVMGPU_PUBLIC int svmgpu_coherence_check(struct svmgpu_queue *q, const void *addr, size_t size,
					 struct svmgpu_coherence_result *result);

#ifdef __cplusplus
}
#endif

#endif /* SVMGPU_H */
