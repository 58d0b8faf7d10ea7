/* SPDX-License-Identifier: GPL-2.0 */
/*
 * svmgpu tracepoints: faults, mappings, invalidations, submissions and
 * completions.  Enable with: echo 1 > /sys/kernel/tracing/events/svmgpu/enable
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM svmgpu

#if !defined(_SVMGPU_TRACE_H_) || defined(TRACE_HEADER_MULTI_READ)
#define _SVMGPU_TRACE_H_

#include <linux/tracepoint.h>

TRACE_EVENT(svmgpu_fault,
	    TP_PROTO(u32 ctx, u32 queue, u64 va, u32 access, u32 reason, u32 seq),
	    TP_ARGS(ctx, queue, va, access, reason, seq),
	    TP_STRUCT__entry(__field(u32, ctx)
			     __field(u32, queue)
			     __field(u64, va)
			     __field(u32, access)
			     __field(u32, reason)
			     __field(u32, seq)),
	    TP_fast_assign(__entry->ctx = ctx;
			   __entry->queue = queue;
			   __entry->va = va;
			   __entry->access = access;
			   __entry->reason = reason;
			   __entry->seq = seq;),
	    TP_printk("ctx=%u queue=%u va=0x%llx access=%u reason=%u seq=%u",
		      __entry->ctx, __entry->queue, __entry->va, __entry->access,
		      __entry->reason, __entry->seq)
);

TRACE_EVENT(svmgpu_fault_reply,
	    TP_PROTO(u32 ctx, u32 queue, u64 va, u32 seq, bool cancel),
	    TP_ARGS(ctx, queue, va, seq, cancel),
	    TP_STRUCT__entry(__field(u32, ctx)
			     __field(u32, queue)
			     __field(u64, va)
			     __field(u32, seq)
			     __field(bool, cancel)),
	    TP_fast_assign(__entry->ctx = ctx;
			   __entry->queue = queue;
			   __entry->va = va;
			   __entry->seq = seq;
			   __entry->cancel = cancel;),
	    TP_printk("ctx=%u queue=%u va=0x%llx seq=%u %s", __entry->ctx,
		      __entry->queue, __entry->va, __entry->seq,
		      __entry->cancel ? "cancel" : "replay")
);

TRACE_EVENT(svmgpu_hmm_fault,
	    TP_PROTO(u32 ctx, u64 start, u64 end, bool write, int ret),
	    TP_ARGS(ctx, start, end, write, ret),
	    TP_STRUCT__entry(__field(u32, ctx)
			     __field(u64, start)
			     __field(u64, end)
			     __field(bool, write)
			     __field(int, ret)),
	    TP_fast_assign(__entry->ctx = ctx;
			   __entry->start = start;
			   __entry->end = end;
			   __entry->write = write;
			   __entry->ret = ret;),
	    TP_printk("ctx=%u [0x%llx, 0x%llx) write=%d ret=%d", __entry->ctx,
		      __entry->start, __entry->end, __entry->write, __entry->ret)
);

TRACE_EVENT(svmgpu_map,
	    TP_PROTO(u32 ctx, u64 va, u64 size, u64 dma, bool write),
	    TP_ARGS(ctx, va, size, dma, write),
	    TP_STRUCT__entry(__field(u32, ctx)
			     __field(u64, va)
			     __field(u64, size)
			     __field(u64, dma)
			     __field(bool, write)),
	    TP_fast_assign(__entry->ctx = ctx;
			   __entry->va = va;
			   __entry->size = size;
			   __entry->dma = dma;
			   __entry->write = write;),
	    TP_printk("ctx=%u va=0x%llx size=0x%llx dma=0x%llx %s", __entry->ctx,
		      __entry->va, __entry->size, __entry->dma,
		      __entry->write ? "rw" : "ro")
);

TRACE_EVENT(svmgpu_invalidate,
	    TP_PROTO(u32 ctx, u64 start, u64 end, u64 lo, u64 hi, u64 pages),
	    TP_ARGS(ctx, start, end, lo, hi, pages),
	    TP_STRUCT__entry(__field(u32, ctx)
			     __field(u64, start)
			     __field(u64, end)
			     __field(u64, lo)
			     __field(u64, hi)
			     __field(u64, pages)),
	    TP_fast_assign(__entry->ctx = ctx;
			   __entry->start = start;
			   __entry->end = end;
			   __entry->lo = lo;
			   __entry->hi = hi;
			   __entry->pages = pages;),
	    TP_printk("ctx=%u [0x%llx, 0x%llx) leaves [0x%llx, 0x%llx) pages=%llu",
		      __entry->ctx, __entry->start, __entry->end, __entry->lo,
		      __entry->hi, __entry->pages)
);

TRACE_EVENT(svmgpu_tlb_inval,
	    TP_PROTO(u32 ctx, u64 start, u64 size, u32 flags, u64 ns, int ret),
	    TP_ARGS(ctx, start, size, flags, ns, ret),
	    TP_STRUCT__entry(__field(u32, ctx)
			     __field(u64, start)
			     __field(u64, size)
			     __field(u32, flags)
			     __field(u64, ns)
			     __field(int, ret)),
	    TP_fast_assign(__entry->ctx = ctx;
			   __entry->start = start;
			   __entry->size = size;
			   __entry->flags = flags;
			   __entry->ns = ns;
			   __entry->ret = ret;),
	    TP_printk("ctx=%u start=0x%llx size=0x%llx flags=0x%x ns=%llu ret=%d",
		      __entry->ctx, __entry->start, __entry->size, __entry->flags,
		      __entry->ns, __entry->ret)
);

TRACE_EVENT(svmgpu_submit,
	    TP_PROTO(u32 hwq, u64 seq, u32 opcode),
	    TP_ARGS(hwq, seq, opcode),
	    TP_STRUCT__entry(__field(u32, hwq)
			     __field(u64, seq)
			     __field(u32, opcode)),
	    TP_fast_assign(__entry->hwq = hwq;
			   __entry->seq = seq;
			   __entry->opcode = opcode;),
	    TP_printk("hwq=%u seq=%llu opcode=%u", __entry->hwq, __entry->seq,
		      __entry->opcode)
);

TRACE_EVENT(svmgpu_complete,
	    TP_PROTO(u32 hwq, u64 seq),
	    TP_ARGS(hwq, seq),
	    TP_STRUCT__entry(__field(u32, hwq)
			     __field(u64, seq)),
	    TP_fast_assign(__entry->hwq = hwq;
			   __entry->seq = seq;),
	    TP_printk("hwq=%u seq=%llu", __entry->hwq, __entry->seq)
);

TRACE_EVENT(svmgpu_cmd_error,
	    TP_PROTO(u32 hwq, u64 seq, u32 code, u64 va, u32 info),
	    TP_ARGS(hwq, seq, code, va, info),
	    TP_STRUCT__entry(__field(u32, hwq)
			     __field(u64, seq)
			     __field(u32, code)
			     __field(u64, va)
			     __field(u32, info)),
	    TP_fast_assign(__entry->hwq = hwq;
			   __entry->seq = seq;
			   __entry->code = code;
			   __entry->va = va;
			   __entry->info = info;),
	    TP_printk("hwq=%u seq=%llu code=%u va=0x%llx info=0x%x", __entry->hwq,
		      __entry->seq, __entry->code, __entry->va, __entry->info)
);

DECLARE_EVENT_CLASS(svmgpu_queue_state,
		    TP_PROTO(u32 hwq, u64 last_seq, u64 completed_seq),
		    TP_ARGS(hwq, last_seq, completed_seq),
		    TP_STRUCT__entry(__field(u32, hwq)
				     __field(u64, last_seq)
				     __field(u64, completed_seq)),
		    TP_fast_assign(__entry->hwq = hwq;
				   __entry->last_seq = last_seq;
				   __entry->completed_seq = completed_seq;),
		    TP_printk("hwq=%d last=%llu completed=%llu", (int)__entry->hwq,
			      __entry->last_seq, __entry->completed_seq)
);

DEFINE_EVENT(svmgpu_queue_state, svmgpu_queue_bind,
	     TP_PROTO(u32 hwq, u64 last_seq, u64 completed_seq),
	     TP_ARGS(hwq, last_seq, completed_seq));
DEFINE_EVENT(svmgpu_queue_state, svmgpu_queue_unbind,
	     TP_PROTO(u32 hwq, u64 last_seq, u64 completed_seq),
	     TP_ARGS(hwq, last_seq, completed_seq));
DEFINE_EVENT(svmgpu_queue_state, svmgpu_queue_stop,
	     TP_PROTO(u32 hwq, u64 last_seq, u64 completed_seq),
	     TP_ARGS(hwq, last_seq, completed_seq));

/* Pages moved between system and device-local memory (svmgpu_devmem.c). */
TRACE_EVENT(svmgpu_migrate,
	    TP_PROTO(u64 start, u64 end, bool to_device, u64 pages, int ret),
	    TP_ARGS(start, end, to_device, pages, ret),
	    TP_STRUCT__entry(__field(u64, start)
			     __field(u64, end)
			     __field(bool, to_device)
			     __field(u64, pages)
			     __field(int, ret)),
	    TP_fast_assign(__entry->start = start;
			   __entry->end = end;
			   __entry->to_device = to_device;
			   __entry->pages = pages;
			   __entry->ret = ret;),
	    TP_printk("0x%llx-0x%llx to %s pages=%llu ret=%d", __entry->start,
		      __entry->end, __entry->to_device ? "device" : "system",
		      __entry->pages, __entry->ret)
);

/* A 2 MiB region of device memory evicted under pressure (svmgpu_devmem.c). */
TRACE_EVENT(svmgpu_evict,
	    TP_PROTO(u64 offset, u64 pages, u64 moved),
	    TP_ARGS(offset, pages, moved),
	    TP_STRUCT__entry(__field(u64, offset)
			     __field(u64, pages)
			     __field(u64, moved)),
	    TP_fast_assign(__entry->offset = offset;
			   __entry->pages = pages;
			   __entry->moved = moved;),
	    TP_printk("offset=0x%llx pages=%llu moved=%llu", __entry->offset,
		      __entry->pages, __entry->moved)
);

#endif /* _SVMGPU_TRACE_H_ */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE svmgpu_trace
#include <trace/define_trace.h>
