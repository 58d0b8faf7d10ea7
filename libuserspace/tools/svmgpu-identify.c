/* SPDX-License-Identifier: MIT */
/*
 * svmgpu-identify: print what the svmgpu driver read from each device.
 *
 * Finds svmgpu render nodes through libdrm, and for each prints the DRM
 * driver name and version and the identity registers the driver read.
 * Exit status: 0 if at least one device answered, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <xf86drm.h>

#include <svmgpu/svmgpu_hw.h>
#include <svmgpu_drm.h>

#define MAX_DEVICES 16

static int identify(const char *node)
{
	struct drm_svmgpu_get_info info = { 0 };
	drmVersionPtr ver;
	int fd, ret = -1;

	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", node, strerror(errno));
		return -1;
	}
	ver = drmGetVersion(fd);
	if (!ver) {
		fprintf(stderr, "%s: drmGetVersion failed\n", node);
		goto out;
	}
	if (drmIoctl(fd, DRM_IOCTL_SVMGPU_GET_INFO, &info)) {
		fprintf(stderr, "%s: GET_INFO: %s\n", node, strerror(errno));
		drmFreeVersion(ver);
		goto out;
	}
	printf("%s: driver %s %d.%d.%d (%s)\n", node, ver->name,
	       ver->version_major, ver->version_minor, ver->version_patchlevel,
	       ver->desc);
	printf("  pci id       %04x:%04x\n", info.pci_vendor, info.pci_device);
	printf("  id register  0x%08x (%s)\n", info.hw_id,
	       info.hw_id == SVMGPU_ID_MAGIC ? "svmgpu" : "unexpected");
	printf("  hw version   %u.%u\n", info.hw_version >> 16,
	       info.hw_version & 0xffff);
	drmFreeVersion(ver);
	ret = 0;
out:
	close(fd);
	return ret;
}

int main(void)
{
	drmDevicePtr devs[MAX_DEVICES];
	int n, i, found = 0;

	n = drmGetDevices2(0, devs, MAX_DEVICES);
	if (n < 0) {
		fprintf(stderr, "drmGetDevices2: %s\n", strerror(-n));
		return 1;
	}
	for (i = 0; i < n; i++) {
		drmDevicePtr d = devs[i];

		if (!(d->available_nodes & (1 << DRM_NODE_RENDER)) ||
		    d->bustype != DRM_BUS_PCI ||
		    d->deviceinfo.pci->vendor_id != SVMGPU_PCI_VENDOR_ID ||
		    d->deviceinfo.pci->device_id != SVMGPU_PCI_DEVICE_ID)
			continue;
		if (identify(d->nodes[DRM_NODE_RENDER]) == 0)
			found++;
	}
	drmFreeDevices(devs, n);
	if (!found)
		printf("no svmgpu device found\n");
	return found ? 0 : 1;
}
