// SPDX-License-Identifier: MIT
/*
 * svmgpu-fuzz: a system-call fuzzer for the svmgpu driver.
 *
 * Seeded random sequences of every svmgpu ioctl, with valid and invalid
 * arguments (handles, flags, pads, sizes, counts, pointers into unmapped,
 * read-only, PROT_NONE, file, shared and THP memory, kernel and
 * non-canonical addresses, random compute kernels), interleaved with
 * mmap/munmap/mremap/mprotect/madvise (every advice value except
 * MADV_HWPOISON and MADV_SOFT_OFFLINE), mlock, CPU stores, fork (the child
 * runs its own sequence, exits mid-work or is killed), open/close/dup of the
 * render node, signals interrupting blocking ioctls, threads, and (with
 * --unbind) sysfs unbind/bind of the device.
 *
 * What it checks:
 *  - every ioctl fails only with an errno of the documented set for that
 *    ioctl (docs/driver.md, svmgpu_drm.h), and with exactly the documented
 *    errno where the fuzzer knows the argument is bad (flags, pad, handle 0,
 *    a sequence number never submitted, a bad command header, ...);
 *  - FILL and COPY into memory whose content the fuzzer knows are byte-exact
 *    (and stay so after MADV_PAGEOUT/MADV_COLD; file-backed ones reach the
 *    file), bytes around them untouched;
 *  - a DEVMEM_ALLOC buffer maps only MAP_SHARED, at an aligned address,
 *    zero-filled, and keeps a CPU write;
 *  - no process gets a signal it did not ask for, and no worker stops
 *    making progress (a hang is reported after --hang seconds).
 * The kernel log (BUG, WARNING, KASAN, lockdep, hung tasks) is judged by the
 * host for every boot (scripts/guest-report.py).
 *
 * Every operation k of worker w draws its parameters from a generator
 * seeded with (seed, w, k).  With --replay (one worker, no threads, no
 * timers, fork children waited for in order, no unbind) a seed gives the
 * same sequence of operations every time; "sequence hash" at the end
 * identifies it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>

#include <svmgpu/svmgpu_hw.h>
#include <svmgpu_drm.h>

#include "cli.h"
#include "svmgpu.h"

#ifndef MADV_FREE
#define MADV_FREE		8
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK		18
#define MADV_KEEPONFORK		19
#endif
#ifndef MADV_COLD
#define MADV_COLD		20
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED	24
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT		1
#endif

#define PAGE		4096ul
#define SLOT		(4ul << 20)	/* one region per 4 MiB slot of an arena */
#define NSLOTS		40
#define ARENA		(1ul << 30)
#define ARENA_BASE	0x100000000000ul	/* far from where mmap(NULL) looks */
#define MAX_WORKERS	64
#define MAX_FILES	3
#define MAX_FDS		4
#define MAX_CTX		6
#define MAX_Q		8
#define MAX_CHILDREN	4
#define MAX_PAGES	(SLOT / PAGE)
/* the heap buffer: commands (zero past the ones built: NOPs), pattern, read-back */
#define BUF_CMDS	(4096 * SVMGPU_CMD_SIZE)
#define BUF_PAT		(1ul << 20)
#define BUF_BACK	(64ul << 10)
#define BUF_SIZE	(BUF_CMDS + BUF_PAT + BUF_BACK)

/* per-page state bits of a region */
#define P_MAPPED	0x08
#define P_PROT		0x07	/* PROT_READ | PROT_WRITE | PROT_EXEC */
#define P_DONTFORK	0x10
#define P_WIPEONFORK	0x20

enum kind { K_ANON, K_THP, K_SHM, K_MEMFD, K_FILE_SHARED, K_FILE_PRIVATE, K_NKINDS };
static const char *const kind_name[] = {
	"anon", "thp", "shared-anon", "memfd", "file-shared", "file-private",
};

struct region {
	int used;
	int kind;
	int fd;			/* backing file (memfd, file), or -1 */
	uint32_t obj;		/* what it maps: regions with one obj alias each other */
	uint64_t addr;
	size_t size;
	uint8_t page[MAX_PAGES];
};

struct queue {
	uint32_t handle, ctx;
	uint32_t entries;
	uint64_t last;		/* last sequence number submitted */
};

struct file {
	int nfds;
	int fds[MAX_FDS];
	int nctx, nq;
	uint32_t ctx[MAX_CTX];
	struct queue q[MAX_Q];
	int dead;		/* the device was unbound under it */
	int foreign;		/* a fork child's copy of its parent's file */
	uint64_t pf_id;		/* the last asynchronous PREFETCH id it returned */
	uint64_t pf_ev_id;	/* the id of the last PREFETCH event read from it */
};

struct shared {			/* MAP_SHARED page: progress and totals */
	_Atomic uint64_t ops[MAX_WORKERS];
	_Atomic int cur[MAX_WORKERS];	/* operation kind now running */
	_Atomic uint64_t total_ops, ioctls, ioctl_ok, datachecks, forks, kills;
	_Atomic uint64_t unbinds, interrupts;
	_Atomic uint64_t pf_async, pf_events;	/* PREFETCH_ASYNC queued, events read */
	_Atomic uint64_t errno_hist[140];
	_Atomic uint64_t hash[MAX_WORKERS];
	_Atomic int failures;
	_Atomic int stop;
};

struct opts {
	uint64_t seed;
	uint64_t ops;		/* total over all workers, 0 = until seconds */
	unsigned int seconds;
	unsigned int threads, procs;
	unsigned int hang;
	int replay, unbind, verbose, tap, check_maps, json;
	const char *dir;	/* where file-backed regions live */
	const char *node;	/* -d: the render node to use, or NULL */
	int only;		/* replay this worker alone, -1 = all */
};

struct worker {
	int id;			/* global worker index */
	uint64_t seed;
	uint64_t k;		/* operation index */
	uint64_t ops_target;
	double deadline;
	struct region reg[NSLOTS];
	uint64_t arena;
	struct file f[MAX_FILES];
	int nfiles;
	pid_t children[MAX_CHILDREN];
	int nchildren;
	int is_child;		/* a fork child running its own sequence */
	uint32_t next_obj;
	int failed;
	uint64_t hash;		/* sequence hash */
	uint64_t rng;		/* this operation's generator */
	const char *opname;
	uint8_t *buf;		/* command and scratch buffer (heap) */
	uint8_t actual[NSLOTS][MAX_PAGES];	/* read_maps() */
};

static struct opts o;
static struct shared *sh;
static char render_path[64];
static char pci_addr[64];
static volatile sig_atomic_t alarm_hits;
static __thread struct worker *self;	/* for the fatal-signal report */

static void sync_maps(struct worker *w);

/* ------------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct worker *w)
{
	return splitmix(&w->rng);
}

/* 0 .. n-1 */
static uint64_t below(struct worker *w, uint64_t n)
{
	return n ? rnd(w) % n : 0;
}

/* true with probability pct % */
static int chance(struct worker *w, unsigned int pct)
{
	return below(w, 100) < pct;
}

static void mix(struct worker *w, uint64_t v)
{
	w->hash = (w->hash ^ v) * 0x100000001b3ull;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
	char line[520];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 4, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 5)
		n = sizeof(line) - 5;
	line[n++] = '\n';
	/* one write per line: workers, threads and children share stdout */
	if (o.tap) {
		memmove(line + 2, line, n);
		line[0] = '#';
		line[1] = ' ';
		n += 2;
	}
	if (write(o.json ? STDERR_FILENO : STDOUT_FILENO, line, n) < 0)
		return;
}

static void fail(struct worker *w, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say("svmgpu-fuzz: FAIL seed 0x%" PRIx64 " worker %d%s op %" PRIu64 " (%s): %s",
	    o.seed, w->id, w->is_child ? " (fork child)" : "", w->k, w->opname, msg);
	if (!w->is_child)
		say("svmgpu-fuzz: replay: svmgpu-fuzz --replay --seed 0x%" PRIx64
		    " --worker %d --ops %" PRIu64 " --verbose", o.seed, w->id, w->k + 1);
	w->failed = 1;
	atomic_fetch_add(&sh->failures, 1);
}

/* ------------------------------------------------------------------ */
/* ioctls and their documented errors                                 */

enum { I_INFO, I_CTX_CREATE, I_CTX_DESTROY, I_Q_CREATE, I_Q_DESTROY, I_SUBMIT, I_WAIT,
	I_STATS, I_UNKNOWN, I_PREFETCH, I_ADVISE, I_DEVMEM, I_N };

static const char *const ioctl_name[I_N] = {
	"GET_INFO", "CTX_CREATE", "CTX_DESTROY", "QUEUE_CREATE", "QUEUE_DESTROY",
	"SUBMIT", "WAIT", "GET_STATS", "unknown ioctl", "PREFETCH", "ADVISE",
	"DEVMEM_ALLOC/FREE",
};

/*
 * docs/driver.md "uapi reference", plus what every ioctl may return: EFAULT
 * for an argument the kernel cannot copy, ENODEV once the device is gone.
 */
static const int allowed[I_N][12] = {
	[I_INFO] = { EINVAL },
	[I_CTX_CREATE] = { EINVAL, EBUSY, ENOSPC, ENOMEM, EINTR },
	[I_CTX_DESTROY] = { EINVAL, ENOENT, EACCES, EBUSY },
	[I_Q_CREATE] = { EINVAL, ENOENT, EACCES, EBUSY, ENOMEM },
	[I_Q_DESTROY] = { EINVAL, ENOENT, EACCES },
	[I_SUBMIT] = { EINVAL, ENOENT, EACCES, ECANCELED, EINTR, EIO, ENOMEM },
	[I_WAIT] = { EINVAL, ENOENT, EACCES, ETIMEDOUT, ECANCELED, EINTR },
	[I_STATS] = { EINVAL, ENOENT, EACCES },
	[I_UNKNOWN] = { EINVAL, ENOTTY },
	[I_PREFETCH] = { EINVAL, EOPNOTSUPP, ENOSPC, EIO, EINTR, ENOMEM, ENOBUFS },
	[I_ADVISE] = { EINVAL, ENOENT, EACCES, EOPNOTSUPP, EINTR, ENOMEM },
	[I_DEVMEM] = { EINVAL, ENOENT, EOPNOTSUPP, ENOSPC, EDQUOT, ENOMEM },
};

static int errno_allowed(int which, int e)
{
	int i;

	if (e == EFAULT || (e == ENODEV && o.unbind))
		return 1;
	for (i = 0; i < 12 && allowed[which][i]; i++)
		if (allowed[which][i] == e)
			return 1;
	return 0;
}

/*
 * Issue one ioctl; check its errno against the ioctl's set and, when the
 * fuzzer knows the argument is bad, against @expect exactly.  A bad
 * argument pointer (@badptr) must give EFAULT.  Returns 0 or -errno.
 */
static int xioctl(struct worker *w, struct file *f, int fd, int which, unsigned long req,
		  void *arg, int expect, int badptr)
{
	int r, e;

	atomic_fetch_add(&sh->ioctls, 1);
	r = ioctl(fd, req, arg);
	e = r ? errno : 0;
	mix(w, which);
	if (!e) {
		atomic_fetch_add(&sh->ioctl_ok, 1);
	} else {
		atomic_fetch_add(&sh->errno_hist[e < 139 ? e : 139], 1);
		if (e == EINTR)
			atomic_fetch_add(&sh->interrupts, 1);
	}
	if (o.verbose) {
		const uint32_t *v = arg;

		if (badptr || !arg)
			say("  w%d%s op %" PRIu64 ": %s fd %d (unreadable arg) -> %s", w->id,
			    w->is_child ? "c" : "", w->k, ioctl_name[which], fd, e ? strerror(e) : "ok");
		else
			say("  w%d%s op %" PRIu64 ": %s fd %d [%x %x %x %x %x %x] -> %s", w->id,
			    w->is_child ? "c" : "", w->k, ioctl_name[which], fd, v[0], v[1], v[2],
			    v[3], v[4], v[5], e ? strerror(e) : "ok");
	}
	if (e == ENODEV && f && o.unbind)
		f->dead = 1;
	if (e == ENODEV && (o.unbind || (f && f->dead)))
		return -e;
	if (badptr) {
		if (e != EFAULT)
			fail(w, "%s with an unreadable argument: %s, not EFAULT",
			     ioctl_name[which], e ? strerror(e) : "success");
		return -e;
	}
	/*
	 * A fork child using its parent's handles: EACCES, or ENOENT when the
	 * parent has destroyed the object meanwhile (they share the file).
	 */
	if (f && f->foreign && expect == -EACCES) {
		if (e != EACCES && e != ENOENT)
			fail(w, "%s with the parent's handle in a fork child: %s, not EACCES",
			     ioctl_name[which], e ? strerror(e) : "success");
		return -e;
	}
	if (expect && e != expect) {
		fail(w, "%s: %s, expected %s", ioctl_name[which], e ? strerror(e) : "success",
		     strerror(expect));
		return -e;
	}
	if (e && !errno_allowed(which, e))
		fail(w, "%s: errno %d (%s) is not documented for it", ioctl_name[which], e,
		     strerror(e));
	return -e;
}

/* ------------------------------------------------------------------ */
/* files, contexts, queues                                            */

