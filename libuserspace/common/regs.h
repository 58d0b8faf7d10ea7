/* SPDX-License-Identifier: MIT */
/*
 * BAR0 register names for the tools, and PCI access to an svmgpu function
 * through libpciaccess.
 */
#ifndef SVMGPU_REGS_H
#define SVMGPU_REGS_H

#include <stdint.h>

#include <pciaccess.h>

struct reg_desc {
	const char *name;
	uint32_t offset;
	uint8_t width;		/* 32 or 64 */
	uint8_t writable;
};

extern const struct reg_desc global_regs[];
extern const unsigned int nr_global_regs;
extern const struct reg_desc queue_regs[];	/* offsets relative to the queue block */
extern const unsigned int nr_queue_regs;

/*
 * Look up NAME (global, or Q<n>_NAME for queue n), or a numeric offset.
 * Returns 0 and fills @out (offset absolute), or -ENOENT.
 */
int reg_lookup(const char *name, struct reg_desc *out, char *namebuf, unsigned int len);

/*
 * Find svmgpu PCI functions: @slot "DDDD:BB:DD.F" or NULL for the
 * @index'th.  Returns the probed device or NULL.  pci_system_init() must
 * have succeeded.
 */
struct pci_device *svmgpu_pci_find(const char *slot, unsigned int index);
/* Name of the driver bound to @d ("" if none) into @buf. */
void svmgpu_pci_driver(const struct pci_device *d, char *buf, unsigned int len);

#endif
