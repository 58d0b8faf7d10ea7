/* SPDX-License-Identifier: MIT */
/*
 * svmgpu userspace interface.
 *
 * Every structure uses only __u32/__u64 fields, is 64-bit aligned, carries
 * explicit flags and pad fields, and passes pointers as __u64.  Unknown
 * flags and non-zero pad are rejected with -EINVAL.
 */
#ifndef _UAPI_SVMGPU_DRM_H_
#define _UAPI_SVMGPU_DRM_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_SVMGPU_GET_INFO		0x00

#define DRM_IOCTL_SVMGPU_GET_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SVMGPU_GET_INFO, struct drm_svmgpu_get_info)

/**
 * struct drm_svmgpu_get_info - what the device is
 *
 * Filled in by the kernel from the device's identification registers.
 */
struct drm_svmgpu_get_info {
	/** @flags: in, must be zero. */
	__u32 flags;
	/** @pad: in, must be zero. */
	__u32 pad;
	/** @hw_id: out, the ID register (SVMGPU_ID_MAGIC). */
	__u32 hw_id;
	/** @hw_version: out, the VERSION register: major << 16 | minor. */
	__u32 hw_version;
	/** @pci_vendor: out, PCI vendor ID. */
	__u32 pci_vendor;
	/** @pci_device: out, PCI device ID. */
	__u32 pci_device;
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_SVMGPU_DRM_H_ */