static int open_render(void)
{
	char path[64];
	int i, fd;

	if (render_path[0]) {
		fd = open(render_path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	for (i = 128; i < 192; i++) {
		drmVersionPtr v;
		int ours;

		snprintf(path, sizeof(path), "/dev/dri/renderD%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		v = drmGetVersion(fd);
		ours = v && !strcmp(v->name, "svmgpu");
		if (v)
			drmFreeVersion(v);
		if (ours) {
			snprintf(render_path, sizeof(render_path), "%s", path);
			return fd;
		}
		close(fd);
	}
	return -1;
}

static struct file *pick_file(struct worker *w)
{
	return w->nfiles ? &w->f[below(w, w->nfiles)] : NULL;
}

static int pick_fd(struct worker *w, struct file *f)
{
	return f->fds[below(w, f->nfds)];
}

static int file_open(struct worker *w)
{
	struct file *f;
	int fd;

	if (w->nfiles >= MAX_FILES)
		return -1;
	fd = open_render();
	if (fd < 0)
		return -1;
	f = &w->f[w->nfiles++];
	memset(f, 0, sizeof(*f));
	f->fds[f->nfds++] = fd;
	if (o.verbose)
		say("  w%d op %" PRIu64 ": open -> %d", w->id, w->k, fd);
	return 0;
}

/*
 * Close a file.  Its queues are destroyed first unless this is a fork child
 * (whose commands can only reach its own memory): a fork child of any
 * thread may hold the file open, and commands left running would write the
 * memory of a later data check.
 */
static void file_drop(struct worker *w, struct file *f)
{
	int i;

	for (i = 0; !w->is_child && !f->foreign && !f->dead && i < f->nq; i++) {
		struct drm_svmgpu_queue_destroy d = { .handle = f->q[i].handle };

		xioctl(w, f, f->fds[0], I_Q_DESTROY, DRM_IOCTL_SVMGPU_QUEUE_DESTROY, &d, 0, 0);
	}

	for (i = 0; i < f->nfds; i++) {
		if (o.verbose)
			say("  w%d op %" PRIu64 ": close %d (file)", w->id, w->k, f->fds[i]);
		close(f->fds[i]);
	}
	*f = w->f[--w->nfiles];
}

/* A handle for an ioctl: mostly one of ours, sometimes a stranger. */
static uint32_t pick_handle(struct worker *w, const uint32_t *h, int n, int *known)
{
	uint32_t v;
	int i;

	if (n && chance(w, 85)) {
		*known = 1;
		return h[below(w, n)];
	}
	switch (below(w, 4)) {
	case 0: v = 0; break;
	case 1: v = 1 + below(w, 64); break;
	case 2: v = 0x7fffffffu - below(w, 4); break;
	default: v = (uint32_t)rnd(w); break;
	}
	/* a stranger may be one of ours after all */
	*known = 0;
	for (i = 0; i < n; i++)
		if (h[i] == v)
			*known = 1;
	return v;
}

static struct queue *find_q(struct file *f, uint32_t handle)
{
	int i;

	for (i = 0; i < f->nq; i++)
		if (f->q[i].handle == handle)
			return &f->q[i];
	return NULL;
}

static int ctx_has_queues(struct file *f, uint32_t ctx)
{
	int i;

	for (i = 0; i < f->nq; i++)
		if (f->q[i].ctx == ctx)
			return 1;
	return 0;
}

static void forget_q(struct file *f, uint32_t handle)
{
	int i;

	for (i = 0; i < f->nq; i++)
		if (f->q[i].handle == handle) {
			f->q[i] = f->q[--f->nq];
			return;
		}
}

static void forget_ctx(struct file *f, uint32_t handle)
{
	int i;

	for (i = 0; i < f->nctx; i++)
		if (f->ctx[i] == handle) {
			f->ctx[i] = f->ctx[--f->nctx];
			return;
		}
}

/*
 * Unreadable memory for an ioctl argument: an arena slot nothing is mapped
 * at, or a kernel address.
 */
static void *bad_pointer(struct worker *w)
{
	int s;

	if (chance(w, 50))
		return (void *)0xffff888000000000ul;
	for (s = 0; s < NSLOTS; s++)
		if (!w->reg[s].used)
			return (void *)(w->arena + s * SLOT + below(w, SLOT / 8) * 8);
	return (void *)8;
}

/* A pad or flags word: zero, or (with @bad) a random non-zero value. */
static uint32_t pad_word(struct worker *w, int *bad)
{
	if (!chance(w, 6))
		return 0;
	*bad = 1;
	return chance(w, 50) ? 1u << below(w, 32) : (uint32_t)rnd(w) | 1;
}

/* ------------------------------------------------------------------ */
/* addresses and commands                                             */

static const uint64_t rodata[64] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static struct region *pick_region(struct worker *w)
{
	int s, tries;

	for (tries = 0; tries < 8; tries++) {
		s = below(w, NSLOTS);
		if (w->reg[s].used)
			return &w->reg[s];
	}
	for (s = 0; s < NSLOTS; s++)
		if (w->reg[s].used)
			return &w->reg[s];
	return NULL;
}

/* Is [a, a+len) of @r mapped with all of @prot on every page? */
static int range_has(struct region *r, uint64_t a, uint64_t len, int prot)
{
	uint64_t p;

	if (a < r->addr || a + len > r->addr + r->size || !len)
		return 0;
	for (p = (a - r->addr) / PAGE; p <= (a + len - 1 - r->addr) / PAGE; p++)
		if (!(r->page[p] & P_MAPPED) || (r->page[p] & prot) != prot)
			return 0;
	return 1;
}

/*
 * An address for the device to use.  Writes only ever go to the fuzzer's
 * arenas (whatever their state) or to addresses nothing is mapped at: the
 * fuzzer's own heap, stack and globals are only ever read.
 */
static uint64_t pick_addr(struct worker *w, int write)
{
	struct region *r;
	uint64_t a;

	switch (below(w, 20)) {
	default:
		r = pick_region(w);
		if (!r)
			return w->arena + below(w, ARENA);
		a = r->addr + below(w, r->size);
		break;
	case 12:
	case 13:
		r = pick_region(w);
		a = r ? r->addr + r->size - 1 - below(w, 64) : w->arena;
		break;
	case 14:
		a = w->arena + below(w, NSLOTS) * SLOT + below(w, SLOT);
		break;
	case 15:
		a = below(w, 3) * 0x800;
		break;
	case 16:
		a = 0xffff888000000000ul + below(w, 1ul << 30);
		break;
	case 17:
		a = (1ull << (47 + below(w, 17))) - 8 * below(w, 4);
		break;
	case 18:
		a = rnd(w);
		if (write && !(a >> 47))	/* keep random writes off our own memory */
			a |= 1ull << 47;
		break;
	case 19:
		if (write) {
			a = w->arena + below(w, ARENA / 2);
		} else {
			a = chance(w, 50) ? (uint64_t)(uintptr_t)rodata :
				(uint64_t)(uintptr_t)w->buf;
			a += below(w, 256);
		}
		break;
	}
	if (chance(w, 70))
		a &= ~7ull;
	return a;
}

static uint64_t pick_size(struct worker *w)
{
	switch (below(w, 12)) {
	case 0: return 0;
	case 1: case 2: case 3: return 1 + below(w, 64);
	case 4: case 5: case 6: return 1 + below(w, 64 << 10);
	case 7: return PAGE * (1 + below(w, 16));
	case 8: return SLOT;
	case 9: return 1ull << below(w, 48);
	case 10: return ~0ull - below(w, 8);
	default: return 8 * (1 + below(w, 512));
	}
}

#define ENC(op, rd, ra, rb, imm) SVMGPU_ISA_ENCODE(op, rd, ra, rb, imm)

static const uint8_t alu_ops[] = {
	SVMGPU_OP_ADD, SVMGPU_OP_SUB, SVMGPU_OP_MUL, SVMGPU_OP_MULHU, SVMGPU_OP_DIVU,
	SVMGPU_OP_DIVS, SVMGPU_OP_REMU, SVMGPU_OP_REMS, SVMGPU_OP_AND, SVMGPU_OP_OR,
	SVMGPU_OP_XOR, SVMGPU_OP_SHL, SVMGPU_OP_SHR, SVMGPU_OP_SAR, SVMGPU_OP_MINU,
	SVMGPU_OP_MAXU, SVMGPU_OP_MINS, SVMGPU_OP_MAXS, SVMGPU_OP_SEQ, SVMGPU_OP_SNE,
	SVMGPU_OP_SLTU, SVMGPU_OP_SLTS, SVMGPU_OP_SLEU, SVMGPU_OP_SLES, SVMGPU_OP_FADD,
	SVMGPU_OP_FSUB, SVMGPU_OP_FMUL, SVMGPU_OP_FDIV, SVMGPU_OP_FMIN, SVMGPU_OP_FMAX,
	SVMGPU_OP_FSLT, SVMGPU_OP_FSEQ, SVMGPU_OP_FSLE, SVMGPU_OP_FSQRT, SVMGPU_OP_I2F,
	SVMGPU_OP_F2I, SVMGPU_OP_DADD, SVMGPU_OP_DSUB, SVMGPU_OP_DMUL, SVMGPU_OP_DDIV,
	SVMGPU_OP_DMIN, SVMGPU_OP_DMAX, SVMGPU_OP_DSLT, SVMGPU_OP_DSEQ, SVMGPU_OP_DSLE,
	SVMGPU_OP_DSQRT, SVMGPU_OP_I2D, SVMGPU_OP_D2I, SVMGPU_OP_F2D, SVMGPU_OP_D2F,
	SVMGPU_OP_FFMA, SVMGPU_OP_DFMA, SVMGPU_OP_MOV, SVMGPU_OP_SEL,
};

/*
 * A random kernel: r1 = ARGS and r2 = GLOBAL_ID stay put; stores and
 * atomics go through r1 (the fuzzer's arena) or r1 + 8 * GLOBAL_ID; loads
 * and the rest use any register; control flow may be unbalanced, loops may
 * never end (the budget stops them), and a few words are pure noise.
 */
static unsigned int gen_kernel(struct worker *w, uint64_t *code, unsigned int max)
{
	unsigned int n = 0, len = 2 + below(w, max - 4), i;

	code[n++] = ENC(SVMGPU_OP_S2R, 1, 0, 0, SVMGPU_SR_ARGS);
	code[n++] = ENC(SVMGPU_OP_S2R, 2, 0, 0, SVMGPU_SR_GLOBAL_ID);
	for (i = 0; i < len && n < max - 4; i++) {
		uint8_t rd = 3 + below(w, 29), ra = below(w, 32);
		uint8_t rb = chance(w, 30) ? SVMGPU_ISA_RB_IMM : below(w, 32);
		int32_t imm = chance(w, 50) ? (int32_t)below(w, 64) : (int32_t)rnd(w);

		switch (below(w, 20)) {
		case 0: case 1: case 2: case 3: case 4: case 5: case 6:
			code[n++] = ENC(alu_ops[below(w, sizeof(alu_ops))], rd, ra, rb, imm);
			break;
		case 7: case 8:
			code[n++] = ENC(SVMGPU_OP_MOVI + below(w, 2), rd, 0, 0, imm);
			break;
		case 9: case 10:
			code[n++] = ENC(SVMGPU_OP_LD8 + below(w, 7), rd, chance(w, 60) ? 1 : ra, 0,
					(int32_t)below(w, 4096));
			break;
		case 11: case 12:
			code[n++] = ENC(SVMGPU_OP_ST8 + below(w, 4), 0, 1, below(w, 32),
					(int32_t)below(w, 4096));
			break;
		case 13:
			/* r[rd] = r1 + 8 * GLOBAL_ID; one store per lane */
			code[n++] = ENC(SVMGPU_OP_SHL, rd, 2, SVMGPU_ISA_RB_IMM, 3);
			code[n++] = ENC(SVMGPU_OP_ADD, rd, rd, 1, 0);
			code[n++] = ENC(SVMGPU_OP_ST64, 0, rd, below(w, 32), 0);
			break;
		case 14:
			code[n++] = ENC(SVMGPU_OP_ATOM32 + below(w, 2), rd, 1, below(w, 32),
					SVMGPU_ISA_ATOM_IMM(below(w, 8), below(w, 32)));
			break;
		case 15: case 16:
			code[n++] = ENC(SVMGPU_OP_NOP + below(w, 10), 0, ra, 0,
					(int32_t)below(w, 8) - 2);
			break;
		case 17:
			code[n++] = ENC(SVMGPU_OP_S2R, rd, 0, 0, (int32_t)below(w, 16));
			break;
		case 18: {
			/* noise, rd 0; no store except through r1 */
			uint64_t x = rnd(w) & ~0xff00ull;
			uint8_t op = SVMGPU_ISA_OP(x);

			if ((op >= SVMGPU_OP_ST8 && op <= SVMGPU_OP_ST64) ||
			    op == SVMGPU_OP_ATOM32 || op == SVMGPU_OP_ATOM64)
				x = (x & ~0xffff00ffull) | (1ull << 16);
			code[n++] = x;
			break;
		}
		default:
			code[n++] = ENC(SVMGPU_OP_BAR, 0, 0, 0, 0);
			break;
		}
	}
	if (chance(w, 95))
		code[n++] = ENC(SVMGPU_OP_EXIT, 0, 0, 0, 0);
	return n;
}

/* Somewhere the CPU may write right now: an RW page of an arena region. */
static uint64_t cpu_writable(struct worker *w, uint64_t len)
{
	int tries;

	for (tries = 0; tries < 12; tries++) {
		struct region *r = pick_region(w);
		uint64_t a;

		if (!r || r->size < len)
			continue;
		a = (r->addr + below(w, r->size - len + 1)) & ~7ull;
		if (range_has(r, a, len, PROT_READ | PROT_WRITE))
			return a;
	}
	return 0;
}

static void gen_cmd(struct worker *w, struct svmgpu_cmd *c)
{
	uint64_t *code;

	memset(c, 0, sizeof(*c));
	c->hdr.opcode = below(w, 8);
	if (chance(w, 20))
		c->hdr.flags = SVMGPU_CMD_FLAG_IRQ;
	switch (c->hdr.opcode) {
	case SVMGPU_CMD_COPY:
		c->copy.dst = pick_addr(w, 1);
		c->copy.src = pick_addr(w, 0);
		c->copy.size = pick_size(w);
		break;
	case SVMGPU_CMD_FILL: {
		static const uint32_t widths[] = { 1, 2, 4, 8, 1, 2, 4, 8, 0, 3, 16 };

		c->fill.width = widths[below(w, 11)];
		c->fill.dst = pick_addr(w, 1);
		c->fill.size = pick_size(w);
		if (c->fill.width && chance(w, 80)) {
			c->fill.dst &= ~(uint64_t)(c->fill.width - 1);
			c->fill.size &= ~(uint64_t)(c->fill.width - 1);
		}
		c->fill.value = rnd(w);
		break;
	}
	case SVMGPU_CMD_ATOMIC:
		c->atomic.size = chance(w, 90) ? 4u << below(w, 2) : below(w, 16);
		c->atomic.va = pick_addr(w, 1);
		if (chance(w, 80) && c->atomic.size)
			c->atomic.va &= ~(uint64_t)(c->atomic.size - 1);
		c->atomic.op = below(w, SVMGPU_ATOMIC_NUM_OPS + 1);
		c->atomic.operand = rnd(w);
		c->atomic.compare = chance(w, 50) ? 0 : rnd(w);
		c->atomic.result_va = chance(w, 50) ? 0 : pick_addr(w, 1);
		break;
	case SVMGPU_CMD_SIGNAL:
		c->signal.va = pick_addr(w, 1);
		c->signal.value = rnd(w);
		break;
	case SVMGPU_CMD_WAIT:
		c->wait.va = pick_addr(w, 0);
		c->wait.cond = below(w, SVMGPU_WAIT_NUM_CONDS + 1);
		c->wait.value = chance(w, 50) ? 0 : rnd(w);
		c->wait.mask = chance(w, 50) ? ~0ull : rnd(w);
		/* never unbounded: a WAIT nobody satisfies would hold a hardware queue */
		c->wait.timeout_ns = 1000 + below(w, 20000000);
		break;
	case SVMGPU_CMD_LAUNCH:
		c->launch.args_va = pick_addr(w, 1);
		c->launch.grid_x = chance(w, 95) ? 1 + below(w, 4) : (uint32_t)rnd(w);
		c->launch.grid_y = chance(w, 90) ? 1 : below(w, 3);
		c->launch.grid_z = chance(w, 95) ? 1 : below(w, 3);
		c->launch.wg_size = chance(w, 90) ? 1 + below(w, 64) :
			(uint32_t)below(w, 2 * SVMGPU_ISA_MAX_WG_SIZE);
		c->launch.budget = chance(w, 99) ? 1 + below(w, 100000) : 0;
		c->launch.code_va = chance(w, 85) ? cpu_writable(w, 64 * 8) : 0;
		if (c->launch.code_va) {
			code = (uint64_t *)(uintptr_t)c->launch.code_va;
			gen_kernel(w, code, 64);
		} else {
			c->launch.code_va = pick_addr(w, 0);
		}
		break;
	case SVMGPU_CMD_TIMESTAMP:
		c->timestamp.va = pick_addr(w, 1);
		break;
	default:
		break;
	}
	/* the last payload word is reserved in every command: the device must fail it */
	if (chance(w, 4))
		((uint64_t *)c)[7] |= 1ull << below(w, 64);
}

/* ------------------------------------------------------------------ */
/* regions                                                            */

static int file_seq;

static int backing_file(struct worker *w, int memfd, size_t size)
{
	char path[PATH_MAX];
	int fd;

	if (memfd) {
		fd = memfd_create("svmgpu-fuzz", MFD_CLOEXEC);
	} else {
		snprintf(path, sizeof(path), "%s/svmgpu-fuzz.%d.%d.%d", o.dir, (int)getpid(),
			 w->id, file_seq++);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return -1;
	if (ftruncate(fd, SLOT) < 0) {	/* room for mremap growth */
		close(fd);
		return -1;
	}
	(void)size;
	return fd;
}

static void region_set(struct region *r, uint64_t a, uint64_t len, uint8_t set, uint8_t clear)
{
	uint64_t p;

	for (p = (a - r->addr) / PAGE; p < (a + len - r->addr + PAGE - 1) / PAGE && p < MAX_PAGES; p++)
		r->page[p] = (r->page[p] & ~clear) | set;
}

static void region_free(struct region *r)
{
	if (r->fd >= 0) {
		if (o.verbose)
			say("  op: close %d (region)", r->fd);
		close(r->fd);
	}
	r->used = 0;
	r->fd = -1;
}

static void op_mmap(struct worker *w)
{
	int s = below(w, NSLOTS), kind = below(w, K_NKINDS), prot, flags, fd = -1;
	struct region *r = &w->reg[s];
	uint64_t addr = w->arena + s * SLOT;
	size_t size;
	void *p;

	w->opname = "mmap";
	if (r->used)
		return;
	switch (below(w, 10)) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		size = PAGE * (1 + below(w, 16));
		break;
	case 7: case 8:
		size = PAGE * (17 + below(w, 240));
		break;
	default:
		size = (2ul << 20) * (1 + below(w, 2));
		break;
	}
	if (kind == K_THP)
		size = (2ul << 20) * (1 + below(w, 2));
	prot = chance(w, 85) ? PROT_READ | PROT_WRITE : below(w, 4);
	flags = MAP_FIXED;
	switch (kind) {
	case K_ANON:
	case K_THP:
		flags |= MAP_PRIVATE | MAP_ANONYMOUS;
		if (chance(w, 10))
			flags |= MAP_POPULATE;
		break;
	case K_SHM:
		flags |= MAP_SHARED | MAP_ANONYMOUS;
		break;
	case K_MEMFD:
	case K_FILE_SHARED:
	case K_FILE_PRIVATE:
		fd = backing_file(w, kind == K_MEMFD, size);
		if (fd < 0)
			return;
		flags |= kind == K_FILE_PRIVATE ? MAP_PRIVATE : MAP_SHARED;
		break;
	}
	mix(w, kind ^ size ^ prot << 8);
	p = mmap((void *)addr, size, prot, flags, fd, 0);
	if (p == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		return;
	}
	r->used = 1;
	r->kind = kind;
	r->obj = ++w->next_obj;
	r->fd = fd;
	r->addr = addr;
	r->size = size;
	memset(r->page, 0, sizeof(r->page));
	region_set(r, addr, size, P_MAPPED | prot, 0);
	if (kind == K_THP)
		madvise(p, size, MADV_HUGEPAGE);
}

static void op_munmap(struct worker *w)
{
	struct region *r = pick_region(w);
	uint64_t off, len;

	w->opname = "munmap";
	if (!r)
		return;
	if (chance(w, 60)) {
		off = 0;
		len = r->size;
	} else {
		off = below(w, r->size / PAGE) * PAGE;
		len = PAGE * (1 + below(w, (r->size - off) / PAGE));
	}
	mix(w, off ^ len);
	if (munmap((void *)(r->addr + off), len))
		return;
	if (off == 0 && len == r->size)
		region_free(r);
	else
		region_set(r, r->addr + off, len, 0, 0xff);
}

static void op_mprotect(struct worker *w)
{
	struct region *r = pick_region(w);
	uint64_t off, len;
	int prot;

	w->opname = "mprotect";
	if (!r)
		return;
	prot = chance(w, 40) ? PROT_READ | PROT_WRITE : below(w, 8);
	off = chance(w, 50) ? 0 : below(w, r->size / PAGE) * PAGE;
	len = chance(w, 50) ? r->size - off : PAGE * (1 + below(w, (r->size - off) / PAGE));
	mix(w, prot ^ off ^ len);
	/* over a hole mprotect changes what lies before it and fails: not that */
	if (!range_has(r, r->addr + off, len, 0) ||
	    mprotect((void *)(r->addr + off), len, prot))
		return;
	region_set(r, r->addr + off, len, prot, P_PROT);
}

static const int advice[] = {
	MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE,
	MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE, MADV_UNMERGEABLE,
	MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK,
	MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
	MADV_DONTNEED_LOCKED, MADV_COLLAPSE,
	/* the ones that reclaim: twice as often */
	MADV_DONTNEED, MADV_FREE, MADV_PAGEOUT, MADV_COLD, MADV_MERGEABLE,
};

static void op_madvise(struct worker *w)
{
	struct region *r = pick_region(w);
	uint64_t off, len;
	int adv = advice[below(w, sizeof(advice) / sizeof(advice[0]))];

	w->opname = "madvise";
	if (!r)
		return;
	off = chance(w, 50) ? 0 : below(w, r->size / PAGE) * PAGE;
	len = chance(w, 50) ? r->size - off : PAGE * (1 + below(w, (r->size - off) / PAGE));
	mix(w, adv ^ off ^ len);
	/* over a hole madvise advises what lies before it and fails: not that */
	if (!range_has(r, r->addr + off, len, 0) || madvise((void *)(r->addr + off), len, adv))
		return;
	if (adv == MADV_DONTFORK)
		region_set(r, r->addr + off, len, P_DONTFORK, 0);
	else if (adv == MADV_DOFORK)
		region_set(r, r->addr + off, len, 0, P_DONTFORK);
	else if (adv == MADV_WIPEONFORK)
		region_set(r, r->addr + off, len, P_WIPEONFORK, 0);
	else if (adv == MADV_KEEPONFORK)
		region_set(r, r->addr + off, len, 0, P_WIPEONFORK);
}

static int free_slot(struct worker *w)
{
	int s = below(w, NSLOTS), i;

	for (i = 0; i < NSLOTS; i++, s = (s + 1) % NSLOTS)
		if (!w->reg[s].used)
			return s;
	return -1;
}

static void op_mremap(struct worker *w)
{
	struct region *r = pick_region(w), *to;
	size_t nsize;
	int s, flags, how = below(w, 3);
	void *p;

	w->opname = "mremap";
	if (!r)
		return;
	nsize = PAGE * (1 + below(w, SLOT / PAGE));
	/* shared anonymous memory beyond its size would be SIGBUS */
	if (chance(w, 50) || r->kind == K_SHM)
		nsize = nsize < r->size ? nsize : r->size;
	s = free_slot(w);
	mix(w, nsize ^ how << 30);
	if (o.verbose)
		say("  w%d op %" PRIu64 ": mremap %s 0x%" PRIx64 "+%zu -> %zu, %s slot %d", w->id, w->k,
		    kind_name[r->kind], r->addr, r->size, nsize,
		    how == 0 || s < 0 ? "in place" : how == 1 ? "to" : "DONTUNMAP to", s);
	if (how == 0 || s < 0) {
		/* in place, shrinking or growing within the slot */
		p = mremap((void *)r->addr, r->size, nsize, 0);
		if (p == MAP_FAILED) {
			sync_maps(w);
			return;
		}
		/* grown pages belong to the last page's VMA: its protection and advice */
		if (nsize > r->size)
			region_set(r, r->addr + r->size, nsize - r->size,
				   r->page[r->size / PAGE - 1], 0xff);
		else
			region_set(r, r->addr + nsize, r->size - nsize, 0, 0xff);
		r->size = nsize;
		return;
	}
	/* moved to a free slot; DONTUNMAP leaves the old range mapped, empty */
	to = &w->reg[s];
	flags = MREMAP_MAYMOVE | MREMAP_FIXED;
	if (how == 2) {
		flags |= MREMAP_DONTUNMAP;
		nsize = r->size;
	}
	p = mremap((void *)r->addr, r->size, nsize, flags, (void *)(w->arena + s * SLOT));
	if (p == MAP_FAILED) {
		/* a shrinking move may have unmapped the tail before it failed */
		sync_maps(w);
		return;
	}
	*to = *r;
	to->addr = w->arena + s * SLOT;
	if (nsize > r->size)
		region_set(to, to->addr + r->size, nsize - r->size,
			   r->page[r->size / PAGE - 1], 0xff);
	else
		region_set(to, to->addr + nsize, r->size - nsize, 0, 0xff);
	to->size = nsize;
	if (how == 2) {
		/*
		 * The old range stays: empty for private memory, the same pages
		 * for shared memory (the two regions alias each other then).
		 */
		if (r->fd >= 0)
			r->fd = dup(r->fd);
		if (r->kind == K_ANON || r->kind == K_THP || r->kind == K_FILE_PRIVATE)
			r->obj = ++w->next_obj;
	} else {
		r->used = 0;
		r->fd = -1;
	}
}

static void op_touch(struct worker *w)
{
	struct region *r = pick_region(w);
	uint64_t off, len, i;
	volatile uint8_t *p;

	w->opname = "cpu access";
	if (!r)
		return;
	off = below(w, r->size);
	len = 1 + below(w, r->size - off < 65536 ? r->size - off : 65536);
	mix(w, off ^ len);
	p = (volatile uint8_t *)(uintptr_t)(r->addr + off);
	if (range_has(r, r->addr + off, len, PROT_READ | PROT_WRITE) && chance(w, 70)) {
		uint8_t v = rnd(w);

		for (i = 0; i < len; i += 1 + below(w, 512))
			p[i] = v++;
	} else if (range_has(r, r->addr + off, len, PROT_READ)) {
		uint8_t sum = 0;

		for (i = 0; i < len; i += 64)
			sum += p[i];
		(void)sum;
	}
}

static void op_mlock(struct worker *w)
{
	struct region *r = pick_region(w);

	w->opname = "mlock";
	if (!r)
		return;
	switch (below(w, 3)) {
	case 0: mlock((void *)r->addr, r->size); break;
	case 1: syscall(SYS_mlock2, (void *)r->addr, r->size, MLOCK_ONFAULT); break;
	default: munlock((void *)r->addr, r->size); break;
	}
}

/* ------------------------------------------------------------------ */
/* ioctl operations                                                   */

static void op_get_info(struct worker *w)
{
	struct drm_svmgpu_get_info info;
	struct file *f = pick_file(w);
	int bad = 0, badptr = 0;
	void *arg = &info;

	w->opname = "GET_INFO";
	if (!f)
		return;
	memset(&info, 0, sizeof(info));
	info.flags = pad_word(w, &bad);
	info.pad = pad_word(w, &bad);
	if (chance(w, 3)) {
		arg = bad_pointer(w);
		badptr = 1;
	}
	if (!xioctl(w, f, pick_fd(w, f), I_INFO, DRM_IOCTL_SVMGPU_GET_INFO, arg,
		    bad ? EINVAL : 0, badptr) && !badptr) {
		if (info.hw_id != SVMGPU_ID_MAGIC || !info.num_queues || !info.max_ring_entries)
			fail(w, "GET_INFO: id 0x%x, %u queues, %u ring entries", info.hw_id,
			     info.num_queues, info.max_ring_entries);
	}
}

static void op_ctx_create(struct worker *w)
{
	struct drm_svmgpu_ctx_create a;
	struct file *f = pick_file(w);
	int bad = 0, ret;

	w->opname = "CTX_CREATE";
	if (!f)
		return;
	memset(&a, 0, sizeof(a));
	a.flags = pad_word(w, &bad);
	a.pad = pad_word(w, &bad);
	a.pad2 = pad_word(w, &bad);
	if (chance(w, 3)) {
		a.handle = 1 + below(w, 100);
		bad = 1;
	}
	ret = xioctl(w, f, pick_fd(w, f), I_CTX_CREATE, DRM_IOCTL_SVMGPU_CTX_CREATE, &a,
		     bad ? EINVAL : 0, 0);
	if (!ret && !bad) {
		if (!a.handle)
			fail(w, "CTX_CREATE gave handle 0");
		if (f->nctx < MAX_CTX && !f->foreign) {
			f->ctx[f->nctx++] = a.handle;
		} else {
			struct drm_svmgpu_ctx_destroy d = { .handle = a.handle };

			xioctl(w, f, pick_fd(w, f), I_CTX_DESTROY, DRM_IOCTL_SVMGPU_CTX_DESTROY,
			       &d, 0, 0);
		}
	}
}

static void op_ctx_destroy(struct worker *w)
{
	struct drm_svmgpu_ctx_destroy a;
	struct file *f = pick_file(w);
	int bad = 0, known, expect, ret;

	w->opname = "CTX_DESTROY";
	if (!f)
		return;
	memset(&a, 0, sizeof(a));
	a.handle = pick_handle(w, f->ctx, f->nctx, &known);
	a.flags = pad_word(w, &bad);
	a.pad = pad_word(w, &bad);
	a.pad2 = pad_word(w, &bad);
	expect = bad ? EINVAL : !a.handle ? ENOENT : known && f->foreign ? -EACCES :
		known && ctx_has_queues(f, a.handle) ? EBUSY : known && !f->dead ? -1 : 0;
	ret = xioctl(w, f, pick_fd(w, f), I_CTX_DESTROY, DRM_IOCTL_SVMGPU_CTX_DESTROY, &a,
		     expect != -1 ? expect : 0, 0);
	if (expect == -1 && ret && ret != -ENODEV)
		fail(w, "CTX_DESTROY of our idle context %u: %s", a.handle, strerror(-ret));
	if (!ret)
		forget_ctx(f, a.handle);
}

static void op_queue_create(struct worker *w)
{
	struct drm_svmgpu_queue_create a;
	struct file *f = pick_file(w);
	int bad = 0, known, ret;

	w->opname = "QUEUE_CREATE";
	if (!f)
		return;
	memset(&a, 0, sizeof(a));
	a.ctx_handle = pick_handle(w, f->ctx, f->nctx, &known);
	switch (below(w, 8)) {
	case 0: a.ring_entries = 0; break;
	case 1: a.ring_entries = 1u << below(w, 32); break;		/* 1 and too large */
	case 2: a.ring_entries = (uint32_t)rnd(w); break;
	default: a.ring_entries = 2u << below(w, 6); break;
	}
	a.flags = pad_word(w, &bad);
	/* DEFAULT, LOW, NORMAL; not HIGH (CAP_SYS_NICE) */
	if (chance(w, 4))
		a.priority = below(w, 3);
	else if (chance(w, 8))
		a.priority = 4 + below(w, 1000), bad = 1;
	if (chance(w, 3))
		a.hw_queue = 1 + below(w, 8), bad = 1;
	if (a.ring_entries && (a.ring_entries < 2 || a.ring_entries > 4096 ||
			       (a.ring_entries & (a.ring_entries - 1))))
		bad = 1;
	ret = xioctl(w, f, pick_fd(w, f), I_Q_CREATE, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &a,
		     bad ? EINVAL : !a.ctx_handle ? ENOENT : known && f->foreign ? -EACCES : 0, 0);
	if (f->foreign)
		return;
	if (!ret && !a.handle)
		fail(w, "QUEUE_CREATE gave handle 0");
	if (!ret && !known)
		fail(w, "QUEUE_CREATE on context %u, which is not ours", a.ctx_handle);
	if (!ret) {
		if (f->nq < MAX_Q) {
			f->q[f->nq++] = (struct queue){ .handle = a.handle, .ctx = a.ctx_handle,
				.entries = a.ring_entries ? a.ring_entries : 256 };
		} else {
			struct drm_svmgpu_queue_destroy d = { .handle = a.handle };

			xioctl(w, f, pick_fd(w, f), I_Q_DESTROY, DRM_IOCTL_SVMGPU_QUEUE_DESTROY,
			       &d, 0, 0);
		}
	}
}

static void op_queue_destroy(struct worker *w)
{
	struct drm_svmgpu_queue_destroy a;
	struct file *f = pick_file(w);
	uint32_t qh[MAX_Q];
	int bad = 0, known, ret, i;

	w->opname = "QUEUE_DESTROY";
	if (!f)
		return;
	for (i = 0; i < f->nq; i++)
		qh[i] = f->q[i].handle;
	memset(&a, 0, sizeof(a));
	a.handle = pick_handle(w, qh, f->nq, &known);
	a.flags = pad_word(w, &bad);
	a.pad = pad_word(w, &bad);
	a.pad2 = pad_word(w, &bad);
	ret = xioctl(w, f, pick_fd(w, f), I_Q_DESTROY, DRM_IOCTL_SVMGPU_QUEUE_DESTROY, &a,
		     bad ? EINVAL : !a.handle ? ENOENT : known && f->foreign ? -EACCES : 0, 0);
	if (f->foreign)
		return;
	if (known && !bad && ret && ret != -ENODEV)
		fail(w, "QUEUE_DESTROY of our queue %u: %s", a.handle, strerror(-ret));
	if (!ret)
		forget_q(f, a.handle);
}

/* Arm a one-shot timer that interrupts the next blocking ioctl. */
static void maybe_interrupt(struct worker *w)
{
	struct itimerval it = { 0 };

	if (o.replay || w->is_child || w->id % o.threads || !chance(w, 5))
		return;
	it.it_value.tv_usec = 100 + below(w, 20000);
	setitimer(ITIMER_REAL, &it, NULL);
}

static void stop_interrupt(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
}

static void op_submit(struct worker *w)
{
	struct drm_svmgpu_submit a;
	struct file *f = pick_file(w);
	struct svmgpu_cmd *cmds = (struct svmgpu_cmd *)w->buf;
	uint32_t qh[MAX_Q] = { 0 }, n, i, bi = 0;
	int badhdr = 0, badarg = 0, badptr = 0, badcount, known, expect, ret, j;
	struct queue *q;

	w->opname = "SUBMIT";
	if (!f)
		return;
	memset(cmds, 0, 8 * sizeof(*cmds));
	for (j = 0; j < f->nq; j++)
		qh[j] = f->q[j].handle;
	memset(&a, 0, sizeof(a));
	a.queue_handle = pick_handle(w, qh, f->nq, &known);
	q = known ? find_q(f, a.queue_handle) : NULL;
	n = 1 + below(w, 8);
	if (q && n > q->entries - 1)
		n = q->entries - 1;
	for (i = 0; i < n; i++)
		gen_cmd(w, &cmds[i]);
	if (chance(w, 5)) {
		/* one bad header: the whole submission is refused */
		struct svmgpu_cmd *c = &cmds[bi = below(w, n)];

		switch (below(w, 4)) {
		case 0: c->hdr.opcode = 8 + below(w, 248); break;
		case 1: c->hdr.flags |= 2 << below(w, 7); break;
		case 2: c->hdr.rsvd1 = 1 + below(w, 100); break;
		default: c->hdr.seq = 1 + below(w, 100); break;
		}
		badhdr = 1;
	}
	/* past the commands built, the buffer holds zeros: NOPs */
	if (chance(w, 4))
		n = chance(w, 30) ? 0 : chance(w, 50) ? (uint32_t)rnd(w) : 1 + below(w, 4096);
	a.count = n;
	a.cmds = (uintptr_t)cmds;
	a.flags = pad_word(w, &badarg);
	/* EVENT and NONBLOCK are valid: keep a bad word bad. */
	if (a.flags && !(a.flags & ~(DRM_SVMGPU_SUBMIT_EVENT | DRM_SVMGPU_SUBMIT_NONBLOCK)))
		a.flags <<= 2;
	a.pad = pad_word(w, &badarg);
	if (chance(w, 2))
		a.seq = 1 + below(w, 100), badarg = 1;
	if (chance(w, 3)) {
		a.cmds = (uintptr_t)bad_pointer(w);
		badptr = 1;
	}
	badcount = q && (!n || n > q->entries - 1);
	/* a bad header counts only among the commands submitted */
	badhdr = badhdr && bi < n;
	/* The driver's order: flags/pad/seq, handle, count, copy, headers. */
	expect = badarg ? EINVAL : !a.queue_handle ? ENOENT : !q ? 0 : f->foreign ? -EACCES :
		badcount ? EINVAL : badptr ? EFAULT : badhdr ? EINVAL : 0;
	mix(w, a.count ^ (uint64_t)a.queue_handle << 32 ^ (uint64_t)expect << 50);
	for (i = 0; o.verbose && i < n && i < 8; i++) {
		const uint64_t *x = (const uint64_t *)&cmds[i];

		say("  w%d%s op %" PRIu64 ":   cmd %u: op %u flags %u | %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64 " %" PRIx64,
		    w->id, w->is_child ? "c" : "", w->k, i, cmds[i].hdr.opcode, cmds[i].hdr.flags,
		    x[2], x[3], x[4], x[5], x[6], x[7]);
	}
	maybe_interrupt(w);
	ret = xioctl(w, f, pick_fd(w, f), I_SUBMIT, DRM_IOCTL_SVMGPU_SUBMIT, &a, expect, 0);
	stop_interrupt();
	if (ret || f->foreign)
		return;
	if (!q) {
		fail(w, "SUBMIT to queue %u, which is not ours", a.queue_handle);
	} else {
		if (a.seq != q->last + a.count)
			fail(w, "SUBMIT: seq %" PRIu64 " after %" PRIu64 " + %u", (uint64_t)a.seq,
			     q->last, a.count);
		q->last = a.seq;
	}
}

static void op_wait(struct worker *w)
{
	struct drm_svmgpu_wait a;
	struct file *f = pick_file(w);
	uint32_t qh[MAX_Q] = { 0 };
	int badarg = 0, known, expect, ret, j;
	struct queue *q;

	w->opname = "WAIT";
	if (!f)
		return;
	for (j = 0; j < f->nq; j++)
		qh[j] = f->q[j].handle;
	memset(&a, 0, sizeof(a));
	a.queue_handle = pick_handle(w, qh, f->nq, &known);
	q = known ? find_q(f, a.queue_handle) : NULL;
	if (q && q->last && chance(w, 85)) {
		a.seq = 1 + below(w, q->last);
		if (chance(w, 70))
			a.seq = q->last;
		a.first_seq = chance(w, 50) ? a.seq : below(w, a.seq + 1);
	} else {
		a.seq = chance(w, 30) ? 0 : (q ? q->last : 0) + 1 + below(w, 1000);
		a.first_seq = below(w, 3);
	}
	switch (below(w, 6)) {
	case 0: case 1: case 2: a.timeout_ns = 0; break;
	case 3: case 4: a.timeout_ns = below(w, 20000000); break;
	default: a.timeout_ns = chance(w, 50) ? ~0ull : 5000000000ull; break;
	}
	a.flags = pad_word(w, &badarg);
	a.pad = pad_word(w, &badarg);
	a.pad2 = pad_word(w, &badarg);
	if (chance(w, 3)) {
		a.first_seq = a.seq + 1 + below(w, 10);
		if (q)
			badarg |= 2;
	}
	expect = badarg & 1 ? EINVAL : !a.queue_handle ? ENOENT : !q ? 0 : f->foreign ? -EACCES :
		!a.seq || a.seq > q->last || a.first_seq > a.seq ? EINVAL : 0;
	mix(w, a.seq ^ a.timeout_ns ^ (uint64_t)expect << 50);
	if (a.timeout_ns)
		maybe_interrupt(w);
	if (o.replay && a.timeout_ns == ~0ull)
		a.timeout_ns = 30000000000ull;
	ret = xioctl(w, f, pick_fd(w, f), I_WAIT, DRM_IOCTL_SVMGPU_WAIT, &a, expect, 0);
	stop_interrupt();
	if (f->foreign)
		return;
	if (!ret) {
		if (!q)
			fail(w, "WAIT on queue %u, which is not ours", a.queue_handle);
		else if (a.completed_seq < a.seq)
			fail(w, "WAIT returned 0 with completed %" PRIu64 " < %" PRIu64,
			     (uint64_t)a.completed_seq, (uint64_t)a.seq);
		else if (a.nr_errors && (a.err_seq < a.first_seq || a.err_seq > a.seq))
			fail(w, "WAIT: error of seq %" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]",
			     (uint64_t)a.err_seq, (uint64_t)a.first_seq, (uint64_t)a.seq);
	} else if (ret == -ETIMEDOUT && a.timeout_ns == ~0ull) {
		fail(w, "WAIT without a timeout returned ETIMEDOUT");
	}
}

static void op_stats(struct worker *w)
{
	struct drm_svmgpu_get_stats a;
	struct file *f = pick_file(w);
	int badarg = 0, known, ret, badptr = 0, i;
	void *arg = &a;

	w->opname = "GET_STATS";
	if (!f)
		return;
	memset(&a, 0, sizeof(a));
	a.ctx_handle = pick_handle(w, f->ctx, f->nctx, &known);
	a.flags = chance(w, 30) ? DRM_SVMGPU_STATS_CLEAR : 0;
	if (chance(w, 5))
		a.flags |= 2u << below(w, 31), badarg = 1;
	a.pad = pad_word(w, &badarg);
	a.pad2 = pad_word(w, &badarg);
	if (chance(w, 3)) {
		arg = bad_pointer(w);
		badptr = 1;
	}
	ret = xioctl(w, f, pick_fd(w, f), I_STATS, DRM_IOCTL_SVMGPU_GET_STATS, arg,
		     badarg ? EINVAL : !a.ctx_handle ? ENOENT : known && f->foreign ? -EACCES : 0,
		     badptr);
	if (ret || badptr)
		return;
	for (i = 0; i < 3; i++)
		if (a.reserved[i])
			fail(w, "GET_STATS: reserved[%d] = %" PRIu64, i, (uint64_t)a.reserved[i]);
}

/*
 * A range for PREFETCH/ADVISE: mostly page-aligned over the fuzzer's
 * regions; *bad when the range rules (non-empty, page-aligned, no wrap,
 * below 2^56) certainly refuse it.  Between 2^47 - 4096 and 2^56 the kernel's
 * TASK_SIZE (LA57 or not) decides whether the range is refused with
 * EINVAL, before the context is looked up: pick_range() says so with a
 * non-zero return, and no exact errno is expected then.
 */
static int pick_range(struct worker *w, uint64_t *start, uint64_t *size, int *bad)
{
	*start = pick_addr(w, 0);
	*size = chance(w, 50) ? PAGE * (1 + below(w, 1024)) : pick_size(w);
	if (chance(w, 85)) {
		*start &= ~(PAGE - 1);
		*size = (*size + PAGE - 1) & ~(PAGE - 1);
	}
	if (!*size || (*start | *size) & (PAGE - 1) || *start + *size < *start ||
	    *start + *size > (1ull << 56))
		*bad = 1;
	return !*bad && *start + *size > (1ull << 47) - PAGE;
}

/*
 * PREFETCH to device or system memory (docs/api.md), synchronous or
 * (DRM_SVMGPU_PREFETCH_ASYNC, mostly over one whole region) queued on the
 * file, its event read by op_events(): moves no byte's value, so the data checks go on as before,
 * with migrations running under them.  The synchronous call alone may
 * report EIO (a batch not copied) or EINTR; only the queued one ENOBUFS
 * (the file's event space is full: op_events() drains it).  A queued one's
 * id is non-zero and larger than any the file gave before.
 */
static void op_prefetch(struct worker *w)
{
	struct drm_svmgpu_prefetch a;
	struct file *f = pick_file(w);
	uint64_t start, size;
	int badarg = 0, badptr = 0, async, r;
	void *arg = &a;

	w->opname = "PREFETCH";
	if (!f)
		return;
	memset(&a, 0, sizeof(a));
	pick_range(w, &start, &size, &badarg);
	a.start = start;
	a.size = size;
	a.flags = chance(w, 50) ? DRM_SVMGPU_PREFETCH_DEVICE : DRM_SVMGPU_PREFETCH_SYSTEM;
	async = chance(w, 50);
	/* Queued ones mostly over one whole region: more of them run. */
	if (async && chance(w, 60)) {
		struct region *reg = pick_region(w);

		if (reg) {
			a.start = reg->addr;
			a.size = reg->size;
			badarg = !a.size || ((a.start | a.size) & (PAGE - 1));
		}
	}
	if (chance(w, 5)) {
		a.flags = chance(w, 50) ? 0 : chance(w, 50) ? DRM_SVMGPU_PREFETCH_WHERE_MASK :
			  a.flags | 8u << below(w, 28);
		badarg = 1;
	}
	if (async)
		a.flags |= DRM_SVMGPU_PREFETCH_ASYNC;
	a.pad = pad_word(w, &badarg);
	a.id = rnd(w);
	if (chance(w, 3)) {
		arg = bad_pointer(w);
		badptr = 1;
	}
	if (async)
		w->opname = "PREFETCH_ASYNC";
	r = xioctl(w, f, pick_fd(w, f), I_PREFETCH, DRM_IOCTL_SVMGPU_PREFETCH, arg,
		   badarg ? EINVAL : 0, badptr);
	if (badptr || (r == -ENODEV && (o.unbind || f->dead)))
		return;
	if (async && (r == -EIO || r == -EINTR))
		fail(w, "PREFETCH_ASYNC: %s, which only the synchronous call reports",
		     strerror(-r));
	else if (!async && r == -ENOBUFS)
		fail(w, "PREFETCH: ENOBUFS without DRM_SVMGPU_PREFETCH_ASYNC");
	else if (!r && async && a.id <= f->pf_id)
		fail(w, "PREFETCH_ASYNC: id %" PRIu64 " after the file's id %" PRIu64,
		     (uint64_t)a.id, f->pf_id);
	else if (!r && !async && a.id)
		fail(w, "PREFETCH: id %" PRIu64 " from the synchronous call, not 0",
		     (uint64_t)a.id);
	if (!r && async) {
		f->pf_id = a.id;
		atomic_fetch_add(&sh->pf_async, 1);
	}
}

/*
 * Read a file's DRM events (docs/driver.md "Asynchronous PREFETCH"), never
 * blocking: each one whole, of a known type and length; a PREFETCH event
 * with a non-zero id larger than the last one read from the file (one work
 * runs a file's requests in order, the DRM core hands the events out in
 * the order they were sent), ASYNC and exactly one direction in its flags,
 * a page-aligned non-empty range, no more pages moved than the range has
 * and a result of the documented set.  Sometimes with a buffer too small
 * for the first event: the DRM core then returns 0 and keeps it.
 */
static const int pf_results[] = {
	0, -ENOSPC, -EFAULT, -EINVAL, -ENOMEM, -EIO, -ECANCELED, -ENODEV,
};

static void op_events(struct worker *w)
{
	union {
		struct drm_event base;
		struct drm_svmgpu_event_prefetch pf;
		struct drm_svmgpu_event_complete c;
		uint8_t b[4096];
	} u;
	struct file *f = pick_file(w);
	size_t len, off;
	ssize_t r;
	int fd, fl;

	w->opname = "read events";
	if (!f)
		return;
	fd = pick_fd(w, f);
	len = chance(w, 10) ? below(w, sizeof(u.pf)) : sizeof(u);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK))) {
		fail(w, "fcntl(O_NONBLOCK) on the render node: %s", strerror(errno));
		return;
	}
	r = read(fd, u.b, len);
	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			fail(w, "read() of the events: %s, not EAGAIN", strerror(errno));
		return;
	}
	if ((size_t)r > len) {
		fail(w, "read() of %zu bytes returned %zd", len, r);
		return;
	}
	for (off = 0; off < (size_t)r; ) {
		struct drm_svmgpu_event_prefetch e;
		struct drm_event h;
		uint32_t where;
		size_t i;

		if ((size_t)r - off < sizeof(h)) {
			fail(w, "read() of the events: %zu bytes past the last whole event",
			     (size_t)r - off);
			return;
		}
		memcpy(&h, u.b + off, sizeof(h));
		if (h.type == DRM_SVMGPU_EVENT_COMPLETE && h.length == sizeof(u.c) &&
		    h.length <= (size_t)r - off) {
			off += h.length;
			continue;
		}
		if (h.type != DRM_SVMGPU_EVENT_PREFETCH || h.length != sizeof(e) ||
		    h.length > (size_t)r - off) {
			fail(w, "event of type 0x%x, length %u at byte %zu of %zd", h.type,
			     h.length, off, r);
			return;
		}
		memcpy(&e, u.b + off, sizeof(e));
		off += sizeof(e);
		atomic_fetch_add(&sh->pf_events, 1);
		where = e.flags & DRM_SVMGPU_PREFETCH_WHERE_MASK;
		for (i = 0; i < sizeof(pf_results) / sizeof(pf_results[0]); i++)
			if (e.result == pf_results[i])
				break;
		if (!e.id || e.id <= f->pf_ev_id)
			fail(w, "PREFETCH event id %" PRIu64 " after id %" PRIu64 " of the file",
			     (uint64_t)e.id, f->pf_ev_id);
		else if (e.flags & ~(DRM_SVMGPU_PREFETCH_WHERE_MASK | DRM_SVMGPU_PREFETCH_ASYNC) ||
			 !(e.flags & DRM_SVMGPU_PREFETCH_ASYNC) ||
			 (where != DRM_SVMGPU_PREFETCH_DEVICE && where != DRM_SVMGPU_PREFETCH_SYSTEM))
			fail(w, "PREFETCH event %" PRIu64 ": flags 0x%x", (uint64_t)e.id, e.flags);
		else if (!e.size || (e.start | e.size) & (PAGE - 1) || e.pages > e.size / PAGE)
			fail(w, "PREFETCH event %" PRIu64 ": 0x%" PRIx64 "+0x%" PRIx64 ", %" PRIu64
			     " pages", (uint64_t)e.id, (uint64_t)e.start, (uint64_t)e.size,
			     (uint64_t)e.pages);
		else if (i == sizeof(pf_results) / sizeof(pf_results[0]) ||
			 (e.result == -ENODEV && !o.unbind))
			fail(w, "PREFETCH event %" PRIu64 ": result %d (%s) is not documented",
			     (uint64_t)e.id, e.result, strerror(-e.result));
		f->pf_ev_id = e.id;
		if (w->failed)
			return;
	}
}

