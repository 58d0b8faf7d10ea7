/*
 * svmgpu: a PCIe GPU with shared virtual memory.
 *
 * This file glues the device to PCI: config space, BAR0 registers and
 * MSI-X.  docs/hw-spec.md is the contract with the driver.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "svmgpu/svmgpu_hw.h"
#include "trace.h"

#define TYPE_SVMGPU "svmgpu"
OBJECT_DECLARE_SIMPLE_TYPE(SvmgpuState, SVMGPU)

#define SVMGPU_MSIX_VECTORS 16

struct SvmgpuState {
    PCIDevice parent_obj;

    MemoryRegion regs;
};

static uint64_t svmgpu_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    uint64_t val = 0;

    switch (addr) {
    case SVMGPU_REG_ID:
        val = SVMGPU_ID_MAGIC;
        break;
    case SVMGPU_REG_VERSION:
        val = SVMGPU_VERSION;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "svmgpu: read of unknown register 0x%"
                      HWADDR_PRIx "\n", addr);
        break;
    }
    trace_svmgpu_mmio_read(addr, size, val);
    return val;
}

static void svmgpu_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                              unsigned size)
{
    trace_svmgpu_mmio_write(addr, size, val);
    qemu_log_mask(LOG_GUEST_ERROR, "svmgpu: write to read-only or unknown "
                  "register 0x%" HWADDR_PRIx "\n", addr);
}

static const MemoryRegionOps svmgpu_mmio_ops = {
    .read = svmgpu_mmio_read,
    .write = svmgpu_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
};

static void svmgpu_realize(PCIDevice *pdev, Error **errp)
{
    SvmgpuState *s = SVMGPU(pdev);
    int i;

    pci_config_set_interrupt_pin(pdev->config, 1);
    pcie_endpoint_cap_init(pdev, 0x80);

    memory_region_init_io(&s->regs, OBJECT(s), &svmgpu_mmio_ops, s,
                          "svmgpu-regs", SVMGPU_BAR_REGS_SIZE);
    pci_register_bar(pdev, SVMGPU_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64, &s->regs);

    if (msix_init_exclusive_bar(pdev, SVMGPU_MSIX_VECTORS, SVMGPU_BAR_MSIX,
                                errp)) {
        return;
    }
    for (i = 0; i < SVMGPU_MSIX_VECTORS; i++) {
        msix_vector_use(pdev, i);
    }
}

static void svmgpu_exit(PCIDevice *pdev)
{
    msix_uninit_exclusive_bar(pdev);
}

static const VMStateDescription vmstate_svmgpu = {
    .name = TYPE_SVMGPU,
    .unmigratable = 1,
};

static void svmgpu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = svmgpu_realize;
    k->exit = svmgpu_exit;
    k->vendor_id = SVMGPU_PCI_VENDOR_ID;
    k->device_id = SVMGPU_PCI_DEVICE_ID;
    k->revision = SVMGPU_PCI_REVISION;
    k->class_id = SVMGPU_PCI_CLASS;
    dc->desc = "svmgpu shared-virtual-memory GPU";
    dc->vmsd = &vmstate_svmgpu;
    set_bit(DEVICE_CATEGORY_DISPLAY, dc->categories);
}

static const TypeInfo svmgpu_info = {
    .name = TYPE_SVMGPU,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(SvmgpuState),
    .class_init = svmgpu_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { }
    },
};

static void svmgpu_register_types(void)
{
    type_register_static(&svmgpu_info);
}

type_init(svmgpu_register_types)
