/* SPDX-License-Identifier: MIT */
/*
 * BAR0 register names for the tools, and PCI access to an svmgpu function
 * through libpciaccess.
 */
#ifndef SVMGPU_REGS_H
#define SVMGPU_REGS_H

#include <stdint.h>

#include <pciaccess.h>

/* Access as docs/hw-spec.md's tables give it (test_regs checks them). */
enum reg_access {
	REG_RO,		/* read-only: writes are ignored */
	REG_RW,
	REG_WO,		/* write-only: reads return 0 */
	REG_W1C,	/* write 1 to clear */
};

struct reg_desc {
	const char *name;
	uint32_t offset;
	uint8_t width;		/* 32 or 64 */
	uint8_t access;		/* enum reg_access */
};

static inline int reg_writable(const struct reg_desc *r)
{
	return r->access != REG_RO;
}

/* "RO", "RW", "WO" or "W1C", as in docs/hw-spec.md. */
static inline const char *reg_access_name(const struct reg_desc *r)
{
	static const char *const names[] = { "RO", "RW", "WO", "W1C" };

	return r->access < sizeof(names) / sizeof(names[0]) ? names[r->access] : "?";
}

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
