// SPDX-License-Identifier: GPL-2.0
/*
 * svmgpu: DRM render driver for the svmgpu shared-virtual-memory GPU.
 *
 * docs/hw-spec.md is the contract with the device.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_print.h>

#include <svmgpu/svmgpu_hw.h>
#include <uapi/drm/svmgpu_drm.h>

#include "svmgpu_drv.h"

#define DRIVER_NAME	"svmgpu"
#define DRIVER_DESC	"svmgpu shared-virtual-memory GPU"
#define DRIVER_DATE	"20261122"
#define DRIVER_MAJOR	0
#define DRIVER_MINOR	1

static int svmgpu_ioctl_get_info(struct drm_device *drm, void *data,
				 struct drm_file *file)
{
	struct svmgpu_device *sdev = to_svmgpu(drm);
	struct drm_svmgpu_get_info *args = data;

	if (args->flags || args->pad) {
		drm_dbg(drm, "get_info: non-zero flags or pad\n");
		return -EINVAL;
	}

	args->hw_id = sdev->hw_id;
	args->hw_version = sdev->hw_version;
	args->pci_vendor = sdev->pdev->vendor;
	args->pci_device = sdev->pdev->device;
	return 0;
}

#define SVMGPU_IOCTL(name, func) \
	DRM_IOCTL_DEF_DRV(SVMGPU_##name, svmgpu_ioctl_##func, DRM_RENDER_ALLOW)

static const struct drm_ioctl_desc svmgpu_ioctls[] = {
	SVMGPU_IOCTL(GET_INFO, get_info),
};

static const struct file_operations svmgpu_fops = {
	.owner = THIS_MODULE,
	.open = drm_open,
	.release = drm_release,
	.unlocked_ioctl = drm_ioctl,
	.compat_ioctl = drm_compat_ioctl,
	.poll = drm_poll,
	.read = drm_read,
	.llseek = noop_llseek,
};

static const struct drm_driver svmgpu_drm_driver = {
	.driver_features = DRIVER_RENDER,
	.ioctls = svmgpu_ioctls,
	.num_ioctls = ARRAY_SIZE(svmgpu_ioctls),
	.fops = &svmgpu_fops,
	.name = DRIVER_NAME,
	.desc = DRIVER_DESC,
	.date = DRIVER_DATE,
	.major = DRIVER_MAJOR,
	.minor = DRIVER_MINOR,
};

static int svmgpu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct svmgpu_device *sdev;
	int ret;

	sdev = devm_drm_dev_alloc(&pdev->dev, &svmgpu_drm_driver,
				  struct svmgpu_device, drm);
	if (IS_ERR(sdev))
		return PTR_ERR(sdev);
	sdev->pdev = pdev;
	pci_set_drvdata(pdev, sdev);

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(SVMGPU_BAR_REGS), DRIVER_NAME);
	if (ret)
		return ret;
	sdev->regs = pcim_iomap_table(pdev)[SVMGPU_BAR_REGS];
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;

	sdev->hw_id = svmgpu_read32(sdev, SVMGPU_REG_ID);
	sdev->hw_version = svmgpu_read32(sdev, SVMGPU_REG_VERSION);
	if (sdev->hw_id != SVMGPU_ID_MAGIC) {
		dev_err(&pdev->dev, "unexpected ID register 0x%08x\n", sdev->hw_id);
		return -ENODEV;
	}
	if ((sdev->hw_version >> 16) != SVMGPU_VERSION_MAJOR) {
		dev_err(&pdev->dev, "unsupported device version %u.%u\n",
			sdev->hw_version >> 16, sdev->hw_version & 0xffff);
		return -ENODEV;
	}

	ret = pci_alloc_irq_vectors(pdev, 1, PCI_IRQ_MSIX, PCI_IRQ_MSIX);
	if (ret < 0)
		return ret;

	ret = drm_dev_register(&sdev->drm, 0);
	if (ret) {
		pci_free_irq_vectors(pdev);
		return ret;
	}

	drm_info(&sdev->drm, "svmgpu %u.%u (id 0x%08x) ready\n",
		 sdev->hw_version >> 16, sdev->hw_version & 0xffff, sdev->hw_id);
	return 0;
}

static void svmgpu_remove(struct pci_dev *pdev)
{
	struct svmgpu_device *sdev = pci_get_drvdata(pdev);

	drm_dev_unplug(&sdev->drm);
	pci_free_irq_vectors(pdev);
}

static const struct pci_device_id svmgpu_pci_ids[] = {
	{ PCI_DEVICE(SVMGPU_PCI_VENDOR_ID, SVMGPU_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, svmgpu_pci_ids);

static struct pci_driver svmgpu_pci_driver = {
	.name = DRIVER_NAME,
	.id_table = svmgpu_pci_ids,
	.probe = svmgpu_probe,
	.remove = svmgpu_remove,
};
module_pci_driver(svmgpu_pci_driver);

MODULE_DESCRIPTION(DRIVER_DESC);
MODULE_LICENSE("GPL");
