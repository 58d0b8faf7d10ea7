/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SVMGPU_DRV_H
#define SVMGPU_DRV_H

#include <linux/pci.h>
#include <drm/drm_device.h>

/**
 * struct svmgpu_device - one svmgpu PCI function
 * @drm: the DRM device, embedded; see to_svmgpu()
 * @pdev: the PCI device
 * @regs: BAR0 mapping
 * @hw_id: ID register as read at probe
 * @hw_version: VERSION register as read at probe
 */
struct svmgpu_device {
	struct drm_device drm;
	struct pci_dev *pdev;
	void __iomem *regs;
	u32 hw_id;
	u32 hw_version;
};

#define to_svmgpu(d) container_of(d, struct svmgpu_device, drm)

static inline u32 svmgpu_read32(struct svmgpu_device *sdev, u32 reg)
{
	return readl(sdev->regs + reg);
}

static inline void svmgpu_write32(struct svmgpu_device *sdev, u32 reg, u32 val)
{
	writel(val, sdev->regs + reg);
}

#endif /* SVMGPU_DRV_H */
