// SPDX-License-Identifier: MIT
/*
 * svmgpu_device_reap_events() against what a kernel of another version
 * could send (docs/api.md): an event grown by appended fields counts by its
 * known ones, one shorter than the library's struct or with a bad header is
 * -EPROTO (after the good ones of the same read), an unknown type is
 * skipped.  No device: the "render node" is a pipe opened through
 * /proc/self/fd, which stat64() (wrapped, -Wl,--wrap) reports as a DRM
 * character device, and whose drmGetVersion() (wrapped) says svmgpu.  A
 * pipe returns what the read asks for, not whole events as a DRM file
 * does, so every case writes less than one read takes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <xf86drm.h>
#include <svmgpu_drm.h>

#include "svmgpu.h"
#include "svmgpu_test.h"

static char fake_path[64];

/*
 * glibc 2.33 and later on 64-bit (Debian bookworm: 2.36) call stat64 for
 * the library's stat(); elsewhere the wrap may not take, and the fixture
 * skips.
 */
int __real_stat64(const char *path, struct stat64 *st);
int __wrap_stat64(const char *path, struct stat64 *st);
drmVersionPtr __wrap_drmGetVersion(int fd);
void __wrap_drmFreeVersion(drmVersionPtr v);

int __wrap_stat64(const char *path, struct stat64 *st)
{
	if (fake_path[0] && !strcmp(path, fake_path)) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFCHR | 0666;
		st->st_rdev = makedev(226, 128);
		return 0;
	}
	return __real_stat64(path, st);
}

drmVersionPtr __wrap_drmGetVersion(int fd)
{
	static char name[] = "svmgpu";
	static drmVersion v;

	v.name = name;
	v.name_len = sizeof(name) - 1;
	v.version_major = 0;
	v.version_minor = 3;
	return &v;
}

void __wrap_drmFreeVersion(drmVersionPtr v)
{
}

FIXTURE(ev) {
	int wfd;
	int rfd;
	struct svmgpu_device *dev;
};

FIXTURE_SETUP(ev)
{
	int p[2], ret;

	self->dev = NULL;

	ASSERT_EQ(pipe(p), 0);
	self->rfd = p[0];
	self->wfd = p[1];
	snprintf(fake_path, sizeof(fake_path), "/proc/self/fd/%d", p[0]);
	ret = svmgpu_device_open_path(fake_path, &self->dev);
	if (ret == -ENODEV)
		SKIP(return, "stat64 not wrapped (another C library)");
	ASSERT_EQ(ret, 0);
}

FIXTURE_TEARDOWN(ev)
{
	if (self->dev)
		svmgpu_device_close(self->dev);
	close(self->rfd);
	close(self->wfd);
	fake_path[0] = 0;
}

/* Write one event of @type, @length bytes, user_data/id @tag. */
static void put(int fd, uint32_t type, uint32_t length, uint64_t tag)
{
	unsigned char b[256] = { 0 };
	struct drm_event h = { .type = type, .length = length };

	memcpy(b, &h, sizeof(h));
	if (length >= sizeof(h) + 8)
		memcpy(b + sizeof(h), &tag, 8);	/* user_data, id: first field */
	if (write(fd, b, length < sizeof(h) ? sizeof(h) : length) < 0)
		perror("write");
}

#define COMPLETE	sizeof(struct drm_svmgpu_event_complete)
#define PREFETCH	sizeof(struct drm_svmgpu_event_prefetch)

TEST_F(ev, known_events_and_grown_ones_count)
{
	struct svmgpu_queue_event e[16];

	EXPECT_EQ(svmgpu_device_reap_events(self->dev, e, 16), 0);	/* -EAGAIN */
	put(self->wfd, DRM_SVMGPU_EVENT_COMPLETE, COMPLETE, 11);
	put(self->wfd, DRM_SVMGPU_EVENT_COMPLETE, COMPLETE + 16, 12);	/* grown */
	put(self->wfd, DRM_SVMGPU_EVENT_PREFETCH, PREFETCH + 8, 13);	/* grown */
	ASSERT_EQ(svmgpu_device_reap_events(self->dev, e, 16), 3);
	EXPECT_EQ(e[0].user_data, 11);
	EXPECT_EQ(e[1].user_data, 12);
	EXPECT_EQ(e[2].user_data, 13);
	EXPECT_EQ(e[2].queue, SVMGPU_EVENT_PREFETCH);
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, e, 16), 0);
}

/* One at a time: a read for one event takes a grown one too. */
TEST_F(ev, grown_event_reaped_one_at_a_time)
{
	struct svmgpu_queue_event e[1];

	put(self->wfd, DRM_SVMGPU_EVENT_COMPLETE, COMPLETE + 8, 51);
	ASSERT_EQ(svmgpu_device_reap_events(self->dev, e, 1), 1);
	EXPECT_EQ(e[0].user_data, 51);
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, e, 1), 0);
}

TEST_F(ev, unknown_type_is_skipped)
{
	struct svmgpu_queue_event e[16];

	put(self->wfd, 0x80000099, 24, 21);
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, e, 16), 0);
	put(self->wfd, 0x80000099, 24, 22);
	put(self->wfd, DRM_SVMGPU_EVENT_COMPLETE, COMPLETE, 23);
	ASSERT_EQ(svmgpu_device_reap_events(self->dev, e, 16), 1);
	EXPECT_EQ(e[0].user_data, 23);
}

/* Before, a known event of another length was dropped without a word. */
TEST_F(ev, short_known_event_is_eproto)
{
	struct svmgpu_queue_event e[16];

	put(self->wfd, DRM_SVMGPU_EVENT_COMPLETE, COMPLETE - 8, 31);
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, e, 16), -EPROTO);
	put(self->wfd, DRM_SVMGPU_EVENT_PREFETCH, PREFETCH - 8, 32);
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, e, 16), -EPROTO);
	/* with a good one in the same read: the good one counts */
	put(self->wfd, DRM_SVMGPU_EVENT_COMPLETE, COMPLETE - 8, 33);
	put(self->wfd, DRM_SVMGPU_EVENT_COMPLETE, COMPLETE, 34);
	ASSERT_EQ(svmgpu_device_reap_events(self->dev, e, 16), 1);
	EXPECT_EQ(e[0].user_data, 34);
}

TEST_F(ev, bad_header_is_eproto)
{
	struct svmgpu_queue_event e[16];

	put(self->wfd, DRM_SVMGPU_EVENT_COMPLETE, 4, 41);	/* shorter than a header */
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, e, 16), -EPROTO);
	/* not a multiple of 8: the next event would be misaligned */
	put(self->wfd, DRM_SVMGPU_EVENT_COMPLETE, COMPLETE + 4, 42);
	EXPECT_EQ(svmgpu_device_reap_events(self->dev, e, 16), -EPROTO);
}

TEST_HARNESS_MAIN
