// SPDX-License-Identifier: MIT
/*
 * svmgpu_device_reap_events() against what a kernel of another version
 * could send (docs/api.md): an event grown by appended fields counts by its
 * known ones, one shorter than the library's struct or with a bad header is
 * -EPROTO (after the good ones of the same read), an unknown type is
 * skipped.  No device: the "render node" is a pipe opened through
 * /proc/self/fd, which fstat64() (wrapped, -Wl,--wrap) reports as a DRM
 * character device, and whose drmGetVersion() (wrapped) says svmgpu.  A
 * pipe returns what the read asks for, not whole events as a DRM file
 * does, so every case writes less than one read takes.  The same fake
 * node shows that svmgpu_device_open_path() opens the node it checked.
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
static struct stat64 fake_pipe;	/* its st_dev and st_ino; st_ino 0: none */
/* open_path_opens_the_node_it_checked: renamed over swap_to at the check */
static char swap_from[96], swap_to[96];

/*
 * glibc 2.33 and later on 64-bit (Debian bookworm: 2.36) call fstat64 for
 * the library's fstat(); elsewhere the wrap may not take, and the fixture
 * skips.  The library fstat()s the node it looked up (O_PATH), the pipe.
 */
int __real_fstat64(int fd, struct stat64 *st);
int __wrap_fstat64(int fd, struct stat64 *st);
drmVersionPtr __wrap_drmGetVersion(int fd);
void __wrap_drmFreeVersion(drmVersionPtr v);

int __wrap_fstat64(int fd, struct stat64 *st)
{
	int ret = __real_fstat64(fd, st);

	if (!ret && fake_pipe.st_ino && st->st_ino == fake_pipe.st_ino &&
	    st->st_dev == fake_pipe.st_dev) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFCHR | 0666;
		st->st_rdev = makedev(226, 128);
		if (swap_to[0] && !rename(swap_from, swap_to))
			swap_to[0] = 0;
	}
	return ret;
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
	ASSERT_EQ(__real_fstat64(p[0], &fake_pipe), 0);
	snprintf(fake_path, sizeof(fake_path), "/proc/self/fd/%d", p[0]);
	ret = svmgpu_device_open_path(fake_path, &self->dev);
	if (ret == -ENODEV)
		SKIP(return, "fstat64 not wrapped (another C library)");
	ASSERT_EQ(ret, 0);
}

FIXTURE_TEARDOWN(ev)
{
	if (self->dev)
		svmgpu_device_close(self->dev);
	close(self->rfd);
	close(self->wfd);
	fake_path[0] = 0;
	fake_pipe.st_ino = 0;
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

/*
 * svmgpu_device_open_path() opens the node it checked, not what the path
 * names by the time it opens: once stat(2), then open(2) of the path, which
 * another file swapped in between got opened (a watchdog arms on open).
 */
TEST(open_path_opens_the_node_it_checked)
{
	char dir[] = "/tmp/svmgpu-events-XXXXXX", node[64], target[32];
	struct svmgpu_device *dev = NULL;
	struct stat64 st;
	int p[2], fd, ret;

	ASSERT_EQ(pipe(p), 0);
	ASSERT_EQ(__real_fstat64(p[0], &fake_pipe), 0);
	ASSERT_NE(mkdtemp(dir), NULL);
	snprintf(node, sizeof(node), "%s/renderD128", dir);
	snprintf(target, sizeof(target), "/proc/self/fd/%d", p[0]);
	ASSERT_EQ(symlink(target, node), 0);
	/* a plain file, swapped in for the node once it has been checked */
	snprintf(swap_from, sizeof(swap_from), "%s/decoy", dir);
	fd = open(swap_from, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	snprintf(swap_to, sizeof(swap_to), "%s", node);
	ret = svmgpu_device_open_path(node, &dev);
	if (ret == -ENODEV)
		SKIP(goto out, "fstat64 not wrapped (another C library)");
	ASSERT_EQ(ret, 0);
	EXPECT_EQ(swap_to[0], 0);	/* swapped during the call */
	ASSERT_EQ(__real_fstat64(svmgpu_device_fd(dev), &st), 0);
	EXPECT_EQ(st.st_ino, fake_pipe.st_ino);
	EXPECT_EQ(st.st_dev, fake_pipe.st_dev);
	EXPECT_EQ(svmgpu_device_close(dev), 0);
out:
	unlink(node);
	unlink(swap_from);
	rmdir(dir);
	close(p[0]);
	close(p[1]);
}

TEST_HARNESS_MAIN