/* ADVISE SET and GET (docs/api.md): hints, no byte's value changes. */
static void op_advise(struct worker *w)
{
	struct drm_svmgpu_advise a;
	struct file *f = pick_file(w);
	uint64_t start, size;
	int badarg = 0, badattr = 0, badptr = 0, known, expect, above47;
	void *arg = &a;

	w->opname = "ADVISE";
	if (!f)
		return;
	memset(&a, 0, sizeof(a));
	a.ctx_handle = pick_handle(w, f->ctx, f->nctx, &known);
	above47 = pick_range(w, &start, &size, &badarg);
	a.start = start;
	a.size = size;
	a.op = chance(w, 70) ? DRM_SVMGPU_ADVISE_SET : DRM_SVMGPU_ADVISE_GET;
	if (chance(w, 4)) {
		a.op = chance(w, 50) ? 0 : 3 + below(w, 100);
		badarg = 1;
	}
	if (a.op == DRM_SVMGPU_ADVISE_SET) {
		a.attr = 1 + below(w, 3);
		a.value = a.attr == DRM_SVMGPU_ATTR_PREFERRED_LOC ? below(w, 3) : below(w, 2);
		if (chance(w, 5)) {
			a.attr = chance(w, 50) ? 0 : 4 + below(w, 100);
			badattr = 1;
		} else if (chance(w, 5)) {
			a.value = 3 + below(w, 100);
			badattr = 1;
		}
	} else if (a.op == DRM_SVMGPU_ADVISE_GET && chance(w, 5)) {
		a.attr = 1;
		badarg = 1;
	}
	if (chance(w, 4)) {
		/* Reserved: any non-zero bit is -EINVAL, checked before the context. */
		if (chance(w, 50))
			a.flags = 1u << below(w, 32);
		else
			a.pad = 1 + below(w, 1000);
		badarg = 1;
	}
	if (chance(w, 3)) {
		arg = bad_pointer(w);
		badptr = 1;
	}
	/* The kernel's order: op, range, attr and value, then the context. */
	/*
	 * A handle the fuzzer does not know may still be a context of the
	 * file (a fork child shares its parent's, which goes on creating
	 * them): only 0 is certainly ENOENT, as for the other ioctls.
	 */
	expect = badarg || badattr ? EINVAL : !a.ctx_handle ? ENOENT : !known ? 0 :
		 f->foreign ? -EACCES : 0;
	/* Past this kernel's TASK_SIZE the range comes first: EINVAL, or the above. */
	if (above47 && !badarg && !badattr)
		expect = 0;
	xioctl(w, f, pick_fd(w, f), I_ADVISE, DRM_IOCTL_SVMGPU_ADVISE, arg, expect, badptr);
}

