// SPDX-License-Identifier: MIT
/*
 * drm_basic: the render node belongs to svmgpu and the driver reports the
 * identity it read from the device's registers.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <xf86drm.h>

#include <svmgpu/svmgpu_hw.h>
#include <svmgpu_drm.h>

#include "svmgpu_test.h"
#include "svmgpu_guest.h"

FIXTURE(render) {
	int fd;
};

FIXTURE_SETUP(render)
{
	/* the image always has the device: a missing node is a failure */
	self->fd = sg_open();
	ASSERT_GE(self->fd, 0);
}

FIXTURE_TEARDOWN(render)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(render, version_names_svmgpu)
{
	drmVersionPtr ver = drmGetVersion(self->fd);

	ASSERT_NOT_NULL(ver);
	EXPECT_STREQ(ver->name, "svmgpu");
	drmFreeVersion(ver);
}

TEST_F(render, get_info_reads_device_identity)
{
	struct drm_svmgpu_get_info info = { 0 };

	ASSERT_EQ(drmIoctl(self->fd, DRM_IOCTL_SVMGPU_GET_INFO, &info), 0);
	EXPECT_EQ(info.hw_id, SVMGPU_ID_MAGIC);
	EXPECT_EQ(info.hw_version >> 16, SVMGPU_VERSION_MAJOR);
	EXPECT_EQ(info.pci_vendor, SVMGPU_PCI_VENDOR_ID);
	EXPECT_EQ(info.pci_device, SVMGPU_PCI_DEVICE_ID);
}

TEST_F(render, get_info_bad_flags)
{
	struct drm_svmgpu_get_info info = { .flags = 1 };

	ASSERT_EQ(ioctl(self->fd, DRM_IOCTL_SVMGPU_GET_INFO, &info), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST_F(render, get_info_bad_pad)
{
	struct drm_svmgpu_get_info info = { .pad = 1 };

	ASSERT_EQ(ioctl(self->fd, DRM_IOCTL_SVMGPU_GET_INFO, &info), -1);
	EXPECT_EQ(errno, EINVAL);
}

TEST(primary_node_is_not_needed)
{
	/* A render-only user never needs card0: the render node alone works. */
	int fd = sg_open();
	drm_magic_t magic;

	ASSERT_GE(fd, 0);
	/* Authentication is a primary-node concept; render nodes refuse it. */
	EXPECT_NE(drmGetMagic(fd, &magic), 0);
	close(fd);
}

TEST_HARNESS_MAIN
