// SPDX-License-Identifier: MIT
/*
 * emu_code_patching: the emulator keeps up with a guest kernel that patches
 * its own code while the other vCPU runs it.
 *
 * Linux turns a static key on or off (here: the sched_switch tracepoint,
 * whose sites sit in __schedule()) with text_poke_bp(): an INT3 over the
 * first byte, the new tail, the new first byte, each followed by an IPI to
 * every CPU.  A CPU that meets the INT3 after the new byte is back retries
 * the instruction.  QEMU 7.2's TCG could link a translation of the code as
 * it was before the last write and run it for good (the write's
 * invalidation ran between the translator's reads and the linking), so the
 * other vCPU took that INT3 again and again with interrupts off and the
 * guest froze: svm_dax, which turns a trace event on, froze CI twice.
 * qemu-device/patches/0001-* fixes it; this is its test.  A broken
 * emulator freezes the guest, which the host's stall watch reports
 * (qemu-hang.txt: a vCPU in exc_int3 at a __schedule() address).
 *
 * And a guest that moves PCI memory (a BAR's decode turned off and on, as
 * every FLR does) while the other vCPU does MMIO: qemu-device/patches/0002-*.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "svmgpu_test.h"
#include "svmgpu_guest.h"

#define EVENT	"/sys/kernel/debug/tracing/events/sched/sched_switch/enable"
#define FLIPS	300
/* at most: a flip (synchronize_rcu(), IPIs) takes ~35 ms on Debian's
 * kernel under TCG, several times that on the debug kernel */
#define SECONDS	30

struct pingpong {
	int to[2], back[2];
	atomic_long trips;
	atomic_bool stop;
};

/* One side of a pipe ping-pong: every trip is two context switches. */
static void *ponger(void *arg)
{
	struct pingpong *pp = arg;
	char c;

	while (read(pp->to[0], &c, 1) == 1 && !atomic_load(&pp->stop))
		if (write(pp->back[1], &c, 1) != 1)
			break;
	return NULL;
}

