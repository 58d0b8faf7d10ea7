// SPDX-License-Identifier: MIT
/*
 * BAR0 register table (include/svmgpu/svmgpu_hw.h) and PCI lookup.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <svmgpu/svmgpu_hw.h>

#include "regs.h"

#define R(n, w, acc) { #n, SVMGPU_REG_##n, w, REG_##acc }

/* In docs/hw-spec.md's order, with its widths and access (test_regs compares). */
const struct reg_desc global_regs[] = {
	R(ID, 32, RO), R(VERSION, 32, RO), R(NUM_QUEUES, 32, RO), R(NUM_ENGINES, 32, RO),
	R(TLB_SETS, 32, RO), R(TLB_WAYS, 32, RO), R(FAULT_RING_ENTRIES, 32, RO),
	R(NUM_CONTEXTS, 32, RO), R(LOCAL_MEM_SIZE, 64, RO), R(CAPS, 32, RO), R(CONTROL, 32, RW),
	R(STATUS, 32, RO), R(ERROR_STATUS, 32, W1C), R(ERROR_ADDR, 64, RO), R(TIMESTAMP, 64, RO),
	R(INTR_STATUS, 32, W1C), R(INTR_MASK, 32, RW), R(CTX_TABLE_BASE, 64, RW),
	R(CTX_TABLE_ENTRIES, 32, RW), R(CTX_ENABLE, 32, WO), R(CTX_DISABLE, 32, WO),
	R(CTX_SELECT, 32, RW), R(CTX_STATE, 32, RO), R(TLB_INV_CTX, 32, RW),
	R(TLB_INV_FLAGS, 32, RW), R(TLB_INV_START, 64, RW), R(TLB_INV_SIZE, 64, RW),
	R(TLB_INV_SUBMIT, 32, WO), R(TLB_INV_REQ_SEQ, 32, RO), R(TLB_INV_DONE_SEQ, 32, RO),
	R(TLB_INV_DONE_ADDR, 64, RW), R(FAULT_RING_BASE, 64, RW), R(FAULT_PUT, 32, RO),
	R(FAULT_GET, 32, RW), R(FAULT_REPLY, 64, WO), R(FAULT_SEQ, 32, RO),
	R(LINK_BANDWIDTH, 32, RO), R(LINK_LATENCY, 32, RO),
	R(CNT_TLB_HITS, 64, RO), R(CNT_TLB_MISSES, 64, RO), R(CNT_TLB_EVICTIONS, 64, RO),
	R(CNT_TLB_INVALIDATIONS, 64, RO), R(CNT_PAGE_WALKS, 64, RO), R(CNT_FAULTS, 64, RO),
	R(CNT_REPLAYS, 64, RO), R(CNT_CANCELS, 64, RO), R(CNT_COMMANDS, 64, RO),
	R(CNT_INSTRUCTIONS, 64, RO), R(CNT_LINK_READ_BYTES, 64, RO),
	R(CNT_LINK_WRITE_BYTES, 64, RO), R(CNT_LOCAL_READ_BYTES, 64, RO),
	R(CNT_LOCAL_WRITE_BYTES, 64, RO), R(CNT_PREEMPTIONS, 64, RO),
	/* fault injection (hw-spec 15) */
	R(INJ_HANG_QUEUES, 32, RW), R(INJ_DROP_IRQS, 32, RW), R(INJ_INVAL_REFUSE, 32, RW),
	R(INJ_CORRUPT_COMPL, 32, RW), R(INJ_FATAL, 32, WO), R(CNT_INJECTED, 64, RO),
	R(INJ_IRQ_DELAY_US, 32, RW), R(INJ_INVAL_DELAY_US, 32, RW),
	R(INJ_STALL_FAULT_RING, 32, RW), R(INJ_ENABLE_REFUSE, 32, RW),
};
const unsigned int nr_global_regs = sizeof(global_regs) / sizeof(global_regs[0]);

#define Q(n, w, acc) { #n, SVMGPU_Q_##n, w, REG_##acc }

const struct reg_desc queue_regs[] = {
	Q(BASE, 64, RW), Q(SIZE, 32, RW), Q(CTX, 32, RW), Q(COMPL_ADDR, 64, RW),
	Q(CONTROL, 32, RW), Q(STATUS, 32, RO), Q(HEAD, 32, RO), Q(TAIL, 32, RW),
	Q(COMPL_SEQ, 64, RO), Q(ERROR_CODE, 32, RO), Q(ERROR_INFO, 32, RO), Q(ERROR_VA, 64, RO),
	Q(ERROR_SEQ, 64, RO), Q(SAVE_ADDR, 64, RW), Q(PRIORITY, 32, RW), Q(START, 32, RW),
};
const unsigned int nr_queue_regs = sizeof(queue_regs) / sizeof(queue_regs[0]);