/*
 * DEVMEM_ALLOC (bad flags or out fields: EINVAL), the render node's mmap()
 * of the buffer (MAP_PRIVATE: EINVAL; MAP_SHARED: aligned, zero-filled,
 * what the CPU writes reads back), FREE (then unknown: ENOENT).  Each
 * buffer lives within the operation (docs/api.md "Device-memory buffers").
 */
static void op_devmem(struct worker *w)
{
	struct drm_svmgpu_devmem_alloc a;
	struct drm_svmgpu_devmem_free fr;
	struct file *f = pick_file(w);
	uint64_t want, off;
	int fd, badarg = 0;
	unsigned char *p;

	w->opname = "DEVMEM";
	if (!f)
		return;
	fd = pick_fd(w, f);
	memset(&a, 0, sizeof(a));
	a.size = chance(w, 5) ? 0 : 1 + below(w, 4ul << 20);
	want = (a.size + (2ul << 20) - 1) & ~((2ul << 20) - 1);
	/* A bad size is EINVAL before the pool is looked at. */
	badarg = !a.size;
	if (chance(w, 5)) {
		a.flags = 1u << below(w, 32);
		badarg = 1;
	} else if (chance(w, 5)) {
		a.align = 1;	/* an out field */
		badarg = 1;
	}
	if (xioctl(w, f, fd, I_DEVMEM, DRM_IOCTL_SVMGPU_DEVMEM_ALLOC, &a,
		   badarg ? EINVAL : 0, 0))
		goto unknown;
	if (!a.size || a.size != want || a.align != (2ul << 20) || !a.handle)
		fail(w, "DEVMEM_ALLOC of %" PRIu64 " bytes gave size %llu align %llu handle %u",
		     want, (unsigned long long)a.size, (unsigned long long)a.align, a.handle);
	p = mmap(NULL, a.size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)a.offset);
	if (p != MAP_FAILED || (errno != EINVAL && errno != ENODEV))
		fail(w, "DEVMEM MAP_PRIVATE mapping: %s, not EINVAL",
		     p != MAP_FAILED ? "success" : strerror(errno));
	if (p != MAP_FAILED)
		munmap(p, a.size);
	p = mmap(NULL, a.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)a.offset);
	if (p == MAP_FAILED) {
		if (errno != ENODEV || !(o.unbind || f->dead))
			fail(w, "DEVMEM mmap: %s", strerror(errno));
	} else {
		off = below(w, a.size / 8) * 8;
		if ((uintptr_t)p % a.align)
			fail(w, "DEVMEM mapping at %p, not aligned to %llu", (void *)p,
			     (unsigned long long)a.align);
		else if (!o.unbind && *(volatile uint64_t *)(p + off))
			fail(w, "DEVMEM buffer not zero-filled at %" PRIu64, off);
		else if (!o.unbind) {
			*(volatile uint64_t *)(p + off) = w->rng | 1;
			if (*(volatile uint64_t *)(p + off) != (w->rng | 1))
				fail(w, "DEVMEM buffer lost a CPU write at %" PRIu64, off);
		}
		munmap(p, a.size);
	}
	memset(&fr, 0, sizeof(fr));
	fr.handle = a.handle;
	xioctl(w, f, fd, I_DEVMEM, DRM_IOCTL_SVMGPU_DEVMEM_FREE, &fr, 0, 0);