static void *pinger(void *arg)
{
	struct pingpong *pp = arg;
	char c = 0;

	while (!atomic_load(&pp->stop)) {
		if (write(pp->to[1], &c, 1) != 1 || read(pp->back[0], &c, 1) != 1)
			break;
		atomic_fetch_add(&pp->trips, 1);
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST_TIMEOUT(120)
TEST(static_key_flips_while_both_cpus_schedule)
{
	struct pingpong pp = { 0 };
	pthread_t a, b;
	long flips = 0, before = 0;
	double start;

	if (access(EVENT, W_OK))
		SKIP(return, "no tracefs");
	ASSERT_EQ(pipe(pp.to), 0);
	ASSERT_EQ(pipe(pp.back), 0);
	ASSERT_EQ(pthread_create(&a, NULL, ponger, &pp), 0);
	ASSERT_EQ(pthread_create(&b, NULL, pinger, &pp), 0);
	start = now();
	while (flips < FLIPS && now() - start < SECONDS) {
		double flipped;

		before = atomic_load(&pp.trips);
		ASSERT_EQ(sg_write_file(EVENT, "1"), 0);
		ASSERT_EQ(sg_write_file(EVENT, "0"), 0);
		flips++;
		/* the ping-pong ran __schedule() across the flip */
		flipped = now();
		while (atomic_load(&pp.trips) == before && now() - flipped < 5)
			usleep(100);
		if (atomic_load(&pp.trips) == before) {
			TH_LOG("ping-pong stopped after flip %ld", flips);
			break;
		}
	}
	atomic_store(&pp.stop, true);
	/* wake both sides: each sees stop after its read */
	EXPECT_EQ(write(pp.to[1], "x", 1), 1);
	EXPECT_EQ(write(pp.back[1], "x", 1), 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	TH_LOG("%ld flips, %ld round trips in %.1f s", flips,
	       atomic_load(&pp.trips), now() - start);
	EXPECT_GE(flips, 20);
	EXPECT_GT(atomic_load(&pp.trips), before);
}

/*
 * A hostile program: one thread writes, without end, a data word in the
 * page another thread runs code from.  Every translation of that page is
 * refused (its write count moved) and, after three tries, run one
 * instruction at a time: the caller still gets on, and sees the code the
 * writer last put there.
 */
struct selfmod {
	unsigned char *page;
	atomic_bool stop;
	atomic_long writes;
};

static void *scribbler(void *arg)
{
	struct selfmod *sm = arg;
	volatile unsigned char *data = sm->page + 2048;

	while (!atomic_load(&sm->stop)) {
		data[0]++;
		atomic_fetch_add(&sm->writes, 1);
	}
	return NULL;
}

TEST_TIMEOUT(120)
TEST(code_page_written_without_end_still_runs)
{
	struct selfmod sm = { 0 };
	long calls = 0, v;
	pthread_t th;
	double start;

	sm.page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sm.page == MAP_FAILED)
		SKIP(return, "no PROT_EXEC anonymous memory: %s", strerror(errno));
	sg_put_ret(sm.page, 1);
	ASSERT_EQ(pthread_create(&th, NULL, scribbler, &sm), 0);
	/* the writer is running before the code changes */
	while (atomic_load(&sm.writes) < 1000)
		usleep(1000);
	start = now();
	for (v = 2; now() - start < 3; v = v % 250 + 1) {
		int i;

		sg_put_ret(sm.page, v);
		for (i = 0; i < 200; i++, calls++)
			ASSERT_EQ(sg_call_code(sm.page), v);
	}
	atomic_store(&sm.stop, true);
	pthread_join(th, NULL);
	TH_LOG("%ld calls in %.1f s beside %ld writes to the page", calls,
	       now() - start, atomic_load(&sm.writes));
	EXPECT_GT(atomic_load(&sm.writes), 0);
	EXPECT_EQ(munmap(sm.page, 4096), 0);
}

/*
 * QEMU 7.2's TCG gave every vCPU the new memory map the moment one vCPU
 * changed it (tcg_commit()), but flushed the others' TLBs only later, at
 * their next block boundary: a vCPU that did MMIO through a TLB entry filled
 * before the change (here: the local APIC's ICR and EOI, written for every
 * IPI) looked its region up by the old entry's index in the new map, and
 * got another region or a pointer past the map's end: QEMU died of SIGSEGV
 * (once in CI, during an FLR) or wrote into another device's registers.
 * qemu-device/patches/0002-* makes each vCPU switch maps and flush its TLB
 * together, on its own thread (upstream 0d58c660689f), and bounds-checks
 * the index (86e4f93d827d).
 *
 * Here vCPU 0 turns the svmgpu's memory decode off and on for 15 s, its
 * driver unbound (each a change of the memory map: BAR0 and the MSI-X
 * table and PBA leave and come back below the APIC's page, as in an FLR),
 * while a ping-pong between a thread on each vCPU makes both send and
 * acknowledge IPIs without end.  A broken emulator kills QEMU
 * (guest-report.py: "QEMU died of signal 11"); a working one leaves both
 * loops running, and the driver binds again.
 */
struct toggler {
	const char *config;	/* sysfs config file of the function */
	atomic_bool stop;
	atomic_long flips;
	int err;
};

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static void *pinned_pinger(void *arg)
{
	if (pin_to(1))
		return NULL;
	return pinger(arg);
}

static void *pinned_ponger(void *arg)
{
	if (pin_to(0))
		return NULL;
	return ponger(arg);
}

static void *decode_flipper(void *arg)
{
	struct toggler *t = arg;
	uint16_t cmd, off;
	int fd;

	t->err = pin_to(0);
	fd = t->err ? -1 : open(t->config, O_RDWR);
	if (fd < 0) {
		t->err = t->err ?: -errno;
		return NULL;
	}
	if (pread(fd, &cmd, 2, 4) != 2) {
		t->err = -EIO;
		goto out;
	}
	cmd |= 0x2;			/* PCI_COMMAND_MEMORY */
	off = cmd & ~0x2;
	while (!atomic_load(&t->stop)) {
		if (pwrite(fd, &off, 2, 4) != 2 || pwrite(fd, &cmd, 2, 4) != 2) {
			t->err = -EIO;
			break;
		}
		atomic_fetch_add(&t->flips, 1);
	}
out:
	close(fd);
	return NULL;
}

TEST_TIMEOUT(120)
TEST(memory_map_changes_while_the_other_cpu_does_mmio)
{
	struct pingpong pp = { 0 };
	struct toggler t = { 0 };
	char config[512], bdf[64];
	pthread_t a, b, c;
	long trips;
	int fd;
	double start;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU");
	if (sg_find_bdf(bdf, sizeof(bdf)))
		SKIP(return, "no svmgpu function");
	snprintf(config, sizeof(config), "/sys/bus/pci/devices/%s/config", bdf);
	t.config = config;
	ASSERT_EQ(pipe(pp.to), 0);
	ASSERT_EQ(pipe(pp.back), 0);
	ASSERT_EQ(pthread_create(&a, NULL, pinned_ponger, &pp), 0);
	ASSERT_EQ(pthread_create(&b, NULL, pinned_pinger, &pp), 0);
	/* from here to the bind below nothing asserts: the driver must come back */
	EXPECT_EQ(sg_driver_bind(bdf, false), 0);
	t.err = pthread_create(&c, NULL, decode_flipper, &t) ? -EAGAIN : 0;
	start = now();
	while (now() - start < 15 && !t.err)
		usleep(100000);
	atomic_store(&t.stop, true);
	if (t.err != -EAGAIN)
		pthread_join(c, NULL);
	trips = atomic_load(&pp.trips);
	usleep(100000);
	atomic_store(&pp.stop, true);
	EXPECT_EQ(write(pp.to[1], "x", 1), 1);
	EXPECT_EQ(write(pp.back[1], "x", 1), 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	TH_LOG("%s: %ld decode flips beside %ld IPI round trips in %.1f s", bdf,
	       atomic_load(&t.flips), trips, now() - start);
	EXPECT_EQ(t.err, 0);
	EXPECT_GE(atomic_load(&t.flips), 100);
	EXPECT_GE(trips, 100);
	ASSERT_EQ(sg_driver_bind(bdf, true), 0);
	fd = sg_open_wait(20);
	ASSERT_GE(fd, 0);
	close(fd);
}

TEST_HARNESS_MAIN