/*
 * The register at byte offset @off: a named one with its width and access,
 * else a 32-bit word (the high half of a 64-bit register, a reserved
 * offset), written as given.  A 64-bit access at an offset that is not a
 * 64-bit register would also write the register after it.
 */
static int reg_at(uint32_t off, struct reg_desc *out, char *namebuf, unsigned int len)
{
	uint32_t q0 = SVMGPU_REG_Q(0, 0), q, rel;
	unsigned int i;

	for (i = 0; i < nr_global_regs; i++)
		if (global_regs[i].offset == off) {
			*out = global_regs[i];
			snprintf(namebuf, len, "%s", global_regs[i].name);
			return 0;
		}
	q = (off - q0) / SVMGPU_REG_QUEUE_STRIDE;
	rel = (off - q0) % SVMGPU_REG_QUEUE_STRIDE;
	if (off >= q0 && q < SVMGPU_MAX_QUEUES)
		for (i = 0; i < nr_queue_regs; i++)
			if (queue_regs[i].offset == rel) {
				*out = queue_regs[i];
				out->offset = off;
				snprintf(namebuf, len, "Q%u_%s", q, queue_regs[i].name);
				return 0;
			}
	out->name = NULL;
	out->offset = off;
	out->width = 32;
	out->access = REG_RW;
	snprintf(namebuf, len, "0x%04x", off);
	return 0;
}

int reg_lookup(const char *name, struct reg_desc *out, char *namebuf, unsigned int len)
{
	unsigned int i;
	char *end;

	if (!strncasecmp(name, "SVMGPU_REG_", 11))
		name += 11;
	for (i = 0; i < nr_global_regs; i++)
		if (!strcasecmp(name, global_regs[i].name)) {
			*out = global_regs[i];
			snprintf(namebuf, len, "%s", global_regs[i].name);
			return 0;
		}
	if ((name[0] == 'Q' || name[0] == 'q') && name[1] >= '0' && name[1] <= '9') {
		unsigned long q = strtoul(name + 1, &end, 10);

		if (*end == '_' && q < SVMGPU_MAX_QUEUES)
			for (i = 0; i < nr_queue_regs; i++)
				if (!strcasecmp(end + 1, queue_regs[i].name)) {
					*out = queue_regs[i];
					out->offset = SVMGPU_REG_Q((uint32_t)q, queue_regs[i].offset);
					snprintf(namebuf, len, "Q%lu_%s", q, queue_regs[i].name);
					return 0;
				}
	}
	if (name[0] >= '0' && name[0] <= '9') {
		/* 0x hex or decimal, as every number of the tools: 0100 is 100 */
		bool hex = name[0] == '0' && (name[1] == 'x' || name[1] == 'X');
		const char *digits = hex ? name + 2 : name;
		unsigned long off;

		errno = 0;
		off = strtoul(digits, &end, hex ? 16 : 10);
		if (isxdigit((unsigned char)digits[0]) && !errno && !*end &&
		    off < SVMGPU_BAR_REGS_SIZE && !(off & 3))
			return reg_at((uint32_t)off, out, namebuf, len);
	}
	return -ENOENT;
}

struct pci_device *svmgpu_pci_find(const char *slot, unsigned int index)
{
	struct pci_id_match match = {
		SVMGPU_PCI_VENDOR_ID, SVMGPU_PCI_DEVICE_ID, PCI_MATCH_ANY, PCI_MATCH_ANY, 0, 0, 0,
	};
	struct pci_device_iterator *it;
	struct pci_device *d;
	unsigned int n = 0;

	it = pci_id_match_iterator_create(&match);
	if (!it)
		return NULL;
	while ((d = pci_device_next(it))) {
		if (slot) {
			char s[32];

			snprintf(s, sizeof(s), "%04x:%02x:%02x.%u", d->domain, d->bus, d->dev, d->func);
			if (strcasecmp(s, slot) && strcasecmp(s + 5, slot))
				continue;
		} else if (n++ != index) {
			continue;
		}
		break;
	}
	pci_iterator_destroy(it);
	if (d && pci_device_probe(d))
		return NULL;
	return d;
}

void svmgpu_pci_driver(const struct pci_device *d, char *buf, unsigned int len)
{
	char path[128], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%04x:%02x:%02x.%u/driver",
		 d->domain, d->bus, d->dev, d->func);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(buf, len, "%s", "");
		return;
	}
	link[n] = '\0';
	snprintf(buf, len, "%s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
}