unknown:
	memset(&fr, 0, sizeof(fr));
	fr.handle = chance(w, 50) ? 0 : (uint32_t)(1u << 20) + (uint32_t)below(w, 1000);
	xioctl(w, f, fd, I_DEVMEM, DRM_IOCTL_SVMGPU_DEVMEM_FREE, &fr, ENOENT, 0);
}

/* Driver ioctl numbers past the table, and ours with the wrong size or direction. */
static void op_unknown_ioctl(struct worker *w)
{
	struct file *f = pick_file(w);
	unsigned long req;
	uint8_t arg[256];
	int nr;

	w->opname = "unknown ioctl";
	if (!f)
		return;
	memset(arg, 0, sizeof(arg));
	if (chance(w, 50)) {
		op_devmem(w);
		return;
	}
	nr = DRM_COMMAND_BASE + 8 + below(w, 0x58);
	switch (below(w, 3)) {
	case 0: req = DRM_IOWR(nr, struct drm_svmgpu_get_info); break;
	case 1: req = _IOC(_IOC_READ | _IOC_WRITE, DRM_IOCTL_BASE, nr, below(w, 256)); break;
	default: req = _IO(DRM_IOCTL_BASE, nr); break;
	}
	/* A zeroed DEVMEM_FREE names handle 0: ENOENT, as any unknown handle. */
	xioctl(w, f, pick_fd(w, f),
	       nr == DRM_COMMAND_BASE + DRM_SVMGPU_DEVMEM_ALLOC ||
	       nr == DRM_COMMAND_BASE + DRM_SVMGPU_DEVMEM_FREE ? I_DEVMEM : I_UNKNOWN,
	       req, arg, 0, 0);
}

