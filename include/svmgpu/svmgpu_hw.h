/* SPDX-License-Identifier: MIT */
/*
 * svmgpu hardware interface: BAR0 registers, page-table entries, commands
 * and fault records.  This header is the one place these layouts are
 * defined; the QEMU device model and the kernel driver both include it.
 * docs/hw-spec.md describes the meaning of every field.
 */
#ifndef SVMGPU_HW_H
#define SVMGPU_HW_H

#ifdef __KERNEL__
#include <linux/types.h>
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

/* Identification (RO) */
#define SVMGPU_REG_ID			0x0000	/* RO, 32: SVMGPU_ID_MAGIC */
#define SVMGPU_ID_MAGIC			0x474d5653	/* "SVMG" in little-endian byte order */
#define SVMGPU_REG_VERSION		0x0004	/* RO, 32: major << 16 | minor */
#define SVMGPU_VERSION_MAJOR		1
#define SVMGPU_VERSION_MINOR		0
#define SVMGPU_VERSION			((SVMGPU_VERSION_MAJOR << 16) | SVMGPU_VERSION_MINOR)

#endif /* SVMGPU_HW_H */