static void op_files(struct worker *w)
{
	struct file *f = pick_file(w);
	int fd, i;

	w->opname = "open/close/dup";
	switch (below(w, 4)) {
	case 0:
		file_open(w);
		break;
	case 1:
		if (f && f->nfds < MAX_FDS) {
			i = pick_fd(w, f);
			fd = fcntl(i, F_DUPFD_CLOEXEC, 0);
			if (fd >= 0)
				f->fds[f->nfds++] = fd;
			if (o.verbose)
				say("  w%d op %" PRIu64 ": dup %d -> %d", w->id, w->k, i, fd);
		}
		break;
	default:
		if (!f)
			break;
		if (f->nfds > 1) {
			i = below(w, f->nfds);
			if (o.verbose)
				say("  w%d op %" PRIu64 ": close %d", w->id, w->k, f->fds[i]);
			close(f->fds[i]);
			f->fds[i] = f->fds[--f->nfds];
		} else if (chance(w, 30)) {
			file_drop(w, f);	/* its contexts and queues go with it */
		}
		break;
	}
}

/* ------------------------------------------------------------------ */
/* data checks                                                        */

/* A queue of ours, on a live file, created if need be. */
static struct queue *usable_queue(struct worker *w, struct file **fp)
{
	struct drm_svmgpu_ctx_create c;
	struct drm_svmgpu_queue_create qc;
	struct file *f;
	int i;

	for (i = 0; i < w->nfiles; i++) {
		f = &w->f[i];
		if (!f->dead && !f->foreign && f->nq) {
			*fp = f;
			return &f->q[below(w, f->nq)];
		}
	}
	for (i = 0; i < w->nfiles; i++)
		if (!w->f[i].dead && !w->f[i].foreign)
			break;
	if (i == w->nfiles) {
		if (w->nfiles == MAX_FILES)
			file_drop(w, &w->f[0]);
		if (file_open(w))
			return NULL;
		i = w->nfiles - 1;
	}
	f = &w->f[i];
	if (f->nq >= MAX_Q)
		return NULL;
	if (!f->nctx) {
		memset(&c, 0, sizeof(c));
		if (xioctl(w, f, f->fds[0], I_CTX_CREATE, DRM_IOCTL_SVMGPU_CTX_CREATE, &c, 0, 0))
			return NULL;
		f->ctx[f->nctx++] = c.handle;
	}
	memset(&qc, 0, sizeof(qc));
	qc.ctx_handle = f->ctx[0];
	if (xioctl(w, f, f->fds[0], I_Q_CREATE, DRM_IOCTL_SVMGPU_QUEUE_CREATE, &qc, 0, 0))
		return NULL;
	f->q[f->nq] = (struct queue){ .handle = qc.handle, .ctx = qc.ctx_handle, .entries = 256 };
	*fp = f;
	return &f->q[f->nq++];
}

static void dump_debugfs(void)
{
	char dir[64], l[256];
	FILE *d = NULL;

	/* the fuzzed device's */
	if (!svmgpu_device_debugfs_dir(render_path, dir, sizeof(dir))) {
		snprintf(l, sizeof(l), "%s/svmgpu_device", dir);
		d = fopen(l, "r");
	}

	while (d && fgets(l, sizeof(l), d))
		say("svmgpu-fuzz:   debugfs: %.*s", (int)strcspn(l, "\n"), l);
	if (d)
		fclose(d);
}

/*
 * Let every command this worker has in flight finish, so that nothing but
 * the data check's own command writes the memory it checks.  A queue that
 * does not drain is destroyed (its engine has let go when that returns).
 */
static int drain(struct worker *w)
{
	int i, j;

	for (i = 0; i < w->nfiles; i++) {
		struct file *f = &w->f[i];

		if (f->foreign || f->dead)
			continue;
		for (j = 0; j < f->nq; j++) {
			struct drm_svmgpu_wait a = { .queue_handle = f->q[j].handle,
				.seq = f->q[j].last, .first_seq = f->q[j].last,
				.timeout_ns = 120000000000ull };
			int ret;

			if (!f->q[j].last)
				continue;
			do {
				ret = xioctl(w, f, f->fds[0], I_WAIT, DRM_IOCTL_SVMGPU_WAIT, &a, 0, 0);
			} while (ret == -EINTR);
			if (ret && ret != -ECANCELED && ret != -ENODEV && ret != -EFAULT &&
			    ret != -EIO) {
				struct drm_svmgpu_queue_destroy d = { .handle = f->q[j].handle };

				/* every command is bounded (WAIT timeouts, kernel budgets) */
				fail(w, "queue %u: WAIT for seq %" PRIu64 ": %s, completed %" PRIu64 " (hang)",
				     f->q[j].handle, f->q[j].last, strerror(-ret),
				     (uint64_t)a.completed_seq);
				dump_debugfs();
				xioctl(w, f, f->fds[0], I_Q_DESTROY, DRM_IOCTL_SVMGPU_QUEUE_DESTROY,
				       &d, 0, 0);
				forget_q(f, d.handle);
				j--;
			}
		}
	}
	return w->failed ? -1 : 0;
}

static const int pre_advice[] = { 0, 0, 0, MADV_FREE, MADV_DONTNEED, MADV_COLD, MADV_PAGEOUT,
	MADV_MERGEABLE };

/*
 * The CPU writes a known background around [dst, dst+len) and a pattern
 * into src; memory may then be advised away (MADV_FREE: the device's write
 * must make the page dirty again); the device COPYs or FILLs; every byte
 * must be as expected, again after MADV_PAGEOUT/COLD, and in the file for
 * file-backed shared memory.
 */
static void op_datacheck(struct worker *w)
{
	uint64_t len, dst, src = 0, lo, hi, i, expect_byte, guard = 64;
	struct drm_svmgpu_submit s;
	struct drm_svmgpu_wait wt;
	struct svmgpu_cmd c;
	struct region *r;
	struct queue *q;
	struct file *f;
	int width = 1, copy, pre, post, ret, tries;
	uint8_t *p, bg = rnd(w), *pat = w->buf + BUF_CMDS;
	uint64_t value = rnd(w);

	w->opname = "data check";
	copy = chance(w, 50);
	len = chance(w, 80) ? 1 + below(w, 8192) : 1 + below(w, 1u << 20);
	for (tries = 0; tries < 8; tries++) {
		r = pick_region(w);
		if (!r)
			continue;
		if (len + 2 * guard > r->size)
			len = r->size / 2;
		dst = r->addr + guard + below(w, r->size - len - 2 * guard + 1);
		if (!copy) {
			width = 1 << below(w, 4);
			dst &= ~(uint64_t)(width - 1);
			len = (len + width - 1) & ~(uint64_t)(width - 1);
		}
		lo = dst - guard;
		hi = dst + len + guard;
		if (dst >= r->addr + guard && hi <= r->addr + r->size &&
		    range_has(r, lo, hi - lo, PROT_READ | PROT_WRITE))
			break;
		r = NULL;
	}
	if (!r)
		return;
	if (copy) {
		/* not on a page the advice below may drop, nor on the same pages */
		src = cpu_writable(w, len);
		if (src && src < ((hi + PAGE - 1) & ~(PAGE - 1)) && src + len > (lo & ~(PAGE - 1)))
			src = 0;
		for (tries = 0; src && tries < NSLOTS; tries++) {
			struct region *sr = &w->reg[tries];

			if (sr->used && sr != r && sr->obj == r->obj && src >= sr->addr &&
			    src < sr->addr + sr->size)
				src = 0;
		}
		if (!src) {
			/* from the heap buffer: 1 MiB of pattern at most */
			if (len > (1u << 20))
				len = 1u << 20;
			src = (uintptr_t)pat;
		}
	}
	mix(w, dst ^ len ^ src);
	if (drain(w))
		return;
	q = usable_queue(w, &f);
	if (!q)
		return;
	atomic_fetch_add(&sh->datachecks, 1);

	/* CPU: background and pattern (this also makes lazily freed pages stay) */
	memset((void *)(uintptr_t)lo, bg, hi - lo);
	if (copy)
		for (i = 0; i < len; i++)
			((uint8_t *)(uintptr_t)src)[i] = (uint8_t)(value >> (8 * (i % 8))) + i / 8;
	pre = pre_advice[below(w, sizeof(pre_advice) / sizeof(pre_advice[0]))];
	if (pre == MADV_FREE && r->kind != K_ANON && r->kind != K_THP)
		pre = MADV_COLD;
	if (pre == MADV_DONTNEED && r->kind != K_ANON && r->kind != K_THP && r->kind != K_SHM &&
	    r->kind != K_MEMFD)
		pre = 0;
	if (pre)
		madvise((void *)(uintptr_t)(dst & ~(PAGE - 1)),
			((dst + len + PAGE - 1) & ~(PAGE - 1)) - (dst & ~(PAGE - 1)), pre);

	if (o.verbose)
		say("  w%d op %" PRIu64 ": data check: %s 0x%" PRIx64 " <- 0x%" PRIx64 " +%" PRIu64 " (%s, width %d, advice %d; src %s)",
		    w->id, w->k, copy ? "COPY" : "FILL", dst, src, len, kind_name[r->kind], width, pre,
		    src == (uintptr_t)pat ? "heap" : "arena");
	memset(&c, 0, sizeof(c));
	if (copy) {
		c.hdr.opcode = SVMGPU_CMD_COPY;
		c.copy.dst = dst;
		c.copy.src = src;
		c.copy.size = len;
	} else {
		c.hdr.opcode = SVMGPU_CMD_FILL;
		c.fill.dst = dst;
		c.fill.size = len;
		c.fill.value = value;
		c.fill.width = width;
	}
	memset(&s, 0, sizeof(s));
	s.queue_handle = q->handle;
	s.count = 1;
	s.cmds = (uintptr_t)&c;
	do {
		ret = xioctl(w, f, f->fds[0], I_SUBMIT, DRM_IOCTL_SVMGPU_SUBMIT, &s, 0, 0);
	} while (ret == -EINTR);
	if (ret) {
		if (ret != -ENODEV || !o.unbind)
			fail(w, "data check: SUBMIT to our queue: %s", strerror(-ret));
		return;
	}
	q->last = s.seq;
	memset(&wt, 0, sizeof(wt));
	wt.queue_handle = q->handle;
	wt.seq = s.seq;
	wt.first_seq = s.seq;
	wt.timeout_ns = 120000000000ull;
	do {
		ret = xioctl(w, f, f->fds[0], I_WAIT, DRM_IOCTL_SVMGPU_WAIT, &wt, 0, 0);
	} while (ret == -EINTR);
	if (ret || wt.err_code) {
		if ((ret != -ENODEV && ret != -ECANCELED) || !o.unbind)
			fail(w, "data check: %s of %" PRIu64 " bytes at 0x%" PRIx64 " (%s): %s, device error %u at 0x%" PRIx64,
			     copy ? "COPY" : "FILL", len, dst, kind_name[r->kind],
			     ret ? strerror(-ret) : "ok", wt.err_code, (uint64_t)wt.err_va);
		return;
	}

	for (post = 0; post < 2; post++) {
		p = (uint8_t *)(uintptr_t)lo;
		for (i = 0; i < hi - lo; i++) {
			uint64_t a = lo + i;

			if (a < dst || a >= dst + len) {
				/* pages advised away before the device wrote may be zero */
				if (p[i] == bg || ((pre == MADV_FREE || pre == MADV_DONTNEED) && !p[i]))
					continue;
				fail(w, "data check: byte 0x%" PRIx64 " beside the %s at 0x%" PRIx64 "+%" PRIu64 " (%s, advice %d%s) is 0x%02x, not 0x%02x",
				     a, copy ? "COPY" : "FILL", dst, len, kind_name[r->kind], pre,
				     post ? ", then MADV_PAGEOUT" : "", p[i], bg);
				return;
			}
			if (copy)
				expect_byte = (uint8_t)((uint8_t)(value >> (8 * ((a - dst) % 8))) +
							(a - dst) / 8);
			else
				expect_byte = (uint8_t)(value >> (8 * ((a - dst) % width)));
			if (p[i] != expect_byte) {
				fail(w, "data check: byte 0x%" PRIx64 " (+%" PRIu64 ") of the %s at 0x%" PRIx64 "+%" PRIu64 " (%s, advice %d%s) is 0x%02x, not 0x%02x: device write lost",
				     a, a - dst, copy ? "COPY" : "FILL", dst, len, kind_name[r->kind],
				     pre, post ? ", then MADV_PAGEOUT" : "", p[i],
				     (unsigned int)expect_byte);
				return;
			}
		}
		if (post || !chance(w, 50))
			break;
		/* reclaim what the device wrote: it must come back as written */
		madvise((void *)(uintptr_t)(lo & ~(PAGE - 1)),
			((hi + PAGE - 1) & ~(PAGE - 1)) - (lo & ~(PAGE - 1)),
			chance(w, 70) ? MADV_PAGEOUT : MADV_COLD);
	}
	if ((r->kind == K_FILE_SHARED || r->kind == K_MEMFD) && len <= 65536 && chance(w, 50)) {
		uint8_t *back = w->buf + BUF_CMDS + BUF_PAT;

		msync((void *)(uintptr_t)(lo & ~(PAGE - 1)),
		      ((hi + PAGE - 1) & ~(PAGE - 1)) - (lo & ~(PAGE - 1)), MS_SYNC);
		if (pread(r->fd, back, len, dst - r->addr) == (ssize_t)len &&
		    memcmp(back, (void *)(uintptr_t)dst, len))
			fail(w, "data check: the file under 0x%" PRIx64 "+%" PRIu64 " (%s) differs from the mapping",
			     dst, len, kind_name[r->kind]);
	}
}

/* ------------------------------------------------------------------ */
/* processes, the device, the loop                                    */

static void run_ops(struct worker *w, uint64_t nops);

static void reap(struct worker *w, int block)
{
	int i, st;

	for (i = 0; i < w->nchildren; i++) {
		pid_t pid = waitpid(w->children[i], &st, block ? 0 : WNOHANG);

		if (pid == 0 || (pid < 0 && errno == EINTR))
			continue;
		if (pid > 0) {
			if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
				fail(w, "fork child %d died of signal %d (%s)", (int)pid,
				     WTERMSIG(st), strsignal(WTERMSIG(st)));
			else if (WIFEXITED(st) && WEXITSTATUS(st))
				fail(w, "fork child %d failed (exit %d)", (int)pid, WEXITSTATUS(st));
		}
		w->children[i--] = w->children[--w->nchildren];
	}
}

/* What a fork child finds: its parent's files (handles not its own), no
 * shared memory it might race its parent's data checks on, no DONTFORK pages. */
static void child_inherit(struct worker *w)
{
	int s, i;

	for (i = 0; i < w->nfiles; i++)
		w->f[i].foreign = 1;
	for (s = 0; s < NSLOTS; s++) {
		struct region *r = &w->reg[s];

		if (!r->used)
			continue;
		if (r->kind == K_SHM || r->kind == K_MEMFD || r->kind == K_FILE_SHARED) {
			munmap((void *)r->addr, r->size);
			region_free(r);
			continue;
		}
	}
	/*
	 * MADV_DONTFORK ranges are gone.  They follow VMAs (which mremap moves
	 * and grows, and merging joins), so ask the kernel what is left rather
	 * than trust the bookkeeping.
	 */
	sync_maps(w);
}

/*
 * A fork child runs a sequence of its own, then exits with its work still
 * in flight, or is killed by the parent somewhere in the middle.
 */
static void op_fork(struct worker *w)
{
	uint64_t cseed = rnd(w), cops = 10 + below(w, 150);
	int killme = !o.replay && chance(w, 40);
	pid_t pid;

	w->opname = "fork";
	if (w->is_child || w->nchildren >= MAX_CHILDREN)
		return;
	mix(w, cops);
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		w->is_child = 1;
		w->nchildren = 0;
		w->seed = cseed;
		w->failed = 0;
		child_inherit(w);
		run_ops(w, cops);
		_exit(w->failed ? 1 : 0);
	}
	atomic_fetch_add(&sh->forks, 1);
	w->children[w->nchildren++] = pid;
	if (o.replay) {
		reap(w, 1);
	} else if (killme) {
		usleep(below(w, 30000));
		kill(pid, SIGKILL);
		atomic_fetch_add(&sh->kills, 1);
	}
}

static int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = write(fd, val, strlen(val)) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* Unbind the device under everyone's open files, then bind it again. */
static void op_unbind(struct worker *w)
{
	int i, fd;

	w->opname = "unbind/bind";
	if (!pci_addr[0])
		return;
	say("svmgpu-fuzz: w%d op %" PRIu64 ": unbind %s", w->id, w->k, pci_addr);
	atomic_fetch_add(&sh->unbinds, 1);
	sysfs_write("/sys/bus/pci/drivers/svmgpu/unbind", pci_addr);
	for (i = 0; i < w->nfiles; i++)
		w->f[i].dead = 1;
	usleep(below(w, 200000));
	sysfs_write("/sys/bus/pci/drivers/svmgpu/bind", pci_addr);
	snprintf(render_path, sizeof(render_path), "%s", o.node ? o.node : "");
	for (i = 0; i < 300; i++) {
		fd = open_render();
		if (fd >= 0) {
			close(fd);
			return;
		}
		usleep(100000);
	}
	fail(w, "no render node 30 s after binding %s again", pci_addr);
}

/*
 * --verbose with one worker: after every operation, compare what the fuzzer
 * believes is mapped in its arena with /proc/self/maps.  Finds the
 * fuzzer's own bookkeeping mistakes (which would make it touch memory it
 * should not).
 */
/* Which pages of @w's arena /proc/self/maps shows mapped, into w->actual[][]. */
static void read_maps(struct worker *w)
{
	unsigned long lo, hi;
	char l[256];
	FILE *maps;

	memset(w->actual, 0, sizeof(w->actual));
	maps = fopen("/proc/self/maps", "r");
	while (maps && fgets(l, sizeof(l), maps)) {
		if (sscanf(l, "%lx-%lx", &lo, &hi) != 2 || hi <= w->arena ||
		    lo >= w->arena + NSLOTS * SLOT)
			continue;
		for (; lo < hi; lo += PAGE)
			if (lo >= w->arena && lo < w->arena + NSLOTS * SLOT)
				w->actual[(lo - w->arena) / SLOT][(lo - w->arena) % SLOT / PAGE] = 1;
	}
	if (maps)
		fclose(maps);
}

/* Forget pages the kernel no longer maps (after a call that may half-fail). */
static void sync_maps(struct worker *w)
{
	int s, i;

	read_maps(w);
	for (s = 0; s < NSLOTS; s++) {
		struct region *r = &w->reg[s];

		for (i = 0; r->used && i < (int)(r->size / PAGE); i++) {
			uint64_t a = r->addr + i * PAGE - w->arena;

			if (!w->actual[a / SLOT][a % SLOT / PAGE])
				r->page[i] = 0;
		}
	}
}

static void check_maps(struct worker *w)
{
	int s, p;

	read_maps(w);
	for (s = 0; s < NSLOTS; s++)
		for (p = 0; p < (int)MAX_PAGES; p++) {
			struct region *r = NULL;
			int believed = 0, i;

			for (i = 0; i < NSLOTS; i++)
				if (w->reg[i].used && w->arena + s * SLOT + p * PAGE >= w->reg[i].addr &&
				    w->arena + s * SLOT + p * PAGE < w->reg[i].addr + w->reg[i].size)
					r = &w->reg[i];
			if (r)
				believed = !!(r->page[(w->arena + s * SLOT + p * PAGE - r->addr) / PAGE] &
					      P_MAPPED);
			if (believed != w->actual[s][p]) {
				fail(w, "bookkeeping: slot %d page %d is %smapped, the fuzzer thinks %s (region %d: 0x%" PRIx64 "+%zu)",
				     s, p, w->actual[s][p] ? "" : "not ", believed ? "mapped" : "not",
				     r ? (int)(r - w->reg) : -1, r ? r->addr : 0, r ? r->size : 0);
				return;
			}
		}
}

static void run_ops(struct worker *w, uint64_t nops)
{
	for (w->k = 0; !w->failed && !atomic_load(&sh->stop); w->k++) {
		unsigned int c;

		if (nops && w->k >= nops)
			break;
		if (o.seconds && !(w->k & 7) && now() > w->deadline)
			break;
		w->rng = w->seed ^ (w->k * 0xd1342543de82ef95ull);
		rnd(w);
		c = below(w, 1000);
		atomic_store(&sh->cur[w->id], (int)c);
		mix(w, c);
		if (c < 30) op_get_info(w);
		else if (c < 85) op_ctx_create(w);
		else if (c < 125) op_ctx_destroy(w);
		else if (c < 180) op_queue_create(w);
		else if (c < 215) op_queue_destroy(w);
		else if (c < 405) op_submit(w);
		else if (c < 525) op_wait(w);
		else if (c < 537) op_stats(w);
		else if (c < 561) op_prefetch(w);	/* 2.4% */
		else if (c < 569) op_advise(w);
		else if (c < 580) op_unknown_ioctl(w);
		else if (c < 630) op_datacheck(w);
		else if (c < 710) op_mmap(w);
		else if (c < 745) op_munmap(w);
		else if (c < 785) op_mprotect(w);
		else if (c < 875) op_madvise(w);
		else if (c < 905) op_mremap(w);
		else if (c < 943) op_touch(w);
		else if (c < 955) op_events(w);
		else if (c < 965) op_mlock(w);
		else if (c < 985) op_files(w);
		else if (c < 993) op_fork(w);
		else if (c < 995 && o.unbind && !o.replay && !w->is_child && w->id == 0) op_unbind(w);
		else op_touch(w);
		if (o.check_maps && !w->is_child)
			check_maps(w);
		atomic_fetch_add(&sh->ops[w->id], 1);
		atomic_fetch_add(&sh->total_ops, 1);
		if (w->nchildren && !o.replay)
			reap(w, 0);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t s = o.seed ^ ((uint64_t)w->id << 56);
	sigset_t set;
	int i;

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	/* only each process's first worker arms the interrupt timer */
	pthread_sigmask(w->id % o.threads ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
	self = w;
	w->seed = splitmix(&s);
	w->arena = ARENA_BASE + (uint64_t)w->id * ARENA;
	for (i = 0; i < NSLOTS; i++)
		w->reg[i].fd = -1;
	w->buf = calloc(1, BUF_SIZE);
	if (!w->buf) {
		w->failed = 1;
		return NULL;
	}
	file_open(w);
	run_ops(w, w->ops_target);
	while (w->nchildren) {
		for (i = 0; i < w->nchildren; i++)
			kill(w->children[i], SIGKILL);
		reap(w, 1);
	}
	atomic_store(&sh->hash[w->id], w->hash);
	while (w->nfiles)
		file_drop(w, &w->f[0]);
	for (i = 0; i < NSLOTS; i++)
		if (w->reg[i].used) {
			munmap((void *)w->reg[i].addr, w->reg[i].size);
			region_free(&w->reg[i]);
		}
	free(w->buf);
	return NULL;
}

/* A signal nobody asked for: say where, then die of it (the parent reports it). */
static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	struct worker *w = self;
	char line[256];
	int n;

	(void)uc;
	n = snprintf(line, sizeof(line),
		     "%ssvmgpu-fuzz: worker %d%s got signal %d at address %p during op %" PRIu64 " (%s)\n",
		     o.tap ? "# " : "", w ? w->id : -1, w && w->is_child ? " (fork child)" : "", sig, si->si_addr,
		     w ? w->k : 0, w && w->opname ? w->opname : "?");
	if (write(STDOUT_FILENO, line, n) < 0)
		n = 0;
	for (n = 0; w && n < NSLOTS; n++) {
		struct region *r = &w->reg[n];
		uint64_t a = (uint64_t)(uintptr_t)si->si_addr;

		if (r->used && a >= r->addr && a < r->addr + SLOT)
			say("svmgpu-fuzz:   slot %d: %s region of %zu bytes, page %" PRIu64 " state 0x%x",
			    n, kind_name[r->kind], r->size, (a - r->addr) / PAGE,
			    (a - r->addr) / PAGE < MAX_PAGES ? r->page[(a - r->addr) / PAGE] : 0);
	}
	if (o.verbose) {
		FILE *maps = fopen("/proc/self/maps", "r");
		char l[256];

		while (maps && fgets(l, sizeof(l), maps))
			if (!strncmp(l, "1000", 4))
				say("svmgpu-fuzz:   maps %.*s", (int)strcspn(l, "\n"), l);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_alarm(int sig)
{
	(void)sig;
	alarm_hits++;
}

/* One worker process: o.threads workers from @first on (or just o.only). */
static int worker_process(int first, uint64_t per_worker)
{
	struct sigaction sa;
	pthread_t th[MAX_WORKERS];
	struct worker *ws;
	int n = o.only >= 0 ? 1 : (int)o.threads, i, failed = 0;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: blocking ioctls see EINTR */
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	ws = calloc(n, sizeof(*ws));
	if (!ws)
		return 2;
	for (i = 0; i < n; i++) {
		ws[i].id = o.only >= 0 ? o.only : first + i;
		ws[i].ops_target = per_worker;
		ws[i].deadline = o.seconds ? now() + o.seconds : 1e300;
		if (pthread_create(&th[i], NULL, worker_main, &ws[i]))
			return 2;
	}
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		failed |= ws[i].failed;
	}
	return failed ? 1 : 0;
}

static const char *errno_name(int e)
{
	switch (e) {
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EBUSY: return "EBUSY";
	case ENOMEM: return "ENOMEM";
	case ENODEV: return "ENODEV";
	case EFAULT: return "EFAULT";
	case EINTR: return "EINTR";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECANCELED: return "ECANCELED";
	case EIO: return "EIO";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	default: return NULL;
	}
}

static void find_device(void)
{
	char link[PATH_MAX], path[128];
	const char *node;
	ssize_t n;
	int fd = open_render();

	if (fd < 0)
		return;
	close(fd);
	node = strrchr(render_path, '/') + 1;
	snprintf(path, sizeof(path), "/sys/class/drm/%s/device", node);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		snprintf(pci_addr, sizeof(pci_addr), "%s", strrchr(link, '/') + 1);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: svmgpu-fuzz [options]\n"
		"Random sequences of every svmgpu ioctl, valid and invalid, interleaved with\n"
		"mmap/munmap/mremap/mprotect/madvise, CPU stores, fork, exit, close/dup and\n"
		"signals; checks every errno against the documented set, FILL/COPY data byte\n"
		"by byte, and that no process dies of a signal it did not ask for.\n"
		"  -d, --device DEVICE  index (default 0), render node path or PCI address\n"
		"  -s, --seed N         seed (default: from the clock; always printed)\n"
		"  -n, --ops N          operations in all (default 10000 unless --seconds)\n"
		"  -t, --seconds N      stop after N seconds (with --ops: whichever comes first)\n"
		"  -j, --threads N      worker threads per process (default 2)\n"
		"  -p, --procs N        worker processes (default 1)\n"
		"  -w, --worker W       run worker W's sequence alone (from a failure report)\n"
		"  -R, --replay         deterministic: one worker, no timers, no kills, fork\n"
		"                       children waited for; same seed, same sequence\n"
		"  -u, --unbind         also unbind and bind the device through sysfs\n"
		"  -D, --dir DIR        directory for file-backed memory (default /tmp)\n"
		"  -H, --hang SECS      report a hang after SECS without progress (600)\n"
		"  -T, --tap            TAP output (one test)\n"
		"  -v, --verbose        log every ioctl\n"
		"  -C, --check-maps     after every operation, compare the fuzzer's idea of its\n"
		"                       mappings with /proc/self/maps (slow; a self-test)\n"
		"      --json           log to stderr, print the summary as JSON on stdout\n"
		"  -h, --help           this text\n"
		"      --version        print the version\n"
		"Numbers are decimal or 0x hex with an optional k/M/G/T unit.\n"
		"Exit status: 0 no failure, 1 a failure (seed, worker, operation and a\n"
		"replay command are printed), 2 bad command line, 3 no such device or\n"
		"setup error.\n");
}

static int fuzz_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'j' },
		{ "procs", required_argument, NULL, 'p' },
		{ "worker", required_argument, NULL, 'w' },
		{ "replay", no_argument, NULL, 'R' },
		{ "unbind", no_argument, NULL, 'u' },
		{ "device", required_argument, NULL, 'd' },
		{ "dir", required_argument, NULL, 'D' },
		{ "hang", required_argument, NULL, 'H' },
		{ "tap", no_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check-maps", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, CLI_OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, CLI_OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t last_total = 0, per_worker, total;
	double start = now(), last_change = start, last_report = start;
	pid_t pids[MAX_WORKERS];
	int c, i, nprocs, nworkers, status, failed = 0, alive;
	char hist[512], node[SVMGPU_PATH_MAX];
	size_t hl = 0;
	struct cli_device sel = { 0 };
	struct svmgpu_device *dev;
	struct json_object *jerr;
	int ret;

	o.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	o.threads = 2;
	o.procs = 1;
	o.hang = 600;
	o.dir = "/tmp";
	o.only = -1;
	cli_init(argv, "svmgpu-fuzz");
	while ((c = getopt_long(argc, argv, "d:s:n:t:j:p:w:RuD:H:TvCh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cli_opt_device("--device", optarg, &sel); break;
		case 's': o.seed = cli_opt_u64("--seed", optarg, 0, UINT64_MAX); break;
		case 'n': o.ops = cli_opt_u64("--ops", optarg, 0, UINT64_MAX); break;
		case 't': o.seconds = cli_opt_uint("--seconds", optarg, 0, 30 * 86400); break;
		case 'j': o.threads = cli_opt_uint("--threads", optarg, 1, MAX_WORKERS); break;
		case 'p': o.procs = cli_opt_uint("--procs", optarg, 1, MAX_WORKERS); break;
		case 'w': o.only = (int)cli_opt_uint("--worker", optarg, 0, MAX_WORKERS - 1); break;
		case 'R': o.replay = 1; break;
		case 'u': o.unbind = 1; break;
		case 'D': o.dir = optarg; break;
		case 'H': o.hang = cli_opt_uint("--hang", optarg, 1, 30 * 86400); break;
		case 'T': o.tap = 1; break;
		case 'v': o.verbose = 1; break;
		case 'C': o.check_maps = 1; break;
		case CLI_OPT_JSON: o.json = 1; break;
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case CLI_OPT_VERSION: cli_version();
		default: cli_bad_option();
		}
	}
	if (optind != argc)
		cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (o.threads * o.procs > MAX_WORKERS)
		cli_usage_error("--threads x --procs is %u, more than %d workers", o.threads * o.procs,
				MAX_WORKERS);
	if (o.tap && o.json)
		cli_usage_error("--tap and --json exclude each other");
	if (o.replay) {
		o.threads = 1;
		o.procs = 1;
		o.unbind = 0;
		if (o.only < 0)
			o.only = 0;
	}
	if (o.only >= 0)
		o.threads = o.procs = 1;
	if (!o.ops && !o.seconds)
		o.ops = 10000;
	nprocs = o.procs;
	nworkers = o.threads * o.procs;
	per_worker = o.ops ? (o.ops + nworkers - 1) / nworkers : 0;
	if (o.tap)
		printf("TAP version 13\n1..1\n");
	fflush(stdout);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return CLI_EXIT_DEVICE;
	/* the selected device must be an svmgpu render node */
	ret = cli_device_open(&sel, &dev);
	if (!ret) {
		svmgpu_device_close(dev);
		ret = cli_device_node(&sel, node, sizeof(node));
	}
	if (!ret) {
		snprintf(render_path, sizeof(render_path), "%s", node);
		o.node = render_path[0] ? strdup(render_path) : NULL;
		find_device();
	}
	if (ret || !render_path[0]) {
		fprintf(stderr, "svmgpu-fuzz: no svmgpu device %s: %s\n", cli_device_str(&sel),
			strerror(ret ? -ret : ENODEV));
		if (o.tap)
			printf("not ok 1 - syscall fuzz: no svmgpu render node\n");
		return CLI_EXIT_DEVICE;
	}
	say("svmgpu-fuzz: seed 0x%" PRIx64 ", %" PRIu64 " operations (0: no limit), at most %u s (0: no limit), %u process(es) x %u thread(s)%s%s on %s (%s)",
	    o.seed, o.ops, o.seconds, o.procs, o.threads, o.replay ? ", replay" : "",
	    o.unbind ? ", unbind" : "", render_path, pci_addr);

	for (i = 0; i < nprocs; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			int err = errno;

			/* the workers already started do not fuzz on unsupervised */
			while (i--) {
				kill(pids[i], SIGKILL);
				waitpid(pids[i], NULL, 0);
			}
			fprintf(stderr, "svmgpu-fuzz: fork: %s\n", strerror(err));
			if (o.tap)
				printf("not ok 1 - syscall fuzz: fork: %s\n", strerror(err));
			return CLI_EXIT_DEVICE;
		}
		if (pids[i] == 0)
			_exit(worker_process(i * o.threads, per_worker));
	}
	/* supervise: progress, hangs, how each worker process ended */
	for (alive = nprocs; alive;) {
		usleep(200000);
		for (i = 0; i < nprocs; i++) {
			if (pids[i] <= 0 || waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			if (WIFSIGNALED(status)) {
				say("svmgpu-fuzz: FAIL seed 0x%" PRIx64 ": worker process %d died of signal %d (%s)",
				    o.seed, i, WTERMSIG(status), strsignal(WTERMSIG(status)));
				failed = 1;
			} else if (WEXITSTATUS(status)) {
				failed = 1;
			}
			pids[i] = 0;
			alive--;
		}
		total = atomic_load(&sh->total_ops);
		if (total != last_total) {
			last_total = total;
			last_change = now();
		}
		if (now() - last_report > 60) {
			last_report = now();
			say("svmgpu-fuzz: %" PRIu64 " operations, %.0f s", total, now() - start);
		}
		if (alive && now() - last_change > o.hang) {
			say("svmgpu-fuzz: FAIL seed 0x%" PRIx64 ": no progress for %u s (hang)",
			    o.seed, o.hang);
			for (i = 0; i < nworkers; i++)
				say("svmgpu-fuzz:   worker %d at op %" PRIu64 " (choice %d)", i,
				    atomic_load(&sh->ops[i]), atomic_load(&sh->cur[i]));
			atomic_store(&sh->stop, 1);
			for (i = 0; i < nprocs; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGKILL);
			failed = 1;
			break;
		}
	}
	failed |= atomic_load(&sh->failures) != 0;

	for (i = 1; i < 140; i++) {
		uint64_t n = atomic_load(&sh->errno_hist[i]);
		const char *name = errno_name(i);

		if (n && hl < sizeof(hist) - 40)
			hl += snprintf(hist + hl, sizeof(hist) - hl, " %s %" PRIu64,
				       name ? name : "errno", n);
	}
	say("svmgpu-fuzz: ioctl errors:%s", hl ? hist : " none");
	if (o.only >= 0)
		say("svmgpu-fuzz: sequence hash 0x%016" PRIx64, atomic_load(&sh->hash[o.only]));
	total = atomic_load(&sh->total_ops);
	say("seed 0x%" PRIx64 ": %" PRIu64 " operations in %.0f s (%" PRIu64 " ioctls, %" PRIu64 " succeeded; %" PRIu64 " data checks; %" PRIu64 " forks, %" PRIu64 " killed; %" PRIu64 " interrupted; %" PRIu64 " unbinds; %" PRIu64 " async PREFETCHes, %" PRIu64 " events), %d failures",
	    o.seed, total, now() - start, atomic_load(&sh->ioctls), atomic_load(&sh->ioctl_ok),
	    atomic_load(&sh->datachecks), atomic_load(&sh->forks), atomic_load(&sh->kills),
	    atomic_load(&sh->interrupts), atomic_load(&sh->unbinds),
	    atomic_load(&sh->pf_async), atomic_load(&sh->pf_events),
	    failed ? (atomic_load(&sh->failures) ? atomic_load(&sh->failures) : 1) : 0);
	if (o.tap)
		printf("%s 1 - syscall fuzz: %" PRIu64 " operations, seed 0x%" PRIx64 "\n",
		       failed ? "not ok" : "ok", total, o.seed);
	if (o.json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "seed", cli_json_hex(o.seed));
		json_object_object_add(j, "device", json_object_new_string(render_path));
		json_object_object_add(j, "operations", cli_json_u64(total));
		json_object_object_add(j, "seconds", json_object_new_double(now() - start));
		json_object_object_add(j, "ioctls", cli_json_u64(atomic_load(&sh->ioctls)));
		json_object_object_add(j, "ioctls_ok", cli_json_u64(atomic_load(&sh->ioctl_ok)));
		json_object_object_add(j, "data_checks", cli_json_u64(atomic_load(&sh->datachecks)));
		json_object_object_add(j, "forks", cli_json_u64(atomic_load(&sh->forks)));
		json_object_object_add(j, "killed", cli_json_u64(atomic_load(&sh->kills)));
		json_object_object_add(j, "interrupted", cli_json_u64(atomic_load(&sh->interrupts)));
		json_object_object_add(j, "unbinds", cli_json_u64(atomic_load(&sh->unbinds)));
		json_object_object_add(j, "prefetch_async", cli_json_u64(atomic_load(&sh->pf_async)));
		json_object_object_add(j, "prefetch_events",
				       cli_json_u64(atomic_load(&sh->pf_events)));
		jerr = json_object_new_object();
		for (i = 1; i < 140; i++) {
			uint64_t n = atomic_load(&sh->errno_hist[i]);
			char name[16];

			snprintf(name, sizeof(name), "%s", errno_name(i) ? errno_name(i) : "");
			if (!name[0])
				snprintf(name, sizeof(name), "errno%d", i);
			if (n)
				json_object_object_add(jerr, name, cli_json_u64(n));
		}
		json_object_object_add(j, "ioctl_errors", jerr);
		if (o.only >= 0)
			json_object_object_add(j, "sequence_hash",
					       cli_json_hex(atomic_load(&sh->hash[o.only])));
		json_object_object_add(j, "failures", cli_json_u64(atomic_load(&sh->failures)));
		json_object_object_add(j, "passed", json_object_new_boolean(!failed));
		cli_json_print(j);
	}
	return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
#ifdef SVMGPU_FUZZ_SUITE
	/* the in-guest suite's bounded run (images/guest-tests.sh runs it bare) */
	static char *suite_argv[] = { "syscall_fuzz", "--tap", "--seconds", "40",
		"--threads", "2", "--hang", "90", NULL };

	if (argc == 1) {
		argc = 8;
		argv = suite_argv;
	}
#endif
	return fuzz_main(argc, argv);
}
